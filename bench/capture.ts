// Builds (once, cached in bench/work/) the captures the bench runs on:
// - the mixed ICS capture: every capture in fixtures/pcaps and ../shared/pcaps
//   plus synthetic background traffic, replicated with shifted addresses and
//   client ports until each protocol class has its share of the target;
// - a SYN scan with one flow per packet, for the memory benchmark;
// - a slice (the first N packets) of a capture, for slow peers.
import { createHash } from 'node:crypto';
import {
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  closeSync,
  statSync,
  writeFileSync,
  renameSync,
  mkdirSync,
  type Dirent,
} from 'node:fs';
import { join, relative } from 'node:path';
import { buildFrame, type FrameSpec } from '../tools/pcapgen/frame.js';
import { dnp3Frame, mbReadHoldingReq, mbReadHoldingResp, modbusAdu } from '../tools/pcapgen/ics.js';
import { analyse, flowKey, rewriteCopy, toEthernet, type FrameMeta } from './frames.js';
import { PcapStreamWriter, readCaptureBuffer } from './pcap-io.js';
import { mulberry32 as rng } from '../tools/prng.js';

/** Bump when the output of a builder changes for the same inputs. */
const BUILDER_VERSION = 4;

export type TrafficClass = 'modbus' | 'dnp3-tcp' | 'dnp3-udp' | 'iec104' | 'opcua' | 'enip' | 's7comm' | 'background';

/** Classes the mix had before EtherNet/IP and S7comm were decoded: `--mix classic`
 *  leaves their captures out, so a build that decodes them can be compared with
 *  one that did not on the traffic both understand. */
export const NEW_CLASSES: readonly TrafficClass[] = ['enip', 's7comm'];
export type Mix = 'all' | 'classic';

/** Share of the target packet count per class (renormalised over the classes present). */
export const CLASS_SHARE: Record<TrafficClass, number> = {
  modbus: 0.3,
  'dnp3-tcp': 0.25,
  'dnp3-udp': 0.05,
  iec104: 0.13,
  opcua: 0.13,
  // EtherNet/IP (explicit messaging and class-1 I/O) and S7comm: a plant with
  // Rockwell and Siemens cells beside the telemetry protocols above.
  enip: 0.06,
  s7comm: 0.06,
  background: 0.14,
};

interface Template {
  name: string;
  cls: TrafficClass;
  frames: Buffer[];
  metas: FrameMeta[];
  origLens: number[];
  /** Microseconds from the template's first packet. */
  relUs: number[];
}

export interface CaptureInfo {
  path: string;
  packets: number;
  bytes: number;
  flows: number;
  spanSec: number;
  classes: Record<string, { files: number; copies: number; packets: number }>;
  sources: { fixtures: number; shared: number; synthetic: number; skipped: string[] };
  buildSec: number;
  key: string;
}

function walk(dir: string, out: string[]): void {
  let ents: Dirent[];
  try {
    ents = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of ents) {
    if (e.name.startsWith('_') || e.name.startsWith('.')) continue; // _tshark_ref, _tools
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && /\.(pcap|pcapng|cap)$/i.test(e.name)) out.push(p);
  }
}

function hasCaptureMagic(path: string): boolean {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(4);
  const n = readSync(fd, b, 0, 4, 0);
  closeSync(fd);
  if (n < 4) return false;
  const le = b.readUInt32LE(0);
  const be = b.readUInt32BE(0);
  return le === 0x0a0d0d0a || [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34].includes(le) || [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34].includes(be);
}

/** Capture files the mixed capture draws from, with what the cache key needs. */
export function mixedInputs(root: string): { fixtures: string[]; shared: string[] } {
  const fixtures: string[] = [];
  const shared: string[] = [];
  walk(join(root, 'fixtures', 'pcaps'), fixtures);
  walk(join(root, '..', 'shared', 'pcaps'), shared);
  return { fixtures: fixtures.filter(hasCaptureMagic), shared: shared.filter(hasCaptureMagic) };
}

function classOfPort(l4: number, sp: number, dp: number): TrafficClass | null {
  const has = (p: number) => sp === p || dp === p;
  if (l4 === 6) {
    if (has(502)) return 'modbus';
    if (has(20000)) return 'dnp3-tcp';
    if (has(2404)) return 'iec104';
    if (has(4840) || has(48010)) return 'opcua';
    if (has(44818)) return 'enip';
    if (has(102)) return 's7comm';
  } else if (l4 === 17) {
    if (has(20000)) return 'dnp3-udp';
    if (has(44818) || has(2222)) return 'enip';
  }
  return null;
}

const MAX_GAP_US = 3600e6;

function templateFrom(name: string, buf: Buffer): Template | { skip: string } {
  const r = readCaptureBuffer(buf);
  const t: Template = { name, cls: 'background', frames: [], metas: [], origLens: [], relUs: [] };
  const counts = new Map<TrafficClass, number>();
  let t0 = -1;
  let prev = 0;
  let last = 0;
  let dropped = 0;
  for (const p of r.packets) {
    const e = toEthernet(p.linktype, p.data);
    if (e === null) {
      dropped++;
      continue;
    }
    // Copy: the frame must not pin the whole source file in memory.
    const frame = e.frame === p.data ? Buffer.from(p.data) : e.frame;
    const m = analyse(frame);
    // Keep time order even if the source goes back, and squeeze clock jumps and
    // concatenated captures (gaps over an hour, up to 18 years in the corpus) to 1 s.
    if (t0 < 0) t0 = prev = p.tsUs;
    const gap = p.tsUs - prev;
    prev = p.tsUs;
    if (gap > 0) last += gap > MAX_GAP_US ? 1e6 : gap;
    t.frames.push(frame);
    t.metas.push(m);
    t.origLens.push(Math.max(frame.length, p.origLen + e.grow));
    t.relUs.push(last);
    if ((m.l4 === 6 || m.l4 === 17) && m.l4Off + 4 <= frame.length) {
      const c = classOfPort(m.l4, frame.readUInt16BE(m.l4Off), frame.readUInt16BE(m.l4Off + 2));
      if (c !== null) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
  }
  if (t.frames.length === 0)
    return {
      skip: `${name}: no usable packets${dropped > 0 ? ` (${dropped} of an unsupported link type)` : ''}${r.damage ? `; ${r.damage}` : ''}`,
    };
  let best = 0;
  for (const [c, n] of counts) {
    if (n > best) {
      best = n;
      t.cls = c;
    }
  }
  return t;
}

/** Background traffic the corpus lacks: many short TCP and UDP conversations to
 *  IT services, one template that gets replicated like a capture file. */
function syntheticBackground(): Template {
  const t: Template = { name: 'synthetic-background', cls: 'background', frames: [], metas: [], origLens: [], relUs: [] };
  let us = 0;
  const push = (spec: FrameSpec, gapUs: number) => {
    us += gapUs;
    const f = buildFrame({ ethPad: true, ...spec });
    t.frames.push(f);
    t.metas.push(analyse(f));
    t.origLens.push(f.length);
    t.relUs.push(us);
  };
  const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
  const tcp = (c: string, s: string, cport: number, sport: number, req: number, resp: number) => {
    let cs = 1000;
    let ss = 50000;
    const base = { src: c, dst: s, proto: 'tcp' as const, sport: cport, dport: sport };
    const back = { src: s, dst: c, proto: 'tcp' as const, sport, dport: cport };
    push({ ...base, tcp: { flags: 'S', seq: cs++ } }, 2000);
    push({ ...back, tcp: { flags: 'SA', seq: ss++, ack: cs } }, 400);
    push({ ...base, tcp: { flags: 'A', seq: cs, ack: ss } }, 300);
    push({ ...base, tcp: { flags: 'PA', seq: cs, ack: ss }, payload: bytes(req, cport) }, 200);
    cs += req;
    for (let left = resp; left > 0; ) {
      const n = Math.min(1400, left);
      push({ ...back, tcp: { flags: 'PA', seq: ss, ack: cs }, payload: bytes(n, sport) }, 500);
      ss += n;
      left -= n;
    }
    push({ ...base, tcp: { flags: 'A', seq: cs, ack: ss } }, 100);
    push({ ...base, tcp: { flags: 'FA', seq: cs++, ack: ss } }, 5000);
    push({ ...back, tcp: { flags: 'FA', seq: ss++, ack: cs } }, 300);
    push({ ...base, tcp: { flags: 'A', seq: cs, ack: ss } }, 200);
  };
  const udp = (c: string, s: string, cport: number, sport: number, req: number, resp: number, pairs: number) => {
    for (let i = 0; i < pairs; i++) {
      push({ src: c, dst: s, proto: 'udp', sport: cport, dport: sport, payload: bytes(req, i) }, 3000);
      if (resp > 0) push({ src: s, dst: c, proto: 'udp', sport, dport: cport, payload: bytes(resp, i + 7) }, 700);
    }
  };
  tcp('172.20.1.10', '172.20.9.1', 51000, 443, 517, 4200);
  tcp('172.20.1.11', '172.20.9.2', 51001, 80, 300, 900);
  tcp('172.20.1.12', '172.20.9.3', 51002, 445, 200, 1800);
  tcp('172.20.1.13', '172.20.9.1', 51003, 443, 517, 300);
  udp('172.20.1.10', '172.20.9.53', 53001, 53, 40, 90, 1);
  udp('172.20.1.11', '172.20.9.53', 53002, 53, 38, 120, 1);
  udp('172.20.1.12', '172.20.9.53', 53003, 53, 44, 70, 1);
  udp('172.20.1.14', '172.20.9.123', 123, 123, 48, 48, 2);
  udp('172.20.1.15', '172.20.9.5', 514, 514, 110, 0, 3);
  udp('172.20.1.16', '172.20.9.6', 40000, 40002, 172, 172, 10); // RTP-like media both ways
  // A Modbus poll and a DNP3/UDP exchange on IT addresses, so the synthetic part is mixed too.
  tcp('172.20.2.20', '172.20.2.21', 52000, 502, 0, 0);
  push(
    {
      src: '172.20.2.20',
      dst: '172.20.2.21',
      proto: 'tcp',
      sport: 52001,
      dport: 502,
      tcp: { flags: 'PA', seq: 1, ack: 1 },
      payload: modbusAdu(1, 1, mbReadHoldingReq(0, 10)),
    },
    1000,
  );
  push(
    {
      src: '172.20.2.21',
      dst: '172.20.2.20',
      proto: 'tcp',
      sport: 502,
      dport: 52001,
      tcp: { flags: 'PA', seq: 1, ack: 13 },
      payload: modbusAdu(1, 1, mbReadHoldingResp([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])),
    },
    800,
  );
  const readClass0 = Buffer.from([0xc0, 0xc1, 0x01, 0x3c, 0x01, 0x06]);
  push(
    { src: '172.20.3.1', dst: '172.20.3.2', proto: 'udp', sport: 20000, dport: 20000, payload: dnp3Frame(0xc4, 10, 1, readClass0) },
    1000,
  );
  return t;
}

/** Content hash of files (mtimes change whenever fixtures or dist are rebuilt). */
function contentKey(paths: string[]): string {
  const h = createHash('sha1');
  for (const p of paths) h.update(`${p}\0`).update(readFileSync(p)).update('\n');
  return h.digest('hex');
}

function cached(metaPath: string, pcapPath: string, key: string): CaptureInfo | null {
  if (!existsSync(metaPath) || !existsSync(pcapPath)) return null;
  try {
    const info = JSON.parse(readFileSync(metaPath, 'utf8')) as CaptureInfo;
    if (info.key !== key || statSync(pcapPath).size !== info.bytes) return null;
    return { ...info, path: pcapPath };
  } catch {
    return null;
  }
}

function writeMeta(metaPath: string, info: CaptureInfo): void {
  writeFileSync(`${metaPath}.tmp`, JSON.stringify(info, null, 2));
  renameSync(`${metaPath}.tmp`, metaPath);
}

/** The mixed capture of at least `target` packets (cached by inputs and target). */
export function buildMixed(
  root: string,
  workDir: string,
  target: number,
  log: (s: string) => void,
  force = false,
  mix: Mix = 'all',
): CaptureInfo {
  mkdirSync(workDir, { recursive: true });
  const inputs = mixedInputs(root);
  const all = [...inputs.fixtures, ...inputs.shared];
  const code = ['bench/capture.ts', 'bench/frames.ts', 'bench/pcap-io.ts', 'tools/pcapgen/frame.ts', 'tools/pcapgen/ics.ts']
    .map((f) => join(root, f))
    .filter(existsSync);
  const key = createHash('sha1')
    .update(`v${BUILDER_VERSION} target=${target} mix=${mix} ${contentKey(all)} ${contentKey(code)}`)
    .digest('hex');
  const pcapPath = join(workDir, mix === 'all' ? `mixed-${target}.pcap` : `mixed-${mix}-${target}.pcap`);
  const metaPath = `${pcapPath}.json`;
  const hit = force ? null : cached(metaPath, pcapPath, key);
  if (hit !== null) return hit;

  const started = Date.now();
  log(
    `building ${relative(root, pcapPath)} (>= ${target.toLocaleString('en')} packets) from ${inputs.fixtures.length} fixture and ${inputs.shared.length} shared captures...`,
  );
  const seen = new Set<string>();
  const templates: Template[] = [];
  const skipped: string[] = [];
  let nFix = 0;
  let nShared = 0;
  for (const p of all) {
    const buf = readFileSync(p);
    const h = createHash('sha1').update(buf).digest('hex');
    if (seen.has(h)) continue; // fixtures/pcaps/corpus holds copies of shared files
    seen.add(h);
    const t = templateFrom(relative(root, p), buf);
    if ('skip' in t) {
      skipped.push(t.skip);
      continue;
    }
    if (mix === 'classic' && NEW_CLASSES.includes(t.cls)) continue;
    templates.push(t);
    if (p.startsWith(join(root, 'fixtures'))) nFix++;
    else nShared++;
  }
  templates.push(syntheticBackground());

  // Copies per template: round-robin within a class until the class has its share.
  const byClass = new Map<TrafficClass, Template[]>();
  for (const t of templates) {
    const l = byClass.get(t.cls) ?? [];
    l.push(t);
    byClass.set(t.cls, l);
  }
  let shareSum = 0;
  for (const c of byClass.keys()) shareSum += CLASS_SHARE[c];
  const copies = new Map<Template, number>();
  const classes: CaptureInfo['classes'] = {};
  for (const [c, list] of byClass) {
    const want = (target * CLASS_SHARE[c]) / shareSum;
    list.sort((a, b) => a.frames.length - b.frames.length); // small files first: more variety in a quick build
    let have = 0;
    let n = 0;
    while (have < want) {
      for (const t of list) {
        if (have >= want) break;
        copies.set(t, (copies.get(t) ?? 0) + 1);
        have += t.frames.length;
        n++;
      }
    }
    classes[c] = { files: list.length, copies: n, packets: have };
  }

  // Streams (template, copy) start at random points of a window and interleave by time.
  interface Stream {
    t: Template;
    i: number;
    startUs: number;
    addr: number;
    port: number;
    /** Timestamp of packet i. */
    at: number;
  }
  const rand = rng(0x07a7c4);
  const streams: Stream[] = [];
  const windowUs = 1800e6; // 30 min: flows overlap and some idle out, as on a real link
  const t0 = 1_700_000_000e6;
  let u = 0;
  for (const t of templates) {
    const n = copies.get(t) ?? 0;
    for (let k = 0; k < n; k++, u++) {
      // u is unique per (template, copy), so no two copies share a flow.
      const startUs = t0 + Math.floor(rand() * windowUs);
      streams.push({ t, i: 0, startUs, addr: u & 0xffff, port: (u * 9973) % 64512, at: startUs });
    }
  }
  // Binary heap of stream indexes by next timestamp.
  const heap: number[] = [];
  const less = (a: number, b: number) => {
    const x = streams[a]!.at;
    const y = streams[b]!.at;
    return x < y || (x === y && a < b);
  };
  const up = (j: number) => {
    while (j > 0) {
      const par = (j - 1) >> 1;
      if (!less(heap[j]!, heap[par]!)) break;
      [heap[j], heap[par]] = [heap[par]!, heap[j]!];
      j = par;
    }
  };
  const down = (j: number) => {
    for (;;) {
      const l = 2 * j + 1;
      const r = l + 1;
      let m = j;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === j) break;
      [heap[j], heap[m]] = [heap[m]!, heap[j]!];
      j = m;
    }
  };
  for (let j = 0; j < streams.length; j++) {
    heap.push(j);
    up(heap.length - 1);
  }

  const tmp = `${pcapPath}.tmp`;
  const w = new PcapStreamWriter(tmp);
  const flows = new Set<string>();
  let lastTs = 0;
  let firstTs = -1;
  while (heap.length > 0) {
    const si = heap[0]!;
    const s = streams[si]!;
    const t = s.t;
    const ts = Math.max(lastTs, s.at);
    if (firstTs < 0) firstTs = ts;
    lastTs = ts;
    const f = t.frames[s.i]!;
    const m = t.metas[s.i]!;
    const [b, at] = w.reserve(ts, f.length, t.origLens[s.i]!);
    f.copy(b, at);
    rewriteCopy(b, at, f.length, m, s.addr, s.port);
    const k = flowKey(b, at, f.length, m);
    if (k !== null) flows.add(k);
    s.i++;
    if (s.i < t.frames.length) {
      s.at = s.startUs + t.relUs[s.i]!;
      down(0);
    } else {
      const lastIdx = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = lastIdx;
        down(0);
      }
    }
  }
  w.close();
  renameSync(tmp, pcapPath);
  const info: CaptureInfo = {
    path: pcapPath,
    packets: w.packets,
    bytes: w.bytes,
    flows: flows.size,
    spanSec: (lastTs - firstTs) / 1e6,
    classes,
    sources: { fixtures: nFix, shared: nShared, synthetic: 1, skipped },
    buildSec: (Date.now() - started) / 1000,
    key,
  };
  writeMeta(metaPath, info);
  log(
    `built ${info.packets.toLocaleString('en')} packets, ${(info.bytes / 1e6).toFixed(1)} MB, ${info.flows.toLocaleString('en')} flows in ${info.buildSec.toFixed(1)} s`,
  );
  return info;
}

/** A SYN scan of `n` distinct flows: one SYN each from 198.18.0.1 to the /12
 *  10.16.0.0/12 (wrapping to more source ports past 2^20 targets), over many
 *  destination ports, 20 k packets per second, no answers. */
export function buildScan(workDir: string, n: number, log: (s: string) => void, force = false): CaptureInfo {
  mkdirSync(workDir, { recursive: true });
  const key = createHash('sha1').update(`scan v${BUILDER_VERSION} n=${n}`).digest('hex');
  const pcapPath = join(workDir, `scan-${n}.pcap`);
  const metaPath = `${pcapPath}.json`;
  const hit = force ? null : cached(metaPath, pcapPath, key);
  if (hit !== null) return hit;
  const started = Date.now();
  log(`building ${pcapPath} (${n.toLocaleString('en')} SYNs, one flow each)...`);
  const tpl = buildFrame({
    src: '198.18.0.1',
    dst: '10.16.0.0',
    proto: 'tcp',
    sport: 40000,
    dport: 1,
    tcp: { flags: 'S', seq: 0x1234567, window: 1024 },
    ethPad: true,
  });
  const m = analyse(tpl);
  const ports = [
    21, 22, 23, 25, 53, 80, 102, 110, 135, 139, 143, 443, 445, 502, 993, 1433, 1911, 2222, 2404, 3306, 3389, 4840, 5432, 5900, 8080, 8443,
    20000, 44818, 47808,
  ];
  for (let p = 1024; ports.length < 1000; p += 61) ports.push(p);
  const tmp = `${pcapPath}.tmp`;
  const w = new PcapStreamWriter(tmp);
  const t0 = 1_700_000_000e6;
  const base = 0x0a100000; // 10.16.0.0
  for (let i = 0; i < n; i++) {
    const [b, at] = w.reserve(t0 + i * 50, tpl.length, tpl.length);
    tpl.copy(b, at);
    const ip = at + m.ipOff;
    const l4 = at + m.l4Off;
    // Rewrite destination, ports and checksums from the template's known-good values.
    const dst = (base + (i & 0xfffff)) >>> 0;
    const sport = 40000 + ((Math.floor(i / 0x100000) * 7 + i) % 20000);
    const dport = ports[i % ports.length]!;
    setTuple(b, ip, l4, dst, sport, dport);
  }
  w.close();
  renameSync(tmp, pcapPath);
  const info: CaptureInfo = {
    path: pcapPath,
    packets: w.packets,
    bytes: w.bytes,
    flows: n,
    spanSec: (n - 1) * 50e-6,
    classes: { scan: { files: 0, copies: 0, packets: n } },
    sources: { fixtures: 0, shared: 0, synthetic: 1, skipped: [] },
    buildSec: (Date.now() - started) / 1000,
    key,
  };
  writeMeta(metaPath, info);
  return info;
}

/** Sets an IPv4/TCP frame's destination address and ports, fixing both checksums. */
function setTuple(b: Buffer, ip: number, l4: number, dst: number, sport: number, dport: number): void {
  const oldDst = b.readUInt32BE(ip + 16);
  const oldS = b.readUInt16BE(l4);
  const oldD = b.readUInt16BE(l4 + 2);
  b.writeUInt32BE(dst, ip + 16);
  b.writeUInt16BE(sport, l4);
  b.writeUInt16BE(dport, l4 + 2);
  const addr = (~(oldDst >>> 16) & 0xffff) + (dst >>> 16) + (~oldDst & 0xffff) + (dst & 0xffff);
  const fold = (x: number) => {
    while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
    return ~x & 0xffff;
  };
  b.writeUInt16BE(fold((~b.readUInt16BE(ip + 10) & 0xffff) + addr), ip + 10);
  const ports = (~oldS & 0xffff) + sport + (~oldD & 0xffff) + dport;
  b.writeUInt16BE(fold((~b.readUInt16BE(l4 + 16) & 0xffff) + addr + ports), l4 + 16);
}

/** The first `n` packets of a classic pcap (µs, LE, as written above), cached. */
export function buildSlice(src: CaptureInfo, workDir: string, n: number): CaptureInfo {
  const pcapPath = join(workDir, `${src.path.replace(/^.*\//, '').replace(/\.pcap$/, '')}-first${n}.pcap`);
  const metaPath = `${pcapPath}.json`;
  const key = createHash('sha1').update(`slice v${BUILDER_VERSION} ${src.key} ${n}`).digest('hex');
  const hit = cached(metaPath, pcapPath, key);
  if (hit !== null) return hit;
  // Only the head is needed: read it in pieces until n records are covered.
  const fd = openSync(src.path, 'r');
  const hdr = Buffer.alloc(16);
  let off = 24;
  let count = 0;
  while (count < n && readSync(fd, hdr, 0, 16, off) === 16) {
    off += 16 + hdr.readUInt32LE(8);
    count++;
  }
  const out = Buffer.alloc(off);
  readSync(fd, out, 0, off, 0);
  closeSync(fd);
  writeFileSync(`${pcapPath}.tmp`, out);
  renameSync(`${pcapPath}.tmp`, pcapPath);
  const info: CaptureInfo = { ...src, path: pcapPath, packets: count, bytes: off, flows: -1, key };
  writeMeta(metaPath, info);
  return info;
}

/** A copy of `src` (classic pcap, µs, LE, as written above) whose timestamps
 *  start one day after src ends, cached. Read after src in one run it is the
 *  same traffic again, for a process whose code is already compiled and
 *  whose flows from src have all expired: the warm (steady-state) pass. */
export function buildShifted(src: CaptureInfo, workDir: string, log: (s: string) => void): CaptureInfo {
  const pcapPath = join(workDir, `${src.path.replace(/^.*\//, '').replace(/\.pcap$/, '')}-nextday.pcap`);
  const metaPath = `${pcapPath}.json`;
  const key = createHash('sha1').update(`nextday v${BUILDER_VERSION} ${src.key}`).digest('hex');
  const hit = cached(metaPath, pcapPath, key);
  if (hit !== null) return hit;
  log(`building ${pcapPath.replace(/^.*\//, '')} (the capture again, one day later) ...`);
  const shift = Math.ceil(src.spanSec) + 86400;
  const buf = readFileSync(src.path);
  let off = 24;
  while (off + 16 <= buf.length) {
    buf.writeUInt32LE(buf.readUInt32LE(off) + shift, off);
    off += 16 + buf.readUInt32LE(off + 8);
  }
  writeFileSync(`${pcapPath}.tmp`, buf);
  renameSync(`${pcapPath}.tmp`, pcapPath);
  const info: CaptureInfo = { ...src, path: pcapPath, key };
  writeMeta(metaPath, info);
  return info;
}

/** `src` (classic pcap, µs, LE, as written above) as pcapng, cached: one
 *  section, one Ethernet interface at the default µs resolution, one
 *  Enhanced Packet Block per record, the same packets and times. pcapng is
 *  what Wireshark and dumpcap write by default, and its reader is a
 *  different loop from the pcap one. */
export function buildPcapng(src: CaptureInfo, workDir: string, log: (s: string) => void): CaptureInfo {
  const path = join(workDir, `${src.path.replace(/^.*\//, '').replace(/\.pcap$/, '')}.pcapng`);
  const metaPath = `${path}.json`;
  const key = createHash('sha1').update(`pcapng v${BUILDER_VERSION} ${src.key}`).digest('hex');
  const hit = cached(metaPath, path, key);
  if (hit !== null) return hit;
  log(`building ${path.replace(/^.*\//, '')} (the capture as pcapng) ...`);
  const buf = readFileSync(src.path);
  // Size first: SHB 28, IDB 20, and per record 32 bytes of block plus the frame padded to 4.
  let size = 28 + 20;
  for (let off = 24; off + 16 <= buf.length; off += 16 + buf.readUInt32LE(off + 8)) size += 32 + ((buf.readUInt32LE(off + 8) + 3) & ~3);
  const out = Buffer.alloc(size);
  let o = 0;
  const u32 = (v: number) => {
    out.writeUInt32LE(v >>> 0, o);
    o += 4;
  };
  u32(0x0a0d0d0a);
  u32(28);
  u32(0x1a2b3c4d);
  out.writeUInt16LE(1, o);
  out.writeUInt16LE(0, o + 2);
  o += 4;
  u32(0xffffffff);
  u32(0xffffffff);
  u32(28); // section length unknown
  u32(1);
  u32(20);
  out.writeUInt16LE(1, o);
  out.writeUInt16LE(0, o + 2);
  o += 4;
  u32(buf.readUInt32LE(16));
  u32(20); // snaplen from the pcap header
  let packets = 0;
  for (let off = 24; off + 16 <= buf.length; ) {
    const caplen = buf.readUInt32LE(off + 8);
    const blockLen = 32 + ((caplen + 3) & ~3);
    const us = buf.readUInt32LE(off) * 1e6 + buf.readUInt32LE(off + 4);
    u32(6);
    u32(blockLen);
    u32(0);
    u32(Math.floor(us / 4294967296));
    u32(us % 4294967296);
    u32(caplen);
    u32(buf.readUInt32LE(off + 12));
    buf.copy(out, o, off + 16, off + 16 + caplen);
    o += (caplen + 3) & ~3; // padding stays zero (Buffer.alloc)
    u32(blockLen);
    off += 16 + caplen;
    packets++;
  }
  writeFileSync(`${path}.tmp`, out);
  renameSync(`${path}.tmp`, path);
  const info: CaptureInfo = { ...src, path, packets, bytes: size, key };
  writeMeta(metaPath, info);
  return info;
}

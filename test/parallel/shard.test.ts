// The shard hash: both directions of a flow, its fragments and everything
// else between the same two hosts (same VLANs) land on one worker. Checked on
// hand-built frames and against the decoder over every capture.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/file-source.js';
import { decodeFrame } from '../../src/decode/decoder.js';
import { Decoded, Packet } from '../../src/decode/packet.js';
import { flowHash, NON_IP, shardOf, shardOfHash } from '../../src/parallel/shard.js';
import { buildFrame, linktypeOf, type FrameSpec } from '../../tools/pcapgen/frame.js';
import { fixture } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

function hashOf(spec: FrameSpec): number {
  const f = buildFrame(spec);
  return flowHash(f, 0, f.length, linktypeOf(spec.link ?? 'ether'));
}

function reversed(spec: FrameSpec): FrameSpec {
  return { ...spec, src: spec.dst, dst: spec.src, sport: spec.dport, dport: spec.sport };
}

const V4: FrameSpec = { src: '10.1.2.3', dst: '192.168.7.9', proto: 'tcp', sport: 49152, dport: 502 };
const V6: FrameSpec = { src: 'fd00:10::5', dst: '2001:db8::20:1', proto: 'tcp', sport: 40000, dport: 4840 };

describe('flowHash on built frames', () => {
  it('is the same in both directions, on every link type', () => {
    for (const link of ['ether', 'sll', 'sll2', 'null', 'null-be', 'raw'] as const) {
      for (const base of [V4, V6]) {
        const s = { ...base, link };
        const h = hashOf(s);
        expect(h).not.toBe(NON_IP);
        expect(hashOf(reversed(s))).toBe(h);
      }
    }
  });

  it('keys on VLAN and QinQ ids: same both ways, different per VLAN', () => {
    const qinq = { ...V4, vlans: [{ tpid: 0x88a8, id: 100 }, { id: 7 }] };
    const h = hashOf(qinq);
    expect(hashOf(reversed(qinq))).toBe(h);
    // The same hosts in another VLAN are another flow (the engine's key has the VLAN ids).
    const other = new Set([
      hashOf(V4),
      h,
      hashOf({ ...V4, vlans: [{ tpid: 0x88a8, id: 100 }, { id: 8 }] }),
      hashOf({ ...V4, vlans: [{ id: 100 }] }),
    ]);
    expect(other.size).toBe(4);
  });

  it('ignores ports and protocol: every flow and fragment between two hosts shares a worker', () => {
    const h = hashOf(V4);
    expect(hashOf({ ...V4, sport: 1, dport: 2 })).toBe(h);
    expect(hashOf({ ...V4, proto: 'udp', sport: 20000, dport: 20000 })).toBe(h);
    // A later IPv4 fragment: no TCP header, fragment offset 185 (1480 bytes) set.
    const frag = buildFrame(V4);
    frag.writeUInt16BE(185, 14 + 6);
    const p = new Packet();
    expect(decodeFrame(frag, 0, frag.length, 1, p)).toBe(Decoded.IpOther);
    expect(flowHash(frag, 0, frag.length, 1)).toBe(h);
    // IPv6 with a fragment header whose offset is not 0 (RFC 8200 §4.5).
    const f6 = buildFrame({ ...V6, ipv6ExtHeaders: [44] });
    const fh = 14 + 40;
    expect(f6[14 + 6]).toBe(44);
    f6.writeUInt16BE((100 << 3) | 1, fh + 2);
    expect(decodeFrame(f6, 0, f6.length, 1, p)).toBe(Decoded.IpOther);
    expect(p.fragment).toBe(true);
    expect(flowHash(f6, 0, f6.length, 1)).toBe(hashOf(V6));
    expect(flowHash(f6, 0, f6.length, 1)).toBe(hashOf(reversed(V6)));
  });

  it('non-IP and cut-off frames go to worker 0', () => {
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    expect(flowHash(arp, 0, arp.length, 1)).toBe(NON_IP);
    expect(shardOf(arp, 0, arp.length, 1, 4)).toBe(0);
    const f = buildFrame(V4);
    expect(flowHash(f, 0, 14 + 19, 1)).toBe(NON_IP); // IPv4 header cut before the addresses end
    expect(flowHash(f, 0, f.length, 147)).toBe(NON_IP); // a link type the decoder does not know
    const g = buildFrame(V6);
    expect(flowHash(g, 0, 14 + 39, 1)).toBe(NON_IP);
  });

  it('cuts the 32-bit space into equal ranges', () => {
    expect(shardOfHash(0, 3)).toBe(0);
    expect(shardOfHash(0x55555555, 3)).toBe(0); // floor(0x55555555 * 3 / 2^32) = floor(0.99999999977)
    expect(shardOfHash(0x55555556, 3)).toBe(1);
    expect(shardOfHash(0xffffffff, 3)).toBe(2);
    expect(shardOfHash(0x7fffffff, 2)).toBe(0);
    expect(shardOfHash(0x80000000, 2)).toBe(1);
  });

  it('spreads distinct host pairs evenly', () => {
    // A fixed pseudo-random sequence (LCG) of 20 000 IPv4 pairs over 4 shards.
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) {
      const a = rnd();
      const b = rnd();
      const spec = {
        ...V4,
        src: `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
        dst: `${b >>> 24}.${(b >>> 16) & 255}.${(b >>> 8) & 255}.${b & 255}`,
      };
      const f = buildFrame(spec);
      counts[shardOf(f, 0, f.length, 1, 4)]++;
    }
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(350); // ~5 standard deviations of a fair split
  });
});

/** Every frame of a capture: the decoder's view and the hash must agree. */
async function checkCapture(path: string, seen: { flows: number; frames: number; shards: Set<number> }): Promise<void> {
  const p = new Packet();
  // Flow key (as the flow table builds it) → hash; host pair (+ VLANs) → hash.
  const byFlow = new Map<string, number>();
  const byPair = new Map<string, number>();
  const addr = (off: number, v: number) => p.buf.subarray(off, off + (v === 4 ? 4 : 16)).toString('hex');
  await readCapture(path, (raw) => {
    const r = decodeFrame(raw.buf, raw.off, raw.caplen, raw.linktype, p);
    const h = flowHash(raw.buf, raw.off, raw.caplen, raw.linktype);
    seen.frames++;
    if (r !== Decoded.Tcp && r !== Decoded.Udp && r !== Decoded.IpOther) return;
    if (p.ipVersion === 0) return; // IpOther before the addresses
    const s = addr(p.srcOff, p.ipVersion);
    const d = addr(p.dstOff, p.ipVersion);
    const [lo, hi] = s < d ? [s, d] : [d, s];
    const pair = `${p.vlan}/${p.innerVlan}/${lo}/${hi}`;
    if (h === NON_IP) expect.fail(`${path}: no hash for ${pair}`);
    const prev = byPair.get(pair);
    if (prev === undefined) byPair.set(pair, h);
    else if (h !== prev) expect(h, `${path}: hosts ${pair}`).toBe(prev);
    if (r === Decoded.IpOther) return;
    const [ea, eb] =
      `${s}:${p.sport}` < `${d}:${p.dport}` ? [`${s}:${p.sport}`, `${d}:${p.dport}`] : [`${d}:${p.dport}`, `${s}:${p.sport}`];
    const key = `${p.vlan}/${p.innerVlan}/${p.proto}/${ea}/${eb}`;
    const fh = byFlow.get(key);
    if (fh === undefined) {
      byFlow.set(key, h);
      seen.flows++;
      seen.shards.add(shardOfHash(h, 2));
    } else if (h !== fh) expect(h, `${path}: flow ${key}`).toBe(fh);
  }).catch((e: Error) => {
    if (e.name !== 'CaptureError') throw e; // damaged captures: the frames before the damage were checked
  });
}

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === '_tshark_ref') continue;
    if (statSync(p).isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng|cap)$/i.test(e)) out.push(p);
  }
  return out.sort();
}

describe('flowHash agrees with the decoder', () => {
  it('fixtures: one hash per flow (both directions) and per host pair', async () => {
    const seen = { flows: 0, frames: 0, shards: new Set<number>() };
    for (const f of captures(fixture())) await checkCapture(f, seen);
    expect(seen.flows).toBeGreaterThan(50);
    expect(seen.shards.size).toBe(2);
  });

  withShared(() => {
    it('shared corpus: one hash per flow (both directions) and per host pair', async () => {
      const seen = { flows: 0, frames: 0, shards: new Set<number>() };
      for (const f of captures(SHARED_PCAPS)) await checkCapture(f, seen);
      expect(seen.frames).toBeGreaterThan(100_000);
      expect(seen.flows).toBeGreaterThan(1000);
      expect(seen.shards.size).toBe(2);
    }, 120_000);
  });
});

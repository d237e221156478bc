// Loading baselines fast must not change what is loaded: the numeric keys and
// the IPv4 text cache give exactly what the strings gave, the fast file
// reader builds exactly what decode + fromPlain build (or leaves the file to
// them), and fromPlain reports the same errors as before its error paths
// became lazy (checked against a copy of the previous implementation).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { decode, encode, type EncoderOptions } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppName } from '../../src/dissectors/types.js';
import {
  APP_FACTS,
  APP_NAMES,
  Baseline,
  BaselineError,
  BASELINE_FORMAT,
  BASELINE_VERSION,
  EndpointRec,
  fnKey,
  fromPlain,
  FunctionRec,
  ipv4Word,
  LIMITS,
  serviceKey4,
  smallFnKey,
  TalkerRec,
  talkerPair,
  toPlain,
  type AppFact,
  type PlainBaseline,
  type SeenRec,
} from '../../src/detect/baseline.js';
import { baselineFromBytes, decodeBaseline } from '../../src/detect/baseline-file.js';
import { readBaselineFast } from '../../src/detect/baseline-read.js';
import { FUNCTION_CLASSES, type FunctionClass } from '../../src/detect/function-class.js';
import { IPV4_TEXT_CACHE_MAX, Ipv4TextCache } from '../../src/detect/ip-text-cache.js';
import { ipv4Text } from '../../src/output/ip-text.js';
import { REPO } from '../helpers/shared.js';
import { runCli } from '../helpers/run.js';
import { learn, tmpDir, writePcap } from './helpers.js';
import * as S from './scenarios.js';
import { mulberry32 as rng } from '../../tools/prng.js';

const EDGE_WORDS = [0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff, -1, -2147483648, 0x0a000001, 0xc0a80101, 0x7f000001];

describe('IPv4 words and text', () => {
  it('the cache gives exactly ipv4Text, for int32 and uint32 forms, across a reset', () => {
    const c = new Ipv4TextCache();
    const r = rng(1);
    const words = [...EDGE_WORDS];
    for (let i = 0; i < 3 * IPV4_TEXT_CACHE_MAX; i++) words.push(Math.floor(r() * (i % 3 === 0 ? 2 ** 32 : 4096)));
    const wrong: number[] = [];
    for (const w of words) {
      const t = ipv4Text(w);
      if (c.text(w) !== t || c.text(w | 0) !== t || c.text(w >>> 0) !== t) wrong.push(w);
    }
    expect(wrong).toEqual([]);
    expect(c.size).toBeLessThanOrEqual(IPV4_TEXT_CACHE_MAX);
  });

  it('ipv4Word reads back exactly what ipv4Text writes', () => {
    const r = rng(2);
    const words = [...EDGE_WORDS];
    for (let i = 0; i < 100_000; i++) words.push(Math.floor(r() * 2 ** 32) | 0);
    expect(words.filter((w) => ipv4Word(ipv4Text(w)) !== (w | 0))).toEqual([]);
  });

  it('ipv4Word refuses any other text', () => {
    for (const s of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1.2.3.256',
      '01.2.3.4',
      '1.2.3.04',
      '00.0.0.0',
      '1..2.3',
      '.1.2.3',
      '1.2.3.',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '1.2.3.-4',
      '1.2.3.4a',
      '1.2.3.4/24',
      '::1',
      '::ffff:1.2.3.4',
      'fe80::1',
      '1.2.3.4\n',
      '１.2.3.4',
      '1000.1.1.1',
      '1.2.3.4.',
      '+1.2.3.4',
      '1e1.2.3.4',
      '0x1.2.3.4',
    ]) {
      expect(ipv4Word(s), s).toBeNull();
    }
  });

  it('serviceKey4 never maps two (server, proto, port) to one key', () => {
    const r = rng(3);
    const seen = new Map<number, string>();
    const bad: string[] = [];
    const add = (w: number, udp: boolean, port: number) => {
      const k = serviceKey4(w, udp, port);
      const id = `${w >>> 0}/${udp}/${port}`;
      const prev = seen.get(k);
      if (prev !== undefined && prev !== id) bad.push(`${prev} ${id}`);
      seen.set(k, id);
      if (!Number.isSafeInteger(k)) bad.push(`unsafe ${id}`);
      if (serviceKey4(w | 0, udp, port) !== k) bad.push(`int32 ${id}`); // the int32 and uint32 forms are one address
    };
    for (const w of EDGE_WORDS) for (const udp of [false, true]) for (const port of [0, 1, 502, 65534, 65535]) add(w, udp, port);
    // Neighbours in every field, and random ones.
    for (let w = 0; w < 64; w++) for (const udp of [false, true]) for (let port = 0; port < 64; port++) add(w, udp, port);
    for (let i = 0; i < 100_000; i++) add(Math.floor(r() * 2 ** 32), r() < 0.5, Math.floor(r() * 65536));
    expect(bad).toEqual([]);
  });

  it('smallFnKey is one-to-one on (app, fc < 65536, class), -1 otherwise', () => {
    const seen = new Set<number>();
    for (const app of APP_NAMES) {
      for (const fc of [0, 1, 2, 3, 127, 128, 255, 256, 4095, 65534, 65535]) {
        for (let cls = 0; cls < FUNCTION_CLASSES.length; cls++) {
          const k = smallFnKey(app, fc, cls);
          expect(k).toBeGreaterThanOrEqual(0);
          expect(seen.has(k)).toBe(false);
          seen.add(k);
        }
      }
    }
    expect(smallFnKey('modbus', 65536, 0)).toBe(-1);
    expect(smallFnKey('dnp3', 0xffffffff, 6)).toBe(-1);
    expect(smallFnKey('opcua', 1.5, 0)).toBe(-1);
  });
});

// ---- The previous fromPlain (commit 0808173), the reference for errors ----
// (One change since: an unknown protocol name is reported as such, with the
// file's format version, instead of as corruption.)

function fromPlainBefore(doc: unknown, where: string): Baseline {
  const bad = (what: string): never => {
    throw new BaselineError(`baseline ${where} is corrupt: ${what}`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new BaselineError(`${where} is not an otwatch baseline (no header)`);
  }
  const d = doc as Record<string, unknown>;
  if (d.format !== BASELINE_FORMAT) throw new BaselineError(`${where} is not an otwatch baseline (format is ${JSON.stringify(d.format)})`);
  if (typeof d.version !== 'number' || !Number.isInteger(d.version) || d.version < 1) bad('bad format version');
  if ((d.version as number) > BASELINE_VERSION) {
    throw new BaselineError(
      `baseline ${where} has format version ${d.version}, newer than this otwatch reads (${BASELINE_VERSION}): upgrade otwatch or learn the baseline again`,
    );
  }
  const unknownApp = (what: string, a: unknown): never =>
    typeof a !== 'string' || a.length > 64
      ? bad(`${what} is not a protocol name`)
      : (() => {
          throw new BaselineError(
            `baseline ${where} (format version ${d.version}) names protocol ${JSON.stringify(a)} at ${what}, ` +
              `which this otwatch does not know (it knows ${APP_NAMES.join(', ')}): it was written by an otwatch with that protocol; ` +
              'use that one or learn the baseline again',
          );
        })();
  const num = (v: unknown, what: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : bad(`${what} is not a number`));
  const int = (v: unknown, what: string, lo: number, hi: number): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : bad(`${what} is not an integer in ${lo}..${hi}`);
  const str = (v: unknown, what: string): string => (typeof v === 'string' && v.length <= 64 ? v : bad(`${what} is not an address`));
  const arr = (v: unknown, what: string, cap: number): unknown[] =>
    Array.isArray(v) ? (v.length <= cap ? v : bad(`${what} has more than ${cap} entries`)) : bad(`${what} is not a list`);
  const obj = (v: unknown, what: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(`${what} is not a map`);

  const b = new Baseline();
  b.created = num(d.created, 'created');
  b.firstTs = num(d.first_ts, 'first_ts');
  b.lastTs = num(d.last_ts, 'last_ts');
  arr(d.endpoints, 'endpoints', LIMITS.endpoints).forEach((e0, i) => {
    const w = `endpoints[${i}]`;
    const e = obj(e0, w);
    const vlan = e.vlan === null ? -1 : int(e.vlan, `${w}.vlan`, 0, 4095);
    const proto = e.proto === 'tcp' || e.proto === 'udp' ? e.proto : bad(`${w}.proto is not tcp or udp`);
    const ep = new EndpointRec(
      vlan,
      str(e.ip, `${w}.ip`),
      proto,
      int(e.port, `${w}.port`, 0, 65535),
      num(e.first_seen, `${w}.first_seen`),
      num(e.last_seen, `${w}.last_seen`),
      null,
    );
    ep.flows = int(e.flows, `${w}.flows`, 0, Number.MAX_SAFE_INTEGER);
    for (const a of arr(e.apps, `${w}.apps`, APP_FACTS.length)) {
      if (!(APP_FACTS as readonly unknown[]).includes(a)) unknownApp(`${w}.apps`, a);
      b.learnApp(ep, a as AppFact);
    }
    arr(e.talkers, `${w}.talkers`, LIMITS.talkersPerEndpoint).forEach((t0, j) => {
      const wt = `${w}.talkers[${j}]`;
      const t = obj(t0, wt);
      const tr = new TalkerRec(str(t.ip, `${wt}.ip`), num(t.first_seen, `${wt}.first_seen`), num(t.last_seen, `${wt}.last_seen`), null);
      tr.flows = int(t.flows, `${wt}.flows`, 0, Number.MAX_SAFE_INTEGER);
      arr(t.functions, `${wt}.functions`, LIMITS.functionsPerTalker).forEach((f0, k) => {
        const wf = `${wt}.functions[${k}]`;
        const f = obj(f0, wf);
        const app = (APP_NAMES as readonly unknown[]).includes(f.app) ? (f.app as AppName) : unknownApp(`${wf}.app`, f.app);
        const cls = FUNCTION_CLASSES.indexOf(f.class as FunctionClass);
        if (cls < 0) bad(`${wf}.class is not a function class`);
        const fc = int(f.fc, `${wf}.fc`, 0, 0xffffffff);
        const r = new FunctionRec(app, fc, cls, num(f.first_seen, `${wf}.first_seen`), num(f.last_seen, `${wf}.last_seen`), null);
        r.count = int(f.flows, `${wf}.flows`, 0, Number.MAX_SAFE_INTEGER);
        tr.fns.set(fnKey(app, fc, cls), r);
      });
      ep.talkers.set(tr.ip, tr);
      b.talkerPairs.add(talkerPair(tr.ip, ep.proto, ep.ip, ep.port));
    });
    b.endpoints.set(ep.key, ep);
  });
  const seen = (v: unknown, what: string, m: Map<string, SeenRec>, cap: number): void => {
    arr(v, what, cap).forEach((s0, i) => {
      const s = obj(s0, `${what}[${i}]`);
      const ip = str(s.ip, `${what}[${i}].ip`);
      m.set(ip, { ip, first: num(s.first_seen, `${what}[${i}].first_seen`), last: num(s.last_seen, `${what}[${i}].last_seen`) });
    });
  };
  seen(d.hosts, 'hosts', b.hosts, LIMITS.hosts);
  seen(d.scanners, 'scanners', b.scanners, LIMITS.scanners);
  return b;
}

// ---- Helpers ----

/** Everything a loaded baseline holds, in insertion order (indexes included). */
function dump(b: Baseline): unknown {
  const x = b as unknown as { pairs4: Map<number, number | Set<number>>; ep4: Map<number, Map<number, EndpointRec>> };
  return {
    head: [b.created, b.firstTs, b.lastTs, b.overflow],
    endpoints: [...b.endpoints].map(([k, ep]) => [
      k,
      ep.key,
      ep.vlan,
      ep.ip,
      ep.proto,
      ep.port,
      ep.first,
      ep.last,
      ep.flows,
      ep.fact,
      [...ep.apps],
      [...ep.talkers].map(([ip, t]) => [
        ip,
        t.ip,
        t.first,
        t.last,
        t.flows,
        t.fact,
        [...t.fns].map(([fk, r]) => [fk, r.app, r.fc, r.cls, r.first, r.last, r.count, r.fact]),
      ]),
    ]),
    hosts: [...b.hosts],
    scanners: [...b.scanners],
    ics: [...b.icsServers],
    pairs: [...b.talkerPairs],
    pairs4: [...x.pairs4].map(([k, v]) => [k, typeof v === 'number' ? v : [...v]]),
    ep4: [...x.ep4].map(([vlan, m]) => [vlan, [...m].map(([k, ep]) => [k, ep.key, b.endpoints.get(ep.key) === ep])]),
  };
}

type Outcome = { error: string } | { value: unknown };

function outcome(f: () => Baseline, show: (b: Baseline) => unknown): Outcome {
  try {
    return { value: show(f()) };
  } catch (e) {
    if (!(e instanceof BaselineError)) throw e;
    return { error: e.message };
  }
}

const WHERE = '/x/b.otb';

/** The loader (fast path first) against the general path alone; returns
 *  whether the fast path took the bytes. */
function sameLoad(bytes: Uint8Array): boolean {
  const fast = readBaselineFast(bytes);
  const general = outcome(() => decodeBaseline(bytes, WHERE), dump);
  if (fast !== null && !isDeepStrictEqual({ value: dump(fast) }, general)) expect({ value: dump(fast) }).toEqual(general);
  const loaded = outcome(() => baselineFromBytes(bytes, WHERE), dump);
  if (!isDeepStrictEqual(loaded, general)) expect(loaded).toEqual(general);
  return fast !== null;
}

/** A baseline with a bit of everything: VLANs, UDP, IPv6, odd address
 *  text, functions with and without names, several talkers, hosts, scanners. */
function varied(): Baseline {
  const b = new Baseline();
  const t0 = 1_700_000_000.25;
  const e1 = b.learnEndpoint(-1, '10.0.0.20', 'tcp', 502, t0)!;
  b.learnApp(e1, 'modbus');
  const m1 = b.learnTalker(e1, '10.0.0.5', t0 + 1)!;
  b.learnFunction(m1, fnKey('modbus', 3, 0), 'modbus', 3, 0, t0 + 1.5);
  b.learnFunction(m1, fnKey('modbus', 6, 1), 'modbus', 6, 1, t0 + 2);
  b.learnFunction(m1, fnKey('modbus', 100, 6), 'modbus', 100, 6, t0 + 2);
  b.learnTalker(e1, '10.0.0.6', t0 + 3);
  const e2 = b.learnEndpoint(10, '192.168.1.7', 'tcp', 20000, t0 + 4)!;
  b.learnApp(e2, 'dnp3');
  const m2 = b.learnTalker(e2, '192.168.1.1', t0 + 5)!;
  b.learnFunction(m2, fnKey('dnp3', 1, 0), 'dnp3', 1, 0, t0 + 5);
  b.learnFunction(m2, fnKey('dnp3', 0xfffffffe, 6), 'dnp3', 0xfffffffe, 6, t0 + 5);
  const e3 = b.learnEndpoint(-1, 'fe80::1', 'udp', 47808, t0 + 6)!;
  b.learnApp(e3, 'other');
  b.learnTalker(e3, 'fe80::2', t0 + 7);
  const e4 = b.learnEndpoint(-1, '255.255.255.255', 'udp', 0, t0 + 8)!;
  b.learnTalker(e4, '0.0.0.0', t0 + 9);
  const e5 = b.learnEndpoint(4095, '10.0.0.20', 'tcp', 2404, t0 + 10)!;
  b.learnApp(e5, 'iec104');
  b.learnApp(e5, 'other');
  const m5 = b.learnTalker(e5, '10.0.0.5', t0 + 10)!;
  b.learnFunction(m5, fnKey('iec104', 100, 0), 'iec104', 100, 0, t0 + 11);
  const e6 = b.learnEndpoint(-1, '10.0.0.21', 'tcp', 4840, t0 + 12)!;
  b.learnApp(e6, 'opcua');
  const m6 = b.learnTalker(e6, '10.0.0.5', t0 + 12)!;
  b.learnFunction(m6, fnKey('opcua', 631, 0), 'opcua', 631, 0, t0 + 12);
  for (const ip of ['10.0.0.20', '10.0.0.5', 'fe80::1', '192.168.1.7']) b.learnHost(ip, t0 + 13);
  b.learnScanner('10.9.9.9', t0 + 14);
  b.learnScanner('2001:db8::9', t0 + 15);
  b.learnSpan(t0);
  b.learnSpan(t0 + 20);
  b.created = 1_700_000_100;
  return b;
}

type Key = string | number;

/** The path of every value in a plain document. */
function places(doc: unknown): Key[][] {
  const out: Key[][] = [];
  const walk = (v: unknown, path: Key[]) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push([...path, i]);
        walk(x, [...path, i]);
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const k of Object.keys(v)) {
        out.push([...path, k]);
        walk((v as Record<string, unknown>)[k], [...path, k]);
      }
    }
  };
  walk(doc, []);
  return out;
}

/** The container of the value at `path`, and its key there. */
function at(doc: unknown, path: Key[]): [Record<string, unknown> | unknown[], Key] {
  let c = doc as Record<Key, unknown>;
  for (let i = 0; i < path.length - 1; i++) c = c[path[i]] as Record<Key, unknown>;
  return [c as Record<string, unknown> | unknown[], path[path.length - 1]];
}

const clone = <T>(x: T): T => structuredClone(x);

const ODD_VALUES: unknown[] = [
  null,
  true,
  'x',
  '',
  -1,
  0,
  -0,
  1.5,
  4095,
  4096,
  65535,
  65536,
  2 ** 32,
  2 ** 32 - 1,
  2 ** 53,
  -(2 ** 40),
  NaN,
  Infinity,
  [],
  {},
  [1],
  'a'.repeat(65),
  'b'.repeat(64),
  '1.2.3.4',
  '010.0.0.1',
  'é',
  'tcp',
  'udp',
  'modbus',
  'other',
  'write',
  'dnp3',
  BASELINE_FORMAT,
];

/** Variants of a plain document: each value replaced by odd ones, each key
 *  removed, an extra key in each map, keys reversed, list entries doubled. */
function* variants(plain: PlainBaseline, r: () => number, limit: number, maxPlaces = 400): Generator<unknown> {
  const all = places(plain);
  const step = Math.max(1, Math.ceil(all.length / maxPlaces));
  for (let i = Math.floor(r() * step); i < all.length; i += step) {
    const path = all[i];
    const mutate = (f: (c: Record<string, unknown> | unknown[], k: Key) => void) => {
      const d = clone(plain);
      const [c, k] = at(d, path);
      f(c, k);
      return d;
    };
    for (let i = 0; i < limit; i++) {
      const v = ODD_VALUES[Math.floor(r() * ODD_VALUES.length)];
      yield mutate((c, k) => {
        (c as Record<string | number, unknown>)[k] = clone(v);
      });
    }
    yield mutate((c, k) => {
      if (Array.isArray(c)) c.splice(k as number, 1);
      else delete c[k as string];
    });
    yield mutate((c, k) => {
      if (Array.isArray(c)) c.splice(k as number, 0, clone(c[k as number]));
      else c.zz_extra = 1;
    });
    yield mutate((c) => {
      if (Array.isArray(c)) c.reverse();
      else {
        const e = Object.entries(c).reverse();
        for (const [k] of e) delete c[k];
        for (const [k, v] of e) c[k] = v;
      }
    });
  }
}

const ENCODINGS: EncoderOptions[] = [{}, { forceFloat32: true }, { forceIntegerToFloat: true }, { sortKeys: true }];

let scenario: Baseline;

beforeAll(async () => {
  const dir = tmpDir('load');
  scenario = await learn([writePcap(dir, 'train.pcap', S.train())]);
});

describe('fast file reader', () => {
  it('takes the files saveBaseline writes and builds what decode + fromPlain build', () => {
    for (const b of [varied(), scenario, new Baseline()]) {
      const bytes = encode(toPlain(b));
      expect(sameLoad(bytes)).toBe(true);
      const back = readBaselineFast(bytes)!;
      expect(toPlain(back)).toEqual(toPlain(b));
      for (const ep of b.endpoints.values()) {
        for (const t of ep.talkers.values()) expect(back.isTalker(t.ip, ep.proto, ep.ip, ep.port)).toBe(true);
        const w = ipv4Word(ep.ip);
        if (w !== null) expect(back.endpoint4(ep.vlan, ep.proto === 'udp', w, ep.port)).toBe(back.endpoint(ep.key));
      }
    }
  });

  it('agrees with the general path on variants of the document', () => {
    const r = rng(4);
    let n = 0;
    let fast = 0;
    for (const b of [varied(), scenario]) {
      for (const doc of variants(toPlain(b), r, 6)) {
        for (const opts of ENCODINGS) {
          let bytes: Uint8Array;
          try {
            bytes = encode(doc, opts);
          } catch {
            continue;
          }
          n++;
          if (sameLoad(bytes)) fast++;
        }
      }
    }
    expect(n).toBeGreaterThan(1000);
    expect(fast).toBeGreaterThan(100); // valid variants (other numbers, other names) take the fast path
  });

  it('agrees with the general path on damaged bytes', () => {
    const r = rng(5);
    const full = encode(toPlain(varied()));
    for (let cut = 1; cut < full.length; cut += 3) sameLoad(full.subarray(0, cut));
    sameLoad(Buffer.concat([full, Buffer.of(0xc0)]));
    for (let i = 0; i < 3000; i++) {
      const b = Uint8Array.from(full);
      const flips = 1 + Math.floor(r() * 3);
      for (let j = 0; j < flips; j++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      sameLoad(b);
    }
  });

  it('takes a baseline learned by the CLI from the bundled captures', () => {
    const dir = tmpDir('baseline-load');
    const out = join(dir, 'learned.bin');
    const caps = [
      'gen/plant-sample.pcap',
      'gen/link-vlan100.pcap',
      'gen/ipv6-exthdr.pcap',
      'corpus/modbusSmall.pcap',
      'corpus/dnp3_read.pcap',
      'corpus/open62541_client-server-getEndpoints.pcap',
    ].map((f) => join(REPO, 'fixtures/pcaps', f));
    const r = runCli(['baseline', 'learn', '-o', out, ...caps]);
    expect(r.code, r.stderr).toBe(0);
    const bytes = readFileSync(out);
    expect(decodeBaseline(bytes, WHERE).endpoints.size).toBeGreaterThan(3);
    expect(sameLoad(bytes)).toBe(true);
  });
});

describe('fromPlain errors', () => {
  it('are the same as before, on variants of the document', () => {
    const r = rng(6);
    let n = 0;
    let errors = 0;
    for (const b of [varied(), scenario]) {
      for (const doc of variants(toPlain(b), r, 6)) {
        const decoded = decode(encode(doc));
        for (const d of [doc, decoded]) {
          const before = outcome(() => fromPlainBefore(d, WHERE), toPlain);
          expect(outcome(() => fromPlain(d, WHERE), toPlain)).toEqual(before);
          n++;
          if ('error' in before) errors++;
        }
      }
    }
    for (const d of [
      null,
      [],
      'x',
      {},
      { format: BASELINE_FORMAT },
      { format: BASELINE_FORMAT, version: 1 },
      { format: BASELINE_FORMAT, version: 1.5 },
    ]) {
      expect(outcome(() => fromPlain(d, WHERE), toPlain)).toEqual(outcome(() => fromPlainBefore(d, WHERE), toPlain));
    }
    expect(errors).toBeGreaterThan(500);
    expect(n - errors).toBeGreaterThan(100);
  });
});

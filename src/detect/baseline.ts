// What is normal on a network: listening endpoints with the application
// protocols seen there, the clients that talk to each, the function codes each
// client uses there, the hosts, and the sources known to sweep (scanners).
//
// One in-memory structure serves learning and detection. A record with
// `fact === null` was learned; during detection a new fact is inserted with
// its alert bookkeeping (`fact`) so later sightings only count repeats.
// Files hold learned records only (see baseline-file.ts).
import type { AppName } from '../dissectors/types.js';
import { codeName, FUNCTION_CLASSES, type FunctionClass } from './function-class.js';
import type { Fact } from './alerts.js';

/** Application fact of an endpoint: an ICS protocol, or 'other' for content
 *  that is none of them. */
export type AppFact = AppName | 'other';
export const APP_NAMES: readonly AppName[] = ['modbus', 'dnp3', 'iec104', 'opcua'];
export const APP_FACTS: readonly AppFact[] = [...APP_NAMES, 'other'];

// Hard bounds: traffic decides how much is learned, so every map is capped.
export const LIMITS = {
  endpoints: 200_000,
  talkersPerEndpoint: 10_000,
  functionsPerTalker: 1_024,
  hosts: 200_000,
  scanners: 10_000,
};

export class FunctionRec {
  count = 0;
  constructor(
    readonly app: AppName,
    readonly fc: number,
    readonly cls: number,
    public first: number,
    public last: number,
    public fact: Fact | null,
  ) {}
}

export class TalkerRec {
  flows = 0;
  readonly fns = new Map<number, FunctionRec>();
  constructor(readonly ip: string, public first: number, public last: number, public fact: Fact | null) {}
}

export class EndpointRec {
  flows = 0;
  /** App fact → null when learned, else its alert fact. */
  readonly apps = new Map<AppFact, Fact | null>();
  readonly talkers = new Map<string, TalkerRec>();
  constructor(
    readonly vlan: number,
    readonly ip: string,
    readonly proto: 'tcp' | 'udp',
    readonly port: number,
    public first: number,
    public last: number,
    public fact: Fact | null,
  ) {}

  get key(): string {
    return endpointKey(this.vlan, this.proto, this.ip, this.port);
  }

  /** Any app fact learned here. */
  hasLearnedApp(): boolean {
    for (const v of this.apps.values()) if (v === null) return true;
    return false;
  }

  learnedApps(): AppFact[] {
    const out: AppFact[] = [];
    for (const [k, v] of this.apps) if (v === null) out.push(k);
    return out;
  }
}

export interface SeenRec {
  ip: string;
  first: number;
  last: number;
}

/** Key of a function fact: app, raw code and class in one safe integer. */
export function fnKey(app: AppName, fc: number, cls: number): number {
  return APP_NAMES.indexOf(app) * 2 ** 40 + (fc >>> 0) * 8 + cls;
}

export function talkerPair(client: string, proto: string, server: string, port: number): string {
  return `${client}|${proto}/${server}/${port}`;
}

export function endpointKey(vlan: number, proto: string, ip: string, port: number): string {
  return `${vlan}/${proto}/${ip}/${port}`;
}

/** "10.0.0.20:502/tcp", "[fe80::1]:502/tcp vlan 10". */
export function endpointText(vlan: number, proto: string, ip: string, port: number): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `${host}:${port}/${proto}${vlan >= 0 ? ` vlan ${vlan}` : ''}`;
}

export function functionText(app: AppName, fc: number, cls: number): string {
  const name = codeName(app, fc);
  return `${app} fc ${fc}${name === undefined ? '' : ` ${name}`} (${FUNCTION_CLASSES[cls]})`;
}

export class Baseline {
  readonly endpoints = new Map<string, EndpointRec>();
  readonly hosts = new Map<string, SeenRec>();
  readonly scanners = new Map<string, SeenRec>();
  /** Server addresses that speak an ICS protocol somewhere (learned). */
  readonly icsServers = new Set<string>();
  /** "client|proto/server/port" of every learned talker, whatever the VLAN:
   *  scan counting skips a source reaching its own endpoints. */
  readonly talkerPairs = new Set<string>();
  /** Capture time span learned from (0: nothing yet). */
  firstTs = 0;
  lastTs = 0;
  /** Unix time the file was written (set by save). */
  created = 0;
  /** Facts not learned because a limit was reached. */
  overflow = 0;

  /** Learned endpoint (or the detection record of a new one). */
  endpoint(key: string): EndpointRec | undefined {
    return this.endpoints.get(key);
  }

  learnSpan(ts: number): void {
    if (this.firstTs === 0 || ts < this.firstTs) this.firstTs = ts;
    if (ts > this.lastTs) this.lastTs = ts;
  }

  learnEndpoint(vlan: number, ip: string, proto: 'tcp' | 'udp', port: number, ts: number): EndpointRec | null {
    const key = endpointKey(vlan, proto, ip, port);
    let ep = this.endpoints.get(key);
    if (ep === undefined) {
      if (this.endpoints.size >= LIMITS.endpoints) {
        this.overflow++;
        return null;
      }
      ep = new EndpointRec(vlan, ip, proto, port, ts, ts, null);
      this.endpoints.set(key, ep);
    } else if (ep.fact !== null) {
      ep.fact = null; // seen while detecting, now learned
      ep.first = ts;
    }
    if (ts > ep.last) ep.last = ts;
    ep.flows++;
    this.learnSpan(ts);
    return ep;
  }

  learnTalker(ep: EndpointRec, ip: string, ts: number): TalkerRec | null {
    let t = ep.talkers.get(ip);
    if (t === undefined) {
      if (ep.talkers.size >= LIMITS.talkersPerEndpoint) {
        this.overflow++;
        return null;
      }
      t = new TalkerRec(ip, ts, ts, null);
      ep.talkers.set(ip, t);
      this.talkerPairs.add(talkerPair(ip, ep.proto, ep.ip, ep.port));
    } else if (t.fact !== null) {
      t.fact = null;
      t.first = ts;
      this.talkerPairs.add(talkerPair(ip, ep.proto, ep.ip, ep.port));
    }
    if (ts > t.last) t.last = ts;
    t.flows++;
    return t;
  }

  learnFunction(t: TalkerRec, key: number, app: AppName, fc: number, cls: number, ts: number): void {
    let r = t.fns.get(key);
    if (r === undefined) {
      if (t.fns.size >= LIMITS.functionsPerTalker) {
        this.overflow++;
        return;
      }
      r = new FunctionRec(app, fc, cls, ts, ts, null);
      t.fns.set(key, r);
    } else if (r.fact !== null) {
      r.fact = null;
      r.first = ts;
    }
    if (ts > r.last) r.last = ts;
    r.count++;
  }

  learnApp(ep: EndpointRec, app: AppFact): void {
    ep.apps.set(app, null);
    if (app !== 'other') this.icsServers.add(ep.ip);
  }

  learnHost(ip: string, ts: number): void {
    this.learnSeen(this.hosts, LIMITS.hosts, ip, ts);
  }

  learnScanner(ip: string, ts: number): void {
    this.learnSeen(this.scanners, LIMITS.scanners, ip, ts);
  }

  private learnSeen(m: Map<string, SeenRec>, cap: number, ip: string, ts: number): void {
    const r = m.get(ip);
    if (r !== undefined) {
      if (ts > r.last) r.last = ts;
      return;
    }
    if (m.size >= cap) {
      this.overflow++;
      return;
    }
    m.set(ip, { ip, first: ts, last: ts });
  }

  /** Is `client` a learned talker of server:port (any VLAN)? */
  isTalker(client: string, proto: string, server: string, port: number): boolean {
    return this.talkerPairs.has(talkerPair(client, proto, server, port));
  }
}

// ---- Plain form: what the file holds and `baseline show` prints ----

export interface PlainFunction {
  app: AppName;
  fc: number;
  class: FunctionClass;
  name?: string;
  first_seen: number;
  last_seen: number;
  /** Flows that used it. */
  flows: number;
}

export interface PlainTalker {
  ip: string;
  first_seen: number;
  last_seen: number;
  flows: number;
  functions: PlainFunction[];
}

export interface PlainEndpoint {
  vlan: number | null;
  ip: string;
  proto: 'tcp' | 'udp';
  port: number;
  apps: AppFact[];
  first_seen: number;
  last_seen: number;
  flows: number;
  talkers: PlainTalker[];
}

export interface PlainSeen {
  ip: string;
  first_seen: number;
  last_seen: number;
}

export interface PlainBaseline {
  format: string;
  version: number;
  created: number;
  first_ts: number;
  last_ts: number;
  endpoints: PlainEndpoint[];
  hosts: PlainSeen[];
  scanners: PlainSeen[];
}

export const BASELINE_FORMAT = 'otwatch-baseline';
/** Bump when a reader of the previous version would misread the file. */
export const BASELINE_VERSION = 1;

/** Sort key for addresses: numeric order for IPv4, text otherwise. */
function ipOrder(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  if (pa.length === 4) return -1;
  if (pb.length === 4) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function epOrder(a: EndpointRec, b: EndpointRec): number {
  return ipOrder(a.ip, b.ip) || a.vlan - b.vlan || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0) || a.port - b.port;
}

/** Learned records only, in a stable order. */
export function toPlain(b: Baseline): PlainBaseline {
  const endpoints: PlainEndpoint[] = [];
  for (const ep of [...b.endpoints.values()].filter((e) => e.fact === null).sort(epOrder)) {
    const talkers: PlainTalker[] = [];
    for (const t of [...ep.talkers.values()].filter((x) => x.fact === null).sort((x, y) => ipOrder(x.ip, y.ip))) {
      const functions: PlainFunction[] = [...t.fns.values()]
        .filter((r) => r.fact === null)
        .sort((x, y) => APP_NAMES.indexOf(x.app) - APP_NAMES.indexOf(y.app) || x.fc - y.fc || x.cls - y.cls)
        .map((r) => {
          const name = codeName(r.app, r.fc);
          return {
            app: r.app, fc: r.fc, class: FUNCTION_CLASSES[r.cls], ...(name === undefined ? {} : { name }),
            first_seen: r.first, last_seen: r.last, flows: r.count,
          };
        });
      talkers.push({ ip: t.ip, first_seen: t.first, last_seen: t.last, flows: t.flows, functions });
    }
    const apps = ep.learnedApps().sort((x, y) => APP_FACTS.indexOf(x) - APP_FACTS.indexOf(y));
    endpoints.push({
      vlan: ep.vlan < 0 ? null : ep.vlan, ip: ep.ip, proto: ep.proto, port: ep.port, apps,
      first_seen: ep.first, last_seen: ep.last, flows: ep.flows, talkers,
    });
  }
  const seen = (m: Map<string, SeenRec>): PlainSeen[] =>
    [...m.values()].sort((x, y) => ipOrder(x.ip, y.ip)).map((r) => ({ ip: r.ip, first_seen: r.first, last_seen: r.last }));
  return {
    format: BASELINE_FORMAT,
    version: BASELINE_VERSION,
    created: b.created,
    first_ts: b.firstTs,
    last_ts: b.lastTs,
    endpoints,
    hosts: seen(b.hosts),
    scanners: seen(b.scanners),
  };
}

export class BaselineError extends Error {}

/** Validates a decoded document and builds the in-memory baseline. `where`
 *  names the file in error messages. */
export function fromPlain(doc: unknown, where: string): Baseline {
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
    const ep = new EndpointRec(vlan, str(e.ip, `${w}.ip`), proto, int(e.port, `${w}.port`, 0, 65535),
      num(e.first_seen, `${w}.first_seen`), num(e.last_seen, `${w}.last_seen`), null);
    ep.flows = int(e.flows, `${w}.flows`, 0, Number.MAX_SAFE_INTEGER);
    for (const a of arr(e.apps, `${w}.apps`, APP_FACTS.length)) {
      if (!(APP_FACTS as readonly unknown[]).includes(a)) bad(`${w}.apps has unknown app ${JSON.stringify(a)}`);
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
        const app = (APP_NAMES as readonly unknown[]).includes(f.app) ? (f.app as AppName) : bad(`${wf}.app is not a known protocol`);
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

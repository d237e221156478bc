// What is normal on a network: listening endpoints with the application
// protocols seen there, the clients that talk to each, the function codes each
// client uses there, the hosts, and the sources known to sweep (scanners).
//
// One in-memory structure serves learning and detection. A record with
// `fact === null` was learned; during detection a new fact is inserted with
// its alert bookkeeping (`fact`) so later sightings only count repeats.
// Files hold learned records only (see baseline-file.ts).
import { APP_NAMES } from '../dissectors/index.js';
import type { AppName } from '../dissectors/types.js';
import { codeName, FUNCTION_CLASSES, type FunctionClass } from './function-class.js';
import type { Fact } from './alerts.js';

/** Application fact of an endpoint: a registered protocol's name, or 'other'
 *  for content that is none of them. The registry's order (append-only) is
 *  the order of the file's function lists. */
export type AppFact = AppName | 'other';
export { APP_NAMES };
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
  constructor(
    readonly ip: string,
    public first: number,
    public last: number,
    public fact: Fact | null,
  ) {}
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

/** The int32 word of an IPv4 address written exactly as ipv4Text writes it
 *  ("10.0.0.1": no leading zeros, no spaces), else null. Numeric indexes hold
 *  only such addresses, so a word found there is the same text as before. */
export function ipv4Word(s: string): number | null {
  const n = s.length;
  if (n < 7 || n > 15) return null;
  let w = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return null;
      w = (w << 8) | part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      if (c < 48 || c > 57 || (digits > 0 && part === 0)) return null;
      part = part * 10 + (c - 48);
      if (part > 255) return null;
      digits++;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return (w << 8) | part;
}

/** Numeric key of (server word, proto, port), VLAN aside: below 2^49, exact. */
export function serviceKey4(server: number, udp: boolean, port: number): number {
  return ((server >>> 0) * 2 + (udp ? 1 : 0)) * 65536 + port;
}

/** (app, fc, class) in one small integer for codes below 65536 (a per-flow
 *  shortcut; fnKey stays the key of records), else -1. */
export function smallFnKey(app: AppName, fc: number, cls: number): number {
  return (fc & 0xffff) === fc && cls >= 0 && cls < 8 ? ((APP_NAMES.indexOf(app) << 16) | fc) * 8 + cls : -1;
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
  /** Learned talkers, whatever the VLAN (scan counting skips a source
   *  reaching its own endpoints): pairs of IPv4 addresses in `pairs4`
   *  (serviceKey4 → client word, or the set of them), any other as
   *  "client|proto/server/port" here. */
  readonly talkerPairs = new Set<string>();
  private readonly pairs4 = new Map<number, number | Set<number>>();
  /** IPv4 endpoints by number, the same records as `endpoints`:
   *  VLAN → serviceKey4 → record. */
  private readonly ep4 = new Map<number, Map<number, EndpointRec>>();
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

  /** The same for an IPv4 server address given as its word. */
  endpoint4(vlan: number, udp: boolean, ip: number, port: number): EndpointRec | undefined {
    return this.ep4.get(vlan)?.get(serviceKey4(ip, udp, port));
  }

  /** Inserts (or replaces) an endpoint record under `key` (its endpointKey):
   *  every insertion goes through here so that the numeric index agrees. */
  setEndpoint(key: string, ep: EndpointRec, w: number | null = ipv4Word(ep.ip)): void {
    this.endpoints.set(key, ep);
    if (w === null) return;
    let m = this.ep4.get(ep.vlan);
    if (m === undefined) this.ep4.set(ep.vlan, (m = new Map()));
    m.set(serviceKey4(w, ep.proto === 'udp', ep.port), ep);
  }

  /** Records a learned talker pair (see talkerPairs); `c`, `s`: the
   *  addresses' ipv4Word when the caller has it. */
  addTalkerPair(
    client: string,
    proto: 'tcp' | 'udp',
    server: string,
    port: number,
    c: number | null = ipv4Word(client),
    s: number | null = ipv4Word(server),
  ): void {
    if (c === null || s === null) {
      this.talkerPairs.add(talkerPair(client, proto, server, port));
      return;
    }
    const k = serviceKey4(s, proto === 'udp', port);
    const v = this.pairs4.get(k);
    if (v === undefined) this.pairs4.set(k, c);
    else if (typeof v === 'number') {
      if (v !== c) this.pairs4.set(k, new Set([v, c]));
    } else v.add(c);
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
      this.setEndpoint(key, ep);
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
      this.addTalkerPair(ip, ep.proto, ep.ip, ep.port);
    } else if (t.fact !== null) {
      t.fact = null;
      t.first = ts;
      this.addTalkerPair(ip, ep.proto, ep.ip, ep.port);
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
    const c = ipv4Word(client);
    const s = c === null ? null : ipv4Word(server);
    if (c === null || s === null) return this.talkerPairs.size !== 0 && this.talkerPairs.has(talkerPair(client, proto, server, port));
    return (proto === 'tcp' || proto === 'udp') && this.isTalker4(c, proto === 'udp', s, port);
  }

  /** The same for IPv4 addresses given as words. */
  isTalker4(client: number, udp: boolean, server: number, port: number): boolean {
    const v = this.pairs4.get(serviceKey4(server, udp, port));
    if (v === undefined) return false;
    return typeof v === 'number' ? v === (client | 0) : v.has(client | 0);
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
            app: r.app,
            fc: r.fc,
            class: FUNCTION_CLASSES[r.cls],
            ...(name === undefined ? {} : { name }),
            first_seen: r.first,
            last_seen: r.last,
            flows: r.count,
          };
        });
      talkers.push({ ip: t.ip, first_seen: t.first, last_seen: t.last, flows: t.flows, functions });
    }
    const apps = ep.learnedApps().sort((x, y) => APP_FACTS.indexOf(x) - APP_FACTS.indexOf(y));
    endpoints.push({
      vlan: ep.vlan < 0 ? null : ep.vlan,
      ip: ep.ip,
      proto: ep.proto,
      port: ep.port,
      apps,
      first_seen: ep.first,
      last_seen: ep.last,
      flows: ep.flows,
      talkers,
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

/** Where a check is in the document; its text is built only for an error
 *  ("endpoints[3].talkers[0].functions[2].fc"). */
class DocPath {
  list = '';
  i = -1;
  j = -1;
  k = -1;
  constructor(readonly where: string) {}

  text(field: string): string {
    let s = this.list;
    if (this.i >= 0) s += `[${this.i}]`;
    if (this.j >= 0) s += `.talkers[${this.j}]`;
    if (this.k >= 0) s += `.functions[${this.k}]`;
    return s === '' ? field : field === '' ? s : `${s}.${field}`;
  }

  bad(field: string, what: string): never {
    const t = this.text(field);
    throw new BaselineError(`baseline ${this.where} is corrupt: ${t === '' ? what : `${t} ${what}`}`);
  }
}

function num(p: DocPath, v: unknown, field: string): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : p.bad(field, 'is not a number');
}

function int(p: DocPath, v: unknown, field: string, lo: number, hi: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : p.bad(field, `is not an integer in ${lo}..${hi}`);
}

function str(p: DocPath, v: unknown, field: string): string {
  return typeof v === 'string' && v.length <= 64 ? v : p.bad(field, 'is not an address');
}

function arr(p: DocPath, v: unknown, field: string, cap: number): unknown[] {
  if (!Array.isArray(v)) p.bad(field, 'is not a list');
  if (v.length > cap) p.bad(field, `has more than ${cap} entries`);
  return v;
}

/** The entry the path points at (field ''). */
function obj(p: DocPath, v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : p.bad('', 'is not a map');
}

function seenList(p: DocPath, v: unknown, list: string, m: Map<string, SeenRec>, cap: number): void {
  p.list = '';
  p.i = -1;
  const a = arr(p, v, list, cap);
  p.list = list;
  for (let i = 0; i < a.length; i++) {
    p.i = i;
    const s = obj(p, a[i]);
    const ip = str(p, s.ip, 'ip');
    m.set(ip, { ip, first: num(p, s.first_seen, 'first_seen'), last: num(p, s.last_seen, 'last_seen') });
  }
}

/** A protocol name this build has no module for: a file from a build with
 *  more protocols (or a damaged one). Says so with the file's version. */
function unknownApp(p: DocPath, field: string, app: unknown, version: number): never {
  if (typeof app !== 'string' || app.length > 64) return p.bad(field, 'is not a protocol name');
  throw new BaselineError(
    `baseline ${p.where} (format version ${version}) names protocol ${JSON.stringify(app)} at ${p.text(field)}, ` +
      `which this otwatch does not know (it knows ${APP_NAMES.join(', ')}): it was written by an otwatch with that protocol; ` +
      'use that one or learn the baseline again',
  );
}

/** Validates a decoded document and builds the in-memory baseline. `where`
 *  names the file in error messages. */
export function fromPlain(doc: unknown, where: string): Baseline {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new BaselineError(`${where} is not an otwatch baseline (no header)`);
  }
  const d = doc as Record<string, unknown>;
  if (d.format !== BASELINE_FORMAT) throw new BaselineError(`${where} is not an otwatch baseline (format is ${JSON.stringify(d.format)})`);
  const p = new DocPath(where);
  if (typeof d.version !== 'number' || !Number.isInteger(d.version) || d.version < 1) p.bad('', 'bad format version');
  if ((d.version as number) > BASELINE_VERSION) {
    throw new BaselineError(
      `baseline ${where} has format version ${d.version}, newer than this otwatch reads (${BASELINE_VERSION}): upgrade otwatch or learn the baseline again`,
    );
  }

  const b = new Baseline();
  b.created = num(p, d.created, 'created');
  b.firstTs = num(p, d.first_ts, 'first_ts');
  b.lastTs = num(p, d.last_ts, 'last_ts');
  const eps = arr(p, d.endpoints, 'endpoints', LIMITS.endpoints);
  p.list = 'endpoints';
  for (let i = 0; i < eps.length; i++) {
    p.i = i;
    p.j = -1;
    p.k = -1;
    const e = obj(p, eps[i]);
    const vlan = e.vlan === null ? -1 : int(p, e.vlan, 'vlan', 0, 4095);
    const proto = e.proto === 'tcp' || e.proto === 'udp' ? e.proto : p.bad('proto', 'is not tcp or udp');
    const ep = new EndpointRec(
      vlan,
      str(p, e.ip, 'ip'),
      proto,
      int(p, e.port, 'port', 0, 65535),
      num(p, e.first_seen, 'first_seen'),
      num(p, e.last_seen, 'last_seen'),
      null,
    );
    ep.flows = int(p, e.flows, 'flows', 0, Number.MAX_SAFE_INTEGER);
    for (const a of arr(p, e.apps, 'apps', APP_FACTS.length)) {
      if (!(APP_FACTS as readonly unknown[]).includes(a)) unknownApp(p, 'apps', a, d.version as number);
      b.learnApp(ep, a as AppFact);
    }
    const epWord = ipv4Word(ep.ip);
    const ts = arr(p, e.talkers, 'talkers', LIMITS.talkersPerEndpoint);
    for (let j = 0; j < ts.length; j++) {
      p.j = j;
      p.k = -1;
      const t = obj(p, ts[j]);
      const tr = new TalkerRec(str(p, t.ip, 'ip'), num(p, t.first_seen, 'first_seen'), num(p, t.last_seen, 'last_seen'), null);
      tr.flows = int(p, t.flows, 'flows', 0, Number.MAX_SAFE_INTEGER);
      const fs = arr(p, t.functions, 'functions', LIMITS.functionsPerTalker);
      for (let k = 0; k < fs.length; k++) {
        p.k = k;
        const f = obj(p, fs[k]);
        const app = (APP_NAMES as readonly unknown[]).includes(f.app)
          ? (f.app as AppName)
          : unknownApp(p, 'app', f.app, d.version as number);
        const cls = FUNCTION_CLASSES.indexOf(f.class as FunctionClass);
        if (cls < 0) p.bad('class', 'is not a function class');
        const fc = int(p, f.fc, 'fc', 0, 0xffffffff);
        const r = new FunctionRec(app, fc, cls, num(p, f.first_seen, 'first_seen'), num(p, f.last_seen, 'last_seen'), null);
        r.count = int(p, f.flows, 'flows', 0, Number.MAX_SAFE_INTEGER);
        tr.fns.set(fnKey(app, fc, cls), r);
      }
      ep.talkers.set(tr.ip, tr);
      b.addTalkerPair(tr.ip, ep.proto, ep.ip, ep.port, ipv4Word(tr.ip), epWord);
    }
    b.setEndpoint(ep.key, ep, epWord);
  }
  p.j = -1;
  p.k = -1;
  seenList(p, d.hosts, 'hosts', b.hosts, LIMITS.hosts);
  seenList(p, d.scanners, 'scanners', b.scanners, LIMITS.scanners);
  return b;
}

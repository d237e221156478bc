// Fast path for loading a baseline file exactly as saveBaseline writes it:
// reads the msgpack bytes straight into the records, without the generic
// decoder's intermediate document (half of the load time, and garbage), and
// gives each IPv4 address one string.
//
// It accepts only the writer's own layout (keys in toPlain's order, the
// number and string forms the encoder produces, ASCII text) holding values
// that fromPlain accepts, and then builds what fromPlain would build, in the
// same order. Anything else, valid or not, returns null: the caller then
// runs the general path (decode + fromPlain), which gives the same baseline
// or the precise error.
import type { AppName } from '../dissectors/types.js';
import { ipv4Text } from '../output/ip-text.js';
import {
  APP_FACTS,
  APP_NAMES,
  Baseline,
  BASELINE_FORMAT,
  BASELINE_VERSION,
  EndpointRec,
  endpointKey,
  fnKey,
  FunctionRec,
  LIMITS,
  TalkerRec,
  type AppFact,
  type SeenRec,
} from './baseline.js';
import { FUNCTION_CLASSES } from './function-class.js';

/** Not the expected layout: leave it to the general path. */
class Unexpected extends Error {}
const UNEXPECTED = new Unexpected('not the writer layout');

/** The general decoder's bounds (baseline-file.ts): longer is not accepted. */
const MAX_STR = 1 << 16;
const MAX_ARRAY = 1 << 22;
const MAX_MAP = 64;

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const K = {
  format: ascii('format'),
  version: ascii('version'),
  created: ascii('created'),
  first_ts: ascii('first_ts'),
  last_ts: ascii('last_ts'),
  endpoints: ascii('endpoints'),
  hosts: ascii('hosts'),
  scanners: ascii('scanners'),
  vlan: ascii('vlan'),
  ip: ascii('ip'),
  proto: ascii('proto'),
  port: ascii('port'),
  apps: ascii('apps'),
  first_seen: ascii('first_seen'),
  last_seen: ascii('last_seen'),
  flows: ascii('flows'),
  talkers: ascii('talkers'),
  functions: ascii('functions'),
  app: ascii('app'),
  fc: ascii('fc'),
  class: ascii('class'),
  name: ascii('name'),
};

const PROTOS = ['tcp', 'udp'] as const;
const PROTO_BYTES = PROTOS.map(ascii);
const APP_FACT_BYTES = APP_FACTS.map(ascii);
const APP_NAME_BYTES = APP_NAMES.map(ascii);
const CLASS_BYTES = FUNCTION_CLASSES.map(ascii);
const FORMAT_BYTES = ascii(BASELINE_FORMAT);

class Reader {
  pos = 0;
  private readonly dv: DataView;
  private readonly text: Buffer;
  /** One string per IPv4 address word. */
  private readonly v4 = new Map<number, string>();
  /** ipv4Word of the last address read, or null. */
  word: number | null = null;

  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get atEnd(): boolean {
    return this.pos === this.buf.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw UNEXPECTED;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw UNEXPECTED;
    return this.buf[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  mapLen(): number {
    const b = this.byte();
    const n = (b & 0xf0) === 0x80 ? b & 0x0f : b === 0xde ? this.u16() : b === 0xdf ? this.u32() : -1;
    if (n < 0 || n > MAX_MAP) throw UNEXPECTED;
    return n;
  }

  arrayLen(cap: number): number {
    const b = this.byte();
    const n = (b & 0xf0) === 0x90 ? b & 0x0f : b === 0xdc ? this.u16() : b === 0xdd ? this.u32() : -1;
    if (n < 0 || n > MAX_ARRAY || n > cap) throw UNEXPECTED;
    return n;
  }

  /** Start of a string's bytes; `this.pos` is moved past them. */
  private strSpan(): number {
    const b = this.byte();
    const n = (b & 0xe0) === 0xa0 ? b & 0x1f : b === 0xd9 ? this.byte() : b === 0xda ? this.u16() : b === 0xdb ? this.u32() : -1;
    if (n < 0 || n > MAX_STR) throw UNEXPECTED;
    this.need(n);
    const start = this.pos;
    this.pos += n;
    return start;
  }

  private same(start: number, want: Uint8Array): boolean {
    if (this.pos - start !== want.length) return false;
    const buf = this.buf;
    for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
    return true;
  }

  key(want: Uint8Array): void {
    const start = this.strSpan();
    if (!this.same(start, want)) throw UNEXPECTED;
  }

  /** Index of the string read in `list`. */
  oneOf(list: readonly Uint8Array[]): number {
    const start = this.strSpan();
    for (let i = 0; i < list.length; i++) if (this.same(start, list[i])) return i;
    throw UNEXPECTED;
  }

  /** An ASCII string whose bytes are not kept (a function's name). */
  skipStr(): void {
    const start = this.strSpan();
    const buf = this.buf;
    for (let i = start; i < this.pos; i++) if (buf[i] > 0x7f) throw UNEXPECTED;
  }

  /** An address: an ASCII string of at most 64 characters; sets `word`. */
  addr(): string {
    const start = this.strSpan();
    const end = this.pos;
    if (end - start > 64) throw UNEXPECTED;
    const buf = this.buf;
    // ipv4Word on the bytes: canonical dotted quad only.
    let w = 0;
    let part = 0;
    let digits = 0;
    let dots = 0;
    let v4 = end - start >= 7 && end - start <= 15;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c > 0x7f) throw UNEXPECTED;
      if (!v4) continue;
      if (c === 46) {
        if (digits === 0 || dots === 3) v4 = false;
        w = (w << 8) | part;
        part = 0;
        digits = 0;
        dots++;
      } else if (c < 48 || c > 57 || (digits > 0 && part === 0)) {
        v4 = false;
      } else {
        part = part * 10 + (c - 48);
        if (part > 255) v4 = false;
        digits++;
      }
    }
    if (v4 && dots === 3 && digits > 0) {
      w = (w << 8) | part;
      this.word = w;
      let s = this.v4.get(w);
      if (s === undefined) this.v4.set(w, (s = ipv4Text(w)));
      return s;
    }
    this.word = null;
    return this.text.toString('latin1', start, end);
  }

  isNil(): boolean {
    if (this.pos < this.buf.length && this.buf[this.pos] === 0xc0) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Any number form the encoder writes (64-bit integers excepted). */
  num(): number {
    const b = this.byte();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    let v: number;
    switch (b) {
      case 0xcb:
        this.need(8);
        v = this.dv.getFloat64(this.pos);
        this.pos += 8;
        return v;
      case 0xca:
        this.need(4);
        v = this.dv.getFloat32(this.pos);
        this.pos += 4;
        return v;
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xd0:
        this.need(1);
        return this.dv.getInt8(this.pos++);
      case 0xd1:
        this.need(2);
        v = this.dv.getInt16(this.pos);
        this.pos += 2;
        return v;
      case 0xd2:
        this.need(4);
        v = this.dv.getInt32(this.pos);
        this.pos += 4;
        return v;
      default:
        throw UNEXPECTED;
    }
  }

  /** A finite number (fromPlain's num). */
  finite(): number {
    const v = this.num();
    if (!Number.isFinite(v)) throw UNEXPECTED;
    return v;
  }

  /** An integer in lo..hi (fromPlain's int). */
  int(lo: number, hi: number): number {
    const v = this.num();
    if (!Number.isInteger(v) || v < lo || v > hi) throw UNEXPECTED;
    return v;
  }
}

function readSeen(r: Reader, m: Map<string, SeenRec>, cap: number): void {
  const n = r.arrayLen(cap);
  for (let i = 0; i < n; i++) {
    if (r.mapLen() !== 3) throw UNEXPECTED;
    r.key(K.ip);
    const ip = r.addr();
    r.key(K.first_seen);
    const first = r.finite();
    r.key(K.last_seen);
    const last = r.finite();
    m.set(ip, { ip, first, last });
  }
}

function readTalker(r: Reader, ep: EndpointRec, epWord: number | null, b: Baseline): void {
  if (r.mapLen() !== 5) throw UNEXPECTED;
  r.key(K.ip);
  const ip = r.addr();
  const word = r.word;
  r.key(K.first_seen);
  const first = r.finite();
  r.key(K.last_seen);
  const last = r.finite();
  r.key(K.flows);
  const tr = new TalkerRec(ip, first, last, null);
  tr.flows = r.int(0, Number.MAX_SAFE_INTEGER);
  r.key(K.functions);
  const n = r.arrayLen(LIMITS.functionsPerTalker);
  for (let k = 0; k < n; k++) {
    const len = r.mapLen();
    if (len !== 6 && len !== 7) throw UNEXPECTED;
    r.key(K.app);
    const app: AppName = APP_NAMES[r.oneOf(APP_NAME_BYTES)];
    r.key(K.fc);
    const fc = r.int(0, 0xffffffff);
    r.key(K.class);
    const cls = r.oneOf(CLASS_BYTES);
    if (len === 7) {
      r.key(K.name);
      r.skipStr();
    }
    r.key(K.first_seen);
    const f = r.finite();
    r.key(K.last_seen);
    const l = r.finite();
    r.key(K.flows);
    const rec = new FunctionRec(app, fc, cls, f, l, null);
    rec.count = r.int(0, Number.MAX_SAFE_INTEGER);
    tr.fns.set(fnKey(app, fc, cls), rec);
  }
  ep.talkers.set(tr.ip, tr);
  b.addTalkerPair(tr.ip, ep.proto, ep.ip, ep.port, word, epWord);
}

function readEndpoint(r: Reader, b: Baseline, apps: AppFact[]): void {
  if (r.mapLen() !== 9) throw UNEXPECTED;
  r.key(K.vlan);
  const vlan = r.isNil() ? -1 : r.int(0, 4095);
  r.key(K.ip);
  const ip = r.addr();
  const epWord = r.word;
  r.key(K.proto);
  const proto = PROTOS[r.oneOf(PROTO_BYTES)];
  r.key(K.port);
  const port = r.int(0, 65535);
  r.key(K.apps);
  const na = r.arrayLen(APP_FACTS.length);
  apps.length = 0;
  for (let a = 0; a < na; a++) apps.push(APP_FACTS[r.oneOf(APP_FACT_BYTES)]);
  r.key(K.first_seen);
  const first = r.finite();
  r.key(K.last_seen);
  const last = r.finite();
  r.key(K.flows);
  const ep = new EndpointRec(vlan, ip, proto, port, first, last, null);
  ep.flows = r.int(0, Number.MAX_SAFE_INTEGER);
  for (const a of apps) b.learnApp(ep, a);
  r.key(K.talkers);
  const nt = r.arrayLen(LIMITS.talkersPerEndpoint);
  for (let j = 0; j < nt; j++) readTalker(r, ep, epWord, b);
  b.setEndpoint(endpointKey(vlan, proto, ip, port), ep, epWord);
}

/** The baseline in `bytes` if they are in the writer's layout and valid;
 *  null otherwise (use decode + fromPlain). */
export function readBaselineFast(bytes: Uint8Array): Baseline | null {
  const r = new Reader(bytes);
  try {
    if (r.mapLen() !== 8) return null;
    r.key(K.format);
    if (r.oneOf([FORMAT_BYTES]) !== 0) return null;
    r.key(K.version);
    const version = r.num();
    if (!Number.isInteger(version) || version < 1 || version > BASELINE_VERSION) return null;
    const b = new Baseline();
    r.key(K.created);
    b.created = r.finite();
    r.key(K.first_ts);
    b.firstTs = r.finite();
    r.key(K.last_ts);
    b.lastTs = r.finite();
    r.key(K.endpoints);
    const ne = r.arrayLen(LIMITS.endpoints);
    const apps: AppFact[] = [];
    for (let i = 0; i < ne; i++) readEndpoint(r, b, apps);
    r.key(K.hosts);
    readSeen(r, b.hosts, LIMITS.hosts);
    r.key(K.scanners);
    readSeen(r, b.scanners, LIMITS.scanners);
    return r.atEnd ? b : null;
  } catch (e) {
    if (e instanceof Unexpected || e instanceof RangeError) return null;
    throw e;
  }
}

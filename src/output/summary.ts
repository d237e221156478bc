// The human summary of a run: totals, top talkers and services, errors.
// Aggregated per flow as it ends, so keys are numbers where they can be (an
// IPv4 address; address, transport, port and app packed into 53 bits):
// building text per flow cost more than the rest of the flow's record.
import { APP_NAMES } from '../dissectors/index.js';
import type { Flow } from '../flows/flow.js';
import { clientIp, serverIp, serverPort } from './flow-record.js';
import { ipv4Text } from './ip-text.js';

/** Distinct keys kept per table; beyond it new keys count as "(other)". */
const MAX_KEYS = 100_000;
/** Index 0: no protocol; then the registry's. Packed in 4 bits of a service
 *  key (2^32 addresses * 2 transports * 2^16 ports * 16 < 2^53): 15 protocols
 *  fit; beyond, a service keeps its text key (see addFlow). */
const APPS = ['', ...APP_NAMES];
const APP_SLOTS = 16;

interface Entry {
  flows: number;
  bytes: number;
}

/** Counters per key. Numeric keys (IPv4 addresses, packed services) live in
 *  an open-addressing table in one Float64Array, [key, flows, bytes] per slot
 *  (key -1: empty): a Map keyed by numbers above 2^31 boxes and hashes a heap
 *  number per lookup, its entry objects were a large part of the garbage of
 *  flow-heavy traffic, and one slot is one cache line where four parallel
 *  arrays were four misses for every flow that ended. */
export class TopTable {
  private slots = new Float64Array(3 * 1024).fill(-1);
  private cap = 1024;
  private nums = 0;
  private readonly strs = new Map<string, Entry>();
  other = 0;

  get size(): number {
    return this.nums + this.strs.size;
  }

  add(key: number | string, bytes: number): void {
    if (typeof key === 'string') {
      let e = this.strs.get(key);
      if (e === undefined) {
        if (this.size >= MAX_KEYS) {
          this.other++;
          return;
        }
        e = { flows: 0, bytes: 0 };
        this.strs.set(key, e);
      }
      e.flows++;
      e.bytes += bytes;
      return;
    }
    const i = this.slot(key, true);
    if (i < 0) {
      this.other++;
      return;
    }
    this.slots[i + 1]++;
    this.slots[i + 2] += bytes;
  }

  /** Adds counts from elsewhere (another worker's table), past the key cap. */
  merge(key: number | string, flows: number, bytes: number): void {
    if (typeof key === 'string') {
      const e = this.strs.get(key);
      if (e === undefined) this.strs.set(key, { flows, bytes });
      else {
        e.flows += flows;
        e.bytes += bytes;
      }
      return;
    }
    const i = this.slot(key, false);
    this.slots[i + 1] += flows;
    this.slots[i + 2] += bytes;
  }

  entries(): [number | string, Entry][] {
    const out: [number | string, Entry][] = [];
    const s = this.slots;
    for (let i = 0; i < s.length; i += 3) if (s[i] >= 0) out.push([s[i], { flows: s[i + 1], bytes: s[i + 2] }]);
    for (const [k, e] of this.strs) out.push([k, { flows: e.flows, bytes: e.bytes }]);
    return out;
  }

  /** The index of a numeric key's slot (key >= 0), claimed if new (-1: new
   *  and `capped` at MAX_KEYS). */
  private slot(key: number, capped: boolean): number {
    let mask = this.cap - 1;
    // Keys are integers below 2^53: mix the two halves.
    let h = Math.imul((key | 0) ^ Math.imul((key / 4294967296) | 0, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    let s = this.slots;
    let i = h & mask;
    for (;;) {
      const k = s[i * 3];
      if (k === key) return i * 3;
      if (k < 0) break;
      i = (i + 1) & mask;
    }
    if (capped && this.size >= MAX_KEYS) return -1;
    if ((this.nums + 1) * 2 > this.cap) {
      this.grow();
      s = this.slots;
      mask = this.cap - 1;
      i = h & mask;
      while (s[i * 3] >= 0) i = (i + 1) & mask;
    }
    const j = i * 3;
    s[j] = key;
    s[j + 1] = 0;
    s[j + 2] = 0;
    this.nums++;
    return j;
  }

  private grow(): void {
    const old = this.slots;
    this.cap *= 2;
    this.slots = new Float64Array(3 * this.cap).fill(-1);
    this.nums = 0;
    for (let i = 0; i < old.length; i += 3) {
      if (old[i] < 0) continue;
      const j = this.slot(old[i], false);
      this.slots[j + 1] = old[i + 1];
      this.slots[j + 2] = old[i + 2];
    }
  }

  /** The n largest entries by `by` (ties: key text ascending), as text.
   *  A selection over the slots, not a sort of all entries: a capture with
   *  tens of thousands of hosts spent ~0.1 s sorting them for ten lines. */
  top(n: number, by: 'flows' | 'bytes', text: (k: number | string) => string): [string, Entry][] {
    if (n <= 0) return [];
    const best: [number | string, Entry][] = [];
    // Before `e` in the order: larger value, or equal value and smaller key text.
    const before = (k: number | string, v: number, e: [number | string, Entry]) => {
      const w = e[1][by];
      return v > w || (v === w && String(k) < String(e[0]));
    };
    const offer = (k: number | string, flows: number, bytes: number) => {
      const v = by === 'flows' ? flows : bytes;
      if (best.length === n && !before(k, v, best[n - 1])) return;
      let i = best.length === n ? n - 1 : best.length;
      while (i > 0 && before(k, v, best[i - 1])) i--;
      if (best.length === n) best.pop();
      best.splice(i, 0, [k, { flows, bytes }]);
    };
    const s = this.slots;
    const at = by === 'flows' ? 1 : 2;
    for (let i = 0; i < s.length; i += 3) {
      if (s[i] < 0) continue;
      // Cheap reject on the value alone before any key text is made.
      if (best.length === n && s[i + at] < best[n - 1][1][by]) continue;
      offer(s[i], s[i + 1], s[i + 2]);
    }
    for (const [k, e] of this.strs) offer(k, e.flows, e.bytes);
    return best.map(([k, e]) => [text(k), e]);
  }
}

function serviceText(k: number | string): string {
  if (typeof k === 'string') return k;
  const app = APPS[k % APP_SLOTS];
  let r = Math.floor(k / APP_SLOTS);
  const port = r % 65536;
  r = Math.floor(r / 65536);
  const tcp = r % 2 === 1;
  const ip = Math.floor(r / 2);
  return `${ipv4Text(ip)} ${tcp ? 'tcp' : 'udp'}/${port}${app ? ` (${app})` : ''}`;
}

function talkerText(k: number | string): string {
  return typeof k === 'string' ? k : ipv4Text(k);
}

export class Summary {
  readonly talkers = new TopTable();
  readonly services = new TopTable();
  readonly apps = new Map<string, number>();
  /** TCP connection attempts answered by a reset: not services. */
  refused = 0;
  /** Flows the server never sent a packet on: not services either. */
  unanswered = 0;

  addFlow(f: Flow): void {
    const bytes = f.bytesC2S + f.bytesS2C;
    let answered = true;
    if (f.pktsS2C === 0) {
      this.unanswered++;
      answered = false;
    } else if (f.isTcp && f.stateName() === 'rejected') {
      this.refused++;
      answered = false;
    }
    const app = f.app?.app ?? null;
    const appIdx = app === null ? 0 : APPS.indexOf(app);
    if (f.ipVersion === 4) {
      const cip = f.clientIsA ? f.a0 : f.b0;
      const sip = f.clientIsA ? f.b0 : f.a0;
      this.talkers.add(cip >>> 0, bytes);
      if (answered) {
        if (appIdx < APP_SLOTS) {
          this.services.add((((sip >>> 0) * 2 + (f.proto === 6 ? 1 : 0)) * 65536 + serverPort(f)) * APP_SLOTS + appIdx, bytes);
        } else {
          this.services.add(`${serverIp(f)} ${f.proto === 6 ? 'tcp' : 'udp'}/${serverPort(f)} (${app})`, bytes);
        }
      }
    } else {
      this.talkers.add(clientIp(f), bytes);
      if (answered) this.services.add(`${serverIp(f)} ${f.proto === 6 ? 'tcp' : 'udp'}/${serverPort(f)}${app ? ` (${app})` : ''}`, bytes);
    }
    const k = app ?? '(none)';
    this.apps.set(k, (this.apps.get(k) ?? 0) + 1);
  }

  topTalkers(n: number): [string, Entry][] {
    return this.talkers.top(n, 'bytes', talkerText);
  }

  topServices(n: number): [string, Entry][] {
    return this.services.top(n, 'flows', serviceText);
  }
}

export function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

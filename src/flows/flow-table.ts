// Bounded bidirectional flow table.
//
// Lookup: a 32-bit hash of the canonical tuple picks a bucket in a
// power-of-two array; collisions chain on the flow and are resolved by
// comparing the tuple. No string is built per packet.
//
// Expiry: flows sit in one of three intrusive lists ordered by last activity
// (TCP, other, closed-and-lingering), each with its own timeout, so a sweep
// only looks at list heads. A fourth list orders flows by the start of their
// active-timeout interval. Eviction when full takes the least recently active
// head. lru-cache was measured for this (see NOTES.md): its TTL modes cost far
// more per packet than these O(1) pointer moves.
import { u32be } from '../capture/bytes.js';
import { type Packet, PROTO_TCP } from '../decode/packet.js';
import { Flow, type EndReason } from './flow.js';
import { fmix, mix } from './murmur3.js';

export interface FlowTableOptions {
  maxFlows: number;
  /** Seconds. */
  tcpIdle: number;
  udpIdle: number;
  activeTimeout: number;
  /** How long a closed (FIN/RST) flow stays to absorb the last ACKs. */
  closeLinger: number;
}

export const DEFAULT_FLOW_OPTIONS: FlowTableOptions = {
  maxFlows: 500_000,
  tcpIdle: 300,
  udpIdle: 60,
  activeTimeout: 300,
  closeLinger: 2,
};

const LIST_TCP = 0;
const LIST_OTHER = 1;
const LIST_CLOSED = 2;

class FlowList {
  head: Flow | null = null;
  tail: Flow | null = null;
  constructor(readonly id: number) {}
}

/** The bucket hash of a flow key. Not stored on the flow (8 bytes a flow):
 *  removal and growth compute it again from the flow's own fields. */
function tupleHash(
  kind: number,
  vl: number,
  a0: number,
  b0: number,
  ports: number,
  v6: boolean,
  a1: number,
  a2: number,
  a3: number,
  b1: number,
  b2: number,
  b3: number,
): number {
  let h = mix(kind, vl);
  h = mix(h, a0);
  h = mix(h, b0);
  if (v6) {
    h = mix(h, a1);
    h = mix(h, a2);
    h = mix(h, a3);
    h = mix(h, b1);
    h = mix(h, b2);
    h = mix(h, b3);
  }
  return fmix(mix(h, ports));
}

function hashOf(f: Flow): number {
  const w = f.w6;
  if (f.ipVersion !== 6 || w === null) return tupleHash(f.kind, f.vl, f.a0, f.b0, f.ports, false, 0, 0, 0, 0, 0, 0);
  return tupleHash(f.kind, f.vl, f.a0, f.b0, f.ports, true, w[0], w[1], w[2], w[3], w[4], w[5]);
}

/** The end handler gets the flow's final state; once it returns the table
 *  may reuse the object for a new flow, so nothing may keep it. */
export type FlowEndHandler = (flow: Flow, reason: EndReason, now: number) => void;

/** Ended flows kept for reuse. Bounded so a burst (a scan) does not pin its
 *  peak in memory once it is over. */
const MAX_POOLED = 65_536;

export class FlowTable {
  /** Hash buckets (power of two), chains through Flow.chain. An array
   *  indexed by the hash's low bits beats a Map here: no key hashing or
   *  boxing, one load. Grows with the table, up to maxFlows buckets. */
  private buckets: (Flow | null)[] = new Array<Flow | null>(1024).fill(null);
  private mask = 1023;
  private readonly lists = [new FlowList(LIST_TCP), new FlowList(LIST_OTHER), new FlowList(LIST_CLOSED)];
  private readonly timeouts: number[];
  private ahead: Flow | null = null;
  private atail: Flow | null = null;
  private readonly pool: Flow[] = [];
  size = 0;
  created = 0;
  evicted = 0;

  // Scratch for the packet being looked up: canonical words and orientation.
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private d0 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  /** Capture time of the packet being looked up (set by the engine; a
   *  field rather than an argument, see Engine.flowPacket). */
  now = 0;
  /** After get(): true when the packet's source is endpoint A. */
  srcIsA = true;

  constructor(
    readonly opts: FlowTableOptions,
    private readonly onEnd: FlowEndHandler,
  ) {
    this.timeouts = [opts.tcpIdle, opts.udpIdle, opts.closeLinger];
  }

  /** The flow of a TCP/UDP packet, created if new. `created` tells which. */
  get(p: Packet): Flow {
    const now = this.now;
    const b = p.buf;
    const sp = p.sport;
    const dp = p.dport;
    if (p.ipVersion === 4) {
      this.s0 = u32be(b, p.srcOff);
      this.s1 = 0;
      this.s2 = 0;
      this.s3 = 0;
      this.d0 = u32be(b, p.dstOff);
      this.d1 = 0;
      this.d2 = 0;
      this.d3 = 0;
      // (the words stay on `this` so the comparison below is shared with IPv6)
    } else {
      const s = p.srcOff;
      const d = p.dstOff;
      this.s0 = u32be(b, s);
      this.s1 = u32be(b, s + 4);
      this.s2 = u32be(b, s + 8);
      this.s3 = u32be(b, s + 12);
      this.d0 = u32be(b, d);
      this.d1 = u32be(b, d + 4);
      this.d2 = u32be(b, d + 8);
      this.d3 = u32be(b, d + 12);
    }
    // Canonical order: A = lower (address words, then port).
    let srcIsA: boolean;
    if (this.s0 !== this.d0) srcIsA = this.s0 < this.d0;
    else if (this.s1 !== this.d1) srcIsA = this.s1 < this.d1;
    else if (this.s2 !== this.d2) srcIsA = this.s2 < this.d2;
    else if (this.s3 !== this.d3) srcIsA = this.s3 < this.d3;
    else srcIsA = sp <= dp;
    this.srcIsA = srcIsA;
    // Flows keep the words as int32: an unsigned word above 2^31 is a double,
    // and V8 boxes double fields (16 bytes each, per flow, for every word).
    let a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, ap: number, bp: number;
    if (srcIsA) {
      a0 = this.s0 | 0;
      a1 = this.s1 | 0;
      a2 = this.s2 | 0;
      a3 = this.s3 | 0;
      ap = sp;
      b0 = this.d0 | 0;
      b1 = this.d1 | 0;
      b2 = this.d2 | 0;
      b3 = this.d3 | 0;
      bp = dp;
    } else {
      a0 = this.d0 | 0;
      a1 = this.d1 | 0;
      a2 = this.d2 | 0;
      a3 = this.d3 | 0;
      ap = dp;
      b0 = this.s0 | 0;
      b1 = this.s1 | 0;
      b2 = this.s2 | 0;
      b3 = this.s3 | 0;
      bp = sp;
    }
    const kind = p.proto | (p.ipVersion << 8);
    const vl = (p.vlan + 1) | ((p.innerVlan + 1) << 13);
    const v6 = p.ipVersion === 6;
    const ports = (ap << 16) | bp;
    const key = tupleHash(kind, vl, a0, b0, ports, v6, a1, a2, a3, b1, b2, b3);
    for (let f = this.buckets[key & this.mask]; f !== null; f = f.chain) {
      if (f.a0 === a0 && f.b0 === b0 && f.ports === ports && f.kind === kind && f.vl === vl) {
        if (!v6) return f;
        const w = f.w6!;
        if (w[0] === a1 && w[1] === a2 && w[2] === a3 && w[3] === b1 && w[4] === b2 && w[5] === b3) return f;
      }
    }
    if (this.size >= this.opts.maxFlows) this.evictOldest(now);
    const f = this.pool.length > 0 ? this.pool.pop()! : new Flow();
    f.kind = kind;
    f.vl = vl;
    f.a0 = a0;
    f.b0 = b0;
    if (v6) f.setV6(a1, a2, a3, b1, b2, b3);
    f.ports = ports;
    f.firstTs = now;
    f.lastTs = now;
    f.reportTs = now;
    if (this.size >= this.buckets.length && this.buckets.length < this.opts.maxFlows) this.grow();
    const bi = key & this.mask;
    f.chain = this.buckets[bi];
    this.buckets[bi] = f;
    this.size++;
    this.created++;
    this.pushTail(this.lists[p.proto === PROTO_TCP ? LIST_TCP : LIST_OTHER], f);
    this.activePush(f);
    return f;
  }

  /** Marks activity: the flow moves to the tail of its list. */
  touch(f: Flow): void {
    const now = this.now;
    if (now > f.lastTs) f.lastTs = now;
    const list = this.lists[f.listId];
    if (list.tail !== f) {
      this.unlink(list, f);
      this.pushTail(list, f);
    }
  }

  /** A FIN/RST close: the record is emitted after a short linger. */
  close(f: Flow, reason: EndReason): void {
    f.closed = true;
    f.closeReason = reason;
    if (f.listId !== LIST_CLOSED) {
      this.unlink(this.lists[f.listId], f);
      this.pushTail(this.lists[LIST_CLOSED], f);
    }
  }

  /** Ends a flow now (e.g. a new SYN reuses a closed tuple). */
  end(f: Flow, reason: EndReason, now: number): void {
    this.remove(f);
    this.onEnd(f, reason, now);
    this.recycle(f);
  }

  private recycle(f: Flow): void {
    if (this.pool.length >= MAX_POOLED) return;
    f.reset();
    this.pool.push(f);
  }

  /** Expires idle and closed flows and emits active-timeout records. */
  sweep(now: number): void {
    for (let i = 0; i < 3; i++) {
      const list = this.lists[i];
      const limit = now - this.timeouts[i];
      let f = list.head;
      while (f !== null && f.lastTs <= limit) {
        const next = f.next;
        this.remove(f);
        this.onEnd(f, i === LIST_CLOSED ? f.closeReason : 'idle', now);
        this.recycle(f);
        f = next;
      }
    }
    const alimit = now - this.opts.activeTimeout;
    let f = this.ahead;
    while (f !== null && f.reportTs <= alimit) {
      const next = f.anext;
      if (f.closed) {
        f = next; // its final record comes soon
        continue;
      }
      this.onEnd(f, 'active', now);
      f.interimRecords++;
      f.reportTs = now;
      this.activeUnlink(f);
      this.activePush(f);
      f = next;
    }
  }

  /** Ends every flow (end of input or shutdown), oldest first. */
  flushAll(reason: EndReason, now: number): void {
    for (;;) {
      let oldest: Flow | null = null;
      for (const list of this.lists) {
        if (list.head !== null && (oldest === null || list.head.lastTs < oldest.lastTs)) oldest = list.head;
      }
      if (oldest === null) break;
      this.remove(oldest);
      this.onEnd(oldest, oldest.closed ? oldest.closeReason : reason, now);
      this.recycle(oldest);
    }
  }

  private evictOldest(now: number): void {
    // Closed flows go first; otherwise the least recently active.
    let victim = this.lists[LIST_CLOSED].head;
    if (victim === null) {
      const t = this.lists[LIST_TCP].head;
      const o = this.lists[LIST_OTHER].head;
      victim = t === null ? o : o === null ? t : t.lastTs <= o.lastTs ? t : o;
    }
    if (victim === null) return;
    this.remove(victim);
    this.evicted++;
    this.onEnd(victim, victim.closed ? victim.closeReason : 'evicted', now);
    this.recycle(victim);
  }

  private remove(f: Flow): void {
    this.unlink(this.lists[f.listId], f);
    this.activeUnlink(f);
    const bi = hashOf(f) & this.mask;
    const first = this.buckets[bi];
    if (first === f) {
      this.buckets[bi] = f.chain;
    } else {
      for (let g = first; g !== null; g = g.chain) {
        if (g.chain === f) {
          g.chain = f.chain;
          break;
        }
      }
    }
    f.chain = null;
    this.size--;
  }

  private grow(): void {
    const old = this.buckets;
    const size = old.length * 2;
    const b = new Array<Flow | null>(size).fill(null);
    const mask = size - 1;
    for (let i = 0; i < old.length; i++) {
      for (let f = old[i]; f !== null; ) {
        const next = f.chain;
        const bi = hashOf(f) & mask;
        f.chain = b[bi];
        b[bi] = f;
        f = next;
      }
    }
    this.buckets = b;
    this.mask = mask;
  }

  private pushTail(list: FlowList, f: Flow): void {
    f.listId = list.id;
    f.prev = list.tail;
    f.next = null;
    if (list.tail !== null) list.tail.next = f;
    else list.head = f;
    list.tail = f;
  }

  private unlink(list: FlowList, f: Flow): void {
    if (f.prev !== null) f.prev.next = f.next;
    else list.head = f.next;
    if (f.next !== null) f.next.prev = f.prev;
    else list.tail = f.prev;
    f.prev = null;
    f.next = null;
  }

  private activePush(f: Flow): void {
    f.aprev = this.atail;
    f.anext = null;
    if (this.atail !== null) this.atail.anext = f;
    else this.ahead = f;
    this.atail = f;
  }

  private activeUnlink(f: Flow): void {
    if (f.aprev !== null) f.aprev.anext = f.anext;
    else if (this.ahead === f) this.ahead = f.anext;
    else return; // not linked
    if (f.anext !== null) f.anext.aprev = f.aprev;
    else this.atail = f.aprev;
    f.aprev = null;
    f.anext = null;
  }
}

// A TCP conversation with automatic sequence/acknowledgement tracking, and a
// UDP exchange, both emitting time-stamped frames.
//
// Sequence model: each direction has `next`, the sequence number after the
// highest byte its sender has sent. The ACK field always acknowledges the
// peer's `next`: the network delivered everything, and a "lost" segment is one
// the capture missed (the usual case for a passive sensor).
import { Conversation, type ConversationOptions } from './capture.js';
import type { FrameSpec } from './frame.js';

export type Dir = 'c2s' | 's2c';

export interface TcpSessionOptions extends ConversationOptions {
  client: string;
  server: string;
  cport: number;
  sport: number;
  /** Initial sequence numbers [client, server]; default [1000, 5000]. Data without a handshake starts at isn+1. */
  isn?: [number, number];
  /** Receive windows [client, server]; default 64240 each. */
  window?: [number, number];
  /** TTL / hop limit [client, server]; default [64, 64]. */
  ttl?: [number, number];
  /** First IPv4 ids [client, server], incremented per packet; default [0x1000, 0x2000]. */
  ipId?: [number, number];
}

export interface SendOptions {
  flags?: string; // default 'PA' (or 'A' for an empty payload)
  /** Do not move `next` (a retransmission or an early out-of-order copy). */
  noAdvance?: boolean;
  /** Place the segment this many bytes after (or before, if negative) `next`. */
  seqOffset?: number;
}

export interface SegmentOptions {
  /** Piece indices in emission order; default natural order. */
  order?: number[];
  /** Piece indices the capture misses (never emitted, but acknowledged). */
  lose?: number[];
  /** Piece indices emitted twice in a row (a retransmission). */
  retransmit?: number[];
}

const MSS_1460 = Uint8Array.of(2, 4, 0x05, 0xb4);

function idx(d: Dir): 0 | 1 {
  return d === 'c2s' ? 0 : 1;
}

function other(d: Dir): Dir {
  return d === 'c2s' ? 's2c' : 'c2s';
}

interface LastSegment {
  seq: number;
  flags: string;
  payload: Uint8Array;
}

export class TcpSession extends Conversation {
  readonly client: string;
  readonly server: string;
  readonly cport: number;
  readonly sport: number;
  readonly isn: [number, number];
  private readonly next: [number, number];
  private readonly win: [number, number];
  private readonly ttl: [number, number];
  private readonly ipId: [number, number];
  private readonly last: [LastSegment | null, LastSegment | null] = [null, null];

  constructor(opts: TcpSessionOptions) {
    super(opts);
    this.client = opts.client;
    this.server = opts.server;
    this.cport = opts.cport;
    this.sport = opts.sport;
    this.isn = opts.isn ?? [1000, 5000];
    this.next = [(this.isn[0] + 1) >>> 0, (this.isn[1] + 1) >>> 0];
    this.win = opts.window ?? [64240, 64240];
    this.ttl = opts.ttl ?? [64, 64];
    this.ipId = opts.ipId ? [...opts.ipId] : [0x1000, 0x2000];
  }

  /** Next sequence number the sender in `dir` would use. */
  nextSeq(dir: Dir): number {
    return this.next[idx(dir)];
  }

  private segment(dir: Dir, seq: number, flags: string, payload: Uint8Array | undefined, options?: Uint8Array): void {
    const i = idx(dir);
    const c2s = dir === 'c2s';
    const spec: FrameSpec = {
      src: c2s ? this.client : this.server,
      dst: c2s ? this.server : this.client,
      sport: c2s ? this.cport : this.sport,
      dport: c2s ? this.sport : this.cport,
      proto: 'tcp',
      tcp: { seq: seq >>> 0, ack: this.next[1 - i], flags, window: this.win[i], options },
      payload,
      ttl: this.ttl[i],
      ipId: this.ipId[i],
    };
    this.ipId[i] = (this.ipId[i] + 1) & 0xffff;
    this.emit(spec, !c2s);
  }

  /** SYN, SYN-ACK, ACK (SYN and SYN-ACK carry an MSS option). */
  handshake(): this {
    this.segment('c2s', this.isn[0], 'S', undefined, MSS_1460);
    this.segment('s2c', this.isn[1], 'SA', undefined, MSS_1460);
    this.segment('c2s', this.next[0], 'A', undefined);
    return this;
  }

  /** One segment carrying `payload` at `next + seqOffset`. */
  send(dir: Dir, payload: Uint8Array, opts: SendOptions = {}): this {
    const i = idx(dir);
    const seq = (this.next[i] + (opts.seqOffset ?? 0)) >>> 0;
    const flags = opts.flags ?? (payload.length > 0 ? 'PA' : 'A');
    this.segment(dir, seq, flags, payload);
    if (payload.length > 0) this.last[i] = { seq, flags, payload };
    if (!opts.noAdvance) {
      const end = (seq + payload.length) >>> 0;
      // Only move forward (mod 2^32): an out-of-order earlier piece must not pull `next` back.
      if (((end - this.next[i]) | 0) > 0) this.next[i] = end;
    }
    return this;
  }

  /**
   * `payload` cut at the ascending offsets `cuts` into pieces (cuts [5, 10] on
   * 20 bytes: 0-5, 5-10, 10-20), emitted per `opts`; afterwards `next` is past
   * the whole payload. Non-final pieces carry 'A', the last piece 'PA'.
   */
  segments(dir: Dir, payload: Uint8Array, cuts: number[], opts: SegmentOptions = {}): this {
    const bounds = [0, ...cuts, payload.length];
    for (let k = 1; k < bounds.length; k++) {
      if (bounds[k]! <= bounds[k - 1]!) throw new Error(`cuts must ascend within (0, ${payload.length}): ${cuts}`);
    }
    const n = bounds.length - 1;
    const order = opts.order ?? [...Array(n).keys()];
    const base = this.next[idx(dir)];
    for (const p of order) {
      if (p < 0 || p >= n) throw new Error(`no piece ${p}`);
      if (opts.lose?.includes(p)) continue;
      const piece = payload.subarray(bounds[p]!, bounds[p + 1]!);
      const copies = opts.retransmit?.includes(p) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        // noAdvance keeps `next` at `base` throughout, so the offset is the piece's start.
        this.send(dir, piece, { flags: p === n - 1 ? 'PA' : 'A', seqOffset: bounds[p]!, noAdvance: true });
      }
    }
    this.next[idx(dir)] = (base + payload.length) >>> 0;
    return this;
  }

  /** Same as `segments` with default options: one payload in several in-order segments. */
  split(dir: Dir, payload: Uint8Array, cuts: number[]): this {
    return this.segments(dir, payload, cuts);
  }

  /** Several payloads, consecutive in sequence space, emitted in `order` (indices into `payloads`). */
  reorder(dir: Dir, payloads: Uint8Array[], order: number[]): this {
    const cuts: number[] = [];
    let off = 0;
    for (let k = 0; k < payloads.length - 1; k++) cuts.push((off += payloads[k]!.length));
    return this.segments(dir, Buffer.concat(payloads), cuts, { order });
  }

  /** Re-emits the last data segment sent in `dir` (same seq, flags and payload). */
  retransmit(dir: Dir): this {
    const l = this.last[idx(dir)];
    if (!l) throw new Error(`nothing sent ${dir} to retransmit`);
    this.send(dir, l.payload, { flags: l.flags, seqOffset: (l.seq - this.next[idx(dir)]) | 0, noAdvance: true });
    return this;
  }

  /** A segment the capture missed: `next` moves past it, nothing is emitted. */
  lose(dir: Dir, payload: Uint8Array | number): this {
    const len = typeof payload === 'number' ? payload : payload.length;
    const i = idx(dir);
    this.next[i] = (this.next[i] + len) >>> 0;
    return this;
  }

  /** A pure ACK. */
  ack(dir: Dir): this {
    this.segment(dir, this.next[idx(dir)], 'A', undefined);
    return this;
  }

  /** FIN+ACK from `from` (consumes one sequence number). */
  fin(from: Dir): this {
    const i = idx(from);
    this.segment(from, this.next[i], 'FA', undefined);
    this.next[i] = (this.next[i] + 1) >>> 0;
    return this;
  }

  /** Orderly close: FIN from `from`, FIN from the peer, final ACK. */
  close(from: Dir = 'c2s'): this {
    return this.fin(from).fin(other(from)).ack(from);
  }

  /** Reset from `from`; flags 'RA' by default. */
  rst(from: Dir, flags = 'RA'): this {
    this.segment(from, this.next[idx(from)], flags, undefined);
    return this;
  }
}

export interface UdpExchangeOptions extends ConversationOptions {
  client: string;
  server: string;
  cport: number;
  sport: number;
  ttl?: [number, number];
}

/** UDP datagrams between two endpoints. */
export class UdpExchange extends Conversation {
  private readonly o: UdpExchangeOptions;
  private readonly ipId: [number, number] = [0x3000, 0x4000];

  constructor(opts: UdpExchangeOptions) {
    super(opts);
    this.o = opts;
  }

  send(dir: Dir, payload: Uint8Array): this {
    const o = this.o;
    const c2s = dir === 'c2s';
    const i = idx(dir);
    this.emit(
      {
        src: c2s ? o.client : o.server,
        dst: c2s ? o.server : o.client,
        sport: c2s ? o.cport : o.sport,
        dport: c2s ? o.sport : o.cport,
        proto: 'udp',
        payload,
        ttl: o.ttl?.[i] ?? 64,
        ipId: this.ipId[i],
      },
      !c2s,
    );
    this.ipId[i] = (this.ipId[i] + 1) & 0xffff;
    return this;
  }
}

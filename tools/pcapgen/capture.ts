// Time-stamped packet lists: a shared clock so several conversations interleave
// in time, merging, and writing lists out as pcap or pcapng.
import { buildFrame, linktypeOf, type FrameSpec, type Link } from './frame.js';
import { PcapWriter, PcapngWriter, type PcapOptions, type Endian } from './writer.js';

export interface Packet {
  sec: number; // whole seconds since the epoch
  nsec: number; // nanoseconds within the second
  ts: number; // sec + nsec / 1e9 as a float (loses ns precision; use sec/nsec to write)
  link: Link;
  frame: Buffer;
}

export const DEFAULT_START_SEC = 1_700_000_000; // 2023-11-14T22:13:20Z
export const DEFAULT_STEP_NS = 1_000_000; // 1 ms between packets

/** Start time: whole seconds, float seconds, or [sec, nsec]. */
export type TimeSpec = number | [number, number];

function toSecNsec(t: TimeSpec): [number, number] {
  if (Array.isArray(t)) return [t[0], t[1]];
  const sec = Math.floor(t);
  const us = Math.round((t - sec) * 1e6); // float seconds carry µs at best
  return us === 1_000_000 ? [sec + 1, 0] : [sec, us * 1000];
}

/** A monotonic packet clock; conversations sharing one interleave in time order. */
export class Clock {
  sec: number;
  nsec: number;
  stepNs: number;

  constructor(start: TimeSpec = DEFAULT_START_SEC, stepNs = DEFAULT_STEP_NS) {
    [this.sec, this.nsec] = toSecNsec(start);
    this.stepNs = stepNs;
  }

  /** Advances by `ns` nanoseconds. */
  advance(ns: number): void {
    const total = this.nsec + Math.round(ns);
    this.sec += Math.floor(total / 1e9);
    this.nsec = total % 1e9;
  }

  /** Moves forward to an absolute time; going back would break time order, so it throws. */
  set(sec: number, nsec = 0): void {
    if (sec < this.sec || (sec === this.sec && nsec < this.nsec)) {
      throw new RangeError(`clock cannot go back from ${this.sec}.${this.nsec} to ${sec}.${nsec}`);
    }
    this.sec = sec;
    this.nsec = nsec;
  }

  /** The current time, then advances by one step. */
  next(): [number, number] {
    const t: [number, number] = [this.sec, this.nsec];
    this.advance(this.stepNs);
    return t;
  }
}

export interface ConversationOptions {
  link?: Link;
  vlans?: FrameSpec['vlans'];
  /** Shared clock; otherwise a private one from `start`/`stepNs`. */
  clock?: Clock;
  start?: TimeSpec;
  stepNs?: number;
  /** Pad Ethernet frames sent by the server (s2c) to 60 bytes, as seen on the wire from a PLC. */
  padServer?: boolean;
  /** Frame fields applied to every packet (IPv4 options, IPv6 extension headers, DLT_NULL family...). */
  frame?: FrameExtras;
}

export type FrameExtras = Partial<Omit<FrameSpec, 'src' | 'dst' | 'proto' | 'sport' | 'dport' | 'tcp' | 'payload' | 'link' | 'vlans'>>;

/** Base of TcpSession/UdpExchange: a clock and the list of emitted packets. */
export class Conversation {
  readonly clock: Clock;
  readonly link: Link;
  protected readonly vlans: FrameSpec['vlans'];
  protected readonly padServer: boolean;
  protected readonly extras: FrameExtras;
  protected out: Packet[] = [];

  constructor(opts: ConversationOptions) {
    this.clock = opts.clock ?? new Clock(opts.start, opts.stepNs);
    this.link = opts.link ?? 'ether';
    this.vlans = opts.vlans;
    this.padServer = opts.padServer ?? false;
    this.extras = opts.frame ?? {};
  }

  /** Idle time before the next packet, in seconds. */
  wait(seconds: number): this {
    this.clock.advance(seconds * 1e9);
    return this;
  }

  protected emit(spec: FrameSpec, serverSent: boolean): void {
    const [sec, nsec] = this.clock.next();
    const frame = buildFrame({
      ...this.extras,
      ...spec,
      link: this.link,
      vlans: this.vlans,
      ethPad: spec.ethPad ?? this.extras.ethPad ?? (serverSent && this.padServer),
    });
    this.out.push({ sec, nsec, ts: sec + nsec / 1e9, link: this.link, frame });
  }

  /** Everything emitted so far, in emission order. */
  frames(): Packet[] {
    return this.out.slice();
  }
}

/** Packets of several lists in time order; ties keep list order. */
export function mergePackets(...lists: Packet[][]): Packet[] {
  const all = lists.flatMap((l, li) => l.map((p, i) => ({ p, li, i })));
  all.sort((a, b) => a.p.sec - b.p.sec || a.p.nsec - b.p.nsec || a.li - b.li || a.i - b.i);
  return all.map((x) => x.p);
}

/** A classic pcap of `packets`, which must all share one link type. */
export function toPcap(packets: Packet[], opts: Omit<PcapOptions, 'linktype'> & { linktype?: number } = {}): Buffer {
  const links = new Set(packets.map((p) => linktypeOf(p.link)));
  if (links.size > 1) throw new Error('pcap holds one link type; use toPcapng');
  const w = new PcapWriter({ ...opts, linktype: opts.linktype ?? [...links][0] ?? 1 });
  for (const p of packets) w.addAt(p.sec, p.nsec, p.frame);
  return w.toBuffer();
}

/** A pcapng with one interface per distinct link type, in order of first use. */
export function toPcapng(packets: Packet[], opts: { endian?: Endian; tsresol?: number } = {}): Buffer {
  const w = new PcapngWriter({ endian: opts.endian });
  const ifOf = new Map<Link, number>();
  for (const p of packets) {
    let i = ifOf.get(p.link);
    if (i === undefined) {
      i = w.addInterface({ linktype: linktypeOf(p.link), tsresol: opts.tsresol, name: `if${ifOf.size}` });
      ifOf.set(p.link, i);
    }
    w.addAt(i, p.sec, p.nsec, p.frame);
  }
  return w.toBuffer();
}

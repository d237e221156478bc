// What the packet thread hands the inventory's writer thread: one fixed-size
// event of numbers per recorded flow (its end, or an interim record), packed
// into a Float64Array whose buffer is transferred, not copied. The few things
// that are not numbers (IPv6 address texts, text values of identity facts,
// alert lines, the name and role terms of a protocol and a fact's key seen
// for the first time) travel in small arrays beside it; an event refers to
// its texts by index.

/** Fields of one event (offsets into the Float64Array). */
export const enum Ev {
  Vlan = 0,
  /** Flag bits below. */
  Flags,
  /** IPv4: the address as int32; otherwise the index of its text in `side`. */
  Client,
  Server,
  ServerPort,
  /** Index of the flow's protocol in the apps table (-1: none confirmed). */
  App,
  /** Function classes used, one bit per class. */
  Classes,
  First,
  Last,
  /** MACs of the flow's first frame (hi 16 bits, lo 32 bits as int32); only with the Mac flag. */
  SrcHi,
  SrcLo,
  DstHi,
  DstLo,
  /** Identity facts: their count, the first two here (code, value), the others in `side` from FactsAt as
   *  (code, value) pairs. A poll names one or two addresses: those cross as numbers only. */
  Facts,
  Fact0,
  Value0,
  Fact1,
  Value1,
  FactsAt,
  Size,
}

export const enum EvFlag {
  V4 = 1,
  Tcp = 2,
  /** Packets from the client / from the server. */
  FromClient = 4,
  FromServer = 8,
  /** The server answered: the flow counts for its service. */
  Answered = 16,
  /** Already counted in its service's flows (an earlier interim record). */
  Counted = 32,
  Mac = 64,
  /** The first frame's source MAC is the client's. */
  SrcIsClient = 128,
}

/** A fact's code: bit 0 the server's (else the client's), bit 1 an identity (else an address), bit 2 an
 *  inline value that is the index of its text in `side`; above KeyShift the index of its key in the keys table. */
export const enum FactCode {
  Server = 1,
  Identity = 2,
  Text = 4,
  KeyShift = 3,
}

/** Facts carried in the event itself. */
export const INLINE_FACTS = 2;

/** A protocol as the writer thread knows it: name and role terms (client, server). */
export type AppInfo = readonly [name: string, termClient: string, termServer: string];

/** One hand-over of events. */
export interface EventBatch {
  /** `count` events of Ev.Size fields each (its buffer is transferred when it crosses threads). */
  events: Float64Array;
  count: number;
  side: (string | number)[];
  /** Protocols and fact keys new since the previous hand-over, appended to their tables in order. */
  apps: AppInfo[];
  keys: string[];
  /** Alert records (JSON lines) of the detector. */
  alerts: string[];
  /** Newest capture time covered. */
  clock: number;
}

/** Events per buffer: a hand-over happens at least this often (and at every timed write). */
export const EVENTS_PER_BUFFER = 4096;

export function eventBuffer(): Float64Array {
  return new Float64Array(EVENTS_PER_BUFFER * Ev.Size);
}

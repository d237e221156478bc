// What the packet thread hands the inventory's writer thread: one fixed-size
// event of numbers per recorded flow (its end, or an interim record), packed
// into a Float64Array whose buffer is transferred, not copied. The few things
// that are not numbers (IPv6 address texts, identity facts, alert lines, the
// name and role terms of a protocol seen for the first time) travel in small
// arrays beside it; an event refers to its texts by index.

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
  /** Identity facts: index of the first in `side` and their count (3 entries each: code, key, value). */
  FactsAt,
  Facts,
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

/** A fact's code in `side`: bit 0 the server's (else the client's), bit 1 an identity (else an address). */
export const enum FactCode {
  Server = 1,
  Identity = 2,
}

/** A protocol as the writer thread knows it: name and role terms (client, server). */
export type AppInfo = readonly [name: string, termClient: string, termServer: string];

/** One hand-over of events. */
export interface EventBatch {
  /** `count` events of Ev.Size fields each (its buffer is transferred when it crosses threads). */
  events: Float64Array;
  count: number;
  side: (string | number)[];
  /** Protocols new since the previous hand-over, appended to the apps table in order. */
  apps: AppInfo[];
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

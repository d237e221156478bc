// What `otwatch live` needs from a capture path, whichever it is: open a
// device (receive only), deliver packets, report kernel counters, stop.
//
// Two paths implement it: a tcpdump child streaming pcap into CaptureParser
// (live-tcpdump.ts, the default) and the in-process `cap` binding
// (live-cap.ts). Neither has any way to transmit: see those files.

/** Kernel/libpcap counters for one interface since it was first opened.
 *  A field is null when the path cannot know it. */
export interface KernelStats {
  /** Packets that passed the filter, including those the kernel then dropped. */
  received: number | null;
  /** Dropped by the kernel for lack of buffer space (the capture was too slow). */
  droppedKernel: number | null;
  /** Dropped by the interface/driver before the kernel saw them. */
  droppedIface: number | null;
  /** Packets the capture process took out of the kernel buffer. */
  captured: number | null;
}

export const NO_STATS: KernelStats = { received: null, droppedKernel: null, droppedIface: null, captured: null };

export function addStats(a: KernelStats, b: KernelStats): KernelStats {
  const add = (x: number | null, y: number | null) => (x === null && y === null ? null : (x ?? 0) + (y ?? 0));
  return {
    received: add(a.received, b.received),
    droppedKernel: add(a.droppedKernel, b.droppedKernel),
    droppedIface: add(a.droppedIface, b.droppedIface),
    captured: add(a.captured, b.captured),
  };
}

/** The device could not be opened, or the capture stopped by itself. */
export class LiveError extends Error {
  constructor(
    readonly iface: string,
    readonly reason: string,
    readonly permanent = false,
  ) {
    super(`${iface}: ${reason}`);
    this.name = 'LiveError';
  }
}

export interface LiveOptions {
  iface: string;
  /** BPF filter expression ('' for none). */
  filter: string;
  /** Kernel buffer in bytes. */
  bufferBytes: number;
  snaplen: number;
  promisc: boolean;
  /** Deliver each packet as it arrives rather than in kernel blocks. */
  immediate: boolean;
  /** tcpdump path: write pcap in 4 KiB blocks instead of flushing every
   *  packet (far less CPU; a packet may wait until 4 KiB follow it). */
  batch: boolean;
  /** For the child path: the user the child drops to after opening. */
  user: string | null;
}

export interface LiveSource {
  readonly iface: string;
  /** 'tcpdump' or 'cap'. */
  readonly path: string;
  /** Where capture timestamps come from, for the logs and the stats record. */
  readonly timestampSource: string;
  /** Packets handed to the engine since this source object was made. */
  readonly delivered: number;
  /** Opens the device (receive only). Resolves once it is open; rejects with
   *  a LiveError. Packets are held until resume(). */
  open(): Promise<void>;
  /** Starts delivering packets to onPacket. */
  resume(): void;
  /** Counters now (null fields when the path has none). */
  stats(): Promise<KernelStats>;
  /** Stops capturing, delivers every packet already taken from the kernel,
   *  and gives the final counters. Idempotent. */
  stop(): Promise<KernelStats>;
  /** Called once when the capture ends without stop() (interface gone,
   *  child died); the source is then finished and a new one must be made. */
  onEnd: ((err: LiveError) => void) | null;
  /** Warnings from the capture path worth logging. */
  onNotice: ((msg: string) => void) | null;
}

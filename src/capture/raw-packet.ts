// One captured frame as a reader hands it on. The reader owns and reuses this
// object and the buffer behind it: both are valid only during the callback.
export class RawPacket {
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the first captured byte in buf. */
  off = 0;
  /** Bytes captured (what is in buf). */
  caplen = 0;
  /** Length of the frame on the wire (>= caplen when truncated by snaplen). */
  origlen = 0;
  /** Capture time, epoch seconds (float, exact to the microsecond). */
  ts = 0;
  /** Nanoseconds within the second, for consumers that want them. */
  tsNsec = 0;
  /** DLT/LINKTYPE number of the interface the frame came from. */
  linktype = 0;
  /** Byte offset of the record in its capture file/stream. */
  fileOffset = 0;
  /** pcapng interface index (0 for classic pcap). */
  ifIndex = 0;
}

export type PacketHandler = (pkt: RawPacket) => void;

/** Largest captured length we accept for one record (the bound, and
 *  larger than any real link MTU/snaplen default). */
export const MAX_CAPLEN = 262144;

/** A damaged or unreadable input. Carries the byte offset of the damage. */
export class CaptureError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${file}: ${reason} at byte offset ${offset}`);
    this.name = 'CaptureError';
  }
}

// One direction of a TCP connection: hands bytes on in sequence order, once.
//
// Retransmitted bytes are trimmed; segments ahead of the next expected byte
// wait in a small bounded queue until the hole fills. A hole is declared lost
// (a gap of known size, then delivery resumes) when the peer acknowledges past
// it, when the queue exceeds its bounds, or when the flow ends. A capture that
// starts mid-stream begins with a gap of unknown size (-1). A queued segment
// keeps its capture time: while it is delivered the receiver's clock reads
// that time, not the time of the packet that ended the wait.

export interface StreamReceiver {
  streamData(side: number, buf: Buffer, off: number, len: number): void;
  streamGap(side: number, bytes: number): void;
  /** Capture time the bytes being delivered arrived at (epoch s): read when
   *  a segment is queued, set while it is delivered. A field, not an
   *  argument, so the in-order path passes no double. */
  clock?: number;
}

/** Out-of-order bytes held across all streams (the global bound). */
export class ReassemblyBudget {
  bytes = 0;
  constructor(readonly max: number) {}
}

const MAX_QUEUED_SEGMENTS = 32;
const MAX_QUEUED_BYTES = 256 * 1024;

interface Segment {
  seq: number;
  data: Buffer;
  /** Bytes on the wire (data.length plus bytes cut by snaplen). */
  wireLen: number;
  /** Capture time of the packet that carried it. */
  ts: number;
}

export class TcpStream {
  private known = false;
  private nextSeq = 0;
  private queue: Segment[] | null = null;
  private queuedBytes = 0;
  /** Highest ACK the peer sent for this direction. */
  private acked = false;
  private maxAck = 0;
  retransmittedBytes = 0;

  constructor(
    private readonly side: number,
    private readonly rx: StreamReceiver,
    private readonly budget: ReassemblyBudget,
  ) {}

  /** The SYN of this direction was seen: data starts at isn + 1. */
  start(isn: number): void {
    if (!this.known) {
      this.known = true;
      this.nextSeq = (isn + 1) | 0;
    }
  }

  segment(seq: number, buf: Buffer, off: number, capLen: number, wireLen: number): void {
    if (wireLen === 0) return;
    seq |= 0; // callers may pass uint32
    if (!this.known) {
      this.known = true;
      this.nextSeq = seq;
      this.rx.streamGap(this.side, -1);
    }
    let rel = (seq - this.nextSeq) | 0;
    if (rel < 0) {
      const trim = -rel;
      if (trim >= wireLen) {
        this.retransmittedBytes += wireLen;
        return;
      }
      this.retransmittedBytes += trim;
      off += trim;
      capLen = capLen > trim ? capLen - trim : 0;
      wireLen -= trim;
      seq = (seq + trim) | 0;
      rel = 0;
    }
    if (rel > 0) {
      this.enqueue(seq, buf, off, capLen, wireLen);
      return;
    }
    this.deliver(buf, off, capLen, wireLen);
    if (this.queue !== null) this.drain();
  }

  /** The peer acknowledged up to `ack`: a hole below it will never fill. */
  peerAck(ack: number): void {
    ack |= 0;
    if (!this.acked || ((ack - this.maxAck) | 0) > 0) {
      this.acked = true;
      this.maxAck = ack;
    }
    if (this.queue === null || this.queue.length === 0) return;
    if (((ack - this.queue[0].seq) | 0) >= 0) this.skipToQueued();
  }

  /** End of the flow: whatever waits behind a hole is delivered after a gap. */
  finish(): void {
    while (this.queue !== null && this.queue.length > 0) this.skipToQueued();
  }

  private deliver(buf: Buffer, off: number, capLen: number, wireLen: number): void {
    if (capLen > wireLen) capLen = wireLen;
    if (capLen > 0) this.rx.streamData(this.side, buf, off, capLen);
    if (wireLen > capLen) this.rx.streamGap(this.side, wireLen - capLen); // cut by snaplen
    this.nextSeq = (this.nextSeq + wireLen) | 0;
  }

  private enqueue(seq: number, buf: Buffer, off: number, capLen: number, wireLen: number): void {
    const q = (this.queue ??= []);
    // Identical retransmission of a queued segment.
    for (let i = 0; i < q.length; i++) if (q[i].seq === seq && q[i].wireLen >= wireLen) return;
    if (q.length >= MAX_QUEUED_SEGMENTS || this.queuedBytes + capLen > MAX_QUEUED_BYTES || this.budget.bytes + capLen > this.budget.max) {
      // Out of room: the oldest hole is declared lost, then this segment is retried.
      if (q.length > 0) {
        this.skipToQueued();
        this.segment(seq, buf, off, capLen, wireLen);
        return;
      }
      this.rx.streamGap(this.side, (seq - this.nextSeq) | 0);
      this.nextSeq = seq;
      this.deliver(buf, off, capLen, wireLen);
      return;
    }
    const seg: Segment = { seq, data: Buffer.from(buf.subarray(off, off + capLen)), wireLen, ts: this.rx.clock ?? 0 };
    let i = q.length;
    while (i > 0 && ((q[i - 1].seq - seq) | 0) > 0) i--;
    q.splice(i, 0, seg);
    this.queuedBytes += capLen;
    this.budget.bytes += capLen;
    // Already acknowledged by the peer: the hole before it is lost for good.
    if (this.acked && ((this.maxAck - q[0].seq) | 0) > 0) this.skipToQueued();
  }

  private shift(): Segment {
    const seg = this.queue!.shift()!;
    this.queuedBytes -= seg.data.length;
    this.budget.bytes -= seg.data.length;
    return seg;
  }

  /** Delivers queued segments that are now contiguous. */
  private drain(): void {
    const q = this.queue!;
    const rx = this.rx;
    const now = rx.clock;
    while (q.length > 0) {
      const rel = (q[0].seq - this.nextSeq) | 0;
      if (rel > 0) break;
      const seg = this.shift();
      const trim = 0 - rel; // not -rel: -0 would reach streamData as a double
      if (trim >= seg.wireLen) {
        this.retransmittedBytes += seg.wireLen;
        continue;
      }
      this.retransmittedBytes += trim;
      const cap = seg.data.length > trim ? seg.data.length - trim : 0;
      if (now !== undefined) rx.clock = seg.ts;
      this.deliver(seg.data, trim < seg.data.length ? trim : seg.data.length, cap, seg.wireLen - trim);
    }
    if (now !== undefined) rx.clock = now;
  }

  private skipToQueued(): void {
    const q = this.queue!;
    const hole = (q[0].seq - this.nextSeq) | 0;
    if (hole > 0) {
      this.rx.streamGap(this.side, hole);
      this.nextSeq = q[0].seq;
    }
    this.drain();
  }
}

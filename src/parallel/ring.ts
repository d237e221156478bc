// A single-producer single-consumer ring of packet records in a
// SharedArrayBuffer: the reader thread writes, one worker reads. Fixed size,
// so memory is bounded whatever the input; when it is full the reader waits
// (Atomics.waitAsync on the read position) and so stops reading the file.
//
// Positions are byte counters modulo 2^32 (capacity is a power of two below
// 2^31, so `(w - r) >>> 0` is the fill). Records are 8-byte aligned:
//   i32[0] type, i32[1] caplen, i32[2] origlen, i32[3] linktype,
//   f64[2] ts (already clamped to the run's clock), f64[3] seq, frame bytes.
// A record that would cross the end is preceded by a WRAP marker and starts
// at offset 0 instead. The writer publishes its position once per batch (a
// slice of the file), the reader its position every READ_COMMIT bytes, each
// with Atomics.notify for a side that sleeps.
import type { RawPacket } from '../capture/raw-packet.js';

export const REC_PACKET = 1;
/** The run's clock reached a sweep boundary (seq: the packet that did it). */
export const REC_TICK = 2;
/** End of input: i32[1] is the reason (END_EOF / END_SHUTDOWN), ts the final clock. */
export const REC_END = 3;
/** Skip to offset 0. */
export const REC_WRAP = 4;

export const END_EOF = 0;
export const END_SHUTDOWN = 1;

export const REC_HDR = 32;
/** Control block before the data: W, R (Int32 slots 0, 1). */
const CTRL = 64;
const W = 0;
const R = 1;

export function recordSize(caplen: number): number {
  return REC_HDR + ((caplen + 7) & ~7);
}

export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (capacity < 4096 || capacity > 1 << 30 || (capacity & (capacity - 1)) !== 0) {
    throw new Error(`ring capacity ${capacity} must be a power of two between 4 KiB and 1 GiB`);
  }
  return new SharedArrayBuffer(CTRL + capacity);
}

class RingBase {
  readonly cap: number;
  protected readonly mask: number;
  protected readonly ctrl: Int32Array;
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;
  /** All of the shared memory as a Buffer (frame bytes are read in place). */
  readonly bytes: Buffer;

  constructor(readonly sab: SharedArrayBuffer) {
    this.cap = sab.byteLength - CTRL;
    this.mask = this.cap - 1;
    this.ctrl = new Int32Array(sab, 0, CTRL >> 2);
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.bytes = Buffer.from(sab);
  }
}

export class RingWriter extends RingBase {
  private w = 0;

  /** Bytes that can be written now without overwriting unread records. */
  free(): number {
    return this.cap - ((this.w - Atomics.load(this.ctrl, R)) >>> 0);
  }

  /** Room for `bytes` of records plus the largest possible wrap waste. */
  hasRoom(bytes: number): boolean {
    return this.free() >= bytes;
  }

  /** Resolves when the reader has moved (or after `ms`): the caller re-checks. */
  async waitRead(ms: number): Promise<void> {
    const r = Atomics.load(this.ctrl, R);
    if (this.cap - ((this.w - r) >>> 0) === this.cap) return;
    const res = Atomics.waitAsync(this.ctrl, R, r, ms);
    if (res.async) await res.value;
  }

  /** Wakes a waitRead (e.g. the reader thread died). */
  wakeWriter(): void {
    Atomics.notify(this.ctrl, R);
  }

  /** Start of a record of `size` bytes; writes a WRAP marker when needed.
   *  The caller has checked the room (hasRoom). */
  private place(size: number): number {
    let p = this.w & this.mask;
    if (p + size > this.cap) {
      this.i32[(CTRL + p) >> 2] = REC_WRAP;
      this.w = (this.w + this.cap - p) >>> 0;
      p = 0;
    }
    this.w = (this.w + size) >>> 0;
    return CTRL + p;
  }

  putPacket(raw: RawPacket, ts: number, seq: number): void {
    const caplen = raw.caplen;
    const o = this.place(recordSize(caplen));
    const i = o >> 2;
    const i32 = this.i32;
    i32[i] = REC_PACKET;
    i32[i + 1] = caplen;
    i32[i + 2] = raw.origlen;
    i32[i + 3] = raw.linktype;
    const d = o >> 3;
    this.f64[d + 2] = ts;
    this.f64[d + 3] = seq;
    copyBytes(raw.buf, raw.off, this.bytes, o + REC_HDR, caplen);
  }

  putTick(ts: number, seq: number): void {
    this.putMark(REC_TICK, 0, ts, seq);
  }

  putEnd(reason: number, ts: number, seq: number): void {
    this.putMark(REC_END, reason, ts, seq);
  }

  private putMark(type: number, arg: number, ts: number, seq: number): void {
    const o = this.place(REC_HDR);
    const i = o >> 2;
    this.i32[i] = type;
    this.i32[i + 1] = arg;
    const d = o >> 3;
    this.f64[d + 2] = ts;
    this.f64[d + 3] = seq;
  }

  /** Makes everything written so far visible to the reader. */
  publish(): void {
    Atomics.store(this.ctrl, W, this.w | 0);
    Atomics.notify(this.ctrl, W);
  }
}

/** Small frames are copied byte by byte: Buffer.copy's call overhead is
 *  larger than the copy below a few hundred bytes. */
function copyBytes(src: Buffer, s: number, dst: Buffer, d: number, n: number): void {
  if (n > 192) {
    src.copy(dst, d, s, s + n);
    return;
  }
  for (let k = 0; k < n; k++) dst[d + k] = src[s + k];
}

/** What the reader side sees of one record. Reused. */
export class RingRecord {
  type = 0;
  /** Offset of the frame bytes in `bytes` (packets). */
  off = 0;
  caplen = 0;
  origlen = 0;
  linktype = 0;
  /** REC_END: the reason. */
  arg = 0;
  ts = 0;
  seq = 0;
}

/** Records the reader has consumed are given back after this many bytes. */
const READ_COMMIT = 256 * 1024;

export class RingReader extends RingBase {
  private r = 0;
  private end = 0;
  private uncommitted = 0;

  /** Fills `rec` with the next record and returns true, or returns false when
   *  the ring is empty (after giving back what was read). Never blocks. */
  next(rec: RingRecord): boolean {
    for (;;) {
      if (this.r === this.end) {
        this.commit();
        this.end = Atomics.load(this.ctrl, W) >>> 0;
        if (this.r === this.end) return false;
      }
      const p = this.r & this.mask;
      const o = CTRL + p;
      const i = o >> 2;
      const type = this.i32[i];
      if (type === REC_WRAP) {
        this.advance(this.cap - p);
        continue;
      }
      rec.type = type;
      const d = o >> 3;
      rec.ts = this.f64[d + 2];
      rec.seq = this.f64[d + 3];
      let size = REC_HDR;
      if (type === REC_PACKET) {
        rec.caplen = this.i32[i + 1];
        rec.origlen = this.i32[i + 2];
        rec.linktype = this.i32[i + 3];
        rec.off = o + REC_HDR;
        size = recordSize(rec.caplen);
      } else {
        rec.arg = this.i32[i + 1];
      }
      // The record stays readable until the next call: it is given back then.
      this.advance(size);
      return true;
    }
  }

  private advance(n: number): void {
    this.r = (this.r + n) >>> 0;
    this.uncommitted += n;
    if (this.uncommitted >= READ_COMMIT) this.commit();
  }

  /** Gives consumed bytes back to the writer. The record returned last is
   *  included, so call this only when done with it. */
  commit(): void {
    if (this.uncommitted === 0) return;
    this.uncommitted = 0;
    Atomics.store(this.ctrl, R, this.r | 0);
    Atomics.notify(this.ctrl, R);
  }

  /** Blocks the thread until the writer publishes more (or `ms` passes). */
  waitData(ms: number): void {
    Atomics.wait(this.ctrl, W, this.end | 0, ms);
  }
}

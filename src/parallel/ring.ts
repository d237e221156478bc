// The reader thread → worker channel: a single-producer single-consumer ring
// of fixed 32-byte records in a SharedArrayBuffer. Frames are not copied: the
// reader thread reads the capture into a few shared chunk buffers (ChunkPool)
// and a packet record names its chunk and offset. A chunk is reused once
// every worker has passed its RELEASE record.
//
// Memory is fixed (rings + chunks), whatever the input. When a ring is full or
// no chunk is free the reader thread waits (Atomics.waitAsync, so its event
// loop keeps receiving the workers' records and errors) and stops reading.
//
// Record (Int32 words 0..3, Float64 words 2..3):
//   i32[0] type | chunk << 4 | linktype << 12
//   i32[1] offset of the frame in its chunk (REC_END: the reason)
//   i32[2] caplen, i32[3] origlen
//   f64[2] ts (already clamped to the run's clock), f64[3] seq (the packet's index in the run)
// Positions are record counters modulo 2^32 in the control block; the writer
// publishes its position once per batch, the reader gives records back every
// READ_COMMIT records, each with Atomics.notify for a side that may sleep.
import type { RawPacket } from '../capture/raw-packet.js';

export const REC_PACKET = 1;
/** The run's clock reached a sweep boundary (seq: the packet that did it). */
export const REC_TICK = 2;
/** End of input: i32[1] is the reason (END_EOF / END_SHUTDOWN), ts the final clock. */
export const REC_END = 3;
/** The worker is done with the chunk. */
export const REC_RELEASE = 4;

export const END_EOF = 0;
export const END_SHUTDOWN = 1;

export const REC_SIZE = 32;
/** Control block before the records: W, R (Int32 slots 0, 1). */
const CTRL = 64;
const W = 0;
const R = 1;
/** Records given back to the writer at a time. */
const READ_COMMIT = 2048;

// Node 20 has it; the ES2022 lib typings do not.
export const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync.bind(Atomics);

export function createRing(records: number): SharedArrayBuffer {
  if (records < 64 || records > 1 << 24 || (records & (records - 1)) !== 0) {
    throw new Error(`ring size ${records} must be a power of two from 64 to 2^24 records`);
  }
  return new SharedArrayBuffer(CTRL + records * REC_SIZE);
}

class RingBase {
  /** Capacity in records. */
  readonly cap: number;
  protected readonly mask: number;
  protected readonly ctrl: Int32Array;
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;

  constructor(readonly sab: SharedArrayBuffer) {
    this.cap = (sab.byteLength - CTRL) / REC_SIZE;
    this.mask = this.cap - 1;
    this.ctrl = new Int32Array(sab, 0, CTRL >> 2);
    this.i32 = new Int32Array(sab, CTRL);
    this.f64 = new Float64Array(sab, CTRL);
  }
}

export class RingWriter extends RingBase {
  private w = 0;

  /** Records that can be written now without overwriting unread ones. */
  free(): number {
    return this.cap - ((this.w - Atomics.load(this.ctrl, R)) >>> 0);
  }

  /** Resolves when the reader has given records back (or after `ms`). */
  async waitRead(ms: number): Promise<void> {
    const r = Atomics.load(this.ctrl, R);
    if ((this.w - r) >>> 0 === 0) return;
    const res = waitAsync(this.ctrl, R, r, ms);
    if (res.async) await res.value;
  }

  /** Wakes both sides' waits (a failure: everyone re-checks). */
  wake(): void {
    Atomics.notify(this.ctrl, R);
    Atomics.notify(this.ctrl, W);
  }

  private slot(): number {
    const s = (this.w & this.mask) * (REC_SIZE >> 2);
    this.w = (this.w + 1) >>> 0;
    return s;
  }

  putPacket(raw: RawPacket, chunk: number, ts: number, seq: number): void {
    const i = this.slot();
    const i32 = this.i32;
    i32[i] = REC_PACKET | (chunk << 4) | (raw.linktype << 12);
    i32[i + 1] = raw.off;
    i32[i + 2] = raw.caplen;
    i32[i + 3] = raw.origlen;
    const d = i >> 1;
    this.f64[d + 2] = ts;
    this.f64[d + 3] = seq;
  }

  putMark(type: number, arg: number, ts: number, seq: number): void {
    const i = this.slot();
    this.i32[i] = type;
    this.i32[i + 1] = arg;
    const d = i >> 1;
    this.f64[d + 2] = ts;
    this.f64[d + 3] = seq;
  }

  putRelease(chunk: number): void {
    const i = this.slot();
    this.i32[i] = REC_RELEASE | (chunk << 4);
  }

  /** Makes everything written so far visible to the reader. */
  publish(): void {
    if (Atomics.load(this.ctrl, W) === (this.w | 0)) return;
    Atomics.store(this.ctrl, W, this.w | 0);
    Atomics.notify(this.ctrl, W);
  }
}

/** One record as the reader sees it. Reused. */
export class RingRecord {
  type = 0;
  chunk = 0;
  linktype = 0;
  /** Frame offset in its chunk, or REC_END's reason. */
  arg = 0;
  caplen = 0;
  origlen = 0;
  ts = 0;
  seq = 0;
}

export class RingReader extends RingBase {
  private r = 0;
  private end = 0;
  private uncommitted = 0;

  /** Fills `rec` with the next record and returns true, or returns false when
   *  the ring is empty (after giving back everything read). Never blocks. */
  next(rec: RingRecord): boolean {
    if (this.r === this.end) {
      this.commit();
      this.end = Atomics.load(this.ctrl, W) >>> 0;
      if (this.r === this.end) return false;
    }
    const i = (this.r & this.mask) * (REC_SIZE >> 2);
    const h = this.i32[i];
    rec.type = h & 15;
    rec.chunk = (h >>> 4) & 255;
    rec.linktype = h >>> 12;
    rec.arg = this.i32[i + 1];
    rec.caplen = this.i32[i + 2];
    rec.origlen = this.i32[i + 3];
    const d = i >> 1;
    rec.ts = this.f64[d + 2];
    rec.seq = this.f64[d + 3];
    this.r = (this.r + 1) >>> 0;
    if (++this.uncommitted >= READ_COMMIT) this.commit();
    return true;
  }

  /** Gives read records back to the writer. */
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

/** Shared buffers the capture is read into, with a count per chunk of the
 *  workers still using it. */
export class ChunkPool {
  readonly bufs: Buffer[];
  readonly refs: Int32Array;

  constructor(
    readonly sabs: SharedArrayBuffer[],
    refs: SharedArrayBuffer,
  ) {
    this.bufs = sabs.map((s) => Buffer.from(s));
    this.refs = new Int32Array(refs);
  }

  static create(chunks: number, bytes: number): ChunkPool {
    if (chunks < 2 || chunks > 255) throw new Error('2 to 255 chunks');
    return new ChunkPool(
      Array.from({ length: chunks }, () => new SharedArrayBuffer(bytes)),
      new SharedArrayBuffer(4 * chunks),
    );
  }

  isFree(c: number): boolean {
    return Atomics.load(this.refs, c) === 0;
  }

  /** Reader thread: resolves when chunk c may be free (or after `ms`). */
  async waitFree(c: number, ms: number): Promise<void> {
    const v = Atomics.load(this.refs, c);
    if (v === 0) return;
    const res = waitAsync(this.refs, c, v, ms);
    if (res.async) await res.value;
  }

  /** Reader thread: chunk c goes out to `users` workers. */
  hold(c: number, users: number): void {
    Atomics.store(this.refs, c, users);
  }

  /** Worker: done with chunk c. */
  release(c: number): void {
    if (Atomics.sub(this.refs, c, 1) === 1) Atomics.notify(this.refs, c);
  }

  /** Wakes a waitFree (a worker died). */
  wakeAll(): void {
    for (let c = 0; c < this.refs.length; c++) Atomics.notify(this.refs, c);
  }
}

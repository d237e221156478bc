// Buffered synchronous writer on a file descriptor. Synchronous writes are the
// backpressure: the reader stops while the consumer (a pipe, a disk) catches
// up, so memory stays flat however slow the consumer is.
//
// A write that fails (disk full, closed pipe, I/O error) never throws into
// the caller, which is the packet path: the writer records the fault, cuts
// an owned file back to its last complete record, and drops what follows.
// The pipeline checks `fault` between chunks and ends the run.
import { writeSync, closeSync, fsyncSync, ftruncateSync } from 'node:fs';
import { errnoCode, type OutputFault } from '../pipeline/errors.js';

const BUF_BYTES = 256 * 1024;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Where JsonOut encodes: a buffer, the bytes used in it, and a way to
 *  make room (FdWriter writes them out; a worker's batch keeps them). */
export interface ByteOut {
  readonly buf: Buffer;
  used: number;
  flush(): void;
  write(s: string): void;
  /** Bytes already encoded, after what is buffered. */
  writeBytes(b: Uint8Array): void;
}

export class FdWriter implements ByteOut {
  // Lines are encoded into this buffer as they come, so each record string
  // dies young; holding them in a pending string kept them alive (a rope of
  // hundreds of records) long enough to be promoted, and GC dominated.
  // Public for JsonOut, which encodes records in place.
  readonly buf = Buffer.allocUnsafe(BUF_BYTES);
  used = 0;
  bytes = 0;
  /** Bytes of the file up to the end of its last complete record. */
  private safeEnd = 0;
  /** The first write failure; later writes are dropped. */
  fault: OutputFault | null = null;

  /** `name` is what a failure names: the file path, or <stdout>. */
  constructor(
    readonly fd: number,
    private readonly owned: boolean,
    readonly name = owned ? `fd ${fd}` : '<stdout>',
  ) {}

  write(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (this.used + s.length * 3 > BUF_BYTES) {
      this.flush();
      if (s.length * 3 > BUF_BYTES) {
        this.writeAll(Buffer.from(s, 'utf8'));
        return;
      }
    }
    this.used += this.buf.write(s, this.used, 'utf8');
  }

  /** Whole records, already encoded (msgpack, a worker's NDJSON batch). */
  writeBytes(b: Uint8Array): void {
    this.flush();
    if (this.writeAll(b)) this.safeEnd = this.bytes;
  }

  flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    const before = this.bytes;
    const b = this.buf.subarray(0, n);
    // The buffer may end inside a record (JsonOut makes room mid-record).
    if (this.writeAll(b)) {
      const nl = b.lastIndexOf(0x0a);
      if (nl >= 0) this.safeEnd = before + nl + 1;
    }
  }

  /** False when the bytes could not all be written (now or before). */
  private writeAll(buf: Uint8Array): boolean {
    if (this.fault !== null) return false;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        // A non-blocking pipe that is full: wait for the reader.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') sleepMs(1);
        else {
          this.failed(e, buf, off);
          return false;
        }
      }
    }
    this.bytes += buf.length;
    return true;
  }

  private failed(e: unknown, buf: Uint8Array, off: number): void {
    this.fault = { path: this.name, code: errnoCode(e) };
    this.used = 0;
    if (!this.owned) return;
    const nl = buf.subarray(0, off).lastIndexOf(0x0a);
    const end = nl >= 0 ? this.bytes + nl + 1 : this.safeEnd;
    try {
      ftruncateSync(this.fd, end); // no partial last record
    } catch {
      // the fault above is what gets reported
    }
  }

  close(sync = false): void {
    this.flush();
    if (!this.owned) return;
    try {
      if (sync && this.fault === null) fsyncSync(this.fd);
    } catch (e) {
      this.fault = { path: this.name, code: errnoCode(e) };
    }
    try {
      closeSync(this.fd);
    } catch (e) {
      this.fault ??= { path: this.name, code: errnoCode(e) };
    }
  }
}

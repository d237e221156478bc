// Buffered synchronous writer on a file descriptor. Synchronous writes are the
// backpressure: the reader stops while the consumer (a pipe, a disk) catches
// up, so memory stays flat however slow the consumer is.
import { writeSync, closeSync, fsyncSync } from 'node:fs';

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

  constructor(readonly fd: number, private readonly owned: boolean) {}

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

  writeBytes(b: Uint8Array): void {
    this.flush();
    this.writeAll(b);
  }

  flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    this.writeAll(this.buf.subarray(0, n));
  }

  private writeAll(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        // A non-blocking pipe that is full: wait for the reader.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') sleepMs(1);
        else throw e;
      }
    }
    this.bytes += buf.length;
  }

  close(sync = false): void {
    this.flush();
    if (this.owned) {
      if (sync) fsyncSync(this.fd);
      closeSync(this.fd);
    }
  }
}

// Buffered synchronous writer on a file descriptor. Synchronous writes are the
// backpressure: the reader stops while the consumer (a pipe, a disk) catches
// up, so memory stays flat however slow the consumer is.
import { writeSync, closeSync, fsyncSync } from 'node:fs';

const FLUSH_AT = 256 * 1024;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class FdWriter {
  private pending = '';
  bytes = 0;

  constructor(readonly fd: number, private readonly owned: boolean) {}

  write(s: string): void {
    this.pending += s;
    if (this.pending.length >= FLUSH_AT) this.flush();
  }

  writeBytes(b: Uint8Array): void {
    this.flush();
    this.writeAll(b);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    this.writeAll(buf);
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

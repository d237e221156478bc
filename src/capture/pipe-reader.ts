// stdin when it is a pipe or socket: read through libuv's event loop (epoll),
// not fs.read. An fs.read of an idle pipe blocks a thread of libuv's pool
// until the writer writes or closes, and that thread must finish before the
// process can exit, so a signal could not end the run (`ssh sensor tcpdump
// -w - | otwatch read -` on a quiet network). Here a waiting read is only a
// promise: a stop abandons it and the process exits at once.
import { fstatSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** Bytes queued before the stream is paused (backpressure on the writer). */
const HIGH_WATER = 2 * 1024 * 1024;

export class PipeReader {
  private readonly chunks: Buffer[] = [];
  private head = 0;
  private queued = 0;
  private ended = false;
  private error: Error | null = null;
  private waiter: (() => void) | null = null;

  constructor(private readonly stream: Readable) {
    stream.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.queued += c.length;
      if (this.queued >= HIGH_WATER) stream.pause();
      this.wake();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stream.on('error', (e) => {
      this.error = e;
      this.wake();
    });
  }

  /** Like read(2): what is there (at least one byte), 0 at the end. */
  async read(buf: Buffer, off: number, len: number): Promise<number> {
    while (this.queued === 0 && !this.ended && this.error === null) await new Promise<void>((r) => (this.waiter = r));
    if (this.queued === 0 && this.error !== null) throw this.error;
    let n = 0;
    while (n < len && this.chunks.length > 0) {
      const c = this.chunks[0];
      const k = Math.min(len - n, c.length - this.head);
      c.copy(buf, off + n, this.head, this.head + k);
      n += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.queued -= n;
    if (this.queued < HIGH_WATER / 2 && this.stream.isPaused()) this.stream.resume();
    return n;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

let stdinReader: PipeReader | null = null;

/** A PipeReader on stdin when it is a pipe or a socket; null otherwise (a
 *  redirected file is read like any file). One per process: stdin is one stream. */
export function stdinPipe(): PipeReader | null {
  try {
    const st = fstatSync(0);
    if (!st.isFIFO() && !st.isSocket()) return null;
  } catch {
    return null;
  }
  stdinReader ??= new PipeReader(process.stdin);
  return stdinReader;
}

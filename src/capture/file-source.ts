// Reads a capture file (or stdin, "-") in large chunks and feeds the parser.
// Two buffers, reused: while the parser works through one chunk, the next is
// read into the other by libuv's thread pool (the copy from the page cache
// then costs the parsing thread nothing). Each buffer keeps MAX_BLOCK bytes
// of room in front of its data, where the previous chunk's leftover partial
// record is copied. Between chunks control returns to the event loop, so
// signals are handled and the caller can stop early.
import { open, type FileHandle } from 'node:fs/promises';
import { read as readCb } from 'node:fs';
import { CaptureParser, MAX_BLOCK } from './capture-parser.js';
import { CaptureError, type PacketHandler } from './raw-packet.js';
import { stdinPipe } from './pipe-reader.js';

export const CHUNK = 4 * 1024 * 1024;

export interface SourceProgress {
  /** Bytes consumed so far and the total (0 when unknown, e.g. stdin). */
  bytes: number;
  total: number;
}

export interface ReadOptions {
  /** Called after every chunk; return true to stop reading. */
  afterChunk?: (p: SourceProgress) => boolean;
  /** Reuse the read buffers across sources (allocReadBuffer). */
  buffer?: ReadBuffers;
  /** Settles when reading must stop at once, even while a read waits (an
   *  idle pipe on stdin): what was parsed stays delivered. */
  stop?: Promise<void>;
}

/** What a read raced against `stop` gives when the stop came first. */
const STOPPED = -1;

export interface ReadResult {
  packets: number;
  bytes: number;
  format: string;
  stopped: boolean;
}

/** read(2) on a file or stdin; a non-blocking stdin answering EAGAIN is retried. */
export function readFd(fd: number, buf: Buffer, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readCb(fd, buf, off, len, null, (err, n) => {
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') setTimeout(() => resolve(readFd(fd, buf, off, len)), 5);
      else if (err) reject(err);
      else resolve(n);
    });
  });
}

/** Room in front of each chunk for the previous chunk's partial record. */
const ROOM = MAX_BLOCK;

export interface ReadBuffers {
  a: Buffer;
  b: Buffer;
}

export function allocReadBuffer(): ReadBuffers {
  return { a: Buffer.allocUnsafe(ROOM + CHUNK), b: Buffer.allocUnsafe(ROOM + CHUNK) };
}

export interface CaptureInput {
  /** The name errors use: the path, or <stdin> for "-". */
  name: string;
  fh: FileHandle | undefined;
  fd: number;
  /** Size in bytes (0 for stdin). */
  total: number;
  /** read(2) on the input: what is there, 0 at the end. */
  read(buf: Buffer, off: number, len: number): Promise<number>;
}

/** Opens a capture path ("-": stdin); an unopenable file is a CaptureError. */
export async function openCaptureInput(path: string): Promise<CaptureInput> {
  const name = path === '-' ? '<stdin>' : path;
  if (path === '-') {
    const pipe = stdinPipe();
    const read = pipe !== null ? pipe.read.bind(pipe) : (b: Buffer, o: number, n: number) => readFd(0, b, o, n);
    return { name, fh: undefined, fd: 0, total: 0, read };
  }
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const fd = fh.fd;
    return { name, fh, fd, total: (await fh.stat()).size, read: (b, o, n) => readFd(fd, b, o, n) };
  } catch (e) {
    await fh?.close();
    throw new CaptureError(name, 0, `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Reads one capture. Throws CaptureError on damage or I/O failure; every
 *  record before the damage has been delivered by then. */
export async function readCapture(path: string, onPacket: PacketHandler, opts: ReadOptions = {}): Promise<ReadResult> {
  const input = await openCaptureInput(path);
  const { name, fh, total } = input;
  const parser = new CaptureParser(name, onPacket);
  const bufs = opts.buffer ?? allocReadBuffer();
  let cur = bufs.a;
  let next = bufs.b;
  let start = ROOM; // cur[start, end): bytes not yet parsed
  let end = ROOM;
  let base = 0; // stream offset of cur[start]
  let consumedTotal = 0;
  let stopped = false;
  let pending: Promise<number> | null = null;
  // A read the stop overtook still runs in libuv's pool: on stdin it may
  // never return, so it is left behind (the process is ending).
  let abandoned = false;
  const stopAt = opts.stop?.then(() => STOPPED);
  const readInto = (b: Buffer): Promise<number> =>
    input.read(b, ROOM, CHUNK).catch((e: NodeJS.ErrnoException) => {
      throw new CaptureError(name, base + (end - start), `read failed: ${e.code ?? e.message}`);
    });
  const settle = async (p: Promise<number>): Promise<number> => {
    const n = stopAt === undefined ? await p : await Promise.race([p, stopAt]);
    if (n === STOPPED) {
      stopped = true;
      abandoned = fh === undefined;
    }
    return n;
  };
  try {
    pending = readInto(cur);
    const n = await settle(pending);
    if (n !== STOPPED) pending = null;
    end += Math.max(0, n);
    if (n > 0) {
      for (;;) {
        pending = readInto(next);
        const used = parser.parse(cur, start, end, base - start);
        consumedTotal = base + (used - start);
        const left = end - used;
        if (opts.afterChunk?.({ bytes: consumedTotal, total })) {
          stopped = true;
          break;
        }
        const m = await settle(pending);
        if (m === STOPPED) break;
        pending = null;
        if (m === 0) {
          start = used;
          break;
        }
        // A record never exceeds MAX_BLOCK (the parser rejects longer ones).
        if (left > ROOM) throw new CaptureError(name, consumedTotal, `partial record of ${left} bytes exceeds the ${ROOM}-byte limit`);
        cur.copy(next, ROOM - left, used, end);
        base = consumedTotal;
        start = ROOM - left;
        end = ROOM + m;
        const t = cur;
        cur = next;
        next = t;
      }
    }
    if (!stopped) parser.finish(end - start, consumedTotal);
  } finally {
    // Never close the file under a read still in flight.
    if (pending !== null && !abandoned) await pending.catch(() => 0);
    else if (pending !== null) pending.catch(() => 0);
    await fh?.close();
  }
  return { packets: parser.packets, bytes: consumedTotal, format: parser.formatName, stopped };
}

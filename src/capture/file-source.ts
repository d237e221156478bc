// Reads a capture file (or stdin, "-") in large chunks and feeds the parser.
// One buffer per source, reused: the leftover partial record moves to its
// start before the next read. Between chunks control returns to the event
// loop, so signals are handled and the caller can stop early.
import { open, type FileHandle } from 'node:fs/promises';
import { read as readCb } from 'node:fs';
import { CaptureParser, MAX_BLOCK } from './capture-parser.js';
import { CaptureError, type PacketHandler } from './raw-packet.js';

export const CHUNK = 4 * 1024 * 1024;

export interface SourceProgress {
  /** Bytes consumed so far and the total (0 when unknown, e.g. stdin). */
  bytes: number;
  total: number;
}

export interface ReadOptions {
  /** Called after every chunk; return true to stop reading. */
  afterChunk?: (p: SourceProgress) => boolean;
  /** Reuse a buffer across sources (at least CHUNK + MAX_BLOCK bytes). */
  buffer?: Buffer;
}

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

export function allocReadBuffer(): Buffer {
  return Buffer.allocUnsafe(CHUNK + MAX_BLOCK);
}

export interface CaptureInput {
  /** The name errors use: the path, or <stdin> for "-". */
  name: string;
  fh: FileHandle | undefined;
  fd: number;
  /** Size in bytes (0 for stdin). */
  total: number;
}

/** Opens a capture path ("-": stdin); an unopenable file is a CaptureError. */
export async function openCaptureInput(path: string): Promise<CaptureInput> {
  const name = path === '-' ? '<stdin>' : path;
  if (path === '-') return { name, fh: undefined, fd: 0, total: 0 };
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    return { name, fh, fd: fh.fd, total: (await fh.stat()).size };
  } catch (e) {
    await fh?.close();
    throw new CaptureError(name, 0, `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Reads one capture. Throws CaptureError on damage or I/O failure; every
 *  record before the damage has been delivered by then. */
export async function readCapture(path: string, onPacket: PacketHandler, opts: ReadOptions = {}): Promise<ReadResult> {
  const { name, fh, fd, total } = await openCaptureInput(path);
  const parser = new CaptureParser(name, onPacket);
  const buf = opts.buffer ?? allocReadBuffer();
  let have = 0; // valid bytes in buf
  let base = 0; // stream offset of buf[0]
  let consumedTotal = 0;
  let stopped = false;
  try {
    for (;;) {
      let n: number;
      try {
        n = await readFd(fd, buf, have, buf.length - have);
      } catch (e) {
        throw new CaptureError(name, base + have, `read failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (n === 0) break;
      have += n;
      const used = parser.parse(buf, 0, have, base);
      consumedTotal = base + used;
      if (used > 0) {
        buf.copyWithin(0, used, have);
        have -= used;
        base += used;
      }
      if (opts.afterChunk?.({ bytes: consumedTotal, total })) {
        stopped = true;
        break;
      }
    }
    if (!stopped) parser.finish(have, base);
  } finally {
    await fh?.close();
  }
  return { packets: parser.packets, bytes: consumedTotal, format: parser.formatName, stopped };
}

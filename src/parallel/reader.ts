// readCapture (capture/file-source.ts) for the sharded run: the same reading,
// parsing and errors, but the bytes go into the shared chunks of a ChunkPool
// (so workers read frames in place), and the parser is fed in slices, before
// each of which the caller may wait, asynchronously, for room in its rings.
// The reader thread so never blocks inside a parse, and while it waits it
// keeps receiving the workers' records, errors and exits: a full ring cannot
// deadlock it and a dead worker cannot hang it.
import { CaptureParser, MAX_BLOCK } from '../capture/capture-parser.js';
import { openCaptureInput, type ReadResult, type SourceProgress } from '../capture/file-source.js';
import { CaptureError, type PacketHandler } from '../capture/raw-packet.js';
import type { ChunkPool } from './ring.js';

/** Capture bytes handed to the parser at a time. */
export const SLICE = 128 * 1024;
/** Bytes read into a chunk before it is parsed. */
export const CHUNK_FILL = 1024 * 1024;
/** A chunk holds a fill plus a carried-over partial record. */
export const CHUNK_BYTES = CHUNK_FILL + MAX_BLOCK + 64;

export interface ChunkedReadHooks {
  /** A free chunk to read into (waits for workers to release one). */
  acquire(): Promise<number>;
  /** Before parsing `bytes` of capture: null when the rings have room for
   *  every record they can make, or a promise that resolves when they do. */
  gate(bytes: number): Promise<void> | null;
  /** After each slice was parsed: publish what was written. */
  afterSlice(): void;
  /** Chunk c will get no more packets (its RELEASE records go out). */
  done(c: number): void;
  /** After every chunk; return true to stop reading. */
  afterChunk?(p: SourceProgress): boolean;
  /** Settles when reading must stop at once, even while a read waits. */
  stop?: Promise<void>;
}

const STOPPED = -1;

/** Reads one capture. `current.chunk` names the chunk of the packet being
 *  delivered. Throws CaptureError like readCapture, after every record
 *  before the damage was delivered and published. */
export async function readCaptureChunked(
  path: string,
  onPacket: PacketHandler,
  pool: ChunkPool,
  current: { chunk: number },
  hooks: ChunkedReadHooks,
): Promise<ReadResult> {
  const input = await openCaptureInput(path);
  const { name, fh, total } = input;
  const parser = new CaptureParser(name, onPacket);
  let prev = -1; // chunk holding the carried-over bytes
  let left = 0; // carried-over bytes (a partial record)
  let carryStart = 0; // where they start in chunk prev
  let base = 0; // stream offset of the current chunk's byte 0
  let stopped = false;
  let eof = false;
  // Only stdin can wait forever; a file read is short and must finish before
  // the file is closed.
  const stopAt = fh === undefined ? hooks.stop?.then(() => STOPPED) : undefined;
  try {
    while (!eof) {
      const c = await hooks.acquire();
      const buf = pool.bufs[c];
      let have = 0;
      if (left > 0) {
        pool.bufs[prev].copy(buf, 0, carryStart, carryStart + left);
        have = left;
      }
      while (have < CHUNK_FILL) {
        let n: number;
        try {
          const r = input.read(buf, have, CHUNK_BYTES - have);
          n = stopAt === undefined ? await r : await Promise.race([r, stopAt]);
          if (n === STOPPED) {
            r.catch(() => 0); // left behind: the run is ending
            stopped = eof = true; // what this chunk holds is still parsed
            break;
          }
        } catch (e) {
          throw new CaptureError(name, base + have, `read failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        if (n === 0) {
          eof = true;
          break;
        }
        have += n;
      }
      current.chunk = c;
      let used = 0;
      try {
        while (used < have) {
          let end = Math.min(have, used + SLICE);
          let wait = hooks.gate(end - used);
          if (wait !== null) await wait;
          let next = parser.parse(buf, used, end, base);
          if (next === used && end < have) {
            // One record larger than a slice (pcapng blocks up to MAX_BLOCK).
            hooks.afterSlice();
            end = Math.min(have, used + MAX_BLOCK + 64);
            wait = hooks.gate(end - used);
            if (wait !== null) await wait;
            next = parser.parse(buf, used, end, base);
          }
          hooks.afterSlice();
          if (next === used) break; // the rest is a partial record
          used = next;
        }
      } finally {
        hooks.afterSlice(); // records before a damaged one go out
        hooks.done(c);
      }
      carryStart = used;
      left = have - used;
      prev = c;
      base += used;
      if (hooks.afterChunk?.({ bytes: base, total })) {
        stopped = true;
        break;
      }
    }
    if (!stopped) parser.finish(left, base);
  } finally {
    await fh?.close();
  }
  return { packets: parser.packets, bytes: base, format: parser.formatName, stopped };
}

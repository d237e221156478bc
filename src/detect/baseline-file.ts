// Baseline files: one msgpack document (the plain form of baseline.ts) with a
// format name and version. Saving writes a temporary file in the same
// directory, fsyncs it, renames it over the target and fsyncs the directory,
// so a crash or kill -9 at any moment leaves either the old file or the new
// one, never a mix.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { msgpack } from '../output/msgpack-lazy.js';
import { causeText, errnoCode } from '../pipeline/errors.js';
import { type Baseline, BaselineError, fromPlain, toPlain } from './baseline.js';
import { readBaselineFast } from './baseline-read.js';

/** Largest baseline file read (bytes): a bound on a file that could be anything. */
export const MAX_BASELINE_BYTES = 512 * 1024 * 1024;

export function loadBaseline(path: string): Baseline {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new BaselineError(`cannot read baseline ${path}: ${(e as Error).message}`);
  }
  return baselineFromBytes(bytes, path);
}

/** The baseline in a file's bytes; `path` names it in errors. */
export function baselineFromBytes(bytes: Uint8Array, path: string): Baseline {
  if (bytes.length > MAX_BASELINE_BYTES) throw new BaselineError(`baseline ${path} is larger than ${MAX_BASELINE_BYTES} bytes`);
  if (bytes.length === 0) throw new BaselineError(`baseline ${path} is empty`);
  // A file as saveBaseline writes it loads without the generic decoder;
  // anything else takes the general path (same baseline, or the exact error).
  return readBaselineFast(bytes) ?? decodeBaseline(bytes, path);
}

/** The general path: any msgpack document, validated by fromPlain. */
export function decodeBaseline(bytes: Uint8Array, path: string): Baseline {
  let doc: unknown;
  try {
    doc = msgpack().decode(bytes, { maxStrLength: 1 << 16, maxBinLength: 0, maxArrayLength: 1 << 22, maxMapLength: 64, maxExtLength: 0 });
  } catch (e) {
    throw new BaselineError(`baseline ${path} is unreadable: not one complete msgpack document (${(e as Error).message})`);
  }
  return fromPlain(doc, path);
}

export function encodeBaseline(b: Baseline): Uint8Array {
  return msgpack().encode(toPlain(b));
}

export interface AtomicWriteHooks {
  /** Called once half of the data is in the temporary file (for crash tests). */
  midWrite?: () => void;
}

/** Removes the temporary files of earlier writes of `path` that were killed
 *  between writing and renaming (their process is gone). */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // the write that follows reports the directory
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(join(dir, n));
    } catch {
      // gone already, or not ours to remove
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/** Writes `data` to `path` so that readers see the old or the new content only. */
export function writeFileAtomic(path: string, data: Uint8Array, hooks: AtomicWriteHooks = {}): void {
  const dir = dirname(path);
  removeStaleTemps(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'w', 0o644);
    const half = data.length >>> 1;
    let off = 0;
    while (off < data.length) {
      const end = hooks.midWrite !== undefined && off < half ? half : data.length;
      off += writeSync(fd, data, off, end - off);
      if (off === half && hooks.midWrite !== undefined) hooks.midWrite();
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
  // The rename itself must reach the disk: sync the directory entry.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Saving failed (disk full, permissions): an output fault, not a usage error. */
export class BaselineWriteError extends BaselineError {}

export function saveBaseline(path: string, b: Baseline, hooks?: AtomicWriteHooks): void {
  b.created = Math.floor(Date.now() / 1000);
  try {
    writeFileAtomic(path, encodeBaseline(b), hooks);
  } catch (e) {
    throw new BaselineWriteError(`cannot write baseline ${path}: ${causeText(errnoCode(e))}`);
  }
}

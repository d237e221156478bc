// Retention for rotated output files (`live --retain-mb / --retain-age`):
// the oldest rotated files go first, so an appliance does not fill its disk.
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** flows-20240131T235959.ndjson, pdus-20240131T235959-2.msgpack ... */
const ROTATED = /^(flows|pdus|alerts|stats)-(\d{8}T\d{6})(?:-(\d+))?\.(ndjson|msgpack)$/;

export interface RetentionLimits {
  /** Bytes all rotated files may hold together (0: no limit). */
  maxBytes: number;
  /** Seconds a rotated file is kept (0: no limit). */
  maxAgeS: number;
}

interface Rotated {
  path: string;
  stamp: string;
  n: number;
  size: number;
  mtimeMs: number;
}

/** Deletes rotated files in `dir`, oldest first, until both limits hold;
 *  files in `open` (being written) are kept whatever their size. Returns
 *  the deleted paths. */
export function pruneRotated(dir: string, limits: RetentionLimits, open: ReadonlySet<string>, nowMs: number): string[] {
  if (limits.maxBytes <= 0 && limits.maxAgeS <= 0) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const files: Rotated[] = [];
  for (const name of names) {
    const m = ROTATED.exec(name);
    if (m === null) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (st.isFile()) files.push({ path, stamp: m[2], n: Number(m[3] ?? 0), size: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // gone meanwhile
    }
  }
  // Oldest first: by the time in the name, then its -N suffix.
  files.sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.n - b.n));
  let total = 0;
  for (const f of files) total += f.size;
  const deleted: string[] = [];
  for (const f of files) {
    if (open.has(f.path)) continue;
    const tooOld = limits.maxAgeS > 0 && nowMs - f.mtimeMs > limits.maxAgeS * 1000;
    const tooBig = limits.maxBytes > 0 && total > limits.maxBytes;
    if (!tooOld && !tooBig) continue;
    try {
      unlinkSync(f.path);
      deleted.push(f.path);
      total -= f.size;
    } catch {
      // not ours to delete: leave it
    }
  }
  return deleted;
}

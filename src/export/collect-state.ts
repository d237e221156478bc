// The collector's de-duplication state across restarts: a SeqWindow per
// sensor saved in DIR/.collect-state.json about once a second, and made good
// from the output files themselves (a collector killed after writing and
// before saving): their tails are read back until they reach records the
// saved window already covers.
import { closeSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SENSOR_ID } from './options.js';
import { lineSeq } from './record-line.js';
import { SeqWindow, SPAN } from './seq-window.js';

export const STATE_FILE = '.collect-state.json';
const CHUNK = 1 << 20;
/** Per file; only reached without a state file (its first run, or the state lost). */
const MAX_TAIL = 64 << 20;

export function saveWindows(dir: string, windows: Map<string, SeqWindow>): void {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(Object.fromEntries(windows)));
  renameSync(tmp, join(dir, STATE_FILE));
}

export function recoverWindows(dir: string): Map<string, SeqWindow> {
  const windows = new Map<string, SeqWindow>();
  try {
    const st = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(st)) {
      const w = SENSOR_ID.test(k) ? SeqWindow.from(v) : null;
      if (w !== null) windows.set(k, w);
    }
  } catch {
    // first run, or no state saved yet
  }
  for (const sensor of readdirSync(dir)) {
    if (!SENSOR_ID.test(sensor) || sensor.startsWith('.')) continue;
    const sdir = join(dir, sensor);
    if (!statSync(sdir).isDirectory()) continue;
    let w = windows.get(sensor);
    if (w === undefined) {
      w = new SeqWindow();
      windows.set(sensor, w);
    }
    const floor = w.low;
    for (const f of readdirSync(sdir)) if (f.endsWith('.ndjson')) readBack(join(sdir, f), w, floor);
  }
  return windows;
}

/** Adds the seqs of the file's last records, newest first, until they are well below `floor`. */
function readBack(path: string, w: SeqWindow, floor: number): void {
  const fd = openSync(path, 'r');
  try {
    let end = statSync(path).size;
    let carry = '';
    let read = 0;
    while (end > 0 && read < MAX_TAIL) {
      const n = Math.min(end, CHUNK);
      const b = Buffer.allocUnsafe(n);
      readSync(fd, b, 0, n, end - n);
      end -= n;
      read += n;
      const lines = (b.toString('utf8') + carry).split('\n');
      // The first piece may be a line cut by the chunk's start: kept for the next chunk (or the file's first line).
      carry = end > 0 ? (lines.shift() ?? '') : '';
      let oldest = Infinity;
      for (const l of lines) {
        const seq = l === '' ? -1 : lineSeq(l);
        if (!(seq > 0)) continue;
        w.add(seq);
        if (seq < oldest) oldest = seq;
      }
      if (oldest <= floor - SPAN) return;
    }
  } finally {
    closeSync(fd);
  }
}

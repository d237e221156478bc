// Self time per function from a V8 .cpuprofile (node --cpu-prof), with
// dist/*.js positions mapped back to the TypeScript sources through the
// .js.map files tsc writes beside them.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  selfMs: number;
  pct: number;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decoded source map: per generated line, segments [genCol, srcIdx, srcLine]. */
interface SourceMap {
  sources: string[];
  lines: number[][][];
}

function decodeMap(path: string): SourceMap | null {
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { sources: string[]; sourceRoot?: string; mappings: string };
    const lines: number[][][] = [];
    let src = 0;
    let sLine = 0;
    for (const lineText of raw.mappings.split(';')) {
      const segs: number[][] = [];
      let gCol = 0;
      for (const seg of lineText.split(',')) {
        if (seg === '') continue;
        const vals: number[] = [];
        let v = 0;
        let shift = 0;
        for (const ch of seg) {
          const d = B64.indexOf(ch);
          v += (d & 31) << shift;
          if (d & 32) shift += 5;
          else {
            vals.push(v & 1 ? -(v >>> 1) : v >>> 1);
            v = 0;
            shift = 0;
          }
        }
        gCol += vals[0] ?? 0;
        if (vals.length >= 4) {
          src += vals[1]!;
          sLine += vals[2]!;
          // vals[3], the source column, is not needed: self time is placed by line
          segs.push([gCol, src, sLine]);
        }
      }
      lines.push(segs);
    }
    return { sources: raw.sources, lines };
  } catch {
    return null;
  }
}

const maps = new Map<string, SourceMap | null>();

function locate(cf: CallFrame, root: string): string {
  if (!cf.url) return '';
  let file = cf.url;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  else if (!file.startsWith('/')) return `${file}:${cf.lineNumber + 1}`; // node:internal
  let m = maps.get(file);
  if (m === undefined) {
    m = existsSync(`${file}.map`) ? decodeMap(`${file}.map`) : null;
    maps.set(file, m);
  }
  if (m !== null) {
    const segs = m.lines[cf.lineNumber];
    if (segs && segs.length > 0) {
      let best = segs[0]!;
      for (const s of segs) if (s[0]! <= cf.columnNumber) best = s;
      const srcPath = new URL(m.sources[best[1]!]!, `file://${file}`).pathname;
      return `${relative(root, srcPath)}:${best[2]! + 1}`;
    }
  }
  return `${relative(root, file)}:${cf.lineNumber + 1}`;
}

/** A part of the run: from the first sample that has `startFn` on its
 *  stack (the first packet parsed), skip `skipMs`, then take `lenMs`; or,
 *  when a sample has `endFn` on its stack (the final flush of flows at the
 *  end of input), the `lenMs` before the first such sample. */
export interface ProfileWindow {
  startFn: string;
  skipMs: number;
  lenMs: number;
  endFn?: string;
}

/** Functions by self time, largest first; with `win`, of that part only
 *  (e.g. the second input of a run: one warm pass). */
export function selfTimes(profilePath: string, root: string, win?: ProfileWindow): { totalMs: number; rows: SelfTime[] } {
  const p = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  let from = -Infinity;
  let to = Infinity;
  if (win !== undefined) {
    const onStackOf = (id: number | undefined, fn: string): boolean => {
      for (; id !== undefined; id = parent.get(id)) if (byId.get(id)!.callFrame.functionName === fn) return true;
      return false;
    };
    let t = 0;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i] ?? 0;
      if (from === -Infinity && onStackOf(p.samples[i], win.startFn)) {
        from = t + win.skipMs * 1000;
        to = from + win.lenMs * 1000;
        if (win.endFn === undefined) break;
      }
      if (win.endFn !== undefined && onStackOf(p.samples[i], win.endFn)) {
        // The end of input is a sharper mark than the start plus the first input's time.
        to = t;
        from = t - win.lenMs * 1000;
        break;
      }
    }
  }
  const selfUs = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < from || at >= to) continue;
    const id = p.samples[i]!;
    // A sample's delta is the time until the next one; the last has none, so use its own.
    const dt = p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const agg = new Map<string, SelfTime>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || (cf.url ? '(anonymous)' : '(native)');
    const where = locate(cf, root);
    const k = `${name}@${where}`;
    const row = agg.get(k) ?? { name, where, selfMs: 0, pct: 0 };
    row.selfMs += us / 1000;
    agg.set(k, row);
    total += us / 1000;
  }
  const rows = [...agg.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const r of rows) r.pct = (100 * r.selfMs) / total;
  return { totalMs: total, rows };
}

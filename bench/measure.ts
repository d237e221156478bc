// Runs one command and measures it: wall time (hrtime around the child, so
// process start-up counts, as it does for a user), CPU time and peak RSS.
// /usr/bin/time -f reports the child's rusage exactly; without it, peak RSS
// comes from polling VmHWM in /proc/<pid>/status (a high-water mark, so
// polling misses at most the growth of the last interval).
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  wallSec: number;
  userSec: number | null;
  sysSec: number | null;
  maxRssKb: number | null;
  code: number | null;
  signal: string | null;
  stderrTail: string;
  /** Bytes or lines counted on stdout when `countStdout` asked for it. */
  stdoutLines?: number;
  stdoutMatches?: number;
  /** The last 8 kB of stdout when counted. */
  stdoutTail?: string;
}

export interface RunOptions {
  /** Where stdout goes: a file path (default /dev/null). */
  stdoutTo?: string;
  /** Count stdout lines and occurrences of `match` instead of discarding stdout. */
  countStdout?: { match?: string };
  timeoutSec?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const TIME_BIN = '/usr/bin/time';
export const hasGnuTime = existsSync(TIME_BIN);

let seq = 0;

export function runMeasured(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeFile = join(tmpdir(), `otwatch-bench-${process.pid}-${seq++}.time`);
  const useTime = hasGnuTime;
  const argv = useTime ? [TIME_BIN, '-f', '%U %S %M', '-o', timeFile, cmd, ...args] : [cmd, ...args];
  const outFd = opts.countStdout ? 'pipe' : openSync(opts.stdoutTo ?? '/dev/null', 'w');
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', outFd, 'pipe'], cwd: opts.cwd, env: opts.env });
    if (typeof outFd === 'number') closeSync(outFd);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-32000); // the summary with its per-input times, and any log lines after it
    });
    let lines = 0;
    let matches = 0;
    let outTail = '';
    if (opts.countStdout && child.stdout) {
      // Occurrences of the needle, across chunk boundaries (keep its length - 1 bytes).
      const m = Buffer.from(opts.countStdout.match ?? '\n');
      let tail = Buffer.alloc(0);
      child.stdout.on('data', (d: Buffer) => {
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
        const b = tail.length > 0 ? Buffer.concat([tail, d]) : d;
        for (let i = b.indexOf(m); i >= 0; i = b.indexOf(m, i + m.length)) matches++;
        tail = Buffer.from(b.subarray(Math.max(0, b.length - (m.length - 1))));
        outTail = (outTail + d.toString('latin1')).slice(-8000);
      });
    }
    // Fallback peak RSS: poll the child's high-water mark.
    let hwm = 0;
    const poll = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwm = Math.max(hwm, Number(m[1]));
          } catch {
            /* exited */
          }
        }, 20);
    const timer = opts.timeoutSec ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutSec * 1000) : null;
    child.on('close', (code, signal) => {
      const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      let userSec: number | null = null;
      let sysSec: number | null = null;
      let maxRssKb: number | null = hwm > 0 ? hwm : null;
      if (useTime) {
        try {
          const lastLine = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
          const [u, s, m] = lastLine.split(' ').map(Number);
          if (Number.isFinite(u)) userSec = u!;
          if (Number.isFinite(s)) sysSec = s!;
          if (Number.isFinite(m)) maxRssKb = m!;
        } catch {
          /* time did not write: the child could not start */
        }
        rmSync(timeFile, { force: true });
      }
      // GNU time exits with the child's status; with a signal it reports 128+n.
      resolve({
        wallSec,
        userSec,
        sysSec,
        maxRssKb,
        code,
        signal,
        stderrTail: err,
        stdoutLines: lines,
        stdoutMatches: matches,
        stdoutTail: outTail,
      });
    });
    child.on('error', (e) => {
      err += String(e);
    });
  });
}

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  for (const p of [`/usr/sbin/${cmd}`, `/usr/bin/${cmd}`]) if (existsSync(p)) return p;
  return null;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

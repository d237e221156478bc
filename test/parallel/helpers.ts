// Running the built CLI with --workers N and comparing record multisets.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../helpers/run.js';
import { REPO } from '../helpers/shared.js';

export interface Out {
  code: number;
  /** stdout lines, sorted: a multiset of records. */
  lines: string[];
  stdout: string;
  stderr: string;
}

export function run(args: string[], env: Record<string, string> = {}): Out {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  if (r.error) throw r.error;
  return {
    code: r.status ?? -1,
    lines: r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .sort(),
    stdout: r.stdout,
    stderr: r.stderr,
  };
}

/** Capture files under dir (recursively), sorted. */
export function captures(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    if (e === '_tshark_ref') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng|cap)$/i.test(e)) out.push(p);
  }
  return out.sort();
}

/** Record counts by type, for a readable failure and a sanity check. */
export function byType(lines: string[]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const l of lines) {
    const t = /^\{"type":"(\w+)"/.exec(l)?.[1] ?? '?';
    n[t] = (n[t] ?? 0) + 1;
  }
  return n;
}

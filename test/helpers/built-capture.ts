// Captures built in a test (tools/pcapgen) written to a temp file, so that
// otwatch and real tshark read the very same bytes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'otw-built-'));

export function writeCapture(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** tshark's per-frame `fields` for frames matching `filter` (one row per
 *  frame, several occurrences '|'-joined). `decodeAs`: tshark -d arguments. */
export function tsharkFields(path: string, filter: string, fields: string[], decodeAs: string[] = []): string[][] {
  const args = ['-n', '-r', path, '-Y', filter, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=|'];
  for (const d of decodeAs) args.push('-d', d);
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

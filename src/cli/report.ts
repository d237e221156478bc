// `otwatch report DB -o FILE`: the inventory as one self-contained HTML page
// (map, tables, method), or its tables as CSV files or NDJSON.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { loadPolicy, PolicyError, type Policy } from '../detect/policy.js';
import { InventoryError, openInventory, sqliteMessage } from '../inventory/db.js';
import { DEFAULT_STALE_AFTER } from '../inventory/schema.js';
import { inventoryWindow } from '../inventory/snapshot.js';
import { writeReport, type ReportFormat } from '../report/build.js';
import { reportFromInventory } from '../report/from-inventory.js';
import type { ReportSnapshot } from '../report/model.js';
import { DEFAULT_GROUP_ABOVE } from '../report/graph.js';
import { parseDate } from './inventory.js';
import { parseSeconds, UsageError, type OptSpec, type Parsed } from './options.js';

/** CIP-010 R2: configurations are checked against the baseline at least every 35 days. */
const REVIEW_PERIOD = 35 * 86_400;

export const REPORT_OPTIONS: readonly OptSpec[] = [
  {
    name: 'output',
    short: 'o',
    kind: 'string',
    arg: 'PATH',
    help: 'html/json: the file (json: - for stdout); csv: a directory for assets.csv, services.csv, ...',
  },
  { name: 'format', kind: 'string', arg: 'FMT', default: 'html', choices: ['html', 'csv', 'json'], help: 'html, csv or json' },
  {
    name: 'since',
    kind: 'string',
    arg: 'DATE',
    help: 'changes and alerts at or after DATE (ISO 8601, epoch seconds, or a duration such as 35d before the last traffic; default 35d)',
  },
  { name: 'policy', kind: 'string', arg: 'FILE', help: 'zones and conduits (docs/detection.md): zones group the map and fill a column' },
  { name: 'stale-after', kind: 'seconds', arg: 'DUR', default: DEFAULT_STALE_AFTER, help: 'a service not seen for DUR is stale' },
  { name: 'group-above', kind: 'number', arg: 'N', default: DEFAULT_GROUP_ABOVE, help: 'map: group addresses by subnet above N addresses' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export const REPORT_USAGE = 'otwatch report DB -o report.html [--since DATE] [--policy zones.json] [--format html|csv|json]';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** --since: a date, or a duration back from the end of the observation window. */
function sinceOf(v: unknown, lastTs: number): number | null {
  // An empty inventory has no window to count back from: everything.
  if (typeof v !== 'string') return lastTs > 0 ? lastTs - REVIEW_PERIOD : null;
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(v)) return lastTs - parseSeconds(v);
  return parseDate(v, '--since');
}

export async function runReport({ opts, rest }: Parsed): Promise<number> {
  if (rest.length !== 1) throw new UsageError(`usage: ${REPORT_USAGE}`);
  const [path] = rest;
  const format = opts.format as ReportFormat;
  const out = typeof opts.output === 'string' ? opts.output : null;
  if (out === null) throw new UsageError(`report needs -o ${format === 'csv' ? 'DIR' : 'FILE'}`);
  if (out === '-' && format !== 'json') throw new UsageError('-o - (stdout) is for --format json only');
  let policy: Policy | null = null;
  if (typeof opts.policy === 'string') {
    try {
      policy = loadPolicy(opts.policy);
    } catch (e) {
      if (e instanceof PolicyError) throw new UsageError(e.message);
      throw e;
    }
  }
  const started = performance.now();
  let snapshot: ReportSnapshot;
  try {
    const db = openInventory(path, { readonly: true });
    try {
      const since = sinceOf(opts.since, inventoryWindow(db).last_ts);
      snapshot = reportFromInventory(db, { since, staleAfter: opts['stale-after'] as number });
    } finally {
      db.close();
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const msg = e instanceof InventoryError ? e.message : `${path}: ${sqliteMessage(e)}`;
    process.stderr.write(`otwatch: report: ${msg}\n`);
    return 1;
  }
  try {
    const r = await writeReport(snapshot, {
      format,
      out,
      policy,
      policyName: typeof opts.policy === 'string' ? basename(opts.policy) : null,
      source: basename(path),
      version: version(),
      groupAbove: opts['group-above'] as number,
    });
    if (r.mapError !== null) {
      // The page is written with every table; only the map is missing.
      process.stderr.write(`otwatch: report: ${r.files[0]} written without its map: ${r.mapError}\n`);
      return 1;
    }
    if (out !== '-') {
      const map = r.mode === null ? '' : `, map of ${r.nodes} ${r.mode === 'groups' ? 'subnet groups' : 'assets'}`;
      process.stderr.write(
        `otwatch: report: ${snapshot.assets.length} assets${map}: ${r.files.join(', ')} (${(r.bytes / 1024).toFixed(0)} KiB, ` +
          `${((performance.now() - started) / 1000).toFixed(2)} s)\n`,
      );
    }
    return 0;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && typeof err.syscall === 'string') {
      process.stderr.write(`otwatch: report: cannot write ${out}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}

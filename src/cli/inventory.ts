// `otwatch inventory SUBCOMMAND DB ...`: show, history, approve, withdraw,
// import, prune. Output field names (show --json, history --json) are a
// public interface like the records (issue 16).
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { FdWriter } from '../output/fd-writer.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { InventoryError, openInventory, sqliteMessage, type Db } from '../inventory/db.js';
import { eachAsset, eachChange, inventoryWindow, type AssetView, type ChangeView, type ProtocolId } from '../inventory/snapshot.js';
import { approve, checkIp, importCsv, MAX_CSV_BYTES, parseService, prune, withdraw } from '../inventory/approval.js';
import { DEFAULT_STALE_AFTER } from '../inventory/schema.js';

export const INVENTORY_OPTIONS: readonly OptSpec[] = [
  { name: 'json', kind: 'flag', help: 'show/history: one JSON object per line' },
  { name: 'csv', kind: 'flag', help: 'show: one CSV row per service' },
  { name: 'since', kind: 'string', arg: 'DATE', help: 'history: changes at or after DATE (ISO 8601 or epoch seconds)' },
  { name: 'before', kind: 'string', arg: 'DATE', help: 'prune: delete history before DATE' },
  { name: 'stale-after', kind: 'seconds', arg: 'DUR', default: DEFAULT_STALE_AFTER, help: 'show: a service not seen for DUR is stale' },
  { name: 'reason', kind: 'string', arg: 'TEXT', help: 'approve/withdraw: why' },
  { name: 'by', kind: 'string', arg: 'NAME', help: 'approve/withdraw: who approves (prune: who prunes, default the user)' },
  { name: 'ticket', kind: 'string', arg: 'ID', help: 'approve: change ticket' },
  { name: 'vlan', kind: 'number', arg: 'N', help: 'approve/withdraw: VLAN of the service (default: where it was seen)' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export const INVENTORY_USAGE = [
  'otwatch inventory show DB [--json|--csv] [--stale-after DUR]',
  '       otwatch inventory history DB [--since DATE] [--json]',
  '       otwatch inventory approve DB IP PROTO/PORT --reason TEXT --by NAME [--ticket ID] [--vlan N]',
  '       otwatch inventory withdraw DB IP PROTO/PORT --reason TEXT --by NAME [--vlan N]',
  '       otwatch inventory import DB FILE.csv   (columns: ip, service or proto+port, reason, by, [ticket], [vlan])',
  '       otwatch inventory prune DB --before DATE [--by NAME]',
  '(the inventory is written by: otwatch read|live --inventory DB)',
].join('\n');

/** ISO 8601 date/time or epoch seconds -> epoch seconds. */
export function parseDate(s: string, what: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t)) {
    throw new UsageError(`${what}: bad date '${s}' (ISO 8601, e.g. 2026-11-01 or 2026-11-01T08:00:00Z, or epoch seconds)`);
  }
  return t / 1000;
}

const r6 = (ts: number): number => Math.round(ts * 1e6) / 1e6;
const iso = (ts: number): string => (ts > 0 ? new Date(ts * 1000).toISOString() : '');

export function assetJson(a: AssetView): string {
  return JSON.stringify({
    type: 'asset',
    ip: a.ip,
    vlan: a.vlan,
    mac: a.mac,
    vendor: a.vendor,
    first_ts: r6(a.first_ts),
    last_ts: r6(a.last_ts),
    sensors: a.sensors,
    roles: a.roles.map((r) => ({ app: r.app, role: r.role, term: r.term, ids: r.ids })),
    identity: a.identity,
    services: a.services.map((s) => ({
      proto: s.proto,
      port: s.port,
      app: s.app,
      status: s.status,
      first_ts: r6(s.first_ts),
      last_ts: r6(s.last_ts),
      flows: s.flows,
      clients: s.clients,
      classes: s.classes,
    })),
  });
}

export function changeJson(c: ChangeView): string {
  return JSON.stringify({
    type: 'change',
    ts: r6(c.ts),
    kind: c.kind,
    ip: c.ip,
    proto: c.proto,
    port: c.port,
    app: c.app,
    detail: c.detail,
  });
}

const CSV_HEAD =
  'ip,vlan,mac,vendor,asset_first_ts,asset_last_ts,sensors,roles,identity,' +
  'proto,port,app,status,first_ts,last_ts,flows,clients,classes,reason,approved_by,ticket,approved_ts';

const idsText = (ids: ProtocolId[], kv: string, sep: string) => ids.map((i) => `${i.kind}${kv}${i.value}`).join(sep);

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  // A leading =, +, -, @ would be a formula in a spreadsheet: quote and prefix.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function assetCsv(a: AssetView): string {
  const head = [
    a.ip,
    a.vlan,
    a.mac,
    a.vendor,
    iso(a.first_ts),
    iso(a.last_ts),
    a.sensors.join(' '),
    a.roles.map((r) => `${r.app}:${r.role}(${r.term})${r.ids.length > 0 ? `[${idsText(r.ids, '=', ' ')}]` : ''}`).join(' '),
    Object.entries(a.identity)
      .map(([k, v]) => `${k}=${v}`)
      .join('; '),
  ]
    .map(csvField)
    .join(',');
  if (a.services.length === 0) return `${head}${','.repeat(13)}\n`;
  let out = '';
  for (const s of a.services) {
    const ap = s.approval;
    out += `${head},${[
      s.proto,
      s.port,
      s.app,
      s.status,
      iso(s.first_ts),
      iso(s.last_ts),
      s.flows,
      s.clients,
      s.classes.join(' '),
      ap?.reason ?? null,
      ap?.by ?? null,
      ap?.ticket ?? null,
      ap === null ? null : iso(ap.ts),
    ]
      .map(csvField)
      .join(',')}\n`;
  }
  return out;
}

function assetText(a: AssetView): string {
  const vlan = a.vlan === null ? '' : ` vlan ${a.vlan}`;
  const mac = a.mac === null ? '' : `  ${a.mac}${a.vendor === null ? '' : ` (${a.vendor})`}`;
  let s = `${a.ip}${vlan}${mac}  ${iso(a.first_ts)} .. ${iso(a.last_ts)}\n`;
  for (const r of a.roles) s += `  ${r.app} ${r.role} (${r.term})${r.ids.length > 0 ? ` ${idsText(r.ids, ' ', ', ')}` : ''}\n`;
  const id = Object.entries(a.identity);
  if (id.length > 0) s += `  identity: ${id.map(([k, v]) => `${k}=${v}`).join(', ')}\n`;
  for (const v of a.services) {
    const ap = v.approval === null ? '' : ` approved by ${v.approval.by}${v.approval.ticket === null ? '' : ` (${v.approval.ticket})`}`;
    s +=
      `  ${`${v.proto}/${v.port}`.padEnd(10)} ${(v.app ?? '-').padEnd(7)} ${v.status.padEnd(10)} ` +
      `${v.flows} flows, ${v.clients} clients` +
      `${v.classes.length > 0 ? `, ${v.classes.join(' ')}` : ''}${ap}\n`;
  }
  return s;
}

function need(v: unknown, name: string, sub: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`inventory ${sub} needs --${name}`);
  return v;
}

function withDb<T>(path: string, readonly: boolean, fn: (db: Db) => T): T {
  const db = openInventory(path, { readonly });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Writes lines to stdout; a closed pipe (| head) just ends the output. */
function output(fn: (w: FdWriter) => void): void {
  const w = new FdWriter(1, false);
  try {
    fn(w);
    w.flush();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
  }
}

export async function runInventory({ opts, rest }: Parsed): Promise<number> {
  const [sub, path, ...args] = rest;
  if (sub === undefined) throw new UsageError(`inventory needs a subcommand:\n       ${INVENTORY_USAGE}`);
  if (path === undefined) throw new UsageError(`inventory ${sub} needs the database path`);
  try {
    return runSub(sub, path, args, opts);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const msg = e instanceof InventoryError ? e.message : `${path}: ${sqliteMessage(e)}`;
    process.stderr.write(`otwatch: inventory ${sub}: ${msg}\n`);
    return 1;
  }
}

function runSub(sub: string, path: string, args: string[], opts: Parsed['opts']): number {
  switch (sub) {
    case 'show': {
      if (opts.json && opts.csv) throw new UsageError('inventory show: --json or --csv, not both');
      const staleAfter = opts['stale-after'] as number;
      withDb(path, true, (db) => {
        const now = inventoryWindow(db).last_ts;
        output((w) => {
          if (opts.csv) w.write(`${CSV_HEAD}\n`);
          for (const a of eachAsset(db, { staleAfter, now })) {
            w.write(opts.json ? `${assetJson(a)}\n` : opts.csv ? assetCsv(a) : assetText(a));
          }
        });
      });
      return 0;
    }
    case 'history': {
      const since = typeof opts.since === 'string' ? parseDate(opts.since, '--since') : undefined;
      withDb(path, true, (db) =>
        output((w) => {
          for (const c of eachChange(db, since)) {
            w.write(opts.json ? `${changeJson(c)}\n` : `${iso(c.ts)}  ${c.kind.padEnd(20)} ${c.detail}\n`);
          }
        }),
      );
      return 0;
    }
    case 'approve':
    case 'withdraw': {
      if (args.length !== 2) throw new UsageError(`inventory ${sub} DB IP PROTO/PORT --reason TEXT --by NAME`);
      const ip = checkIp(args[0]);
      const [proto, port] = parseService(args[1]);
      const reason = need(opts.reason, 'reason', sub);
      const by = need(opts.by, 'by', sub);
      const vlan = typeof opts.vlan === 'number' ? Math.floor(opts.vlan) : undefined;
      return withDb(path, false, (db) => {
        if (sub === 'approve') {
          approve(db, { ip, proto, port, reason, by, ticket: typeof opts.ticket === 'string' ? opts.ticket : null, vlan });
          process.stderr.write(`otwatch: ${ip} ${proto}/${port} approved by ${by}\n`);
          return 0;
        }
        if (!withdraw(db, { ip, proto, port, vlan, by, reason })) {
          process.stderr.write(`otwatch: inventory withdraw: ${ip} ${proto}/${port} has no approval\n`);
          return 1;
        }
        process.stderr.write(`otwatch: approval of ${ip} ${proto}/${port} withdrawn by ${by}\n`);
        return 0;
      });
    }
    case 'import': {
      if (args.length !== 1) throw new UsageError('inventory import DB FILE.csv');
      const file = args[0];
      let text: string;
      try {
        if (statSync(file).size > MAX_CSV_BYTES) throw new InventoryError(`${file}: larger than ${MAX_CSV_BYTES >> 20} MB`);
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if (e instanceof InventoryError) throw e;
        throw new InventoryError(`${file}: ${(e as Error).message}`);
      }
      const n = withDb(path, false, (db) => {
        try {
          return importCsv(db, text);
        } catch (e) {
          throw e instanceof InventoryError ? new InventoryError(`${file}: ${e.message}`) : e;
        }
      });
      process.stderr.write(`otwatch: ${n} approvals imported from ${file}\n`);
      return 0;
    }
    case 'prune': {
      const before = parseDate(need(opts.before, 'before', sub), '--before');
      const by = typeof opts.by === 'string' ? opts.by : userInfo().username;
      const n = withDb(path, false, (db) => prune(db, before, by));
      process.stderr.write(`otwatch: inventory prune: ${n} history rows before ${iso(before)} deleted by ${by} (logged in prune_log)\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown inventory subcommand '${sub}' (show, history, approve, withdraw, import, prune)`);
  }
}

// Approvals (the documented need for a port, CIP-007 R1) and the explicit
// history prune. Every approval given or withdrawn is a history row written in
// the same transaction as the approval itself.
import type { Db } from './db.js';
import { InventoryError } from './db.js';

export interface ApprovalInput {
  ip: string;
  proto: 'tcp' | 'udp';
  port: number;
  reason: string;
  by: string;
  ticket?: string | null;
  /** -1 untagged; undefined: the VLAN the service was seen on (untagged when not seen yet or seen on several). */
  vlan?: number;
}

/** "tcp/502" -> ['tcp', 502]; throws InventoryError otherwise. */
export function parseService(s: string): ['tcp' | 'udp', number] {
  const m = /^(tcp|udp)\/(\d{1,5})$/i.exec(s.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port < 0 || port > 65535) throw new InventoryError(`bad service '${s}' (expected PROTO/PORT, e.g. tcp/502)`);
  return [m[1].toLowerCase() as 'tcp' | 'udp', port];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function checkIp(ip: string): string {
  if (IPV4.test(ip) || (/^[0-9a-f:.]+$/i.test(ip) && ip.includes(':') && ip.length <= 45)) return ip.toLowerCase();
  throw new InventoryError(`bad IP address '${ip}'`);
}

function resolveVlan(db: Db, a: ApprovalInput): number {
  if (a.vlan !== undefined) return a.vlan;
  const rows = db.prepare(`SELECT vlan FROM service WHERE ip = ? AND proto = ? AND port = ?`).all(a.ip, a.proto, a.port) as {
    vlan: number;
  }[];
  return rows.length === 1 ? rows[0].vlan : -1;
}

function approveOne(db: Db, a: ApprovalInput, ts: number, sensor: string | null): void {
  if (a.reason.trim() === '') throw new InventoryError(`approval of ${a.ip} ${a.proto}/${a.port} needs a reason`);
  if (a.by.trim() === '') throw new InventoryError(`approval of ${a.ip} ${a.proto}/${a.port} needs an approver (--by)`);
  const vlan = resolveVlan(db, a);
  const ticket = a.ticket ?? null;
  db.prepare(
    `INSERT INTO approval (vlan, ip, proto, port, reason, approved_by, ticket, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (vlan, ip, proto, port) DO UPDATE SET
       reason = excluded.reason, approved_by = excluded.approved_by, ticket = excluded.ticket, ts = excluded.ts`,
  ).run(vlan, a.ip, a.proto, a.port, a.reason, a.by, ticket, ts);
  const svc = db.prepare(`SELECT app FROM service WHERE vlan = ? AND ip = ? AND proto = ? AND port = ?`).get(vlan, a.ip, a.proto, a.port) as
    | { app: string | null }
    | undefined;
  const app = svc?.app ?? null;
  const detail = `${a.ip} ${a.proto}/${a.port} approved by ${a.by}${ticket === null ? '' : ` (ticket ${ticket})`}: ${a.reason}`;
  db.prepare(
    `INSERT INTO change (ts, kind, vlan, ip, proto, port, app, detail, sensor) VALUES (?, 'approval_given', ?, ?, ?, ?, ?, ?, ?)`,
  ).run(ts, vlan, a.ip, a.proto, a.port, app, detail, sensor);
}

/** Approves one service (given again: the approval is replaced, and logged again). */
export function approve(db: Db, a: ApprovalInput, ts = Date.now() / 1000): void {
  db.transaction(() => approveOne(db, a, ts, null)).immediate();
}

/** Withdraws an approval; false when there was none. */
export interface WithdrawInput {
  ip: string;
  proto: 'tcp' | 'udp';
  port: number;
  vlan?: number;
  by: string;
  reason: string;
}

export function withdraw(db: Db, a: WithdrawInput, ts = Date.now() / 1000): boolean {
  return db
    .transaction(() => {
      const found = db.prepare(`SELECT vlan FROM approval WHERE ip = ? AND proto = ? AND port = ?`).get(a.ip, a.proto, a.port) as
        | { vlan: number }
        | undefined;
      const vlan = a.vlan ?? found?.vlan;
      if (vlan === undefined) return false;
      const r = db.prepare(`DELETE FROM approval WHERE vlan = ? AND ip = ? AND proto = ? AND port = ?`).run(vlan, a.ip, a.proto, a.port);
      if (r.changes === 0) return false;
      const detail = `${a.ip} ${a.proto}/${a.port} approval withdrawn by ${a.by}: ${a.reason}`;
      db.prepare(`INSERT INTO change (ts, kind, vlan, ip, proto, port, app, detail, sensor)
      VALUES (?, 'approval_withdrawn', ?, ?, ?, ?, NULL, ?, NULL)`).run(ts, vlan, a.ip, a.proto, a.port, detail);
      return true;
    })
    .immediate();
}

/** Approved services with the application seen there (for the detector). */
export interface ApprovedService {
  vlan: number;
  ip: string;
  proto: 'tcp' | 'udp';
  port: number;
  ts: number;
  app: string | null;
}

export function approvedServices(db: Db): ApprovedService[] {
  return db
    .prepare(
      `SELECT a.vlan, a.ip, a.proto, a.port, a.ts, s.app FROM approval a
     LEFT JOIN service s ON s.vlan = a.vlan AND s.ip = a.ip AND s.proto = a.proto AND s.port = a.port
     ORDER BY a.vlan, a.ip, a.proto, a.port`,
    )
    .all() as ApprovedService[];
}

/** Largest CSV accepted by import (a port list, not a data dump). */
export const MAX_CSV_BYTES = 32 * 1024 * 1024;

/** RFC 4180 rows (quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
    i++;
  }
  if (quoted) throw new InventoryError('CSV: a quoted field is not closed');
  row.push(field);
  if (row.length > 1 || row[0] !== '') rows.push(row);
  return rows;
}

/**
 * Imports approvals from CSV with a header row. Columns (any order, names
 * case-insensitive): ip, and either service ("tcp/502") or proto + port,
 * reason, by (or approved_by), optional ticket and vlan. All rows or none:
 * a bad row names its line and nothing is written.
 */
export function importCsv(db: Db, text: string, ts = Date.now() / 1000): number {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  if (rows.length === 0) throw new InventoryError('CSV: empty file');
  const head = rows[0].map((h) => h.trim().toLowerCase());
  const col = (...names: string[]) => head.findIndex((h) => names.includes(h));
  const cIp = col('ip', 'address');
  const cSvc = col('service');
  const cProto = col('proto', 'protocol');
  const cPort = col('port');
  const cReason = col('reason', 'justification');
  const cBy = col('by', 'approved_by', 'approver');
  const cTicket = col('ticket');
  const cVlan = col('vlan');
  if (cIp < 0 || cReason < 0 || cBy < 0 || (cSvc < 0 && (cProto < 0 || cPort < 0))) {
    throw new InventoryError('CSV: the header needs ip, service (or proto and port), reason and by columns');
  }
  const inputs: ApprovalInput[] = [];
  for (let r = 1; r < rows.length; r++) {
    const f = rows[r];
    const at = `CSV line ${r + 1}`;
    try {
      const [proto, port] = cSvc >= 0 ? parseService(f[cSvc] ?? '') : parseService(`${f[cProto] ?? ''}/${f[cPort] ?? ''}`);
      const vtext = cVlan >= 0 ? (f[cVlan] ?? '').trim() : '';
      if (vtext !== '' && !/^\d{1,4}$/.test(vtext)) throw new InventoryError(`bad vlan '${vtext}'`);
      inputs.push({
        ip: checkIp((f[cIp] ?? '').trim()),
        proto,
        port,
        reason: (f[cReason] ?? '').trim(),
        by: (f[cBy] ?? '').trim(),
        ticket: cTicket >= 0 && (f[cTicket] ?? '').trim() !== '' ? f[cTicket].trim() : null,
        vlan: vtext === '' ? undefined : Number(vtext),
      });
    } catch (e) {
      throw new InventoryError(`${at}: ${(e as Error).message}`);
    }
  }
  db.transaction(() => {
    for (let i = 0; i < inputs.length; i++) {
      try {
        approveOne(db, inputs[i], ts, null);
      } catch (e) {
        throw new InventoryError(`CSV line ${i + 2}: ${(e as Error).message}`);
      }
    }
  }).immediate();
  return inputs.length;
}

/** Deletes history before `before` (explicit and logged in prune_log); returns the rows deleted. */
export function prune(db: Db, before: number, by: string, ts = Date.now() / 1000): number {
  return db
    .transaction(() => {
      db.prepare(`UPDATE meta SET value = '1' WHERE key = 'pruning'`).run();
      const n = db.prepare(`DELETE FROM change WHERE ts < ?`).run(before).changes;
      db.prepare(`UPDATE meta SET value = '0' WHERE key = 'pruning'`).run();
      db.prepare(`INSERT INTO prune_log (ts, before_ts, rows_deleted, pruned_by) VALUES (?, ?, ?, ?)`).run(ts, before, n, by);
      return n;
    })
    .immediate();
}

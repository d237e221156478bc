// The report's four tables, defined once: the HTML page, the CSV files and
// the JSON lines all come from these columns and rows, so they say the same.
//   assets    the asset inventory
//   services  open ports and services with status and approval (CIP-007 R1)
//   changes   what changed since --since (CIP-010 R1/R2 review)
//   alerts    in time order
import { parseIp } from '../flows/community-id.js';
import type { Policy } from '../detect/policy.js';
import type { ReportAsset, ReportRole, ReportSnapshot } from './model.js';

/** How a column's values are shown and sorted: ts columns hold epoch seconds. */
export type ColumnKind = 'text' | 'num' | 'ts' | 'list';

export interface Column {
  key: string;
  label: string;
  kind: ColumnKind;
}

export type Cell = string | number | null | string[];

export interface Table {
  name: 'assets' | 'services' | 'changes' | 'alerts';
  title: string;
  columns: Column[];
  rows: Cell[][];
}

const col = (key: string, label: string, kind: ColumnKind = 'text'): Column => ({ key, label, kind });

export const ASSET_COLUMNS: Column[] = [
  col('ip', 'IP'),
  col('vlan', 'VLAN', 'num'),
  col('zone', 'Zone'),
  col('mac', 'MAC'),
  col('mac_vendor', 'MAC vendor'),
  col('roles', 'Roles', 'list'),
  col('vendor', 'Vendor'),
  col('product', 'Product'),
  col('revision', 'Revision'),
  col('identity', 'Identity', 'list'),
  col('services', 'Services', 'list'),
  col('unapproved', 'Unapproved', 'num'),
  col('alerts', 'Alerts', 'num'),
  col('first_ts', 'First seen', 'ts'),
  col('last_ts', 'Last seen', 'ts'),
  col('sensors', 'Sensors', 'list'),
];

export const SERVICE_COLUMNS: Column[] = [
  col('ip', 'IP'),
  col('vlan', 'VLAN', 'num'),
  col('zone', 'Zone'),
  col('proto', 'Proto'),
  col('port', 'Port', 'num'),
  col('app', 'Application'),
  col('status', 'Status'),
  col('reason', 'Reason'),
  col('approver', 'Approver'),
  col('ticket', 'Ticket'),
  col('approved_ts', 'Approved', 'ts'),
  col('first_ts', 'First seen', 'ts'),
  col('last_ts', 'Last seen', 'ts'),
  col('flows', 'Flows', 'num'),
  col('clients', 'Clients', 'num'),
  col('classes', 'Function classes', 'list'),
  col('alerts', 'Alerts', 'num'),
];

export const CHANGE_COLUMNS: Column[] = [
  col('ts', 'Time', 'ts'),
  col('kind', 'Change'),
  col('ip', 'IP'),
  col('proto', 'Proto'),
  col('port', 'Port', 'num'),
  col('app', 'Application'),
  col('detail', 'Detail'),
];

export const ALERT_COLUMNS: Column[] = [
  col('ts', 'Time', 'ts'),
  col('kind', 'Kind'),
  col('severity', 'Severity'),
  col('client', 'Client'),
  col('server', 'Server'),
  col('proto', 'Proto'),
  col('port', 'Port', 'num'),
  col('app', 'Application'),
  col('detail', 'Detail'),
];

/** Zone of an address under a policy; null without a policy or for text that is no address. */
export function zoneOfIp(policy: Policy | null, ip: string): string | null {
  if (policy === null) return null;
  let b: Uint8Array;
  try {
    b = parseIp(ip);
  } catch {
    return null;
  }
  const w = (i: number) => (i < b.length ? ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0 : 0);
  return policy.zoneOf(b.length === 16, w(0), w(4), w(8), w(12))?.name ?? null;
}

export function roleText(r: ReportRole): string {
  const ids = r.ids.length > 0 ? ` ${r.ids.slice(0, 8).join(',')}${r.ids.length > 8 ? ',…' : ''}` : '';
  return `${r.app} ${r.role}${r.term && r.term !== r.role ? ` (${r.term})` : ''}${ids}`;
}

const str = (v: unknown): string | null => (v === undefined || v === null || v === '' ? null : String(v));

/** The identity keys shown in their own columns; the rest go to "Identity". */
const VENDOR_KEYS = ['vendor', 'vendor_name'];
const PRODUCT_KEYS = ['product', 'product_name', 'product_code', 'application_name', 'model'];
const REVISION_KEYS = ['revision', 'firmware', 'version'];

export function identityParts(a: ReportAsset): { vendor: string | null; product: string | null; revision: string | null; rest: string[] } {
  const id = a.identity ?? {};
  const shown = new Set<string>();
  const take = (keys: readonly string[]) => {
    for (const k of keys) {
      if (str(id[k]) !== null) {
        shown.add(k);
        return String(id[k]);
      }
    }
    return null;
  };
  const vendor = take(VENDOR_KEYS);
  const product = take(PRODUCT_KEYS);
  const revision = take(REVISION_KEYS);
  const rest = Object.keys(id)
    .filter((k) => !shown.has(k) && str(id[k]) !== null)
    .map((k) => `${k}=${id[k]}`);
  return { vendor, product, revision, rest };
}

export const serviceKey = (ip: string, proto: string | null, port: number | null): string => `${ip}|${proto ?? ''}|${port ?? ''}`;

/** Alerts per server endpoint and per asset (as client or server). */
export function alertCounts(s: ReportSnapshot): { byService: Map<string, number>; byIp: Map<string, number> } {
  const byService = new Map<string, number>();
  const byIp = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const a of s.alerts) {
    if (a.server !== null) {
      inc(byIp, a.server);
      if (a.port !== null) inc(byService, serviceKey(a.server, a.proto, a.port));
    }
    if (a.client !== null && a.client !== a.server) inc(byIp, a.client);
  }
  return { byService, byIp };
}

export function buildTables(s: ReportSnapshot, policy: Policy | null): Table[] {
  const { byService, byIp } = alertCounts(s);
  const assets: Cell[][] = [];
  const services: Cell[][] = [];
  for (const a of s.assets) {
    const zone = zoneOfIp(policy, a.ip);
    const idp = identityParts(a);
    let unapproved = 0;
    for (const v of a.services) {
      if (v.status === 'unapproved') unapproved++;
      services.push([
        a.ip,
        a.vlan,
        zone,
        v.proto,
        v.port,
        str(v.app),
        v.status,
        str(v.reason),
        str(v.approver),
        str(v.ticket),
        v.approved_ts ?? null,
        v.first_ts,
        v.last_ts,
        v.flows,
        v.clients,
        v.classes,
        byService.get(serviceKey(a.ip, v.proto, v.port)) ?? 0,
      ]);
    }
    assets.push([
      a.ip,
      a.vlan,
      zone,
      str(a.mac),
      str(a.vendor),
      a.roles.map(roleText),
      idp.vendor,
      idp.product,
      idp.revision,
      idp.rest,
      a.services.map((v) => `${v.proto}/${v.port}${v.app ? ` ${v.app}` : ''}`),
      unapproved,
      byIp.get(a.ip) ?? 0,
      a.first_ts,
      a.last_ts,
      a.sensors,
    ]);
  }
  const changes: Cell[][] = s.changes
    .filter((c) => s.since === null || c.ts >= s.since)
    .sort((x, y) => x.ts - y.ts)
    .map((c) => [c.ts, c.kind, str(c.ip), str(c.proto), c.port, str(c.app), str(c.detail)]);
  const alerts: Cell[][] = [...s.alerts]
    .sort((x, y) => x.ts - y.ts)
    .map((a) => [a.ts, a.kind, a.severity, str(a.client), str(a.server), str(a.proto), a.port, str(a.app), str(a.detail)]);
  return [
    { name: 'assets', title: 'Assets', columns: ASSET_COLUMNS, rows: assets },
    { name: 'services', title: 'Open ports and services', columns: SERVICE_COLUMNS, rows: services },
    { name: 'changes', title: 'Changes', columns: CHANGE_COLUMNS, rows: changes },
    { name: 'alerts', title: 'Alerts', columns: ALERT_COLUMNS, rows: alerts },
  ];
}

// Reading the inventory back as plain typed objects: what `inventory show`
// prints and what `otwatch report` renders. Assets stream one at a time
// (eachAsset: one ordered pass per table, merged by (vlan, ip)), so a million
// services are never all in memory; loadSnapshot collects them for callers
// that want the whole picture (the report of up to ~10 000 assets).
import type { AlertRec } from './batch.js';
import type { Db } from './db.js';
import { DEFAULT_STALE_AFTER, type ServiceStatus } from './schema.js';

export interface Approval {
  reason: string;
  by: string;
  ticket: string | null;
  ts: number;
}

export interface ServiceView {
  proto: 'tcp' | 'udp';
  port: number;
  /** Application confirmed by content; null when none of the dissectors recognised it. */
  app: string | null;
  status: ServiceStatus;
  first_ts: number;
  last_ts: number;
  flows: number;
  /** Distinct client addresses. */
  clients: number;
  /** Function classes used on this service (read, write, control, ...). */
  classes: string[];
  /** Set when approved (kept on a stale service too). */
  approval: Approval | null;
  /** The new_listener alert that marked it unapproved. */
  alert: { ts: number; community_id: string | null } | null;
}

export interface ProtocolId {
  /** e.g. unit_id, link_address, common_address, endpoint_url, security_policy. */
  kind: string;
  value: string | number;
}

export interface RoleView {
  app: string;
  role: 'client' | 'server';
  /** The protocol's own word (master, outstation, controlling, ...). */
  term: string;
  /** Protocol addresses the asset used or answered to in this role. */
  ids: ProtocolId[];
  first_ts: number;
  last_ts: number;
}

export interface AssetView {
  ip: string;
  vlan: number | null;
  mac: string | null;
  vendor: string | null;
  first_ts: number;
  last_ts: number;
  sensors: string[];
  roles: RoleView[];
  /** Device identity from the traffic (vendor, product_code, revision, application_uri, ...). */
  identity: Record<string, string>;
  /** Which protocol reported each identity key. */
  identity_app: Record<string, string>;
  services: ServiceView[];
}

export interface ChangeView {
  ts: number;
  kind: string;
  ip: string;
  vlan: number | null;
  proto: string | null;
  port: number | null;
  app: string | null;
  detail: string;
  sensor: string | null;
}

export interface AlertView {
  ts: number;
  kind: string;
  severity: string;
  community_id: string | null;
  proto: string | null;
  vlan: number | null;
  client: { ip: string; port: number } | null;
  server: { ip: string; port: number } | null;
  app: string | null;
  detail: string;
}

export interface Snapshot {
  /** Capture time the statuses were computed at: the newest last_ts seen (0 when empty). */
  now: number;
  stale_after: number;
  /** Observation window: earliest first_ts and latest last_ts of any asset. */
  window: { first_ts: number; last_ts: number };
  sensors: string[];
  assets: AssetView[];
  /** Changes since `since`, oldest first. */
  changes: ChangeView[];
  /** Alerts since `since`, oldest first. */
  alerts: AlertView[];
}

export interface SnapshotOptions {
  /** Epoch seconds: changes and alerts at or after this time (default: all). */
  since?: number;
  /** Seconds without traffic after which a service is stale (default 35 days). */
  staleAfter?: number;
  /** Reference time for staleness (default: the newest last_ts in the inventory). */
  now?: number;
}

export function loadSnapshot(db: Db, opts: SnapshotOptions = {}): Snapshot {
  const staleAfter = opts.staleAfter ?? DEFAULT_STALE_AFTER;
  const w = inventoryWindow(db);
  const now = opts.now ?? w.last_ts;
  const assets: AssetView[] = [];
  for (const a of eachAsset(db, { staleAfter, now })) assets.push(a);
  const rows = db.prepare(`SELECT DISTINCT sensor FROM asset_sensor ORDER BY sensor`).all() as { sensor: string }[];
  const sensors = rows.map((r) => r.sensor);
  const changes = [...eachChange(db, opts.since)];
  return { now, stale_after: staleAfter, window: w, sensors, assets, changes, alerts: [...eachAlert(db, opts.since)] };
}

export function inventoryWindow(db: Db): { first_ts: number; last_ts: number } {
  const r = db.prepare(`SELECT MIN(first_ts) AS f, MAX(last_ts) AS l FROM asset`).get() as { f: number | null; l: number | null };
  return { first_ts: r.f ?? 0, last_ts: r.l ?? 0 };
}

/** Status of a service, derived (never stored), in this order: stale, approved, unapproved, baseline. */
export function serviceStatus(lastTs: number, approved: boolean, alerted: boolean, now: number, staleAfter: number): ServiceStatus {
  if (now - lastTs > staleAfter) return 'stale';
  if (approved) return 'approved';
  if (alerted) return 'unapproved';
  return 'baseline';
}

const vlanOut = (v: number): number | null => (v < 0 ? null : v);

/** Rows of one table ordered by (vlan, ip, ...), read alongside the assets. */
class Cursor<R extends { vlan: number; ip: string }> {
  private readonly it: Iterator<R>;
  private cur: R | undefined;
  constructor(it: Iterable<unknown>) {
    this.it = (it as Iterable<R>)[Symbol.iterator]();
    this.cur = this.it.next().value as R | undefined;
  }
  /** Calls fn for each row of asset (vlan, ip); rows of keys before it are skipped. */
  take(vlan: number, ip: string, fn: (r: R) => void): void {
    let r = this.cur;
    while (r !== undefined && (r.vlan < vlan || (r.vlan === vlan && r.ip < ip))) r = this.it.next().value as R | undefined;
    while (r !== undefined && r.vlan === vlan && r.ip === ip) {
      fn(r);
      r = this.it.next().value as R | undefined;
    }
    this.cur = r;
  }
  close(): void {
    this.it.return?.();
  }
}

interface AssetRow {
  vlan: number;
  ip: string;
  mac: string | null;
  vendor: string | null;
  first_ts: number;
  last_ts: number;
}
interface SensorRow {
  vlan: number;
  ip: string;
  sensor: string;
}
interface RoleRow {
  vlan: number;
  ip: string;
  app: string;
  role: 'client' | 'server';
  term: string;
  first_ts: number;
  last_ts: number;
}
interface AddrRow {
  vlan: number;
  ip: string;
  app: string;
  role: string;
  kind: string;
  value: string;
}
interface IdRow {
  vlan: number;
  ip: string;
  app: string;
  key: string;
  value: string;
}
interface SvcRow {
  vlan: number;
  ip: string;
  proto: 'tcp' | 'udp';
  port: number;
  app: string | null;
  first_ts: number;
  last_ts: number;
  flows: number;
  clients: number;
  alert_ts: number | null;
  alert_community_id: string | null;
  reason: string | null;
  approved_by: string | null;
  ticket: string | null;
  approval_ts: number | null;
}
interface ClassRow {
  vlan: number;
  ip: string;
  proto: string;
  port: number;
  class: string;
}

const CLASS_ORDER = ['read', 'write', 'control', 'config', 'diagnostic', 'session', 'other'];

/** Every asset with its roles, identity and services, in (vlan, ip) order. */
export function* eachAsset(db: Db, opts: { staleAfter?: number; now?: number } = {}): Generator<AssetView> {
  const staleAfter = opts.staleAfter ?? DEFAULT_STALE_AFTER;
  const now = opts.now ?? inventoryWindow(db).last_ts;
  const assets = db.prepare(`SELECT vlan, ip, mac, vendor, first_ts, last_ts FROM asset ORDER BY vlan, ip`).iterate() as Iterable<AssetRow>;
  const sensors = new Cursor<SensorRow>(db.prepare(`SELECT vlan, ip, sensor FROM asset_sensor ORDER BY vlan, ip, sensor`).iterate());
  const roles = new Cursor<RoleRow>(
    db.prepare(`SELECT vlan, ip, app, role, term, first_ts, last_ts FROM asset_role ORDER BY vlan, ip, app, role`).iterate(),
  );
  const addrs = new Cursor<AddrRow>(
    db.prepare(`SELECT vlan, ip, app, role, kind, value FROM asset_address ORDER BY vlan, ip, app, role, kind, value`).iterate(),
  );
  const ids = new Cursor<IdRow>(db.prepare(`SELECT vlan, ip, app, key, value FROM asset_identity ORDER BY vlan, ip, app, key`).iterate());
  const svcs = new Cursor<SvcRow>(
    db
      .prepare(
        `SELECT s.vlan, s.ip, s.proto, s.port, s.app, s.first_ts, s.last_ts, s.flows, s.clients, s.alert_ts, s.alert_community_id,
         a.reason, a.approved_by, a.ticket, a.ts AS approval_ts
       FROM service s LEFT JOIN approval a ON a.vlan = s.vlan AND a.ip = s.ip AND a.proto = s.proto AND a.port = s.port
       ORDER BY s.vlan, s.ip, s.proto, s.port`,
      )
      .iterate(),
  );
  const classes = new Cursor<ClassRow>(
    db.prepare(`SELECT vlan, ip, proto, port, class FROM service_class ORDER BY vlan, ip, proto, port`).iterate(),
  );
  try {
    for (const a of assets) {
      const view: AssetView = {
        ip: a.ip,
        vlan: vlanOut(a.vlan),
        mac: a.mac,
        vendor: a.vendor,
        first_ts: a.first_ts,
        last_ts: a.last_ts,
        sensors: [],
        roles: [],
        identity: {},
        identity_app: {},
        services: [],
      };
      sensors.take(a.vlan, a.ip, (r) => view.sensors.push(r.sensor));
      roles.take(a.vlan, a.ip, (r) => {
        view.roles.push({ app: r.app, role: r.role, term: r.term, ids: [], first_ts: r.first_ts, last_ts: r.last_ts });
      });
      addrs.take(a.vlan, a.ip, (r) => {
        const role = view.roles.find((x) => x.app === r.app && x.role === r.role);
        if (role !== undefined) role.ids.push({ kind: r.kind, value: /^(0|[1-9][0-9]{0,14})$/.test(r.value) ? Number(r.value) : r.value });
      });
      ids.take(a.vlan, a.ip, (r) => {
        view.identity[r.key] = r.value;
        view.identity_app[r.key] = r.app;
      });
      const byKey = new Map<string, string[]>();
      classes.take(a.vlan, a.ip, (r) => {
        const k = `${r.proto}/${r.port}`;
        const l = byKey.get(k);
        if (l === undefined) byKey.set(k, [r.class]);
        else l.push(r.class);
      });
      svcs.take(a.vlan, a.ip, (r) => {
        const approval = r.reason === null ? null : { reason: r.reason, by: r.approved_by ?? '', ticket: r.ticket, ts: r.approval_ts ?? 0 };
        const cls = byKey.get(`${r.proto}/${r.port}`) ?? [];
        cls.sort((x, y) => CLASS_ORDER.indexOf(x) - CLASS_ORDER.indexOf(y));
        view.services.push({
          proto: r.proto,
          port: r.port,
          app: r.app,
          status: serviceStatus(r.last_ts, approval !== null, r.alert_ts !== null, now, staleAfter),
          first_ts: r.first_ts,
          last_ts: r.last_ts,
          flows: r.flows,
          clients: r.clients,
          classes: cls,
          approval,
          alert: r.alert_ts === null ? null : { ts: r.alert_ts, community_id: r.alert_community_id },
        });
      });
      yield view;
    }
  } finally {
    for (const c of [sensors, roles, addrs, ids, svcs, classes]) c.close();
  }
}

interface ChangeRow {
  ts: number;
  kind: string;
  vlan: number;
  ip: string;
  proto: string | null;
  port: number | null;
  app: string | null;
  detail: string;
  sensor: string | null;
}

/** History rows at or after `since` (all when undefined), oldest first. */
export function* eachChange(db: Db, since?: number): Generator<ChangeView> {
  const rows = db
    .prepare(`SELECT ts, kind, vlan, ip, proto, port, app, detail, sensor FROM change WHERE ts >= ? ORDER BY ts, id`)
    .iterate(since ?? -1) as Iterable<ChangeRow>;
  for (const r of rows) {
    const { ts, kind, ip, proto, port, app, detail, sensor } = r;
    yield { ts, kind, ip, vlan: vlanOut(r.vlan), proto, port, app, detail, sensor };
  }
}

/** An alert row is stored as the batch carries it. */
type AlertRow = AlertRec;

/** Alerts at or after `since`, oldest first. */
export function* eachAlert(db: Db, since?: number): Generator<AlertView> {
  const rows = db.prepare(`SELECT * FROM alert WHERE ts >= ? ORDER BY ts, kind, detail`).iterate(since ?? -1) as Iterable<AlertRow>;
  for (const r of rows) {
    yield {
      ts: r.ts,
      kind: r.kind,
      severity: r.severity,
      community_id: r.community_id,
      proto: r.proto,
      vlan: vlanOut(r.vlan),
      client: r.client_ip === null ? null : { ip: r.client_ip, port: r.client_port ?? 0 },
      server: r.server_ip === null ? null : { ip: r.server_ip, port: r.server_port ?? 0 },
      app: r.app,
      detail: r.detail,
    };
  }
}

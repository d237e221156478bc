// The report's snapshot from an inventory database: the inventory's own
// snapshot (src/inventory/snapshot.ts) reshaped, plus the client -> server
// pairs of every service (service_client) that the map draws as edges.
import type { Db } from '../inventory/db.js';
import { loadSnapshot, type AssetView } from '../inventory/snapshot.js';
import type { ReportAsset, ReportSnapshot, ReportTalk } from './model.js';

export interface FromInventoryOptions {
  /** Changes and alerts at or after this time (epoch seconds); null: all. */
  since: number | null;
  staleAfter?: number;
}

export function reportAsset(a: AssetView): ReportAsset {
  return {
    ip: a.ip,
    vlan: a.vlan,
    mac: a.mac,
    vendor: a.vendor,
    first_ts: a.first_ts,
    last_ts: a.last_ts,
    sensors: a.sensors,
    roles: a.roles.map((r) => ({ app: r.app, role: r.role, term: r.term, ids: r.ids.map((i) => i.value) })),
    identity: a.identity,
    services: a.services.map((v) => ({
      proto: v.proto,
      port: v.port,
      app: v.app,
      status: v.status,
      first_ts: v.first_ts,
      last_ts: v.last_ts,
      flows: v.flows,
      clients: v.clients,
      classes: v.classes,
      reason: v.approval?.reason ?? null,
      approver: v.approval?.by ?? null,
      ticket: v.approval?.ticket ?? null,
      approved_ts: v.approval?.ts ?? null,
    })),
  };
}

export function reportFromInventory(db: Db, o: FromInventoryOptions): ReportSnapshot {
  const snap = loadSnapshot(db, { since: o.since ?? undefined, staleAfter: o.staleAfter });
  const assets = snap.assets.map(reportAsset);
  const svc = new Map<string, { app: string | null; classes: string[] }>();
  for (const a of snap.assets) for (const v of a.services) svc.set(`${a.vlan ?? -1}|${a.ip}|${v.proto}|${v.port}`, v);
  const talks: ReportTalk[] = [];
  const rows = db.prepare('SELECT vlan, ip, proto, port, client FROM service_client').iterate() as Iterable<{
    vlan: number;
    ip: string;
    proto: string;
    port: number;
    client: string;
  }>;
  for (const r of rows) {
    const v = svc.get(`${r.vlan}|${r.ip}|${r.proto}|${r.port}`);
    talks.push({
      client: r.client,
      server: r.ip,
      vlan: r.vlan < 0 ? null : r.vlan,
      proto: r.proto,
      port: r.port,
      app: v?.app ?? null,
      flows: null,
      classes: v?.classes ?? [],
    });
  }
  const empty = snap.assets.length === 0;
  return {
    first_ts: empty ? null : snap.window.first_ts,
    last_ts: empty ? null : snap.window.last_ts,
    sensors: snap.sensors,
    since: o.since,
    assets,
    changes: snap.changes.map((c) => ({ ts: c.ts, kind: c.kind, ip: c.ip, proto: c.proto, port: c.port, app: c.app, detail: c.detail })),
    alerts: snap.alerts.map((a) => ({
      ts: a.ts,
      kind: a.kind,
      severity: a.severity,
      client: a.client?.ip ?? null,
      server: a.server?.ip ?? null,
      proto: a.proto,
      port: a.server?.port ?? null,
      app: a.app,
      detail: a.detail,
    })),
    talks,
  };
}

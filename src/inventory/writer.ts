// Writes one Batch into the inventory in one transaction: upserts of assets,
// roles, protocol addresses, identity and services, and a history row for
// every fact that is new (the database, not memory, says what is new, so
// several sensors or runs share one inventory). A failed write (disk full)
// rolls back as a whole: history already committed stays intact.
import type { Db } from './db.js';
import { FUNCTION_CLASSES } from '../dissectors/module.js';
import type { AlertRec, Batch, ServiceAgg } from './batch.js';
import type { ChangeKind } from './schema.js';
import { macVendor } from './oui.js';

/** Distinct client rows kept per service (the `clients` count stops there). */
export const MAX_SERVICE_CLIENTS = 10_000;

interface SvcNow {
  app: string | null;
  stale: number;
  last_ts: number;
  clients: number;
}
interface StaleRow {
  vlan: number;
  ip: string;
  proto: string;
  port: number;
  app: string | null;
  last_ts: number;
}

export interface WriteResult {
  assets: number;
  services: number;
  changes: number;
}

/** Rows this connection has seen committed, kept until this many (rows are never deleted: asset, role, client, class). */
const MAX_KNOWN = 1 << 20;

export class InventoryWriter {
  private readonly st;
  /** Keys of rows known to exist: their insert-or-ignore is skipped (a warm sensor's batches are mostly these). */
  private readonly known = new Set<string>();
  private changes = 0;
  /** Capture clock of the last stale sweep (a sweep reads every service: once a minute of capture time). */
  private sweptAt = 0;

  constructor(
    private readonly db: Db,
    readonly sensor: string,
    readonly staleAfter: number,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.st = {
      assetIns: p(`INSERT INTO asset (vlan, ip, mac, vendor, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (vlan, ip) DO NOTHING`),
      assetUpd: p(`UPDATE asset SET
          first_ts = CASE WHEN first_ts > ? THEN ? ELSE first_ts END,
          last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END,
          mac = COALESCE(mac, ?), vendor = COALESCE(vendor, ?)
        WHERE vlan = ? AND ip = ?`),
      sensorUp: p(`INSERT INTO asset_sensor (vlan, ip, sensor, first_ts, last_ts) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (vlan, ip, sensor) DO UPDATE SET
        last_ts = CASE WHEN asset_sensor.last_ts < excluded.last_ts THEN excluded.last_ts ELSE asset_sensor.last_ts END`),
      roleIns: p(`INSERT INTO asset_role (vlan, ip, app, role, term, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (vlan, ip, app, role) DO NOTHING`),
      roleUpd: p(`UPDATE asset_role SET last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END
        WHERE vlan = ? AND ip = ? AND app = ? AND role = ?`),
      addrIns: p(`INSERT INTO asset_address (vlan, ip, app, role, kind, value, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (vlan, ip, app, role, kind, value) DO UPDATE SET
        last_ts = CASE WHEN asset_address.last_ts < excluded.last_ts THEN excluded.last_ts ELSE asset_address.last_ts END`),
      idGet: p(`SELECT value, ts FROM asset_identity WHERE vlan = ? AND ip = ? AND app = ? AND key = ?`),
      idValIns: p(`INSERT INTO asset_identity_value (vlan, ip, app, key, value, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (vlan, ip, app, key, value) DO NOTHING`),
      idValUpd: p(`UPDATE asset_identity_value SET last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END
        WHERE vlan = ? AND ip = ? AND app = ? AND key = ? AND value = ?`),
      idUp: p(`INSERT INTO asset_identity (vlan, ip, app, key, value, ts) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (vlan, ip, app, key) DO UPDATE SET value = excluded.value, ts = excluded.ts`),
      svcGet: p(`SELECT app, stale, last_ts, clients FROM service WHERE vlan = ? AND ip = ? AND proto = ? AND port = ?`),
      svcIns: p(`INSERT INTO service (vlan, ip, proto, port, app, first_ts, last_ts, flows, clients, stale)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)`),
      svcUpd: p(`UPDATE service SET app = COALESCE(?, app),
          first_ts = CASE WHEN first_ts > ? THEN ? ELSE first_ts END,
          last_ts = CASE WHEN last_ts < ? THEN ? ELSE last_ts END,
          flows = flows + ?, stale = 0
        WHERE vlan = ? AND ip = ? AND proto = ? AND port = ?`),
      clientIns: p(`INSERT INTO service_client (vlan, ip, proto, port, client) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      clientsAdd: p(`UPDATE service SET clients = clients + ? WHERE vlan = ? AND ip = ? AND proto = ? AND port = ?`),
      classIns: p(`INSERT INTO service_class (vlan, ip, proto, port, class, first_ts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      alertFind: p(`SELECT ts, community_id FROM alert
        WHERE kind = 'new_listener' AND vlan = ? AND server_ip = ? AND proto = ? AND server_port = ? ORDER BY ts LIMIT 1`),
      alertLink: p(`UPDATE service SET alert_ts = ?, alert_community_id = ?
        WHERE vlan = ? AND ip = ? AND proto = ? AND port = ? AND alert_ts IS NULL`),
      alertIns: p(`INSERT INTO alert
        (ts, kind, severity, community_id, vlan, client_ip, client_port, server_ip, server_port, proto, app, detail)
        VALUES (@ts, @kind, @severity, @community_id, @vlan, @client_ip, @client_port, @server_ip, @server_port, @proto, @app, @detail)`),
      staleFind: p(`SELECT vlan, ip, proto, port, app, last_ts FROM service WHERE stale = 0 AND last_ts < ?`),
      staleSet: p(`UPDATE service SET stale = 1 WHERE vlan = ? AND ip = ? AND proto = ? AND port = ?`),
      change: p(`INSERT INTO change (ts, kind, vlan, ip, proto, port, app, detail, sensor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    };
  }

  private log(
    ts: number,
    kind: ChangeKind,
    vlan: number,
    ip: string,
    proto: string | null,
    port: number | null,
    app: string | null,
    detail: string,
  ): void {
    this.st.change.run(ts, kind, vlan, ip, proto, port, app, detail, this.sensor);
    this.changes++;
  }

  /** Writes the batch in one transaction and empties it. Throws (the batch kept) when the write fails. */
  write(b: Batch, final = false): WriteResult {
    const c0 = this.changes;
    const res = { assets: b.assets.size, services: b.services.size, changes: 0 };
    if (this.known.size > MAX_KNOWN) this.known.clear();
    try {
      this.db.transaction(() => this.apply(b, final)).immediate();
    } catch (e) {
      this.changes = c0;
      this.known.clear(); // some keys were added for rows the rollback undid
      throw e;
    }
    res.changes = this.changes - c0;
    b.clear();
    return res;
  }

  private apply(b: Batch, final: boolean): void {
    const s = this.st;
    for (const a of b.assets.values()) {
      const vendor = a.mac === null ? null : macVendor(a.mac);
      const ak = `${a.vlan} ${a.ip}`;
      if (!this.known.has(ak) && s.assetIns.run(a.vlan, a.ip, a.mac, vendor, a.first, a.last).changes === 1) {
        const mac = a.mac === null ? '' : ` (MAC ${a.mac}${vendor === null ? '' : `, ${vendor}`})`;
        this.log(a.first, 'asset_appeared', a.vlan, a.ip, null, null, null, `${a.ip} appeared${mac}`);
      } else {
        s.assetUpd.run(a.first, a.first, a.last, a.last, a.mac, vendor, a.vlan, a.ip);
      }
      this.known.add(ak);
      s.sensorUp.run(a.vlan, a.ip, this.sensor, a.first, a.last);
      for (const r of a.roles.values()) {
        const rk = `${ak}\0${r.app}\0${r.role}`;
        if (!this.known.has(rk) && s.roleIns.run(a.vlan, a.ip, r.app, r.role, r.term, r.first, r.last).changes === 1) {
          this.log(r.first, 'role_appeared', a.vlan, a.ip, null, null, r.app, `${a.ip} acts as ${r.app} ${r.role} (${r.term})`);
        } else s.roleUpd.run(r.last, r.last, a.vlan, a.ip, r.app, r.role);
        this.known.add(rk);
      }
      for (const f of a.facts.values()) {
        if (f.what === 'address') {
          s.addrIns.run(a.vlan, a.ip, f.app, f.role, f.key, f.value, f.first, f.last);
          continue;
        }
        // asset_identity holds the latest value; a history row only for a value never seen for this key.
        const fresh = s.idValIns.run(a.vlan, a.ip, f.app, f.key, f.value, f.first, f.last).changes === 1;
        if (!fresh) s.idValUpd.run(f.last, f.last, a.vlan, a.ip, f.app, f.key, f.value);
        const old = s.idGet.get(a.vlan, a.ip, f.app, f.key) as { value: string; ts: number } | undefined;
        if (old === undefined || (old.value !== f.value && f.last >= old.ts)) s.idUp.run(a.vlan, a.ip, f.app, f.key, f.value, f.last);
        if (!fresh) continue;
        const what =
          old === undefined
            ? `${f.key} is ${JSON.stringify(f.value)}`
            : `${f.key} changed from ${JSON.stringify(old.value)} to ${JSON.stringify(f.value)}`;
        this.log(f.last, 'identity_changed', a.vlan, a.ip, null, null, f.app, `${a.ip} ${f.app} ${what}`);
      }
    }
    for (const v of b.services.values()) this.service(v);
    for (const al of b.alerts) this.alert(al);
    if (final || b.clock - this.sweptAt >= 60) {
      this.staleSweep(b.clock);
      this.sweptAt = b.clock;
    }
  }

  private service(v: ServiceAgg): void {
    const s = this.st;
    const ep = `${v.ip} ${v.proto}/${v.port}`;
    const old = s.svcGet.get(v.vlan, v.ip, v.proto, v.port) as SvcNow | undefined;
    if (old === undefined) {
      s.svcIns.run(v.vlan, v.ip, v.proto, v.port, v.app, v.first, v.last, v.flows);
      this.log(v.first, 'service_appeared', v.vlan, v.ip, v.proto, v.port, v.app, `${ep} answered${v.app === null ? '' : ` (${v.app})`}`);
      // Its new_listener alert may have been written by an earlier batch, while the flow was still open.
      const al = s.alertFind.get(v.vlan, v.ip, v.proto, v.port) as { ts: number; community_id: string | null } | undefined;
      if (al !== undefined) s.alertLink.run(al.ts, al.community_id, v.vlan, v.ip, v.proto, v.port);
    } else {
      if (old.stale === 1) {
        const days = ((v.first - old.last_ts) / 86400).toFixed(1);
        this.log(v.first, 'service_back', v.vlan, v.ip, v.proto, v.port, v.app ?? old.app, `${ep} answered again after ${days} days`);
      }
      if (v.app !== null && old.app !== null && v.app !== old.app) {
        const detail = `${ep} application changed from ${old.app} to ${v.app}`;
        this.log(v.appTs, 'service_app_changed', v.vlan, v.ip, v.proto, v.port, v.app, detail);
      }
      s.svcUpd.run(v.app, v.first, v.first, v.last, v.last, v.flows, v.vlan, v.ip, v.proto, v.port);
    }
    let added = 0;
    const room = MAX_SERVICE_CLIENTS - (old?.clients ?? 0);
    const sk = `${v.vlan} ${v.ip} ${v.proto} ${v.port}`;
    for (const c of v.clients) {
      if (added >= room) break;
      const ck = `${sk}\0${c}`;
      if (this.known.has(ck)) continue;
      added += s.clientIns.run(v.vlan, v.ip, v.proto, v.port, c).changes;
      this.known.add(ck);
    }
    if (added > 0) s.clientsAdd.run(added, v.vlan, v.ip, v.proto, v.port);
    for (let c = 0; c < FUNCTION_CLASSES.length; c++) {
      if ((v.classes & (1 << c)) === 0) continue;
      const kk = `${sk}\0#${c}`;
      if (this.known.has(kk)) continue;
      this.known.add(kk);
      if (s.classIns.run(v.vlan, v.ip, v.proto, v.port, FUNCTION_CLASSES[c], v.last).changes === 1) {
        const detail = `${FUNCTION_CLASSES[c]} used on ${ep}${v.app === null ? '' : ` (${v.app})`}`;
        this.log(v.last, 'function_class_new', v.vlan, v.ip, v.proto, v.port, v.app, detail);
      }
    }
  }

  private alert(a: AlertRec): void {
    this.st.alertIns.run(a);
    if (a.kind === 'new_listener' && a.server_ip !== null && a.server_port !== null && (a.proto === 'tcp' || a.proto === 'udp')) {
      this.st.alertLink.run(a.ts, a.community_id, a.vlan, a.server_ip, a.proto, a.server_port);
    }
  }

  /** Services not seen for staleAfter before the capture clock: marked, with a history row each. */
  private staleSweep(clock: number): void {
    if (clock <= 0) return;
    const rows = this.st.staleFind.all(clock - this.staleAfter) as StaleRow[];
    for (const r of rows) {
      this.st.staleSet.run(r.vlan, r.ip, r.proto, r.port);
      const days = ((clock - r.last_ts) / 86400).toFixed(1);
      const detail = `${r.ip} ${r.proto}/${r.port} not seen for ${days} days`;
      this.log(r.last_ts + this.staleAfter, 'service_stale', r.vlan, r.ip, r.proto, r.port, r.app, detail);
    }
  }
}

// Scale of `otwatch report`: a real SQLite inventory of N synthetic assets
// (tools/synth-inventory.ts: OT cells, their HMIs and masters, IT hosts),
// then the report command as a user runs it, timed with peak RSS from
// /usr/bin/time. Usage: node dist/bench/report-scale.js [N...] (default 10000).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openInventory } from '../src/inventory/db.js';
import type { ReportSnapshot } from '../src/report/model.js';
import { synthInventory } from '../tools/synth-inventory.js';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(REPO, 'dist/src/cli.js');

/** Writes a synthetic snapshot into a fresh inventory, as the inventory's own tables hold it. */
export function writeInventory(path: string, s: ReportSnapshot): void {
  const db = openInventory(path);
  const ins = (table: string, cols: string[]) =>
    db.prepare(`INSERT OR IGNORE INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
  const asset = ins('asset', ['vlan', 'ip', 'mac', 'vendor', 'first_ts', 'last_ts']);
  const sensor = ins('asset_sensor', ['vlan', 'ip', 'sensor', 'first_ts', 'last_ts']);
  const role = ins('asset_role', ['vlan', 'ip', 'app', 'role', 'term', 'first_ts', 'last_ts']);
  const addr = ins('asset_address', ['vlan', 'ip', 'app', 'role', 'kind', 'value', 'first_ts', 'last_ts']);
  const ident = ins('asset_identity', ['vlan', 'ip', 'app', 'key', 'value', 'ts']);
  const service = ins('service', ['vlan', 'ip', 'proto', 'port', 'app', 'first_ts', 'last_ts', 'flows', 'clients', 'alert_ts']);
  const client = ins('service_client', ['vlan', 'ip', 'proto', 'port', 'client']);
  const cls = ins('service_class', ['vlan', 'ip', 'proto', 'port', 'class', 'first_ts']);
  const approval = ins('approval', ['vlan', 'ip', 'proto', 'port', 'reason', 'approved_by', 'ticket', 'ts']);
  const alert = ins('alert', ['ts', 'kind', 'severity', 'vlan', 'client_ip', 'server_ip', 'server_port', 'proto', 'app', 'detail']);
  const change = ins('change', ['ts', 'kind', 'vlan', 'ip', 'proto', 'port', 'app', 'detail']);
  const vlanOf = new Map<string, number>();
  db.transaction(() => {
    for (const a of s.assets) {
      const v = a.vlan ?? -1;
      vlanOf.set(a.ip, v);
      asset.run(v, a.ip, a.mac, a.vendor, a.first_ts, a.last_ts);
      for (const x of a.sensors) sensor.run(v, a.ip, x, a.first_ts, a.last_ts);
      for (const r of a.roles) {
        role.run(v, a.ip, r.app, r.role, r.term, a.first_ts, a.last_ts);
        for (const id of r.ids) addr.run(v, a.ip, r.app, r.role, 'id', String(id), a.first_ts, a.last_ts);
      }
      for (const [k, val] of Object.entries(a.identity)) ident.run(v, a.ip, a.roles[0]?.app ?? 'modbus', k, String(val), a.first_ts);
      for (const sv of a.services) {
        const alertTs = sv.status === 'unapproved' ? sv.first_ts : null;
        service.run(v, a.ip, sv.proto, sv.port, sv.app, sv.first_ts, sv.last_ts, sv.flows, sv.clients, alertTs);
        for (const c of sv.classes) cls.run(v, a.ip, sv.proto, sv.port, c, sv.first_ts);
        if (sv.status === 'approved') approval.run(v, a.ip, sv.proto, sv.port, sv.reason, sv.approver, sv.ticket, sv.approved_ts);
      }
    }
    for (const t of s.talks) client.run(vlanOf.get(t.server) ?? -1, t.server, t.proto, t.port, t.client);
    for (const a of s.alerts) alert.run(a.ts, a.kind, a.severity, -1, a.client, a.server, a.port, a.proto, a.app, a.detail ?? '');
    for (const c of s.changes) change.run(c.ts, c.kind, vlanOf.get(c.ip ?? '') ?? -1, c.ip, c.proto, c.port, c.app, c.detail ?? '');
  })();
  db.close();
}

function main(): void {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const dir = mkdtempSync(join(tmpdir(), 'otwatch-report-bench-'));
  try {
    for (const n of sizes.length > 0 ? sizes : [10_000]) {
      const db = join(dir, `inv-${n}.db`);
      const s = synthInventory({ assets: n });
      writeInventory(db, s);
      for (const format of ['html', 'json']) {
        const out = join(dir, `report-${n}.${format}`);
        const args = ['-f', '%e %M', process.execPath, CLI, 'report', db, '-o', out, '--format', format];
        const r = spawnSync('/usr/bin/time', args, { encoding: 'utf8' });
        const [wall, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
        const services = s.assets.reduce((k, a) => k + a.services.length, 0);
        console.log(
          `report --format ${format}: ${n} assets, ${services} services, ${s.talks.length} client-server pairs: ${wall.toFixed(2)} s, ` +
            `peak RSS ${(kb / 1024).toFixed(0)} MB, ${(statSync(out).size / 1048576).toFixed(1)} MB written (exit ${r.status})`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();

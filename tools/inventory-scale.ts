// Builds a large synthetic inventory to measure `inventory show` (and the
// report) at scale: ASSETS assets with SERVICES services in all, each with
// a role, an address, two function classes, one client and history rows.
//
//   node dist/tools/inventory-scale.js OUT.db [ASSETS=100000] [SERVICES=1000000]
//   /usr/bin/time -v node dist/src/cli.js inventory show --json OUT.db > /dev/null
import { rmSync } from 'node:fs';
import { openInventory } from '../src/inventory/db.js';

const PORTS: readonly [string, number, string | null, string][] = [
  ['tcp', 502, 'modbus', 'read'],
  ['tcp', 20000, 'dnp3', 'read'],
  ['tcp', 2404, 'iec104', 'control'],
  ['tcp', 4840, 'opcua', 'session'],
  ['tcp', 102, null, 'other'],
  ['tcp', 44818, null, 'other'],
  ['tcp', 80, null, 'other'],
  ['tcp', 443, null, 'other'],
  ['tcp', 22, null, 'other'],
  ['udp', 161, null, 'other'],
];

function main(): void {
  const [out, a = '100000', s = '1000000'] = process.argv.slice(2);
  if (out === undefined) {
    process.stderr.write('usage: inventory-scale OUT.db [ASSETS] [SERVICES]\n');
    process.exit(2);
  }
  const assets = Number(a);
  const services = Number(s);
  for (const suffix of ['', '-wal', '-shm']) rmSync(out + suffix, { force: true });
  const t0 = Date.now();
  const db = openInventory(out);
  const ins = {
    asset: db.prepare(`INSERT INTO asset (vlan, ip, mac, vendor, first_ts, last_ts) VALUES (-1, ?, ?, ?, ?, ?)`),
    sensor: db.prepare(`INSERT INTO asset_sensor (vlan, ip, sensor, first_ts, last_ts) VALUES (-1, ?, 'scale', ?, ?)`),
    role: db.prepare(`INSERT INTO asset_role (vlan, ip, app, role, term, first_ts, last_ts) VALUES (-1, ?, ?, 'server', ?, ?, ?)`),
    addr: db.prepare(`INSERT INTO asset_address (vlan, ip, app, role, kind, value, first_ts, last_ts)
      VALUES (-1, ?, ?, 'server', ?, ?, ?, ?)`),
    service: db.prepare(`INSERT INTO service (vlan, ip, proto, port, app, first_ts, last_ts, flows, clients, stale)
      VALUES (-1, ?, ?, ?, ?, ?, ?, ?, 1, 0)`),
    client: db.prepare(`INSERT INTO service_client (vlan, ip, proto, port, client) VALUES (-1, ?, ?, ?, ?)`),
    cls: db.prepare(`INSERT INTO service_class (vlan, ip, proto, port, class, first_ts) VALUES (-1, ?, ?, ?, ?, ?)`),
    change: db.prepare(`INSERT INTO change (ts, kind, vlan, ip, proto, port, app, detail, sensor)
      VALUES (?, ?, -1, ?, ?, ?, ?, ?, 'scale')`),
  };
  const T = 1_760_000_000;
  const perAsset = Math.ceil(services / assets);
  let made = 0;
  db.transaction(() => {
    for (let i = 0; i < assets; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const hex = (n: number) => (n & 255).toString(16).padStart(2, '0');
      const mac = `00:80:f4:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`;
      const first = T + (i % 86400);
      ins.asset.run(ip, mac, 'Telemecanique electrique', first, first + 3600);
      ins.sensor.run(ip, first, first + 3600);
      ins.change.run(first, 'asset_appeared', ip, null, null, null, `${ip} appeared`);
      const [, , app0] = PORTS[i % 4];
      ins.role.run(ip, app0, app0 === 'dnp3' ? 'outstation' : 'server', first, first + 3600);
      ins.addr.run(ip, app0, app0 === 'modbus' ? 'unit_id' : 'link_address', String(i % 247), first, first + 3600);
      for (let k = 0; k < perAsset && made < services; k++, made++) {
        const [proto, port0, app, cls] = PORTS[k % PORTS.length];
        const port = port0 + Math.floor(k / PORTS.length); // more than 10 services: neighbouring ports
        ins.service.run(ip, proto, port, app, first, first + 3600, 1 + (i % 50));
        ins.client.run(ip, proto, port, `10.255.${(i >> 8) & 255}.${i & 255}`);
        ins.cls.run(ip, proto, port, cls, first);
        if (cls !== 'read') ins.cls.run(ip, proto, port, 'read', first);
        ins.change.run(first, 'service_appeared', ip, proto, port, app, `${ip} ${proto}/${port} answered`);
      }
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  process.stderr.write(`${out}: ${assets} assets, ${made} services in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

main();

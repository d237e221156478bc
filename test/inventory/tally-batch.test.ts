// The batch the writer writes: the tally's dirty rows as the writer's
// aggregates (assets with roles and facts, services with clients and function
// classes, alerts, the clock); rows are reset by each write and only what was
// touched since goes out.
import { describe, expect, it } from 'vitest';
import { Tally } from '../../src/inventory/tally.js';

const v4 = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) | 0;
const text = (w: number) => [24, 16, 8, 0].map((s) => (w >>> s) & 255).join('.');

describe('tally to batch', () => {
  it('carries every field, including null MACs and apps, unicode identity values and alerts', () => {
    const t = new Tally();
    const srv = t.seen(t.row4(-1, v4('10.0.0.5'), text), 100.25, 200.5);
    srv.mac = '00:80:f4:01:02:03';
    t.role(srv, 'modbus', 'server', 'slave', 100.25, 150);
    t.fact(srv, 'modbus', 'server', 'identity', 'vendor', 'Schneider “Électrique” \n', 101, 199);
    t.fact(srv, 'dnp3', 'server', 'address', 'dnp3_address', '10', 102, 102);
    const cli = t.seen(t.row4(-1, v4('10.0.0.1'), text), 100, 200);
    t.seen(t.rowText(7, 'fe80::1'), 1, 2);
    const s = t.service(srv, true, 502, 100, 200);
    s.app = 'modbus';
    s.appTs = 120;
    s.flows = 3;
    s.classes = 0b101;
    t.client(s, cli);
    t.client(s, t.row4(-1, v4('10.0.0.2'), text)); // a client seen only through its service
    t.service(t.rowText(7, 'fe80::1'), false, 20000, 1, 2);
    const alert = {
      ts: 150,
      kind: 'new_listener',
      severity: 'high',
      community_id: null,
      vlan: -1,
      client_ip: '10.0.0.1',
      client_port: 40000,
      server_ip: '10.0.0.5',
      server_port: 502,
      proto: 'tcp',
      app: 'modbus',
      detail: 'd',
    };
    t.alerts.push(alert);
    t.clock = 200.5;
    expect(t.size).toBe(6);

    const b = t.takeBatch();
    expect(b.clock).toBe(200.5);
    expect(b.alerts).toEqual([alert]);
    expect([...b.assets.keys()].sort()).toEqual(['-1 10.0.0.1', '-1 10.0.0.5', '7 fe80::1']);
    const a = b.assets.get('-1 10.0.0.5')!;
    expect([a.mac, a.first, a.last]).toEqual(['00:80:f4:01:02:03', 100.25, 200.5]);
    expect([...a.roles.values()].map((r) => [r.app, r.role, r.term, r.first, r.last])).toEqual([
      ['modbus', 'server', 'slave', 100.25, 150],
    ]);
    expect([...a.facts.values()].map((f) => [f.app, f.what, f.key, f.value, f.first, f.last])).toEqual([
      ['modbus', 'identity', 'vendor', 'Schneider “Électrique” \n', 101, 199],
      ['dnp3', 'address', 'dnp3_address', '10', 102, 102],
    ]);
    expect(b.assets.get('7 fe80::1')!.mac).toBeNull();
    const sv = b.services.get('-1 10.0.0.5 tcp 502')!;
    expect([sv.app, sv.appTs, sv.flows, sv.classes, sv.first, sv.last]).toEqual(['modbus', 120, 3, 0b101, 100, 200]);
    expect([...sv.clients].sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(b.services.get('7 fe80::1 udp 20000')!.app).toBeNull();

    // Reset by the write: nothing pending; the next one carries only what was touched since.
    expect(t.size).toBe(0);
    t.seen(t.row4(-1, v4('10.0.0.5'), text), 300, 301);
    t.service(t.row4(-1, v4('10.0.0.5'), text), true, 502, 300, 301).flows++;
    const b2 = t.takeBatch();
    expect([...b2.assets.keys()]).toEqual(['-1 10.0.0.5']);
    const a2 = b2.assets.get('-1 10.0.0.5')!;
    expect([a2.first, a2.last, a2.roles.size, a2.facts.size]).toEqual([300, 301, 0, 0]);
    const sv2 = b2.services.get('-1 10.0.0.5 tcp 502')!;
    expect([sv2.flows, sv2.clients.size, sv2.classes, sv2.app, sv2.first]).toEqual([1, 0, 0, null, 300]);
    expect(b2.alerts).toEqual([]);
  });

  it('a host answering on many ports (past the scanned list, into its map) keeps one row per service', () => {
    const t = new Tally();
    const h = t.seen(t.row4(-1, v4('10.0.0.9'), text), 1, 2);
    for (let round = 0; round < 3; round++) {
      for (let port = 1; port <= 40; port++) t.service(h, port % 2 === 0, port, 1, 2).flows++;
    }
    const b = t.takeBatch();
    expect(b.services.size).toBe(40);
    expect([...b.services.values()].every((s) => s.flows === 3)).toBe(true);
    expect(b.services.get('-1 10.0.0.9 tcp 40')!.proto).toBe('tcp');
    expect(b.services.get('-1 10.0.0.9 udp 39')!.proto).toBe('udp');
  });
});

// The batch as the writer thread receives it: one JSON text, read back into
// the same aggregates (assets with roles and facts, services with clients
// and function classes, alerts, the clock).
import { describe, expect, it } from 'vitest';
import { Batch, batchFromWire, batchToWire, FactAgg, RoleAgg } from '../../src/inventory/batch.js';

const plain = (b: Batch) =>
  JSON.parse(
    JSON.stringify({ a: [...b.assets.values()], s: [...b.services.values()], al: b.alerts, c: b.clock }, (_k, v) =>
      v instanceof Map ? [...v.values()] : v instanceof Set ? [...v].sort() : v,
    ),
  );

describe('batch wire format', () => {
  it('round-trips every field, including null MACs and apps, unicode identity values and alerts', () => {
    const b = new Batch();
    const a = b.asset(-1, '10.0.0.5', 100.25, 200.5);
    a.mac = '00:80:f4:01:02:03';
    a.roles.set('modbus\0server', new RoleAgg('modbus', 'server', 'slave', 100.25, 150));
    a.facts.set('x', new FactAgg('modbus', 'server', 'identity', 'vendor', 'Schneider “Électrique” \n', 101, 199));
    a.facts.set('y', new FactAgg('dnp3', 'server', 'address', 'dnp3_address', '10', 102, 102));
    b.asset(7, 'fe80::1', 1, 2); // no MAC, no roles
    const s = b.service(-1, '10.0.0.5', 'tcp', 502, 100, 200);
    s.app = 'modbus';
    s.appTs = 120;
    s.flows = 3;
    s.clients.add('10.0.0.1');
    s.clients.add('10.0.0.2');
    s.classes = 0b101;
    b.service(7, 'fe80::1', 'udp', 20000, 1, 2);
    b.alerts.push({
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
    });
    b.clock = 200.5;
    const back = batchFromWire(batchToWire(b));
    expect(back).toBeInstanceOf(Batch);
    expect(back.size).toBe(b.size);
    expect(plain(back)).toEqual(plain(b));
  });
});

// The packet thread's flow events and the writer thread's aggregation of
// them, on real flows of real captures: the events cross as the worker
// channel sends them (structured clone, the buffer transferred and given
// back) and become the assets, MACs, roles, protocol addresses, services and
// alerts of the batch the writer writes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TcpSession, toPcap, type UaAppDescription, uaClearSession } from '../../tools/pcapgen/index.js';
import { readCapture } from '../../src/capture/file-source.js';
import { FUNCTION_CLASSES } from '../../src/dissectors/module.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import { Engine } from '../../src/engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import { NullSink } from '../../src/output/sink.js';
import { Aggregator } from '../../src/inventory/aggregator.js';
import type { Batch } from '../../src/inventory/batch.js';
import type { EventBatch } from '../../src/inventory/flow-event.js';
import { type EventSink, InventoryObserver } from '../../src/inventory/observer.js';
import { fixture } from '../helpers/run.js';

/** The writer thread's end of the channel, in this thread. */
class ClonedSink implements EventSink {
  readonly agg = new Aggregator();
  readonly sent: number[] = [];
  private back: Float64Array | null = null;
  take(b: EventBatch): void {
    const copy = structuredClone(b, { transfer: [b.events.buffer as ArrayBuffer] });
    expect(b.events.length).toBe(0); // transferred, not copied
    this.sent.push(copy.count);
    this.agg.apply(copy);
    this.back = copy.events;
  }
  spare(): Float64Array | null {
    const f = this.back;
    this.back = null;
    return f;
  }
}

const cls = (...names: string[]) => names.reduce((m, n) => m | (1 << FUNCTION_CLASSES.indexOf(n as never)), 0);

const ALERT = {
  type: 'alert',
  ts: 1700000001,
  kind: 'new_listener',
  severity: 'high',
  community_id: '1:x',
  vlan: -1,
  client: { ip: '10.10.1.10', port: 50000 },
  server: { ip: '10.10.1.21', port: 502 },
  proto: 'tcp',
  app: 'modbus',
  detail: 'd',
};

/** Reads a capture through an engine with the inventory observer, handing over every `every` packets. */
async function read(name: string, every: number) {
  return readPath(fixture('gen', name), every);
}

async function readPath(path: string, every: number) {
  const opts = { flows: DEFAULT_FLOW_OPTIONS, dissectors: DISSECTORS, pdus: false, reassemblyBytes: 64 << 20 };
  const engine = new Engine(opts, new NullSink());
  const sink = new ClonedSink();
  const obs = new InventoryObserver({ packet: engine.packet, sink });
  engine.observer = obs;
  let n = 0;
  await readCapture(path, (...a: Parameters<typeof engine.onPacket>) => {
    engine.onPacket(...a);
    if (++n % every === 0) obs.handOver();
  });
  return { engine, obs, sink };
}

const roles = (b: Batch, ip: string) => [...b.assets.get(`-1 ${ip}`)!.roles.values()].map((r) => `${r.app} ${r.role} ${r.term}`).sort();
const facts = (b: Batch, ip: string) =>
  [...b.assets.get(`-1 ${ip}`)!.facts.values()].map((f) => `${f.app} ${f.role} ${f.what} ${f.key}=${f.value}`);
const assets = (b: Batch) =>
  [...b.assets.values()].map((a) => [a.vlan, a.ip, a.mac, a.first, a.last]).sort((x, y) => String(x[1]).localeCompare(String(y[1])));
const services = (b: Batch) =>
  [...b.services.values()]
    .map((s) => [s.ip, s.proto, s.port, s.app, s.flows, s.classes, [...s.clients]])
    .sort((x, y) => String(x[0]).localeCompare(String(y[0])));

describe('flow events', () => {
  it('carry IPv4 flows, MACs, roles, protocol addresses, services and alerts to the batch, over several hand-overs', async () => {
    const { engine, obs, sink } = await read('plant-sample.pcap', 20);
    obs.alert(JSON.stringify(ALERT));
    engine.finish('eof');
    obs.handOver();
    const sends = sink.sent.length;
    obs.handOver(); // nothing new: nothing sent
    expect(sink.sent.length).toBe(sends);
    expect(sends).toBeGreaterThan(2);
    expect(sink.sent.reduce((a, b) => a + b, 0)).toBe(5);

    const b = sink.agg.tally.takeBatch();
    expect(b.clock).toBe(1700000013.0008);
    expect(assets(b)).toEqual([
      [-1, '10.10.1.1', '02:00:0a:0a:01:01', 1700000000, 1700000008.002],
      [-1, '10.10.1.10', '02:00:0a:0a:01:0a', 1700000000, 1700000013.0008],
      [-1, '10.10.1.21', '02:00:0a:0a:01:15', 1700000000.0008, 1700000012.2],
      [-1, '10.10.1.22', '02:00:0a:0a:01:16', 1700000000.002, 1700000013.0008],
      [-1, '10.10.1.30', '02:00:0a:0a:01:1e', 1700000000.0032, 1700000010.2008],
    ]);
    expect(roles(b, '10.10.1.10')).toEqual(['dnp3 client master', 'modbus client client']);
    expect(roles(b, '10.10.1.30')).toEqual(['dnp3 server outstation']);
    expect(roles(b, '10.10.1.1')).toEqual([]);
    expect(facts(b, '10.10.1.10')).toEqual(['dnp3 client address link_address=1']);
    expect(facts(b, '10.10.1.30')).toEqual(['dnp3 server address link_address=10']);
    expect(facts(b, '10.10.1.21')).toEqual(['modbus server address unit_id=1']);
    expect(services(b)).toEqual([
      ['10.10.1.1', 'udp', 123, null, 1, 0, ['10.10.1.10']],
      ['10.10.1.21', 'tcp', 502, 'modbus', 1, cls('read', 'write'), ['10.10.1.10']],
      ['10.10.1.22', 'tcp', 502, 'modbus', 1, cls('read', 'write'), ['10.10.1.10']],
      ['10.10.1.30', 'tcp', 20000, 'dnp3', 1, cls('read'), ['10.10.1.10']],
    ]);
    expect(b.alerts).toEqual([
      {
        ts: 1700000001,
        kind: 'new_listener',
        severity: 'high',
        community_id: '1:x',
        vlan: -1,
        client_ip: '10.10.1.10',
        client_port: 50000,
        server_ip: '10.10.1.21',
        server_port: 502,
        proto: 'tcp',
        app: 'modbus',
        detail: 'd',
      },
    ]);
  });

  it('carry IPv6 addresses as text beside the numbers', async () => {
    const { engine, obs, sink } = await read('ipv6-exthdr.pcap', 1000);
    engine.finish('eof');
    obs.handOver();
    const b = sink.agg.tally.takeBatch();
    expect(assets(b)).toEqual([
      [-1, '2001:db8:60::1', '02:00:00:00:00:01', 1700000000, 1700000000.007],
      [-1, '2001:db8:60::2', '02:00:00:00:00:02', 1700000000, 1700000000.007],
    ]);
    expect(roles(b, '2001:db8:60::1')).toEqual(['modbus client client']);
    expect(facts(b, '2001:db8:60::2')).toEqual(['modbus server address unit_id=1']);
    expect(services(b)).toEqual([['2001:db8:60::2', 'tcp', 502, 'modbus', 1, cls('read'), ['2001:db8:60::1']]]);
  });

  it('carry many identity facts with text values (past the two in the event) in order', async () => {
    const plc: UaAppDescription = { applicationUri: 'urn:plc:server', productUri: 'urn:vendor:product', name: ['en-US', 'PLC “server”'] };
    const hmi: UaAppDescription = { applicationUri: 'urn:hmi:client', productUri: null, name: [null, 'HMI'] };
    const s = uaClearSession(
      new TcpSession({ client: '10.0.0.1', cport: 50010, server: '10.0.0.9', sport: 4840 }).handshake(),
      'opc.tcp://10.0.0.9:4840',
      hmi,
      plc,
    );
    const path = join(mkdtempSync(join(tmpdir(), 'otwatch-inv-ev-')), 'ua.pcap');
    writeFileSync(path, toPcap(s.frames()));
    const { engine, obs, sink } = await readPath(path, 1000);
    engine.finish('eof');
    obs.handOver();
    const b = sink.agg.tally.takeBatch();
    expect(roles(b, '10.0.0.9')).toEqual(['opcua server server']);
    expect(facts(b, '10.0.0.9')).toEqual([
      'opcua server address endpoint_url=opc.tcp://10.0.0.9:4840',
      'opcua server address security_policy=http://opcfoundation.org/UA/SecurityPolicy#None',
      'opcua server address security_mode=None',
      'opcua server identity application_uri=urn:plc:server',
      'opcua server identity product_uri=urn:vendor:product',
      'opcua server identity application_name=PLC “server”',
    ]);
    expect(facts(b, '10.0.0.1')).toEqual([
      'opcua client identity application_uri=urn:hmi:client',
      'opcua client identity application_name=HMI',
    ]);
  });
});

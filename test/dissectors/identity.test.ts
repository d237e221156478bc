// The identity hook: what each protocol reveals about the endpoints reaches
// an observer that asks for it (roles in the protocol's own terms, unit ids,
// link addresses, common addresses, the OPC UA endpoint and security policy),
// and nothing is asked of the modules when no observer wants it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TcpSession, modbusAdu, toPcap, uaClearSession, type UaAppDescription } from '../../tools/pcapgen/index.js';
import { readCapture } from '../../src/capture/file-source.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import type { IdentityKind, ProtocolModule, Side } from '../../src/dissectors/module.js';
import { observers, type FlowObserver } from '../../src/detect/observer.js';
import { Engine } from '../../src/engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import type { Flow } from '../../src/flows/flow.js';
import { NullSink } from '../../src/output/sink.js';
import { fixture } from '../helpers/run.js';

/** Records identity facts as 'app side kind key=value' (de-duplicated), and counts PDUs. */
class Facts implements FlowObserver {
  readonly facts = new Set<string>();
  pdus = 0;
  flowStart(): void {}
  serverAnswered(): void {}
  appConfirmed(): void {}
  appUnknown(): void {}
  pdu(): void {
    this.pdus++;
  }
  identity(_f: Flow, mod: ProtocolModule, side: Side, kind: IdentityKind, key: string, value: string | number): void {
    this.facts.add(`${mod.name} ${side} ${kind} ${key}=${value}`);
  }
  flowEnd(): void {}
  finish(): void {}
}

async function run(file: string, obs: FlowObserver): Promise<void> {
  const engine = new Engine(
    { flows: DEFAULT_FLOW_OPTIONS, dissectors: DISSECTORS, pdus: false, reassemblyBytes: 64 << 20 },
    new NullSink(),
  );
  engine.observer = obs;
  await readCapture(file, engine.onPacket);
  engine.finish('eof');
  if (engine.firstInternalError) throw engine.firstInternalError;
}

async function facts(file: string): Promise<string[]> {
  const f = new Facts();
  await run(fixture('corpus', file), f);
  return [...f.facts].sort();
}

const TMP = mkdtempSync(join(tmpdir(), 'otwatch-identity-'));

async function builtFacts(name: string, s: TcpSession): Promise<string[]> {
  const path = join(TMP, name);
  writeFileSync(path, toPcap(s.frames()));
  const f = new Facts();
  await run(path, f);
  return [...f.facts].sort();
}

describe('identity facts from the four protocols', () => {
  it('Modbus: client and server roles, the unit ids', async () => {
    const got = await facts('modbusSmall.pcap');
    expect(got).toContain('modbus client role role=client');
    expect(got).toContain('modbus server role role=server');
    expect(got.filter((x) => x.startsWith('modbus server address unit_id='))).not.toEqual([]);
    expect(got.filter((x) => x.startsWith('modbus client address'))).toEqual([]);
  });

  it('DNP3: master and outstation, each with its link address', async () => {
    // dnp3_read.pcap: the master (3) reads from the outstation (2).
    const got = await facts('dnp3_read.pcap');
    expect(got).toEqual([
      'dnp3 client address link_address=3',
      'dnp3 client role role=master',
      'dnp3 server address link_address=2',
      'dnp3 server role role=outstation',
    ]);
  });

  it('OPC UA: the endpoint URL from Hello and the security policy', async () => {
    const got = await facts('open62541_client-server-getEndpoints.pcap');
    expect(got.some((x) => /^opcua server address endpoint_url=opc\.tcp:\/\//.test(x))).toBe(true);
    expect(got).toContain('opcua server address security_policy=http://opcfoundation.org/UA/SecurityPolicy#None');
    expect(got).toContain('opcua server address security_mode=None');
    expect(got).toContain('opcua client role role=client');
  });

  it('IEC 104: controlling and controlled station, the common address', async () => {
    const got = await facts('stage_7_T0855.pcap');
    expect(got).toContain('iec104 client role role=controlling station');
    expect(got).toContain('iec104 server role role=controlled station');
    expect(got.filter((x) => x.startsWith('iec104 server address common_address='))).not.toEqual([]);
  });

  it('a poll naming the same addresses PDU after PDU reports them once, and again when they change', async () => {
    const calls: string[] = [];
    const obs = new (class extends Facts {
      override identity(f: Flow, mod: ProtocolModule, side: Side, kind: IdentityKind, key: string, value: string | number): void {
        if (kind === 'address') calls.push(`${side} ${key}=${value}`);
        super.identity(f, mod, side, kind, key, value);
      }
    })();
    const read = Buffer.of(0x03, 0, 0, 0, 2);
    const regs = Buffer.of(0x03, 4, 0, 1, 0, 2);
    const s = new TcpSession({ client: '10.0.0.1', cport: 40012, server: '10.0.0.2', sport: 502 }).handshake();
    for (const unit of [1, 1, 1, 2, 2, 1]) s.send('c2s', modbusAdu(unit, unit, read)).send('s2c', modbusAdu(unit, unit, regs));
    const path = join(TMP, 'mb-units.pcap');
    writeFileSync(path, toPcap(s.frames()));
    await run(path, obs);
    expect(calls).toEqual(['server unit_id=1', 'server unit_id=2', 'server unit_id=1']);
    expect(obs.pdus).toBe(12);
    expect([...obs.facts].filter((x) => x.includes(' address '))).toEqual([
      'modbus server address unit_id=1',
      'modbus server address unit_id=2',
    ]);
  });

  it("Modbus: Read Device Identification objects are the Modbus server's, also when it opened the connection", async () => {
    const obj = (id: number, v: string) => Buffer.concat([Buffer.of(id, v.length), Buffer.from(v)]);
    const resp = Buffer.concat([Buffer.of(0x2b, 0x0e, 1, 0x81, 0, 0, 2), obj(0, 'Schneider Electric'), obj(1, 'BMX P34 2020')]);
    const req = Buffer.of(0x2b, 0x0e, 0x01, 0x00);
    const s = new TcpSession({ client: '10.0.0.1', cport: 40010, server: '10.0.0.2', sport: 502 }).handshake();
    s.send('c2s', modbusAdu(1, 7, req)).send('s2c', modbusAdu(1, 7, resp));
    expect((await builtFacts('mb-devid.pcap', s)).filter((x) => !x.includes(' role '))).toEqual([
      'modbus server address unit_id=7',
      'modbus server identity product_code=BMX P34 2020',
      'modbus server identity vendor=Schneider Electric',
    ]);
    // The PLC on 502 connects out to a poller (the TCP client): its facts go to the client side.
    const r = new TcpSession({ client: '10.0.0.2', cport: 502, server: '10.0.0.1', sport: 40011 }).handshake();
    r.send('s2c', modbusAdu(1, 7, req)).send('c2s', modbusAdu(1, 7, resp));
    const rev = (await builtFacts('mb-devid-rev.pcap', r)).filter((x) => x.includes(' identity '));
    expect(rev).toEqual(['modbus client identity product_code=BMX P34 2020', 'modbus client identity vendor=Schneider Electric']);
  });

  it('OPC UA: the ApplicationDescriptions of CreateSession, each on its own side', async () => {
    const plc: UaAppDescription = { applicationUri: 'urn:plc:server', productUri: 'urn:vendor:product', name: ['en-US', 'PLC server'] };
    const hmi: UaAppDescription = { applicationUri: 'urn:hmi:client', productUri: null, name: [null, 'HMI'] };
    const s = uaClearSession(
      new TcpSession({ client: '10.0.0.1', cport: 50010, server: '10.0.0.9', sport: 4840 }).handshake(),
      'opc.tcp://10.0.0.9:4840',
      hmi,
      plc,
    );
    expect((await builtFacts('ua-id.pcap', s)).filter((x) => x.includes(' identity '))).toEqual([
      'opcua client identity application_name=HMI',
      'opcua client identity application_uri=urn:hmi:client',
      'opcua server identity application_name=PLC server',
      'opcua server identity application_uri=urn:plc:server',
      'opcua server identity product_uri=urn:vendor:product',
    ]);
  });

  it('is not asked for when no observer wants it; a set of observers fans out', async () => {
    const withFacts = new Facts();
    const plain = new Facts();
    (plain as { identity?: unknown }).identity = undefined;
    const both = observers([plain, withFacts]);
    await run(fixture('corpus', 'dnp3_read.pcap'), both!);
    expect(withFacts.facts.size).toBe(4);
    expect(plain.pdus).toBe(withFacts.pdus);
    expect(plain.pdus).toBeGreaterThan(0);
    // identify() is only called through an observer's identity: with none, a throwing hook is never reached.
    const d = DISSECTORS.find((x) => x.name === 'dnp3')!;
    const saved = d.identify;
    (d as { identify?: unknown }).identify = () => {
      throw new Error('identify called without an identity observer');
    };
    try {
      const only = new Facts();
      (only as { identity?: unknown }).identity = undefined;
      await run(fixture('corpus', 'dnp3_read.pcap'), only);
      expect(only.pdus).toBe(plain.pdus);
    } finally {
      (d as { identify?: unknown }).identify = saved;
    }
  });
});

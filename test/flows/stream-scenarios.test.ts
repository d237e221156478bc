// End to end through the stream layer: built captures with split PDUs,
// retransmissions, reordering, lost segments, mid-stream starts and
// non-standard ports (tools/scenarios/*, expectations declared by hand when
// each capture is built). The PDU records otwatch emits must be exactly the
// expected ones, per direction and in order.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODBUS_SCENARIOS } from '../../tools/scenarios/modbus.js';
import { IEC104_SCENARIOS } from '../../tools/scenarios/iec104.js';
import { DNP3_SCENARIOS } from '../../tools/scenarios/dnp3.js';
import { OPCUA_SCENARIOS } from '../../tools/scenarios/opcua.js';
import { runEngine, type Rec } from '../helpers/run.js';

const dir = mkdtempSync(join(tmpdir(), 'otw-scen-'));

async function run(name: string, pcap: Buffer) {
  const path = join(dir, `${name}.pcap`);
  writeFileSync(path, pcap);
  return runEngine([path], { pdus: true });
}

function perDir(pdus: Rec[], d: string): Rec[] {
  return pdus.filter((p) => p.dir === d);
}

describe('Modbus/TCP through the stream layer', () => {
  for (const make of MODBUS_SCENARIOS) {
    const s = make();
    it(`${s.name}: ${s.about}`, async () => {
      const r = await run(s.name, s.pcap);
      const got = r.pdus
        .filter((p) => p.app === 'modbus')
        .map((p) => ({ dir: p.dir, tid: p.modbus.tid, unit: p.modbus.unit, fc: p.modbus.fc, exception: p.modbus.exception }));
      for (const d of ['c2s', 's2c']) expect(perDir(got, d), `${d} PDUs`).toEqual(perDir(s.pdus as Rec[], d));
      const modbusFlows = r.flows.filter((f) => f.app === 'modbus');
      if (s.pdus.length === 0) expect(modbusFlows).toEqual([]);
      else {
        expect(modbusFlows).toHaveLength(1);
        const f = modbusFlows[0];
        // Roles: the Modbus master is the client even without a handshake.
        const req = r.pdus.find((p) => p.dir === 'c2s' && p.modbus.resp === false);
        if (req) expect(f.client).toEqual(req.client);
        expect(f.pdus).toBe(s.pdus.length);
        expect(f.app_by).toBe(f.server.port === 502 ? 'port' : 'content');
      }
    });
  }

  it('a lost segment costs only the PDUs it touches and is counted', async () => {
    const s = MODBUS_SCENARIOS.map((m) => m()).find((x) => x.name === 'lost-segment')!;
    const r = await run('lost-count', s.pcap);
    const f = r.flows.find((x) => x.app === 'modbus')!;
    expect(f.gaps).toBeGreaterThanOrEqual(1);
    expect(f.gap_bytes).toBeGreaterThan(0);
  });

  it('retransmitted bytes are delivered once and counted', async () => {
    const s = MODBUS_SCENARIOS.map((m) => m()).find((x) => x.name === 'retransmission')!;
    const r = await run('retrans-count', s.pcap);
    const f = r.flows.find((x) => x.app === 'modbus')!;
    expect(f.retrans_bytes).toBeGreaterThan(0);
  });
});

interface AppScenario {
  name: string;
  about: string;
  pcap: Buffer;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  pdus: { ts: number; dir: string; afterGap?: boolean; [app: string]: unknown }[];
  anomalies: { name: string }[];
  flow: object;
}

/** The PDU records, roles, anomalies and per-app flow counters of one scenario. */
function appScenarios(app: string, title: string, list: readonly (() => AppScenario)[]): void {
  describe(`${title} through the stream layer`, () => {
    for (const make of list) {
      const s = make();
      it(`${s.name}: ${s.about}`, async () => {
        const r = await run(s.name, s.pcap);
        const pdus = r.pdus.filter((p) => p.app === app);
        expect(pdus.map((p) => ({ dir: p.dir, [app]: p[app] }))).toEqual(s.pdus.map((p) => ({ dir: p.dir, [app]: p[app] })));
        // Timestamps: the packet that completed the PDU, except after a hole.
        for (let i = 0; i < pdus.length; i++) if (!s.pdus[i].afterGap) expect(pdus[i].ts).toBeCloseTo(s.pdus[i].ts, 6);
        const f = r.flows.find((x) => x.app === app)!;
        expect(f.client).toEqual(s.client);
        expect(f.server).toEqual(s.server);
        const anomalies: Record<string, number> = {};
        for (const a of s.anomalies) anomalies[a.name] = (anomalies[a.name] ?? 0) + 1;
        expect(f.anomalies ?? {}).toEqual(anomalies);
        expect(f[app]).toMatchObject(s.flow);
      });
    }
  });
}

appScenarios('iec104', 'IEC 60870-5-104', IEC104_SCENARIOS as unknown as (() => AppScenario)[]);
appScenarios('dnp3', 'DNP3 (TCP and UDP)', DNP3_SCENARIOS as unknown as (() => AppScenario)[]);
appScenarios('opcua', 'OPC UA binary', OPCUA_SCENARIOS as unknown as (() => AppScenario)[]);

describe('candidate lists shared between flows', () => {
  it('a protocol rejected on one flow is still tried on the next flow of the same port', async () => {
    // random-bytes-502 makes Modbus tentative (lenient start on its port) and
    // then rejects it; the candidate list is shared per port, so the reject
    // must not remove Modbus for the flows that follow.
    const junk = MODBUS_SCENARIOS.map((m) => m()).find((s) => s.name === 'random-bytes-502')!;
    const good = MODBUS_SCENARIOS.map((m) => m()).find((s) => s.name === 'two-adus-one-segment')!;
    const pj = join(dir, 'shared-junk.pcap');
    const pg = join(dir, 'shared-good.pcap');
    writeFileSync(pj, junk.pcap);
    writeFileSync(pg, good.pcap);
    const alone = await runEngine([pg], { pdus: true });
    const after = await runEngine([pj, pg], { pdus: true });
    const key = (p: Rec) => `${p.dir} ${p.modbus.tid} ${p.modbus.fc}`;
    expect(alone.pdus.length).toBeGreaterThan(0);
    expect(after.pdus.filter((p) => p.app === 'modbus').map(key)).toEqual(alone.pdus.filter((p) => p.app === 'modbus').map(key));
    expect(after.flows.filter((f) => f.app === 'modbus')).toHaveLength(1);
  });
});

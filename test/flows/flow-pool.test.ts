// The flow table reuses ended Flow objects: reset() must bring back every
// field, or a new flow would inherit an old flow's counters or state.
import { describe, expect, it } from 'vitest';
import { Flow } from '../../src/flows/flow.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import { runEngine, fixture, type Rec } from '../helpers/run.js';

function dirty(f: Flow): void {
  const o = f as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (k === 'w6') o[k] = new Int32Array([1, 2, 3, 4, 5, 6]);
    else if (typeof v === 'number') o[k] = v + 12345;
    else if (typeof v === 'boolean') o[k] = !v;
    else if (typeof v === 'string') o[k] = `${v}-changed`;
    else o[k] = { stale: k };
  }
}

describe('packed flow fields', () => {
  it('each accessor keeps its own bits', () => {
    const f = new Flow();
    f.vlan = 4095;
    f.innerVlan = 0;
    f.proto = 17;
    f.ipVersion = 6;
    f.clientIsA = false;
    f.rolesFixed = true;
    f.closed = true;
    f.listId = 2;
    f.isnSeen = 3;
    f.closeReason = 'shutdown';
    expect([f.vlan, f.innerVlan, f.proto, f.ipVersion]).toEqual([4095, 0, 17, 6]);
    expect([f.clientIsA, f.rolesFixed, f.closed, f.listId, f.isnSeen, f.closeReason]).toEqual([false, true, true, 2, 3, 'shutdown']);
    f.vlan = -1;
    f.listId = -1;
    f.isnSeen = 1;
    f.clientIsA = true;
    f.closeReason = 'fin';
    expect([f.vlan, f.innerVlan, f.proto, f.ipVersion]).toEqual([-1, 0, 17, 6]);
    expect([f.clientIsA, f.rolesFixed, f.closed, f.listId, f.isnSeen, f.closeReason]).toEqual([true, true, true, -1, 1, 'fin']);
    f.a3 = -5;
    f.b1 = 0x7fffffff;
    expect([f.a1, f.a2, f.a3, f.b1, f.b2, f.b3]).toEqual([0, 0, -5, 0x7fffffff, 0, 0]);
  });
});

describe('flow reuse', () => {
  it('reset() restores every field of a new Flow', () => {
    const f = new Flow();
    dirty(f);
    const fresh = new Flow();
    for (const k of Object.keys(fresh))
      expect((f as unknown as Record<string, unknown>)[k], k).not.toEqual((fresh as unknown as Record<string, unknown>)[k]);
    f.reset();
    // The IPv6 words are kept for reuse, zeroed: they read as a new flow's.
    expect([f.a1, f.a2, f.a3, f.b1, f.b2, f.b3]).toEqual([0, 0, 0, 0, 0, 0]);
    expect({ ...f, w6: null }).toEqual({ ...fresh });
    expect(Object.keys(f)).toEqual(Object.keys(fresh));
    // Packed state reads back as a new flow's.
    for (const k of [
      'proto',
      'ipVersion',
      'vlan',
      'innerVlan',
      'clientIsA',
      'rolesFixed',
      'closed',
      'listId',
      'isnSeen',
      'closeReason',
    ] as const) {
      expect(f[k], k).toBe(fresh[k]);
    }
  });

  it('a table at its cap reuses evicted flows cleanly: per-tuple totals match a run without eviction', async () => {
    for (const file of [fixture('gen', 'plant-sample.pcap'), fixture('corpus', 'modbusSmall.pcap')]) {
      const name = file;
      const roomy = await runEngine([file], { pdus: false });
      // Cap 2: nearly every new flow evicts one and takes over its object.
      const tight = await runEngine([file], { pdus: false, flows: { ...DEFAULT_FLOW_OPTIONS, maxFlows: 2 } });
      const totals = (flows: Rec[]) => {
        const m = new Map<string, number[]>();
        for (const r of flows) {
          const t = m.get(r.community_id) ?? [0, 0, 0];
          t[0] += r.pkts.c2s + r.pkts.s2c;
          t[1] += r.bytes.c2s + r.bytes.s2c;
          t[2] += r.payload_bytes.c2s + r.payload_bytes.s2c;
          m.set(r.community_id, t);
        }
        return [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      };
      expect(tight.engine.table.evicted, name).toBeGreaterThan(0);
      expect(totals(tight.flows), name).toEqual(totals(roomy.flows));
    }
  });
});

// Dissector states are reused across flows (releaseState, then createState):
// a released state must come back exactly as a new one, or one flow's
// counters and transactions would leak into the next flow's records.
import { describe, expect, it } from 'vitest';
import { CodeCounts } from '../../src/dissectors/code-counts.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import { runEngine, fixture } from '../helpers/run.js';

/** Changes every value reachable from the state (except the scratch PDU). */
function dirty(v: unknown, depth = 0): unknown {
  if (v instanceof CodeCounts) {
    // Only add() changes it (it keeps the bitmap of codes seen): every code, some twice.
    for (let c = 0; c < v.size; c++) v.add(c);
    for (let c = 0; c < v.size; c += 3) v.add(c);
    return v;
  }
  if (typeof v === 'number') return v + 7;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'string' || v === undefined || v === null) return depth === 0 ? v : 'dirty';
  if (ArrayBuffer.isView(v)) {
    (v as unknown as Uint8Array).fill(3);
    return v;
  }
  if (v instanceof Map) {
    v.set(12345, 99);
    return v;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = dirty(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'pdu') o[k] = dirty(o[k], depth + 1);
  return o;
}

function withoutPdu(st: unknown): unknown {
  const { pdu: _pdu, ...rest } = st as Record<string, unknown>;
  return rest;
}

describe('dissector state reuse', () => {
  for (const d of DISSECTORS) {
    it(`${d.name}: a released state comes back as new`, () => {
      const fresh = d.createState();
      const st = d.createState();
      dirty(st);
      expect(withoutPdu(st)).not.toEqual(withoutPdu(fresh));
      d.releaseState(st);
      const again = d.createState();
      expect(again).toBe(st); // the pool handed back the same object...
      expect(withoutPdu(again)).toEqual(withoutPdu(fresh)); // ...as good as new
    });
  }

  it('records of a run are the same whether states are new or reused', async () => {
    // The same captures twice in one process: the second run takes states the first released.
    const files = [
      fixture('gen', 'plant-sample.pcap'),
      fixture('corpus', 'modbusSmall.pcap'),
      fixture('corpus', 'dnp3_read.pcap'),
      fixture('corpus', 'open62541_client-server-getEndpoints.pcap'),
    ];
    const first = await runEngine(files);
    const second = await runEngine(files);
    expect(first.records.length).toBeGreaterThan(0);
    expect(second.records).toEqual(first.records);
  });
});

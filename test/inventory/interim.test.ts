// Long flows (a polling connection open for days on a live sensor) reach the
// inventory at each active-timeout interim record, not only when they end,
// and are still counted once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/file-source.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import { Engine } from '../../src/engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import { NullSink } from '../../src/output/sink.js';
import { openInventory } from '../../src/inventory/db.js';
import { InventorySession } from '../../src/inventory/session.js';
import { loadSnapshot } from '../../src/inventory/snapshot.js';
import { fixture } from '../helpers/run.js';

function services(db: string): string[] {
  const conn = openInventory(db, { readonly: true });
  const svc = (ip: string, s: { proto: string; port: number; flows: number; classes: string[] }) =>
    `${ip} ${s.proto}/${s.port} ${s.flows} ${s.classes.join('+')}`;
  const out = loadSnapshot(conn).assets.flatMap((a) => a.services.map((s) => svc(a.ip, s)));
  conn.close();
  return out;
}

async function openRun(activeTimeout: number) {
  const db = join(mkdtempSync(join(tmpdir(), 'otwatch-inv-int-')), 'i.db');
  const opts = { flows: { ...DEFAULT_FLOW_OPTIONS, activeTimeout }, dissectors: DISSECTORS, pdus: false, reassemblyBytes: 64 << 20 };
  const engine = new Engine(opts, new NullSink());
  const session = new InventorySession({ path: db, packet: engine.packet, log: null, sensor: 't' });
  engine.observer = session.observer;
  await readCapture(fixture('gen', 'plant-sample.pcap'), engine.onPacket);
  // The capture is read, its flows still open (no finish yet): what a timed write would store now.
  expect(session.write()).toBe(true);
  expect(await session.flush()).toBe(true);
  return { db, engine, session };
}

describe('interim records', () => {
  it('an open flow past --active-timeout is in the inventory before it ends, and counted once', async () => {
    const r = await openRun(2);
    expect(services(r.db)).toEqual([
      '10.10.1.1 udp/123 1 ',
      '10.10.1.21 tcp/502 1 read+write',
      '10.10.1.22 tcp/502 1 read+write',
      '10.10.1.30 tcp/20000 1 read',
    ]);
    r.engine.finish('eof');
    expect(await r.session.close()).toBe(true);
    expect(services(r.db)).toEqual([
      '10.10.1.1 udp/123 1 ',
      '10.10.1.21 tcp/502 1 read+write',
      '10.10.1.22 tcp/502 1 read+write',
      '10.10.1.30 tcp/20000 1 read',
    ]);
  });

  it('with the default 5 min timeout nothing is there before the flows end (the FIN-closed one waits for the next sweep)', async () => {
    const r = await openRun(300);
    expect(services(r.db)).toEqual([]);
    r.engine.finish('eof');
    expect(await r.session.close()).toBe(true);
  });
});

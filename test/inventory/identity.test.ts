// Device identity through the observer's identity event (the pipeline's
// `identity(...)` hook that protocol modules report through): on real flows
// of a real capture, the first value is recorded, the same value again adds
// no history, a new value (new firmware) is one identity_changed row, and a
// switch back to a value already seen is none.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/file-source.js';
import { observers, type FlowObserver } from '../../src/detect/observer.js';
import type { ProtocolModule } from '../../src/dissectors/module.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import { Engine } from '../../src/engine.js';
import type { Flow } from '../../src/flows/flow.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import { NullSink } from '../../src/output/sink.js';
import { openInventory } from '../../src/inventory/db.js';
import { InventorySession } from '../../src/inventory/session.js';
import { eachChange, loadSnapshot } from '../../src/inventory/snapshot.js';
import { fixture } from '../helpers/run.js';

/** Reports a revision for the server of every confirmed flow, as a module's identity event would. */
function reporter(session: InventorySession, revision: string): FlowObserver {
  const nop = () => {};
  return {
    flowStart: nop,
    serverAnswered: nop,
    appUnknown: nop,
    pdu: nop,
    flowEnd: nop,
    finish: nop,
    appConfirmed: (f: Flow, mod: ProtocolModule) => {
      session.observer.identity(f, mod, 'server', 'identity', 'vendor', 'Schneider Electric');
      session.observer.identity(f, mod, 'server', 'identity', 'revision', revision);
    },
  };
}

async function run(db: string, revision: string): Promise<void> {
  const opts = { flows: DEFAULT_FLOW_OPTIONS, dissectors: DISSECTORS, pdus: false, reassemblyBytes: 64 << 20 };
  const engine = new Engine(opts, new NullSink());
  const session = new InventorySession({ path: db, packet: engine.packet, log: null, sensor: 't' });
  engine.observer = observers([session.observer, reporter(session, revision)]);
  await readCapture(fixture('corpus', 'modbusSmall.pcap'), engine.onPacket);
  engine.finish('eof');
  expect(await session.close()).toBe(true);
}

/** The history of a device first seen at v1.0 that moved to v2.1 once. */
const ONE_CHANGE = [
  '118.189.96.132 modbus vendor is "Schneider Electric"',
  '118.189.96.132 modbus revision is "v1.0"',
  '118.189.96.132 modbus revision changed from "v1.0" to "v2.1"',
];

describe('identity history', () => {
  it('records the first value, ignores repeats, logs a change once', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'otwatch-inv-id-')), 'id.db');
    await run(db, 'v1.0');
    await run(db, 'v1.0');
    await run(db, 'v2.1');
    const conn = openInventory(db, { readonly: true });
    const changes = [...eachChange(conn)].filter((c) => c.kind === 'identity_changed').map((c) => c.detail);
    expect(changes).toEqual(ONE_CHANGE);
    const [asset] = loadSnapshot(conn).assets;
    expect(asset.identity).toEqual({ revision: 'v2.1', vendor: 'Schneider Electric' });
    expect(asset.identity_app).toEqual({ revision: 'modbus', vendor: 'modbus' });
    conn.close();
  });

  it('a device that alternates between known values (two application descriptions) adds no history', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'otwatch-inv-id-')), 'id.db');
    for (const r of ['v1.0', 'v2.1', 'v1.0', 'v2.1', 'v1.0']) await run(db, r);
    const conn = openInventory(db, { readonly: true });
    const changes = [...eachChange(conn)].filter((c) => c.kind === 'identity_changed').map((c) => c.detail);
    expect(changes).toEqual(ONE_CHANGE);
    expect(loadSnapshot(conn).assets[0].identity.revision).toBe('v1.0'); // the latest reported
    const values = conn.prepare(`SELECT value FROM asset_identity_value WHERE key = 'revision' ORDER BY value`).all();
    expect(values).toEqual([{ value: 'v1.0' }, { value: 'v2.1' }]);
    conn.close();
  });
});

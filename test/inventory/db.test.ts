// The inventory database as a file people keep for years: versioned
// migrations from v1, refusal of files that are not an inventory (corrupt,
// foreign, newer), append-only history, two writers at once, and a full disk
// (a real tmpfs) that loses nothing already committed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInventory } from '../../src/inventory/db.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/inventory/schema.js';
import { loadSnapshot } from '../../src/inventory/snapshot.js';
import { CLI, fixture, runCli, type Rec } from '../helpers/run.js';
import { REPO } from '../helpers/shared.js';

const PLANT = fixture('gen', 'plant-sample.pcap');
const DNP3 = fixture('corpus', 'dnp3_read.pcap');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'otwatch-invdb-'));
});

const versions = (db: Database.Database) =>
  (db.prepare(`SELECT version FROM schema_migration ORDER BY version`).all() as Rec[]).map((r) => r.version);
const NOT_SQLITE = 'not an otwatch inventory (not an SQLite database (corrupt, or another kind of file))';

describe('migrations', () => {
  it('every version from v1 migrates to the current one, keeping the data', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    for (let v = 1; v <= SCHEMA_VERSION; v++) {
      const p = join(dir, `m${v}.db`);
      const old = openInventory(p, { upTo: v });
      expect(versions(old)).toEqual(Array.from({ length: v }, (_, i) => i + 1));
      old.prepare(`INSERT INTO asset (vlan, ip, mac, vendor, first_ts, last_ts) VALUES (-1, '10.0.0.1', NULL, NULL, 1, 2)`).run();
      old
        .prepare(`INSERT INTO service (vlan, ip, proto, port, app, first_ts, last_ts, flows, clients)
        VALUES (-1, '10.0.0.1', 'tcp', 502, 'modbus', 1, 2, 3, 1)`)
        .run();
      old.prepare(`INSERT INTO change (ts, kind, vlan, ip, detail) VALUES (1, 'asset_appeared', -1, '10.0.0.1', 'x')`).run();
      old.close();
      const db = openInventory(p);
      expect(versions(db)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      const s = loadSnapshot(db);
      const services = [expect.objectContaining({ port: 502, flows: 3 })];
      expect(s.assets).toEqual([expect.objectContaining({ ip: '10.0.0.1', vlan: null, services })]);
      expect(s.changes.length).toBe(1);
      // v2's rule holds whatever version the file started at.
      expect(() => db.prepare(`UPDATE change SET detail = 'y'`).run()).toThrow(/append-only/);
      db.close();
    }
  });

  it('a database newer than this otwatch is refused, not downgraded', () => {
    const p = join(dir, 'newer.db');
    openInventory(p).close();
    const raw = new Database(p);
    raw.prepare(`INSERT INTO schema_migration (version, name, applied_ts) VALUES (99, 'future', 0)`).run();
    raw.close();
    const r = runCli(['inventory', 'show', p]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `otwatch: inventory show: ${p}: inventory schema version 99 is newer than this otwatch knows (${SCHEMA_VERSION}); upgrade otwatch\n`,
    );
  });
});

describe('files that are not an inventory', () => {
  it('random bytes: one clear line, exit 1 (show) or 2 (read --inventory), the file untouched', () => {
    const p = join(dir, 'random.db');
    const bytes = Buffer.alloc(8192);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(p, bytes);
    const r = runCli(['inventory', 'show', p]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`otwatch: inventory show: ${p}: ${NOT_SQLITE}\n`);
    const rd = runCli(['read', '-q', '--inventory', p, PLANT]);
    expect(rd.code).toBe(2);
    expect(rd.stderr.split('\n')[0]).toBe(`otwatch: ${p}: ${NOT_SQLITE}`);
    expect(readFileSync(p)).toEqual(bytes);
  });

  it("another application's SQLite database is named as such and left alone", () => {
    const p = join(dir, 'foreign.db');
    const f = new Database(p);
    f.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('x')`);
    f.close();
    const r = runCli(['read', '-q', '--inventory', p, PLANT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not an otwatch inventory \(an SQLite database with other tables: users\)/);
    const again = new Database(p, { readonly: true });
    expect(again.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all()).toEqual([{ name: 'users' }]);
    again.close();
  });

  it('a damaged inventory (pages overwritten) gives one line, no stack trace', () => {
    const p = join(dir, 'damaged.db');
    expect(runCli(['read', '-q', '--inventory', p, PLANT]).code).toBe(0);
    const fd = openSync(p, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 4096); // page 2 onwards: table b-trees
    closeSync(fd);
    const r = runCli(['inventory', 'show', '--json', p]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').length).toBe(1);
    expect(r.stderr).toMatch(/^otwatch: inventory show: .*damaged\.db: .*(corrupt|malformed|not an)/);
  });

  it('a missing database is not created by show', () => {
    const r = runCli(['inventory', 'show', join(dir, 'nope.db')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such inventory database/);
  });
});

describe('history is append-only', () => {
  it('UPDATE and DELETE are refused by the database itself; prune is the one way, and it is logged', () => {
    const p = join(dir, 'append.db');
    expect(runCli(['read', '-q', '--inventory', p, PLANT]).code).toBe(0);
    const db = new Database(p);
    const n = (db.prepare(`SELECT COUNT(*) AS n FROM change`).get() as Rec).n;
    expect(n).toBeGreaterThan(10);
    expect(() => db.prepare(`UPDATE change SET kind = 'x'`).run()).toThrow(/append-only/);
    expect(() => db.prepare(`DELETE FROM change`).run()).toThrow(/append-only \(use otwatch inventory prune\)/);
    db.close();
    expect(runCli(['inventory', 'prune', p, '--before', '1', '--by', 't']).code).toBe(0); // nothing that old: 0 rows, 1 log row
    const db2 = new Database(p);
    expect(db2.prepare(`SELECT rows_deleted, pruned_by FROM prune_log`).all()).toEqual([{ rows_deleted: 0, pruned_by: 't' }]);
    expect(() => db2.prepare(`DELETE FROM prune_log`).run()).toThrow(/append-only/);
    expect(() => db2.prepare(`UPDATE prune_log SET rows_deleted = 5`).run()).toThrow(/append-only/);
    expect((db2.prepare(`SELECT COUNT(*) AS n FROM change`).get() as Rec).n).toBe(n);
    db2.close();
  });
});

function runAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [CLI, ...args], { cwd: REPO });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => res({ code: code ?? -1, stderr }));
  });
}

describe('two writers', () => {
  it('two sensors writing one inventory at once both succeed (WAL, busy timeout); each fact is recorded once', async () => {
    const p = join(dir, 'two.db');
    // A third writer holds the write lock for 1.5 s while both runs start: both must wait for it, then write.
    const holder = openInventory(p);
    holder.exec('BEGIN IMMEDIATE');
    const pending = Promise.all([
      runAsync(['read', '-q', '--inventory', p, '--sensor-id', 'a', PLANT]),
      runAsync(['read', '-q', '--inventory', p, '--sensor-id', 'b', PLANT, DNP3]),
    ]);
    await new Promise((res) => setTimeout(res, 1500));
    holder.exec('COMMIT');
    holder.close();
    const runs = await pending;
    for (const r of runs) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    const db = openInventory(p, { readonly: true });
    const s = loadSnapshot(db);
    const plc = s.assets.find((a) => a.ip === '10.10.1.30')!;
    expect(plc.sensors).toEqual(['a', 'b']);
    expect(plc.services[0].flows).toBe(2);
    const appeared = s.changes
      .filter((c) => c.kind === 'asset_appeared')
      .map((c) => c.ip)
      .sort();
    expect(appeared).toEqual([...new Set(appeared)]);
    expect(appeared.length).toBe(7);
    db.close();
  });

  it('two processes creating a new inventory at the same moment: both migrate safely', async () => {
    const p = join(dir, 'race.db');
    const runs = await Promise.all([runAsync(['read', '-q', '--inventory', p, PLANT]), runAsync(['read', '-q', '--inventory', p, PLANT])]);
    for (const r of runs) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    const db = openInventory(p, { readonly: true });
    expect(versions(db)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    db.close();
  });
});

describe('full disk (a 1 MiB tmpfs)', () => {
  const mnt = join(tmpdir(), `otwatch-full-${process.pid}`);
  const mounts = [mnt];
  afterAll(() => {
    for (const m of mounts) {
      try {
        execFileSync('umount', [m]);
      } catch {
        // not mounted
      }
      rmSync(m, { recursive: true, force: true });
    }
  });

  /** Fills the file system of `path` until ENOSPC. */
  function fillDisk(path: string): void {
    const fd = openSync(path, 'w');
    const block = Buffer.alloc(4096);
    try {
      for (;;) writeSync(fd, block);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    closeSync(fd);
  }

  it('a failed write is one line and exit 1; history committed before is intact and the next run completes it', () => {
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    const p = join(mnt, 'inv.db');
    expect(runCli(['read', '-q', '--inventory', p, PLANT]).code).toBe(0);
    const before = runCli(['inventory', 'history', '--json', p]).stdout;
    // Leave no room (with a checkpointed WAL the database file itself is complete).
    const fill = join(mnt, 'fill');
    fillDisk(fill);
    const r = runCli(['read', '-q', '--inventory', p, DNP3]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `otwatch: error: inventory ${p}: write failed: disk full: the last batch was not written (history already committed is intact)\n`,
    );
    expect(runCli(['inventory', 'history', '--json', p]).stdout).toBe(before);
    const db = new Database(p, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    rmSync(fill);
    expect(runCli(['read', '-q', '--inventory', p, DNP3]).code).toBe(0);
    const after = runCli(['inventory', 'history', '--json', p]).stdout;
    const kept = new Set(after.split('\n'));
    for (const l of before.split('\n')) expect(kept.has(l)).toBe(true);
    expect(after.split('\n').filter((l) => l.includes('"asset_appeared"')).length).toBe(7);
  });
  it('a write that fails while the run goes on is retried: freeing space mid-run loses nothing', async () => {
    const m2 = `${mnt}-b`;
    mkdirSync(m2, { recursive: true });
    mounts.push(m2);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', m2]);
    const p = join(m2, 'inv.db');
    expect(runCli(['read', '-q', '--inventory', p, DNP3]).code).toBe(0);
    // stdin stays open: the run lasts while the timer tries to write (interim records give it facts to write).
    const c = spawn(process.execPath, [CLI, 'read', '-q', '--active-timeout', '2s', '--inventory', p, '-'], { cwd: REPO });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    const exit = new Promise<number | null>((res) => c.on('close', (code) => res(code)));
    const t0 = Date.now();
    // The run has the database open (its -shm exists) before the disk fills up.
    while (!existsSync(`${p}-shm`)) {
      if (Date.now() - t0 > 20_000) throw new Error(`the run did not open the inventory: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const fill = join(m2, 'fill');
    fillDisk(fill);
    c.stdin.write(readFileSync(PLANT));
    while (!stderr.includes('write failed: disk full')) {
      if (Date.now() - t0 > 20_000) throw new Error(`no failed write seen: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    rmSync(fill);
    while (!stderr.includes('written again; nothing was lost')) {
      if (Date.now() - t0 > 30_000) throw new Error(`no retry seen: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    c.stdin.end();
    expect(await exit).toBe(0);
    const db = openInventory(p, { readonly: true });
    expect(loadSnapshot(db).assets.map((a) => a.ip)).toEqual([
      '10.10.1.1',
      '10.10.1.10',
      '10.10.1.21',
      '10.10.1.22',
      '10.10.1.30',
      '130.126.140.229',
      '130.126.142.250',
    ]);
    db.close();
  });
});

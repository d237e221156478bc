// Opening an inventory database: recognise it (or refuse a file that is not
// one, with one clear line), bring its schema up to date with the versioned
// migrations, and set it up for several writers (WAL journal, busy timeout).
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { INVENTORY_FORMAT, MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema.js';

export type Db = Database.Database;

/** A database problem to report in one line (exit 1), not a stack trace. */
export class InventoryError extends Error {
  constructor(
    message: string,
    /** Another connection held the lock (worth another try). */
    readonly busy = false,
  ) {
    super(message);
  }
}

/** How long a writer waits for another process's transaction before giving up. */
export const BUSY_TIMEOUT_MS = 10_000;

export interface OpenOptions {
  /** Open read-only: never create, never migrate (a DB behind the current schema is refused). */
  readonly?: boolean;
  /** Apply migrations only up to this version (tests of the migration path). */
  upTo?: number;
}

/** Opens (creating it when allowed) and migrates the inventory at `path`. */
export function openInventory(path: string, opts: OpenOptions = {}): Db {
  // SQLite answers BUSY at once, without waiting, in a few cases of two connections opening a new
  // file together (the switch to WAL, a read racing the other's migration): the whole open is tried
  // again for as long as a busy writer would be waited for.
  const until = Date.now() + BUSY_TIMEOUT_MS;
  for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
    try {
      return openOnce(path, opts);
    } catch (e) {
      if (!(e instanceof InventoryError) || !e.busy || Date.now() + wait > until) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    }
  }
}

function openOnce(path: string, opts: OpenOptions): Db {
  const ro = opts.readonly === true;
  if (ro && !existsSync(path)) throw new InventoryError(`${path}: no such inventory database`);
  let db: Db;
  try {
    db = new Database(path, { readonly: ro, fileMustExist: ro });
  } catch (e) {
    throw new InventoryError(`${path}: cannot open inventory database: ${(e as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const version = schemaVersion(db, path);
    const target = opts.upTo ?? SCHEMA_VERSION;
    if (version > SCHEMA_VERSION) {
      throw new InventoryError(
        `${path}: inventory schema version ${version} is newer than this otwatch knows (${SCHEMA_VERSION}); upgrade otwatch`,
      );
    }
    if (ro) {
      if (version < target) {
        throw new InventoryError(`${path}: inventory schema version ${version} needs migrating to ${target}; open it once for writing`);
      }
    } else {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      if (version < target) migrate(db, version, target);
    }
    return db;
  } catch (e) {
    db.close();
    if (e instanceof InventoryError) throw e;
    throw new InventoryError(`${path}: ${sqliteMessage(e)}`, String((e as { code?: string }).code ?? '').startsWith('SQLITE_BUSY'));
  }
}

/** 0 for an empty database; throws on a file that is not an otwatch inventory. */
function schemaVersion(db: Db, path: string): number {
  let tables: string[];
  try {
    tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new InventoryError(`${path}: not an otwatch inventory (${sqliteMessage(e)})`);
    }
    throw new InventoryError(`${path}: cannot read the inventory: ${sqliteMessage(e)}`);
  }
  if (tables.length === 0) return 0;
  if (!tables.includes('meta') || !tables.includes('schema_migration')) {
    throw new InventoryError(`${path}: not an otwatch inventory (an SQLite database with other tables: ${tables.slice(0, 5).join(', ')})`);
  }
  const fmt = db.prepare(`SELECT value FROM meta WHERE key = 'format'`).get() as { value: string } | undefined;
  if (fmt?.value !== INVENTORY_FORMAT) {
    throw new InventoryError(`${path}: not an otwatch inventory (meta.format is ${JSON.stringify(fmt?.value ?? null)})`);
  }
  const v = db.prepare(`SELECT MAX(version) AS v FROM schema_migration`).get() as { v: number | null };
  return v.v ?? 0;
}

function migrate(db: Db, from: number, to: number): void {
  const steps = MIGRATIONS.filter((m) => m.version > from && m.version <= to);
  // One immediate transaction: two processes creating one file cannot both migrate it.
  db.transaction(() => {
    const again = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'`).get();
    const max = () => (db.prepare(`SELECT MAX(version) AS v FROM schema_migration`).get() as { v: number | null }).v ?? 0;
    const done = again === undefined ? 0 : max();
    for (const m of steps) if (m.version > done) apply(db, m);
  }).immediate();
}

function apply(db: Db, m: Migration): void {
  for (const s of m.sql) db.exec(s);
  for (const s of m.sqliteOnly ?? []) db.exec(s);
  if (m.version === 1) db.prepare(`INSERT INTO meta (key, value) VALUES ('format', ?)`).run(INVENTORY_FORMAT);
  db.prepare(`INSERT INTO schema_migration (version, name, applied_ts) VALUES (?, ?, ?)`).run(m.version, m.name, Date.now() / 1000);
}

/** The SQLite error in words people act on. */
export function sqliteMessage(e: unknown): string {
  const code = (e as { code?: string }).code ?? '';
  const msg = (e as Error).message ?? String(e);
  if (code === 'SQLITE_NOTADB') return 'not an SQLite database (corrupt, or another kind of file)';
  if (code === 'SQLITE_CORRUPT') return 'database file is corrupt';
  if (code === 'SQLITE_FULL') return 'disk full: the last batch was not written (history already committed is intact)';
  if (code === 'SQLITE_BUSY') return `database is locked by another writer for over ${BUSY_TIMEOUT_MS / 1000} s`;
  if (code === 'SQLITE_READONLY') return 'database is read-only';
  if (code.startsWith('SQLITE_IOERR')) return `disk I/O error (${code}; a full disk or a failing device)`;
  return msg;
}

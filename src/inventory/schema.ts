// The inventory's schema as numbered migrations. Each step is plain SQL that
// PostgreSQL also accepts (TEXT, INTEGER, BIGINT, DOUBLE PRECISION, composite
// primary keys); the only SQLite-specific parts are marked and have a
// PostgreSQL counterpart described in docs/inventory.md:
//   - change.id INTEGER PRIMARY KEY (SQLite rowid; PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY)
//   - the append-only triggers of v2 (PostgreSQL: a trigger function and REVOKE UPDATE, DELETE)
//
// Conventions: timestamps are epoch seconds (DOUBLE PRECISION, microsecond
// precision like the records); an untagged asset has vlan -1 (a key column
// cannot be NULL in a primary key); proto is 'tcp' or 'udp'.
// A migration is never edited once released: a change is a new step.

export const INVENTORY_FORMAT = 'otwatch-inventory';

export interface Migration {
  version: number;
  name: string;
  sql: readonly string[];
  /** SQLite-only statements of this step (the PostgreSQL form is in docs/inventory.md). */
  sqliteOnly?: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'assets, roles, addresses, identity, services, history',
    sql: [
      `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      `CREATE TABLE schema_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ts DOUBLE PRECISION NOT NULL)`,
      `CREATE TABLE asset (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, mac TEXT, vendor TEXT,
        first_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip))`,
      `CREATE TABLE asset_sensor (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, sensor TEXT NOT NULL,
        first_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, sensor))`,
      `CREATE TABLE asset_role (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, app TEXT NOT NULL, role TEXT NOT NULL, term TEXT NOT NULL,
        first_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, app, role))`,
      `CREATE TABLE asset_address (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, app TEXT NOT NULL, role TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
        first_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, app, role, kind, value))`,
      `CREATE TABLE asset_identity (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, app TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, app, key))`,
      `CREATE TABLE service (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, proto TEXT NOT NULL, port INTEGER NOT NULL, app TEXT,
        first_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
        flows BIGINT NOT NULL, clients INTEGER NOT NULL,
        stale INTEGER NOT NULL DEFAULT 0,
        alert_ts DOUBLE PRECISION, alert_community_id TEXT,
        PRIMARY KEY (vlan, ip, proto, port))`,
      `CREATE TABLE service_client (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, proto TEXT NOT NULL, port INTEGER NOT NULL, client TEXT NOT NULL,
        PRIMARY KEY (vlan, ip, proto, port, client))`,
      `CREATE TABLE service_class (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, proto TEXT NOT NULL, port INTEGER NOT NULL, class TEXT NOT NULL,
        first_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, proto, port, class))`,
      `CREATE TABLE approval (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, proto TEXT NOT NULL, port INTEGER NOT NULL,
        reason TEXT NOT NULL, approved_by TEXT NOT NULL, ticket TEXT, ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, proto, port))`,
      `CREATE TABLE alert (
        ts DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, community_id TEXT,
        vlan INTEGER NOT NULL, client_ip TEXT, client_port INTEGER, server_ip TEXT, server_port INTEGER, proto TEXT,
        app TEXT, detail TEXT NOT NULL)`,
      `CREATE INDEX alert_ts ON alert (ts)`,
      // History: one row per change, append-only (see v2).
      `CREATE TABLE change (
        id INTEGER PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, proto TEXT, port INTEGER, app TEXT, detail TEXT NOT NULL,
        sensor TEXT)`,
      `CREATE INDEX change_ts ON change (ts)`,
    ],
  },
  {
    version: 2,
    name: 'history append-only, prune log',
    sql: [
      `CREATE TABLE prune_log (
        ts DOUBLE PRECISION NOT NULL, before_ts DOUBLE PRECISION NOT NULL, rows_deleted BIGINT NOT NULL,
        pruned_by TEXT NOT NULL)`,
      `INSERT INTO meta (key, value) VALUES ('pruning', '0')`,
    ],
    sqliteOnly: [
      `CREATE TRIGGER change_no_update BEFORE UPDATE ON change
        BEGIN SELECT RAISE(ABORT, 'inventory history is append-only'); END`,
      `CREATE TRIGGER change_no_delete BEFORE DELETE ON change
        WHEN (SELECT value FROM meta WHERE key = 'pruning') <> '1'
        BEGIN SELECT RAISE(ABORT, 'inventory history is append-only (use otwatch inventory prune)'); END`,
      `CREATE TRIGGER prune_log_no_update BEFORE UPDATE ON prune_log
        BEGIN SELECT RAISE(ABORT, 'the prune log is append-only'); END`,
      `CREATE TRIGGER prune_log_no_delete BEFORE DELETE ON prune_log
        BEGIN SELECT RAISE(ABORT, 'the prune log is append-only'); END`,
    ],
  },
  {
    version: 3,
    name: 'indexes for show and approval by address',
    sql: [
      `CREATE INDEX service_ip ON service (ip)`,
      `CREATE INDEX approval_ip ON approval (ip)`,
      `CREATE INDEX alert_server ON alert (server_ip, server_port)`,
    ],
  },
  {
    version: 4,
    name: 'every identity value seen, with first and last seen',
    // A device may report several values for one key (an OPC UA server with two application
    // descriptions, a gateway answering for several units): a change is a value never seen before,
    // not a switch between known ones (that flooded the history with a pair of rows per write).
    sql: [
      `CREATE TABLE asset_identity_value (
        vlan INTEGER NOT NULL, ip TEXT NOT NULL, app TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        first_ts DOUBLE PRECISION NOT NULL, last_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (vlan, ip, app, key, value))`,
      `INSERT INTO asset_identity_value (vlan, ip, app, key, value, first_ts, last_ts)
        SELECT vlan, ip, app, key, value, ts, ts FROM asset_identity`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** History kinds (issue 16): the `kind` of a change row. */
export const CHANGE_KINDS = [
  'asset_appeared',
  'service_appeared',
  'service_stale',
  'service_back',
  'service_app_changed',
  'role_appeared',
  'identity_changed',
  'function_class_new',
  'approval_given',
  'approval_withdrawn',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Service status (issue 16), derived when read, never stored: see docs/inventory.md. */
export const SERVICE_STATUSES = ['baseline', 'approved', 'unapproved', 'stale'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

/** Default --stale-after: CIP-010 asks for a review at least every 35 days. */
export const DEFAULT_STALE_AFTER = 35 * 86400;

// `read --inventory DB` / `live --inventory DB`: the options (spread into the
// pipeline's), their typed settings, and opening the run's inventory session.
import { UsageError, type OptSpec } from '../cli/options.js';
import type { Engine } from '../engine.js';
import type { Logger } from '../output/log.js';
import { InventoryError } from './db.js';
import { DEFAULT_STALE_AFTER } from './schema.js';
import { InventorySession } from './session.js';

export const INVENTORY_RUN_OPTIONS: readonly OptSpec[] = [
  { name: 'inventory', kind: 'string', arg: 'DB', help: 'keep an asset and service inventory in this SQLite file (created if missing)' },
  {
    name: 'stale-after',
    kind: 'seconds',
    arg: 'DUR',
    default: DEFAULT_STALE_AFTER,
    help: 'with --inventory: a service not seen for DUR is stale',
  },
];

export interface InventorySettings {
  path: string;
  /** --sensor-id; undefined: the host name. */
  sensor: string | undefined;
  staleAfter: number;
}

export function inventorySettings(opts: Record<string, unknown>): InventorySettings | null {
  const path = opts.inventory;
  if (typeof path !== 'string') return null;
  if (typeof opts.workers === 'number' && opts.workers > 1) throw new UsageError('--inventory runs on one thread: leave out --workers');
  return {
    path,
    sensor: typeof opts['sensor-id'] === 'string' ? opts['sensor-id'] : undefined,
    staleAfter: typeof opts['stale-after'] === 'number' ? opts['stale-after'] : DEFAULT_STALE_AFTER,
  };
}

export function openInventory(s: InventorySettings, engine: Engine, log: Logger | null): InventorySession {
  try {
    return new InventorySession({ path: s.path, sensor: s.sensor, staleAfter: s.staleAfter, packet: engine.packet, log });
  } catch (e) {
    if (e instanceof InventoryError) throw new UsageError(e.message);
    throw e;
  }
}

// `read --inventory DB` / `live --inventory DB`: the options (spread into the
// pipeline's) and opening the run's inventory session from them.
import { UsageError, type OptSpec } from '../cli/options.js';
import type { Engine } from '../engine.js';
import type { Logger } from '../output/log.js';
import { InventoryError } from './db.js';
import { DEFAULT_STALE_AFTER } from './schema.js';
import { InventorySession } from './session.js';

export const INVENTORY_RUN_OPTIONS: readonly OptSpec[] = [
  { name: 'inventory', kind: 'string', arg: 'DB', help: 'keep an asset and service inventory in this SQLite file (created if missing)' },
  { name: 'sensor', kind: 'string', arg: 'NAME', help: 'with --inventory: this sensor\'s name (default the host name)' },
  {
    name: 'stale-after', kind: 'seconds', arg: 'DUR', default: DEFAULT_STALE_AFTER,
    help: 'with --inventory: a service not seen for DUR is stale',
  },
];

export function inventoryFromOptions(opts: Record<string, unknown>, engine: Engine, log: Logger | null): InventorySession | null {
  const path = opts.inventory;
  if (typeof path !== 'string') return null;
  if (typeof opts.workers === 'number' && opts.workers > 1) throw new UsageError('--inventory runs on one thread: leave out --workers');
  try {
    return new InventorySession({
      path,
      sensor: typeof opts.sensor === 'string' ? opts.sensor : undefined,
      staleAfter: opts['stale-after'] as number,
      packet: engine.packet,
      log,
    });
  } catch (e) {
    if (e instanceof InventoryError) throw new UsageError(e.message);
    throw e;
  }
}

// Where the shared ICS corpus lives (../shared beside the clone). Tests that
// need it run whenever it is there; on a clone without it they say so and are
// not defined. In CI it is always there, so its absence is a failure.
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
export const SHARED = process.env.OTWATCH_SHARED ?? resolve(REPO, '..', 'shared');
export const SHARED_PCAPS = resolve(SHARED, 'pcaps');
export const hasShared = existsSync(resolve(SHARED_PCAPS, 'MANIFEST.tsv'));

if (!hasShared) {
  if (process.env.CI) throw new Error(`shared corpus missing at ${SHARED} (CI must have it)`);
  console.warn(`[otwatch tests] ${SHARED} not found: tests on the shared corpus are not run`);
}

/** Defines `fn`'s tests only when the shared corpus is present. */
export function withShared(fn: () => void): void {
  if (hasShared) fn();
}

// @msgpack/msgpack, loaded on first use: most runs neither read a baseline
// nor write msgpack, and loading the package costs them ~30 ms of start-up.
import { createRequire } from 'node:module';

type Msgpack = typeof import('@msgpack/msgpack');
const requireCjs = createRequire(import.meta.url);
let mod: Msgpack | null = null;

export function msgpack(): Msgpack {
  return (mod ??= requireCjs('@msgpack/msgpack') as Msgpack);
}

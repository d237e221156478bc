// MurmurHash3 (32-bit) building blocks, shared by the flow table's bucket
// hash and the workers' shard hash (whose exact definition is documented in
// src/parallel/shard.ts for reimplementation on a packet broker).

/** One 32-bit block mixed into h. */
export function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The finalizer: an unsigned 32-bit result. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

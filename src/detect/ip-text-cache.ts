// IPv4 address text per run: detection looks up the same few thousand hosts
// for every flow, so each word is turned into text once (and the string keeps
// its hash for the Map lookups that follow) instead of once per flow.
import { ipv4Text } from '../output/ip-text.js';

/** Words kept before the cache starts over (a sweep of /8 must not grow it
 *  without bound). */
export const IPV4_TEXT_CACHE_MAX = 1 << 16;

export class Ipv4TextCache {
  private readonly m = new Map<number, string>();

  /** Exactly ipv4Text(w), for a word given as int32 or uint32. */
  text(w: number): string {
    const k = w | 0;
    let s = this.m.get(k);
    if (s === undefined) {
      if (this.m.size >= IPV4_TEXT_CACHE_MAX) this.m.clear();
      s = ipv4Text(k);
      this.m.set(k, s);
    }
    return s;
  }

  get size(): number {
    return this.m.size;
  }
}

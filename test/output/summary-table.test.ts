// TopTable replaced a Map for speed: it must count exactly like one,
// including the key cap and merging of worker tables.
import { describe, expect, it } from 'vitest';
import { TopTable } from '../../src/output/summary.js';
import { mulberry32 as rng } from '../../tools/prng.js';

describe('summary TopTable', () => {
  it('counts like a Map for numeric (up to 2^52) and string keys, and merges', () => {
    const r = rng(9);
    const t = new TopTable();
    const ref = new Map<number | string, { flows: number; bytes: number }>();
    for (let i = 0; i < 50_000; i++) {
      const pick = r();
      const key =
        pick < 0.1
          ? `v6 ${Math.floor(r() * 300)}`
          : pick < 0.5
            ? Math.floor(r() * 3000)
            : Math.floor(r() * 2000) * 2 ** 40 + Math.floor(r() * 5);
      const bytes = Math.floor(r() * 1500);
      t.add(key, bytes);
      const e = ref.get(key) ?? { flows: 0, bytes: 0 };
      e.flows++;
      e.bytes += bytes;
      ref.set(key, e);
    }
    t.merge(42, 3, 300);
    t.merge('merged', 1, 10);
    for (const [k, f, b] of [
      [42, 3, 300],
      ['merged', 1, 10],
    ] as const) {
      const e = ref.get(k) ?? { flows: 0, bytes: 0 };
      e.flows += f;
      e.bytes += b;
      ref.set(k, e);
    }
    const got = new Map(t.entries());
    expect(got.size).toBe(ref.size);
    expect(got).toEqual(ref);
    expect(t.other).toBe(0);
    const top = t.top(5, 'flows', String);
    const refTop = [...ref].sort((a, b) => b[1].flows - a[1].flows || (String(a[0]) < String(b[0]) ? -1 : 1)).slice(0, 5);
    expect(top).toEqual(refTop.map(([k, e]) => [String(k), e]));
  });

  it('top(n) is the first n of the whole table sorted, ties by key text, with many ties', () => {
    const r = rng(17);
    for (const size of [0, 1, 7, 3_000]) {
      const t = new TopTable();
      for (let i = 0; i < size * 3; i++) {
        const pick = r();
        // Few distinct counts: most comparisons are ties decided by the key text.
        const key =
          pick < 0.2 ? `fe80::${Math.floor(r() * size)}` : pick < 0.6 ? Math.floor(r() * size) : Math.floor(r() * size) * 2 ** 33 + 9;
        t.add(key, Math.floor(r() * 4) * 100);
      }
      const all = t.entries();
      for (const by of ['flows', 'bytes'] as const) {
        const ref = [...all].sort((a, b) => b[1][by] - a[1][by] || (String(a[0]) < String(b[0]) ? -1 : 1));
        for (const n of [0, 1, 5, 8, all.length + 2]) {
          expect(t.top(n, by, (k) => `k=${k}`)).toEqual(ref.slice(0, n).map(([k, e]) => [`k=${k}`, e]));
        }
      }
    }
  });

  it('stops taking new keys at 100 000 and counts the rest as other', () => {
    const t = new TopTable();
    for (let i = 0; i < 100_000; i++) t.add(i * 65536 + 7, 1);
    t.add(5, 1); // new key past the cap
    t.add('x', 1);
    t.add(7, 1); // known key: still counted
    expect(t.size).toBe(100_000);
    expect(t.other).toBe(2);
    expect(new Map(t.entries()).get(7)).toEqual({ flows: 2, bytes: 2 });
  });
});

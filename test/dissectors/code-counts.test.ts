// CodeCounts keeps a bitmap of the codes it counted, so that writing and
// clearing visit only those: checked against a plain array on random use.
import { describe, expect, it } from 'vitest';
import { CodeCounts } from '../../src/dissectors/code-counts.js';
import { jsonText } from '../../src/output/json-out.js';
import { mulberry32 } from '../../tools/prng.js';

/** What the flow records wrote before the bitmap: every non-zero slot, in order. */
function reference(a: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) parts.push(`"${i}":${a[i]}`);
  return `{${parts.join(',')}}`;
}

describe('CodeCounts', () => {
  it('counts, writes and clears like a plain array, over many random rounds', () => {
    const rnd = mulberry32(7);
    for (const size of [64, 128, 256]) {
      const c = new CodeCounts(size);
      const plain = new Array<number>(size).fill(0);
      for (let round = 0; round < 300; round++) {
        const adds = Math.floor(rnd() * (round % 10 === 0 ? 2000 : 12));
        for (let k = 0; k < adds; k++) {
          // Mostly a few codes (a poll), sometimes any, including 0 and size-1.
          const code = rnd() < 0.8 ? (Math.floor(rnd() * 4) * 31) % size : Math.floor(rnd() * size);
          c.add(code);
          plain[code]++;
        }
        expect(Array.from(c.n)).toEqual(plain);
        expect(jsonText((o, x: CodeCounts) => x.write(o), c)).toBe(reference(plain));
        for (let i = 0; i < size; i++) expect(((c.used[i >> 5] >>> (i & 31)) & 1) === 1).toBe(plain[i] > 0);
        if (rnd() < 0.5) {
          c.clear();
          plain.fill(0);
          expect(Array.from(c.n).every((v) => v === 0)).toBe(true);
          expect(Array.from(c.used).every((v) => v === 0)).toBe(true);
          expect(jsonText((o, x: CodeCounts) => x.write(o), c)).toBe('{}');
        }
      }
    }
  });

  it('ignores codes outside its size, as the typed arrays it replaced did', () => {
    const c = new CodeCounts(128);
    c.add(200);
    c.add(5);
    expect(jsonText((o, x: CodeCounts) => x.write(o), c)).toBe('{"5":1}');
  });
});

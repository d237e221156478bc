// pcapng timestamps are 64-bit unit counts; ngTime turns them into seconds
// and nanoseconds without BigInt on the common path (one double division
// below 2^53, 16-bit limbs above). Checked here against BigInt arithmetic on
// every resolution pcapng allows, at random and at the edges of each path.
import { describe, expect, it } from 'vitest';
import { ngTime, type NgIface } from '../../src/capture/capture-parser.js';
import { RawPacket } from '../../src/capture/raw-packet.js';
import { mulberry32 as rng } from '../../tools/prng.js';

function iface(tsresol: number, tsOffset = 0): NgIface {
  const n = tsresol & 0x7f;
  if (tsresol & 0x80) return { linktype: 1, snaplen: 0, unitsPerSec: 2 ** n, nsPerUnit: 0, tsOffset };
  return { linktype: 1, snaplen: 0, unitsPerSec: 10 ** n, nsPerUnit: n <= 9 ? 10 ** (9 - n) : 0, tsOffset };
}

/** The same result computed with BigInt throughout. */
function reference(hi: number, lo: number, f: NgIface): { ts: number; tsNsec: number } {
  const t = (BigInt(hi) << 32n) | BigInt(lo);
  const U = BigInt(f.unitsPerSec);
  const sec = Number(t / U) + f.tsOffset;
  const rem = t % U;
  const nsec = Number((rem * 1_000_000_000n) / U);
  return { ts: sec + Math.floor(nsec / 1000) / 1e6, tsNsec: nsec };
}

describe('pcapng timestamp arithmetic (ngTime)', () => {
  // Decimal 10^0..10^15 and binary 2^0..2^60 (the parser refuses finer ones).
  const resolutions = [...Array.from({ length: 16 }, (_, n) => n), ...Array.from({ length: 61 }, (_, n) => 0x80 | n)];
  const edges: [number, number][] = [
    [0, 0],
    [0, 1],
    [0, 0xffffffff],
    [1, 0],
    [0x1ffffe, 0xffffffff],
    [0x1fffff, 0],
    [0x1fffff, 0xffffffff],
    [0x200000, 0],
    [0x3b9ac9ff, 0xffffffff],
    [0x7fffffff, 0xffffffff],
    [0x80000000, 0],
    [0xffffffff, 0xffffffff],
  ];

  it('equals BigInt arithmetic on every resolution, at random and at the edges', () => {
    const r = rng(104);
    const out = new RawPacket();
    let checked = 0;
    for (const res of resolutions) {
      const f = iface(res);
      const cases: [number, number][] = [...edges];
      // Counts that are whole multiples of the unit, and one below them: the
      // places where a rounded division would be off by one.
      for (let k = 0; k < 40; k++) {
        const t = BigInt(Math.floor(r() * 2 ** 21)) * 2n ** 32n + BigInt(Math.floor(r() * 2 ** 32));
        const m = (t / BigInt(f.unitsPerSec)) * BigInt(f.unitsPerSec);
        for (const v of [m, m > 0n ? m - 1n : 0n]) cases.push([Number(v >> 32n), Number(v & 0xffffffffn)]);
      }
      for (let k = 0; k < 300; k++) {
        // Mostly realistic counts (hi below 2^21, the fast path), some anywhere.
        const hi = k % 3 === 0 ? Math.floor(r() * 2 ** 32) : Math.floor(r() * 2 ** 21);
        cases.push([hi, Math.floor(r() * 2 ** 32)]);
      }
      for (const [hi, lo] of cases) {
        ngTime(hi, lo, f, out);
        const want = reference(hi, lo, f);
        if (out.ts !== want.ts || out.tsNsec !== want.tsNsec) {
          expect({ res, hi, lo, ts: out.ts, tsNsec: out.tsNsec }).toEqual({ res, hi, lo, ...want });
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(resolutions.length * 380);
  });

  it('adds if_tsoffset in seconds', () => {
    const out = new RawPacket();
    // 1700000000.123456 s in µs, with a one-day offset.
    const t = 1_700_000_000_123_456n;
    ngTime(Number(t >> 32n), Number(t & 0xffffffffn), iface(6, 86_400), out);
    expect(out.ts).toBe(1_700_086_400.123456);
    expect(out.tsNsec).toBe(123_456_000);
  });
});

// The identification scan skips offsets where a dissector's anchor byte does
// not fit, without calling probe(): that is only sound if probe() really
// answers NoMatch there. Checked on random and on PDU-like buffers.
import { describe, expect, it } from 'vitest';
import { DISSECTORS } from '../../src/dissectors/index.js';
import { Probe } from '../../src/dissectors/types.js';
import { mulberry32 as rng } from '../../tools/prng.js';

// Bytes that the probes look for, so buffers come close to real headers.
const FAVOURITES = [
  0, 0, 0, 1, 2, 3, 5, 6, 0x05, 0x64, 0x68, 0x04, 0x43, 0x44, 0x46, 0x48, 0x45, 0x4c, 0x41, 0x4b, 0x4d, 0x53, 0x47, 0x4f, 0x50, 0x4e, 0x52,
  0xff,
];

describe('dissector anchors', () => {
  for (const d of DISSECTORS) {
    it(`${d.name}: a buffer whose anchor byte does not fit is never a match`, () => {
      const r = rng(d.name.length * 7919);
      let checked = 0;
      for (let n = 0; n < 200_000; n++) {
        const len = 1 + Math.floor(r() * (r() < 0.5 ? 12 : 300));
        const b = Buffer.alloc(len + 4);
        for (let i = 0; i < b.length; i++) b[i] = r() < 0.6 ? FAVOURITES[Math.floor(r() * FAVOURITES.length)] : Math.floor(r() * 256);
        // Start from a plausible header half the time, then break its anchor.
        if (r() < 0.5 && len > d.anchorAt) {
          let v = Math.floor(r() * 256);
          while (d.anchorOk[v] !== 0) v = (v + 1) & 255;
          b[2 + d.anchorAt] = v;
        }
        const off = 2;
        if (len <= d.anchorAt || d.anchorOk[b[off + d.anchorAt]] !== 0) continue;
        checked++;
        for (const dir of [0, 1] as const) {
          const got = d.probe(b, off, len, dir);
          if (got !== Probe.NoMatch)
            expect({ bytes: b.subarray(off, off + len).toString('hex'), dir, got }).toEqual({ got: Probe.NoMatch });
        }
      }
      expect(checked).toBeGreaterThan(50_000);
    });
  }
});

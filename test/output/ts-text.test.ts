// tsText (the record timestamp formatter) equals toFixed(6), which it
// replaces on the hot path, for capture-like times at microsecond precision.
import { describe, expect, it } from 'vitest';
import { tsText } from '../../src/output/flow-record.js';

describe('tsText', () => {
  it('matches toFixed(6) on 200 000 timestamps built from seconds and microseconds', () => {
    let seed = 7;
    for (let i = 0; i < 200_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const ts = 1e9 + (seed % 1_000_000_000) + (seed % 1_000_000) / 1e6;
      expect(tsText(ts)).toBe(ts.toFixed(6));
    }
  });

  it('handles whole seconds, the last microsecond, and repeats', () => {
    expect(tsText(1700000000)).toBe('1700000000.000000');
    expect(tsText(1700000000.999999)).toBe('1700000000.999999');
    expect(tsText(1700000000.999999)).toBe('1700000000.999999');
    expect(tsText(1400547199.000001)).toBe('1400547199.000001');
  });
});

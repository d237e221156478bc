// The collector's duplicate check under the orders MQTT really delivers in:
// a resent record after later ones, a gap that never fills, and a restart
// from the state file plus the output files written after it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recoverWindows, saveWindows, STATE_FILE } from '../../src/export/collect-state.js';
import { SeqWindow, SPAN } from '../../src/export/seq-window.js';

const rec = (seq: number) => `{"type":"pdu","ts":1,"sensor":"s1","seq":${seq}}\n`;

describe('SeqWindow', () => {
  it('takes a resent record that arrives after later ones, and drops true duplicates', () => {
    const w = new SeqWindow();
    const order = [1, 2, 5, 6, 7, 3, 4, 5, 8, 2];
    const fresh = order.map((s) => w.add(s));
    expect(fresh).toEqual([true, true, true, true, true, true, true, false, true, false]);
    expect(w.low).toBe(8);
    expect(w.pending).toBe(0);
  });

  it('gives up a gap that never fills once SPAN seqs arrived above it, and stays bounded', () => {
    const w = new SeqWindow();
    w.add(1);
    // seq 2 was dropped by the sensor's spool: never comes.
    for (let s = 3; s <= SPAN + 10; s++) w.add(s);
    expect(w.pending).toBe(0);
    expect(w.low).toBe(SPAN + 10);
    expect(w.add(2)).toBe(false); // too late: counted as a duplicate
  });

  it('reads the old state (a number) and its own JSON', () => {
    expect(SeqWindow.from(41)?.low).toBe(41);
    const w = new SeqWindow(10, [12, 15]);
    const back = SeqWindow.from(JSON.parse(JSON.stringify(w)));
    expect(back?.toJSON()).toEqual({ low: 10, above: [12, 15] });
    expect(back?.add(11)).toBe(true);
    expect(back?.low).toBe(12);
    expect(SeqWindow.from('x')).toBeNull();
    expect(SeqWindow.from({ low: -1, above: [] })).toBeNull();
  });
});

describe('collector state across a restart', () => {
  it('the saved window plus the records written after it (in arrival order, spread over files)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otwatch-seqwin-'));
    mkdirSync(join(dir, 's1'));
    // Saved once a second: it knows 1..3 and 6.
    saveWindows(dir, new Map([['s1', new SeqWindow(3, [6])]]));
    // Written after the save, before a SIGKILL: 7 and 9 arrived before the resent 4.
    writeFileSync(join(dir, 's1', 'pdus.ndjson'), [1, 2, 3, 6, 7, 9, 4].map(rec).join(''));
    writeFileSync(join(dir, 's1', 'flows.ndjson'), [10].map(rec).join(''));
    const w = recoverWindows(dir).get('s1')!;
    expect(w.toJSON()).toEqual({ low: 4, above: [6, 7, 9, 10] });
    expect(w.add(5)).toBe(true); // the one still missing is not taken for a duplicate
    expect(w.add(8)).toBe(true);
    expect(w.add(9)).toBe(false);
  });

  it('without a state file, from the files alone, across chunk boundaries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otwatch-seqwin-'));
    mkdirSync(join(dir, 's2'));
    const n = 40_000; // about 2 MiB: read back in several chunks
    const seqs = Array.from({ length: n }, (_, i) => i + 1).filter((s) => s !== 777);
    writeFileSync(join(dir, 's2', 'pdus.ndjson'), seqs.map(rec).join(''));
    writeFileSync(join(dir, STATE_FILE), '{not json');
    const w = recoverWindows(dir).get('s2')!;
    expect(w.high).toBe(n);
    expect(w.has(n - 1)).toBe(true);
    expect(w.has(776)).toBe(true);
  });
});

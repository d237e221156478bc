// -q shows no summary, so the engine does not aggregate one (a table update
// per flow end); everything else it reports must be the same.
import { describe, expect, it } from 'vitest';
import { fixture, runCli, runEngine } from '../helpers/run.js';

const CAPTURE = fixture('gen', 'basic-us-le.pcap');

describe('summary aggregation', () => {
  it('is skipped with summary: false, with the same records and stats', async () => {
    const on = await runEngine([CAPTURE]);
    const off = await runEngine([CAPTURE], { summary: false });
    expect(on.flows.length).toBeGreaterThan(2);
    expect(off.records).toEqual(on.records);
    expect(off.engine.stats).toEqual(on.engine.stats);
    expect(on.engine.summary.talkers.size).toBeGreaterThan(0);
    expect(on.engine.summary.apps.size).toBeGreaterThan(0);
    expect(off.engine.summary.talkers.size).toBe(0);
    expect(off.engine.summary.services.size).toBe(0);
    expect(off.engine.summary.apps.size).toBe(0);
  });

  it('read -q writes the same records as read without -q, which prints the summary', () => {
    const loud = runCli(['read', '--json', '--pdus', CAPTURE]);
    const quiet = runCli(['read', '-q', '--json', '--pdus', CAPTURE]);
    expect(loud.code).toBe(0);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe(loud.stdout);
    expect(loud.stdout.split('\n').length).toBeGreaterThan(5);
    expect(loud.stderr).toContain('top talkers');
    expect(quiet.stderr).not.toContain('top talkers');
  });
});

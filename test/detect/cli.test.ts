// End to end through the built CLI: baseline learn/show/diff, read with
// --baseline, --learn-for, --policy, alerts in the --json stream and in
// alerts.ndjson, and the errors a person sees.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergePackets } from '../../tools/pcapgen/capture.js';
import { REPO } from '../helpers/shared.js';
import { runCli, type Rec } from '../helpers/run.js';
import { brief, clock, T0, tmpDir, writePcap } from './helpers.js';
import * as S from './scenarios.js';

let dir: string;
let train: string;
let fn: string;
let otb: string;

const lines = (out: string): Rec[] =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
const alertsOf = (out: string) => lines(out).filter((r) => r.type === 'alert');

beforeAll(() => {
  dir = tmpDir('cli');
  train = writePcap(dir, 'train.pcap', S.train());
  fn = writePcap(dir, 'function.pcap', S.newFunction(clock(T0 + 100)));
  otb = join(dir, 'plant.otb');
  const r = runCli(['baseline', 'learn', train, '-o', otb]);
  expect(r.stderr).toMatch(/plant\.otb: 28 listening endpoints, 29 talkers/);
  expect(r.code).toBe(0);
});

describe('otwatch baseline', () => {
  it('show prints the baseline as JSON', () => {
    const r = runCli(['baseline', 'show', otb]);
    expect(r.code).toBe(0);
    const b = JSON.parse(r.stdout);
    expect(b.format).toBe('otwatch-baseline');
    expect(b.version).toBe(1);
    const plc = b.endpoints.find((e: Rec) => e.ip === S.PLC && e.port === 502);
    expect(plc).toMatchObject({ vlan: null, proto: 'tcp', apps: ['modbus'] });
    const master = plc.talkers.find((t: Rec) => t.ip === S.MASTER);
    // Three FC 3 requests in one training connection: one flow.
    expect(master.functions).toEqual([
      expect.objectContaining({ app: 'modbus', fc: 3, class: 'read', name: 'Read Holding Registers', flows: 1 }),
    ]);
    expect(b.scanners.map((s: Rec) => s.ip)).toEqual([S.SCANNER]);
  });

  it('diff: exit 0 and nothing for the same baseline; + lines and exit 1 for a grown one', () => {
    const same = runCli(['baseline', 'diff', otb, otb]);
    expect(same.code).toBe(0);
    expect(same.stdout).toBe('0 added, 0 removed\n');
    const grown = join(dir, 'grown.otb');
    expect(runCli(['baseline', 'learn', train, fn, '-o', grown]).code).toBe(0);
    const d = runCli(['baseline', 'diff', otb, grown]);
    expect(d.code).toBe(1);
    expect(d.stdout.split('\n').filter((l) => l.startsWith('+ ')).length).toBe(3);
    const j = runCli(['baseline', 'diff', '--json', grown, otb]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).removed.map((f: Rec) => `${f.fact} ${f.fc} ${f.function_class}`)).toEqual([
      'function 6 write',
      'function 8 config',
      'function 16 write',
    ]);
  });

  it('--from extends an existing baseline', () => {
    const ext = join(dir, 'ext.otb');
    expect(runCli(['baseline', 'learn', '--from', otb, fn, '-o', ext]).code).toBe(0);
    const grown = join(dir, 'grown2.otb');
    expect(runCli(['baseline', 'learn', train, fn, '-o', grown]).code).toBe(0);
    // Same facts as learning both captures at once.
    expect(runCli(['baseline', 'diff', ext, grown]).stdout).toBe('0 added, 0 removed\n');
  });

  it('usage errors', () => {
    expect(runCli(['baseline']).code).toBe(2);
    expect(runCli(['baseline', 'learn', train]).stderr).toContain('needs -o FILE');
    expect(runCli(['baseline', 'frobnicate']).stderr).toContain("unknown baseline command 'frobnicate'");
  });
});

describe('otwatch read with detection', () => {
  it('replaying the learned capture raises nothing', () => {
    const r = runCli(['read', '--json', '--baseline', otb, train]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout).filter((x) => x.type === 'alert' || x.type === 'alert_summary')).toEqual([]);
    expect(lines(r.stdout).filter((x) => x.type === 'flow').length).toBeGreaterThan(50);
  });

  it('alerts go to the --json stream with a summary, and to alerts.ndjson with -w', () => {
    const r = runCli(['read', '--json', '--baseline', otb, fn]);
    expect(r.code).toBe(0);
    expect(alertsOf(r.stdout).map(brief)).toEqual([
      `new_function/high ${S.MASTER}:44000 -> ${S.PLC}:502 fc 6 write`,
      `new_function/high ${S.MASTER}:44000 -> ${S.PLC}:502 fc 16 write`,
      `new_function/high ${S.MASTER}:44020 -> ${S.PLC}:502 fc 8 config`,
    ]);
    const a = alertsOf(r.stdout)[0];
    // The fixed schema: exactly these fields, in this order.
    expect(Object.keys(a)).toEqual([
      'type',
      'ts',
      'kind',
      'severity',
      'community_id',
      'proto',
      'vlan',
      'client',
      'server',
      'app',
      'fc',
      'function_class',
      'detail',
    ]);
    const summary = lines(r.stdout).find((x) => x.type === 'alert_summary')!;
    expect(summary).toMatchObject({ alerts: 3, repeats: 2, by_kind: { new_function: 3 } });
    expect(r.stderr).toContain('detection: 3 alerts (new_function 3), 2 repeats');

    const out = join(dir, 'out');
    expect(runCli(['read', '-q', '-w', out, '--baseline', otb, fn]).code).toBe(0);
    const file = lines(readFileSync(join(out, 'alerts.ndjson'), 'utf8'));
    expect(file.filter((x) => x.type === 'alert').map(brief)).toEqual(alertsOf(r.stdout).map(brief));
  });

  it('--learn-for learns the first part of the input by capture time, --save-baseline keeps it', () => {
    const p = writePcap(dir, 'learnfor.pcap', mergePackets(S.train(clock()), S.newTalker(clock(T0 + 100))));
    const saved = join(dir, 'learned.otb');
    const r = runCli(['read', '--json', '--learn-for', '1m', '--save-baseline', saved, p]);
    expect(r.code).toBe(0);
    expect(alertsOf(r.stdout).map((a) => a.kind)).toEqual(['new_talker', 'new_talker', 'new_function']);
    expect(r.stderr).toMatch(/learning ended at capture time 2023-11-14T22:1\d/);
    // What it learned is what `baseline learn` learns from the training part alone.
    expect(runCli(['baseline', 'diff', otb, saved]).stdout).toBe('0 added, 0 removed\n');
  });

  it('--policy raises zone violations', () => {
    const policy = join(dir, 'zones.json');
    writeFileSync(
      policy,
      JSON.stringify({
        zones: [
          { name: 'ot', cidrs: [`${S.PLC}/32`] },
          { name: 'ops', cidrs: ['10.0.0.0/24'] },
        ],
      }),
    );
    const r = runCli(['read', '--json', '--policy', policy, fn]);
    expect(r.code).toBe(0);
    const z = alertsOf(r.stdout);
    // Three connections from MASTER and one from HMI into the OT zone (a zone named "ot" is OT): one fact per client and endpoint.
    expect(z.map(brief)).toEqual([
      `zone_violation/high ${S.MASTER}:44000 -> ${S.PLC}:502`,
      `zone_violation/high ${S.HMI}:44010 -> ${S.PLC}:502`,
    ]);
    expect(z[0].detail).toContain('inbound into the OT zone');
  });

  it('the documented example policy loads', () => {
    const example = resolve(REPO, 'docs/policy.example.json');
    const r = runCli(['read', '--json', '--policy', example, train]);
    expect(r.stderr).not.toContain('policy');
    expect(r.code).toBe(0);
  });

  it('a damaged or newer baseline is a clear error, exit 2', () => {
    const bad = join(dir, 'bad.otb');
    writeFileSync(bad, readFileSync(otb).subarray(0, 100));
    const r = runCli(['read', '--json', '--baseline', bad, train]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`otwatch: baseline ${bad} is unreadable: not one complete msgpack document`);
    expect(r.stdout).toBe('');
    const newer = join(dir, 'newer.otb');
    writeFileSync(newer, encode({ format: 'otwatch-baseline', version: 99 }));
    const n = runCli(['read', '--baseline', newer, train]);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('has format version 99, newer than this otwatch reads (1)');
    expect(runCli(['baseline', 'show', bad]).code).toBe(2);
  });

  it('a bad policy is a clear error, exit 2', () => {
    const p = join(dir, 'badzones.json');
    writeFileSync(p, JSON.stringify({ zones: [{ name: 'ot', cidrs: ['10.0.0.0/33'] }] }));
    const r = runCli(['read', '--policy', p, train]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('zones[0].cidrs[0]: bad prefix length in "10.0.0.0/33"');
    expect(runCli(['read', '--save-baseline', join(dir, 'x.otb'), train]).stderr).toContain('--save-baseline needs --learn-for');
    expect(existsSync(join(dir, 'x.otb'))).toBe(false);
  });
});

// --workers 2 and 3 write the same records as one engine (--workers 1), as a
// multiset: flows, PDUs, alerts and the alert summary, timestamps included,
// compared as sorted NDJSON lines. The reference is the single-threaded path
// itself, which the rest of the suite checks against tshark, Zeek and specs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMulti } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';
import { clock, tmpDir, writePcap } from '../detect/helpers.js';
import * as S from '../detect/scenarios.js';
import { byType, captures, run, type Out } from './helpers.js';

const RECORDS = ['read', '--json', '--pdus', '-q'];
const POLICY = 'docs/policy.example.json';

/** `baseline show` output without its wall-clock creation time. */
function withoutCreated(show: string): string {
  const b = JSON.parse(show) as Record<string, unknown>;
  expect(b.created).toBeTypeOf('number');
  delete b.created;
  return JSON.stringify(b);
}

/** Runs args with --workers 1, 2, 3; expects equal exit codes and records. */
function same(args: string[], what: string): Out {
  const one = run([...args, '--workers', '1']);
  for (const n of [2, 3]) {
    const r = run([...args, '--workers', String(n)]);
    expect(r.code, `${what}: exit code with --workers ${n}\n${r.stderr}`).toBe(one.code);
    if (r.lines.length !== one.lines.length) {
      expect(byType(r.lines), `${what}: record counts with --workers ${n}`).toEqual(byType(one.lines));
    }
    expect(r.lines, `${what}: records with --workers ${n}`).toEqual(one.lines);
  }
  return one;
}

describe('--workers N: the records of one engine', () => {
  const files = captures(fixture());

  it('each fixture capture (every link type, VLAN/QinQ, IPv6, damaged files)', () => {
    let damaged = 0;
    for (const f of files) {
      const one = same([...RECORDS, f], f);
      if (one.code === 1) damaged++;
      else expect(one.lines.length, f).toBeGreaterThan(0);
    }
    expect(files.length).toBeGreaterThan(25);
    expect(damaged).toBe(files.filter((f) => /damaged-/.test(f)).length);
  }, 300_000);

  it('all fixtures in one run, with detection (learning 2 s, low scan thresholds, policy)', () => {
    const one = same(
      [...RECORDS, '--learn-for', '2s', '--scan-ports', '3', '--scan-hosts', '3', '--policy', POLICY, ...files],
      'fixtures with detection',
    );
    const t = byType(one.lines);
    expect(t.alert).toBeGreaterThan(0);
    expect(t.alert_summary).toBe(1);
  }, 120_000);

  it('-w DIR files, NDJSON and msgpack, hold the same records', () => {
    const dir = tmpDir('workers-w');
    const read = (n: number, format: string): Record<string, string[]> => {
      const out = join(dir, `${format}-${n}`);
      const r = run([
        'read',
        '-q',
        '--pdus',
        '--learn-for',
        '2s',
        '--scan-ports',
        '3',
        '-w',
        out,
        '--format',
        format,
        '--workers',
        String(n),
        ...files,
      ]);
      expect(r.code).toBe(1); // the damaged fixtures
      const recs: Record<string, string[]> = {};
      for (const f of readdirSync(out).sort()) {
        const bytes = readFileSync(join(out, f));
        const list =
          format === 'ndjson'
            ? bytes
                .toString('utf8')
                .split('\n')
                .filter((l) => l !== '')
            : [...decodeMulti(bytes)].map((x) => JSON.stringify(x));
        recs[f] = list.sort();
      }
      return recs;
    };
    for (const format of ['ndjson', 'msgpack']) {
      const one = read(1, format);
      expect(Object.keys(one)).toEqual([`alerts.${format}`, `flows.${format}`, `pdus.${format}`]);
      for (const k of Object.keys(one)) expect(one[k].length, k).toBeGreaterThan(0);
      expect(read(2, format)).toEqual(one);
      expect(read(3, format)).toEqual(one);
    }
  }, 120_000);

  it('the summary adds up the workers (all but the timing line)', () => {
    const summary = (n: number) => {
      const r = run(['read', '--workers', String(n), ...files]);
      expect(r.code).toBe(1); // the damaged fixtures
      return r.stdout.split('\n').filter((l) => !l.startsWith('  processed in '));
    };
    const one = summary(1);
    expect(one.join('\n')).toMatch(/flows [\d,]+ \(evicted 0\), application PDUs [\d,]+/);
    expect(one.join('\n')).toContain('top services (server that answered, by flows):');
    expect(one.join('\n')).toMatch(/ {2}(refused connection attempts|unanswered attempts): \d+/); // summed over the workers too
    expect(summary(2)).toEqual(one);
    expect(summary(3)).toEqual(one);
  });

  describe('detection scenarios', () => {
    let dir: string;
    let today: string;
    let otb: string;
    beforeAll(() => {
      dir = tmpDir('workers');
      const c = clock();
      // Learned traffic first, then every kind of new fact, on one clock.
      const packets = [
        ...S.train(c),
        ...S.newListener(c),
        ...S.unexpectedProtocol(c),
        ...S.newFunction(c),
        ...S.newTalker(c),
        ...S.scan(c),
      ];
      today = writePcap(dir, 'today.pcap', packets);
      otb = join(dir, 'plant.otb');
      const b = run(['baseline', 'learn', writePcap(dir, 'train.pcap', S.train()), '-o', otb]);
      expect(b.code, b.stderr).toBe(0);
    });

    it('against a baseline: every kind of alert, same records', () => {
      const one = same([...RECORDS, '--baseline', otb, today], 'scenarios --baseline');
      const kinds = new Set(one.lines.filter((l) => l.startsWith('{"type":"alert",')).map((l) => JSON.parse(l).kind));
      expect([...kinds].sort()).toEqual(['new_function', 'new_listener', 'new_talker', 'scan', 'unexpected_protocol']);
    });

    it('learning then detecting: same records and the same saved baseline', () => {
      const shows: string[] = [];
      for (const n of [1, 2, 3]) {
        const saved = join(dir, `learned-${n}.otb`);
        const r = run([...RECORDS, '--learn-for', '1s', '--save-baseline', saved, '--workers', String(n), today]);
        expect(r.code, r.stderr).toBe(0);
        shows.push(withoutCreated(run(['baseline', 'show', saved]).stdout));
      }
      // The training part (first second) has PLC:502 with MASTER and HMI as talkers.
      const plc = JSON.parse(shows[0]).endpoints.find((e: { ip: string; port: number }) => e.ip === S.PLC && e.port === 502);
      expect(plc.talkers.map((t: { ip: string }) => t.ip).sort()).toEqual(expect.arrayContaining([S.HMI, S.MASTER]));
      expect(shows[1]).toBe(shows[0]);
      expect(shows[2]).toBe(shows[0]);
      same([...RECORDS, '--learn-for', '1s', today], 'scenarios --learn-for');
    });
  });

  withShared(() => {
    describe('shared corpus', () => {
      const corpus = captures(SHARED_PCAPS);

      it('every capture, in runs of about 45 files', () => {
        let records = 0;
        const groups = Math.ceil(corpus.length / 45);
        for (let g = 0; g < groups; g++) {
          const part = corpus.filter((_, i) => i % groups === g);
          records += same([...RECORDS, ...part], `corpus group ${g}`).lines.length;
        }
        expect(corpus.length).toBeGreaterThan(300);
        expect(records).toBeGreaterThan(100_000);
      }, 300_000);

      it('every capture in one run with detection: learning 1 s, scans at 5, policy, saved baseline', () => {
        const dir = tmpDir('workers-corpus');
        const shows: string[] = [];
        let ref: Out | null = null;
        // The learning second is the first second of the first input. The
        // corpus's first file by path changes as the corpus grows (and may be
        // idle in its first second), so the run starts with a fixture known to
        // answer connections at once; the corpus follows, all in detection.
        const first = fixture('gen', 'plant-sample.pcap');
        for (const n of [1, 2, 3]) {
          const saved = join(dir, `b${n}.otb`);
          const args = ['--learn-for', '1s', '--scan-ports', '5', '--scan-hosts', '5', '--policy', POLICY, '--save-baseline', saved];
          const r = run([...RECORDS, ...args, '--workers', String(n), first, ...corpus]);
          if (ref === null) ref = r;
          else {
            expect(r.code).toBe(ref.code);
            expect(r.lines).toEqual(ref.lines);
          }
          shows.push(withoutCreated(run(['baseline', 'show', saved]).stdout));
        }
        const t = byType(ref!.lines);
        expect(t.alert).toBeGreaterThan(100);
        expect(JSON.parse(shows[0]).endpoints.length).toBeGreaterThan(0);
        expect(shows[1]).toBe(shows[0]);
        expect(shows[2]).toBe(shows[0]);
      }, 300_000);

      it('one capture per run: every 12th capture', () => {
        for (let i = 0; i < corpus.length; i += 12) same([...RECORDS, corpus[i]], corpus[i]);
      }, 300_000);
    });
  });
});

// Baseline files: round trip, crash safety (a save killed with SIGKILL leaves
// the previous file whole), clear errors on damaged or newer files, and diff.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Baseline, BaselineError, BASELINE_VERSION, toPlain } from '../../src/detect/baseline.js';
import { diffBaselines, diffText } from '../../src/detect/baseline-diff.js';
import { encodeBaseline, loadBaseline, saveBaseline, writeFileAtomic } from '../../src/detect/baseline-file.js';
import { REPO } from '../helpers/shared.js';
import { clock, learn, T0, tmpDir, writePcap } from './helpers.js';
import * as S from './scenarios.js';

let dir: string;
let base: Baseline;

beforeAll(async () => {
  dir = tmpDir('file');
  base = await learn([writePcap(dir, 'train.pcap', S.train())]);
});

function loadError(path: string): string {
  try {
    loadBaseline(path);
  } catch (e) {
    expect(e).toBeInstanceOf(BaselineError);
    return (e as Error).message;
  }
  throw new Error('loaded');
}

describe('round trip', () => {
  it('save then load gives the same baseline', () => {
    const p = join(dir, 'rt.otb');
    saveBaseline(p, base);
    const back = loadBaseline(p);
    expect(toPlain(back)).toEqual(toPlain(base));
    expect(back.isTalker(S.MASTER, 'tcp', S.PLC, 502)).toBe(true);
    expect(back.icsServers.has(S.PLC)).toBe(true);
    // msgpack, with its header first: a fixmap whose first key is "format".
    const bytes = readFileSync(p);
    expect(bytes[0] & 0xf0).toBe(0x80);
    expect(bytes.subarray(2, 8).toString()).toBe('format');
  });
});

describe('crash safety', () => {
  it('writes through a temporary file renamed over the target', () => {
    const p = join(dir, 'atomic.otb');
    writeFileSync(p, 'old');
    const tmp = join(dir, `.atomic.otb.tmp-${process.pid}`);
    let seen = '';
    writeFileAtomic(p, Buffer.from('new content'), {
      midWrite: () => {
        // Half written: the target is untouched, the half is in the temporary file.
        seen = `${readFileSync(p, 'utf8')}|${readFileSync(tmp, 'utf8')}`;
      },
    });
    expect(seen).toBe('old|new c');
    expect(readFileSync(p, 'utf8')).toBe('new content');
    expect(existsSync(tmp)).toBe(false);
  });

  const child = resolve(REPO, 'test/detect/fixtures/save-child.mjs');

  /** Runs the child until `until` appears on its stdout, then SIGKILLs it. */
  function runAndKill(file: string, mode: string, until: RegExp): Promise<string> {
    return new Promise((res, rej) => {
      const c = spawn(process.execPath, [child, file, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (until.test(out)) c.kill('SIGKILL');
      });
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('exit', (code, sig) => (sig === 'SIGKILL' ? res(out) : rej(new Error(`child exited ${code}: ${err}`))));
    });
  }

  /** Every record of one generation: a mix of two saves would show. */
  function generationOf(path: string): number {
    const p = toPlain(loadBaseline(path));
    expect(p.endpoints.length).toBe(4000);
    const g = p.endpoints[0].first_seen;
    for (const e of p.endpoints) {
      expect(e.first_seen).toBe(g);
      expect(e.talkers[0].first_seen).toBe(g);
    }
    return g;
  }

  it('a save killed half way leaves the previous baseline', async () => {
    const file = join(dir, 'mid.otb');
    await runAndKill(file, 'mid', /mid\n/);
    expect(generationOf(file)).toBe(1);
    // The half-written temporary file is what the kill left behind.
    const tmps = readdirSync(dir).filter((n) => n.startsWith('.mid.otb.tmp-'));
    expect(tmps.length).toBe(1);
    expect(statSync(join(dir, tmps[0])).size).toBeLessThan(statSync(file).size);
  });

  it('kill -9 at arbitrary points of a save loop: the file always loads, whole, at least as new as reported', async () => {
    for (let k = 1; k <= 6; k++) {
      const file = join(dir, `loop${k}.otb`);
      const out = await runAndKill(file, 'loop', new RegExp(`saved ${k}\\n`));
      const reported = Math.max(...[...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1])));
      const g = generationOf(file);
      expect(g).toBeGreaterThanOrEqual(reported);
    }
  });
});

describe('unreadable files give clear errors', () => {
  it('missing, empty, truncated, random bytes, not a baseline', () => {
    expect(loadError(join(dir, 'nope.otb'))).toMatch(/^cannot read baseline .*nope\.otb: ENOENT/);
    const empty = join(dir, 'empty.otb');
    writeFileSync(empty, '');
    expect(loadError(empty)).toMatch(/is empty$/);
    const full = encodeBaseline(base);
    const cut = join(dir, 'cut.otb');
    writeFileSync(cut, full.subarray(0, full.length >> 1));
    expect(loadError(cut)).toMatch(/is unreadable: not one complete msgpack document/);
    const noise = join(dir, 'noise.otb');
    writeFileSync(noise, Buffer.from('this is a text file, not a baseline\n'));
    expect(loadError(noise)).toMatch(/unreadable|not an otwatch baseline/);
    const other = join(dir, 'other.otb');
    writeFileSync(other, encode({ format: 'something-else', version: 1 }));
    expect(loadError(other)).toMatch(/is not an otwatch baseline \(format is "something-else"\)/);
    const trailing = join(dir, 'trailing.otb');
    writeFileSync(trailing, Buffer.concat([full, Buffer.of(0xc0)]));
    expect(loadError(trailing)).toMatch(/unreadable/);
  });

  it('a newer format version is refused with the versions named', () => {
    const p = join(dir, 'newer.otb');
    writeFileSync(p, encode({ ...toPlain(base), version: BASELINE_VERSION + 1 }));
    expect(loadError(p)).toBe(
      `baseline ${p} has format version ${BASELINE_VERSION + 1}, newer than this otwatch reads (${BASELINE_VERSION}): upgrade otwatch or learn the baseline again`,
    );
  });

  it('a field of the wrong type names the field', () => {
    const plain = toPlain(base);
    const p = join(dir, 'badport.otb');
    writeFileSync(p, encode({ ...plain, endpoints: [{ ...plain.endpoints[0], port: 70000 }] }));
    expect(loadError(p)).toBe(`baseline ${p} is corrupt: endpoints[0].port is not an integer in 0..65535`);
    const q = join(dir, 'badclass.otb');
    const ep = plain.endpoints.find((e) => e.talkers.some((t) => t.functions.length > 0))!;
    const t = ep.talkers.find((x) => x.functions.length > 0)!;
    writeFileSync(
      q,
      encode({ ...plain, endpoints: [{ ...ep, talkers: [{ ...t, functions: [{ ...t.functions[0], class: 'destroy' }] }] }] }),
    );
    expect(loadError(q)).toBe(`baseline ${q} is corrupt: endpoints[0].talkers[0].functions[0].class is not a function class`);
  });
});

describe('diff', () => {
  it('lists what was added and removed', async () => {
    const more = await learn([writePcap(dir, 'more.pcap', [...S.train(), ...S.newFunction(clock(T0 + 100))])]);
    const d = diffBaselines(base, more);
    expect(d.removed).toEqual([]);
    // The new capture adds MASTER's FC 6 and FC 16 writes and its FC 8 Diagnostics restart on PLC:502.
    expect(diffText(d)).toBe(
      [
        `+ function ${S.MASTER} -> ${S.PLC}:502/tcp modbus fc 6 Write Single Register (write)`,
        `+ function ${S.MASTER} -> ${S.PLC}:502/tcp modbus fc 8 Diagnostics (config)`,
        `+ function ${S.MASTER} -> ${S.PLC}:502/tcp modbus fc 16 Write Multiple Registers (write)`,
        '3 added, 0 removed',
        '',
      ].join('\n'),
    );
    const back = diffBaselines(more, base);
    expect(back.added).toEqual([]);
    expect(back.removed.map((f) => f.json.fc)).toEqual([6, 8, 16]);
  });
});

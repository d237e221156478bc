// A fifth protocol added the way a contributor would: one module (the toy
// echo protocol in tools/toy-echo/index.ts), registered by the test through
// OTWATCH_EXTRA_MODULE, with no file in src/ changed. It must then work
// everywhere a built-in protocol does: PDU and flow records, baseline learn,
// detection (a new function alert), the summary's services and --workers 2.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock, toPcap, type Packet } from '../../tools/pcapgen/index.js';
import { TcpSession } from '../../tools/pcapgen/tcp-session.js';
import { CLI } from '../helpers/run.js';
import { REPO } from '../helpers/shared.js';

const MODULE = join(REPO, 'dist/tools/toy-echo/index.js');

function echoPdu(fc: number, resp: boolean, payload: number): Buffer {
  const b = Buffer.alloc(6 + payload, 0x61);
  b[0] = 0x45;
  b[1] = 0x43;
  b[2] = fc;
  b[3] = resp ? 1 : 0;
  b.writeUInt16BE(payload, 4);
  return b;
}

/** One connection of the echo protocol: request/response pairs of these codes. */
function session(clock: Clock, cport: number, fcs: number[]): Packet[] {
  const s = new TcpSession({ client: '10.7.0.1', server: '10.7.0.2', cport, sport: 7777, clock }).handshake();
  for (const fc of fcs) s.send('c2s', echoPdu(fc, false, 4)).send('s2c', echoPdu(fc, true, 8));
  return s.close('c2s').frames();
}

function otwatch(args: string[], extra = true): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env };
  if (extra) env.OTWATCH_EXTRA_MODULE = MODULE;
  else delete env.OTWATCH_EXTRA_MODULE;
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const lines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('a toy protocol added as one module, no src/ file touched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otwatch-toy-'));
  const clock = new Clock(1_700_000_000, 1_000_000);
  const learnCap = join(dir, 'learn.pcap');
  writeFileSync(learnCap, toPcap([...session(clock, 40001, [1, 2, 2]), ...session(clock, 40002, [2, 1])]));
  const detectCap = join(dir, 'detect.pcap');
  writeFileSync(detectCap, toPcap([...session(clock, 40003, [2, 3, 2])]));
  const baseline = join(dir, 'echo.baseline');

  it('the module is built where the test loads it from', () => {
    expect(existsSync(MODULE)).toBe(true);
  });

  it('read --pdus: PDU and flow records of the new protocol, and the summary names it', () => {
    const r = otwatch(['read', '--pdus', '--json', learnCap]);
    expect(r.code).toBe(0);
    const recs = lines(r.stdout);
    const pdus = recs.filter((x) => x.type === 'pdu');
    expect(pdus.length).toBe(10);
    expect(pdus[0]).toMatchObject({ app: 'echo', dir: 'c2s', echo: { fc: 1, resp: false, len: 4 }, server: { port: 7777 } });
    expect(pdus[1]).toMatchObject({ app: 'echo', dir: 's2c', echo: { fc: 1, resp: true, len: 8 } });
    const flows = recs.filter((x) => x.type === 'flow');
    expect(flows.map((f) => [f.app, f.echo])).toEqual([
      ['echo', { requests: 3, responses: 3 }],
      ['echo', { requests: 2, responses: 2 }],
    ]);
    expect(r.stderr).toContain('10.7.0.2 tcp/7777 (echo)');
    // And the help banner lists it.
    expect(otwatch(['--help']).stdout).toContain('Echo (toy)');
  });

  it('baseline learn records its functions; detection alerts on a new one', () => {
    const l = otwatch(['baseline', 'learn', learnCap, '-o', baseline]);
    expect(l.code, l.stderr).toBe(0);
    const shown = otwatch(['baseline', 'show', baseline]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('echo');
    const d = otwatch(['read', '--json', '--baseline', baseline, detectCap]);
    expect(d.code, d.stderr).toBe(0);
    const alerts = lines(d.stdout).filter((x) => x.type === 'alert');
    expect(alerts.map((a) => [a.kind, a.app, a.fc, a.function_class])).toEqual([['new_function', 'echo', 3, 'write']]);
    expect(alerts[0].detail).toContain('Write');
  });

  it('--workers 2 gives the same records and alerts', () => {
    const one = otwatch(['read', '--json', '--pdus', '-q', '--baseline', baseline, '--workers', '1', learnCap, detectCap]);
    const two = otwatch(['read', '--json', '--pdus', '-q', '--baseline', baseline, '--workers', '2', learnCap, detectCap]);
    expect(two.code, two.stderr).toBe(0);
    const sorted = (s: string) =>
      s
        .split('\n')
        .filter((x) => x !== '')
        .sort();
    expect(sorted(two.stdout)).toEqual(sorted(one.stdout));
    expect(
      lines(two.stdout)
        .filter((x) => x.type === 'alert')
        .map((a) => a.kind),
    ).toEqual(['new_function']);
  });

  it('an otwatch without the module refuses that baseline, naming the protocol and the file version', () => {
    const r = otwatch(['read', '--json', '--baseline', baseline, detectCap], false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/format version 1\) names protocol "echo"/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one line, no stack
    expect(readFileSync(baseline).length).toBeGreaterThan(0);
  });
});

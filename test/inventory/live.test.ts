// `live --inventory` on a real interface (a veth pair in its own network
// namespace, tcpreplay into one end): the inventory is written while the
// sensor runs (the 5 s timer, not only at exit), and after SIGTERM it holds
// what `read --inventory` of the same capture holds. Needs root, as the other
// live tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, fixture, runCli, type Rec } from '../helpers/run.js';

const ns = `otw-inv-${process.pid}`;
let made = false;
let proc: ChildProcess | null = null;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const nsx = (args: string[]) => sh('ip', ['netns', 'exec', ns, ...args]);

afterAll(() => {
  if (proc !== null && proc.exitCode === null) proc.kill('SIGKILL');
  if (made) sh('ip', ['netns', 'del', ns]);
});

const summary = (db: string) =>
  runCli(['inventory', 'show', '--json', db])
    .stdout.trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Rec)
    .map((a) => ({
      ip: a.ip,
      mac: a.mac,
      roles: a.roles,
      services: a.services.map((s: Rec) => [s.proto, s.port, s.app, s.flows, s.classes]),
    }));

describe('live --inventory', () => {
  it('writes while running and holds what read --inventory holds', async () => {
    sh('ip', ['netns', 'add', ns]);
    made = true;
    nsx(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    nsx(['ip', 'link', 'add', 'otwr', 'type', 'veth', 'peer', 'name', 'otws']);
    nsx(['ip', 'link', 'set', 'otwr', 'up']);
    nsx(['ip', 'link', 'set', 'otws', 'up']);
    const dir = mkdtempSync(join(tmpdir(), 'otw-inv-live-'));
    const live = join(dir, 'live.db');
    const read = join(dir, 'read.db');
    const plant = fixture('gen', 'plant-sample.pcap');
    expect(runCli(['read', '-q', '--inventory', read, plant]).code).toBe(0);

    const args = ['netns', 'exec', ns, process.execPath, CLI, 'live', '-i', 'otws', '-q', '--inventory', live, '--sensor-id', 'live-1'];
    const p = spawn('ip', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc = p;
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((res) => p.on('close', (code) => res(code)));
    const until = async (cond: () => boolean, what: string) => {
      const t0 = Date.now();
      while (!cond()) {
        if (p.exitCode !== null) throw new Error(`otwatch exited while waiting for ${what}: ${err}`);
        if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${what}: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until(() => err.includes('capturing via'), 'the capture to start');
    nsx(['tcpreplay', '-q', '-t', '-i', 'otwr', plant]);
    // Flows that ended by FIN are written by the timer while the sensor still runs.
    await until(() => runCli(['inventory', 'show', '--json', live]).stdout.includes('"type":"asset"'), 'the first timed write');
    expect(p.exitCode).toBeNull();
    p.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(summary(live)).toEqual(summary(read));
    const sensors = runCli(['inventory', 'show', '--json', live])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l).sensors);
    expect(new Set(sensors.flat())).toEqual(new Set(['live-1']));
  });
});

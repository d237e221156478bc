// `otwatch live --export` in a network namespace: captures replayed by
// tcpreplay into a veth pair, export leaving by a second veth pair to a
// mosquitto in another namespace. The broker is stopped during the replay
// and started again 10 s later: nothing is lost or duplicated after
// de-duplication. Passivity holds with export on: TX = 0 on the capture
// interface, no listening socket, one outbound connection to the broker.
// Needs root (namespaces, veth, tcpreplay), as CI runs.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../helpers/broker.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { collected, parseLines, Proc, sleep, tlsArgs, unstamped } from '../helpers/export-run.js';
import { CLI, fixture } from '../helpers/run.js';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const isRoot = process.getuid?.() === 0;
const BROKER_IP = '10.254.0.2';
const PORT = 8883;

describe.runIf(isRoot)('live --export across a broker outage (veth + netns)', () => {
  const ns = `otwx-${process.pid}`;
  const nsb = `otwxb-${process.pid}`;
  const nsx = (n: string, args: string[]) => sh('ip', ['netns', 'exec', n, ...args]);
  const procs: Proc[] = [];
  let tmp: string;
  let pki: Pki;
  let broker: Broker;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'otwatch-live-export-'));
    pki = makePki(join(tmp, 'pki'), [BROKER_IP]);
    for (const n of [ns, nsb]) {
      sh('ip', ['netns', 'add', n]);
      nsx(n, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      nsx(n, ['ip', 'link', 'set', 'lo', 'up']);
    }
    // Capture pair: no address, nothing but tcpreplay's frames.
    nsx(ns, ['ip', 'link', 'add', 'otwr', 'type', 'veth', 'peer', 'name', 'otws']);
    nsx(ns, ['ip', 'link', 'set', 'otwr', 'up']);
    nsx(ns, ['ip', 'link', 'set', 'otws', 'up']);
    // Export pair: the sensor's second interface toward the "DMZ" namespace.
    nsx(ns, ['ip', 'link', 'add', 'otwe', 'type', 'veth', 'peer', 'name', 'otwb', 'netns', nsb]);
    nsx(ns, ['ip', 'addr', 'add', '10.254.0.1/30', 'dev', 'otwe']);
    nsx(ns, ['ip', 'link', 'set', 'otwe', 'up']);
    nsx(nsb, ['ip', 'addr', 'add', `${BROKER_IP}/30`, 'dev', 'otwb']);
    nsx(nsb, ['ip', 'link', 'set', 'otwb', 'up']);
    broker = new Broker(join(tmp, 'broker'), PORT, pki, { host: BROKER_IP, netns: nsb });
    await broker.start();
  });

  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await broker?.stop('SIGKILL');
    for (const n of [ns, nsb]) {
      try {
        sh('ip', ['netns', 'del', n]);
      } catch {
        // not created
      }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loses nothing while the broker is down for 10 s; TX 0 on the capture port, no listener, one outbound connection', async () => {
    const url = `mqtts://${BROKER_IP}:${PORT}`;
    const out = join(tmp, 'collected');
    const spawnIn = (n: string, args: string[]) => {
      const p = new Proc(spawn('ip', ['netns', 'exec', n, process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
      procs.push(p);
      return p;
    };
    const coll = spawnIn(nsb, ['collect', url, '-w', out, ...tlsArgs(pki, 'collector'), '--client-id', 'live-c', '--group', 'live']);
    await coll.waitFor(/connected to/);
    const state = join(tmp, 'state');
    const live = spawnIn(ns, [
      'live',
      '-i',
      'otws',
      '--json',
      '--pdus',
      '--learn-for',
      '1s',
      '--stats-interval',
      '0',
      '--export',
      url,
      ...tlsArgs(pki, 'sensor-l'),
      '--sensor-id',
      'sensor-l',
      '--state',
      state,
      '--export-wait',
      '30',
    ]);
    await live.waitFor(/otws: capturing via tcpdump/);
    await live.waitFor(/export: connected to/);
    const tx0 = JSON.parse(nsx(ns, ['ip', '-s', '-j', 'link', 'show', 'otws']))[0].stats64.tx.packets as number;
    // Real time: the fixture spans 12 s of capture time.
    const replay = new Proc(
      spawn('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '-i', 'otwr', fixture('gen', 'plant-sample.pcap')], { stdio: 'ignore' }),
    );
    procs.push(replay);
    await sleep(2000);
    // While connected: one TCP connection, outbound to the broker; nothing listens.
    const conns = nsx(ns, ['ss', '-t', '-n', '-p', 'state', 'established'])
      .split('\n')
      .filter((l) => l.includes(`pid=${live.p.pid},`));
    expect(conns).toHaveLength(1);
    expect(conns[0]).toMatch(new RegExp(`10\\.254\\.0\\.1:\\d+\\s+${BROKER_IP.replace(/\./g, '\\.')}:${PORT}`));
    const listening = nsx(ns, ['ss', '-l', '-n', '-p'])
      .split('\n')
      .filter((l) => l.includes(`pid=${live.p.pid},`));
    expect(listening).toEqual([]);
    await broker.stop();
    await live.waitFor(/export: connection to .* lost/);
    await sleep(10_000);
    await broker.start();
    await replay.exited;
    await live.waitFor(/export: connected to .*\n(.|\n)*export: connected to/, 60_000); // backoff: up to 16 s after a 10 s outage
    // The collector lost the broker too; its own backoff decides when it is back.
    await coll.waitFor(/connected to(.|\n)*connected to/, 60_000);
    await sleep(1500);
    const done = await live.stop('SIGTERM');
    // 0 when the drain at shutdown delivered everything; 4 when records stay spooled (the broker came back
    // before the collector and answered 0x10, and the sensor was still pausing): export flush sends them below.
    expect([0, 4], done.stderr).toContain(done.code);
    if (done.code === 4) expect(done.stderr).toMatch(/records not acknowledged by .* they stay spooled/);
    const tx1 = JSON.parse(nsx(ns, ['ip', '-s', '-j', 'link', 'show', 'otws']))[0].stats64.tx.packets as number;
    expect(tx1 - tx0).toBe(0);
    const local = parseLines(done.stdout);
    expect(local.filter((r) => r.type === 'flow').length).toBeGreaterThan(0);
    // The connection's history is in the final stats record.
    const stats = local.filter((r) => r.type === 'stats').pop()!;
    expect(stats.export).toMatchObject({ state: 'connected', sensor: 'sensor-l', dropped: 0 });
    expect(stats.export.connects).toBeGreaterThanOrEqual(2);
    expect(stats.export.disconnects).toBeGreaterThanOrEqual(1);
    expect(stats.export.last_error).toMatch(
      /^(connection to mqtts:.* lost|cannot connect to mqtts:.*|mqtts:.* did not deliver record .*): /,
    );
    // What the 2 s of drain at shutdown did not deliver, export flush does.
    const flush = spawnIn(ns, [
      'export',
      'flush',
      '--export',
      url,
      ...tlsArgs(pki, 'sensor-l'),
      '--sensor-id',
      'sensor-l',
      '--state',
      state,
    ]);
    expect((await flush.exited).code).toBe(0);
    const t0 = Date.now();
    while (collected(out, 'sensor-l').length < local.length && Date.now() - t0 < 30_000) await sleep(200);
    const cs = await coll.stop();
    const got = collected(out, 'sensor-l').sort((a, b) => a.seq - b.seq);
    expect(new Set(got.map((r) => r.seq)).size).toBe(got.length);
    expect(got.map(unstamped).sort()).toEqual(local.map((r) => JSON.stringify(r)).sort());
    console.log(
      `[export] live, broker down 10 s: sent ${local.length}, ${cs.stderr.trim().split('\n').pop()}, lost 0; ` + `capture TX ${tx1 - tx0}`,
    );
  }, 240_000);
});

// Export to a real mosquitto (TLS, client certificates, per-sensor ACL) and
// back through an independent subscriber (mosquitto_sub) and `otwatch
// collect`, with real faults: broker stopped, sensor and collector killed
// with SIGKILL, spool overflow, wrong CA / expired certificate / wrong host
// name / ACL violation.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, freePort } from '../helpers/broker.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { collected, mosquittoSub, otwatch, parseLines, sleep, tlsArgs, unstamped, type Proc, type Rec } from '../helpers/export-run.js';
import { CLI, fixture } from '../helpers/run.js';

const PLANT = fixture('gen', 'plant-sample.pcap');
const hasMosquitto = spawnSync('mosquitto', ['-h']).status !== null;

/** Same records, each exactly once, in seq order per sensor. */
function expectExactlyOnce(got: Rec[], want: Rec[]): void {
  const seqs = got.map((r) => r.seq as number);
  expect(new Set(seqs).size).toBe(seqs.length); // no duplicate
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs); // seq order
  expect(got.map(unstamped).sort()).toEqual(want.map((r) => JSON.stringify(r)).sort()); // nothing lost, nothing extra
}

describe.runIf(hasMosquitto)('export over MQTT 5 + TLS to mosquitto', () => {
  let tmp: string;
  let pki: Pki;
  let broker: Broker;
  let port: number;
  let url: string;
  const procs: Proc[] = [];
  const track = (p: Proc) => {
    procs.push(p);
    return p;
  };
  let want: Rec[];
  let n = 0;
  const state = () => join(tmp, `state-${++n}`);

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'otwatch-export-'));
    pki = makePki(join(tmp, 'pki'));
    port = await freePort();
    url = `mqtts://localhost:${port}`;
    broker = new Broker(join(tmp, 'broker'), port, pki);
    await broker.start();
    const r = spawnSync(process.execPath, [CLI, 'read', '--json', '--pdus', '--learn-for', '1s', '-q', PLANT], { encoding: 'utf8' });
    want = parseLines(r.stdout);
    expect(want.filter((x) => x.type === 'alert').length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await broker?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const read = (sensor: string, st: string, extra: string[] = [], cn = sensor, to = url) =>
    track(
      otwatch([
        'read',
        '--json',
        '--pdus',
        '--learn-for',
        '1s',
        '-q',
        PLANT,
        '--export',
        to,
        ...tlsArgs(pki, cn),
        '--sensor-id',
        sensor,
        '--state',
        st,
        ...extra,
      ]),
    );

  const collect = async (dir: string, id = 'c1') => {
    // A group per test: mosquitto keeps dealing a group's share to members that are away with a persistent session.
    const c = track(otwatch(['collect', url, '-w', dir, ...tlsArgs(pki, 'collector'), '--client-id', id, '--group', `g-${id}`]));
    await c.waitFor(/connected to/);
    await sleep(300); // the SUBACK
    return c;
  };

  it('delivers every --json record exactly once, in seq order, to mosquitto_sub and to otwatch collect', async () => {
    const sub = track(mosquittoSub(pki, port, 'collector', 'otwatch/s1/#', 'sub-s1'));
    await sub.waitFor(/Subscribed/, 10_000, 'stdout');
    const out = join(tmp, 'collect-1');
    const c = await collect(out);
    const r = await read('s1', state()).exited;
    expect(r.stderr).not.toMatch(/warning|error/);
    expect(r.stderr).toMatch(/export: connected to mqtts:\/\/localhost/);
    expect(r.code).toBe(0);
    expect(parseLines(r.stdout)).toEqual(want); // local output unchanged beside the export
    await sleep(500);
    const subRecs = sub.stdout
      .split('\n')
      .filter((l) => l.startsWith('otwatch/s1/'))
      .map((l) => {
        const [topic, payload] = l.split('\t');
        const rec = JSON.parse(payload) as Rec;
        expect(topic).toBe(`otwatch/s1/${rec.type}`);
        return rec;
      });
    expectExactlyOnce(subRecs, want);
    expect(subRecs[0].seq).toBe(1);
    expect(subRecs.every((x) => x.sensor === 's1')).toBe(true);
    const done = await c.stop();
    expect(done.code).toBe(0);
    const files = readdirSync(join(out, 's1')).sort();
    expect(files).toEqual(['alerts.ndjson', 'flows.ndjson', 'pdus.ndjson']);
    expectExactlyOnce(
      collected(out, 's1').sort((a, b) => a.seq - b.seq),
      want,
    );
    console.log(`[export] fixture: sent ${want.length}, mosquitto_sub ${subRecs.length}, collect: ${done.stderr.trim().split('\n').pop()}`);
  });

  it('--export-format msgpack and --export-types alert,flow: only those types, decoded by collect to the same records', async () => {
    const out = join(tmp, 'collect-mp');
    const c = await collect(out, 'cmp');
    const r = await read('s7', state(), ['--export-format', 'msgpack', '--export-types', 'alert,flow']).exited;
    expect(r.code).toBe(0);
    const t0 = Date.now();
    const sel = want.filter((x) => x.type === 'alert' || x.type === 'flow');
    while (collected(out, 's7').length < sel.length && Date.now() - t0 < 10_000) await sleep(200);
    await c.stop();
    const got = collected(out, 's7').sort((a, b) => a.seq - b.seq);
    expect(got.map((x) => x.seq)).toEqual(sel.map((_, i) => i + 1)); // seq counts exported records only
    expect(got.map(unstamped).sort()).toEqual(sel.map((x) => JSON.stringify(x)).sort());
  });

  it('broker stopped mid-run and started again: read waits, nothing lost, nothing duplicated after de-duplication', async () => {
    const out = join(tmp, 'collect-2');
    const c = await collect(out, 'c2');
    const r = read('s2', state(), ['--export-rate', '20', '--export-wait', '60']);
    await r.waitFor(/connected to/);
    await sleep(1000);
    await broker.stop(); // SIGTERM: mosquitto keeps its persistent store (the collector's session queue)
    await sleep(3000);
    await broker.start();
    const done = await r.exited;
    expect(done.code).toBe(0);
    expect(done.stderr).toMatch(/export: connection to mqtts:\/\/localhost:\d+ lost: .*; \d+ records stay spooled; retrying in/);
    await c.waitFor(/connected to .*session resumed/);
    const t0 = Date.now();
    // The broker resends what the collector had not acknowledged before the stop at its own pace, after both reconnect.
    while (collected(out, 's2').length < want.length && Date.now() - t0 < 60_000) await sleep(200);
    const cs = await c.stop();
    expectExactlyOnce(
      collected(out, 's2').sort((a, b) => a.seq - b.seq),
      want,
    );
    console.log(`[export] broker restart: sent ${want.length}, ${cs.stderr.trim().split('\n').pop()}, lost 0`);
  }, 180_000);

  it('a broker with no subscriber (PUBACK 0x10) does not count as delivery: records stay spooled until a collector subscribes', async () => {
    // A broker of its own: on the shared one, earlier tests' collector sessions are subscribers.
    const p2 = await freePort();
    const b2 = new Broker(join(tmp, 'broker-nosub'), p2, pki);
    await b2.start();
    try {
      const url2 = `mqtts://localhost:${p2}`;
      const st = state();
      const r = await read('s8', st, ['--export-wait', '5'], 's8', url2).exited;
      expect(r.code, r.stderr).toBe(4); // spooled, not delivered
      expect(r.stderr, r.stderr).toMatch(
        /did not deliver record seq \d+ \(type \w+\): the broker has no subscriber for it \(PUBACK reason 0x10/,
      );
      expect(r.stderr).toMatch(/records not acknowledged by .* within 5 s; they stay spooled/);
      const out = join(tmp, 'collect-nosub');
      const c = track(otwatch(['collect', url2, '-w', out, ...tlsArgs(pki, 'collector'), '--client-id', 'c8', '--group', 'g-c8']));
      await c.waitFor(/connected to/);
      await sleep(300);
      const f = await track(otwatch(['export', 'flush', '--export', url2, ...tlsArgs(pki, 's8'), '--sensor-id', 's8', '--state', st]))
        .exited;
      expect(f.code).toBe(0);
      const t0 = Date.now();
      while (collected(out, 's8').length < want.length && Date.now() - t0 < 10_000) await sleep(200);
      await c.stop();
      expectExactlyOnce(
        collected(out, 's8').sort((a, b) => a.seq - b.seq),
        want,
      );
    } finally {
      await b2.stop();
    }
  });

  it('sensor killed with SIGKILL while sending: export flush delivers the rest, seq continues after restart', async () => {
    const out = join(tmp, 'collect-3');
    const c = await collect(out, 'c3');
    const st = state();
    const r = read('s3', st, ['--export-rate', '10', '--export-wait', '60']);
    await r.waitFor(/connected to/);
    await sleep(2500); // > 1 s: every record is fsynced in the spool; about 25 of them are acknowledged
    const killed = await r.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(readdirSync(join(st, 'spool')).some((f) => f.endsWith('.seg'))).toBe(true);
    const f = await track(otwatch(['export', 'flush', '--export', url, ...tlsArgs(pki, 's3'), '--sensor-id', 's3', '--state', st])).exited;
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(/export flush: \d+ records were spooled; \d+ acknowledged; 0 left/);
    const t0 = Date.now();
    while (collected(out, 's3').length < want.length && Date.now() - t0 < 10_000) await sleep(200);
    expectExactlyOnce(
      collected(out, 's3').sort((a, b) => a.seq - b.seq),
      want,
    );
    // A second run continues the same seq.
    const again = await read('s3', st).exited;
    expect(again.code).toBe(0);
    const t1 = Date.now();
    while (collected(out, 's3').length < 2 * want.length && Date.now() - t1 < 10_000) await sleep(200);
    const all = collected(out, 's3').sort((a, b) => a.seq - b.seq);
    expect(all.map((x) => x.seq)).toEqual(Array.from({ length: 2 * want.length }, (_, i) => i + 1));
    const cs = await c.stop();
    console.log(`[export] sensor SIGKILL: sent ${2 * want.length}, ${cs.stderr.trim().split('\n').pop()}, lost 0`);
  });

  it('collector killed with SIGKILL and restarted: nothing lost, duplicates removed', async () => {
    const out = join(tmp, 'collect-4');
    let c = await collect(out, 'c4');
    const r = read('s4', state(), ['--export-rate', '25', '--export-wait', '60']);
    await r.waitFor(/connected to/);
    await sleep(1200);
    await c.stop('SIGKILL');
    const before = collected(out, 's4').length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(want.length);
    await sleep(1500);
    c = await collect(out, 'c4');
    expect((await r.exited).code).toBe(0);
    const t0 = Date.now();
    while (collected(out, 's4').length < want.length && Date.now() - t0 < 10_000) await sleep(200);
    const cs = await c.stop();
    expectExactlyOnce(
      collected(out, 's4').sort((a, b) => a.seq - b.seq),
      want,
    );
    console.log(`[export] collector SIGKILL after ${before} records: sent ${want.length}, ${cs.stderr.trim().split('\n').pop()}, lost 0`);
  });

  it('spool full during an outage: flows dropped oldest first, alerts kept, drops counted and announced', async () => {
    const st = state();
    const many = Array.from({ length: 200 }, () => PLANT);
    const dead = `mqtts://localhost:${await freePort()}`;
    const r = await track(
      otwatch([
        'read',
        '--json',
        '--pdus',
        '--learn-for',
        '1s',
        '-q',
        ...many,
        '--export',
        dead,
        ...tlsArgs(pki, 's5'),
        '--sensor-id',
        's5',
        '--state',
        st,
        '--spool-mb',
        '1',
        '--export-wait',
        '2',
      ]),
    ).exited;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot connect to mqtts:\/\/localhost:\d+: connection refused/);
    expect(r.stderr).toMatch(/records not acknowledged by localhost:\d+ within 2 s; they stay spooled in/);
    const local = parseLines(r.stdout);
    const alerts = local.filter((x) => x.type === 'alert');
    const out = join(tmp, 'collect-5');
    const c = await collect(out, 'c5');
    const f = await track(otwatch(['export', 'flush', '--export', url, ...tlsArgs(pki, 's5'), '--sensor-id', 's5', '--state', st])).exited;
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(/spool .* was full: \d+ records \(0 alerts\) were dropped/);
    const t0 = Date.now();
    while (!collected(out, 's5').some((x) => x.kind === 'spool_overflow') && Date.now() - t0 < 10_000) await sleep(200);
    await sleep(500);
    await c.stop();
    const got = collected(out, 's5');
    const overflow = got.filter((x) => x.kind === 'spool_overflow');
    expect(overflow).toHaveLength(1);
    expect(overflow[0].dropped).toBeGreaterThan(0);
    expect(overflow[0].dropped_alerts).toBe(0);
    const gotAlerts = got.filter((x) => x.type === 'alert' && x.kind !== 'spool_overflow');
    expect(gotAlerts.map(unstamped).sort()).toEqual(alerts.map((x) => JSON.stringify(x)).sort());
    // What arrived plus what was dropped is what was produced.
    expect(got.length - 1 + overflow[0].dropped).toBe(local.length);
    console.log(
      `[export] overflow: produced ${local.length}, delivered ${got.length - 1}, dropped ${overflow[0].dropped} ` +
        `(alerts 0 of ${alerts.length})`,
    );
  });

  it('broker backpressure (max_inflight_messages 2, max_queued_messages 10): reading goes on, the spool absorbs the rest', async () => {
    const slowPort = await freePort();
    const slow = new Broker(join(tmp, 'broker-slow'), slowPort, pki, { maxInflight: 2, maxQueued: 10 });
    await slow.start();
    try {
      // The IT side (without a subscriber the broker answers 0x10 and the records stay spooled).
      const sub = track(mosquittoSub(pki, slowPort, 'collector', 'otwatch/#', 'sub-slow'));
      await sub.waitFor(/Subscribed/, 10_000, 'stdout');
      const many = Array.from({ length: 20 }, () => PLANT);
      const r = await track(
        otwatch([
          'read',
          '--json',
          '--pdus',
          '--learn-for',
          '1s',
          ...many,
          '--export',
          `mqtts://localhost:${slowPort}`,
          ...tlsArgs(pki, 's6'),
          '--sensor-id',
          's6',
          '--state',
          state(),
          '--export-wait',
          '60',
        ]),
      ).exited;
      expect(r.code).toBe(0);
      const produced = parseLines(r.stdout).length;
      const m = /: ([\d,]+) records spooled, ([\d,]+) acknowledged, 0 dropped \(0 alerts\), 0 still spooled/.exec(r.stderr);
      expect(m).not.toBeNull();
      expect(Number(m![1].replace(/,/g, ''))).toBe(produced);
      expect(Number(m![2].replace(/,/g, ''))).toBeGreaterThanOrEqual(produced);
      expect(r.stderr).not.toMatch(/lost|refused|Receive Maximum/);
      console.log(`[export] backpressure: ${produced} records, all acknowledged through a broker taking 2 in flight`);
    } finally {
      await slow.stop();
    }
  });

  describe('a clear error, no plaintext, records stay spooled', () => {
    const failing = async (sensor: string, args: string[], urlOverride?: string) => {
      const st = state();
      const r = await track(
        otwatch([
          'read',
          '-q',
          '--learn-for',
          '1s',
          PLANT,
          '--export',
          urlOverride ?? url,
          ...args,
          '--sensor-id',
          sensor,
          '--state',
          st,
          '--export-wait',
          '3',
        ]),
      ).exited;
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/records not acknowledged .* they stay spooled/);
      expect(readdirSync(join(st, 'spool')).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(0);
      return r.stderr;
    };
    it('wrong CA', async () => {
      const c = pki.client('w1');
      const err = await failing('w1', ['--export-ca', pki.otherCa, '--export-cert', c.cert, '--export-key', c.key]);
      expect(err).toMatch(/cannot connect to mqtts:\/\/localhost:\d+: the server certificate is not signed by the CA given with/);
    });
    it('expired client certificate', async () => {
      const c = pki.expiredClient('w2');
      const err = await failing('w2', ['--export-ca', pki.ca, '--export-cert', c.cert, '--export-key', c.key]);
      expect(err).toMatch(/cannot connect to .*: the server rejected our client certificate as expired/);
    });
    it('wrong host name', async () => {
      const err = await failing('w3', tlsArgs(pki, 'w3'), `mqtts://127.0.0.1:${port}`);
      expect(err).toMatch(/cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: the server certificate does not name '127\.0\.0\.1'/);
    });
    it('publishing outside its ACL (certificate of another sensor)', async () => {
      const err = await failing('w4', tlsArgs(pki, 'someone-else'));
      expect(err).toMatch(/refused record seq 1 \(type (flow|alert)\): Publish error: Not authorized/);
    });
    it('mqtt:// is refused without --export-insecure', async () => {
      const r = await track(otwatch(['read', '-q', PLANT, '--export', `mqtt://localhost:${port}`, ...tlsArgs(pki, 'w5')])).exited;
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/mqtt:\/\/ is plaintext: use mqtts:\/\/, or give --export-insecure/);
    });
    it('a key readable by others gets a warning', async () => {
      const c = pki.client('w6');
      chmodSync(c.key, 0o644);
      const st = state();
      const r = await track(
        otwatch([
          'read',
          '-q',
          PLANT,
          '--export',
          url,
          '--export-ca',
          pki.ca,
          '--export-cert',
          c.cert,
          '--export-key',
          c.key,
          '--sensor-id',
          'w6',
          '--state',
          st,
        ]),
      ).exited;
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/export key .* is readable by group or others \(mode 644\): chmod 600 it/);
      expect(existsSync(join(st, 'spool', 'state.json'))).toBe(true);
    });
  });
});

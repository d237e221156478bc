// The export thread (the compiled build: spool, sender and MQTT.js off the
// packet thread) against a real mosquitto, in a process with nothing else
// alive: a drain keeps the process until the thread answers (an unreferenced
// thread let `read --export` exit 0 in the middle of its end, before the
// summary: 2 bench runs in 5), start-up faults are synchronous usage errors,
// and the thread's log lines reach the main thread's logger.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, freePort } from '../helpers/broker.js';
import { mosquittoSub } from '../helpers/export-run.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { CLI } from '../helpers/run.js';

const hasMosquitto = spawnSync('mosquitto', ['-h']).status !== null;
const DIST = resolve(CLI, '..');

describe.runIf(hasMosquitto)('the export thread', () => {
  let tmp: string;
  let pki: Pki;
  let broker: Broker;
  let port: number;
  let n = 0;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'otwatch-et-'));
    pki = makePki(join(tmp, 'pki'));
    port = await freePort();
    broker = new Broker(join(tmp, 'broker'), port, pki);
    await broker.start();
  });

  afterAll(async () => {
    await broker?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs a script that starts the export sink with `state` and `url`; it prints only what it reaches. */
  const script = (state: string, url: string, body: string) => {
    const c = pki.client('s1');
    const setup = `
      import { startExportSink } from '${DIST}/export/export-thread.js';
      import { createLogger } from '${DIST}/output/log.js';
      const log = createLogger('info', 'text');
      const settings = { url: new URL('${url}'), transport: 'mqtt', secure: true,
        tls: { ca: '${pki.ca}', cert: '${c.cert}', key: '${c.key}' }, sensor: 's1', stateDir: '${state}',
        types: new Set(['flow', 'alert']), format: 'json', waitSecs: 5, rate: 0, spoolBytes: 1 << 20 };
      let ex;
      try { ex = startExportSink(settings, log); } catch (e) { console.log(e.constructor.name + ': ' + e.message); process.exit(0); }
      console.log(ex.constructor.name);
    `;
    const file = join(tmp, `script-${++n}.mjs`);
    writeFileSync(file, setup + body);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    return { out: r.stdout.trim().split('\n'), code: r.status, err: r.stderr };
  };

  it('a drain holds the process until the thread answers; the thread logs through the main thread', () => {
    const r = script(
      join(tmp, 'state-1'),
      `mqtts://localhost:${port}`,
      `
      ex.write('flow', '{"type":"flow","ts":1}\\n{"type":"pdu","ts":1}\\n');
      ex.write('pdu', '{"type":"pdu","ts":2}\\n');
      const ok = await ex.drain(2);
      const s = ex.stats();
      console.log('drained ' + ok + ', exported ' + s.exported + ', backlog ' + s.backlog + ', seq ' + s.seq);
    `,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out[0]).toBe('ExportThread');
    // No collector here: the broker answers 0x10 and the record stays spooled.
    expect(r.out[1]).toBe('drained false, exported 1, backlog 1, seq 1');
    expect(r.err).toMatch(/did not deliver record seq 1 \(type flow\): the broker has no subscriber for it/);
    expect(r.err).toMatch(/1 records not acknowledged by localhost:\d+ within 2 s; they stay spooled in/);
  });

  it('the seq goes on from the spool the last run left', () => {
    const r = script(
      join(tmp, 'state-1'),
      `mqtts://localhost:${port}`,
      `
      ex.write('alert', '{"type":"alert","ts":3}\\n');
      const ok = await ex.drain(1);
      console.log('drained ' + ok + ', seq ' + ex.stats().seq + ', backlog ' + ex.stats().backlog);
    `,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out[1]).toBe('drained false, seq 2, backlog 2');
  });

  it('while the packet thread is saturated, sending slows to 1000 records/s; it catches up when capture lets up', async () => {
    const sub = mosquittoSub(pki, port, 'collector', 'otwatch/s1/#', 'sub-yield');
    try {
      await sub.waitFor(/Subscribed/, 10_000, 'stdout');
      const r = script(
        join(tmp, 'state-3'),
        `mqtts://localhost:${port}`,
        `
        const lines = [];
        for (let i = 0; i < 5000; i++) lines.push('{"type":"flow","ts":' + i + '}\\n');
        // Capture at full load for 2.5 s: turns of 50 ms of work, as a replay of a large file does.
        const t0 = Date.now();
        let i = 0;
        while (Date.now() - t0 < 2500) {
          const s = Date.now();
          while (Date.now() - s < 50) {}
          // Records from the moment the thread has seen the load (it is reported every 100 ms).
          if (i < 5000 && Date.now() - t0 > 500) for (const l of lines.slice(i, (i += 2500))) ex.write('flow', l);
          await new Promise((r) => setImmediate(r));
        }
        console.log('acked while busy ' + ex.stats().acked);
        const t1 = Date.now();
        console.log('drained ' + (await ex.drain(20)) + ', acked ' + ex.stats().acked + ', after ' + (Date.now() - t1) + ' ms');
      `,
      );
      expect(r.code, r.err).toBe(0);
      const busy = Number(r.out[1].split(' ').pop());
      console.log(`[export] capture saturated 2 s: ${r.out.slice(1).join('; ')}`);
      // 2 s at 1000/s plus the rate's burst (the counters are up to 250 ms old); without the yield all 5000 go in
      // well under a second.
      expect(busy, r.out.join('\n')).toBeLessThan(3000);
      expect(busy).toBeGreaterThan(0); // alerts and flows still move, slowly
      expect(r.out[2]).toMatch(/^drained true, acked 5000, after \d+ ms$/);
      expect(Number(r.out[2].split(' ').at(-2))).toBeLessThan(10_000);
    } finally {
      sub.p.kill();
    }
  });

  it('a spool that cannot be opened is a usage error at start, before any record', () => {
    const file = join(tmp, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = script(file, `mqtts://localhost:${port}`, `console.log('started');`);
    expect(r.code, r.err).toBe(0);
    expect(r.out[0]).toMatch(/^UsageError: cannot open the export spool in .*not-a-dir\/spool: (ENOTDIR|EEXIST)/);
  });

  it('a broker that refuses the connection: the drain gives up in time and the process is not held after it', () => {
    const t0 = Date.now();
    const r = script(
      join(tmp, 'state-2'),
      'mqtts://localhost:1',
      `
      ex.write('flow', '{"type":"flow","ts":1}\\n');
      console.log('drained ' + (await ex.drain(1)));
    `,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out[1]).toBe('drained false');
    expect(r.err).toMatch(/connection refused \(is the broker running\?\)/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

// The MQTT connection's thread against a real mosquitto: a connection closed
// on purpose is not reported as lost, and a close keeps the process alive
// until the thread answers (an unreferenced thread let `read --export` exit
// 0 in the middle of its end, before the summary: 2 runs in 5 on the bench).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, freePort } from '../helpers/broker.js';
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
    tmp = mkdtempSync(join(tmpdir(), 'otwatch-wt-'));
    pki = makePki(join(tmp, 'pki'));
    port = await freePort();
    broker = new Broker(join(tmp, 'broker'), port, pki);
    await broker.start();
  });

  afterAll(async () => {
    await broker?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs a script with nothing else keeping its event loop alive: it prints only what it reaches. */
  const script = (body: string) => {
    const c = pki.client('s1');
    const setup = `
      import { readFileSync } from 'node:fs';
      import { mqttTransport } from '${DIST}/export/worker-transport.js';
      const t = mqttTransport({ url: new URL('mqtts://localhost:${port}'), secure: true, clientId: 'otwatch-wt-' + process.pid,
        tls: { ca: readFileSync('${pki.ca}'), cert: readFileSync('${c.cert}'), key: readFileSync('${c.key}') } }, 'otwatch/s1/');
      console.log(t.constructor.name);
      let downs = 0;
      t.onDown = () => { downs++; };
    `;
    const file = join(tmp, `script-${++n}.mjs`);
    writeFileSync(file, setup + body);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    return { out: r.stdout.trim().split('\n'), code: r.status, err: r.stderr };
  };

  it('connect, send, close: the close is answered before the process may exit, and is not a lost connection', () => {
    const r = script(`
      await t.connect();
      console.log('connected');
      const acked = await new Promise((res) => t.send('flow', '{"type":"flow","seq":1}\\n', (e) => res(e === null ? 'acked' : 'undelivered: ' + e.message)));
      console.log(acked);
      await t.close();
      console.log('closed, downs ' + downs);
    `);
    expect(r.code, r.err).toBe(0);
    expect(r.out[0]).toBe('WorkerTransport');
    expect(r.out[1]).toBe('connected');
    expect(r.out[2]).toMatch(/^undelivered: the broker has no subscriber for it \(PUBACK reason 0x10/); // no collector here
    expect(r.out[3]).toBe('closed, downs 0');
  });

  it('a connect that fails is one clear error, and the process is not held after it', () => {
    const r = script(`
      const bad = mqttTransport({ url: new URL('mqtts://localhost:1'), secure: true, clientId: 'x', tls: {} }, 'otwatch/s1/');
      try { await bad.connect(); } catch (e) { console.log('refused: ' + e.message); }
    `);
    expect(r.code, r.err).toBe(0);
    expect(r.out[1]).toMatch(/^refused: connection refused \(is the broker running\?\)/);
  });
});

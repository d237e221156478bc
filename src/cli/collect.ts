// `otwatch collect mqtts://HOST:PORT -w DIR`: the IT side. It connects out
// to the DMZ broker (it listens on nothing), takes records from a shared
// subscription with a persistent session (the broker keeps them while the
// collector is down; several collectors of one --group split the load), drops
// duplicates by (sensor, seq) and writes DIR/<sensor>/{alerts,flows,pdus,stats}.ndjson.
//
// A record is acknowledged (PUBACK) only after it is written to its file, so
// a collector killed at any moment loses nothing; what it had not
// acknowledged comes again and the seq check drops it. The de-duplication
// state is a window of seqs per sensor (MQTT may deliver a resent record
// after later ones), kept in DIR/.collect-state.json and made good from the
// tails of the output files themselves.
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../output/log.js';
import { msgpack } from '../output/msgpack-lazy.js';
import { RotatingSink } from '../output/rotating-sink.js';
import { brokerUrl, KIND_OF, SENSOR_ID, TLS_OPTIONS, tlsFiles } from '../export/options.js';
import { mqttConnectOptions, mqttLib } from '../export/mqtt-transport.js';
import { lineSeq } from '../export/record-line.js';
import { recoverWindows, saveWindows } from '../export/collect-state.js';
import { SeqWindow } from '../export/seq-window.js';
import { ExportSetupError, loadTls, type TlsMaterial } from '../export/tls-files.js';
import { describeNetError } from '../export/transport.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { LOG_OPTIONS } from './settings.js';

export const COLLECT_OPTIONS: readonly OptSpec[] = [
  { name: 'write', short: 'w', kind: 'string', arg: 'DIR', help: 'write DIR/<sensor>/{alerts,flows,pdus,stats}.ndjson' },
  {
    name: 'group',
    kind: 'string',
    arg: 'NAME',
    default: 'otwatch',
    help: 'shared subscription group: collectors of one group split the records',
  },
  {
    name: 'client-id',
    kind: 'string',
    arg: 'ID',
    help: 'MQTT client id, the key of the persistent session (default otwatch-collect-<group>-<host>)',
  },
  ...TLS_OPTIONS,
  { name: 'rotate-size', kind: 'number', arg: 'MB', default: 0, help: 'new files once one reaches MB (0: never)' },
  { name: 'rotate-time', kind: 'seconds', arg: 'DUR', default: 0, help: 'new files every DUR, aligned (0: never)' },
  ...LOG_OPTIONS,
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];
export const COLLECT_USAGE = 'otwatch collect mqtts://HOST:PORT -w DIR --export-ca FILE --export-cert FILE --export-key FILE [options]';

export async function runCollect({ opts, rest }: Parsed): Promise<number> {
  if (rest.length !== 1) throw new UsageError(`usage: ${COLLECT_USAGE}`);
  const { url, secure } = brokerUrl(rest[0], opts, false);
  if (typeof opts.write !== 'string') throw new UsageError('give -w DIR for the records');
  const dir = opts.write;
  const group = opts.group as string;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new UsageError(`bad --group '${group}'`);
  const log = createLogger(opts['log-level'] as string, opts['log-format'] as 'text' | 'json');
  let tls: TlsMaterial;
  try {
    tls = loadTls(tlsFiles(opts), log);
  } catch (e) {
    if (e instanceof ExportSetupError) throw new UsageError(e.message);
    throw e;
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`cannot create ${dir}: ${(e as Error).message}`);
  }
  const seen = recoverWindows(dir);
  const sinks = new Map<string, RotatingSink>();
  const sinkFor = (sensor: string): RotatingSink => {
    let s = sinks.get(sensor);
    if (s === undefined) {
      mkdirSync(join(dir, sensor), { recursive: true });
      s = new RotatingSink({
        dir: join(dir, sensor),
        format: 'ndjson',
        maxBytes: Math.floor((opts['rotate-size'] as number) * 1024 * 1024),
        maxSeconds: opts['rotate-time'] as number,
        onError: (m) => log.error(`collect: ${m}`),
      });
      sinks.set(sensor, s);
    }
    return s;
  };
  const counts = { received: 0, written: 0, duplicates: 0, rejected: 0 };
  let dirty = false;
  let fatal = false;

  const onRecord = (topic: string, payload: Buffer): void => {
    counts.received++;
    const parts = topic.split('/');
    const sensor = parts[1];
    const kind = KIND_OF[parts[2]];
    if (
      parts.length !== 3 ||
      parts[0] !== 'otwatch' ||
      !SENSOR_ID.test(sensor) ||
      sensor === '.' ||
      sensor === '..' ||
      kind === undefined
    ) {
      counts.rejected++;
      log.warn(`collect: record on unexpected topic '${topic.slice(0, 200)}' ignored`);
      return;
    }
    let line = payload[0] === 0x7b ? payload.toString('utf8') : `${JSON.stringify(msgpack().decode(payload))}`;
    if (!line.endsWith('\n')) line += '\n';
    const seq = lineSeq(line);
    if (!(seq > 0)) {
      counts.rejected++;
      log.warn(`collect: record from ${sensor} without seq ignored`);
      return;
    }
    let w = seen.get(sensor);
    if (w === undefined) {
      w = new SeqWindow();
      seen.set(sensor, w);
    }
    if (w.has(seq)) {
      counts.duplicates++;
      return;
    }
    const s = sinkFor(sensor);
    const failed = s.dropped;
    s.write(kind, line);
    s.flush(); // in the kernel before the PUBACK: a killed collector loses nothing
    if (s.dropped > failed) throw new Error(`cannot write to ${join(dir, sensor)}`);
    w.add(seq);
    counts.written++;
    dirty = true;
  };

  const saveState = (): void => {
    if (!dirty) return;
    dirty = false;
    saveWindows(dir, seen);
  };
  const stateTimer = setInterval(saveState, 1000);

  const host = hostname().split('.')[0];
  const clientId = typeof opts['client-id'] === 'string' ? (opts['client-id'] as string) : `otwatch-collect-${group}-${host}`;
  const o = mqttConnectOptions({ url, secure, tls, clientId }, false);
  o.reconnectPeriod = 2000;
  const client = mqttLib().connect(o);
  // Acknowledge a record only once it is written (MQTT.js sends the PUBACK when the callback runs).
  client.handleMessage = (packet, done) => {
    try {
      onRecord(packet.topic, packet.payload as Buffer);
      done();
    } catch (e) {
      // Not acknowledged: the broker keeps it. Stop rather than skip it.
      log.error(`collect: ${(e as Error).message}: record from ${packet.topic} not acknowledged; stopping`);
      fatal = true;
      process.kill(process.pid, 'SIGTERM');
    }
  };
  const topic = `$share/${group}/otwatch/+/+`;
  let lastErr = '';
  client.on('connect', (ack) => {
    lastErr = '';
    log.info(`collect: connected to ${url.host} as ${clientId}${ack.sessionPresent ? ' (session resumed)' : ''}`);
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      const bad = granted?.find((g) => g.qos > 2);
      if (err || bad) log.error(`collect: subscription to ${topic} refused: ${err?.message ?? `reason ${bad?.qos}`}`);
    });
  });
  client.on('error', (e) => {
    const m = describeNetError(e as Error & { code?: string }, url.hostname);
    if (m !== lastErr) log.error(`collect: ${url.host}: ${m}; retrying`);
    lastErr = m;
  });
  client.on('offline', () => log.warn(`collect: disconnected from ${url.host}; reconnecting`));

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info(`collect: ${sig}: stopping`);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await new Promise<void>((r) => client.end(false, {}, () => r()));
  clearInterval(stateTimer);
  for (const s of sinks.values()) s.close();
  dirty = true;
  saveState();
  process.stderr.write(
    `collect: ${counts.received} received, ${counts.written} written, ${counts.duplicates} duplicates ` +
      `removed, ${counts.rejected} rejected\n`,
  );
  return fatal ? 1 : 0;
}

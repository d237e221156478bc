// The export thread: the whole Exporter (spool, seq, sender, MQTT.js or the
// syslog connection) runs here on the record text the packet thread posts.
// Log lines and counters go back to the main thread, which owns the logger
// and the stats records.
import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../cli/options.js';
import type { Logger } from '../output/log.js';
import { CHUNK, type FromThread, type LogLevel, type StartReply, type ThreadData, type ToThread } from './export-thread.js';
import { type Exporter, startExport } from './exporter.js';

/** Counters go to the main thread this often (its stats records and its bound on text in flight). */
const STATS_MS = 250;

const data = workerData as ThreadData;
const port = parentPort!;
const post = (m: FromThread, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

let startLogs: [LogLevel, string][] | null = [];
const say = (level: LogLevel) => (msg: string) => {
  if (startLogs !== null) startLogs.push([level, msg]);
  else post({ op: 'log', level, msg });
};
const log = { debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error') } as unknown as Logger;

function started(reply: StartReply): void {
  startLogs = null;
  data.startPort.postMessage(reply);
  data.startPort.close();
  const flag = new Int32Array(data.status);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

let ex: Exporter | null = null;
const logs = startLogs;
try {
  ex = startExport({ ...data.settings, url: new URL(data.settings.url) }, log);
} catch (e) {
  started({ ok: false, usage: e instanceof UsageError, message: (e as Error).message, logs });
}
if (ex !== null) run(ex);

function run(ex: Exporter): void {
  started({ ok: true, logs, stats: ex.stats() });
  let took = 0;
  const timer = setInterval(() => post({ op: 'stats', stats: ex.stats(), took }), STATS_MS);
  port.on('message', (m: ToThread) => {
    switch (m.op) {
      case 'records':
        if (m.dropped > 0) ex.spool.countDrop(m.dropped, 0); // flows, pdus, stats: alerts are never dropped there
        if (m.length > 0) ex.write('flow', Buffer.from(m.bytes, 0, m.length).toString('utf8'));
        took += m.length;
        if (m.bytes.byteLength === CHUNK) post({ op: 'spare', bytes: m.bytes }, [m.bytes]);
        break;
      case 'load':
        ex.captureLoad(m.busy);
        break;
      case 'flush':
        ex.flush();
        break;
      case 'close':
        ex.close();
        break;
      case 'drain':
        void ex.drain(m.secs).then((ok) => {
          clearInterval(timer);
          post({ op: 'drained', ok, stats: ex.stats() });
          port.close();
        });
        break;
    }
  });
}

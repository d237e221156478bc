// The MQTT connection's thread: MQTT.js and TLS run here, off the packet
// thread. It forwards what the main thread's WorkerTransport asks (connect,
// batches of records, close) to an MqttTransport and answers with batches of
// acknowledgements.
import { parentPort, workerData } from 'node:worker_threads';
import { MqttTransport } from './mqtt-transport.js';
import { UndeliveredError } from './transport.js';
import type { ToWorker, FromWorker, WorkerTarget } from './worker-transport.js';

const cfg = workerData as WorkerTarget;
const t = new MqttTransport({ url: new URL(cfg.url), secure: cfg.secure, tls: cfg.tls, clientId: cfg.clientId }, cfg.topicPrefix);
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

let acks: number[] = [];
let errs: [number, string, boolean][] = [];
let pending = false;
const flushAcks = () => {
  pending = false;
  if (acks.length === 0 && errs.length === 0) return;
  post({ op: 'acks', ids: acks, errs });
  acks = [];
  errs = [];
};

t.onDown = (err) => {
  flushAcks();
  post({ op: 'down', message: err.message });
};

port.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'connect':
      t.connect().then(
        () => post({ op: 'connected', window: t.window }),
        (e: Error) => post({ op: 'connectFailed', message: e.message }),
      );
      break;
    case 'send': {
      const types = m.types.split('\n');
      let at = 0;
      for (let i = 0; i < types.length; i++) {
        const id = m.first + i;
        let payload: string | Buffer;
        if (m.buffers !== null) {
          const u = m.buffers[i];
          payload = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
        } else {
          payload = m.text.slice(at, at + m.lens[i]);
          at += m.lens[i];
        }
        t.send(types[i], payload, (err) => {
          if (err === null) acks.push(id);
          else errs.push([id, err.message, err instanceof UndeliveredError]);
          if (!pending) {
            pending = true;
            setImmediate(flushAcks);
          }
        });
      }
      break;
    }
    case 'close':
      flushAcks();
      void t.close().finally(() => post({ op: 'closed' }));
      break;
  }
});

// MQTT publishing on a thread of its own. MQTT.js encodes and TLS encrypts
// each record on whatever thread runs it; on the packet thread that cost
// ~20 µs a record, a large share of a busy sensor's time. This Transport
// keeps the sender's contract (send, done once acknowledged, onDown) and
// moves records to the connection's thread in batches (one message per
// turn of the event loop), acknowledgements back likewise.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MqttTransport, type MqttTarget } from './mqtt-transport.js';
import { UndeliveredError, type Transport } from './transport.js';

export interface WorkerTarget {
  url: string;
  secure: boolean;
  tls: MqttTarget['tls'];
  clientId: string;
  topicPrefix: string;
}

export type ToWorker =
  | { op: 'connect' }
  /** Records `first`, `first + 1`, ...: their types joined by newlines, and the JSON lines as one
   *  text cut at `lens` (cloning one string is a copy; an array of strings costs per element). */
  | { op: 'send'; first: number; types: string; text: string; lens: Int32Array; buffers: Uint8Array[] | null }
  | { op: 'close' };

export type FromWorker =
  | { op: 'connected'; window: number | undefined }
  | { op: 'connectFailed'; message: string }
  | { op: 'down'; message: string }
  | { op: 'acks'; ids: number[]; errs: [number, string, boolean][] }
  | { op: 'closed' };

type Done = (err: Error | null) => void;

export class WorkerTransport implements Transport {
  private readonly worker: Worker;
  window?: number;
  onDown: (err: Error) => void = () => {};
  private nextId = 0;
  private readonly done = new Map<number, Done>();
  /** The batch being gathered: ids from batchFirst on. */
  private batchFirst = 1;
  private types: string[] = [];
  private texts: string[] = [];
  private buffers: Uint8Array[] | null = null;
  private queued = false;
  private connecting: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private closing: (() => void)[] = [];
  private dead: Error | null = null;
  private up = false;

  constructor(file: URL, target: WorkerTarget) {
    this.worker = new Worker(file, { workerData: target });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(new Error(`export thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`export thread exited (${code})`)));
    this.worker.unref(); // after the listeners: adding a 'message' listener references the thread again
  }

  private onMessage(m: FromWorker): void {
    switch (m.op) {
      case 'connected':
        this.window = m.window;
        this.up = true;
        this.connecting?.resolve();
        this.connecting = null;
        break;
      case 'connectFailed':
        this.connecting?.reject(new Error(m.message));
        this.connecting = null;
        break;
      case 'down':
        this.up = false;
        // The sender first: it then takes the failed sends for the lost connection's, not refusals.
        this.onDown(new Error(m.message));
        this.failSends(new Error(m.message));
        break;
      case 'acks':
        for (const id of m.ids) this.settle(id, null);
        for (const [id, msg, undelivered] of m.errs) this.settle(id, undelivered ? new UndeliveredError(msg) : new Error(msg));
        break;
      case 'closed':
        this.up = false;
        for (const r of this.closing.splice(0)) r();
        break;
    }
    this.holdProcess();
  }

  /** A connection, or a connect or close under way, keeps the process alive, as a socket would: a run's
   *  end awaits the close, and an unreferenced thread would let the process exit before it answers. */
  private holdProcess(): void {
    if (this.dead === null && (this.up || this.connecting !== null || this.closing.length > 0)) this.worker.ref();
    else this.worker.unref();
  }

  private settle(id: number, err: Error | null): void {
    const d = this.done.get(id);
    if (d === undefined) return;
    this.done.delete(id);
    d(err);
  }

  private failSends(err: Error): void {
    const all = [...this.done.values()];
    this.done.clear();
    for (const d of all) d(err);
  }

  private fail(err: Error): void {
    if (this.dead !== null) return;
    this.dead = err;
    this.up = false;
    this.worker.unref();
    if (this.connecting !== null) this.connecting.reject(err);
    else this.onDown(err);
    this.connecting = null;
    this.failSends(err);
    for (const r of this.closing.splice(0)) r();
  }

  connect(): Promise<void> {
    if (this.dead !== null) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.connecting = { resolve, reject };
      this.holdProcess();
      this.post({ op: 'connect' });
    });
  }

  send(type: string, line: string | Buffer, done: Done): void {
    if (this.dead !== null) {
      done(this.dead);
      return;
    }
    const id = ++this.nextId;
    if (this.types.length === 0) this.batchFirst = id;
    this.done.set(id, done);
    this.types.push(type);
    if (typeof line === 'string') this.texts.push(line);
    else (this.buffers ??= []).push(line); // msgpack: the format is one per run
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(() => this.flushSends());
    }
  }

  private flushSends(): void {
    this.queued = false;
    if (this.types.length === 0) return;
    const lens = new Int32Array(this.texts.length);
    for (let i = 0; i < lens.length; i++) lens[i] = this.texts[i].length;
    this.post({ op: 'send', first: this.batchFirst, types: this.types.join('\n'), text: this.texts.join(''), lens, buffers: this.buffers });
    this.types = [];
    this.texts = [];
    this.buffers = null;
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  close(): Promise<void> {
    this.flushSends();
    if (this.dead !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.closing.push(resolve);
      this.holdProcess();
      this.post({ op: 'close' });
    });
  }
}

/** MQTT on its own thread when the compiled worker is there (tests on the sources: in-process). */
export function mqttTransport(t: MqttTarget, topicPrefix: string): Transport {
  const file = new URL('./transport-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(file))) return new MqttTransport(t, topicPrefix);
  return new WorkerTransport(file, { url: t.url.href, secure: t.secure, tls: t.tls, clientId: t.clientId, topicPrefix });
}

// The inventory's writes, off the packet thread. A worker thread owns a
// database connection and writes the batches it is sent, in order; a batch
// whose transaction fails (disk full, locked) stays queued there and is
// tried again before any later one, so nothing is lost and history keeps
// its order. When the compiled worker is absent (tests run on the sources)
// the same queue runs in-process.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Batch, batchFromWire } from './batch.js';
import { openInventory, sqliteMessage } from './db.js';
import { InventoryWriter } from './writer.js';

export interface QueueConfig {
  path: string;
  sensor: string;
  staleAfter: number;
}

/** What one round of writing did: ok when the queue is empty again. */
export interface WriteOutcome {
  ok: boolean;
  /** History rows added. */
  changes: number;
  /** Transactions committed. */
  writes: number;
  error: string | null;
}

export interface WriteChannel {
  /** Queues a batch in its wire text (null: only retry what is queued) and writes the queue in order. */
  write(wire: string | null, final: boolean): Promise<WriteOutcome>;
  close(): Promise<string | null>;
}

/** The queue itself: used by the worker, or in-process. */
export class BatchQueue {
  private readonly queue: Batch[] = [];
  private writer: InventoryWriter | null = null;
  private db: ReturnType<typeof openInventory> | null = null;

  constructor(private readonly cfg: QueueConfig) {}

  write(batch: Batch | null, final: boolean): WriteOutcome {
    if (batch !== null) this.queue.push(batch);
    const out: WriteOutcome = { ok: true, changes: 0, writes: 0, error: null };
    try {
      if (this.writer === null) {
        this.db = openInventory(this.cfg.path);
        this.writer = new InventoryWriter(this.db, this.cfg.sensor, this.cfg.staleAfter);
      }
      // A final write with nothing queued still runs (the end-of-run stale sweep).
      if (this.queue.length === 0 && final) this.queue.push(new Batch());
      while (this.queue.length > 0) {
        const r = this.writer.write(this.queue[0], final && this.queue.length === 1);
        this.queue.shift();
        out.changes += r.changes;
        out.writes++;
      }
    } catch (e) {
      out.ok = false;
      out.error = sqliteMessage(e);
    }
    return out;
  }

  close(): string | null {
    try {
      this.db?.close();
      return null;
    } catch (e) {
      return sqliteMessage(e);
    } finally {
      this.db = null;
      this.writer = null;
    }
  }
}

class InProcessChannel implements WriteChannel {
  constructor(private readonly q: BatchQueue) {}
  write(wire: string | null, final: boolean): Promise<WriteOutcome> {
    return Promise.resolve(this.q.write(wire === null ? null : batchFromWire(wire), final));
  }
  close(): Promise<string | null> {
    return Promise.resolve(this.q.close());
  }
}

type Reply = { id: number; outcome?: WriteOutcome; closed?: string | null };

class WorkerChannel implements WriteChannel {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private dead: string | null = null;

  constructor(file: URL, cfg: QueueConfig) {
    this.worker = new Worker(file, { workerData: cfg });
    this.worker.on('message', (r: Reply) => {
      const done = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if (this.waiting.size === 0) this.worker.unref();
      done?.(r);
    });
    const fail = (why: string) => {
      this.dead ??= why;
      for (const done of this.waiting.values()) done({ id: -1, outcome: { ok: false, changes: 0, writes: 0, error: why }, closed: why });
      this.waiting.clear();
    };
    this.worker.on('error', (e) => fail(`inventory writer thread failed: ${e.message}`));
    this.worker.on('exit', (code) => fail(`inventory writer thread exited (${code})`));
    // Keeps the process alive only while a write is under way (after the listeners: adding a 'message'
    // listener references the thread again).
    this.worker.unref();
  }

  private ask(msg: object): Promise<Reply> {
    if (this.dead !== null)
      return Promise.resolve({ id: -1, outcome: { ok: false, changes: 0, writes: 0, error: this.dead }, closed: this.dead });
    const id = ++this.next;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.ref();
      this.worker.postMessage({ id, ...msg });
    });
  }

  async write(wire: string | null, final: boolean): Promise<WriteOutcome> {
    return (await this.ask({ batch: wire, final })).outcome!;
  }

  async close(): Promise<string | null> {
    const r = await this.ask({ close: true });
    await this.worker.terminate();
    return r.closed ?? null;
  }
}

/** A worker-thread channel when the compiled worker is there, else in-process. */
export function writeChannel(cfg: QueueConfig): WriteChannel {
  const file = new URL('./write-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(file))) return new WorkerChannel(file, cfg);
  return new InProcessChannel(new BatchQueue(cfg));
}

// The inventory's writer thread: the flow events the packet thread hands
// over are aggregated here (Aggregator, Tally) and written on request (the
// session's timer, the end of the run) or when the tally has grown large. A
// worker thread owns a database connection; a batch whose transaction fails
// (disk full, locked) stays queued there and is tried again before anything
// later, so nothing is lost and history keeps its order. When the compiled
// worker is absent (tests run on the sources) the same queue runs in-process.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WorkerHold } from '../parallel/worker-hold.js';
import { Aggregator } from './aggregator.js';
import type { Batch } from './batch.js';
import { openInventory, sqliteMessage } from './db.js';
import type { EventBatch } from './flow-event.js';
import type { EventSink } from './observer.js';
import { InventoryWriter } from './writer.js';

/** Entries that make the tally worth writing before the next timed write: the writer thread then works
 *  beside the packet thread instead of all at the end (a read of a large file takes seconds). */
export const HAND_OVER_AT = 200_000;

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

export interface WriteChannel extends EventSink {
  /** The packet thread's load (0-1): while capture is saturated the writer thread only keeps the events. */
  load(busy: number): void;
  /** Writes what has been aggregated (after what is queued from a failed write), in order. */
  write(final: boolean): Promise<WriteOutcome>;
  close(): Promise<string | null>;
}

/** The aggregation and the queue of batches: used by the worker, or in-process. */
export class BatchQueue {
  private readonly agg = new Aggregator();
  /** Batches whose write failed, oldest first. */
  private readonly queue: Batch[] = [];
  private writer: InventoryWriter | null = null;
  private db: ReturnType<typeof openInventory> | null = null;
  /** Written without being asked (a large tally) since the last outcome reported. */
  private changes = 0;
  private writes = 0;

  constructor(private readonly cfg: QueueConfig) {}

  events(b: EventBatch): void {
    this.agg.apply(b);
    // Not while a failed batch is queued: the timed retries write then, not every hand-over.
    if (this.queue.length === 0 && this.agg.tally.size >= HAND_OVER_AT) {
      const r = this.writeAll(false);
      this.changes += r.changes;
      this.writes += r.writes;
    }
  }

  /** Writes what is queued and aggregated; the outcome includes the writes done unasked since the last one. */
  write(final: boolean): WriteOutcome {
    const out = this.writeAll(final);
    out.changes += this.changes;
    out.writes += this.writes;
    this.changes = 0;
    this.writes = 0;
    return out;
  }

  private writeAll(final: boolean): WriteOutcome {
    const out: WriteOutcome = { ok: true, changes: 0, writes: 0, error: null };
    try {
      if (this.writer === null) {
        this.db = openInventory(this.cfg.path);
        this.writer = new InventoryWriter(this.db, this.cfg.sensor, this.cfg.staleAfter);
      }
      this.retry(out);
      // The tally only once nothing older is queued (a long failure does not pile up batches).
      // A final write with nothing new still runs (the end-of-run stale sweep).
      const tally = this.agg.tally;
      if (tally.size > 0 || final) {
        this.queue.push(tally.takeBatch());
        this.retry(out, final);
      }
    } catch (e) {
      out.ok = false;
      out.error = sqliteMessage(e);
    }
    return out;
  }

  /** Writes the queue in order (throws at the first failure, that batch kept); `final` for the last one. */
  private retry(out: WriteOutcome, final = false): void {
    while (this.queue.length > 0) {
      const r = this.writer!.write(this.queue[0], final && this.queue.length === 1);
      this.queue.shift();
      out.changes += r.changes;
      out.writes++;
    }
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
  private free: Float64Array | null = null;
  constructor(private readonly q: BatchQueue) {}
  take(b: EventBatch): void {
    this.q.events(b);
    this.free = b.events;
  }
  spare(): Float64Array | null {
    const f = this.free;
    this.free = null;
    return f;
  }
  load(): void {}
  write(final: boolean): Promise<WriteOutcome> {
    return Promise.resolve(this.q.write(final));
  }
  close(): Promise<string | null> {
    return Promise.resolve(this.q.close());
  }
}

type Reply = { id: number; outcome?: WriteOutcome; closed?: string | null; spare?: Float64Array };

class WorkerChannel implements WriteChannel {
  private readonly worker: Worker;
  private readonly hold: WorkerHold;
  private next = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private dead: string | null = null;
  /** Event buffers the writer gave back. */
  private readonly free: Float64Array[] = [];

  constructor(file: URL, cfg: QueueConfig) {
    this.worker = new Worker(file, { workerData: cfg });
    this.worker.on('message', (r: Reply) => {
      if (r.spare !== undefined) {
        if (this.free.length < 4) this.free.push(r.spare);
        return;
      }
      const done = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      done?.(r);
    });
    const fail = (why: string) => {
      this.dead ??= why;
      for (const done of this.waiting.values()) done({ id: -1, outcome: { ok: false, changes: 0, writes: 0, error: why }, closed: why });
      this.waiting.clear();
    };
    this.worker.on('error', (e) => fail(`inventory writer thread failed: ${e.message}`));
    this.worker.on('exit', (code) => fail(`inventory writer thread exited (${code})`));
    this.hold = new WorkerHold(this.worker); // the process waits for the thread only while a write is under way
  }

  private ask(msg: object): Promise<Reply> {
    if (this.dead !== null)
      return Promise.resolve({ id: -1, outcome: { ok: false, changes: 0, writes: 0, error: this.dead }, closed: this.dead });
    const id = ++this.next;
    return this.hold.during(
      () =>
        new Promise<Reply>((resolve) => {
          this.waiting.set(id, resolve);
          this.worker.postMessage({ id, ...msg });
        }),
    );
  }

  take(b: EventBatch): void {
    if (this.dead !== null) return; // the next write reports it
    this.worker.postMessage({ events: b }, [b.events.buffer as ArrayBuffer]);
  }

  spare(): Float64Array | null {
    return this.free.pop() ?? null;
  }

  load(busy: number): void {
    if (this.dead === null) this.worker.postMessage({ load: busy });
  }

  async write(final: boolean): Promise<WriteOutcome> {
    return (await this.ask({ write: true, final })).outcome!;
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

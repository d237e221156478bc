// One run's inventory (`read --inventory DB`, `live --inventory DB`): the
// observer that turns flows into events, and the timer that hands them to
// the writer thread and asks it to write every few seconds of wall time and
// once at the end. The packet thread only fills event buffers; aggregation
// and SQLite run on the writer thread. One write is asked for at a time:
// while one is under way, or after one failed, the next keeps growing there.
import { hostname } from 'node:os';
import type { Baseline } from '../detect/baseline.js';
import { Detector } from '../detect/detector.js';
import type { Engine } from '../engine.js';
import { observers } from '../detect/observer.js';
import type { Packet } from '../decode/packet.js';
import type { Logger } from '../output/log.js';
import { CaptureLoad, SATURATED } from '../parallel/capture-load.js';
import type { RecordKind, RecordSink } from '../output/sink.js';
import { InventoryError, openInventory, sqliteMessage, type Db } from './db.js';
import { InventoryObserver } from './observer.js';
import { DEFAULT_STALE_AFTER } from './schema.js';
import { HAND_OVER_AT, writeChannel, type WriteChannel } from './write-queue.js';
import { approvedServices } from './approval.js';

export const WRITE_EVERY_MS = 5000;
/** How often the timer looks at the packet thread's load. */
const CHECK_MS = 250;
/** The longest a timed write waits for capture to let up. */
export const MAX_DEFER_MS = 30_000;
export { HAND_OVER_AT };

export interface SessionOptions {
  path: string;
  sensor?: string;
  staleAfter?: number;
  packet: Packet | null;
  log: Logger | null;
  writeEveryMs?: number;
}

export class InventorySession {
  readonly observer: InventoryObserver;
  /** Opened here to check and migrate it, and to read the approved services; the writer thread has its own. */
  private readonly db: Db;
  private readonly channel: WriteChannel;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** The write under way (one at a time). */
  private busy: Promise<void> | null = null;
  /** The writer holds a batch whose write failed: retry it before sending another. */
  private held = false;
  /** First write failure (the batch is kept and tried again; reported at close). */
  failure: string | null = null;
  writes = 0;
  changes = 0;
  private failedAt = 0;
  private readonly load = new CaptureLoad();
  private lastWrite = Date.now();

  constructor(private readonly opts: SessionOptions) {
    this.db = openInventory(opts.path);
    this.channel = writeChannel({ path: opts.path, sensor: opts.sensor ?? hostname(), staleAfter: opts.staleAfter ?? DEFAULT_STALE_AFTER });
    this.observer = new InventoryObserver({ packet: opts.packet, sink: this.channel });
    this.observer.onFinish = () => this.write(true);
    const every = opts.writeEveryMs ?? WRITE_EVERY_MS;
    this.timer = setInterval(() => this.tick(every), Math.min(every, CHECK_MS));
    this.timer.unref();
  }

  /** Capture first: while the packet thread is saturated the timed write waits (up to MAX_DEFER_MS), so
   *  the writer's transaction does not take a core from capture; the events keep flowing to the writer
   *  thread, which also writes on its own past HAND_OVER_AT. */
  private tick(every: number): void {
    const busy = this.load.sample();
    this.channel.load(busy);
    const since = Date.now() - this.lastWrite;
    if (since < every || (busy >= SATURATED && since < MAX_DEFER_MS)) return;
    this.lastWrite = Date.now();
    this.write();
  }

  /** Hands the events to the writer thread and asks it to write unless a write is under way; false when not started. */
  write(final = false): boolean {
    if (this.closed) return false;
    this.observer.handOver();
    if (this.busy !== null) return false;
    return this.start(final);
  }

  /** Waits for the write under way; true when nothing failed. */
  async flush(): Promise<boolean> {
    while (this.busy !== null) await this.busy;
    return this.failure === null;
  }

  private start(final: boolean): boolean {
    this.observer.handOver();
    if (!this.held && this.observer.handedOver === 0 && !final) return true;
    // After a failure (disk full, locked) the retry is once per period.
    if (!final && this.held && Date.now() - this.failedAt < (this.opts.writeEveryMs ?? WRITE_EVERY_MS)) return false;
    this.observer.handedOver = 0;
    this.busy = this.channel.write(final).then((r) => {
      this.busy = null;
      this.writes += r.writes;
      this.changes += r.changes;
      if (r.ok) {
        if (this.failure !== null) this.opts.log?.info(`inventory ${this.opts.path}: written again; nothing was lost`);
        this.failure = null; // the failed batch was kept and is now written
        this.held = false;
        return;
      }
      const msg = `inventory ${this.opts.path}: write failed: ${r.error}`;
      if (this.failure === null) this.opts.log?.error(msg);
      this.failure = msg;
      this.failedAt = Date.now();
      this.held = true;
    });
    return true;
  }

  /** Joins the engine's observers (after the detector) and teaches the detector the approved services. */
  attach(engine: Engine): void {
    const det = engine.observer;
    if (det instanceof Detector) {
      const n = this.teach(det.baseline);
      if (n > 0) this.opts.log?.debug(`inventory: ${n} approved services known to the detector`);
    }
    engine.observer = observers([det, this.observer]);
  }

  /** Makes the detector treat approved services as known endpoints (no new_listener for them). */
  teach(baseline: Baseline): number {
    let n = 0;
    for (const s of approvedServices(this.db)) {
      const ep = baseline.learnEndpoint(s.vlan, s.ip, s.proto, s.port, s.ts);
      if (ep === null) continue;
      if (s.app !== null) baseline.learnApp(ep, s.app as Parameters<Baseline['learnApp']>[1]);
      n++;
    }
    return n;
  }

  /** Final write and close; false when some write failed (the message is in `failure`). */
  async close(): Promise<boolean> {
    if (this.closed) return this.failure === null;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
    // The final write retries a held batch first, then writes the rest with the end-of-run stale sweep.
    this.start(true);
    await this.flush();
    const closeErr = await this.channel.close();
    try {
      this.db.close();
    } catch (e) {
      this.failure ??= `inventory ${this.opts.path}: ${sqliteMessage(e)}`;
    }
    if (closeErr !== null) this.failure ??= `inventory ${this.opts.path}: ${closeErr}`;
    return this.failure === null;
  }

  /** Wraps the detector's sink: alerts also go into the inventory (new_listener links its service). */
  alertTap(sink: RecordSink): RecordSink {
    const obs = this.observer;
    return {
      write(kind: RecordKind, line: string): void {
        sink.write(kind, line);
        if (kind === 'alert' && line.startsWith('{"type":"alert"')) obs.alert(line);
      },
      close(): void {},
    };
  }
}

export { InventoryError };

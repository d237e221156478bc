// The exporter on a thread of its own. On the packet thread, stamping each
// record, encoding it into the spool's buffers, reading it back and handing
// it to MQTT.js cost a tenth of a busy sensor's time (profile of the bench's
// export mode). Here the packet thread only encodes the text of the
// exported kinds into chunks it hands over every 20 ms; the thread
// runs the whole Exporter (spool, seq, sender, connection) as it would run
// in-process. Without the compiled thread (tests on the sources) the
// Exporter runs in-process.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { UsageError } from '../cli/options.js';
import type { Logger } from '../output/log.js';
import type { RecordKind, RecordSink } from '../output/sink.js';
import { CaptureLoad } from '../parallel/capture-load.js';
import { WorkerHold } from '../parallel/worker-hold.js';
import { type ExportStats, exportSummary, startExport } from './exporter.js';
import { type ExportSettings, KIND_OF } from './options.js';

/** What the pipeline needs of an exporter, in-process or on its thread. */
export interface ExportSink extends RecordSink {
  /** Waits up to `secs` for the spool to drain, then stops; true when nothing is left. */
  drain(secs: number): Promise<boolean>;
  stats(): ExportStats;
  summaryText(): string;
}

/** Bytes of record text posted but not yet taken by the thread, past which the packet thread drops flows and stats
 *  (counted, and announced by a spool_overflow alert like the spool's own drops); alerts always go. */
const MAX_IN_FLIGHT = 32 << 20;
/** Bytes of record text per chunk handed over (at the end of each turn, or when full). */
export const CHUNK = 1 << 20;
const POST_EVERY_MS = 20;
/** The packet thread reports its load this often. */
const LOAD_EVERY_MS = 100;
/** How long start-up (TLS files, spool recovery) may take before the run gives up. */
const START_TIMEOUT_MS = 60_000;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ThreadData {
  settings: Omit<ExportSettings, 'url'> & { url: string };
  status: SharedArrayBuffer;
  startPort: MessagePort;
}

export type StartReply =
  | { ok: true; logs: [LogLevel, string][]; stats: ExportStats }
  | { ok: false; usage: boolean; message: string; logs: [LogLevel, string][] };

export type ToThread =
  /** Whole NDJSON lines in bytes[0, length), and the records dropped before them. */
  | { op: 'records'; bytes: ArrayBuffer; length: number; dropped: number }
  | { op: 'flush' }
  | { op: 'close' }
  | { op: 'drain'; secs: number }
  /** The packet thread's share of busy time (event-loop utilisation) since the last report. */
  | { op: 'load'; busy: number };

export type FromThread =
  | { op: 'log'; level: LogLevel; msg: string }
  /** `took`: bytes of record text taken so far. */
  | { op: 'stats'; stats: ExportStats; took: number }
  /** A chunk read, back for reuse. */
  | { op: 'spare'; bytes: ArrayBuffer }
  | { op: 'drained'; ok: boolean; stats: ExportStats };

class ExportThread implements ExportSink {
  private readonly worker: Worker;
  private readonly hold: WorkerHold;
  /** Record text (UTF-8) gathered this turn; chunks the thread has read come back as spares. */
  private chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK);
  private used = 0;
  private readonly spare: Buffer[] = [];
  private immediate = false;
  private timer: NodeJS.Timeout | null = null;
  /** Bytes posted, and taken by the thread (as last reported). */
  private posted = 0;
  private took = 0;
  private dropped = 0;
  private last: ExportStats;
  private draining: ((ok: boolean) => void) | null = null;
  private dead: string | null = null;
  private closed = false;
  private readonly loadTimer: NodeJS.Timeout;
  /** The thread answered the drain and ends. */
  private finished = false;

  constructor(
    file: URL,
    private readonly settings: ExportSettings,
    private readonly kinds: ReadonlySet<RecordKind>,
    private readonly log: Logger,
  ) {
    const status = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const data: ThreadData = { settings: { ...settings, url: settings.url.href }, status, startPort: port2 };
    this.worker = new Worker(file, { workerData: data, transferList: [port2] });
    // Start-up is synchronous for the caller, as in-process: a bad key file or an unusable state
    // directory is a usage error before the first packet.
    const flag = new Int32Array(status);
    const waited = Atomics.wait(flag, 0, 0, START_TIMEOUT_MS);
    const got = receiveMessageOnPort(port1)?.message as StartReply | undefined;
    port1.close();
    for (const [level, msg] of got?.logs ?? []) log[level](msg);
    if (got === undefined || !got.ok) {
      void this.worker.terminate();
      const why = got === undefined ? `the export thread did not start (${waited})` : got.message;
      if (got?.usage) throw new UsageError(why);
      throw new Error(why);
    }
    this.last = got.stats;
    this.worker.on('message', (m: FromThread) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(`export thread failed: ${e.message}`));
    this.worker.on('exit', (code) => this.fail(`export thread exited (${code})`));
    this.hold = new WorkerHold(this.worker);
    const load = new CaptureLoad();
    this.loadTimer = setInterval(() => this.send({ op: 'load', busy: load.sample() }), LOAD_EVERY_MS);
    this.loadTimer.unref();
  }

  private onMessage(m: FromThread): void {
    switch (m.op) {
      case 'log':
        this.log[m.level](m.msg);
        break;
      case 'spare':
        if (this.spare.length < 4) this.spare.push(Buffer.from(m.bytes));
        break;
      case 'stats':
        this.last = m.stats;
        this.took = m.took;
        break;
      case 'drained':
        this.finished = true;
        this.last = m.stats;
        this.draining?.(m.ok);
        this.draining = null;
        break;
    }
  }

  private fail(msg: string): void {
    if (this.dead !== null || this.finished) return;
    this.dead = msg;
    this.log.error(`export: ${msg}; what it had spooled stays in ${this.settings.stateDir}`);
    this.draining?.(false);
    this.draining = null;
  }

  write(kind: RecordKind, text: string): void {
    if (!this.kinds.has(kind) || this.closed || this.dead !== null) return;
    if (kind !== 'alert' && this.posted - this.took > MAX_IN_FLIGHT) {
      // The thread is not keeping up (starved of CPU): drop here rather than grow without bound.
      this.dropped += countLines(text);
      return;
    }
    // Encoded straight into a chunk that is handed over whole (transferred, not copied): cheaper on
    // this thread than gathering strings, joining them and cloning the text into a message.
    const need = text.length * 3;
    if (this.chunk.length - this.used < need) {
      this.post();
      if (this.chunk.length < need) this.chunk = Buffer.allocUnsafeSlow(need);
    }
    this.used += this.chunk.write(text, this.used);
    // Alerts go at the end of this turn; other records wait up to POST_EVERY_MS or a quarter chunk, so that
    // a busy packet thread posts a few times a second rather than once per turn (a post costs some µs).
    if (kind === 'alert' || this.used >= CHUNK >> 2) {
      if (!this.immediate) {
        this.immediate = true;
        setImmediate(() => this.post());
      }
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.post(), POST_EVERY_MS);
      this.timer.unref();
    }
  }

  private post(): void {
    this.immediate = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.used === 0 && this.dropped === 0) return;
    const bytes = this.chunk.buffer as ArrayBuffer;
    this.send({ op: 'records', bytes, length: this.used, dropped: this.dropped }, [bytes]);
    this.posted += this.used;
    this.chunk = this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
    this.used = 0;
    this.dropped = 0;
  }

  private send(m: ToThread, transfer?: ArrayBuffer[]): void {
    if (this.dead === null) this.worker.postMessage(m, transfer);
  }

  flush(): void {
    this.post();
    this.send({ op: 'flush' });
  }

  close(): void {
    if (this.closed) return;
    this.post();
    this.closed = true;
    clearInterval(this.loadTimer);
    this.send({ op: 'close' });
  }

  drain(secs: number): Promise<boolean> {
    this.close();
    if (this.dead !== null) return Promise.resolve(false);
    return this.hold.during(
      () =>
        new Promise<boolean>((resolve) => {
          this.draining = resolve;
          this.send({ op: 'drain', secs });
        }),
    );
  }

  stats(): ExportStats {
    return this.last;
  }

  summaryText(): string {
    return exportSummary(this.last);
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Which record kinds can carry a selected type (the thread picks the exact types line by line). */
function kindsFor(types: ReadonlySet<string>): Set<RecordKind> {
  return new Set([...types].map((t) => KIND_OF[t]).filter((k) => k !== undefined));
}

/** The exporter for --export (null without it): on its own thread when the compiled thread is there. */
export function startExportSink(settings: ExportSettings | null, log: Logger): ExportSink | null {
  if (settings === null) return null;
  const file = new URL('./export-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(file))) return startExport(settings, log);
  return new ExportThread(file, settings, kindsFor(settings.types), log);
}

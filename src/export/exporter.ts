// The exporter as the pipeline sees it: a RecordSink teed beside --json and
// -w. write() stamps each exported record with sensor and seq and queues it
// in the spool (memory only: no I/O on the packet path); timers write the
// queue out, and a Sender delivers from the spool. drain() at end of input
// waits for the acknowledgements.
import { join } from 'node:path';
import type { Logger } from '../output/log.js';
import type { RecordKind } from '../output/sink.js';
import type { ExportSink } from './export-thread.js';
import { UsageError } from '../cli/options.js';
import { SATURATED } from '../parallel/capture-load.js';
import { MqttTransport } from './mqtt-transport.js';
import type { ExportSettings } from './options.js';
import { recordType, stampLine } from './record-line.js';
import { Sender, type SenderCounters } from './sender.js';
import { Spool, type SpoolStats } from './spool.js';
import { SyslogTransport } from './syslog-transport.js';
import { ExportSetupError, loadTls, type TlsMaterial } from './tls-files.js';
import type { Transport } from './transport.js';

/** Queued records reach the disk (written and fsynced) this often; state.json every 10th time. */
const FLUSH_MS = 100;
const STATE_EVERY = 10;
/** Bulk bytes queued that trigger a write before the second is up. */
const BULK_EARLY = 8 << 20;
/** Records/s sent while capture is saturated (alerts keep moving). */
const YIELD_RATE = 1000;
/** ... unless the spool holds more than this share of its limit, */
const YIELD_SPOOL_SHARE = 0.5;
/** ... or its oldest record has waited this long (an alert behind flows must not wait for minutes). */
const YIELD_MAX_WAIT_MS = 10_000;
/** Spool-time marks kept (one per 100 ms tick). */
const MAX_MARKS = 4096;
/** At most one spool_overflow alert per this while connected. */
const ANNOUNCE_EVERY_MS = 60_000;

export interface ExportStats extends SenderCounters, SpoolStats {
  target: string;
  sensor: string;
  seq: number;
  acked_seq: number;
  exported: number;
  backlog: number;
}

export class Exporter implements ExportSink {
  private readonly sensorJson: string;
  private readonly timer: NodeJS.Timeout;
  private ticks = 0;
  private early = false;
  private closed = false;
  private flushing: Promise<unknown> = Promise.resolve();
  private lastAnnounce = 0;
  private yielding = false;
  /** (seq, ms) pairs: by that time every record up to seq was spooled. */
  private readonly spooledAt: number[] = [];
  exported = 0;

  constructor(
    readonly settings: ExportSettings,
    readonly spool: Spool,
    readonly sender: Sender,
    private readonly log: Logger,
  ) {
    this.sensorJson = JSON.stringify(settings.sensor);
    spool.onError = (m) => log.error(`export: ${m}`);
    sender.onConnect = () => this.announceDrops(true);
    this.timer = setInterval(() => this.tick(), FLUSH_MS);
    this.timer.unref();
  }

  /** `text` is one or more whole NDJSON lines of one kind. */
  write(_kind: RecordKind, text: string): void {
    if (this.closed) return;
    const types = this.settings.types;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      const type = recordType(text, from);
      if (type !== null && types.has(type)) this.add(text, from, nl + 1, type);
      from = nl + 1;
    }
  }

  private add(text: string, from: number, end: number, type: string): void {
    const seq = this.spool.takeSeq();
    this.spool.append(stampLine(text, from, end, this.sensorJson, seq), seq, type === 'alert' || type === 'alert_summary');
    this.exported++;
    if (this.spool.queuedBytes() > BULK_EARLY && !this.early) {
      this.early = true;
      setImmediate(() => {
        this.early = false;
        void this.toDisk();
      });
    }
  }

  private tick(): void {
    void this.toDisk();
    this.markSpooled();
    if (this.sender.state === 'connected') this.announceDrops(false);
    if (++this.ticks % STATE_EVERY === 0) void this.spool.saveState();
  }

  /** RecordSink.flush (a second signal): what is queued goes to the spool now. */
  flush(): void {
    void this.toDisk();
  }

  private toDisk(): Promise<unknown> {
    const p = this.spool.flushAll();
    this.flushing = p.then(() => this.sender.poke());
    return this.flushing;
  }

  /** One spool_overflow alert for the drops not yet announced. */
  private announceDrops(onConnect: boolean): void {
    const u = this.spool.unannounced;
    if (u.records === 0) return;
    const now = Date.now();
    if (!onConnect && now - this.lastAnnounce < ANNOUNCE_EVERY_MS) return;
    this.lastAnnounce = now;
    const rec = {
      type: 'alert',
      ts: Math.round(now * 1000) / 1e6,
      kind: 'spool_overflow',
      severity: 'high',
      dropped: u.records,
      dropped_alerts: u.alerts,
      spool_mb: Math.round(this.settings.spoolBytes / 1048576),
      detail:
        `the export spool in ${this.settings.stateDir} was full: ${u.records} records (${u.alerts} alerts) were ` +
        `dropped before they could be sent`,
    };
    this.log.warn(`export: ${rec.detail}`);
    u.records = 0;
    u.alerts = 0;
    const seq = this.spool.takeSeq();
    const line = `${JSON.stringify(rec)}\n`;
    this.spool.append(stampLine(line, 0, line.length, this.sensorJson, seq), seq, true);
    void this.toDisk();
  }

  /** End of the records: queue what is left for the disk (the sender goes on). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // No more capture to yield to.
    this.yielding = false;
    this.sender.setRate(this.settings.rate);
    void this.toDisk();
  }

  /** Waits up to `secs` for every spooled record to be acknowledged, then
   *  stops. True when nothing is left in the spool. */
  async drain(secs: number): Promise<boolean> {
    this.close();
    await this.flushing;
    await this.spool.flushAll();
    if (this.sender.state === 'connected') this.announceDrops(true);
    await this.spool.flushAll();
    this.sender.poke();
    const deadline = Date.now() + secs * 1000;
    while (!this.spool.isEmpty() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
      this.sender.poke();
    }
    const empty = this.spool.isEmpty();
    clearInterval(this.timer);
    await this.sender.stop();
    await this.spool.close();
    if (!empty) {
      this.log.error(
        `export: ${this.spool.backlog} records not acknowledged by ${this.settings.url.host} within ${secs} s; ` +
          `they stay spooled in ${this.spool.dir} (sent at the next run, or with 'otwatch export flush')`,
      );
    }
    return empty;
  }

  stats(): ExportStats {
    return {
      target: `${this.settings.url.protocol}//${this.settings.url.host}`,
      sensor: this.settings.sensor,
      ...this.sender.counters,
      seq: this.spool.seq,
      acked_seq: this.spool.ackedSeq,
      exported: this.exported,
      backlog: this.spool.backlog,
      ...this.spool.stats(),
    };
  }

  summaryText(): string {
    return exportSummary(this.stats());
  }

  /** Notes when the records up to the newest seq were spooled, for oldestWaitingMs. */
  private markSpooled(): void {
    const seq = this.spool.seq;
    const m = this.spooledAt;
    if (m.length > 0 && m[m.length - 2] === seq) return;
    if (m.length >= 2 * MAX_MARKS) m.splice(0, 2);
    m.push(seq, Date.now());
  }

  /** How long the oldest record not yet acknowledged has waited (to a tick). */
  private oldestWaitingMs(): number {
    const m = this.spooledAt;
    const acked = this.spool.ackedSeq;
    let i = 0;
    while (i < m.length && m[i] <= acked) i += 2;
    if (i > 0) m.splice(0, i);
    return m.length === 0 ? 0 : Date.now() - m[1];
  }

  /** The packet thread's load (0-1). While it is saturated and the spool has room, sending slows to
   *  YIELD_RATE: on a sensor with few cores the broker connection, and a broker on the same host, would
   *  otherwise take CPU from capture; the spool holds the rest and it goes when capture lets up. */
  captureLoad(busy: number): void {
    const room = this.spool.diskBytes() + this.spool.queuedBytes() < this.settings.spoolBytes * YIELD_SPOOL_SHARE;
    const yieldNow = busy >= SATURATED && room && this.oldestWaitingMs() < YIELD_MAX_WAIT_MS;
    if (yieldNow === this.yielding || this.closed) return;
    this.yielding = yieldNow;
    const configured = this.settings.rate;
    this.sender.setRate(yieldNow ? (configured > 0 ? Math.min(configured, YIELD_RATE) : YIELD_RATE) : configured);
    this.log.debug(
      `export: capture load ${busy.toFixed(2)}: ${yieldNow ? `sending at most ${YIELD_RATE}/s` : 'sending at the configured rate'}`,
    );
  }
}

/** One line for the human summary. */
export function exportSummary(s: ExportStats): string {
  const n = (v: number) => v.toLocaleString('en');
  return (
    `export to ${s.target} as ${s.sensor}: ${n(s.exported)} records spooled, ${n(s.acked)} acknowledged, ` +
    `${n(s.dropped)} dropped (${n(s.dropped_alerts)} alerts), ${n(s.backlog)} still spooled; last seq ${s.seq}\n`
  );
}

/** Builds the exporter for --export (null without it): reads the TLS files,
 *  opens the spool in the state directory and starts connecting. */
export function startExport(settings: ExportSettings | null, log: Logger): Exporter | null {
  if (settings === null) return null;
  let tls: TlsMaterial;
  try {
    tls = loadTls(settings.tls, log);
  } catch (e) {
    if (e instanceof ExportSetupError) throw new UsageError(e.message);
    throw e;
  }
  let spool: Spool;
  const dir = join(settings.stateDir, 'spool');
  try {
    spool = Spool.open(dir, settings.spoolBytes);
  } catch (e) {
    throw new UsageError(
      `cannot open the export spool in ${dir}: ` + `${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --state DIR)`,
    );
  }
  const u = settings.url;
  let transport: Transport;
  if (settings.transport === 'syslog') transport = new SyslogTransport(u, tls, settings.sensor);
  else {
    transport = new MqttTransport(
      { url: u, secure: settings.secure, tls, clientId: `otwatch-${settings.sensor}` },
      `otwatch/${settings.sensor}/`,
    );
  }
  const sender = new Sender(spool, transport, {
    name: `${u.protocol}//${u.host}`,
    rate: settings.rate,
    format: settings.transport === 'syslog' ? 'json' : settings.format,
    insecure: !settings.secure,
    log,
  });
  const ex = new Exporter(settings, spool, sender, log);
  sender.start();
  return ex;
}

// `otwatch live`: the shared pipeline on live interfaces, for a sensor that
// runs for months. Life cycle: open every interface (as root) → drop to
// --user → open the outputs → decode. SIGINT/SIGTERM: stop the captures,
// decode what they still hold, end every open flow ("shutdown"), final stats
// record, exit 0. SIGHUP: reopen output files (logrotate). SIGUSR1: a stats
// record now. Receive only: nothing here opens a network socket.
import { EXIT_FAILED, endRun, finishFlows, outputFault, startPipeline, type Pipeline } from '../run.js';
import { Captures } from './captures.js';
import { LiveOutputs } from './outputs.js';
import { dropPrivileges } from './privileges.js';
import type { LiveSettings } from './settings.js';
import { ifaceLines, statsRecord, type StatsContext } from './stats-record.js';

/** Housekeeping period: flush outputs, expire flows of a quiet link. */
const TICK_MS = 1000;
/** Capture timestamps may trail the wall clock by a kernel block timeout. */
const SWEEP_LAG_S = 2;
/** Link state is read every this many ticks. */
const LINK_EVERY_TICKS = 5;

export class LiveRun {
  private readonly p: Pipeline;
  private readonly outputs = new LiveOutputs();
  private readonly captures: Captures;
  private readonly stats: StatsContext;
  private readonly startedMs = Date.now();
  private exitCode = 0;
  private timers: NodeJS.Timeout[] = [];
  private statsBusy = false;

  constructor(private readonly s: LiveSettings) {
    this.p = startPipeline(s.pipeline, this.outputs);
    this.captures = new Captures(s, this.p.engine.onPacket, this.p.log, () => this.fail());
    this.stats = {
      engine: this.p.engine,
      ifaces: this.captures.ifaces,
      capture: s.capture,
      startedMs: this.startedMs,
      log: this.p.log,
      unwritten: () => this.outputs.unwritten,
      exportStats: () => this.p.exporter?.stats() ?? null,
    };
  }

  async run(): Promise<number> {
    process.on('SIGHUP', this.onHup);
    process.on('SIGUSR1', this.onUsr1);
    await this.captures.openAll();
    if (!this.p.stop.stopping) this.dropRoot();
    if (!this.p.stop.stopping) this.openOutputs();
    if (!this.p.stop.stopping) {
      this.captures.resumeAll();
      this.startTimers();
      await this.p.stop.stopped;
    }
    return this.shutdown();
  }

  private fail(): void {
    this.exitCode = EXIT_FAILED;
    this.p.stop.request();
  }

  private dropRoot(): void {
    if (this.s.user === null) return;
    try {
      dropPrivileges(this.s.user);
      this.p.log.info(`running as ${this.s.user} (uid ${process.getuid?.()}, gid ${process.getgid?.()})`);
    } catch (e) {
      this.p.log.error(`cannot drop privileges to ${this.s.user}: ${(e as Error).message}`);
      this.fail();
    }
  }

  private openOutputs(): void {
    try {
      this.outputs.open(this.s, this.p.log);
    } catch (e) {
      this.p.log.error((e as Error).message);
      this.fail();
    }
  }

  private startTimers(): void {
    let lastPackets = -1;
    let ticks = 0;
    const { engine } = this.p;
    this.timers.push(
      setInterval(() => {
        this.outputs.flush();
        if (outputFault(this.p) !== null) this.p.stop.request(); // stdout is gone: endRun reports it
        // On a quiet link no packet moves the engine's clock: expire idle flows by
        // the wall clock. Not with --batch: packets may still sit in tcpdump.
        if (!this.s.batch && engine.stats.packets === lastPackets) engine.table.sweep(Date.now() / 1000 - SWEEP_LAG_S);
        lastPackets = engine.stats.packets;
        if (ticks++ % LINK_EVERY_TICKS === 0) this.captures.watchLinks();
      }, TICK_MS),
    );
    if (this.s.statsEveryS > 0) this.timers.push(setInterval(() => void this.periodicStats(), this.s.statsEveryS * 1000));
  }

  /** One periodic record at a time: a stalled capture child must not pile them up. */
  private async periodicStats(): Promise<void> {
    if (this.statsBusy || this.p.stop.stopping) return;
    this.statsBusy = true;
    try {
      const line = await statsRecord(this.stats, false);
      if (!this.p.stop.stopping) this.p.sink.write('stats', line); // else the final record follows (exported too)
    } finally {
      this.statsBusy = false;
    }
  }

  private readonly onHup = (): void => this.outputs.reopen(this.p.log);
  private readonly onUsr1 = (): void => {
    if (this.captures.running) void this.periodicStats();
  };

  private async shutdown(): Promise<number> {
    for (const t of this.timers) clearInterval(t);
    await this.captures.stopAll();
    finishFlows(this.p, 'shutdown');
    this.p.sink.write('stats', await statsRecord(this.stats, true));
    process.off('SIGHUP', this.onHup);
    process.off('SIGUSR1', this.onUsr1);
    const lost = this.outputs.unwritten;
    let extra = ifaceLines(this.captures.ifaces, this.s.capture);
    if (lost > 0) {
      this.p.log.error(`${lost} records could not be written (output files failed; see the warnings above)`);
      extra += `  records not written (output full or failing): ${lost.toLocaleString('en')}\n`;
    }
    return endRun(this.p, {
      inputs: this.captures.ifaces.length,
      damaged: 0,
      secs: (Date.now() - this.startedMs) / 1000,
      extra,
      code: this.exitCode,
      // A sensor that stops should not hang on an unreachable broker: what is
      // not acknowledged stays spooled for the next start.
      exportWait: Math.min(2, this.p.settings.export?.waitSecs ?? 0),
    });
  }
}

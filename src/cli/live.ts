// `otwatch live -i IFACE [options] [BPF filter]`: the same pipeline as `read`
// on live interfaces, for a sensor appliance that runs for months.
//
// Receive only, no listening socket of any kind: capture goes through a
// tcpdump child writing pcap to a pipe (default) or the in-process `cap`
// binding with its send path removed (src/capture/live-cap.ts). Nothing here
// opens a network socket; outputs are stdout and files.
//
// Life cycle: open every interface (as root) → drop to --user → open the
// outputs → decode. SIGINT/SIGTERM: stop the captures, decode what they still
// hold, end every open flow ("shutdown"), final stats record, exit 0. SIGHUP:
// reopen output files (logrotate). SIGUSR1: a stats record now. An interface
// that is missing, fails or disappears is reported and, with --retry, opened
// again with backoff; flow state lives on meanwhile.
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { CapSource } from '../capture/live-cap.js';
import { addStats, LiveError, NO_STATS, type KernelStats, type LiveOptions, type LiveSource } from '../capture/live-source.js';
import { TcpdumpSource } from '../capture/live-tcpdump.js';
import { FdWriter } from '../output/fd-writer.js';
import type { Logger } from '../output/log.js';
import { createLogger } from '../output/log.js';
import { RotatingSink } from '../output/rotating-sink.js';
import { NullSink, StreamSink, TeeSink, type RecordKind, type RecordSink } from '../output/sink.js';
import { renderSummary } from '../output/summary-text.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { buildPipeline, PIPELINE_OPTIONS } from './pipeline.js';

export const LIVE_OPTIONS: readonly OptSpec[] = [
  ...PIPELINE_OPTIONS,
  { name: 'interface', short: 'i', kind: 'list', arg: 'IFACE', help: 'capture on IFACE; repeat (or a,b) for several' },
  { name: 'capture', kind: 'string', arg: 'PATH', choices: ['tcpdump', 'cap'], default: 'tcpdump', help: 'tcpdump: a receive-only tcpdump child, kernel timestamps (fastest, see docs); cap: in-process libpcap binding, no timestamps or drop counters' },
  { name: 'tcpdump', kind: 'string', arg: 'FILE', default: 'tcpdump', help: 'the tcpdump program for --capture tcpdump' },
  { name: 'buffer-mb', short: 'B', kind: 'number', arg: 'MB', default: 64, help: 'kernel capture buffer per interface' },
  { name: 'snaplen', short: 's', kind: 'number', arg: 'BYTES', default: 262144, help: 'bytes kept per packet (cap: always 65535)' },
  { name: 'no-promisc', short: 'p', kind: 'flag', help: 'leave the interface out of promiscuous mode (a SPAN port needs it)' },
  { name: 'immediate', kind: 'flag', help: 'libpcap immediate mode: each packet as it comes, not in kernel blocks (lower latency, more CPU)' },
  { name: 'batch', kind: 'flag', help: 'tcpdump writes 4 KiB blocks, not every packet: ~5x less capture CPU for busy links, but a packet may wait until 4 KiB follow it, so flows end by packet time only' },
  { name: 'user', short: 'u', kind: 'string', arg: 'NAME', help: 'once the interfaces are open, drop root for NAME and its groups' },
  { name: 'retry', kind: 'flag', help: 'an interface that is missing, fails or disappears is opened again with backoff instead of ending the run' },
  { name: 'retry-max', kind: 'seconds', arg: 'DUR', default: 60, help: 'longest wait between two retries' },
  { name: 'stats-interval', kind: 'seconds', arg: 'DUR', default: 60, help: 'a "stats" record (kernel counters) every DUR; 0: only at exit' },
  { name: 'rotate-size', kind: 'number', arg: 'MB', default: 0, help: 'with -w: new files once one reaches MB (0: never)' },
  { name: 'rotate-time', kind: 'seconds', arg: 'DUR', default: 0, help: 'with -w: new files every DUR, aligned (1h: on the hour; 0: never)' },
  { name: 'quiet', short: 'q', kind: 'flag', help: 'no summary at exit' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

/** Linux interface names: at most 15 bytes, no slash or space. */
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;
/** Housekeeping period: flush outputs, expire flows of a quiet link. */
const TICK_MS = 1000;
/** Capture timestamps may trail the wall clock by a kernel block timeout. */
const SWEEP_LAG_S = 2;
/** A capture that ran this long resets the retry backoff. */
const STABLE_S = 30;

/** One interface across restarts of its capture. */
class Iface {
  src: LiveSource | null = null;
  /** Counters of the captures that ended before the current one. */
  base: KernelStats = { ...NO_STATS };
  decodedBase = 0;
  restarts = 0;
  delay = 1;
  timer: NodeJS.Timeout | null = null;
  openedAt = 0;
  lastDrops = 0;
  operstate: string | null = null;
  failed: LiveError | null = null;
  constructor(readonly name: string) {}
}

export async function runLive({ opts, rest }: Parsed): Promise<number> {
  const names = [...new Set((opts.interface as string[] | undefined) ?? [])];
  if (names.length === 0) throw new UsageError('no interface: give -i IFACE');
  for (const n of names) if (!IFNAME.test(n)) throw new UsageError(`bad interface name '${n}'`);
  const user = typeof opts.user === 'string' ? opts.user : null;
  if (user !== null && process.getuid?.() !== 0) throw new UsageError('--user needs otwatch to start as root');
  const path = opts.capture as 'tcpdump' | 'cap';
  const snaplen = Math.floor(opts.snaplen as number);
  if (snaplen < 64 || snaplen > 262144) throw new UsageError('--snaplen must be between 64 and 262144');
  const bufferBytes = Math.floor((opts['buffer-mb'] as number) * 1024 * 1024);
  if (bufferBytes < 65536) throw new UsageError('--buffer-mb must be at least 0.0625');
  const retryMax = Math.max(1, opts['retry-max'] as number);
  const statsEvery = opts['stats-interval'] as number;
  const batch = opts.batch === true;
  if (batch && path === 'cap') throw new UsageError('--batch is for --capture tcpdump');
  const filter = rest.join(' ');
  const log = createLogger(opts['log-level'] as string, opts['log-format'] as 'text' | 'json');

  // Live owns its outputs (opened after the privilege drop, rotated,
  // reopened on SIGHUP, flushed every second): the pipeline writes to a
  // forwarder whose target is set once they are open.
  let sink: RecordSink = new NullSink();
  const forward: RecordSink = {
    write: (kind: RecordKind, line: string) => sink.write(kind, line),
    close: () => sink.close(),
  };
  const { engine, inventory } = buildPipeline(opts, log, forward);

  const liveOpts = (iface: string): LiveOptions => ({
    iface,
    filter,
    bufferBytes,
    snaplen,
    promisc: opts['no-promisc'] !== true,
    immediate: opts.immediate === true,
    batch,
    user,
  });
  const makeSource = (iface: string): LiveSource =>
    path === 'cap' ? new CapSource(liveOpts(iface), engine.onPacket) : new TcpdumpSource(liveOpts(iface), engine.onPacket, opts.tcpdump as string);

  const ifaces = names.map((n) => new Iface(n));
  const started = Date.now();
  let stopping = false;
  let exitCode = 0;
  let outputsReady = false;
  let stdout: FdWriter | null = null;
  let files: RotatingSink | null = null;
  let wake: (() => void) | null = null;
  const done = new Promise<void>((r) => (wake = r));
  const requestStop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const f of ifaces) if (f.timer !== null) clearTimeout(f.timer);
    wake?.();
  };

  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      log.warn(`${sig} again: leaving without flushing`);
      process.exit(130);
    }
    log.info(`${sig}: stopping; flushing open flows`);
    requestStop(0);
  };
  const onHup = () => {
    if (files !== null) {
      files.reopen();
      log.info('SIGHUP: output files reopened');
    }
  };
  const onUsr1 = () => {
    if (outputsReady) void periodicStats();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHup);
  process.on('SIGUSR1', onUsr1);

  /** One periodic record at a time: a stalled capture child must not pile them up. */
  let statsBusy = false;
  async function periodicStats(): Promise<void> {
    if (statsBusy || stopping) return;
    statsBusy = true;
    try {
      await writeStats(false);
    } finally {
      statsBusy = false;
    }
  }

  async function writeStats(final: boolean): Promise<void> {
    const per = await Promise.all(
      ifaces.map(async (f) => {
        const cur = f.src !== null ? await f.src.stats() : NO_STATS;
        return { f, s: addStats(f.base, cur), decoded: f.decodedBase + (f.src?.delivered ?? 0) };
      }),
    );
    const now = Date.now() / 1000;
    const list = per.map(({ f, s, decoded }) => {
      const drops = s.droppedKernel ?? 0;
      if (drops > f.lastDrops) {
        log.warn(`${f.name}: the kernel dropped ${drops - f.lastDrops} packets since the last report (${drops} in all): the sensor is not keeping up`);
        f.lastDrops = drops;
      }
      return {
        name: f.name,
        state: f.src !== null ? 'capturing' : f.timer !== null ? 'retrying' : final ? 'stopped' : 'failed',
        link: f.operstate,
        received: s.received,
        dropped_kernel: s.droppedKernel,
        dropped_iface: s.droppedIface,
        captured: s.captured,
        decoded,
        restarts: f.restarts,
        error: f.failed?.reason ?? null,
      };
    });
    const st = engine.stats;
    const rec = {
      type: 'stats',
      ts: Math.round(now * 1e6) / 1e6,
      final,
      uptime: Math.round(now - started / 1000),
      capture: path,
      interfaces: list,
      packets: st.packets,
      bytes: st.bytes,
      flows_open: engine.table.size,
      flows: st.flows,
      evicted: engine.table.evicted,
      pdus: st.pdus,
      malformed: st.malformed,
      truncated: st.truncated,
    };
    if (!final && stopping) return; // the final record follows
    sink.write('stats', `${JSON.stringify(rec)}\n`);
  }

  // --- capture ---------------------------------------------------------
  const open = async (f: Iface): Promise<void> => {
    f.timer = null;
    if (stopping) return;
    const src = makeSource(f.name);
    src.onNotice = (m) => log.warn(`${f.name}: ${m}`);
    try {
      await src.open();
    } catch (e) {
      const err = e instanceof LiveError ? e : new LiveError(f.name, (e as Error).message);
      await src.stop().catch(() => NO_STATS);
      failed(f, err, 'cannot capture');
      return;
    }
    if (stopping) {
      f.base = addStats(f.base, await src.stop());
      f.decodedBase += src.delivered;
      return;
    }
    f.src = src;
    f.failed = null;
    f.openedAt = Date.now();
    src.onEnd = (err) => {
      if (f.src !== src) return;
      f.src = null;
      void src.stop().then((s) => {
        f.base = addStats(f.base, s);
        f.decodedBase += src.delivered;
      });
      if ((Date.now() - f.openedAt) / 1000 >= STABLE_S) f.delay = 1;
      failed(f, err, 'capture stopped');
    };
    if (outputsReady) {
      f.restarts++;
      src.resume();
      log.info(`${f.name}: capturing again`);
    }
  };

  const failed = (f: Iface, err: LiveError, what: string) => {
    f.failed = err;
    if (stopping) return;
    const hint = user !== null && process.getuid?.() !== 0 && /permission|not permitted/i.test(err.reason) ? ' (otwatch no longer runs as root; see docs on --user and capabilities)' : '';
    if (opts.retry === true && !err.permanent) {
      log.error(`${f.name}: ${what}: ${err.reason}${hint}; retrying in ${f.delay} s`);
      f.timer = setTimeout(() => void open(f), f.delay * 1000);
      f.delay = Math.min(f.delay * 2, retryMax);
      return;
    }
    log.error(`${f.name}: ${what}: ${err.reason}${hint}`);
    if (ifaces.every((g) => g.src === null && g.timer === null)) requestStop(1);
  };

  await Promise.all(ifaces.map(open));

  // --- privileges and outputs ------------------------------------------
  if (user !== null && !stopping) {
    try {
      dropPrivileges(user);
      log.info(`running as ${user} (uid ${process.getuid?.()}, gid ${process.getgid?.()})`);
    } catch (e) {
      log.error(`cannot drop privileges to ${user}: ${(e as Error).message}`);
      requestStop(1);
    }
  }
  if (!stopping) {
    try {
      const r = openOutputs(opts, log);
      sink = r.sink;
      stdout = r.stdout;
      files = r.files;
    } catch (e) {
      log.error((e as Error).message);
      requestStop(1);
    }
  }
  outputsReady = true;

  // --- run ---------------------------------------------------------------
  let tick: NodeJS.Timeout | null = null;
  let statsTimer: NodeJS.Timeout | null = null;
  if (!stopping) {
    for (const f of ifaces) {
      if (f.src !== null) {
        f.src.resume();
        log.info(`${f.name}: capturing via ${f.src.path}, timestamps from the ${f.src.timestampSource}${filter ? `, filter '${filter}'` : ''}`);
      }
    }
    let lastPackets = -1;
    let ticks = 0;
    tick = setInterval(() => {
      stdout?.flush();
      files?.flush();
      // On a quiet link no packet moves the engine's clock: expire idle flows by
      // the wall clock. Not with --batch: packets may still sit in tcpdump.
      if (!batch && engine.stats.packets === lastPackets) engine.table.sweep(Date.now() / 1000 - SWEEP_LAG_S);
      lastPackets = engine.stats.packets;
      if (ticks++ % 5 === 0) for (const f of ifaces) watchLink(f, log);
    }, TICK_MS);
    if (statsEvery > 0) statsTimer = setInterval(() => void periodicStats(), statsEvery * 1000);
    await done;
  }

  // --- shutdown ----------------------------------------------------------
  if (tick !== null) clearInterval(tick);
  if (statsTimer !== null) clearInterval(statsTimer);
  await Promise.all(
    ifaces.map(async (f) => {
      if (f.timer !== null) clearTimeout(f.timer);
      const src = f.src;
      if (src === null) return;
      f.src = null;
      f.base = addStats(f.base, await src.stop());
      f.decodedBase += src.delivered;
    }),
  );
  if (engine.firstInternalError !== null) {
    log.error(`internal error in application-layer decoding (${engine.stats.internalErrors} flows affected, their decoding stopped): ${engine.firstInternalError.stack ?? engine.firstInternalError.message}`);
  }
  engine.finish('shutdown');
  await writeStats(true);
  sink.close();
  inventory?.close(); // a write failure is logged
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onHup);
  process.off('SIGUSR1', onUsr1);
  if (files !== null && files.dropped > 0) log.error(`${files.dropped} records could not be written`);
  if (!opts.quiet) {
    const secs = (Date.now() - started) / 1000;
    let text = renderSummary(engine, secs, ifaces.length, 0);
    for (const f of ifaces) {
      const s = f.base;
      const n = (v: number | null) => (v === null ? 'n/a' : v.toLocaleString('en'));
      text += `  ${f.name} (${path}): received ${n(s.received)}, dropped by kernel ${n(s.droppedKernel)}, by interface ${n(s.droppedIface)}, decoded ${f.decodedBase.toLocaleString('en')}${f.restarts > 0 ? `, restarted ${f.restarts}×` : ''}\n`;
    }
    if (opts.json) process.stderr.write(text);
    else new FdWriter(1, false).writeBytes(Buffer.from(text));
  }
  return exitCode;
}

/** stdout (--json) and/or files (-w DIR); created after the privilege drop,
 *  so files belong to --user and later rotations can create theirs. */
function openOutputs(opts: Parsed['opts'], log: Logger): { sink: RecordSink; stdout: FdWriter | null; files: RotatingSink | null } {
  const sinks: RecordSink[] = [];
  let stdout: FdWriter | null = null;
  let files: RotatingSink | null = null;
  if (opts.json) {
    stdout = new FdWriter(1, false);
    sinks.push(new StreamSink(stdout));
  }
  if (typeof opts.write === 'string') {
    const dir = opts.write;
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new Error(`cannot write to output directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    files = new RotatingSink({
      dir,
      format: opts.format as 'ndjson' | 'msgpack',
      maxBytes: Math.floor((opts['rotate-size'] as number) * 1024 * 1024),
      maxSeconds: opts['rotate-time'] as number,
      onError: (m) => log.error(m),
    });
    sinks.push(files);
  }
  if (sinks.length === 0) log.warn('no output selected (--json or -w DIR): only the summary will be written');
  const sink = sinks.length === 0 ? new NullSink() : sinks.length === 1 ? sinks[0] : new TeeSink(sinks);
  return { sink, stdout, files };
}

/** setgid/setuid to `user` (groups first: after setuid they cannot change),
 *  then proof that root cannot come back. */
export function dropPrivileges(user: string): void {
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  let uid: number;
  let gid: number;
  try {
    uid = id('-u');
    gid = id('-g');
  } catch {
    throw new Error(`no such user '${user}'`);
  }
  if (uid === 0) throw new Error(`'${user}' is root`);
  // The user's own supplementary groups (initgroups is in Node, not in @types/node 20).
  const initgroups = (process as unknown as { initgroups?: (u: string, g: number) => void }).initgroups;
  if (initgroups !== undefined) initgroups(user, gid);
  else process.setgroups!([gid]);
  process.setgid!(gid);
  process.setuid!(uid);
  if (process.getuid!() !== uid || process.geteuid!() !== uid || process.getgid!() !== gid || process.getegid!() !== gid) {
    throw new Error('setuid/setgid did not take effect');
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // expected
  }
  if (regained) throw new Error('root could be regained after setuid');
}

/** Logs an interface going down or coming back (from /sys: no socket). */
function watchLink(f: Iface, log: Logger): void {
  let state: string;
  try {
    state = readFileSync(`/sys/class/net/${f.name}/operstate`, 'utf8').trim();
  } catch {
    state = 'missing';
  }
  const prev = f.operstate;
  f.operstate = state;
  if (prev === null || prev === state) return;
  const down = (s: string) => s === 'down' || s === 'lowerlayerdown' || s === 'notpresent' || s === 'missing';
  if (down(state) && !down(prev)) log.warn(`${f.name}: link is ${state}: no packets until it comes back`);
  else if (!down(state) && down(prev)) log.info(`${f.name}: link is ${state} again`);
}

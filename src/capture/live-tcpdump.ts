// The default capture path: a tcpdump child that opens the device and writes
// pcap to a pipe (`-U -w -`), parsed here by the same CaptureParser as files.
// -U flushes every packet, so a packet reaches the engine within the kernel's
// block timeout (1 s) however quiet the link; --batch drops -U for about 5×
// less capture CPU (docs/live.md has the measurements).
//
// Receive only: tcpdump is run with -w (no printing, no name lookups, -n to be
// sure); it has no option that transmits. Capture timestamps are the kernel's
// (TPACKET, nanosecond precision requested), so live records carry the same
// times a pcap written on this host would. tcpdump keeps the kernel buffer
// (-B) drained in its own process, so a slow moment in JavaScript costs buffer
// space rather than packets; its counters come from SIGUSR1 (one line on
// stderr) and from its exit report.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { CaptureParser } from './capture-parser.js';
import { CaptureError, MAX_CAPLEN, type PacketHandler } from './raw-packet.js';
import { LiveError, NO_STATS, type KernelStats, type LiveOptions, type LiveSource } from './live-source.js';

/** How long tcpdump may take to print its counters after SIGUSR1. */
const STATS_TIMEOUT_MS = 2000;
/** After SIGTERM, how long before SIGKILL. */
const STOP_TIMEOUT_MS = 4000;
/** How long tcpdump may take to open the device. */
const OPEN_TIMEOUT_MS = 15000;
/** stderr lines kept for an error message. */
const MAX_ERR_LINES = 4;
/** Bound on one stderr line we keep (a misbehaving child cannot grow memory). */
const MAX_LINE = 4096;

/** Children still running, killed if this process exits without stop(). */
const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();
let exitHookSet = false;
function killAllOnExit(): void {
  if (exitHookSet) return;
  exitHookSet = true;
  process.on('exit', () => {
    for (const c of running) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** The tcpdump command line for these options. The filter is one argv entry
 *  (no shell), after `--` so it can never be read as an option. */
export function tcpdumpArgs(o: LiveOptions): string[] {
  const a = [
    '-i',
    o.iface,
    '-w',
    '-',
    ...(o.batch ? [] : ['-U']),
    '-n',
    '-s',
    String(o.snaplen),
    '-B',
    String(Math.max(1, Math.ceil(o.bufferBytes / 1024))),
    '--time-stamp-precision=nano',
  ];
  if (o.immediate) a.push('--immediate-mode');
  if (!o.promisc) a.push('-p');
  if (o.user !== null) a.push('-Z', o.user);
  if (o.filter !== '') a.push('--', o.filter);
  return a;
}

const N = (s: string | undefined) => (s === undefined ? null : Number(s));
/** The SIGUSR1 report: "tcpdump: 5 packets captured, 6 packets received by
 *  filter, 0 packets dropped by kernel[, 2 packets dropped by interface]". */
const INFO_LINE =
  /(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel(?:, (\d+) packets? dropped by interface)?/;
/** The exit report: the same counts, one per line. */
const EXIT_LINE = /^(\d+) packets? (captured|received by filter|dropped by kernel|dropped by interface)$/;

/** Parses tcpdump's one-line SIGUSR1 report; null if `line` is not one. */
export function parseInfoLine(line: string): KernelStats | null {
  const m = INFO_LINE.exec(line);
  if (m === null) return null;
  return { captured: N(m[1]), received: N(m[2]), droppedKernel: N(m[3]), droppedIface: N(m[4]) ?? 0 };
}

/** tcpdump's counters are 32-bit and wrap on a busy link within hours: the
 *  running total `prev` advanced to the 32-bit reading `cur`. */
export function unwrap32(prev: number | null, cur: number | null): number | null {
  if (cur === null) return prev;
  if (prev === null) return cur;
  const lo = prev % 4294967296;
  const hi = prev - lo;
  return cur >= lo ? hi + cur : hi + 4294967296 + cur;
}

export class TcpdumpSource implements LiveSource {
  readonly path = 'tcpdump';
  readonly timestampSource = 'kernel (tcpdump/libpcap, ns)';
  onEnd: ((err: LiveError) => void) | null = null;
  /** tcpdump's warnings ("tcpdump: WARNING: ..."); its errors end the
   *  capture and are in the LiveError. */
  onNotice: ((msg: string) => void) | null = null;

  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  private readonly parser: CaptureParser;
  private buf: Buffer = Buffer.alloc(0);
  private have = 0;
  private base = 0;
  private resumed = false;
  private ready = false;
  private stopping = false;
  private closed = false;
  private failed: LiveError | null = null;
  private errLines: string[] = [];
  private stderrRest = '';
  private current: KernelStats = { ...NO_STATS };
  private exitReport: KernelStats = { ...NO_STATS };
  private waiters: ((s: KernelStats) => void)[] = [];
  private closeWaiters: (() => void)[] = [];

  constructor(
    readonly opts: LiveOptions,
    onPacket: PacketHandler,
    private readonly binary = 'tcpdump',
  ) {
    this.parser = new CaptureParser(`tcpdump -i ${opts.iface}`, onPacket);
  }

  get iface(): string {
    return this.opts.iface;
  }

  get delivered(): number {
    return this.parser.packets;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  open(): Promise<void> {
    killAllOnExit();
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: LiveError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      };
      const timer = setTimeout(() => {
        this.failed ??= new LiveError(this.iface, `tcpdump did not open the device within ${OPEN_TIMEOUT_MS / 1000} s`);
        this.signal('SIGKILL');
        fail(this.failed);
      }, OPEN_TIMEOUT_MS);
      let child: ChildProcessByStdio<null, Readable, Readable>;
      try {
        // Its own process group: a terminal's Ctrl-C reaches otwatch only, which
        // then stops tcpdump itself and reads what it still had.
        child = spawn(this.binary, tcpdumpArgs(this.opts), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (e) {
        fail(new LiveError(this.iface, `cannot start ${this.binary}: ${(e as Error).message}`, true));
        return;
      }
      this.child = child;
      running.add(child);
      child.stdout.pause();
      child.on('error', (e: NodeJS.ErrnoException) => {
        const err = new LiveError(
          this.iface,
          e.code === 'ENOENT' ? `${this.binary} not found (install tcpdump, or use --capture cap)` : `${this.binary}: ${e.message}`,
          e.code === 'ENOENT',
        );
        this.failed ??= err;
        fail(err);
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => {
        this.stderr(s, () => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.stdout.on('end', () => this.drainEnd());
      child.on('close', (code, signal) => {
        running.delete(child);
        this.closed = true;
        if (this.stderrRest !== '') this.stderrLine(this.stderrRest, () => {});
        const why =
          this.failed ??
          new LiveError(
            this.iface,
            this.errLines.length > 0 ? this.errLines.join('; ') : `tcpdump exited (${signal ?? `code ${code}`})`,
            isPermanent(this.errLines),
          );
        for (const w of this.waiters.splice(0)) w(this.totals());
        for (const w of this.closeWaiters.splice(0)) w();
        if (!settled) fail(why);
        else if (!this.stopping) this.onEnd?.(why);
      });
    });
  }

  resume(): void {
    if (this.resumed || this.child === null) return;
    this.resumed = true;
    this.child.stdout.on('data', (chunk: Buffer) => this.feed(chunk));
    this.child.stdout.resume();
  }

  stats(): Promise<KernelStats> {
    const c = this.child;
    if (c === null || !this.ready || this.closed || this.stopping) return Promise.resolve(this.totals());
    return new Promise((resolve) => {
      let done = false;
      const w = (s: KernelStats) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        resolve(s);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        w(this.totals());
      }, STATS_TIMEOUT_MS);
      this.waiters.push(w);
      // The handler is installed before "listening on" is printed, so this
      // signal never meets tcpdump's default action (terminate).
      if (this.waiters.length === 1) this.signal('SIGUSR1');
    });
  }

  async stop(): Promise<KernelStats> {
    if (this.child !== null && !this.closed) {
      this.stopping = true;
      this.resume(); // a full pipe would keep tcpdump from finishing
      await new Promise<void>((resolve) => {
        this.closeWaiters.push(resolve);
        this.signal('SIGTERM');
        const t = setTimeout(() => this.signal('SIGKILL'), STOP_TIMEOUT_MS);
        this.closeWaiters.push(() => clearTimeout(t));
      });
    }
    this.stopping = true;
    return this.totals();
  }

  /** Counts so far: the exit report when there is one, else the last SIGUSR1
   *  report; `captured` never below what we parsed. */
  private totals(): KernelStats {
    const s = this.exitReport.received !== null ? this.exitReport : this.current;
    return { ...s, captured: Math.max(s.captured ?? 0, this.parser.packets) };
  }

  private signal(sig: NodeJS.Signals): void {
    const c = this.child;
    if (c === null || this.closed || c.pid === undefined) return;
    try {
      process.kill(c.pid, sig);
    } catch {
      // gone already; 'close' follows
    }
  }

  private feed(chunk: Buffer): void {
    if (this.failed !== null) return;
    try {
      if (this.have === 0) {
        const used = this.parser.parse(chunk, 0, chunk.length, this.base);
        this.base += used;
        const left = chunk.length - used;
        if (left > 0) this.keep(chunk, used, left);
      } else {
        this.keep(chunk, 0, chunk.length);
        const used = this.parser.parse(this.buf, 0, this.have, this.base);
        if (used > 0) {
          this.buf.copyWithin(0, used, this.have);
          this.have -= used;
          this.base += used;
        }
      }
    } catch (e) {
      // tcpdump wrote something that is not pcap: stop this capture, it is restarted as a whole.
      const msg = e instanceof CaptureError ? e.message : (e as Error).message;
      this.failed = new LiveError(this.iface, `damaged stream from tcpdump: ${msg}`);
      this.signal('SIGKILL');
      if (!(e instanceof CaptureError)) throw e;
    }
  }

  /** Appends chunk[off, off+len) to the leftover buffer; a leftover is at
   *  most one record, so the buffer stays near MAX_CAPLEN + a pipe read. */
  private keep(chunk: Buffer, off: number, len: number): void {
    const need = this.have + len;
    if (need > this.buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(need, MAX_CAPLEN + 16 + 65536, this.buf.length * 2));
      this.buf.copy(nb, 0, 0, this.have);
      this.buf = nb;
    }
    chunk.copy(this.buf, this.have, off, off + len);
    this.have = need;
  }

  private drainEnd(): void {
    // A record cut by a killed child is not an error worth reporting.
    this.have = 0;
  }

  private stderr(s: string, onReady: () => void): void {
    let text = this.stderrRest + s;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      this.stderrLine(text.slice(0, nl), onReady);
      text = text.slice(nl + 1);
    }
    this.stderrRest = text.length > MAX_LINE ? text.slice(0, MAX_LINE) : text;
  }

  private stderrLine(raw: string, onReady: () => void): void {
    const line = raw.trim();
    if (line === '') return;
    if (/^(tcpdump: )?listening on /.test(line)) {
      this.ready = true;
      onReady();
      return;
    }
    const info = parseInfoLine(line);
    if (info !== null) {
      const cur = this.current;
      this.current = {
        captured: unwrap32(cur.captured, info.captured),
        received: unwrap32(cur.received, info.received),
        droppedKernel: unwrap32(cur.droppedKernel, info.droppedKernel),
        droppedIface: unwrap32(cur.droppedIface, info.droppedIface),
      };
      const t = this.totals();
      for (const w of this.waiters.splice(0)) w(t);
      return;
    }
    const m = EXIT_LINE.exec(line);
    if (m !== null) {
      const r = this.exitReport;
      const cur = this.current;
      const v = Number(m[1]);
      if (m[2] === 'captured') r.captured = unwrap32(cur.captured, v);
      else if (m[2] === 'received by filter') r.received = unwrap32(cur.received, v);
      else if (m[2] === 'dropped by kernel') r.droppedKernel = unwrap32(cur.droppedKernel, v);
      else r.droppedIface = unwrap32(cur.droppedIface, v);
      r.droppedIface ??= 0; // printed only when non-zero
      return;
    }
    const msg = line.replace(/^tcpdump: /, '');
    if (/^WARNING: /.test(msg)) {
      this.onNotice?.(msg.slice(9));
      return;
    }
    this.errLines.push(msg.length > 300 ? `${msg.slice(0, 300)}…` : msg);
    if (this.errLines.length > MAX_ERR_LINES) this.errLines.shift();
  }
}

/** Errors no retry will fix: a bad filter or option. A missing device or
 *  missing permission may well change (a NIC that comes up later). */
function isPermanent(lines: string[]): boolean {
  return lines.some((l) => /syntax error|can't parse filter|illegal|invalid|unknown (option|user|name)|Couldn't find user/i.test(l));
}

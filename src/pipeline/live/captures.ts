// The interfaces of a live run across restarts of their captures: opening,
// failing, retrying with backoff, stopping, and their counters.
import { CapSource } from '../../capture/live-cap.js';
import { addStats, LiveError, NO_STATS, type KernelStats, type LiveOptions, type LiveSource } from '../../capture/live-source.js';
import { TcpdumpSource } from '../../capture/live-tcpdump.js';
import type { PacketHandler } from '../../capture/raw-packet.js';
import type { Logger } from '../../output/log.js';
import type { LiveSettings } from './settings.js';
import { watchLink } from './link-watch.js';

/** A capture that ran this long resets the retry backoff. */
const STABLE_S = 30;

/** One interface across restarts of its capture. */
export class Iface {
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

  get decoded(): number {
    return this.decodedBase + (this.src?.delivered ?? 0);
  }

  /** Adds the counters of a capture that ended. */
  async retire(src: LiveSource): Promise<void> {
    this.base = addStats(this.base, await src.stop());
    this.decodedBase += src.delivered;
  }
}

export class Captures {
  readonly ifaces: Iface[];
  /** Outputs are open: a capture that (re)opens starts delivering at once. */
  running = false;
  private stopping = false;

  constructor(
    private readonly s: LiveSettings,
    private readonly onPacket: PacketHandler,
    private readonly log: Logger,
    /** Every interface failed for good: the run must end (exit 1). */
    private readonly allFailed: () => void,
  ) {
    this.ifaces = s.interfaces.map((n) => new Iface(n));
  }

  openAll(): Promise<void> {
    return Promise.all(this.ifaces.map((f) => this.open(f))).then(() => undefined);
  }

  /** Starts delivery on every open capture. */
  resumeAll(): void {
    this.running = true;
    for (const f of this.ifaces) {
      if (f.src === null) continue;
      f.src.resume();
      const filter = this.s.filter ? `, filter '${this.s.filter}'` : '';
      this.log.info(`${f.name}: capturing via ${f.src.path}, timestamps from the ${f.src.timestampSource}${filter}`);
    }
  }

  /** Stops every capture (what they still hold is decoded first). */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.ifaces.map(async (f) => {
        if (f.timer !== null) clearTimeout(f.timer);
        f.timer = null;
        const src = f.src;
        if (src === null) return;
        f.src = null;
        await f.retire(src);
      }),
    );
  }

  watchLinks(): void {
    for (const f of this.ifaces) f.operstate = watchLink(f.name, f.operstate, this.log);
  }

  private source(iface: string): LiveSource {
    const s = this.s;
    const o: LiveOptions = {
      iface,
      filter: s.filter,
      bufferBytes: s.bufferBytes,
      snaplen: s.snaplen,
      promisc: s.promisc,
      immediate: s.immediate,
      batch: s.batch,
      user: s.user,
    };
    return s.capture === 'cap' ? new CapSource(o, this.onPacket) : new TcpdumpSource(o, this.onPacket, s.tcpdump);
  }

  private async open(f: Iface): Promise<void> {
    f.timer = null;
    if (this.stopping) return;
    const src = this.source(f.name);
    src.onNotice = (m) => this.log.warn(`${f.name}: ${m}`);
    try {
      await src.open();
    } catch (e) {
      const err = e instanceof LiveError ? e : new LiveError(f.name, (e as Error).message);
      await src.stop().catch(() => NO_STATS);
      this.failed(f, err, 'cannot capture');
      return;
    }
    if (this.stopping) {
      await f.retire(src);
      return;
    }
    f.src = src;
    f.failed = null;
    f.openedAt = Date.now();
    src.onEnd = (err) => this.ended(f, src, err);
    if (this.running) {
      f.restarts++;
      src.resume();
      this.log.info(`${f.name}: capturing again`);
    }
  }

  private ended(f: Iface, src: LiveSource, err: LiveError): void {
    if (f.src !== src) return;
    f.src = null;
    void f.retire(src);
    if ((Date.now() - f.openedAt) / 1000 >= STABLE_S) f.delay = 1;
    this.failed(f, err, 'capture stopped');
  }

  private failed(f: Iface, err: LiveError, what: string): void {
    f.failed = err;
    if (this.stopping) return;
    const dropped = this.s.user !== null && process.getuid?.() !== 0 && /permission|not permitted/i.test(err.reason);
    const hint = dropped ? ' (otwatch no longer runs as root; see docs on --user and capabilities)' : '';
    if (this.s.retry && !err.permanent) {
      this.log.error(`${f.name}: ${what}: ${err.reason}${hint}; retrying in ${f.delay} s`);
      f.timer = setTimeout(() => void this.open(f), f.delay * 1000);
      f.delay = Math.min(f.delay * 2, this.s.retryMaxS);
      return;
    }
    this.log.error(`${f.name}: ${what}: ${err.reason}${hint}`);
    if (this.ifaces.every((g) => g.src === null && g.timer === null)) this.allFailed();
  }
}

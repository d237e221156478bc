// The in-process capture path: libpcap through the `cap` binding (optional
// dependency), for hosts without tcpdump or for low rates.
//
// RECEIVE ONLY. `cap`'s native object also has send() (pcap_sendpacket). That
// path does not exist here: the native object lives only in a #private field
// of ReceiveOnlyCap, its `send` is shadowed by a non-callable, frozen own
// property before the device is opened (neuterCap), and the class exposes
// open/close/packets and nothing else. test/capture/live-cap.test.ts checks it.
//
// What `cap` 0.2.1 cannot do (measured): no capture timestamp (we take the
// wall clock when JavaScript sees the packet, so times are late by the
// delivery delay and bursts get near-equal times), no original length, snaplen
// fixed at 65535, always promiscuous, no drop counters, one JS callback per
// packet (loses packets above about 100 k pkt/s). It crashes when an object is
// reused after a failed open() and hangs on exit after close+reopen, so every
// open uses a fresh object. It also ignores read errors: a vanished interface
// is noticed here by watching /sys/class/net.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { RawPacket, type PacketHandler } from './raw-packet.js';
import { LiveError, NO_STATS, type KernelStats, type LiveOptions, type LiveSource } from './live-source.js';

/** The part of cap's native object we touch. */
interface NativeCap {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(ev: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(): void;
}
interface CapModule {
  Cap: new () => NativeCap;
}

const CAP_SNAPLEN = 65535;

let capModule: CapModule | null | undefined;

/** Loads `cap`, or returns why it cannot be used. */
export function loadCap(): CapModule | string {
  if (capModule === undefined) {
    try {
      capModule = createRequire(import.meta.url)('cap') as CapModule;
    } catch (e) {
      capModule = null;
      loadError = (e as Error).message.split('\n')[0];
    }
  }
  return capModule ?? `the optional 'cap' module is not available (${loadError}); use --capture tcpdump`;
}
let loadError = '';

/** Replaces `send` on a native cap object by a non-callable, non-writable,
 *  non-configurable own property, so neither this code nor anything that
 *  somehow got the object can transmit through it. Returns the object. */
export function neuterCap<T extends object>(c: T): T {
  Object.defineProperty(c, 'send', { value: undefined, writable: false, enumerable: false, configurable: false });
  return c;
}

/** DLT number for cap's link-type names. */
export function capLinktype(name: string): number | null {
  switch (name) {
    case 'ETHERNET':
      return 1;
    case 'NULL':
      return 0;
    case 'RAW':
      return 101;
    case 'LINKTYPE_LINUX_SLL':
      return 113;
    case 'IEEE802_11_RADIO':
      return 127;
    default: {
      const m = /^Unknown linktype (\d+)$/.exec(name);
      return m === null ? null : Number(m[1]);
    }
  }
}

/** A receive-only handle on one device: open, packets, close. */
export class ReceiveOnlyCap {
  #cap: NativeCap | null = null;
  readonly buffer = Buffer.alloc(CAP_SNAPLEN);
  linktype = -1;

  /** Opens the device; throws with libpcap's message. A fresh native object
   *  every time (cap crashes when one is reused after a failed open). */
  open(mod: CapModule, iface: string, filter: string, bufferBytes: number, onPacket: (nbytes: number) => void): void {
    const c = neuterCap(new mod.Cap());
    const name = c.open(iface, filter, bufferBytes, this.buffer);
    const lt = capLinktype(name);
    if (lt === null) {
      c.close();
      throw new Error(`unsupported link type ${name}`);
    }
    this.linktype = lt;
    c.on('packet', (n) => onPacket(n));
    this.#cap = c;
  }

  close(): void {
    const c = this.#cap;
    this.#cap = null;
    if (c !== null) {
      c.removeAllListeners();
      c.close();
    }
  }

  get isOpen(): boolean {
    return this.#cap !== null;
  }
}

function ifindex(iface: string): string | null {
  try {
    return readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim();
  } catch {
    return null;
  }
}

export class CapSource implements LiveSource {
  readonly path = 'cap';
  readonly timestampSource = 'wall clock when JavaScript receives the packet (cap has no capture timestamps)';
  onEnd: ((err: LiveError) => void) | null = null;
  onNotice: ((msg: string) => void) | null = null;
  private readonly dev = new ReceiveOnlyCap();
  private readonly pkt = new RawPacket();
  private count = 0;
  private resumed = false;
  private held = 0;
  private watch: NodeJS.Timeout | null = null;
  private index: string | null = null;

  constructor(
    readonly opts: LiveOptions,
    private readonly onPacket: PacketHandler,
  ) {}

  get iface(): string {
    return this.opts.iface;
  }

  get delivered(): number {
    return this.count;
  }

  open(): Promise<void> {
    const o = this.opts;
    const mod = loadCap();
    if (typeof mod === 'string') return Promise.reject(new LiveError(o.iface, mod, true));
    if (!o.promisc)
      return Promise.reject(new LiveError(o.iface, 'the cap path is always promiscuous; use --capture tcpdump for --no-promisc', true));
    if (!existsSync(`/sys/class/net/${o.iface}`)) return Promise.reject(new LiveError(o.iface, 'no such interface'));
    const pkt = this.pkt;
    pkt.buf = this.dev.buffer;
    pkt.off = 0;
    try {
      this.dev.open(mod, o.iface, o.filter, o.bufferBytes, (n) => {
        if (!this.resumed) {
          this.held++; // cap cannot pause: packets before resume() are counted, not decoded
          return;
        }
        const t = performance.timeOrigin + performance.now();
        const sec = Math.floor(t / 1000);
        const us = Math.floor((t - sec * 1000) * 1000);
        pkt.ts = sec + us / 1e6;
        pkt.tsNsec = us * 1000;
        pkt.caplen = n;
        pkt.origlen = n;
        pkt.linktype = this.dev.linktype;
        this.count++;
        this.onPacket(pkt);
      });
    } catch (e) {
      const msg = (e as Error).message;
      return Promise.reject(new LiveError(o.iface, msg, /syntax error|parse filter|unsupported link/i.test(msg)));
    }
    pkt.linktype = this.dev.linktype;
    this.index = ifindex(o.iface);
    // cap swallows read errors: notice a vanished (or re-created) interface ourselves.
    this.watch = setInterval(() => {
      if (ifindex(o.iface) !== this.index) {
        this.halt();
        this.onEnd?.(new LiveError(o.iface, 'the interface disappeared'));
      }
    }, 1000);
    this.watch.unref();
    return Promise.resolve();
  }

  resume(): void {
    this.resumed = true;
    if (this.held > 0) this.onNotice?.(`${this.held} packets arrived before capture started and were not decoded`);
  }

  stats(): Promise<KernelStats> {
    return Promise.resolve(this.totals());
  }

  stop(): Promise<KernelStats> {
    this.halt();
    return Promise.resolve(this.totals());
  }

  private totals(): KernelStats {
    return { ...NO_STATS, captured: this.count + this.held };
  }

  private halt(): void {
    if (this.watch !== null) clearInterval(this.watch);
    this.watch = null;
    this.dev.close();
  }
}

// Scan detection: one source touching more than `ports` distinct ports of one
// host (vertical) or more than `hosts` distinct hosts on one port
// (horizontal) within `window` seconds of capture time, answered or not.
// A touch is a connection attempt: a TCP SYN or a first UDP datagram.
//
// Memory is bounded: targets per source, sources in total (least recently
// active dropped first), and entries older than the window are pruned
// whenever a count passes the threshold.

export interface ScanOptions {
  /** Distinct ports on one host; 0 disables vertical detection. */
  ports: number;
  /** Distinct hosts on one port; 0 disables horizontal detection. */
  hosts: number;
  /** Seconds. */
  window: number;
}

export const DEFAULT_SCAN: ScanOptions = { ports: 20, hosts: 20, window: 60 };

const MAX_SOURCES = 65_536;
const MAX_TARGETS_PER_SOURCE = 8_192;

class Source {
  last = 0;
  entries = 0;
  /** proto → host → port → last touch (no key string built per touch). */
  readonly byHost = new Map<number, Map<string, Map<number, number>>>();
  /** proto * 65536 + port → host → last touch. */
  readonly byPort = new Map<number, Map<string, number>>();
}

export const enum ScanHit {
  None = 0,
  Vertical = 1,
  Horizontal = 2,
  Both = 3,
}

export class ScanTracker {
  private readonly sources = new Map<string, Source>();
  private nextSweep = 0;
  /** Distinct targets counted by the last touch() (for the alert text). */
  portsSeen = 0;
  hostsSeen = 0;
  /** After a hit: the targets inside the window (ports of the host, hosts
   *  on the port), valid until the next touch. */
  hitPorts: Map<number, number> | null = null;
  hitHosts: Map<string, number> | null = null;

  constructor(readonly opts: ScanOptions) {}

  get enabled(): boolean {
    return this.opts.ports > 0 || this.opts.hosts > 0;
  }

  /** Records one touch; says which thresholds it crossed or stays over. */
  touch(src: string, host: string, proto: number, port: number, ts: number): ScanHit {
    const o = this.opts;
    const horizon = ts - o.window;
    if (ts >= this.nextSweep) this.sweep(ts);
    let s = this.sources.get(src);
    if (s === undefined) {
      if (this.sources.size >= MAX_SOURCES) {
        const oldest = this.sources.keys().next().value;
        if (oldest !== undefined) this.sources.delete(oldest);
      }
      s = new Source();
    } else {
      this.sources.delete(src); // re-insert: the map stays ordered by last touch
    }
    this.sources.set(src, s);
    s.last = ts;
    if (s.entries >= MAX_TARGETS_PER_SOURCE) {
      this.pruneAll(s, horizon);
      if (s.entries >= MAX_TARGETS_PER_SOURCE) {
        s.byHost.clear();
        s.byPort.clear();
        s.entries = 0;
      }
    }
    let hit = ScanHit.None;
    this.portsSeen = this.hostsSeen = 0;
    this.hitPorts = this.hitHosts = null;
    if (o.ports > 0) {
      let hm = s.byHost.get(proto);
      if (hm === undefined) s.byHost.set(proto, (hm = new Map()));
      let m = hm.get(host);
      if (m === undefined) hm.set(host, (m = new Map()));
      if (!m.has(port)) s.entries++;
      m.set(port, ts);
      if (m.size > o.ports) s.entries -= prune(m, horizon);
      this.portsSeen = m.size;
      if (m.size > o.ports) {
        hit |= ScanHit.Vertical;
        this.hitPorts = m;
      }
    }
    if (o.hosts > 0) {
      const pk = proto * 65536 + port;
      let m = s.byPort.get(pk);
      if (m === undefined) s.byPort.set(pk, (m = new Map()));
      if (!m.has(host)) s.entries++;
      m.set(host, ts);
      if (m.size > o.hosts) s.entries -= prune(m, horizon);
      this.hostsSeen = m.size;
      if (m.size > o.hosts) {
        hit |= ScanHit.Horizontal;
        this.hitHosts = m;
      }
    }
    return hit;
  }

  private pruneAll(s: Source, horizon: number): void {
    for (const hm of s.byHost.values()) {
      for (const [k, m] of hm) {
        s.entries -= prune(m, horizon);
        if (m.size === 0) hm.delete(k);
      }
    }
    for (const [k, m] of s.byPort) {
      s.entries -= prune(m, horizon);
      if (m.size === 0) s.byPort.delete(k);
    }
  }

  /** Drops sources idle for a whole window (oldest first). */
  private sweep(ts: number): void {
    this.nextSweep = ts + this.opts.window;
    const horizon = ts - this.opts.window;
    for (const [k, s] of this.sources) {
      if (s.last >= horizon) break;
      this.sources.delete(k);
    }
  }
}

function prune<K>(m: Map<K, number>, horizon: number): number {
  let n = 0;
  for (const [k, t] of m) {
    if (t < horizon) {
      m.delete(k);
      n++;
    }
  }
  return n;
}

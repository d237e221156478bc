// The application layer of one flow: which protocol it speaks (found by
// content, confirmed over two PDUs; ports are only a hint), the per-direction
// buffers that hold partial PDUs (never more than the protocol's maxPdu), gap
// handling and resynchronisation, and the counters of the flow record.
import type { ProtocolModule } from '../dissectors/module.js';
import { Probe, type Dir, type ParseCtx, type PduBase } from '../dissectors/types.js';
import { TCP_ACK, TCP_SYN, type Packet } from '../decode/packet.js';
import type { Flow } from './flow.js';
import type { JsonOut } from '../output/json-out.js';
import { type ReassemblyBudget, TcpStream, type StreamReceiver } from './tcp-stream.js';

/** What the application layer hands on (the engine implements it). */
export interface AppEvents {
  /** A PDU was decoded. `held` while the protocol is tentative: the record
   *  must then come back as a string, kept until confirmation. Otherwise the
   *  events may write it themselves and return null. */
  pdu(flow: Flow, d: ProtocolModule, dir: Dir, pdu: PduBase, ts: number, held: boolean): string | null;
  /** Records held during identification, released once the app is confirmed. */
  release(lines: string[]): void;
  /** The flow's application protocol is confirmed. */
  confirmed(flow: Flow, d: ProtocolModule, ts: number): void;
  /** Identification gave up: no known protocol. */
  unknown(flow: Flow, ts: number): void;
}

export interface AppConfig {
  dissectors: readonly ProtocolModule[];
  /** Flat table: port → dissectors whose well-known ports include it. */
  byPort: (ProtocolModule[] | undefined)[];
  events: AppEvents;
  budget: ReassemblyBudget;
  /** Candidate lists by hint (a byPort entry, or NO_HINT) and transport
   *  (0 TCP, 1 UDP); built on demand, never changed once built. */
  candCache?: Map<readonly ProtocolModule[], [CandList | null, CandList | null]>;
}

interface CandList {
  list: ProtocolModule[];
  hinted: number;
}

const NO_HINT: readonly ProtocolModule[] = [];

/** True when d's anchor byte rules out a PDU at buf[off] (its probe would
 *  answer NoMatch there; see Dissector.anchorAt). */
function anchorExcludes(d: ProtocolModule, buf: Buffer, off: number, len: number): boolean {
  return len > d.anchorAt && d.anchorOk[buf[off + d.anchorAt]] === 0;
}

/** PDUs (or one in each direction) before a protocol is confirmed. */
const CONFIRM_PDUS = 2;
/** Bytes per direction searched for a first PDU before giving up. */
const SCAN_LIMIT = 4096;
/** Records held while the protocol is not yet confirmed. */
const MAX_HELD = 8;
/** Tentative protocols rejected before the flow is declared unknown. */
const MAX_REJECTS = 4;
/** Datagrams per direction tried before a UDP flow is declared unknown. */
const MAX_UDP_PROBES = 8;

const enum Lenient {
  No = 0,
  /** First byte of a stream seen from its SYN: a failed parse rejects. */
  StreamStart = 1,
  /** First bytes after a mid-stream pickup: a failed parse is no verdict. */
  Once = 2,
}

const enum Phase {
  Probing = 0,
  Tentative = 1,
  Confirmed = 2,
  Unknown = 3,
}

/** One ParseCtx serves every session: parsing is synchronous. */
class SharedCtx implements ParseCtx {
  ts = 0;
  need = 0;
  session: AppSession | null = null;
  emit(dir: Dir, pdu: PduBase): void {
    this.session!.onPdu(dir, pdu);
  }
  anomaly(_dir: Dir, name: string): void {
    this.session!.onAnomaly(name);
  }
  proven(): void {
    this.session!.onProven();
  }
}
const ctx = new SharedCtx();

/** Capture time of the packet being handed to tcp()/datagram() (a field,
 *  not an argument: see Engine.flowPacket). */
export function setAppClock(ts: number): void {
  ctx.ts = ts;
}

/** Per direction (indexed by side: 0 = endpoint A, 1 = endpoint B). */
class Side {
  pend: Buffer | null = null;
  pendLen = 0;
  need = 0;
  /** Looking for a PDU boundary with probe (after a gap or a parse error). */
  lost = false;
  scanned = 0;
  pdus = 0;
  /** Skipped while resynchronising. */
  skipped = 0;
  lenientTried = false;
  /** Latest capture time of the bytes held in pend. */
  pendTs = 0;
  /** Time of this side's latest PDU: a PDU is never stamped earlier. */
  lastTs = 0;
}

export class AppSession implements StreamReceiver {
  private phase = Phase.Probing;
  d: ProtocolModule | null = null;
  state: unknown = null;
  appBy: 'port' | 'content' = 'content';
  private readonly sides = [new Side(), new Side()];
  streams: [TcpStream, TcpStream] | null = null;
  private held: string[] | null = null;
  /** Dissectors still in the running (see candidates()); the first
   *  `hinted` of them are hinted by a port. */
  private cands: ProtocolModule[] | null = null;
  /** `cands` is the shared list from AppConfig.candCache: copy before changing it. */
  private candsShared = false;
  private hinted = 0;
  private rejects = 0;
  pdus = 0;
  gaps = 0;
  gapBytes = 0;
  anomalies: Map<string, number> | null = null;

  constructor(
    readonly flow: Flow,
    private readonly cfg: AppConfig,
  ) {
    if (flow.isTcp) {
      this.streams = [new TcpStream(0, this, cfg.budget), new TcpStream(1, this, cfg.budget)];
      // SYNs seen before the first payload created this session.
      if (flow.isnSeen & 1) this.streams[0].start(flow.isnA);
      if (flow.isnSeen & 2) this.streams[1].start(flow.isnB);
    }
  }

  get app(): string | null {
    return this.phase === Phase.Confirmed ? this.d!.name : null;
  }

  get active(): boolean {
    return this.phase !== Phase.Unknown;
  }

  /** StreamReceiver.clock: the app clock (a queued segment's time while the
   *  stream delivers it). */
  get clock(): number {
    return ctx.ts;
  }

  set clock(ts: number) {
    ctx.ts = ts;
  }

  private dirOf(side: number): Dir {
    return ((side === 0) === this.flow.clientIsA ? 0 : 1) as Dir;
  }

  /** A TCP segment from `side` (0 = endpoint A). */
  tcp(side: number, p: Packet): void {
    if (this.phase === Phase.Unknown) return;
    const st = this.streams!;
    const flags = p.tcpFlags;
    if (flags & TCP_SYN) st[side].start(p.seq);
    if (flags & TCP_ACK) st[1 - side].peerAck(p.ack);
    if (p.payWireLen > 0) st[side].segment(flags & TCP_SYN ? (p.seq + 1) | 0 : p.seq, p.buf, p.payOff, p.payLen, p.payWireLen);
  }

  /** A UDP datagram from `side`. */
  datagram(side: number, buf: Buffer, off: number, len: number): void {
    if (this.phase === Phase.Unknown || len === 0) return;
    if (this.d === null && !this.identify(side, buf, off, len)) {
      if (++this.sides[side].scanned > MAX_UDP_PROBES) this.giveUp();
      return;
    }
    this.parseSome(side, buf, off, len);
  }

  streamData(side: number, buf: Buffer, off: number, len: number): void {
    const s = this.sides[side];
    while (this.active) {
      if (s.pendLen > 0) {
        // Complete the held partial PDU first, copying only what it needs.
        if (s.pendLen < s.need) {
          if (len === 0) return;
          const want = s.need - s.pendLen;
          const take = want < len ? want : len;
          this.append(s, buf, off, take);
          off += take;
          len -= take;
          if (s.pendLen < s.need) return;
        }
        // A PDU completed from held bytes is as recent as the latest of them
        // (they may be newer than a queued segment that completes them).
        const now = ctx.ts;
        if (s.pendTs > now) ctx.ts = s.pendTs;
        const used = this.consume(side, s.pend!, 0, s.pendLen);
        ctx.ts = now;
        if (s.pend === null || s.pendLen === 0) continue; // reset by a reject or give-up
        if (used > 0) {
          s.pend.copyWithin(0, used, s.pendLen);
          s.pendLen -= used;
        }
        if (s.pendLen > 0 && s.need <= s.pendLen) s.need = s.pendLen + 1; // never re-parse the same bytes
        continue;
      }
      if (len === 0) return;
      const used = this.consume(side, buf, off, len);
      off += used;
      len -= used;
      if (len === 0) return;
      if (s.need > 0 || used === 0) {
        if (s.need <= len) s.need = len + 1;
        this.append(s, buf, off, len);
        return;
      }
      // Progress without a request for more (e.g. a protocol found mid-buffer): parse on.
    }
  }

  streamGap(side: number, bytes: number): void {
    const s = this.sides[side];
    this.gaps++;
    if (bytes > 0) this.gapBytes += bytes;
    s.pendLen = 0;
    s.need = 0;
    s.lost = true;
    if (this.d !== null) this.d.gap(this.state, this.dirOf(side), bytes);
  }

  /** Parses or identifies what it can of buf[off, off+len); returns bytes used
   *  and leaves side.need set when it stopped inside a PDU. */
  private consume(side: number, buf: Buffer, off: number, len: number): number {
    const s = this.sides[side];
    s.need = 0;
    if (this.d === null) {
      const at = this.scanIdentify(side, buf, off, len);
      if (this.d === null) return at;
      if (at > 0) return at;
    }
    return this.parseSome(side, buf, off, len);
  }

  /** Finds where a known protocol starts. Returns bytes skipped. */
  private scanIdentify(side: number, buf: Buffer, off: number, len: number): number {
    const s = this.sides[side];
    const f = this.flow;
    const midstream = !f.handshake || s.lost;
    for (let i = 0; i < len; i++) {
      let mode = Lenient.No;
      if (i === 0) {
        if (!midstream) mode = Lenient.StreamStart;
        else if (!s.lenientTried) {
          // First bytes after a mid-stream pickup: most captures cut at a
          // segment boundary, which is usually a PDU boundary. One try.
          s.lenientTried = true;
          mode = Lenient.Once;
        }
      }
      // Lenient tries and a spent candidate list go to identify; otherwise an
      // offset where no candidate's anchor byte fits is a NoMatch for all:
      // those are skipped in one tight loop, counted as scanned.
      if (mode === Lenient.No && this.cands !== null && this.cands.length > 0) {
        const j = this.nextAnchored(buf, off, i, len);
        if (j > i) {
          this.needMore = false;
          if (s.scanned + (j - i) > SCAN_LIMIT) {
            s.scanned = SCAN_LIMIT + 1;
            this.giveUp();
            return len;
          }
          s.scanned += j - i;
          if (j === len) return len;
          i = j;
        }
      }
      const r = this.identify(side, buf, off + i, len - i, mode);
      if (this.d !== null) {
        s.lost = false;
        return i;
      }
      if (r === false && this.phase === Phase.Unknown) return len;
      if (this.needMore) {
        s.need = len - i + 1;
        return i;
      }
      if (!midstream) {
        // A stream seen from its first byte must start with a PDU.
        this.giveUp();
        return len;
      }
      if (++s.scanned > SCAN_LIMIT) {
        this.giveUp();
        return len;
      }
    }
    return len;
  }

  /** The first offset j in [from, len) of buf[off..] where some candidate's
   *  anchor byte fits (see Dissector.anchorAt), or len: at every offset
   *  before it, every candidate's probe would answer NoMatch. */
  private nextAnchored(buf: Buffer, off: number, from: number, len: number): number {
    const cands = this.cands!;
    const n = cands.length;
    for (let j = from; j < len; j++) {
      for (let k = 0; k < n; k++) {
        if (!anchorExcludes(cands[k], buf, off + j, len - j)) return j;
      }
    }
    return len;
  }

  private needMore = false;
  /** The tentative protocol was chosen on a lenient one-off guess. */
  private soft = false;

  /** Tries the candidate dissectors at buf[off]; true when one matched.
   *  `lenient`: buf[off] is where a PDU most likely starts (the first byte
   *  of a stream seen from its SYN, or the first segment after a mid-stream
   *  pickup). A protocol on its own port then gets a tentative parse even
   *  when its strict probe declines (e.g. a function code it does not know):
   *  parsing, not probing, decides, and two PDUs confirm. */
  private identify(side: number, buf: Buffer, off: number, len: number, lenient = Lenient.No): boolean {
    const f = this.flow;
    this.needMore = false;
    const cands = this.cands ?? this.candidates();
    if (cands.length === 0) {
      this.giveUp();
      return false;
    }
    const dir = this.dirOf(side);
    for (let k = 0; k < cands.length; k++) {
      const d = cands[k];
      // An anchor that does not fit is probe's NoMatch (tested), which only a
      // lenient try on a hinted protocol would overrule.
      if ((lenient === Lenient.No || k >= this.hinted) && anchorExcludes(d, buf, off, len)) continue;
      let r = d.probe(buf, off, len, dir);
      let soft = false;
      if (r === Probe.NoMatch && lenient !== Lenient.No && k < this.hinted) {
        r = Probe.Match;
        soft = lenient === Lenient.Once;
      }
      if (r === Probe.Match || r === Probe.MatchReversed) {
        this.soft = soft;
        if (r === Probe.MatchReversed && !f.rolesFixed) f.swapRoles();
        this.d = d;
        this.state = d.createState();
        this.phase = Phase.Tentative;
        this.appBy = d.ports.includes(f.aPort) || d.ports.includes(f.bPort) ? 'port' : 'content';
        // The other direction may be mid-PDU: it resynchronises with probe.
        const o = this.sides[1 - side];
        if (o.pendLen > 0 || o.scanned > 0) {
          o.pendLen = 0;
          o.lost = true;
        }
        return true;
      }
      if (r === Probe.NeedMore && len < d.maxPdu) this.needMore = true;
    }
    return false;
  }

  /** Dissectors to try, built once per flow: those hinted by the server's
   *  port first (or by the client's: a server that opened the connection
   *  itself sits there), then every other one that fits the transport. */
  private candidates(): ProtocolModule[] {
    const f = this.flow;
    const sport = f.clientIsA ? f.bPort : f.aPort;
    const cport = f.clientIsA ? f.aPort : f.bPort;
    const hinted = this.cfg.byPort[sport] ?? this.cfg.byPort[cport] ?? NO_HINT;
    // The list depends only on the hint and the transport: built once per
    // pair and shared (it was a tenth of the run's allocations, per flow).
    const cache = (this.cfg.candCache ??= new Map());
    let byTransport = cache.get(hinted);
    if (byTransport === undefined) {
      byTransport = [null, null];
      cache.set(hinted, byTransport);
    }
    const t = f.isTcp ? 0 : 1;
    let entry = byTransport[t];
    if (entry === null) {
      const fits = (d: ProtocolModule) => (t === 0 ? d.tcp : d.udp);
      const first = hinted.filter(fits);
      entry = { list: [...first, ...this.cfg.dissectors.filter((d) => fits(d) && !first.includes(d))], hinted: first.length };
      byTransport[t] = entry;
    }
    this.hinted = entry.hinted;
    this.cands = entry.list;
    this.candsShared = true;
    return entry.list;
  }

  /** Runs the dissector; on a framing error marks the side lost and resyncs. */
  private parseSome(side: number, buf: Buffer, off: number, len: number): number {
    const s = this.sides[side];
    const d = this.d!;
    let used = 0;
    while (used < len) {
      if (s.lost) {
        const r = d.probe(buf, off + used, len - used, this.dirOf(side));
        if (r === Probe.NeedMore && len - used < d.maxPdu) {
          s.need = len - used + 1;
          return used;
        }
        if (r !== Probe.Match && r !== Probe.MatchReversed) {
          used++;
          s.skipped++;
          continue;
        }
        s.lost = false;
      }
      ctx.session = this;
      ctx.need = 0;
      const n = d.parse(this.state, buf, off + used, len - used, this.dirOf(side), ctx);
      if (this.phase === Phase.Unknown || this.d !== d) return len;
      if (n < 0 || n > len - used) {
        if (this.phase === Phase.Tentative) {
          if (this.soft) {
            // The lenient guess was wrong: no verdict on the protocol, scan on.
            this.unselect();
            s.lost = true;
            return used + 1;
          }
          this.reject();
          return used;
        }
        s.lost = true;
        used++;
        s.skipped++;
        continue;
      }
      used += n;
      if (used < len) {
        if (ctx.need === 0) {
          if (n > 0) continue; // stopped before a bad header: call again at it
          // A parser that consumed nothing without asking for more: an error, never a spin.
          this.onAnomaly('parser_stalled');
          s.lost = true;
          used++;
          continue;
        }
        const need = ctx.need;
        if (need > d.maxPdu) {
          this.onAnomaly('pdu_too_long');
          s.lost = true;
          used++;
          continue;
        }
        s.need = need;
        return used;
      }
    }
    return used;
  }

  private append(s: Side, buf: Buffer, off: number, len: number): void {
    const cap = this.d !== null ? this.d.maxPdu : 512;
    if (s.pendLen + len > cap) {
      // Cannot happen for a well-behaved parser (need <= maxPdu): drop and resync.
      s.pendLen = 0;
      s.lost = true;
      return;
    }
    if (s.pend === null || s.pend.length < s.pendLen + len) {
      let size = s.pend === null ? 64 : s.pend.length * 2;
      while (size < s.pendLen + len) size *= 2;
      if (size > cap) size = cap;
      const nb = Buffer.allocUnsafe(size);
      if (s.pend !== null) s.pend.copy(nb, 0, 0, s.pendLen);
      s.pend = nb;
    }
    if (s.pendLen === 0 || ctx.ts > s.pendTs) s.pendTs = ctx.ts;
    const pend = s.pend;
    if (len <= 32) {
      // A few bytes: a loop beats Buffer.copy's native-call overhead.
      for (let i = 0, j = s.pendLen; i < len; i++, j++) pend[j] = buf[off + i];
    } else {
      buf.copy(pend, s.pendLen, off, off + len);
    }
    s.pendLen += len;
  }

  onPdu(dir: Dir, pdu: PduBase): void {
    this.pdus++;
    const side = (dir === 0) === this.flow.clientIsA ? 0 : 1;
    const s = this.sides[side];
    s.pdus++;
    // Time of the segment that completed it, never before the side's previous PDU.
    let ts = ctx.ts;
    if (ts < s.lastTs) ts = s.lastTs;
    else s.lastTs = ts;
    const line = this.cfg.events.pdu(this.flow, this.d!, dir, pdu, ts, this.phase === Phase.Tentative);
    if (this.phase === Phase.Tentative) {
      if (line !== null) {
        const h = (this.held ??= []);
        if (h.length < MAX_HELD) h.push(line);
      }
      const a = this.sides[0].pdus;
      const b = this.sides[1].pdus;
      if (a + b >= CONFIRM_PDUS || (a > 0 && b > 0)) this.confirm();
    } else if (line !== null) {
      this.cfg.events.release([line]);
    }
  }

  onProven(): void {
    if (this.phase === Phase.Tentative) this.confirm();
  }

  /** Counted on the flow record (detection has no alert kind for them). */
  onAnomaly(name: string): void {
    const m = (this.anomalies ??= new Map());
    m.set(name, (m.get(name) ?? 0) + 1);
  }

  private confirm(): void {
    this.phase = Phase.Confirmed;
    this.soft = false;
    this.cfg.events.confirmed(this.flow, this.d!, ctx.ts);
    if (this.held !== null) {
      this.cfg.events.release(this.held);
      this.held = null;
    }
  }

  private reject(): void {
    const d = this.d!;
    this.rejects++;
    let cands = this.cands ?? this.candidates();
    if (this.candsShared) {
      cands = this.cands = cands.slice();
      this.candsShared = false;
    }
    const i = cands.indexOf(d);
    if (i >= 0) {
      cands.splice(i, 1);
      if (i < this.hinted) this.hinted--;
    }
    this.unselect();
    if (this.rejects >= MAX_REJECTS || cands.length === 0) this.giveUp();
  }

  /** Back to identification, forgetting the tentative protocol's output. */
  private unselect(): void {
    this.soft = false;
    this.d = null;
    this.state = null;
    this.held = null;
    this.pdus = 0;
    this.anomalies = null;
    this.phase = Phase.Probing;
    for (const s of this.sides) {
      s.pendLen = 0;
      s.pdus = 0;
      s.lost = true;
    }
  }

  /** The flow ended and its last record is written: the dissector takes its
   *  state back for a later flow. Never called from inside a parse. */
  dispose(): void {
    if (this.d !== null && this.state !== null) this.d.releaseState(this.state);
    this.state = null;
    this.d = null;
    this.phase = Phase.Unknown;
  }

  /** Stops application-layer work on this flow for good. */
  giveUp(): void {
    if (this.phase !== Phase.Confirmed) this.cfg.events.unknown(this.flow, ctx.ts);
    this.phase = Phase.Unknown;
    this.d = null;
    this.state = null;
    this.held = null;
    for (const s of this.sides) {
      s.pendLen = 0;
      s.pend = null;
    }
  }

  /** End of flow: flush reassembly queues so no decodable PDU is lost. */
  finish(): void {
    if (this.streams !== null) {
      this.streams[0].finish();
      this.streams[1].finish();
    }
    // A flow that ended after one valid PDU on the protocol's own port, with
    // no violation: the port and a strictly probed PDU together confirm it.
    if (this.phase === Phase.Tentative && this.appBy === 'port' && this.pdus > 0) this.confirm();
  }

  /** The application part of the flow record. */
  flowWrite(o: JsonOut): void {
    const confirmed = this.phase === Phase.Confirmed;
    if (confirmed) {
      o.raw(',"app":"');
      o.raw(this.d!.name);
      o.raw(this.appBy === 'port' ? '","app_by":"port","pdus":' : '","app_by":"content","pdus":');
      o.num(this.pdus);
    } else {
      o.raw(',"app":null,"pdus":0');
    }
    o.raw(',"gaps":');
    o.num(this.gaps);
    o.raw(',"gap_bytes":');
    o.num(this.gapBytes);
    const skipped = this.sides[0].skipped + this.sides[1].skipped;
    if (skipped > 0) {
      o.raw(',"resync_bytes":');
      o.num(skipped);
    }
    if (this.streams !== null) {
      const r = this.streams[0].retransmittedBytes + this.streams[1].retransmittedBytes;
      if (r > 0) {
        o.raw(',"retrans_bytes":');
        o.num(r);
      }
    }
    if (confirmed) {
      if (this.anomalies !== null) {
        o.raw(',"anomalies":{');
        let first = true;
        for (const [k, v] of this.anomalies) {
          o.raw(first ? '"' : ',"');
          o.raw(k);
          o.raw('":');
          o.num(v);
          first = false;
        }
        o.raw('}');
      }
      o.raw(',"');
      o.raw(this.d!.name);
      o.raw('":');
      this.d!.flowWrite(o, this.state);
    }
  }
}

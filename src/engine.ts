// The pipeline: capture → decode → flows → dissectors → (detect) → output.
// One Engine per run; `onPacket` is the hot path and allocates nothing for a
// packet of a known flow.
import type { RawPacket } from './capture/raw-packet.js';
import { decodeFrame } from './decode/decoder.js';
import { Decoded, Packet } from './decode/packet.js';
import type { IdentityKind, IdentitySink, ProtocolModule, Side } from './dissectors/module.js';
import type { Dir, PduBase } from './dissectors/types.js';
import { AppSession, setAppClock, type AppConfig, type AppEvents } from './flows/app-session.js';
import type { EndReason, Flow } from './flows/flow.js';
import { FlowTable, type FlowTableOptions } from './flows/flow-table.js';
import { assignRoles } from './flows/roles.js';
import { isAnswer, isNewConnection, tcpMaybeClose, tcpPacket } from './flows/tcp-state.js';
import { ReassemblyBudget } from './flows/tcp-stream.js';
import { flowHeadJson, flowRecord, writeFlowRecord } from './output/flow-record.js';
import { JsonOut, lit } from './output/json-out.js';
import { NullSink, type RecordKind, type RecordSink } from './output/sink.js';
import type { FlowObserver } from './detect/observer.js';
import { Summary } from './output/summary.js';

export interface EngineOptions {
  flows: FlowTableOptions;
  /** Dissectors to run (empty: flows only). */
  dissectors: readonly ProtocolModule[];
  /** Emit one record per application PDU. */
  pdus: boolean;
  /** Global bound on out-of-order bytes held for reassembly. */
  reassemblyBytes: number;
  /** Aggregate the human summary's tables (top talkers, services, apps).
   *  False when no summary will be shown (-q): 0.7-1 µs a flow saved. */
  summary?: boolean;
}

const PDU_TS = lit('{"type":"pdu","ts":');
const COMMA = lit(',');
const END_LINE = lit('}\n');
/** Per dissector: `,"dir":"c2s","app":"<app>","<app>":` and the s2c form. */
const pduTails = new Map<ProtocolModule, [Uint8Array, Uint8Array]>();

/** One PDU record: `{"type":"pdu","ts":..,<flow head>,"dir":..,"app":..,"<app>":{..}}`. */
function writePdu(o: JsonOut, flow: Flow, d: ProtocolModule, dir: Dir, pdu: PduBase, ts: number): void {
  let tails = pduTails.get(d);
  if (tails === undefined) {
    tails = [lit(`,"dir":"c2s","app":"${d.name}","${d.name}":`), lit(`,"dir":"s2c","app":"${d.name}","${d.name}":`)];
    pduTails.set(d, tails);
  }
  o.lit(PDU_TS);
  o.ts(ts);
  o.lit(COMMA);
  o.ascii(flowHeadJson(flow));
  o.lit(tails[dir]);
  d.pduWrite(o, pdu);
  o.lit(END_LINE);
}

/** The IdentitySink a module's identify() writes to: the facts go to the
 *  engine's observers with the flow, module and time of the current PDU. */
class IdentityRelay implements IdentitySink {
  private f: Flow | null = null;
  private mod: ProtocolModule | null = null;
  private ts = 0;

  constructor(private readonly engine: { observer: FlowObserver | null }) {}

  at(f: Flow, mod: ProtocolModule, ts: number): this {
    this.f = f;
    this.mod = mod;
    this.ts = ts;
    return this;
  }

  private fact(side: Side, kind: IdentityKind, key: string, value: string | number): void {
    this.engine.observer?.identity?.(this.f!, this.mod!, side, kind, key, value, this.ts);
  }

  address(side: Side, kind: string, value: string | number): void {
    this.fact(side, 'address', kind, value);
  }

  identity(side: Side, key: string, value: string | number): void {
    this.fact(side, 'identity', key, value);
  }

  repeated(key: number): boolean {
    const f = this.f!;
    if (f.idLast === key) return true;
    f.idLast = key;
    return false;
  }
}

export class Stats {
  packets = 0;
  bytes = 0;
  tcp = 0;
  udp = 0;
  ipOther = 0;
  nonIp = 0;
  malformed = 0;
  unsupportedLink = 0;
  truncated = 0;
  fragments = 0;
  flows = 0;
  pdus = 0;
  firstTs = 0;
  lastTs = 0;
  /** Exceptions caught from the application layer (bugs, reported). */
  internalErrors = 0;
}

export class Engine implements AppEvents {
  readonly stats = new Stats();
  readonly summary = new Summary();
  readonly table: FlowTable;
  private readonly pkt = new Packet();
  private readonly app: AppConfig | null;
  firstInternalError: Error | null = null;
  /** Detection, when enabled (src/detect). */
  observer: FlowObserver | null = null;
  private now = 0;
  private nextSweep = 0;
  /** The flow of the latest packet that had one (a sharded run orders
   *  detection events by each flow's last packet; see src/parallel). */
  lastFlow: Flow | null = null;

  /** False when records go nowhere (summary only): they are then not built. */
  private readonly emitRecords: boolean;
  private readonly summarize: boolean;
  /** PDU records encoded straight into the sink's writer (undefined: not asked yet). */
  private pduOut: JsonOut | null | undefined = undefined;
  private flowOut: JsonOut | null | undefined = undefined;
  private readonly pduText = new JsonOut(null);
  /** Hands module.identify's facts to the observers; one, reused. */
  private readonly identitySink = new IdentityRelay(this);

  constructor(
    readonly opts: EngineOptions,
    private readonly sink: RecordSink,
  ) {
    this.emitRecords = !(sink instanceof NullSink);
    this.summarize = opts.summary !== false;
    this.table = new FlowTable(opts.flows, (f, reason, now) => this.flowEnded(f, reason, now));
    if (opts.dissectors.length > 0) {
      const byPort: (ProtocolModule[] | undefined)[] = new Array(65536);
      for (const d of opts.dissectors) for (const p of d.ports) (byPort[p] ??= []).push(d);
      this.app = { dissectors: opts.dissectors, byPort, events: this, budget: new ReassemblyBudget(opts.reassemblyBytes) };
    } else {
      this.app = null;
    }
  }

  /** The reused Packet being processed (an observer may read the current frame, e.g. its MACs). */
  get packet(): Packet {
    return this.pkt;
  }

  /** Capture time of the newest packet so far. */
  get clock(): number {
    return this.now;
  }

  readonly onPacket = (raw: RawPacket): void => {
    const st = this.stats;
    st.packets++;
    st.bytes += raw.origlen;
    let ts = raw.ts;
    if (ts > this.now) this.now = ts;
    else ts = this.now; // clock never runs backwards: flow lists stay ordered
    if (st.firstTs === 0) st.firstTs = ts;
    if (ts >= this.nextSweep) {
      this.table.sweep(ts);
      this.nextSweep = Math.floor(ts) + 1;
    }
    const p = this.pkt;
    const r = decodeFrame(raw.buf, raw.off, raw.caplen, raw.linktype, p);
    if (p.truncated || raw.caplen < raw.origlen) st.truncated++;
    if (p.fragment) st.fragments++;
    switch (r) {
      case Decoded.Tcp:
        st.tcp++;
        this.flowPacket(p);
        break;
      case Decoded.Udp:
        st.udp++;
        this.flowPacket(p);
        break;
      case Decoded.IpOther:
        st.ipOther++;
        break;
      case Decoded.NonIp:
        st.nonIp++;
        break;
      case Decoded.Malformed:
        st.malformed++;
        break;
      default:
        st.unsupportedLink++;
    }
  };

  /** Capture time moved on without a packet for this engine: in a sharded
   *  run another worker got the packet. Sweeps exactly as onPacket would, so
   *  timeouts fire at the same capture times as in a single engine. */
  advanceClock(ts: number): void {
    if (ts > this.now) this.now = ts;
    else ts = this.now;
    if (ts >= this.nextSweep) {
      this.table.sweep(ts);
      this.nextSweep = Math.floor(ts) + 1;
    }
  }

  // The packet's time is read from fields (this.now, table.now, the app
  // clock), not passed: a double argument to a call V8 does not inline is
  // boxed, a heap number per packet per call.
  private flowPacket(p: Packet): void {
    const ts = this.now;
    const table = this.table;
    table.now = ts;
    let f = table.get(p);
    const flags = p.tcpFlags;
    const isTcp = p.proto === 6;
    if (isTcp && isNewConnection(f, flags)) {
      table.end(f, f.closeReason, ts);
      f = table.get(p);
    }
    const srcIsA = table.srcIsA;
    const first = f.pktsC2S + f.pktsS2C === 0;
    if (first) assignRoles(f, srcIsA, p);
    let c2s = srcIsA === f.clientIsA;
    if (isTcp) c2s = tcpPacket(f, srcIsA, c2s, flags, p.seq | 0); // int32: a double argument would be boxed
    const ipLen = p.ipLen;
    if (c2s) {
      f.pktsC2S++;
      f.bytesC2S += ipLen;
      f.payC2S += p.payWireLen;
    } else {
      f.pktsS2C++;
      f.bytesS2C += ipLen;
      f.payS2C += p.payWireLen;
    }
    if (p.truncated) f.truncatedPkts++;
    if (p.fragment) f.fragments++;
    table.touch(f);
    this.lastFlow = f;
    const obs = this.observer;
    if (obs !== null) {
      if (first) obs.flowStart(f, ts);
      if (!c2s && !f.answered && isAnswer(isTcp, flags, p.payWireLen)) {
        f.answered = true;
        obs.serverAnswered(f, ts);
      }
    }
    const app = this.app;
    if (app !== null && !p.fragment) {
      let s = f.app;
      if (s === null && p.payWireLen > 0) s = f.app = new AppSession(f, app);
      if (s?.active) {
        const side = srcIsA ? 0 : 1;
        try {
          setAppClock(ts);
          if (isTcp) s.tcp(side, p);
          else s.datagram(side, p.buf, p.payOff, p.payLen);
        } catch (e) {
          // A dissector bug must cost one flow's decoding, never the run.
          this.stats.internalErrors++;
          if (this.firstInternalError === null) this.firstInternalError = e as Error;
          s.giveUp();
        }
      }
    }
    if (isTcp) tcpMaybeClose(table, f, flags);
  }

  private flowEnded(f: Flow, reason: EndReason, now: number): void {
    if (reason !== 'active') {
      f.app?.finish();
      this.stats.flows++;
      if (this.summarize) this.summary.addFlow(f);
    }
    if (this.emitRecords) {
      if (this.flowOut === undefined) this.flowOut = this.directOut('flow');
      const o = this.flowOut;
      if (o !== null) {
        o.begin();
        writeFlowRecord(o, f, reason);
        o.end();
      } else {
        this.sink.write('flow', flowRecord(f, reason));
      }
    }
    if (reason !== 'active') {
      this.observer?.flowEnd(f, reason, now);
      f.app?.dispose();
    } else this.observer?.flowInterim?.(f, now);
  }

  /** A JsonOut on the sink's writer for `kind`, or null when the sink takes
   *  only lines. Asked on first use: a DirSink creates the file then. */
  private directOut(kind: RecordKind): JsonOut | null {
    const w = this.sink.direct?.(kind) ?? null;
    return w === null ? null : new JsonOut(w);
  }

  // AppEvents: what the application layer reports.
  pdu(flow: Flow, d: ProtocolModule, dir: Dir, pdu: PduBase, ts: number, held: boolean): string | null {
    this.stats.pdus++;
    const obs = this.observer;
    if (obs !== null) {
      const fc = pdu.fc;
      // Classes are facts about what a client asked for: a response's class is
      // not used, and the megamorphic classify call is not paid for it.
      obs.pdu(flow, d, dir, fc, fc < 0 || dir !== 0 ? -1 : d.classify(pdu), ts);
      if (obs.identity !== undefined && d.identify !== undefined) d.identify(pdu, dir, this.identitySink.at(flow, d, ts));
    }
    if (!this.opts.pdus) return null;
    if (!held) {
      if (this.pduOut === undefined) this.pduOut = this.emitRecords ? this.directOut('pdu') : null;
      const o = this.pduOut;
      if (o !== null) {
        o.begin();
        writePdu(o, flow, d, dir, pdu, ts);
        o.end();
        return null;
      }
    }
    const t = this.pduText;
    t.begin();
    writePdu(t, flow, d, dir, pdu, ts);
    return t.text();
  }

  release(lines: string[]): void {
    for (let i = 0; i < lines.length; i++) this.sink.write('pdu', lines[i]);
  }

  confirmed(flow: Flow, d: ProtocolModule, ts: number): void {
    const obs = this.observer;
    if (obs === null) return;
    obs.appConfirmed(flow, d, ts);
    if (obs.identity !== undefined) {
      obs.identity(flow, d, 'client', 'role', 'role', d.roleTerms[0], ts);
      obs.identity(flow, d, 'server', 'role', 'role', d.roleTerms[1], ts);
    }
  }

  unknown(flow: Flow, ts: number): void {
    this.observer?.appUnknown(flow, ts);
  }

  /** End of all input (or shutdown): every open flow gets its final record. */
  finish(reason: EndReason): void {
    this.stats.lastTs = this.now;
    this.table.flushAll(reason, this.now);
    this.observer?.finish(this.now);
  }
}

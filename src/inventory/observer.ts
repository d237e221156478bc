// The inventory's view of the pipeline: a second FlowObserver beside the
// detector. Per flow it keeps a small pooled state (Flow.inv): whether the
// server answered, the confirmed protocol, the function classes used, the
// MACs of the first frame and the identity facts the protocol reported. At
// the flow's end (and at interim records) that becomes one flow event of
// numbers (flow-event.ts), handed over to the writer thread in buffers of
// thousands; the aggregation into assets, roles and services (Aggregator)
// and the database are there, off the packet thread.
import type { IdentityKind, ProtocolModule, Side } from '../dissectors/module.js';
import type { Dir } from '../dissectors/types.js';
import type { Packet } from '../decode/packet.js';
import type { EndReason, Flow } from '../flows/flow.js';
import type { FlowObserver } from '../detect/observer.js';
import { clientIp, clientPort, serverIp, serverPort } from '../output/flow-record.js';
import { type AppInfo, Ev, type EventBatch, EVENTS_PER_BUFFER, EvFlag, eventBuffer, FactCode, INLINE_FACTS } from './flow-event.js';

/** Identity facts kept per flow (a module may report the same fact every PDU: only new ones are kept). */
const MAX_FLOW_FACTS = 16;

class FlowInv {
  answered = false;
  /** The confirmed protocol's index in the observer's apps table (-1: none). */
  app = -1;
  classes = 0;
  /** First frame: source and destination MAC (hi 16 bits, lo 32 bits); macHi -1 when none. */
  srcHi = -1;
  srcLo = 0;
  dstHi = -1;
  dstLo = 0;
  /** Whether the first frame's source was the client, and the roles then. */
  srcWasClient = true;
  clientIsA0 = true;
  /** Already counted in its service's flows (by an interim record of a long flow). */
  counted = false;
  nfacts = 0;
  /** Side, kind and key of each fact as a FactCode. */
  readonly fCode: number[] = [];
  readonly fValue: (string | number)[] = [];

  reset(): void {
    this.answered = false;
    this.app = -1;
    this.classes = 0;
    this.srcHi = -1;
    this.srcLo = 0;
    this.dstHi = -1;
    this.dstLo = 0;
    this.srcWasClient = true;
    this.clientIsA0 = true;
    this.counted = false;
    this.nfacts = 0;
  }

  fact(code: number, value: string | number): void {
    const n = this.nfacts;
    for (let i = 0; i < n; i++) {
      if (this.fCode[i] === code && this.fValue[i] === value) return;
    }
    if (n >= MAX_FLOW_FACTS) return;
    this.fCode[n] = code;
    this.fValue[n] = value;
    this.nfacts = n + 1;
  }
}

/** Where the observer hands its events: the writer thread's channel. */
export interface EventSink {
  /** Takes the events (done with `b` when it returns: cloned to the writer, its buffer transferred, or applied). */
  take(b: EventBatch): void;
  /** A buffer the writer is done with, to fill again (null: none yet). */
  spare(): Float64Array | null;
}

export interface InventoryObserverOptions {
  /** The engine's reused Packet, read at flowStart for the first frame's MACs (null: no MACs). */
  packet: Packet | null;
  sink: EventSink;
}

export class InventoryObserver implements FlowObserver {
  private readonly pool: FlowInv[] = [];
  /** The hand-over being filled; one object, reused. */
  private readonly out: EventBatch = { events: eventBuffer(), count: 0, side: [], apps: [], keys: [], alerts: [], clock: 0 };
  /** Protocols by the index events carry. */
  private readonly apps: ProtocolModule[] = [];
  /** Fact keys by the index fact codes carry. */
  private readonly keys = new Map<string, number>();
  /** Newest capture time seen, and as last handed over. */
  private clock = 0;
  private sentClock = 0;
  /** Hand-overs since the owner last reset it (the session: since its last write). */
  handedOver = 0;
  /** Finish hook (the session's final write), set by the owner. */
  onFinish: ((ts: number) => void) | null = null;

  constructor(private readonly opts: InventoryObserverOptions) {}

  flowStart(f: Flow, ts: number): void {
    const st = this.pool.pop() ?? new FlowInv();
    st.reset();
    f.inv = st;
    if (ts > this.clock) this.clock = ts;
    const p = this.opts.packet;
    if (p !== null && p.macOff >= 0) {
      const b = p.buf;
      const o = p.macOff;
      st.dstHi = (b[o] << 8) | b[o + 1];
      st.dstLo = b.readInt32BE(o + 2);
      st.srcHi = (b[o + 6] << 8) | b[o + 7];
      st.srcLo = b.readInt32BE(o + 8);
      st.clientIsA0 = f.clientIsA;
      st.srcWasClient =
        p.sport !== p.dport ? p.sport === clientPort(f) : f.ipVersion !== 4 || b.readInt32BE(p.srcOff) === (f.clientIsA ? f.a0 : f.b0);
    }
  }

  serverAnswered(f: Flow): void {
    const st = f.inv as FlowInv | null;
    if (st !== null) st.answered = true;
  }

  appConfirmed(f: Flow, mod: ProtocolModule): void {
    const st = f.inv as FlowInv | null;
    if (st !== null) st.app = this.appIndex(mod);
  }

  appUnknown(): void {}

  pdu(f: Flow, _mod: ProtocolModule, _dir: Dir, fc: number, cls: number): void {
    const st = f.inv as FlowInv | null;
    if (st !== null && fc >= 0 && cls >= 0) st.classes |= 1 << cls;
  }

  /** What the flow's protocol module reported about one side (addresses, device
   *  identity). Roles come from the module's roleTerms on the writer thread. */
  identity(f: Flow, _mod: ProtocolModule, side: Side, kind: IdentityKind, key: string, value: string | number): void {
    const st = f.inv as FlowInv | null;
    if (kind === 'role' || st === null) return;
    let k = this.keys.get(key);
    if (k === undefined) {
      k = this.keys.size;
      this.keys.set(key, k);
      this.out.keys.push(key);
    }
    st.fact((side === 'server' ? FactCode.Server : 0) | (kind === 'identity' ? FactCode.Identity : 0) | (k << FactCode.KeyShift), value);
  }

  flowEnd(f: Flow, _reason: EndReason, ts: number): void {
    const st = f.inv as FlowInv | null;
    if (st === null) return;
    f.inv = null;
    this.record(f, st);
    this.pool.push(st);
    if (ts > this.clock) this.clock = ts;
  }

  /** A long flow (live: a polling connection open for days) is recorded at each interim record, not only at its end. */
  flowInterim(f: Flow, ts: number): void {
    const st = f.inv as FlowInv | null;
    if (st === null) return;
    this.record(f, st);
    if (ts > this.clock) this.clock = ts;
  }

  finish(ts: number): void {
    if (ts > this.clock) this.clock = ts;
    this.onFinish?.(ts);
  }

  /** An alert record of the detector (a JSON line), stored with the next hand-over. */
  alert(line: string): void {
    this.out.alerts.push(line);
  }

  /** Hands what has accumulated to the writer thread (nothing when nothing is new). */
  handOver(): void {
    const b = this.out;
    if (b.count === 0 && b.alerts.length === 0 && b.apps.length + b.keys.length === 0 && this.clock === this.sentClock) return;
    b.clock = this.clock;
    this.opts.sink.take(b);
    this.handedOver++;
    this.sentClock = this.clock;
    b.events = this.opts.sink.spare() ?? eventBuffer();
    b.count = 0;
    b.side.length = 0;
    b.apps.length = 0;
    b.keys.length = 0;
    b.alerts.length = 0;
  }

  private appIndex(mod: ProtocolModule): number {
    let i = this.apps.indexOf(mod);
    if (i < 0) {
      i = this.apps.length;
      this.apps.push(mod);
      const info: AppInfo = [mod.name, mod.roleTerms[0], mod.roleTerms[1]];
      this.out.apps.push(info);
    }
    return i;
  }

  /** The flow as one event: every field is written (the buffer is reused). */
  private record(f: Flow, st: FlowInv): void {
    if (this.out.count === EVENTS_PER_BUFFER) this.handOver();
    const b = this.out;
    const ev = b.events;
    const o = b.count++ * Ev.Size;
    let flags = f.isTcp ? EvFlag.Tcp : 0;
    if (f.ipVersion === 4) {
      flags |= EvFlag.V4;
      ev[o + Ev.Client] = f.clientIsA ? f.a0 : f.b0;
      ev[o + Ev.Server] = f.clientIsA ? f.b0 : f.a0;
    } else {
      ev[o + Ev.Client] = b.side.push(clientIp(f)) - 1;
      ev[o + Ev.Server] = b.side.push(serverIp(f)) - 1;
    }
    if (f.pktsC2S > 0) flags |= EvFlag.FromClient;
    if (f.pktsS2C > 0) flags |= EvFlag.FromServer;
    // serverAnswered fires at packet time; when the dissector swaps the roles later (a capture that starts with a
    // response), the final server's payload or UDP reply is the answer.
    if (st.answered || (f.isTcp ? f.payS2C > 0 : f.pktsS2C > 0)) {
      flags |= EvFlag.Answered;
      if (st.counted) flags |= EvFlag.Counted;
      st.counted = true;
    }
    if (st.srcHi >= 0) {
      flags |= EvFlag.Mac;
      if (st.srcWasClient === (f.clientIsA === st.clientIsA0)) flags |= EvFlag.SrcIsClient;
      ev[o + Ev.SrcHi] = st.srcHi;
      ev[o + Ev.SrcLo] = st.srcLo;
      ev[o + Ev.DstHi] = st.dstHi;
      ev[o + Ev.DstLo] = st.dstLo;
    }
    ev[o + Ev.Vlan] = f.vlan;
    ev[o + Ev.Flags] = flags;
    ev[o + Ev.ServerPort] = serverPort(f);
    ev[o + Ev.App] = st.app;
    ev[o + Ev.Classes] = st.classes;
    ev[o + Ev.First] = f.firstTs;
    ev[o + Ev.Last] = f.lastTs;
    const n = st.app >= 0 ? st.nfacts : 0; // facts count for a confirmed protocol only
    ev[o + Ev.Facts] = n;
    for (let i = 0; i < n && i < INLINE_FACTS; i++) {
      const v = st.fValue[i];
      const text = typeof v !== 'number';
      ev[o + Ev.Fact0 + 2 * i] = text ? st.fCode[i] | FactCode.Text : st.fCode[i];
      ev[o + Ev.Value0 + 2 * i] = text ? b.side.push(v) - 1 : v;
    }
    ev[o + Ev.FactsAt] = b.side.length;
    for (let i = INLINE_FACTS; i < n; i++) b.side.push(st.fCode[i], st.fValue[i]);
  }
}

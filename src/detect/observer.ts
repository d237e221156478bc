// What detection (and later the inventory) sees of the pipeline. The engine
// calls these at the points where a new fact can appear; a detector
// (src/detect) turns facts into alerts. Observers get small facts, never
// PDU objects: a sharded run ships the same facts between threads.
import type { IdentityKind, ProtocolModule, Side } from '../dissectors/module.js';
import type { Dir } from '../dissectors/types.js';
import type { EndReason, Flow } from '../flows/flow.js';

export interface FlowObserver {
  /** First packet of a new flow (roles assigned from SYN or ports). */
  flowStart(f: Flow, ts: number): void;
  /** Once per flow: the server side answered (SYN-ACK, or its first payload
   *  or datagram). A SYN answered only by RST never gets here. */
  serverAnswered(f: Flow, ts: number): void;
  /** The flow's application protocol was confirmed by content. */
  appConfirmed(f: Flow, mod: ProtocolModule, ts: number): void;
  /** Identification gave up: the flow speaks none of the known protocols. */
  appUnknown(f: Flow, ts: number): void;
  /** Every application PDU: its function code (-1: none) and the module's
   *  class of it for a client's PDU (dir 0); -1 when fc is -1 or for the
   *  server's PDUs. */
  pdu(f: Flow, mod: ProtocolModule, dir: Dir, fc: number, cls: number, ts: number): void;
  /** What a PDU revealed about one side (module.identify, plus the role in
   *  the protocol's terms at confirmation). Optional: the engine calls
   *  identify only when some observer has this. */
  identity?(f: Flow, mod: ProtocolModule, side: Side, kind: IdentityKind, key: string, value: string | number, ts: number): void;
  flowEnd(f: Flow, reason: EndReason, ts: number): void;
  /** A flow still open after the active timeout (its interim record). Optional. */
  flowInterim?(f: Flow, ts: number): void;
  /** End of input or shutdown, after every flow has ended. */
  finish(ts: number): void;
}

/** Two observers as one, called in order (the detector, then the inventory). Two fields rather than a
 *  list: each call site then sees one kind of observer, which V8 inlines; a loop over a list made every
 *  flow callback polymorphic and cost the packet thread more than the inventory's own work. */
export class ObserverPair implements FlowObserver {
  identity?: FlowObserver['identity'];

  constructor(
    private readonly a: FlowObserver,
    private readonly b: FlowObserver,
  ) {
    const ia = a.identity?.bind(a);
    const ib = b.identity?.bind(b);
    if (ia !== undefined && ib !== undefined)
      this.identity = (f, mod, side, kind, key, value, ts) => {
        ia(f, mod, side, kind, key, value, ts);
        ib(f, mod, side, kind, key, value, ts);
      };
    else this.identity = ia ?? ib;
  }

  flowStart(f: Flow, ts: number): void {
    this.a.flowStart(f, ts);
    this.b.flowStart(f, ts);
  }
  serverAnswered(f: Flow, ts: number): void {
    this.a.serverAnswered(f, ts);
    this.b.serverAnswered(f, ts);
  }
  appConfirmed(f: Flow, mod: ProtocolModule, ts: number): void {
    this.a.appConfirmed(f, mod, ts);
    this.b.appConfirmed(f, mod, ts);
  }
  appUnknown(f: Flow, ts: number): void {
    this.a.appUnknown(f, ts);
    this.b.appUnknown(f, ts);
  }
  pdu(f: Flow, mod: ProtocolModule, dir: Dir, fc: number, cls: number, ts: number): void {
    this.a.pdu(f, mod, dir, fc, cls, ts);
    this.b.pdu(f, mod, dir, fc, cls, ts);
  }
  flowEnd(f: Flow, reason: EndReason, ts: number): void {
    this.a.flowEnd(f, reason, ts);
    this.b.flowEnd(f, reason, ts);
  }
  flowInterim(f: Flow, ts: number): void {
    this.a.flowInterim?.(f, ts);
    this.b.flowInterim?.(f, ts);
  }
  finish(ts: number): void {
    this.a.finish(ts);
    this.b.finish(ts);
  }
}

/** null, the one observer, or pairs of them (called in list order). */
export function observers(list: readonly (FlowObserver | null)[]): FlowObserver | null {
  const l = list.filter((o): o is FlowObserver => o !== null);
  if (l.length === 0) return null;
  let o = l[l.length - 1];
  for (let i = l.length - 2; i >= 0; i--) o = new ObserverPair(l[i], o);
  return o;
}

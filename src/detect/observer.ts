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

/** Several observers as one, called in order (the detector, the inventory). */
export class ObserverSet implements FlowObserver {
  identity?: FlowObserver['identity'];

  constructor(private readonly list: readonly FlowObserver[]) {
    const want = list.filter((o) => o.identity !== undefined);
    if (want.length > 0) {
      this.identity = (f, mod, side, kind, key, value, ts) => {
        for (const o of want) o.identity!(f, mod, side, kind, key, value, ts);
      };
    }
  }

  flowStart(f: Flow, ts: number): void {
    for (const o of this.list) o.flowStart(f, ts);
  }
  serverAnswered(f: Flow, ts: number): void {
    for (const o of this.list) o.serverAnswered(f, ts);
  }
  appConfirmed(f: Flow, mod: ProtocolModule, ts: number): void {
    for (const o of this.list) o.appConfirmed(f, mod, ts);
  }
  appUnknown(f: Flow, ts: number): void {
    for (const o of this.list) o.appUnknown(f, ts);
  }
  pdu(f: Flow, mod: ProtocolModule, dir: Dir, fc: number, cls: number, ts: number): void {
    for (const o of this.list) o.pdu(f, mod, dir, fc, cls, ts);
  }
  flowEnd(f: Flow, reason: EndReason, ts: number): void {
    for (const o of this.list) o.flowEnd(f, reason, ts);
  }
  flowInterim(f: Flow, ts: number): void {
    for (const o of this.list) o.flowInterim?.(f, ts);
  }
  finish(ts: number): void {
    for (const o of this.list) o.finish(ts);
  }
}

/** null, the one observer, or an ObserverSet of them. */
export function observers(list: readonly (FlowObserver | null)[]): FlowObserver | null {
  const l = list.filter((o): o is FlowObserver => o !== null);
  return l.length === 0 ? null : l.length === 1 ? l[0] : new ObserverSet(l);
}

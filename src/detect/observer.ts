// What detection sees of the pipeline. The engine calls these at the points
// where a new fact can appear; a detector (src/detect) turns facts into
// alerts. Dissectors never decide severity.
import type { Dir, Dissector, PduBase } from '../dissectors/types.js';
import type { EndReason, Flow } from '../flows/flow.js';

export interface FlowObserver {
  /** First packet of a new flow (roles assigned from SYN or ports). */
  flowStart(f: Flow, ts: number): void;
  /** Once per flow: the server side answered (SYN-ACK, or its first payload
   *  or datagram). A SYN answered only by RST never gets here. */
  serverAnswered(f: Flow, ts: number): void;
  /** The flow's application protocol was confirmed by content. */
  appConfirmed(f: Flow, d: Dissector, ts: number): void;
  /** Identification gave up: the flow speaks none of the known protocols. */
  appUnknown(f: Flow, ts: number): void;
  /** Every application PDU (valid only during the call). */
  pdu(f: Flow, d: Dissector, dir: Dir, pdu: PduBase, ts: number): void;
  /** A named protocol anomaly on a confirmed flow. */
  anomaly(f: Flow, d: Dissector, dir: Dir, name: string, ts: number): void;
  flowEnd(f: Flow, reason: EndReason, ts: number): void;
  /** A flow still open after the active timeout (its interim record). Optional. */
  flowInterim?(f: Flow, ts: number): void;
  /** End of input or shutdown, after every flow has ended. */
  finish(ts: number): void;
}

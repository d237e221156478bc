// TCP connection state of a flow, per packet: the handshake decides the
// roles (the SYN sender is the client, whatever the ports said), ISNs are
// kept for the stream layer, FIN and RST are recorded, and a flow whose
// connection is over is closed in the table. Called by the engine for every
// TCP packet, before the payload goes to the application layer; allocates
// nothing.
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/packet.js';
import { TcpSeen, type Flow } from './flow.js';
import type { FlowTable } from './flow-table.js';

/** A SYN on the tuple of a closed flow starts a new connection. */
export function isNewConnection(f: Flow, flags: number): boolean {
  return f.closed && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
}

/** Records one packet's flags on the flow (sent by endpoint A when srcIsA,
 *  c2s as the roles stood before it; seq as int32). Returns c2s as it stands after: a SYN
 *  or SYN-ACK may swap the roles. */
export function tcpPacket(f: Flow, srcIsA: boolean, c2s: boolean, flags: number, seq: number): boolean {
  if (flags & TCP_SYN) {
    if (srcIsA) {
      f.isnSeen |= 1;
      f.isnA = seq | 0;
    } else {
      f.isnSeen |= 2;
      f.isnB = seq | 0;
    }
    const fromClient = (flags & TCP_ACK) === 0;
    if (c2s !== fromClient && !f.rolesFixed) {
      f.swapRoles();
      c2s = !c2s;
    }
    f.rolesFixed = true;
    f.tcpSeen |= fromClient ? TcpSeen.SynC : TcpSeen.SynAckS;
  } else if (c2s && flags & TCP_ACK && f.tcpSeen & TcpSeen.SynAckS) {
    f.tcpSeen |= TcpSeen.AckC;
  }
  if (flags & TCP_FIN) f.tcpSeen |= c2s ? TcpSeen.FinC : TcpSeen.FinS;
  if (flags & TCP_RST) f.tcpSeen |= TcpSeen.Rst;
  return c2s;
}

/** After the packet's payload was handled: a RST, or FINs both ways, close
 *  the flow (its record is written when the table ends it). */
export function tcpMaybeClose(table: FlowTable, f: Flow, flags: number): void {
  if (f.closed) return;
  if (flags & TCP_RST) table.close(f, 'rst');
  else if ((f.tcpSeen & (TcpSeen.FinC | TcpSeen.FinS)) === (TcpSeen.FinC | TcpSeen.FinS)) table.close(f, 'fin');
}

/** Does this packet from the server answer the client? A SYN-ACK, payload
 *  (not on a RST), or any UDP datagram; a bare ACK or RST does not. */
export function isAnswer(isTcp: boolean, flags: number, payWireLen: number): boolean {
  return isTcp ? (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) || (payWireLen > 0 && (flags & TCP_RST) === 0) : true;
}

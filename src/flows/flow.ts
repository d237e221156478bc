// One bidirectional flow: VLAN ids + IP version + protocol + both endpoints.
// Endpoint "A" is the canonically lower (address, port); which of A/B is the
// client is decided separately and may be revised (see roles.ts).
import type { AppSession } from './app-session.js';

export const enum TcpSeen {
  SynC = 1, // SYN from the client
  SynAckS = 2, // SYN-ACK from the server
  FinC = 4,
  FinS = 8,
  Rst = 16,
  AckC = 32, // client ACK after the SYN-ACK: handshake complete
}

export type EndReason = 'fin' | 'rst' | 'idle' | 'active' | 'evicted' | 'eof' | 'shutdown';

export class Flow {
  // Key (A = canonical lower endpoint). IPv4 uses only a0/b0.
  hash = 0;
  ipVersion = 4;
  proto = 0;
  vlan = -1;
  innerVlan = -1;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0;
  b0 = 0; b1 = 0; b2 = 0; b3 = 0;
  aPort = 0;
  bPort = 0;
  /** Collision chain in the table's hash map. */
  chain: Flow | null = null;

  /** Roles: is endpoint A the client? */
  clientIsA = true;
  /** Roles came from a handshake (SYN) and must not be revised by content. */
  rolesFixed = false;

  // Intrusive list links: idle-order list (one of the table's lists) and active-timeout list.
  prev: Flow | null = null;
  next: Flow | null = null;
  listId = -1;
  aprev: Flow | null = null;
  anext: Flow | null = null;

  firstTs = 0;
  lastTs = 0;
  /** Start of the current active-timeout interval. */
  reportTs = 0;
  interimRecords = 0;

  pktsC2S = 0;
  pktsS2C = 0;
  /** IP bytes (header + payload) on the wire. */
  bytesC2S = 0;
  bytesS2C = 0;
  /** Transport payload bytes on the wire. */
  payC2S = 0;
  payS2C = 0;

  tcpSeen = 0;
  /** Initial sequence numbers from SYNs (bit 1: side A, bit 2: side B). */
  isnSeen = 0;
  isnA = 0;
  isnB = 0;
  closed = false;
  closeReason: EndReason = 'eof';
  truncatedPkts = 0;
  fragments = 0;

  /** Application layer: dissector identification, stream reassembly, PDUs. */
  app: AppSession | null = null;

  /** Cached strings, built once when the first record is emitted. */
  communityId: string | null = null;
  endpointsJson: string | null = null;

  get isTcp(): boolean {
    return this.proto === 6;
  }

  get handshake(): boolean {
    return (this.tcpSeen & (TcpSeen.SynC | TcpSeen.SynAckS)) === (TcpSeen.SynC | TcpSeen.SynAckS);
  }

  /** Swap client and server; cached role-dependent strings are rebuilt. */
  swapRoles(): void {
    this.clientIsA = !this.clientIsA;
    let t = this.pktsC2S; this.pktsC2S = this.pktsS2C; this.pktsS2C = t;
    t = this.bytesC2S; this.bytesC2S = this.bytesS2C; this.bytesS2C = t;
    t = this.payC2S; this.payC2S = this.payS2C; this.payS2C = t;
    let s = this.tcpSeen & ~(TcpSeen.FinC | TcpSeen.FinS);
    if (this.tcpSeen & TcpSeen.FinC) s |= TcpSeen.FinS;
    if (this.tcpSeen & TcpSeen.FinS) s |= TcpSeen.FinC;
    this.tcpSeen = s;
    this.endpointsJson = null;
  }

  /** TCP/UDP state summary for the record. */
  stateName(): string {
    if (!this.isTcp) return this.pktsC2S > 0 && this.pktsS2C > 0 ? 'two_way' : 'one_way';
    const s = this.tcpSeen;
    if (s & TcpSeen.Rst) {
      if ((s & TcpSeen.SynC) && !(s & TcpSeen.SynAckS) && this.payC2S === 0) return 'rejected';
      return 'reset';
    }
    if ((s & TcpSeen.FinC) && (s & TcpSeen.FinS)) return 'closed';
    if (s & (TcpSeen.FinC | TcpSeen.FinS)) return 'half_closed';
    if (s & TcpSeen.SynAckS) return (s & TcpSeen.AckC) || this.payC2S + this.payS2C > 0 ? 'established' : 'syn_ack';
    if (s & TcpSeen.SynC) return this.pktsS2C > 0 ? 'established' : 'syn_sent';
    return 'midstream';
  }
}

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

export const END_REASONS: readonly EndReason[] = ['fin', 'rst', 'idle', 'active', 'evicted', 'eof', 'shutdown'];
const EOF_REASON = 5;

// Flow.bits: small state packed into one small integer. A table holds up to
// 500 k flows and V8 (built here without pointer compression) spends 8 bytes
// on every field, so the flags share one: the TCP flags seen (tcpSeen, bits
// 0-5), the observers' "answered" (bit 10), then the others.
const TCP_MASK = 0x3f;
const B_ANSWERED = 1 << 10;
const B_CLIENT_IS_A = 1 << 11;
const B_ROLES_FIXED = 1 << 12;
const B_CLOSED = 1 << 13;
const S_LIST = 14; // listId + 1, 2 bits
const S_ISN = 16; // isnSeen, 2 bits
const S_REASON = 18; // closeReason index, 3 bits
const BITS_NEW = B_CLIENT_IS_A | (EOF_REASON << S_REASON);

/** Counters that stay 0 for nearly every flow, kept aside. */
class RareCounts {
  truncatedPkts = 0;
  fragments = 0;
  interimRecords = 0;
}

export class Flow {
  // Key (A = canonical lower endpoint). Address words and ISNs are stored as
  // int32 (`| 0`, see FlowTable.get): an unsigned word above 2^31 is a
  // double, which V8 boxes per field. Read them `>>> 0` where it matters.
  /** proto | ipVersion << 8 */
  kind = 4 << 8;
  /** (vlan + 1) | (innerVlan + 1) << 13: -1 (untagged) packs as 0. */
  vl = 0;
  a0 = 0;
  b0 = 0;
  /** IPv6 only: words 1..3 of A then of B (null for IPv4 flows). */
  w6: Int32Array | null = null;
  /** aPort << 16 | bPort */
  ports = 0;
  /** Collision chain in the table's hash map. */
  chain: Flow | null = null;
  bits = BITS_NEW;

  // Intrusive list links: idle-order list (one of the table's lists) and active-timeout list.
  prev: Flow | null = null;
  next: Flow | null = null;
  aprev: Flow | null = null;
  anext: Flow | null = null;

  firstTs = 0;
  lastTs = 0;
  /** Start of the current active-timeout interval. */
  reportTs = 0;

  pktsC2S = 0;
  pktsS2C = 0;
  /** IP bytes (header + payload) on the wire. */
  bytesC2S = 0;
  bytesS2C = 0;
  /** Transport payload bytes on the wire. */
  payC2S = 0;
  payS2C = 0;

  /** Initial sequence numbers from SYNs (see isnSeen). */
  isnA = 0;
  isnB = 0;
  rare: RareCounts | null = null;

  /** Application layer: dissector identification, stream reassembly, PDUs. */
  app: AppSession | null = null;

  /** Endpoint text for records, cached once a flow emits several (PDUs). */
  endpointsJson: string | null = null;

  /** The observer's (detector's) per-flow state: a field, not a Map lookup per event. */
  det: unknown = null;
  /** The inventory's per-flow state (src/inventory), beside the detector's. */
  inv: unknown = null;
  /** What the module's identity hook last reported, as a number it chose (IdentitySink.repeated); -1: nothing. */
  idLast = -1;

  /** Back to the state of `new Flow()`: the table reuses ended flows, so
   *  evicted and expired ones are not garbage promoted to the old generation
   *  (a scan would otherwise grow the heap far past the live flows). Every
   *  field is listed; test/flows/flow-pool.test.ts checks none is missed. */
  reset(): void {
    this.kind = 4 << 8;
    this.vl = 0;
    this.a0 = 0;
    this.b0 = 0;
    if (this.w6 !== null) this.w6.fill(0); // kept: reads as zeros, reused by the next IPv6 flow
    this.ports = 0;
    this.chain = null;
    this.bits = BITS_NEW;
    this.prev = null;
    this.next = null;
    this.aprev = null;
    this.anext = null;
    this.firstTs = 0;
    this.lastTs = 0;
    this.reportTs = 0;
    this.pktsC2S = 0;
    this.pktsS2C = 0;
    this.bytesC2S = 0;
    this.bytesS2C = 0;
    this.payC2S = 0;
    this.payS2C = 0;
    this.isnA = 0;
    this.isnB = 0;
    this.rare = null;
    this.app = null;
    this.endpointsJson = null;
    this.det = null;
    this.inv = null;
    this.idLast = -1;
  }

  get aPort(): number {
    return this.ports >>> 16;
  }
  set aPort(v: number) {
    this.ports = (this.ports & 0xffff) | (v << 16);
  }
  get bPort(): number {
    return this.ports & 0xffff;
  }
  set bPort(v: number) {
    this.ports = (this.ports & ~0xffff) | v;
  }
  /** TcpSeen bits. */
  get tcpSeen(): number {
    return this.bits & TCP_MASK;
  }
  set tcpSeen(v: number) {
    this.bits = (this.bits & ~TCP_MASK) | (v & TCP_MASK);
  }
  get truncatedPkts(): number {
    return this.rare === null ? 0 : this.rare.truncatedPkts;
  }
  set truncatedPkts(v: number) {
    (this.rare ??= new RareCounts()).truncatedPkts = v;
  }
  get fragments(): number {
    return this.rare === null ? 0 : this.rare.fragments;
  }
  set fragments(v: number) {
    (this.rare ??= new RareCounts()).fragments = v;
  }
  get interimRecords(): number {
    return this.rare === null ? 0 : this.rare.interimRecords;
  }
  set interimRecords(v: number) {
    (this.rare ??= new RareCounts()).interimRecords = v;
  }

  get proto(): number {
    return this.kind & 0xff;
  }
  set proto(v: number) {
    this.kind = (this.kind & ~0xff) | v;
  }
  get ipVersion(): number {
    return this.kind >> 8;
  }
  set ipVersion(v: number) {
    this.kind = (this.kind & 0xff) | (v << 8);
  }
  get vlan(): number {
    return (this.vl & 0x1fff) - 1;
  }
  set vlan(v: number) {
    this.vl = (this.vl & ~0x1fff) | (v + 1);
  }
  get innerVlan(): number {
    return (this.vl >> 13) - 1;
  }
  set innerVlan(v: number) {
    this.vl = (this.vl & 0x1fff) | ((v + 1) << 13);
  }

  get a1(): number {
    return this.w6 === null ? 0 : this.w6[0];
  }
  set a1(v: number) {
    if (v !== 0 || this.w6 !== null) this.words()[0] = v;
  }
  get a2(): number {
    return this.w6 === null ? 0 : this.w6[1];
  }
  set a2(v: number) {
    if (v !== 0 || this.w6 !== null) this.words()[1] = v;
  }
  get a3(): number {
    return this.w6 === null ? 0 : this.w6[2];
  }
  set a3(v: number) {
    if (v !== 0 || this.w6 !== null) this.words()[2] = v;
  }
  get b1(): number {
    return this.w6 === null ? 0 : this.w6[3];
  }
  set b1(v: number) {
    if (v !== 0 || this.w6 !== null) this.words()[3] = v;
  }
  get b2(): number {
    return this.w6 === null ? 0 : this.w6[4];
  }
  set b2(v: number) {
    if (v !== 0 || this.w6 !== null) this.words()[4] = v;
  }
  get b3(): number {
    return this.w6 === null ? 0 : this.w6[5];
  }
  set b3(v: number) {
    if (v !== 0 || this.w6 !== null) this.words()[5] = v;
  }
  private words(): Int32Array {
    return (this.w6 ??= new Int32Array(6));
  }
  /** All six IPv6 words at once; an IPv6 flow always has w6 (the table compares it). */
  setV6(a1: number, a2: number, a3: number, b1: number, b2: number, b3: number): void {
    const w = this.words();
    w[0] = a1;
    w[1] = a2;
    w[2] = a3;
    w[3] = b1;
    w[4] = b2;
    w[5] = b3;
  }

  /** Roles: is endpoint A the client? */
  get clientIsA(): boolean {
    return (this.bits & B_CLIENT_IS_A) !== 0;
  }
  set clientIsA(v: boolean) {
    this.bits = v ? this.bits | B_CLIENT_IS_A : this.bits & ~B_CLIENT_IS_A;
  }
  /** Roles came from a handshake (SYN) and must not be revised by content. */
  get rolesFixed(): boolean {
    return (this.bits & B_ROLES_FIXED) !== 0;
  }
  set rolesFixed(v: boolean) {
    this.bits = v ? this.bits | B_ROLES_FIXED : this.bits & ~B_ROLES_FIXED;
  }
  /** The observers were told the server answered (FlowObserver.serverAnswered): once per flow. */
  get answered(): boolean {
    return (this.bits & B_ANSWERED) !== 0;
  }
  set answered(v: boolean) {
    this.bits = v ? this.bits | B_ANSWERED : this.bits & ~B_ANSWERED;
  }
  get closed(): boolean {
    return (this.bits & B_CLOSED) !== 0;
  }
  set closed(v: boolean) {
    this.bits = v ? this.bits | B_CLOSED : this.bits & ~B_CLOSED;
  }
  /** Which of the table's idle lists holds the flow (-1: none). */
  get listId(): number {
    return ((this.bits >> S_LIST) & 3) - 1;
  }
  set listId(v: number) {
    this.bits = (this.bits & ~(3 << S_LIST)) | ((v + 1) << S_LIST);
  }
  /** SYN initial sequence numbers seen (bit 1: side A, bit 2: side B). */
  get isnSeen(): number {
    return (this.bits >> S_ISN) & 3;
  }
  set isnSeen(v: number) {
    this.bits = (this.bits & ~(3 << S_ISN)) | ((v & 3) << S_ISN);
  }
  get closeReason(): EndReason {
    return END_REASONS[(this.bits >> S_REASON) & 7];
  }
  set closeReason(v: EndReason) {
    this.bits = (this.bits & ~(7 << S_REASON)) | (END_REASONS.indexOf(v) << S_REASON);
  }

  get isTcp(): boolean {
    return this.proto === 6;
  }

  /** What detection reads of the application layer: 0 no session, 1 a
   *  session with no protocol chosen, 2 a protocol tentative or confirmed. */
  get appStage(): number {
    return this.app === null ? 0 : this.app.d === null ? 1 : 2;
  }

  get handshake(): boolean {
    return (this.tcpSeen & (TcpSeen.SynC | TcpSeen.SynAckS)) === (TcpSeen.SynC | TcpSeen.SynAckS);
  }

  /** Swap client and server; cached role-dependent strings are rebuilt. */
  swapRoles(): void {
    this.clientIsA = !this.clientIsA;
    let t = this.pktsC2S;
    this.pktsC2S = this.pktsS2C;
    this.pktsS2C = t;
    t = this.bytesC2S;
    this.bytesC2S = this.bytesS2C;
    this.bytesS2C = t;
    t = this.payC2S;
    this.payC2S = this.payS2C;
    this.payS2C = t;
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
      if (s & TcpSeen.SynC && !(s & TcpSeen.SynAckS) && this.payC2S === 0) return 'rejected';
      return 'reset';
    }
    if (s & TcpSeen.FinC && s & TcpSeen.FinS) return 'closed';
    if (s & (TcpSeen.FinC | TcpSeen.FinS)) return 'half_closed';
    if (s & TcpSeen.SynAckS) return s & TcpSeen.AckC || this.payC2S + this.payS2C > 0 ? 'established' : 'syn_ack';
    if (s & TcpSeen.SynC) return this.pktsS2C > 0 ? 'established' : 'syn_sent';
    return 'midstream';
  }
}

// EtherNet/IP encapsulation and CIP (ODVA CIP Vol. 1 and Vol. 2).
//
// Encapsulation header, 24 bytes little-endian: command u16, length u16 (data
// bytes after the header, <= 65 511), session u32, status u32, sender context
// 8 bytes, options u32 (must be 0). SendRRData/SendUnitData carry an
// interface handle u32, a timeout u16 and the common packet format (CPF):
// item count u16, then items (type u16, length u16, data). The data item
// (0xB2 unconnected, 0xB1 connected with a 2-byte sequence count first) holds
// one CIP message:
//   request  service u8, path size u8 (16-bit words), EPATH, data
//   response service|0x80, reserved, general status u8, ext status size u8
//            (words), ext status, data
// Multiple Service Packet (0x0A) is expanded into one PDU per embedded
// service; Unconnected Send (0x52 to the Connection Manager) is unwrapped to
// its embedded request. Implicit I/O on udp/2222 has no encapsulation: one
// datagram is a bare CPF (sequenced address 0x8002 + connected data 0xB1).
//
// Framing follows the encapsulation length only; a bad header (length,
// command, options) leaves no frame boundary: parse returns -1 and the stream
// layer resynchronises with `probe`.
import { u16le as u16, u32le as u32 } from '../../capture/bytes.js';
import type { Dir, ParseCtx, PduBase } from '../types.js';
import { anchorBytes, Probe, S2C, STATE_POOL_MAX } from '../types.js';
import { CodeCounts } from '../code-counts.js';
import { CONNECTION_MANAGER, ENCAP_FC, IO_FC } from './functions.js';
import type { EnipAnomaly } from './anomalies.js';

export const HEADER = 24;
export const MAX_LENGTH = 65511;
/** Items read from one CPF; real messages have 2 (4 with sockaddr items). */
const MAX_ITEMS = 16;
/** Symbolic segments kept per request path (a Logix tag is 1-4). */
export const MAX_TAG_SEGS = 8;
/** Nesting of Unconnected Send / Multiple Service Packet unwrapped. */
const MAX_DEPTH = 3;
/** Implicit I/O connections whose sequence is tracked per flow. */
export const MAX_IO_CONNS = 16;
/** Requests waiting for their response per flow, and services remembered
 *  per request (a Multiple Service Packet's first ones). */
export const MAX_PENDING = 8;
export const PENDING_SERVICES = 16;
/** Per remembered service: service, class, instance, attribute, member. */
const PS = 5;

// Commands (Vol. 2, table 2-3.2).
export const NOP = 0x00;
/** Reserved for legacy use by the spec; RSLinx still sends it before ListServices. */
export const LIST_TARGETS = 0x01;
export const LIST_SERVICES = 0x04;
export const LIST_IDENTITY = 0x63;
export const LIST_INTERFACES = 0x64;
export const REGISTER_SESSION = 0x65;
export const UNREGISTER_SESSION = 0x66;
export const SEND_RR_DATA = 0x6f;
export const SEND_UNIT_DATA = 0x70;
const INDICATE_STATUS = 0x72;
const CANCEL = 0x73;

/** Commands parse accepts (low byte; the high byte is 0). */
const CMD_KNOWN = anchorBytes(
  NOP,
  LIST_TARGETS,
  LIST_SERVICES,
  LIST_IDENTITY,
  LIST_INTERFACES,
  REGISTER_SESSION,
  UNREGISTER_SESSION,
  SEND_RR_DATA,
  SEND_UNIT_DATA,
  INDICATE_STATUS,
  CANCEL,
);
/** First bytes probe accepts: the commands a stream is found by (NOP,
 *  IndicateStatus and Cancel are too weak or too rare to identify on), and
 *  0x02, the item count of an implicit I/O datagram. */
export const PROBE_FIRST = anchorBytes(
  LIST_SERVICES,
  LIST_IDENTITY,
  LIST_INTERFACES,
  REGISTER_SESSION,
  UNREGISTER_SESSION,
  SEND_RR_DATA,
  SEND_UNIT_DATA,
  0x02,
);
/** Encapsulation status values of the spec (0 success, 1-3, 0x64, 0x65, 0x69). */
const STATUS_OK = anchorBytes(0x00, 0x01, 0x02, 0x03, 0x64, 0x65, 0x69);

// CPF item types.
const ITEM_NULL = 0x0000;
const ITEM_IDENTITY = 0x000c;
const ITEM_CONNECTED_ADDR = 0x00a1;
const ITEM_CONNECTED_DATA = 0x00b1;
const ITEM_UNCONNECTED_DATA = 0x00b2;
const ITEM_SEQUENCED_ADDR = 0x8002;

const MSP = 0x0a;
const UNCONNECTED_SEND = 0x52;
const FORWARD_OPEN = 0x54;
const LARGE_FORWARD_OPEN = 0x5b;
const FORWARD_CLOSE = 0x4e;

/** One PDU: an encapsulation message, one CIP service of it, or one I/O
 *  datagram. Reused: valid only during `emit`. Numeric fields are -1 when
 *  the message lacks them (null in the record). */
export interface EnipPdu extends PduBase {
  /** Implicit I/O datagram (no encapsulation header). */
  io: boolean;
  command: number;
  length: number;
  session: number;
  status: number;
  /** CIP service, response bit cleared; -1 for encapsulation-only messages. */
  service: number;
  /** CIP response bit; for messages without CIP, sent by the server. */
  resp: boolean;
  cipClass: number;
  instance: number;
  attribute: number;
  member: number;
  /** Symbolic segments of the request path: offsets into `buf`. */
  tagN: number;
  tagOff: Int32Array;
  tagLen: Int32Array;
  generalStatus: number;
  extStatus: number;
  /** CPF address item: connection id (0xA1 or 0x8002), sequence (0x8002). */
  connId: number;
  seq: number;
  /** Connected data item's CIP sequence count. */
  cipSeq: number;
  /** Index of the service inside a Multiple Service Packet, else -1. */
  mspIndex: number;
  /** Came out of an Unconnected Send. */
  routed: boolean;
  // Forward_Open / Large_Forward_Open (request and success reply), Forward_Close.
  otConnId: number;
  toConnId: number;
  otRpi: number;
  toRpi: number;
  connSerial: number;
  // ListIdentity reply.
  vendor: number;
  deviceType: number;
  productCode: number;
  revMajor: number;
  revMinor: number;
  serial: number;
  nameOff: number;
  nameLen: number;
  state: number;
  /** The bytes tag and name offsets point into (the buffer being parsed). */
  buf: Buffer | null;
}

/** One implicit I/O connection's last sequence, per direction. */
interface IoConn {
  id: Float64Array;
  seq: Float64Array;
  dir: Uint8Array;
  n: number;
  next: number;
}

export interface EnipState {
  pdu: EnipPdu;
  /** Messages per encapsulation command (low byte). */
  commands: CodeCounts;
  /** CIP services (response bit cleared), requests and responses. */
  services: CodeCounts;
  requests: number;
  responses: number;
  /** CIP responses with a non-zero general status, and encapsulation replies
   *  with a non-zero status. */
  errors: number;
  /** Implicit I/O datagrams. */
  io: number;
  ioConns: IoConn;
  /** Last session handle registered or used (0 none). */
  session: number;
  pending: Pending;
  /** The message being parsed: its pairing key (see Pending) and, for a
   *  request, its slot once one is taken (-1 before). */
  msgK1: number;
  msgK2: number;
  msgSlot: number;
}

/** Requests waiting for their response, so a response (which carries no
 *  path) reports the class, instance, attribute and member it answers.
 *  Key: the CIP sequence count for connected messages (k2 = -1), the sender
 *  context for unconnected ones. Bounded: the oldest is replaced. */
interface Pending {
  k1: Int32Array;
  k2: Int32Array;
  used: Uint8Array;
  age: Float64Array;
  /** PENDING_SERVICES x PS per slot. */
  info: Int32Array;
  tick: number;
}

export function newPdu(): EnipPdu {
  return {
    fc: -1,
    io: false,
    command: -1,
    length: -1,
    session: -1,
    status: -1,
    service: -1,
    resp: false,
    cipClass: -1,
    instance: -1,
    attribute: -1,
    member: -1,
    tagN: 0,
    tagOff: new Int32Array(MAX_TAG_SEGS),
    tagLen: new Int32Array(MAX_TAG_SEGS),
    generalStatus: -1,
    extStatus: -1,
    connId: -1,
    seq: -1,
    cipSeq: -1,
    mspIndex: -1,
    routed: false,
    otConnId: -1,
    toConnId: -1,
    otRpi: -1,
    toRpi: -1,
    connSerial: -1,
    vendor: -1,
    deviceType: -1,
    productCode: -1,
    revMajor: -1,
    revMinor: -1,
    serial: -1,
    nameOff: -1,
    nameLen: 0,
    state: -1,
    buf: null,
  };
}

/** One PDU object for every flow: valid only during ctx.emit, and parsing is
 *  synchronous. */
const SHARED_PDU = newPdu();

function clearCip(p: EnipPdu): void {
  p.fc = -1;
  p.service = -1;
  p.cipClass = p.instance = p.attribute = p.member = -1;
  p.tagN = 0;
  p.generalStatus = p.extStatus = -1;
  p.mspIndex = -1;
  p.routed = false;
  p.otConnId = p.toConnId = p.otRpi = p.toRpi = p.connSerial = -1;
}

function clearMessage(p: EnipPdu): void {
  clearCip(p);
  p.io = false;
  p.connId = p.seq = p.cipSeq = -1;
  p.vendor = p.deviceType = p.productCode = p.revMajor = p.revMinor = p.serial = p.nameOff = p.state = -1;
  p.nameLen = 0;
}

// ---------------------------------------------------------------- probe

/** An implicit I/O datagram filling buf[off, off+len) exactly: item count 2,
 *  sequenced address (8 bytes), connected data to the end. */
export function isIoDatagram(b: Buffer, off: number, len: number): boolean {
  return (
    len >= 18 &&
    b[off] === 2 &&
    b[off + 1] === 0 &&
    b[off + 2] === 0x02 &&
    b[off + 3] === 0x80 &&
    b[off + 4] === 8 &&
    b[off + 5] === 0 &&
    b[off + 14] === 0xb1 &&
    b[off + 15] === 0 &&
    18 + u16(b, off + 16) === len
  );
}

/** Visible bytes of an encapsulation header at buf[p, p+n) are plausible. */
function headerOk(b: Buffer, p: number, n: number): boolean {
  if (PROBE_FIRST[b[p]] === 0 || b[p] === 0x02) return false;
  if (n > 1 && b[p + 1] !== 0) return false;
  if (n > 3 && u16(b, p + 2) > MAX_LENGTH) return false;
  if (n > 8 && STATUS_OK[b[p + 8]] === 0) return false;
  for (let i = 9; i < 12 && i < n; i++) if (b[p + i] !== 0) return false;
  for (let i = 20; i < 24 && i < n; i++) if (b[p + i] !== 0) return false;
  return true;
}

const REQ = 1;
const RESP = 2;
const EITHER = 3;

/**
 * Strict recognition, cheap enough for every byte offset after a gap.
 *
 * Implicit I/O: the exact CPF shape of isIoDatagram (8 fixed bytes and a
 * length that ends exactly at the end of the bytes given: 2^-64 on random
 * data). Encapsulation: a command the stream is found by, options 0, status
 * from the spec's list with its upper three bytes 0, length <= 65 511, and
 * per command: RegisterSession version 1 and flags 0; List* requests empty,
 * replies with a CPF count of 1-16 and the command's item type; Send*Data
 * interface handle 0, item count 2-16, an address item of the right length
 * (null 0, connected 4, sequenced 8) followed by a data item (0xB1/0xB2)
 * that fits the message. Bytes after the message must start another
 * plausible header. Roles: a CIP response (or a List* reply, a
 * RegisterSession reply) seen C2S, or a request seen S2C, is MatchReversed.
 */
export function probe(buf: Buffer, off: number, len: number, dir: Dir): Probe {
  if (len <= 0) return Probe.NeedMore;
  if (PROBE_FIRST[buf[off]] === 0) return Probe.NoMatch;
  if (buf[off] === 0x02) return isIoDatagram(buf, off, len) ? Probe.Match : len < 18 ? Probe.NeedMore : Probe.NoMatch;
  if (!headerOk(buf, off, len)) return Probe.NoMatch;
  if (len < HEADER) return Probe.NeedMore;
  const cmd = buf[off];
  const l = u16(buf, off + 2);
  const total = HEADER + l;
  const d = off + HEADER;
  const session = u32(buf, off + 4);
  const status = buf[off + 8];
  let kind = EITHER;
  let want = total; // bytes the checks below need
  switch (cmd) {
    case REGISTER_SESSION:
      if (l !== 4) return Probe.NoMatch;
      if (len < total) return Probe.NeedMore;
      if (u16(buf, d) !== 1 || u16(buf, d + 2) !== 0) return Probe.NoMatch;
      kind = session === 0 && status === 0 ? REQ : RESP;
      break;
    case UNREGISTER_SESSION:
      if (l !== 0 || session === 0 || status !== 0) return Probe.NoMatch;
      kind = REQ;
      break;
    case LIST_IDENTITY:
    case LIST_SERVICES:
    case LIST_INTERFACES: {
      if (l === 0) {
        kind = REQ;
        break;
      }
      if (cmd === LIST_INTERFACES && l === 2) {
        if (len < total) return Probe.NeedMore;
        if (u16(buf, d) !== 0) return Probe.NoMatch;
        kind = RESP;
        break;
      }
      if (l < 6) return Probe.NoMatch;
      want = HEADER + 6;
      if (len < want) return Probe.NeedMore;
      const count = u16(buf, d);
      const type = u16(buf, d + 2);
      if (count < 1 || count > MAX_ITEMS) return Probe.NoMatch;
      if (cmd === LIST_IDENTITY ? type !== ITEM_IDENTITY : cmd === LIST_SERVICES ? type !== 0x0100 : false) return Probe.NoMatch;
      if (6 + u16(buf, d + 4) > l) return Probe.NoMatch;
      kind = RESP;
      break;
    }
    default: {
      // SendRRData, SendUnitData
      if (l < 16) return Probe.NoMatch;
      want = HEADER + 16;
      if (len < want) return Probe.NeedMore;
      if (u32(buf, d) !== 0) return Probe.NoMatch;
      const count = u16(buf, d + 6);
      if (count < 2 || count > MAX_ITEMS) return Probe.NoMatch;
      const at = u16(buf, d + 8);
      const al = u16(buf, d + 10);
      if (!(at === ITEM_NULL && al === 0) && !(at === ITEM_CONNECTED_ADDR && al === 4) && !(at === ITEM_SEQUENCED_ADDR && al === 8)) {
        return Probe.NoMatch;
      }
      const di = d + 12 + al;
      if (di + 4 > off + total) return Probe.NoMatch;
      want = di + 4 - off;
      if (len < want) return Probe.NeedMore;
      const dt = u16(buf, di);
      const dl = u16(buf, di + 2);
      if (dt !== ITEM_CONNECTED_DATA && dt !== ITEM_UNCONNECTED_DATA) return Probe.NoMatch;
      if (di + 4 + dl > off + total) return Probe.NoMatch;
      const svcAt = di + 4 + (dt === ITEM_CONNECTED_DATA ? 2 : 0);
      if (svcAt < di + 4 + dl) {
        want = svcAt + 1 - off;
        if (len < want) return Probe.NeedMore;
        kind = buf[svcAt] & 0x80 ? RESP : REQ;
      }
    }
  }
  if (len > total && !headerOk(buf, off + total, len - total)) return Probe.NoMatch;
  if (kind === EITHER) return Probe.Match;
  return (kind === RESP) === (dir === S2C) ? Probe.Match : Probe.MatchReversed;
}

// ---------------------------------------------------------------- state

const statePool: EnipState[] = [];

export function createState(): EnipState {
  return statePool.pop() ?? newState();
}

export function releaseState(st: EnipState): void {
  if (statePool.length >= STATE_POOL_MAX) return;
  st.commands.clear();
  st.services.clear();
  st.requests = st.responses = st.errors = st.io = 0;
  const t = st.ioConns;
  t.n = t.next = 0;
  t.id.fill(0);
  t.seq.fill(0);
  t.dir.fill(0);
  st.session = 0;
  const q = st.pending;
  q.k1.fill(0);
  q.k2.fill(0);
  q.used.fill(0);
  q.age.fill(0);
  q.info.fill(0);
  q.tick = 0;
  st.msgK1 = st.msgK2 = 0;
  st.msgSlot = -1;
  statePool.push(st);
}

function newState(): EnipState {
  return {
    pdu: SHARED_PDU,
    commands: new CodeCounts(256),
    services: new CodeCounts(128),
    requests: 0,
    responses: 0,
    errors: 0,
    io: 0,
    ioConns: {
      id: new Float64Array(MAX_IO_CONNS),
      seq: new Float64Array(MAX_IO_CONNS),
      dir: new Uint8Array(MAX_IO_CONNS),
      n: 0,
      next: 0,
    },
    session: 0,
    pending: {
      k1: new Int32Array(MAX_PENDING),
      k2: new Int32Array(MAX_PENDING),
      used: new Uint8Array(MAX_PENDING),
      age: new Float64Array(MAX_PENDING),
      info: new Int32Array(MAX_PENDING * PENDING_SERVICES * PS),
      tick: 0,
    },
    msgK1: 0,
    msgK2: 0,
    msgSlot: -1,
  };
}

// ---------------------------------------------------------------- CIP

/** Decodes the EPATH buf[p, end) into p's class/instance/attribute/member and
 *  symbolic segments (first of each). False when a segment runs past end or
 *  is of a type that cannot appear in a request path. */
function decodePath(pdu: EnipPdu, b: Buffer, p: number, end: number): boolean {
  while (p < end) {
    const seg = b[p];
    switch (seg >> 5) {
      case 0: {
        // port segment: port id, link address (size byte when bit 4), padded to even
        const ext = (seg & 0x10) !== 0;
        if (ext && p + 1 >= end) return false;
        let n = 1 + (ext ? 1 + b[p + 1] : 1) + ((seg & 0x0f) === 15 ? 2 : 0);
        n += n & 1;
        p += n;
        break;
      }
      case 1: {
        // logical segment
        const type = (seg >> 2) & 7;
        const fmt = seg & 3;
        if (type === 5) {
          // special: electronic key, format 4, 8 bytes
          p += 10;
          break;
        }
        if (type === 6) {
          // service id, 8-bit
          p += 2;
          break;
        }
        let v: number;
        if (fmt === 0) {
          if (p + 2 > end) return false;
          v = b[p + 1];
          p += 2;
        } else if (fmt === 1) {
          if (p + 4 > end) return false;
          v = u16(b, p + 2);
          p += 4;
        } else if (fmt === 2) {
          if (p + 6 > end) return false;
          v = u32(b, p + 2);
          p += 6;
        } else return false;
        // The first of each kind: later ones address inside it (e.g. a connection path's).
        if (type === 0) {
          if (pdu.cipClass < 0) pdu.cipClass = v;
        } else if (type === 1) {
          if (pdu.instance < 0) pdu.instance = v;
        } else if (type === 2) {
          if (pdu.member < 0) pdu.member = v;
        } else if (type === 4) {
          if (pdu.attribute < 0) pdu.attribute = v;
        }
        break;
      }
      case 2: // network segment: one data byte, or a word count when bit 4 is set
        if (seg & 0x10) {
          if (p + 1 >= end) return false;
          p += 2 + 2 * b[p + 1];
        } else p += 2;
        break;
      case 3: {
        // symbolic segment: size in the low 5 bits, padded to even
        const n = seg & 0x1f;
        if (n === 0) return false; // extended string formats: not in request paths we decode
        if (p + 1 + n > end) return false;
        addTag(pdu, p + 1, n);
        p += 1 + n + ((1 + n) & 1);
        break;
      }
      case 4: // data segment: 0x91 ANSI extended symbol, 0x80 simple data
        if (p + 1 >= end) return false;
        if (seg === 0x91) {
          const n = b[p + 1];
          if (p + 2 + n > end) return false;
          addTag(pdu, p + 2, n);
          p += 2 + n + (n & 1);
        } else if (seg === 0x80) {
          p += 2 + 2 * b[p + 1];
        } else return false;
        break;
      default:
        return false;
    }
  }
  return p === end || p === end + 1; // a pad byte may be implied at the end
}

function addTag(pdu: EnipPdu, off: number, n: number): void {
  if (pdu.tagN >= MAX_TAG_SEGS) return;
  pdu.tagOff[pdu.tagN] = off;
  pdu.tagLen[pdu.tagN] = n;
  pdu.tagN++;
}

/** Emits one CIP service (or its expansion) at buf[p, end). */
function decodeCip(
  st: EnipState,
  b: Buffer,
  p: number,
  end: number,
  dir: Dir,
  ctx: ParseCtx,
  depth: number,
  mspIndex: number,
  routed: boolean,
): void {
  const pdu = st.pdu;
  clearCip(pdu);
  pdu.mspIndex = mspIndex;
  pdu.routed = routed;
  if (end - p < 2) {
    // Too short for a service: reported with the encapsulation's own code.
    anomaly(ctx, dir, 'malformed_cip');
    pdu.fc = ENCAP_FC + pdu.command;
    pdu.resp = dir === S2C;
    emit(st, dir, ctx);
    return;
  }
  const raw = b[p];
  const svc = raw & 0x7f;
  pdu.service = svc;
  pdu.fc = svc;
  pdu.resp = (raw & 0x80) !== 0;
  if (pdu.resp) {
    if (end - p < 4) {
      anomaly(ctx, dir, 'malformed_cip');
      countAndEmit(st, dir, ctx);
      return;
    }
    pdu.generalStatus = b[p + 2];
    const extWords = b[p + 3];
    const data = p + 4 + 2 * extWords;
    if (data > end) {
      anomaly(ctx, dir, 'malformed_cip');
      countAndEmit(st, dir, ctx);
      return;
    }
    if (extWords > 0) pdu.extStatus = u16(b, p + 4);
    if (svc === MSP && depth < MAX_DEPTH && (pdu.generalStatus === 0 || pdu.generalStatus === 0x1e)) {
      if (expandMsp(st, b, data, end, dir, ctx, depth, routed)) return;
      decodeAgainHeader(pdu, b, p, raw);
    } else if ((svc === FORWARD_OPEN || svc === LARGE_FORWARD_OPEN) && pdu.generalStatus === 0 && end - data >= 10) {
      pdu.otConnId = u32(b, data);
      pdu.toConnId = u32(b, data + 4);
      pdu.connSerial = u16(b, data + 8);
    }
    countAndEmit(st, dir, ctx);
    return;
  }
  const pathEnd = p + 2 + 2 * b[p + 1];
  if (pathEnd > end || !decodePath(pdu, b, p + 2, pathEnd)) anomaly(ctx, dir, 'malformed_cip');
  const data = pathEnd;
  if (pathEnd <= end && depth < MAX_DEPTH) {
    if (svc === MSP) {
      if (expandMsp(st, b, data, end, dir, ctx, depth, routed)) return;
      decodeAgainPath(pdu, b, p, raw, end, mspIndex, routed);
    } else if (svc === UNCONNECTED_SEND && pdu.cipClass === CONNECTION_MANAGER) {
      // priority/tick u8, timeout ticks u8, message size u16, message, pad, route path
      if (end - data >= 4) {
        const n = u16(b, data + 2);
        if (n >= 2 && data + 4 + n <= end) {
          decodeCip(st, b, data + 4, data + 4 + n, dir, ctx, depth + 1, mspIndex, true);
          return;
        }
      }
      anomaly(ctx, dir, 'malformed_unconnected_send');
      decodeAgainPath(pdu, b, p, raw, end, mspIndex, routed);
    } else if (pdu.cipClass === CONNECTION_MANAGER) {
      if (svc === FORWARD_OPEN && end - data >= 36) {
        pdu.otConnId = u32(b, data + 2);
        pdu.toConnId = u32(b, data + 6);
        pdu.connSerial = u16(b, data + 10);
        pdu.otRpi = u32(b, data + 22);
        pdu.toRpi = u32(b, data + 28); // after the 16-bit O->T parameters
      } else if (svc === LARGE_FORWARD_OPEN && end - data >= 40) {
        pdu.otConnId = u32(b, data + 2);
        pdu.toConnId = u32(b, data + 6);
        pdu.connSerial = u16(b, data + 10);
        pdu.otRpi = u32(b, data + 22);
        pdu.toRpi = u32(b, data + 30); // after the 32-bit O->T parameters
      } else if (svc === FORWARD_CLOSE && end - data >= 4) {
        pdu.connSerial = u16(b, data + 2);
      }
    }
  }
  countAndEmit(st, dir, ctx);
}

/** After a failed expansion, the container itself is the PDU again. */
function decodeAgainHeader(pdu: EnipPdu, b: Buffer, p: number, raw: number): void {
  const mi = pdu.mspIndex;
  const routed = pdu.routed;
  clearCip(pdu);
  pdu.mspIndex = mi;
  pdu.routed = routed;
  pdu.service = pdu.fc = raw & 0x7f;
  pdu.resp = true;
  pdu.generalStatus = b[p + 2];
  if (b[p + 3] > 0) pdu.extStatus = u16(b, p + 4);
}

function decodeAgainPath(pdu: EnipPdu, b: Buffer, p: number, raw: number, end: number, mspIndex: number, routed: boolean): void {
  clearCip(pdu);
  pdu.mspIndex = mspIndex;
  pdu.routed = routed;
  pdu.service = pdu.fc = raw & 0x7f;
  pdu.resp = false;
  const pathEnd = p + 2 + 2 * b[p + 1];
  if (pathEnd <= end) decodePath(pdu, b, p + 2, pathEnd);
}

/** Multiple Service Packet data at buf[d, end): count u16, offsets u16
 *  (from d), services. Emits each; false (nothing emitted) when the count or
 *  an offset does not fit. */
function expandMsp(st: EnipState, b: Buffer, d: number, end: number, dir: Dir, ctx: ParseCtx, depth: number, routed: boolean): boolean {
  if (end - d < 2) {
    anomaly(ctx, dir, 'malformed_msp');
    return false;
  }
  const n = u16(b, d);
  if (n === 0 || d + 2 + 2 * n > end) {
    anomaly(ctx, dir, 'malformed_msp');
    return false;
  }
  let prev = 2 + 2 * n;
  for (let i = 0; i < n; i++) {
    const o = u16(b, d + 2 + 2 * i);
    if (o < prev || d + o > end) {
      anomaly(ctx, dir, 'malformed_msp');
      return false;
    }
    prev = o;
  }
  for (let i = 0; i < n; i++) {
    const s = d + u16(b, d + 2 + 2 * i);
    const e = i + 1 < n ? d + u16(b, d + 4 + 2 * i) : end;
    decodeCip(st, b, s, e, dir, ctx, depth + 1, i, routed);
  }
  return true;
}

function countAndEmit(st: EnipState, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  st.services.add(pdu.service);
  if (pdu.resp) {
    st.responses++;
    if (pdu.generalStatus > 0) st.errors++;
    answer(st, pdu);
  } else {
    st.requests++;
    remember(st, pdu);
  }
  emit(st, dir, ctx);
}

function findPending(st: EnipState): number {
  const q = st.pending;
  for (let i = 0; i < MAX_PENDING; i++) if (q.used[i] !== 0 && q.k1[i] === st.msgK1 && q.k2[i] === st.msgK2) return i;
  return -1;
}

/** Keeps a request service's path for its response. */
function remember(st: EnipState, pdu: EnipPdu): void {
  const q = st.pending;
  if (st.msgSlot < 0) {
    let i = findPending(st); // a reused key replaces the older request
    if (i < 0) {
      i = 0;
      for (let j = 0; j < MAX_PENDING; j++) {
        if (q.used[j] === 0) {
          i = j;
          break;
        }
        if (q.age[j] < q.age[i]) i = j;
      }
    }
    q.used[i] = 1;
    q.k1[i] = st.msgK1;
    q.k2[i] = st.msgK2;
    q.age[i] = ++q.tick;
    q.info.fill(-1, i * PENDING_SERVICES * PS, (i + 1) * PENDING_SERVICES * PS);
    st.msgSlot = i;
  }
  const k = pdu.mspIndex < 0 ? 0 : pdu.mspIndex;
  if (k >= PENDING_SERVICES) return;
  const o = (st.msgSlot * PENDING_SERVICES + k) * PS;
  q.info[o] = pdu.service;
  q.info[o + 1] = pdu.cipClass;
  q.info[o + 2] = pdu.instance;
  q.info[o + 3] = pdu.attribute;
  q.info[o + 4] = pdu.member;
}

/** Gives a response the path of the request service it answers. */
function answer(st: EnipState, pdu: EnipPdu): void {
  if (st.msgSlot === -1) st.msgSlot = findPending(st);
  if (st.msgSlot < 0) return;
  const k = pdu.mspIndex < 0 ? 0 : pdu.mspIndex;
  if (k >= PENDING_SERVICES) return;
  const q = st.pending;
  const o = (st.msgSlot * PENDING_SERVICES + k) * PS;
  if (q.info[o] !== pdu.service) return;
  // Values are stored as int32: a 32-bit logical segment above 2^31 comes back unsigned.
  pdu.cipClass = q.info[o + 1] < -1 ? q.info[o + 1] >>> 0 : q.info[o + 1];
  pdu.instance = q.info[o + 2] < -1 ? q.info[o + 2] >>> 0 : q.info[o + 2];
  pdu.attribute = q.info[o + 3] < -1 ? q.info[o + 3] >>> 0 : q.info[o + 3];
  pdu.member = q.info[o + 4] < -1 ? q.info[o + 4] >>> 0 : q.info[o + 4];
}

function emit(st: EnipState, dir: Dir, ctx: ParseCtx): void {
  ctx.emit(dir, st.pdu);
}

function anomaly(ctx: ParseCtx, dir: Dir, name: EnipAnomaly): void {
  ctx.anomaly(dir, name);
}

// ---------------------------------------------------------------- messages

/** An encapsulation message without CIP. */
function emitEncap(st: EnipState, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  clearCip(pdu);
  pdu.fc = ENCAP_FC + pdu.command;
  pdu.resp = dir === S2C;
  emit(st, dir, ctx);
}

/** Send*Data body at buf[d, end): interface handle, timeout, CPF. */
function sendData(st: EnipState, b: Buffer, d: number, end: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  if (end - d < 8) {
    anomaly(ctx, dir, 'malformed_cpf');
    emitEncap(st, dir, ctx);
    return;
  }
  const count = u16(b, d + 6);
  let p = d + 8;
  let dataAt = -1;
  let dataEnd = -1;
  let connected = false;
  let bad = count > MAX_ITEMS;
  for (let i = 0; i < count && !bad; i++) {
    if (end - p < 4) {
      bad = true;
      break;
    }
    const type = u16(b, p);
    const len = u16(b, p + 2);
    const v = p + 4;
    if (v + len > end) {
      bad = true;
      break;
    }
    if (type === ITEM_CONNECTED_ADDR && len >= 4) pdu.connId = u32(b, v);
    else if (type === ITEM_SEQUENCED_ADDR && len >= 8) {
      pdu.connId = u32(b, v);
      pdu.seq = u32(b, v + 4);
    } else if ((type === ITEM_CONNECTED_DATA || type === ITEM_UNCONNECTED_DATA) && dataAt < 0) {
      connected = type === ITEM_CONNECTED_DATA;
      dataAt = v;
      dataEnd = v + len;
    }
    p = v + len;
  }
  if (bad) anomaly(ctx, dir, 'malformed_cpf');
  if (dataAt >= 0 && connected) {
    if (dataEnd - dataAt >= 2) pdu.cipSeq = u16(b, dataAt);
    dataAt += 2;
  }
  if (connected) {
    st.msgK1 = pdu.cipSeq;
    st.msgK2 = -1;
  } else {
    st.msgK1 = u32(b, d - HEADER + 12) | 0;
    st.msgK2 = u32(b, d - HEADER + 16) | 0;
  }
  st.msgSlot = -1;
  if (dataAt < 0 || dataAt >= dataEnd) {
    emitEncap(st, dir, ctx);
    return;
  }
  decodeCip(st, b, dataAt, dataEnd, dir, ctx, 0, -1, false);
  // A response message settles its request.
  if (pdu.resp && st.msgSlot >= 0) st.pending.used[st.msgSlot] = 0;
}

/** ListIdentity reply body at buf[d, end). */
function listIdentity(st: EnipState, b: Buffer, d: number, end: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  // count u16, type u16 (0x0C), length u16, version u16, sockaddr 16,
  // vendor u16, device type u16, product code u16, revision 2, status u16,
  // serial u32, name (short string), state u8.
  if (end - d >= 6 && u16(b, d) >= 1 && u16(b, d + 2) === ITEM_IDENTITY) {
    const v = d + 6;
    const ie = v + u16(b, d + 4);
    if (ie <= end && ie - v >= 33) {
      pdu.vendor = u16(b, v + 18);
      pdu.deviceType = u16(b, v + 20);
      pdu.productCode = u16(b, v + 22);
      pdu.revMajor = b[v + 24];
      pdu.revMinor = b[v + 25];
      pdu.serial = u32(b, v + 28);
      const n = b[v + 32];
      if (v + 33 + n <= ie) {
        pdu.nameOff = v + 33;
        pdu.nameLen = n;
        if (v + 33 + n < ie) pdu.state = b[v + 33 + n];
      }
    } else anomaly(ctx, dir, 'malformed_identity');
  }
  emitEncap(st, dir, ctx);
}

/** One complete message at buf[pos, pos+24+length). */
function handleMessage(st: EnipState, b: Buffer, pos: number, length: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  clearMessage(pdu);
  pdu.buf = b;
  const cmd = b[pos];
  pdu.command = cmd;
  pdu.length = length;
  pdu.session = u32(b, pos + 4);
  pdu.status = u32(b, pos + 8);
  st.commands.add(cmd);
  if (pdu.status !== 0) st.errors++;
  if (pdu.session !== 0) st.session = pdu.session;
  const d = pos + HEADER;
  const end = d + length;
  if ((cmd === SEND_RR_DATA || cmd === SEND_UNIT_DATA) && length > 0) sendData(st, b, d, end, dir, ctx);
  else if (cmd === LIST_IDENTITY && length > 0) listIdentity(st, b, d, end, dir, ctx);
  else emitEncap(st, dir, ctx);
}

/** One implicit I/O datagram (isIoDatagram). */
function handleIo(st: EnipState, b: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  clearMessage(pdu);
  pdu.buf = b;
  pdu.io = true;
  pdu.command = pdu.length = pdu.session = pdu.status = -1;
  pdu.fc = IO_FC;
  pdu.resp = false;
  pdu.connId = u32(b, off + 6);
  pdu.seq = u32(b, off + 10);
  if (len >= 20) pdu.cipSeq = u16(b, off + 18);
  st.io++;
  const t = st.ioConns;
  let i = 0;
  while (i < t.n && (t.id[i] !== pdu.connId || t.dir[i] !== dir)) i++;
  if (i === t.n) {
    if (t.n < MAX_IO_CONNS) t.n++;
    else i = t.next = (t.next + 1) % MAX_IO_CONNS; // round robin beyond the bound
    t.id[i] = pdu.connId;
    t.dir[i] = dir;
  } else if (((pdu.seq - t.seq[i]) | 0) < 0) {
    anomaly(ctx, dir, 'io_sequence_backwards');
  }
  t.seq[i] = pdu.seq;
  emit(st, dir, ctx);
}

export function parse(st: EnipState, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
  if (buf[off] === 0x02 && isIoDatagram(buf, off, len)) {
    // 0x02 is no command: unambiguous
    handleIo(st, buf, off, len, dir, ctx);
    return len;
  }
  const end = off + len;
  let pos = off;
  while (pos < end) {
    const avail = end - pos;
    let bad: EnipAnomaly | null = null;
    if (CMD_KNOWN[buf[pos]] === 0 || (avail > 1 && buf[pos + 1] !== 0)) bad = 'unknown_command';
    else if (avail >= 4 && u16(buf, pos + 2) > MAX_LENGTH) bad = 'invalid_length';
    else if (avail >= HEADER && u32(buf, pos + 20) !== 0) bad = 'invalid_options';
    if (bad !== null) {
      if (pos > off) break; // reported on the call that starts at the bad byte
      anomaly(ctx, dir, bad);
      return -1;
    }
    if (avail < HEADER) {
      ctx.need = avail >= 4 ? HEADER + u16(buf, pos + 2) : HEADER;
      break;
    }
    const length = u16(buf, pos + 2);
    if (avail < HEADER + length) {
      ctx.need = HEADER + length;
      break;
    }
    handleMessage(st, buf, pos, length, dir, ctx);
    pos += HEADER + length;
  }
  return pos - off;
}

export function gap(_st: EnipState, _dir: Dir, _bytes: number): void {
  // Nothing partial is held here (the stream layer keeps leftovers), and no
  // request/response pairing depends on what was lost.
}

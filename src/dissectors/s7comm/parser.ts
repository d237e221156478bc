// Siemens S7comm and S7comm-plus on ISO-on-TCP (RFC 1006): TPKT, COTP
// (ISO 8073 class 0), then the S7 PDU.
//
// TPKT: version 3, reserved 0, u16 length of the whole packet (header
// included, 7..65535). COTP: length indicator LI (header bytes after LI),
// TPDU type in the high nibble. CR/CC carry the TSAPs (parameters 0xC1
// calling, 0xC2 called; a 2-byte called TSAP is connection type + rack << 5 |
// slot). DT: LI 2, EOT bit + TPDU number, then user data; an S7 PDU larger
// than the TPDU size is split over DTs without EOT, reassembled here (only
// its first FRAG_KEEP bytes are kept: every field decoded sits in them).
//
// S7 header (0x32): ROSCTR, redundancy id, PDU reference, parameter length,
// data length, and for ack/ack_data error class and code. S7comm-plus (0x72):
// version, data length; version 3 puts a 32-byte digest before the data;
// the data starts with the opcode and, for requests and responses, the
// function code. Nothing past that is decoded.
//
// Framing follows the TPKT length only; what is inside is checked and
// reported but never moves the next frame boundary.
import { u16be as u16 } from '../../capture/bytes.js';
import type { Dir, ParseCtx, PduBase } from '../types.js';
import { C2S, Probe, STATE_POOL_MAX } from '../types.js';
import type { S7Anomaly } from './anomalies.js';

/** Hard cap of one TPKT (its length field is 16 bits). */
export const S7_MAX_TPKT = 65535;
/** Bytes of a fragmented S7 PDU kept for decoding (headers, first item, SZL
 *  header and identity entries); the rest is counted, not stored. */
export const FRAG_KEEP = 2048;
/** Distinct function codes counted per flow (beyond: not counted). */
export const MAX_FC_KEYS = 64;
/** Smallest negotiated PDU size taken as a bound (real CPUs grant 240 and up). */
const MIN_PDU_SIZE = 64;
/** Longest string decoded from the wire (PI service, SZL texts). */
const MAX_STR = 64;

export const ROSCTR_JOB = 1;
export const ROSCTR_ACK = 2;
export const ROSCTR_ACK_DATA = 3;
export const ROSCTR_USERDATA = 7;

/** fc code spaces (see docs/protocols/s7comm.md): job/ack_data function
 *  codes as they are (0x00-0xFF); userdata USERDATA_BASE | group << 8 |
 *  subfunction; S7comm-plus PLUS_BASE | function code. */
export const USERDATA_BASE = 0x1000;
export const PLUS_BASE = 0x10000;

export const COTP_CR = 0xe0;
export const COTP_CC = 0xd0;
export const COTP_DR = 0x80;
export const COTP_DC = 0xc0;
export const COTP_DT = 0xf0;
export const COTP_ER = 0x70;

/** One decoded S7 PDU (or COTP connection TPDU). Reused: valid only during
 *  emit. Numbers are -1 and strings null when the message lacks them. */
export interface S7Pdu extends PduBase {
  /** COTP TPDU type of a connection-management TPDU (CR, CC, DR, DC, ER), -1 for data. */
  cotp: number;
  srcTsap: string | null;
  dstTsap: string | null;
  /** From a 2-byte called TSAP. */
  rack: number;
  slot: number;
  rosctr: number;
  pduref: number;
  /** Job/ack_data function code. */
  func: number;
  items: number;
  /** First item (S7ANY address): area, DB number, raw 24-bit address (byte << 3 | bit). */
  area: number;
  db: number;
  address: number;
  piService: string | null;
  funcgroup: number;
  subfunc: number;
  /** Userdata type nibble: 0 push, 4 request, 8 response. */
  udType: number;
  szlId: number;
  szlIndex: number;
  errClass: number;
  errCode: number;
  /** Setup communication: PDU size asked (job) or granted (ack_data). */
  pduSize: number;
  plus: boolean;
  version: number;
  opcode: number;
  plusFunc: number;
  // Identity from SZL 0x0011 (module identification) and 0x001C (component identification).
  orderNumber: string | null;
  firmware: string | null;
  systemName: string | null;
  moduleName: string | null;
  plantName: string | null;
  serial: string | null;
  moduleType: string | null;
}

export interface S7State {
  pdu: S7Pdu;
  /** Negotiated S7 PDU size (0 until setup communication was seen). */
  pduSize: number;
  rack: number;
  slot: number;
  // Per direction: COTP DT reassembly.
  frag: [Buffer | null, Buffer | null];
  fragKept: [number, number];
  fragTotal: [number, number];
  /** Per direction: a fragmented userdata response (last data unit = more
   *  follows) is open, so the next one continues it (no SZL header). */
  udMore: [boolean, boolean];
  /** Per direction: SZL id and index of the open fragmented response. */
  udSzlId: [number, number];
  udSzlIndex: [number, number];
  /** Per direction: the last S7comm-plus PDU had no trailer (a fragmented
   *  message): the next one continues it and has no opcode. */
  plusMore: [boolean, boolean];
  /** Per direction: opcode and function of the fragmented message open. */
  plusOp: [number, number];
  plusFn: [number, number];
  jobs: number;
  acks: number;
  userdata: number;
  plusPdus: number;
  errors: number;
  reassembled: number;
  fcCount: Map<number, number>;
}

function resetPdu(p: S7Pdu): void {
  p.fc = -1;
  p.cotp = -1;
  p.srcTsap = p.dstTsap = null;
  p.rack = p.slot = -1;
  p.rosctr = p.pduref = p.func = p.items = p.area = p.db = p.address = -1;
  p.piService = null;
  p.funcgroup = p.subfunc = p.udType = p.szlId = p.szlIndex = p.errClass = p.errCode = p.pduSize = -1;
  p.plus = false;
  p.version = p.opcode = p.plusFunc = -1;
  p.orderNumber = p.firmware = p.systemName = p.moduleName = p.plantName = p.serial = p.moduleType = null;
}

function newPdu(): S7Pdu {
  const p = {} as S7Pdu;
  resetPdu(p);
  return p;
}

/** One PDU object for every flow: parsing is synchronous and the object is
 *  only valid during emit. */
const SHARED_PDU = newPdu();

const statePool: S7State[] = [];

export function createState(): S7State {
  return (
    statePool.pop() ?? {
      pdu: SHARED_PDU,
      pduSize: 0,
      rack: -1,
      slot: -1,
      frag: [null, null],
      fragKept: [0, 0],
      fragTotal: [0, 0],
      udMore: [false, false],
      udSzlId: [-1, -1],
      udSzlIndex: [-1, -1],
      plusMore: [false, false],
      plusOp: [-1, -1],
      plusFn: [-1, -1],
      jobs: 0,
      acks: 0,
      userdata: 0,
      plusPdus: 0,
      errors: 0,
      reassembled: 0,
      fcCount: new Map(),
    }
  );
}

export function releaseState(st: S7State): void {
  if (statePool.length >= STATE_POOL_MAX) return;
  st.pduSize = 0;
  st.rack = st.slot = -1;
  st.frag[0] = st.frag[1] = null;
  st.fragKept[0] = st.fragKept[1] = 0;
  st.fragTotal[0] = st.fragTotal[1] = 0;
  st.udMore[0] = st.udMore[1] = false;
  st.udSzlId[0] = st.udSzlId[1] = st.udSzlIndex[0] = st.udSzlIndex[1] = -1;
  st.plusMore[0] = st.plusMore[1] = false;
  st.plusOp[0] = st.plusOp[1] = st.plusFn[0] = st.plusFn[1] = -1;
  st.jobs = st.acks = st.userdata = st.plusPdus = st.errors = st.reassembled = 0;
  st.fcCount.clear();
  statePool.push(st);
}

// --- recognition (pure; used by probe and by parse for CR/CC) ---

/** A COTP parameter list [p, end) walks exactly to end; sets tsap* below. */
let tsapCallingPos = -1,
  tsapCallingLen = 0,
  tsapCalledPos = -1,
  tsapCalledLen = 0;
function walkParams(b: Buffer, p: number, end: number): boolean {
  tsapCallingPos = tsapCalledPos = -1;
  tsapCallingLen = tsapCalledLen = 0;
  while (p < end) {
    if (p + 2 > end) return false;
    const code = b[p];
    const len = b[p + 1];
    if (p + 2 + len > end) return false;
    if (code === 0xc1) {
      tsapCallingPos = p + 2;
      tsapCallingLen = len;
    } else if (code === 0xc2) {
      tsapCalledPos = p + 2;
      tsapCalledLen = len;
    }
    p += 2 + len;
  }
  return true;
}

const SIMATIC = Buffer.from('SIMATIC-', 'latin1');

/** A TSAP as S7 devices use them: 2 bytes whose first (the connection type:
 *  1 PG, 2 OP, 3 S7 basic, up to 0x10 for others) is not 0, or a string
 *  TSAP "SIMATIC-..." (S7comm-plus). MMS (IEC 61850, also on tcp/102) uses
 *  0x0001-style TSAPs and is not taken. */
function s7Tsap(b: Buffer, p: number, len: number): boolean {
  if (p < 0) return false;
  if (len === 2) return b[p] >= 1 && b[p] <= 0x10;
  return len >= SIMATIC.length && b.compare(SIMATIC, 0, SIMATIC.length, p, p + SIMATIC.length) === 0;
}

/** CR/CC at p (TPKT length tl, all present) with S7-shaped TSAPs. */
function s7Connect(b: Buffer, p: number, tl: number): boolean {
  const li = b[p + 4];
  if (li < 6 || 5 + li > tl) return false;
  if ((b[p + 10] & 0xf0) !== 0) return false; // class 0
  if (!walkParams(b, p + 11, p + 5 + li)) return false;
  return s7Tsap(b, tsapCalledPos, tsapCalledLen) || s7Tsap(b, tsapCallingPos, tsapCallingLen);
}

// Role of the sender judged from an S7 payload of `full` bytes: 1 client,
// 2 server, 0 unknown; -1 not S7 at all. Checks only what is visible in [p, end).
function s7Role(b: Buffer, p: number, end: number, full: number, eot: boolean): number {
  const n = end - p;
  if (n < 1) return eot ? -1 : 0;
  if (b[p] === 0x32) {
    if (n < 2) return 0;
    const r = b[p + 1];
    if (r !== ROSCTR_JOB && r !== ROSCTR_ACK && r !== ROSCTR_ACK_DATA && r !== ROSCTR_USERDATA) return -1;
    const hdr = r === ROSCTR_ACK || r === ROSCTR_ACK_DATA ? 12 : 10;
    if (n >= 4 && (b[p + 2] !== 0 || b[p + 3] !== 0)) return -1; // redundancy id: 0 in practice
    if (n >= 10 && eot) {
      // The parameter and data lengths must add up (a fragmented PDU's first
      // part may be shorter than they say).
      const total = hdr + u16(b, p + 6) + u16(b, p + 8);
      if (total !== full) return -1;
    }
    // In a download the PLC pulls the blocks: download block / download
    // ended (0x1B, 0x1C) are jobs from the server, acked by the client.
    const pull = n > hdr && (b[p + hdr] === 0x1b || b[p + hdr] === 0x1c);
    if (r === ROSCTR_JOB) return pull ? 2 : 1;
    if (r !== ROSCTR_USERDATA) return pull && r === ROSCTR_ACK_DATA ? 1 : 2;
    if (n >= hdr + 6) {
      const q = p + hdr;
      if (!(b[q] === 0 && b[q + 1] === 1 && b[q + 2] === 0x12) && !(b[q] === 1 && b[q + 1] === 0 && b[q + 2] === 0x10)) return -1;
      const t = b[q + 5] >> 4;
      return t === 4 ? 1 : t === 8 || t === 0 ? 2 : 0;
    }
    return 0;
  }
  if (b[p] === 0x72) {
    if (n < 2) return 0;
    const v = b[p + 1];
    if (v !== 1 && v !== 2 && v !== 3 && v !== 0xfe) return -1;
    if (n >= 4 && 4 + u16(b, p + 2) > full && eot) return -1;
    return 0;
  }
  return -1;
}

/** The visible bytes at p (n of them) can start a TPKT. */
function tpktStartOk(b: Buffer, p: number, n: number): boolean {
  if (n > 0 && b[p] !== 3) return false;
  if (n > 1 && b[p + 1] !== 0) return false;
  if (n > 3 && u16(b, p + 2) < 7) return false;
  return true;
}

/**
 * Strict recognition, cheap enough for every byte offset after a gap.
 * Match needs a whole TPKT (3, 0, length >= 7) holding either
 *  - a COTP CR or CC of class 0 whose parameters walk to the end of the
 *    header and carry an S7-shaped TSAP (CR from the client, CC from the
 *    server), or
 *  - a COTP DT (LI 2) whose user data is an S7 PDU (0x32, ROSCTR 1/2/3/7,
 *    redundancy id 0, header + parameter + data lengths equal to the payload
 *    when EOT is set; userdata parameter head 00 01 12) or an S7comm-plus PDU
 *    (0x72, version 1/2/3/0xFE, data length within the payload);
 * and whatever follows it in the buffer must start another TPKT.
 * On uniform random bytes the TPKT and DT header alone pass with
 * probability 2^-8 * 2^-8 * 2^-8 (LI) * 2^-8 (DT) ~ 2.3e-10.
 * Roles: a job, a userdata request, a CR come from the client; ack, ack_data,
 * userdata responses and pushes, a CC from the server (else MatchReversed);
 * except download block / download ended, which the PLC sends as jobs.
 */
export function probe(b: Buffer, off: number, len: number, dir: Dir): Probe {
  if (len <= 0) return Probe.NeedMore;
  if (!tpktStartOk(b, off, len < 4 ? len : 4)) return Probe.NoMatch;
  if (len < 7) {
    if (len > 4 && (b[off + 4] < 2 || 5 + b[off + 4] > u16(b, off + 2))) return Probe.NoMatch;
    return Probe.NeedMore;
  }
  const tl = u16(b, off + 2);
  const li = b[off + 4];
  if (li < 2 || 5 + li > tl) return Probe.NoMatch;
  const type = b[off + 5] & 0xf0;
  let role: number;
  if (type === COTP_DT) {
    if (li !== 2 || (b[off + 5] & 0x0f) !== 0) return Probe.NoMatch;
    const eot = (b[off + 6] & 0x80) !== 0;
    const end = off + (len < tl ? len : tl);
    role = s7Role(b, off + 7, end, tl - 7, eot);
    if (role < 0 || (tl === 7 && !eot)) return Probe.NoMatch; // an empty DT proves nothing
    if (len < tl) return Probe.NeedMore;
  } else if (type === COTP_CR || type === COTP_CC) {
    if (li < 6) return Probe.NoMatch;
    if (len < tl) return Probe.NeedMore;
    if (!s7Connect(b, off, tl)) return Probe.NoMatch;
    role = type === COTP_CR ? 1 : 2;
  } else {
    return Probe.NoMatch;
  }
  if (len > tl && !tpktStartOk(b, off + tl, Math.min(len - tl, 4))) return Probe.NoMatch;
  if (role === 0) return Probe.Match;
  return (role === 1) === (dir === C2S) ? Probe.Match : Probe.MatchReversed;
}

// --- decoding ---

function bump(st: S7State, fc: number): void {
  const m = st.fcCount;
  const v = m.get(fc);
  if (v !== undefined) m.set(fc, v + 1);
  else if (m.size < MAX_FC_KEYS) m.set(fc, 1);
}

/** Printable text of at most MAX_STR bytes, trailing NULs and spaces cut. */
function text(b: Buffer, p: number, n: number): string {
  if (n > MAX_STR) n = MAX_STR;
  let e = p + n;
  while (e > p && (b[e - 1] === 0 || b[e - 1] === 0x20)) e--;
  let s = '';
  for (let i = p; i < e; i++) {
    const c = b[i];
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}

function tsapText(b: Buffer, p: number, n: number): string {
  if (n === 2) return b.toString('hex', p, p + 2);
  let printable = n > 0;
  for (let i = p; i < p + n; i++)
    if (b[i] < 0x20 || b[i] >= 0x7f) {
      printable = false;
      break;
    }
  return printable ? text(b, p, n) : b.toString('hex', p, p + (n > MAX_STR ? MAX_STR : n));
}

function cotpConnect(st: S7State, b: Buffer, p: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  const li = b[p + 4];
  const type = b[p + 5] & 0xf0;
  resetPdu(pdu);
  pdu.cotp = type;
  if (type === COTP_CR || type === COTP_CC) {
    if (li < 6 || !walkParams(b, p + 11, p + 5 + li)) {
      ctx.anomaly(dir, 'invalid_cotp');
      return;
    }
    if (tsapCallingPos >= 0) pdu.srcTsap = tsapText(b, tsapCallingPos, tsapCallingLen);
    if (tsapCalledPos >= 0) {
      pdu.dstTsap = tsapText(b, tsapCalledPos, tsapCalledLen);
      if (tsapCalledLen === 2) {
        pdu.rack = st.rack = (b[tsapCalledPos + 1] >> 5) & 7;
        pdu.slot = st.slot = b[tsapCalledPos + 1] & 0x1f;
      }
    }
    // A CR/CC whose TSAPs are not S7-shaped may be another ISO-on-TCP
    // protocol (MMS): consumed, not reported, so it does not confirm S7.
    if (!s7Tsap(b, tsapCalledPos, tsapCalledLen) && !s7Tsap(b, tsapCallingPos, tsapCallingLen)) return;
  }
  ctx.emit(dir, pdu);
}

/** SZL 0x0011 / 0x001C entries of a first response fragment at [p, end). */
function szlIdentity(pdu: S7Pdu, b: Buffer, p: number, end: number): void {
  if (p + 8 > end) return;
  const entryLen = u16(b, p + 4);
  const count = u16(b, p + 6);
  const id = pdu.szlId & 0xff;
  let q = p + 8;
  for (let i = 0; i < count && q + entryLen <= end && entryLen >= 2; i++, q += entryLen) {
    const index = u16(b, q);
    if (id === 0x11 && entryLen >= 28) {
      // Index, order number (MlfB, 20 chars), module type, version bytes.
      if (index === 1 && pdu.orderNumber === null) pdu.orderNumber = text(b, q + 2, 20);
      else if (index === 7) pdu.firmware = `V${b[q + 25]}.${b[q + 26]}.${b[q + 27]}`;
    } else if (id === 0x1c && entryLen >= 34) {
      switch (index) {
        case 1:
          pdu.systemName = text(b, q + 2, 24);
          break;
        case 2:
          pdu.moduleName = text(b, q + 2, 24);
          break;
        case 3:
          pdu.plantName = text(b, q + 2, 32);
          break;
        case 5:
          pdu.serial = text(b, q + 2, 24);
          break;
        case 7:
          pdu.moduleType = text(b, q + 2, 32);
          break;
      }
    }
  }
}

function decodeUserdata(st: S7State, b: Buffer, q: number, pl: number, d: number, dEnd: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  // Parameter head 00 01 12, or 01 00 10 for the CPU's mode-transition push
  // (where the subfunction byte is the new mode).
  if (pl < 8) {
    ctx.anomaly(dir, 'invalid_length');
    return;
  }
  pdu.udType = b[q + 5] >> 4;
  pdu.funcgroup = b[q + 5] & 0x0f;
  pdu.subfunc = b[q + 6];
  pdu.fc = USERDATA_BASE | (pdu.funcgroup << 8) | pdu.subfunc;
  // Parameter length 8: data unit reference, last data unit (0 = last), error code.
  const continued = st.udMore[dir];
  if (pl >= 12 && b[q + 3] === 8) {
    st.udMore[dir] = pdu.udType !== 4 && b[q + 9] !== 0;
    if (pdu.udType !== 4) {
      const e = u16(b, q + 10);
      if (e !== 0) {
        pdu.errClass = e >> 8;
        pdu.errCode = e & 0xff;
      }
    }
  } else {
    st.udMore[dir] = false;
  }
  // Read SZL: data = return code, transport size, length, SZL id, index (+ list header, entries).
  if (pdu.funcgroup !== 4 || pdu.subfunc !== 1) return;
  if (continued) {
    // A later fragment has no SZL header: it carries the first one's id and
    // index (tshark reports them on the last fragment, where it reassembles).
    pdu.szlId = st.udSzlId[dir];
    pdu.szlIndex = st.udSzlIndex[dir];
  } else if (d + 8 <= dEnd && b[d] === 0xff) {
    pdu.szlId = u16(b, d + 4);
    pdu.szlIndex = u16(b, d + 6);
    if (pdu.udType === 8 || pdu.udType === 0) {
      const id = pdu.szlId & 0xff;
      if (id === 0x11 || id === 0x1c) szlIdentity(pdu, b, d + 4, dEnd);
    }
  }
  st.udSzlId[dir] = pdu.szlId;
  st.udSzlIndex[dir] = pdu.szlIndex;
}

function decodeJob(st: S7State, b: Buffer, q: number, pEnd: number, rosctr: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  if (q >= pEnd) return; // an ack without parameters
  const f = b[q];
  pdu.func = f;
  pdu.fc = f;
  switch (f) {
    case 0xf0: // setup communication: func, reserved, max AmQ calling, called, PDU size
      if (q + 8 > pEnd) {
        ctx.anomaly(dir, 'invalid_length');
        return;
      }
      pdu.pduSize = u16(b, q + 6);
      // Sizes under MIN_PDU_SIZE are not taken as a bound: one forged ack
      // could otherwise make every later PDU of the flow "too long".
      if (pdu.pduSize >= MIN_PDU_SIZE && (rosctr === ROSCTR_ACK_DATA || st.pduSize === 0)) st.pduSize = pdu.pduSize;
      return;
    case 0x04:
    case 0x05: {
      if (q + 2 > pEnd) {
        ctx.anomaly(dir, 'invalid_length');
        return;
      }
      pdu.items = b[q + 1];
      // Request item: 0x12, spec length, syntax id (0x10 S7ANY), transport
      // size, length, DB, area, 3-byte address.
      if (rosctr === ROSCTR_JOB && pdu.items > 0 && q + 14 <= pEnd && b[q + 2] === 0x12 && b[q + 4] === 0x10 && b[q + 3] >= 10) {
        pdu.db = u16(b, q + 8);
        pdu.area = b[q + 10];
        pdu.address = (b[q + 11] << 16) | (b[q + 12] << 8) | b[q + 13];
      }
      return;
    }
    case 0x28: {
      // PI service: func, 7 unknown bytes, parameter block length + block, name length + name
      if (rosctr !== ROSCTR_JOB) return;
      if (q + 10 > pEnd) {
        ctx.anomaly(dir, 'invalid_length');
        return;
      }
      const s = q + 10 + u16(b, q + 8);
      if (s + 1 > pEnd || s + 1 + b[s] > pEnd) {
        ctx.anomaly(dir, 'invalid_length');
        return;
      }
      pdu.piService = text(b, s + 1, b[s]);
      return;
    }
    case 0x29: {
      // PLC stop: func, 5 unknown bytes, name length + name
      if (rosctr !== ROSCTR_JOB) return;
      const s = q + 6;
      if (s + 1 > pEnd || s + 1 + b[s] > pEnd) {
        ctx.anomaly(dir, 'invalid_length');
        return;
      }
      pdu.piService = text(b, s + 1, b[s]);
      return;
    }
  }
}

/** One S7 PDU at [p, p+n); `full` is its length on the wire (n < full when
 *  only the first FRAG_KEEP bytes of a reassembled PDU were kept). */
function decodeS7(st: S7State, b: Buffer, p: number, n: number, full: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  resetPdu(pdu);
  const rosctr = b[p + 1];
  if (n < 2 || (rosctr !== ROSCTR_JOB && rosctr !== ROSCTR_ACK && rosctr !== ROSCTR_ACK_DATA && rosctr !== ROSCTR_USERDATA)) {
    ctx.anomaly(dir, 'invalid_rosctr');
    return;
  }
  const hdr = rosctr === ROSCTR_ACK || rosctr === ROSCTR_ACK_DATA ? 12 : 10;
  if (n < hdr) {
    ctx.anomaly(dir, 'invalid_length');
    return;
  }
  pdu.rosctr = rosctr;
  pdu.pduref = u16(b, p + 4);
  const pl = u16(b, p + 6);
  const dl = u16(b, p + 8);
  if (hdr === 12) {
    pdu.errClass = b[p + 10];
    pdu.errCode = b[p + 11];
    if (pdu.errClass !== 0) st.errors++;
  }
  if (hdr + pl + dl !== full) ctx.anomaly(dir, 'invalid_length');
  if (st.pduSize > 0 && full > st.pduSize) ctx.anomaly(dir, 'exceeds_pdu_size');
  const end = p + n;
  const q = p + hdr;
  const pEnd = Math.min(q + pl, end);
  if (rosctr === ROSCTR_USERDATA) {
    st.userdata++;
    decodeUserdata(st, b, q, pEnd - q, pEnd, Math.min(pEnd + dl, end), dir, ctx);
  } else {
    if (rosctr === ROSCTR_JOB) st.jobs++;
    else st.acks++;
    decodeJob(st, b, q, pEnd, rosctr, dir, ctx);
  }
  if (pdu.fc >= 0) bump(st, pdu.fc);
  ctx.emit(dir, pdu);
}

function decodePlus(st: S7State, b: Buffer, p: number, n: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  resetPdu(pdu);
  pdu.plus = true;
  st.plusPdus++;
  if (n < 4) {
    ctx.anomaly(dir, 'invalid_plus_length');
    ctx.emit(dir, pdu);
    return;
  }
  const v = b[p + 1];
  pdu.version = v;
  const dlen = u16(b, p + 2);
  if (4 + dlen > n) {
    ctx.anomaly(dir, 'invalid_plus_length');
    st.plusMore[dir] = false;
    ctx.emit(dir, pdu);
    return;
  }
  const continued = st.plusMore[dir];
  // A trailer (72 vv 00 00) after the data ends a message; without it the
  // message goes on in the next PDU. The opcode and function are in the
  // first part; like the s7comm_plus dissector, report them on the last.
  const more = v !== 0xfe && n < 4 + dlen + 4;
  st.plusMore[dir] = more;
  let op = -1,
    fn = -1;
  if (continued) {
    op = st.plusOp[dir];
    fn = st.plusFn[dir];
  } else if (v !== 0xfe && dlen > 0) {
    let o = p + 4;
    if (v === 3 && b[o] === 0x20 && dlen > 33) o += 33; // digest length + digest
    const dEnd = p + 4 + dlen;
    if (o < dEnd) {
      op = b[o];
      if ((op === 0x31 || op === 0x32 || op === 0x02) && o + 5 <= dEnd) fn = u16(b, o + 3);
    }
  }
  if (more) {
    st.plusOp[dir] = op;
    st.plusFn[dir] = fn;
  } else {
    pdu.opcode = op;
    pdu.plusFunc = fn;
    if (fn >= 0) {
      pdu.fc = PLUS_BASE | fn;
      bump(st, pdu.fc);
    }
  }
  ctx.emit(dir, pdu);
}

/** User data of one complete COTP DT at [p, p+n) with its EOT bit. */
function dataUnit(st: S7State, b: Buffer, p: number, n: number, eot: boolean, dir: Dir, ctx: ParseCtx): void {
  let total = st.fragTotal[dir];
  if (!eot || total > 0) {
    if (total + n > S7_MAX_TPKT) {
      ctx.anomaly(dir, 'reassembly_overflow');
      st.fragTotal[dir] = st.fragKept[dir] = 0;
      return;
    }
    if (n > 0) {
      let f = st.frag[dir];
      if (f === null) f = st.frag[dir] = Buffer.allocUnsafe(FRAG_KEEP);
      const kept = st.fragKept[dir];
      const take = Math.min(n, FRAG_KEEP - kept);
      if (take > 0) b.copy(f, kept, p, p + take);
      st.fragKept[dir] = kept + take;
      st.fragTotal[dir] = total += n;
    }
    if (!eot) return;
    st.reassembled++;
    const kept = st.fragKept[dir];
    st.fragTotal[dir] = st.fragKept[dir] = 0;
    payload(st, st.frag[dir]!, 0, kept, total, dir, ctx);
    return;
  }
  payload(st, b, p, n, n, dir, ctx);
}

function payload(st: S7State, b: Buffer, p: number, n: number, full: number, dir: Dir, ctx: ParseCtx): void {
  if (full === 0) return; // an empty DT (S7comm-plus stacks send them between PDUs)
  if (b[p] === 0x32) decodeS7(st, b, p, n, full, dir, ctx);
  else if (b[p] === 0x72) decodePlus(st, b, p, n, dir, ctx);
  else ctx.anomaly(dir, 'unknown_payload');
}

function bad(p: number, off: number, dir: Dir, ctx: ParseCtx, name: S7Anomaly): number {
  // Report it on the call that starts at the bad byte, so it counts once.
  if (p > off) return p - off;
  ctx.anomaly(dir, name);
  return -1;
}

export function parse(st: S7State, b: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
  const end = off + len;
  let p = off;
  while (p < end) {
    const avail = end - p;
    if (!tpktStartOk(b, p, avail < 4 ? avail : 4)) return bad(p, off, dir, ctx, 'invalid_tpkt');
    if (avail < 5) {
      ctx.need = avail < 4 ? 4 : 5;
      return p - off;
    }
    const tl = u16(b, p + 2);
    const li = b[p + 4];
    if (5 + li > tl || li < 2) return bad(p, off, dir, ctx, 'invalid_cotp');
    if (avail < 6) {
      ctx.need = 6;
      return p - off;
    }
    const type = b[p + 5] & 0xf0;
    // Setup communication bounds every later S7 PDU, so a DT holds at most
    // the negotiated size: refuse to wait for a longer one (framing lost).
    if (type === COTP_DT && st.pduSize > 0 && tl - 7 > st.pduSize) return bad(p, off, dir, ctx, 'exceeds_pdu_size');
    if (avail < tl) {
      ctx.need = tl;
      return p - off;
    }
    switch (type) {
      case COTP_DT:
        dataUnit(st, b, p + 5 + li, tl - 5 - li, (b[p + 6] & 0x80) !== 0, dir, ctx);
        break;
      case COTP_CR:
      case COTP_CC:
      case COTP_DR:
      case COTP_DC:
      case COTP_ER:
        cotpConnect(st, b, p, dir, ctx);
        break;
      default:
        ctx.anomaly(dir, 'invalid_cotp');
    }
    p += tl;
  }
  return p - off;
}

export function gap(st: S7State, dir: Dir, _bytes: number): void {
  st.fragTotal[dir] = st.fragKept[dir] = 0;
  st.udMore[dir] = false;
  st.plusMore[dir] = false;
}

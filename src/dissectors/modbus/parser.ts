// Modbus/TCP (Modbus Messaging on TCP/IP Implementation Guide V1.0b and
// Modbus Application Protocol V1.1b3).
//
// ADU = MBAP header (7 bytes: tid u16, protocol id u16 = 0, length u16 =
// bytes that follow = unit + PDU, unit u8) + PDU (fc u8 + data). The length
// is 2..254, so one ADU is 8..260 bytes.
//
// Framing follows the MBAP length only; the PDU body is then checked against
// its function code. A body that does not fit its function code is reported
// (`malformed_pdu`...) but the frame is still consumed: the length field is
// the only thing that decides where the next ADU starts. A bad MBAP header
// (protocol id != 0, length out of range) leaves us without a frame boundary,
// so parse returns -1 and the stream layer resynchronises with `probe`.
//
// Requests and responses are told apart by direction (requests go C2S, as
// Wireshark does by port). The stream layer owns the roles; `probe` helps it
// fix them by answering MatchReversed when a PDU's shape can only be the
// other role's. Roles from a handshake are fixed, yet a Modbus server may open
// the connection itself, so the dissector keeps its own view
// (ModbusState.srvDir): an exception (fc >= 0x80) is always a response and
// the direction that sends one is the Modbus server's from then on; before
// any exception, the first PDU whose body fits only a request or only a
// response decides, as probe does for roles without a handshake.

import { u16be as u16 } from '../../capture/bytes.js';
import { jsonText } from '../../output/json-out.js';
import { writeModbusFlow, writeModbusPdu } from './records.js';
import type { Dir, Dissector, JsonForms, ParseCtx, PduBase } from '../types.js';
import { anchorBytes, Probe, S2C, STATE_POOL_MAX } from '../types.js';
import { CodeCounts } from '../code-counts.js';

/** Anomaly names this dissector reports (ctx.anomaly). */
export type ModbusAnomaly =
  /** MBAP length outside 2..254 (parse returns -1). */
  | 'invalid_length'
  /** MBAP protocol id != 0 (parse returns -1). */
  | 'invalid_protocol_id'
  /** Function code neither public (1-24, 43), Schneider UMAS (90) nor
   *  user-defined (65-72, 100-110). */
  | 'unknown_function_code'
  /** PDU body does not fit its function code (size, byte count, MEI type,
   *  exception PDU too long or too short). */
  | 'malformed_pdu'
  /** Quantity outside the spec range for its function code (e.g. fc 3: 1..125). */
  | 'invalid_quantity'
  /** Write Single Coil value other than 0x0000 / 0xFF00. */
  | 'invalid_value'
  /** Exception code not defined by the spec (1-6, 8, 10, 11). */
  | 'invalid_exception_code'
  /** Response whose function code, address, quantity or byte count disagrees
   *  with the request of the same transaction id. */
  | 'response_mismatch'
  /** Response with no open request of that transaction id (reported only
   *  once the flow is known to be in sync: after one matched response and
   *  no gap since, so a capture starting mid-connection is quiet). */
  | 'unmatched_response'
  /** More than MAX_TX requests waiting for a response: the oldest is dropped. */
  | 'too_many_transactions';

/** One decoded ADU. Reused per flow: valid only during `emit`. Numeric
 *  fields are -1 when the PDU does not carry them. */
export interface ModbusPdu extends PduBase {
  /** MBAP transaction id. */
  tid: number;
  /** MBAP unit id. */
  unit: number;
  /** Function code with the exception bit cleared (0x83 -> 3). */
  fc: number;
  /** Exception code when the exception bit is set, else null. */
  exception: number | null;
  /** Sent by the Modbus server: an exception, or any PDU in the direction
   *  that sends them (S2C until an exception says otherwise). */
  resp: boolean;
  /** Starting address: fc 1-6, 15, 16, 22, 24 (FIFO pointer); fc 23: read address. */
  addr: number;
  /** Quantity of coils/registers: fc 1-4, 15, 16 (and their echoes), 1 for
   *  single writes (5, 6, 22); fc 23: read quantity. */
  qty: number;
  /** Written value: fc 5 (0 or 0xFF00), fc 6. */
  value: number;
  /** fc 23 request: write address and quantity. */
  waddr: number;
  wqty: number;
  /** fc 8 diagnostics sub-function. */
  sub: number;
  /** fc 43 MEI type. */
  mei: number;
  /** Byte count field when the PDU has one. */
  byteCount: number;
  /** MBAP length (unit + PDU bytes). */
  len: number;
  /** fc 43 / MEI 14 response (Read Device Identification): conformity
   *  level, more follows (0 or 0xFF), next object id; -1 otherwise. */
  conformity: number;
  moreFollows: number;
  nextObjectId: number;
  /** Its objects, at most MODBUS_MAX_ID_OBJECTS: ids, and value positions
   *  in idBuf (valid during emit only; modbusDeviceIdentity makes strings). */
  idCount: number;
  idIds: Uint8Array;
  idPos: Int32Array;
  idLen: Uint8Array;
  idBuf: Buffer | null;
}

/** Device identification objects decoded per response; the rest are skipped. */
export const MODBUS_MAX_ID_OBJECTS = 16;

/** Names of the standard object ids 0-6 (Modbus Application Protocol V1.1b3 6.21),
 *  as they appear in the record; others are "object_<id>". */
export const MODBUS_ID_NAMES: readonly string[] = [
  'vendor_name',
  'product_code',
  'revision',
  'vendor_url',
  'product_name',
  'model_name',
  'user_application_name',
];

/** Read Device Identification objects of a PDU (id name -> value), or null.
 *  Call during emit only. Values are read as UTF-8 (the spec says ASCII). */
export function modbusDeviceIdentity(p: ModbusPdu): Record<string, string> | null {
  const b = p.idBuf;
  if (b === null || p.idCount === 0) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.idCount; i++) out[idName(p.idIds[i])] = b.toString('utf8', p.idPos[i], p.idPos[i] + p.idLen[i]);
  return out;
}

/** The record's key of a device identification object id. */
export function idName(id: number): string {
  return id < MODBUS_ID_NAMES.length ? MODBUS_ID_NAMES[id] : `object_${id}`;
}

/** Per-flow state (both directions). */
export interface ModbusState {
  pdu: ModbusPdu;
  requests: number;
  responses: number;
  exceptions: number;
  /** PDUs per function code (exception bit cleared), both directions. */
  fcCount: CodeCounts;
  /** 1 per unit id seen; nUnits distinct (at most 256 by construction). */
  unitSeen: Int32Array;
  nUnits: number;
  // Open transactions (requests waiting for their response), struct of arrays.
  txN: number;
  txTid: Int32Array;
  txFc: Uint8Array;
  txAddr: Int32Array;
  txQty: Int32Array;
  txTs: Float64Array;
  /** A response matched a request since the last gap: unmatched responses
   *  are then worth reporting. */
  inSync: boolean;
  /** Direction of the Modbus server's PDUs: S2C until srvKnown, then from
   *  the first PDU of one shape only, or the latest exception. */
  srvDir: Dir;
  srvKnown: boolean;
}

const MBAP = 6; // bytes before the unit id: length counts from the unit id on
const MIN_ADU = 8;
const MAX_LEN = 254;
/** Open transactions per flow. Modbus/TCP servers commonly accept a handful
 *  of outstanding requests; 32 is far above real use. */
export const MAX_TX = 32;
/** Requests unanswered for this long (s) are forgotten before the table is
 *  declared full: some requests (e.g. broadcasts) never get a response. */
const TX_TIMEOUT = 30;

// Function code classes (index: fc with the exception bit cleared).
const FC_PUBLIC = 1; // public codes and the well-known vendor code 90
const FC_USER = 2; // user-defined ranges
const FC_CLASS = new Uint8Array(128);
for (let f = 1; f <= 24; f++) FC_CLASS[f] = FC_PUBLIC;
FC_CLASS[43] = FC_PUBLIC;
// 90 (0x5A) is Schneider's UMAS: not in the spec, but whole captures of
// Modicon traffic use nothing else (corpus: modicon_test.pcap).
FC_CLASS[90] = FC_PUBLIC;
for (let f = 65; f <= 72; f++) FC_CLASS[f] = FC_USER;
for (let f = 100; f <= 110; f++) FC_CLASS[f] = FC_USER;

/** fc byte (with or without the exception bit) accepted by probe. */
const PROBE_FC = new Uint8Array(256);
for (let f = 0; f < 128; f++) if (FC_CLASS[f] !== 0) PROBE_FC[f] = PROBE_FC[f | 0x80] = 1;

const EXC_VALID = new Uint8Array(256);
for (const e of [1, 2, 3, 4, 5, 6, 8, 10, 11]) EXC_VALID[e] = 1;

// Result of decoding one PDU body.
const OK = 0;
const MALFORMED = 1;
const BAD_QTY = 2;
const BAD_VALUE = 3;
const UNKNOWN_FC = 4;
const BAD_EXC = 5;

/** One PDU object for every flow: it is only valid during ctx.emit, and
 *  parsing is synchronous, so flows need not carry their own. */
const SHARED_PDU = newPdu();

function newPdu(): ModbusPdu {
  return {
    fc: -1,
    tid: -1,
    unit: -1,
    exception: null,
    resp: false,
    addr: -1,
    qty: -1,
    value: -1,
    waddr: -1,
    wqty: -1,
    sub: -1,
    mei: -1,
    byteCount: -1,
    len: 0,
    conformity: -1,
    moreFollows: -1,
    nextObjectId: -1,
    idCount: 0,
    idIds: new Uint8Array(MODBUS_MAX_ID_OBJECTS),
    idPos: new Int32Array(MODBUS_MAX_ID_OBJECTS),
    idLen: new Uint8Array(MODBUS_MAX_ID_OBJECTS),
    idBuf: null,
  };
}

/**
 * Fills `p` from the PDU body buf[d, d+dl) (data after the fc byte) as a
 * request (resp false) or response, and says whether it fits the spec.
 * Reads only inside [d, d+dl).
 */
function decodeBody(p: ModbusPdu, b: Buffer, d: number, dl: number, raw: number, resp: boolean): number {
  p.exception = null;
  p.addr = p.qty = p.value = p.waddr = p.wqty = p.sub = p.mei = p.byteCount = -1;
  p.conformity = p.moreFollows = p.nextObjectId = -1;
  p.idCount = 0;
  p.idBuf = null;
  const fc = raw & 0x7f;
  p.fc = fc;
  if (raw & 0x80) {
    if (dl < 1) {
      p.exception = 0;
      return MALFORMED;
    }
    p.exception = b[d];
    // Only a server sends exceptions, and their body is the code alone.
    if (dl !== 1 || !resp) return MALFORMED;
    return EXC_VALID[p.exception] ? OK : BAD_EXC;
  }
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      const bits = fc <= 2;
      if (!resp) {
        if (dl !== 4) return MALFORMED;
        p.addr = u16(b, d);
        p.qty = u16(b, d + 2);
        return p.qty >= 1 && p.qty <= (bits ? 2000 : 125) ? OK : BAD_QTY;
      }
      if (dl < 2) return MALFORMED;
      p.byteCount = b[d];
      if (p.byteCount !== dl - 1) return MALFORMED;
      return bits || (p.byteCount & 1) === 0 ? OK : MALFORMED;
    }
    case 5:
    case 6:
      // The response echoes the request.
      if (dl !== 4) return MALFORMED;
      p.addr = u16(b, d);
      p.qty = 1;
      p.value = u16(b, d + 2);
      return fc === 6 || p.value === 0 || p.value === 0xff00 ? OK : BAD_VALUE;
    case 7:
    case 11:
    case 12:
    case 17:
      if (!resp) return dl === 0 ? OK : MALFORMED;
      if (fc === 7) return dl === 1 ? OK : MALFORMED;
      if (fc === 11) return dl === 4 ? OK : MALFORMED;
      if (dl < 1) return MALFORMED;
      p.byteCount = b[d];
      return p.byteCount === dl - 1 ? OK : MALFORMED;
    case 8:
      if (dl < 2) return MALFORMED;
      p.sub = u16(b, d);
      return OK;
    case 15:
    case 16: {
      const bits = fc === 15;
      if (dl < 4) return MALFORMED;
      p.addr = u16(b, d);
      p.qty = u16(b, d + 2);
      if (resp) {
        if (dl !== 4) return MALFORMED;
      } else {
        if (dl < 6) return MALFORMED;
        p.byteCount = b[d + 4];
        if (p.byteCount !== dl - 5) return MALFORMED;
      }
      if (p.qty < 1 || p.qty > (bits ? 1968 : 123)) return BAD_QTY;
      if (!resp && p.byteCount !== (bits ? (p.qty + 7) >> 3 : p.qty * 2)) return MALFORMED;
      return OK;
    }
    case 20:
    case 21:
      // Same shape both ways: byte count + sub-requests/records.
      if (dl < 1) return MALFORMED;
      p.byteCount = b[d];
      return p.byteCount === dl - 1 ? OK : MALFORMED;
    case 22:
      if (dl !== 6) return MALFORMED;
      p.addr = u16(b, d);
      p.qty = 1;
      return OK;
    case 23:
      if (resp) {
        if (dl < 3) return MALFORMED;
        p.byteCount = b[d];
        return p.byteCount === dl - 1 && (p.byteCount & 1) === 0 ? OK : MALFORMED;
      }
      if (dl < 9) return MALFORMED;
      p.addr = u16(b, d);
      p.qty = u16(b, d + 2);
      p.waddr = u16(b, d + 4);
      p.wqty = u16(b, d + 6);
      p.byteCount = b[d + 8];
      if (p.byteCount !== dl - 9) return MALFORMED;
      if (p.qty < 1 || p.qty > 125 || p.wqty < 1 || p.wqty > 121) return BAD_QTY;
      return p.byteCount === p.wqty * 2 ? OK : MALFORMED;
    case 24:
      if (!resp) {
        if (dl !== 2) return MALFORMED;
        p.addr = u16(b, d);
        return OK;
      }
      // byte count u16 (covers what follows it), FIFO count u16 (<= 31), values
      if (dl < 4) return MALFORMED;
      p.byteCount = u16(b, d);
      return p.byteCount === dl - 2 && u16(b, d + 2) <= 31 && p.byteCount === 2 + 2 * u16(b, d + 2) ? OK : MALFORMED;
    case 43:
      if (dl < 1) return MALFORMED;
      p.mei = b[d];
      if (p.mei === 13) return OK; // CANopen general reference: opaque
      if (p.mei !== 14) return MALFORMED; // other MEI types are reserved
      // Read Device Identification: request = code (1..4) + object id;
      // response = code, conformity, more follows, next id, count, objects.
      if (!resp) return dl === 3 && b[d + 1] >= 1 && b[d + 1] <= 4 ? OK : MALFORMED;
      if (dl < 6) return MALFORMED;
      p.conformity = b[d + 2];
      p.moreFollows = b[d + 3];
      p.nextObjectId = b[d + 4];
      return OK;
    default:
      // Legacy public codes (9, 10, 13, 14, 18, 19), UMAS and user-defined
      // codes have no public layout.
      return FC_CLASS[fc] !== 0 ? OK : UNKNOWN_FC;
  }
}

// Scratch PDU for probe (module-level, so probe allocates nothing).
const scratch = newPdu();

/** Visible MBAP bytes of an ADU at buf[p, p+n) are plausible (n may be < 8). */
function headerOk(b: Buffer, p: number, n: number): boolean {
  if (n > 2 && b[p + 2] !== 0) return false;
  if (n > 3 && b[p + 3] !== 0) return false;
  if (n > 4 && b[p + 4] !== 0) return false;
  if (n > 5 && (b[p + 5] < 2 || b[p + 5] > MAX_LEN)) return false;
  if (n > 7 && PROBE_FC[b[p + 7]] === 0) return false;
  return true;
}

/**
 * Strict recognition, cheap enough for every byte offset after a gap.
 *
 * Match requires, at buf[off]:
 *  1. protocol id 0, length 2..254 (length high byte 0);
 *  2. a function code from the public set (1-24, 43), UMAS 90 or the
 *     user-defined ranges (65-72, 100-110), or its exception form;
 *  3. the whole ADU present (else NeedMore) and its body well formed for that
 *     code as a request or as a response (exception: one valid code byte);
 *  4. whatever follows the ADU in the buffer is the start of another
 *     plausible MBAP header (checked on the bytes present), or nothing:
 *     the exact end of the buffer.
 * On uniform random bytes, (1)+(2) alone pass with probability
 * 2^-16 (protocol id) * 2^-8 (length high) * 253/256 * 88/256 = 2.0e-8.
 *
 * Roles: when the body fits only a response (exception, read response whose
 * byte count matches the length, ...) but `dir` is C2S, or only a request but
 * `dir` is S2C, the answer is MatchReversed: the roles implied by `dir` are
 * the wrong way round. Bodies that fit both (fc 5, 6, 8, 20-22 echo, ...)
 * give Match.
 */
function probe(buf: Buffer, off: number, len: number, dir: Dir): Probe {
  if (len <= 0) return Probe.NeedMore;
  if (!headerOk(buf, off, len)) return Probe.NoMatch;
  if (len < MIN_ADU) return Probe.NeedMore;
  const total = MBAP + buf[off + 5];
  if (len < total) return Probe.NeedMore;
  const raw = buf[off + 7];
  const dl = total - MIN_ADU;
  const asReq = decodeBody(scratch, buf, off + MIN_ADU, dl, raw, false) === OK;
  const asResp = decodeBody(scratch, buf, off + MIN_ADU, dl, raw, true) === OK;
  if (!asReq && !asResp) return Probe.NoMatch;
  if (len > total && !headerOk(buf, off + total, len - total)) return Probe.NoMatch;
  if (asReq && asResp) return Probe.Match;
  return asResp === (dir === S2C) ? Probe.Match : Probe.MatchReversed;
}

const statePool: ModbusState[] = [];

function createState(): ModbusState {
  return statePool.pop() ?? newState();
}

function releaseState(st: ModbusState): void {
  if (statePool.length >= STATE_POOL_MAX) return;
  st.requests = 0;
  st.responses = 0;
  st.exceptions = 0;
  st.fcCount.clear();
  st.unitSeen.fill(0);
  st.nUnits = 0;
  st.txN = 0;
  st.txTid.fill(0);
  st.txFc.fill(0);
  st.txAddr.fill(0);
  st.txQty.fill(0);
  st.txTs.fill(0);
  st.inSync = false;
  st.srvDir = S2C;
  st.srvKnown = false;
  statePool.push(st);
}

function newState(): ModbusState {
  return {
    pdu: SHARED_PDU,
    requests: 0,
    responses: 0,
    exceptions: 0,
    fcCount: new CodeCounts(128),
    unitSeen: new Int32Array(8), // a bit per unit id
    nUnits: 0,
    txN: 0,
    txTid: new Int32Array(MAX_TX),
    txFc: new Uint8Array(MAX_TX),
    txAddr: new Int32Array(MAX_TX),
    txQty: new Int32Array(MAX_TX),
    txTs: new Float64Array(MAX_TX),
    inSync: false,
    srvDir: S2C,
    srvKnown: false,
  };
}

function txFind(st: ModbusState, tid: number): number {
  for (let i = 0; i < st.txN; i++) if (st.txTid[i] === tid) return i;
  return -1;
}

function txRemove(st: ModbusState, i: number): void {
  const last = --st.txN;
  st.txTid[i] = st.txTid[last];
  st.txFc[i] = st.txFc[last];
  st.txAddr[i] = st.txAddr[last];
  st.txQty[i] = st.txQty[last];
  st.txTs[i] = st.txTs[last];
}

function txOpen(st: ModbusState, p: ModbusPdu, dir: Dir, ctx: ParseCtx): void {
  let i = txFind(st, p.tid); // a reused tid replaces the older request
  if (i < 0) {
    if (st.txN === MAX_TX) {
      for (let j = st.txN - 1; j >= 0; j--) if (ctx.ts - st.txTs[j] > TX_TIMEOUT) txRemove(st, j);
    }
    if (st.txN < MAX_TX) {
      i = st.txN++;
    } else {
      ctx.anomaly(dir, 'too_many_transactions');
      i = 0;
      for (let j = 1; j < MAX_TX; j++) if (st.txTs[j] < st.txTs[i]) i = j;
    }
  }
  st.txTid[i] = p.tid;
  st.txFc[i] = p.fc;
  st.txAddr[i] = p.addr;
  st.txQty[i] = p.qty;
  st.txTs[i] = ctx.ts;
}

/** Does a well-formed, non-exception response agree with its request? */
function responseAgrees(st: ModbusState, i: number, p: ModbusPdu): boolean {
  const q = st.txQty[i];
  switch (p.fc) {
    case 1:
    case 2:
      return q < 0 || p.byteCount === (q + 7) >> 3;
    case 3:
    case 4:
    case 23:
      return q < 0 || p.byteCount === q * 2;
    case 5:
    case 6:
    case 22:
      return p.addr === st.txAddr[i];
    case 15:
    case 16:
      return p.addr === st.txAddr[i] && p.qty === q;
    default:
      return true;
  }
}

/** Read Device Identification response objects (id u8, length u8, value)
 *  after the 6-byte header at b[d]: at most MODBUS_MAX_ID_OBJECTS of the
 *  count, up to the first that does not fit in the PDU. Positions only: no
 *  string is made here. */
function readIdObjects(p: ModbusPdu, b: Buffer, d: number, dl: number): void {
  const end = d + dl;
  let n = b[d + 5];
  if (n > MODBUS_MAX_ID_OBJECTS) n = MODBUS_MAX_ID_OBJECTS;
  let q = d + 6;
  for (let i = 0; i < n && q + 2 <= end; i++) {
    const l = b[q + 1];
    if (q + 2 + l > end) break;
    const id = b[q];
    let k = 0;
    while (k < p.idCount && p.idIds[k] !== id) k++;
    if (k === p.idCount) {
      // a repeated id keeps its first value: one key per id in the record
      p.idIds[k] = id;
      p.idPos[k] = q + 2;
      p.idLen[k] = l;
      p.idCount = k + 1;
    }
    q += 2 + l;
  }
  if (p.idCount > 0) p.idBuf = b;
}

/** One complete ADU at buf[pos, pos+6+len). */
function handleAdu(st: ModbusState, buf: Buffer, pos: number, len: number, dir: Dir, ctx: ParseCtx): void {
  const p = st.pdu;
  p.tid = u16(buf, pos);
  p.len = len;
  p.unit = buf[pos + 6];
  const raw = buf[pos + 7];
  if (raw & 0x80) {
    st.srvDir = dir; // only a server sends exceptions
    st.srvKnown = true;
  } else if (!st.srvKnown) {
    const asReq = decodeBody(p, buf, pos + MIN_ADU, len - 2, raw, false) === OK;
    const asResp = decodeBody(p, buf, pos + MIN_ADU, len - 2, raw, true) === OK;
    if (asReq !== asResp) {
      st.srvDir = asResp ? dir : ((1 - dir) as Dir);
      st.srvKnown = true;
    }
  }
  p.resp = dir === st.srvDir;
  const code = decodeBody(p, buf, pos + MIN_ADU, len - 2, raw, p.resp);
  switch (code) {
    case MALFORMED:
      ctx.anomaly(dir, 'malformed_pdu');
      break;
    case BAD_QTY:
      ctx.anomaly(dir, 'invalid_quantity');
      break;
    case BAD_VALUE:
      ctx.anomaly(dir, 'invalid_value');
      break;
    case UNKNOWN_FC:
      ctx.anomaly(dir, 'unknown_function_code');
      break;
    case BAD_EXC:
      ctx.anomaly(dir, 'invalid_exception_code');
      break;
  }
  if (p.mei === 14 && p.resp && code === OK) readIdObjects(p, buf, pos + MIN_ADU, len - 2);

  st.fcCount.add(p.fc);
  const bit = 1 << (p.unit & 31);
  if ((st.unitSeen[p.unit >> 5] & bit) === 0) {
    st.unitSeen[p.unit >> 5] |= bit;
    st.nUnits++;
  }
  if (p.exception !== null) st.exceptions++;
  if (p.resp) {
    st.responses++;
    const i = txFind(st, p.tid);
    if (i >= 0) {
      if (st.txFc[i] !== p.fc || (code === OK && p.exception === null && !responseAgrees(st, i, p))) {
        ctx.anomaly(dir, 'response_mismatch');
      }
      txRemove(st, i);
      st.inSync = true;
    } else if (st.inSync) {
      ctx.anomaly(dir, 'unmatched_response');
    }
  } else {
    st.requests++;
    txOpen(st, p, dir, ctx);
  }
  ctx.emit(dir, p);
}

function parse(st: ModbusState, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
  const end = off + len;
  let pos = off;
  while (pos < end) {
    const avail = end - pos;
    let bad: ModbusAnomaly | null = null;
    let alen = 0;
    if (avail >= 4 && (buf[pos + 2] !== 0 || buf[pos + 3] !== 0)) bad = 'invalid_protocol_id';
    else if (avail >= 5 && buf[pos + 4] !== 0) bad = 'invalid_length';
    else if (avail >= 6) {
      alen = buf[pos + 5];
      if (alen < 2 || alen > MAX_LEN) bad = 'invalid_length';
    }
    if (bad !== null) {
      // Report it on the call that starts at the bad byte, so it counts once.
      if (pos > off) break;
      ctx.anomaly(dir, bad);
      return -1;
    }
    if (avail < MIN_ADU) {
      ctx.need = avail >= 6 ? MBAP + alen : MIN_ADU;
      break;
    }
    const total = MBAP + alen;
    if (avail < total) {
      ctx.need = total;
      break;
    }
    handleAdu(st, buf, pos, alen, dir, ctx);
    pos += total;
  }
  return pos - off;
}

function gap(st: ModbusState, _dir: Dir, _bytes: number): void {
  // No partial PDU is held here (the stream layer keeps leftovers). Requests
  // or responses may have been lost, so forget open transactions and stop
  // reporting unmatched responses until one matches again.
  st.txN = 0;
  st.inSync = false;
}

export const modbus: Dissector<ModbusState, ModbusPdu> & JsonForms<ModbusState, ModbusPdu> = {
  name: 'modbus',
  tcp: true,
  udp: false,
  ports: [502],
  maxPdu: MBAP + MAX_LEN, // 260
  minProbe: MIN_ADU,
  anchorAt: 2, // the protocol id's first byte is 0
  anchorOk: anchorBytes(0),
  probe,
  createState,
  parse,
  gap,
  pduWrite: writeModbusPdu,
  pduJson: (p: ModbusPdu): string => jsonText(writeModbusPdu, p),
  flowWrite: writeModbusFlow,
  flowJson: (st: ModbusState): string => jsonText(writeModbusFlow, st),
  releaseState,
};

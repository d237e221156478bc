// IEC 60870-5-104 (APCI framing + ASDU header) over TCP/2404.
//
// APDU = 0x68, length L (4..253), 4-octet control field, then for I frames an
// ASDU: type id, variable structure qualifier, cause of transmission (with P/N
// and T bits), originator address, 2-octet common address, 3-octet IOAs. Only
// the ASDU header and the first IOA are decoded; for type ids whose element
// size is fixed the APDU length is checked against the object count.
//
// Sequence numbers (mod 2^15) are tracked per direction: N(S) must advance by
// one per I frame, and an N(R) must not acknowledge I frames the peer has not
// sent. Tracking starts at 0 after STARTDT at the start of a flow; after a gap
// or a mid-stream start it is re-learned from the next I frame.

import { jsonText } from '../../output/json-out.js';
import { writeIec104Flow, writeIec104Pdu } from './records.js';
import { anchorBytes, C2S, Probe, STATE_POOL_MAX, type JsonForms } from '../types.js';
import type { Dir, Dissector, ParseCtx, PduBase } from '../types.js';
import { CodeCounts } from '../code-counts.js';

export type Iec104Anomaly =
  | 'invalid_start' // first byte of an APDU is not 0x68 (parse returns -1)
  | 'invalid_length' // APDU length outside 4..253 (parse returns -1)
  | 'invalid_u_frame' // U control field is not one of the six functions
  | 'invalid_s_frame' // S control field has reserved bits set
  | 'invalid_su_length' // S or U frame with APDU length != 4
  | 'asdu_truncated' // I frame too short for the ASDU header / first IOA
  | 'asdu_length_mismatch' // fixed-size type id whose length disagrees with nobj/SQ
  | 'unknown_type_id'
  | 'invalid_cot' // cause 0 or a reserved cause (14..19, 42, 43)
  | 'seq_jump' // N(S) skipped ahead of the expected value
  | 'seq_repeat' // N(S) behind the expected value (repeat or replay)
  | 'ack_unsent'; // N(R) acknowledges I frames the peer never sent

export const enum Iec104Frame {
  I = 0,
  S = 1,
  U = 2,
}

/** Function of a U frame; the value is the control octet. */
export const enum Iec104U {
  STARTDT_ACT = 0x07,
  STARTDT_CON = 0x0b,
  STOPDT_ACT = 0x13,
  STOPDT_CON = 0x23,
  TESTFR_ACT = 0x43,
  TESTFR_CON = 0x83,
}

/** One APDU. Reused per flow: valid only during `emit`. */
export interface Iec104Pdu extends PduBase {
  /** Type id for I frames with an ASDU header, else -1. */
  fc: number;
  frame: Iec104Frame;
  /** APDU length octet (control field + ASDU). */
  len: number;
  /** N(S) (I frames). */
  tx: number;
  /** N(R) (I and S frames). */
  rx: number;
  /** U function (control octet, one of Iec104U), 0 unless U frame. */
  u: number;
  /** ASDU header present (I frame of length >= 10). */
  hasAsdu: boolean;
  typeId: number;
  sq: boolean;
  nobj: number;
  cot: number;
  neg: boolean;
  test: boolean;
  oa: number;
  ca: number;
  /** First information object address present (length >= 13). */
  hasIoa: boolean;
  ioa: number;
  /** First sequence anomaly on this APDU, '' if none. */
  seqAnomaly: '' | 'seq_jump' | 'seq_repeat' | 'ack_unsent';
}

export interface Iec104State {
  pdu: Iec104Pdu;
  /** Expected next N(S) per sender direction (valid when txKnown[dir]). */
  nextTx: Uint16Array;
  txKnown: Uint8Array;
  /** After a seq_repeat: N(S) that would confirm the sender restarted its
   *  numbering from the lower value (-1: none pending). */
  repeatNext: Int32Array;
  /** No APDU other than STARTDT seen and no gap: the flow started here, so
   *  STARTDT means both counters are 0. */
  fresh: boolean;
  typeIds: CodeCounts; // 256
  causes: CodeCounts; // 64
  commands: number;
  seqAnomalies: number;
  iFrames: number;
  sFrames: number;
  uFrames: number;
}

const START = 0x68;
const MIN_LEN = 4;
const MAX_LEN = 253;
const SEQ_MASK = 0x7fff;
const HALF = 0x4000;
const ASDU_HDR = 6; // type, vsq, cot, oa, ca(2)
const IOA_LEN = 3;

// Element size (octets after the IOA) per type id: -1 unknown type id,
// -2 known but variable size, else the fixed size (IEC 60870-5-101/104,
// IEC 62351-5 secure-authentication ids are variable).
const ELEM = new Int8Array(256).fill(-1);
(() => {
  const fixed: [number, number][] = [
    [1, 1],
    [2, 4],
    [3, 1],
    [4, 4],
    [5, 2],
    [6, 5],
    [7, 5],
    [8, 8],
    [9, 3],
    [10, 6],
    [11, 3],
    [12, 6],
    [13, 5],
    [14, 8],
    [15, 5],
    [16, 8],
    [17, 6],
    [18, 7],
    [19, 7],
    [20, 5],
    [21, 2],
    [30, 8],
    [31, 8],
    [32, 9],
    [33, 12],
    [34, 10],
    [35, 10],
    [36, 12],
    [37, 12],
    [38, 10],
    [39, 11],
    [40, 11],
    [41, 14],
    [45, 1],
    [46, 1],
    [47, 1],
    [48, 3],
    [49, 3],
    [50, 5],
    [51, 4],
    [58, 8],
    [59, 8],
    [60, 8],
    [61, 10],
    [62, 10],
    [63, 12],
    [64, 11],
    [70, 1],
    [100, 1],
    [101, 1],
    [102, 0],
    [103, 7],
    [104, 2],
    [105, 1],
    [106, 2],
    [107, 9],
    [110, 3],
    [111, 3],
    [112, 5],
    [113, 1],
    [120, 6],
    [121, 7],
    [122, 4],
    [123, 5],
    [124, 4],
    [126, 13],
    [127, 16],
  ];
  for (const [t, n] of fixed) ELEM[t] = n;
  ELEM[125] = -2; // F_SG_NA_1: segment carries its own length
  for (let t = 81; t <= 92; t++) ELEM[t] = -2; // S_CH_NA_1 .. S_UC_NA_1
})();

/** Causes defined by the standard (0, 14..19, 42, 43, 48..63 are not). */
function cotDefined(c: number): boolean {
  return (c >= 1 && c <= 13) || (c >= 20 && c <= 41) || (c >= 44 && c <= 47);
}

/** Coarse type-id / cause compatibility (IEC 60870-5-101 clause 7.3), used
 *  only by probe to keep it strict; negative confirmations (44..47) only make
 *  sense for control-direction type ids. */
function cotFits(t: number, c: number): boolean {
  const neg = c >= 44 && c <= 47;
  if (t <= 41) return c === 1 || c === 2 || c === 3 || c === 5 || c === 11 || c === 12 || (c >= 20 && c <= 41);
  if (t <= 69) return (c >= 6 && c <= 10) || neg;
  if (t === 70) return c === 4;
  if (t <= 107) return (c >= 5 && c <= 10) || neg;
  if (t <= 113) return (c >= 6 && c <= 9) || (c >= 20 && c <= 36) || neg;
  return c === 3 || c === 5 || c === 13 || neg;
}

/** Commands from the controlling station (control direction, system commands). */
function isCommand(t: number): boolean {
  return (t >= 45 && t <= 69) || (t >= 100 && t <= 107);
}

function isUFunction(b: number): boolean {
  return b === 0x07 || b === 0x0b || b === 0x13 || b === 0x23 || b === 0x43 || b === 0x83;
}

/** Does the ASDU length agree with nobj/SQ? Unknown or variable types pass. */
function sizeOk(typeId: number, sq: boolean, nobj: number, asduLen: number): boolean {
  const e = ELEM[typeId];
  if (e < 0) return true;
  const body = asduLen - ASDU_HDR;
  return body === (sq ? IOA_LEN + nobj * e : nobj * (IOA_LEN + e));
}

function newPdu(): Iec104Pdu {
  return {
    fc: -1,
    frame: Iec104Frame.I,
    len: 0,
    tx: 0,
    rx: 0,
    u: 0,
    hasAsdu: false,
    typeId: 0,
    sq: false,
    nobj: 0,
    cot: 0,
    neg: false,
    test: false,
    oa: 0,
    ca: 0,
    hasIoa: false,
    ioa: 0,
    seqAnomaly: '',
  };
}

// Role evidence for probe: +1 sent by the controlled station (server),
// -1 by the controlling station (client), 0 either.
function iRole(typeId: number, cot: number): number {
  if (cot === 7 || cot === 9 || cot === 10 || (cot >= 44 && cot <= 47)) return 1; // confirmations, negative replies
  if (cot === 6 || cot === 8) return -1; // activation / deactivation
  if (typeId === 70) return 1; // end of initialisation
  if (typeId >= 1 && typeId <= 40 && (cot <= 5 || cot === 11 || cot === 12 || (cot >= 20 && cot <= 41))) return 1;
  if (typeId === 102 && cot === 5) return -1; // read request
  return 0;
}

/**
 * Checks one APDU header at buf[p] with `avail` bytes available.
 * Returns the APDU's total size (> 0) when valid, 0 when invalid, -1 when more
 * bytes are needed. Sets `roleOut[0]` to the role evidence.
 */
const roleOut = new Int8Array(1);
function checkApdu(buf: Buffer, p: number, avail: number): number {
  roleOut[0] = 0;
  if (avail < 1) return -1;
  if (buf[p] !== START) return 0;
  if (avail < 2) return -1;
  const alen = buf[p + 1];
  if (alen < MIN_LEN || alen > MAX_LEN) return 0;
  if (avail < 6) return -1;
  const c0 = buf[p + 2];
  if ((c0 & 1) === 0) {
    // I frame: N(R) LSB is reserved 0; the ASDU header and one IOA must fit.
    if ((buf[p + 4] & 1) !== 0) return 0;
    if (alen < MIN_LEN + ASDU_HDR + IOA_LEN) return 0;
    if (avail < 6 + ASDU_HDR) return -1;
    const t = buf[p + 6];
    const vsq = buf[p + 7];
    const nobj = vsq & 0x7f;
    const cot = buf[p + 8] & 0x3f;
    // Variable-size type ids (file segment, secure authentication) are not
    // accepted: without a size check they are too easy to find in noise.
    if (ELEM[t] < 0 || nobj === 0 || !cotFits(t, cot)) return 0;
    if (!sizeOk(t, (vsq & 0x80) !== 0, nobj, alen - MIN_LEN)) return 0;
    roleOut[0] = iRole(t, cot);
    return alen + 2;
  }
  if (alen !== MIN_LEN || buf[p + 3] !== 0) return 0;
  if ((c0 & 3) === 1) {
    if (c0 !== 0x01 || (buf[p + 4] & 1) !== 0) return 0;
    return 6;
  }
  if (!isUFunction(c0) || buf[p + 4] !== 0 || buf[p + 5] !== 0) return 0;
  if (c0 === Iec104U.STARTDT_CON || c0 === Iec104U.STOPDT_CON) roleOut[0] = 1;
  else if (c0 === Iec104U.STARTDT_ACT || c0 === Iec104U.STOPDT_ACT) roleOut[0] = -1;
  return 6;
}

function seqAnomaly(st: Iec104State, dir: Dir, ctx: ParseCtx, name: 'seq_jump' | 'seq_repeat' | 'ack_unsent'): void {
  st.seqAnomalies++;
  if (st.pdu.seqAnomaly === '') st.pdu.seqAnomaly = name;
  ctx.anomaly(dir, name);
}

/** N(R) from `dir` acknowledges the peer's I frames up to nr-1. */
function checkAck(st: Iec104State, dir: Dir, nr: number, ctx: ParseCtx): void {
  const peer = dir ^ 1;
  if (st.txKnown[peer] === 0) return;
  const ahead = (nr - st.nextTx[peer]) & SEQ_MASK;
  if (ahead !== 0 && ahead < HALF) seqAnomaly(st, dir, ctx, 'ack_unsent');
}

function checkTx(st: Iec104State, dir: Dir, ns: number, ctx: ParseCtx): void {
  if (st.txKnown[dir] === 0) {
    st.txKnown[dir] = 1;
    st.nextTx[dir] = (ns + 1) & SEQ_MASK;
    st.repeatNext[dir] = -1;
    return;
  }
  const exp = st.nextTx[dir];
  if (ns === exp) {
    st.nextTx[dir] = (ns + 1) & SEQ_MASK;
    st.repeatNext[dir] = -1;
    return;
  }
  if (ns === st.repeatNext[dir]) {
    // Second consecutive frame continuing from a lower N(S): the sender
    // restarted its numbering; follow it without flagging again.
    st.nextTx[dir] = (ns + 1) & SEQ_MASK;
    st.repeatNext[dir] = -1;
    return;
  }
  const ahead = (ns - exp) & SEQ_MASK;
  if (ahead < HALF) {
    seqAnomaly(st, dir, ctx, 'seq_jump');
    st.nextTx[dir] = (ns + 1) & SEQ_MASK;
    st.repeatNext[dir] = -1;
  } else {
    // Keep the expectation so a replayed old frame does not make the
    // following genuine frames (and the peer's acks) look wrong.
    seqAnomaly(st, dir, ctx, 'seq_repeat');
    st.repeatNext[dir] = (ns + 1) & SEQ_MASK;
  }
}

function decodeI(st: Iec104State, buf: Buffer, p: number, alen: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  pdu.frame = Iec104Frame.I;
  pdu.tx = ((buf[p + 2] | (buf[p + 3] << 8)) >>> 1) & SEQ_MASK;
  pdu.rx = ((buf[p + 4] | (buf[p + 5] << 8)) >>> 1) & SEQ_MASK;
  st.iFrames++;
  const asduLen = alen - MIN_LEN;
  if (asduLen >= ASDU_HDR) {
    const a = p + 6;
    const t = buf[a];
    const vsq = buf[a + 1];
    const c = buf[a + 2];
    pdu.hasAsdu = true;
    pdu.typeId = t;
    pdu.fc = t;
    pdu.sq = (vsq & 0x80) !== 0;
    pdu.nobj = vsq & 0x7f;
    pdu.cot = c & 0x3f;
    pdu.neg = (c & 0x40) !== 0;
    pdu.test = (c & 0x80) !== 0;
    pdu.oa = buf[a + 3];
    pdu.ca = buf[a + 4] | (buf[a + 5] << 8);
    if (asduLen >= ASDU_HDR + IOA_LEN) {
      pdu.hasIoa = true;
      pdu.ioa = buf[a + 6] | (buf[a + 7] << 8) | (buf[a + 8] << 16);
    } else {
      ctx.anomaly(dir, 'asdu_truncated');
    }
    st.typeIds.add(t);
    st.causes.add(pdu.cot);
    if (isCommand(t)) st.commands++;
    if (ELEM[t] === -1) ctx.anomaly(dir, 'unknown_type_id');
    if (!cotDefined(pdu.cot)) ctx.anomaly(dir, 'invalid_cot');
    if (pdu.hasIoa && !sizeOk(t, pdu.sq, pdu.nobj, asduLen)) ctx.anomaly(dir, 'asdu_length_mismatch');
  } else {
    ctx.anomaly(dir, 'asdu_truncated');
  }
  checkTx(st, dir, pdu.tx, ctx);
  checkAck(st, dir, pdu.rx, ctx);
}

function resetPdu(pdu: Iec104Pdu, alen: number): void {
  pdu.fc = -1;
  pdu.len = alen;
  pdu.tx = 0;
  pdu.rx = 0;
  pdu.u = 0;
  pdu.hasAsdu = false;
  pdu.hasIoa = false;
  pdu.seqAnomaly = '';
}

/** Decodes one complete APDU at buf[p] (start byte and length already checked). */
function decodeApdu(st: Iec104State, buf: Buffer, p: number, alen: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  resetPdu(pdu, alen);
  const c0 = buf[p + 2];
  if ((c0 & 1) === 0) {
    st.fresh = false;
    decodeI(st, buf, p, alen, dir, ctx);
    ctx.emit(dir, pdu);
    return;
  }
  if (alen !== MIN_LEN) ctx.anomaly(dir, 'invalid_su_length');
  if ((c0 & 3) === 1) {
    st.fresh = false;
    pdu.frame = Iec104Frame.S;
    pdu.rx = ((buf[p + 4] | (buf[p + 5] << 8)) >>> 1) & SEQ_MASK;
    if (c0 !== 0x01 || buf[p + 3] !== 0 || (buf[p + 4] & 1) !== 0) ctx.anomaly(dir, 'invalid_s_frame');
    st.sFrames++;
    checkAck(st, dir, pdu.rx, ctx);
    ctx.emit(dir, pdu);
    return;
  }
  if (!isUFunction(c0) || buf[p + 3] !== 0 || buf[p + 4] !== 0 || buf[p + 5] !== 0) {
    st.fresh = false;
    ctx.anomaly(dir, 'invalid_u_frame');
    return;
  }
  pdu.frame = Iec104Frame.U;
  pdu.u = c0;
  st.uFrames++;
  if (c0 === Iec104U.STARTDT_ACT || c0 === Iec104U.STARTDT_CON) {
    if (st.fresh) {
      // Connection start seen: both sides number from 0.
      st.txKnown[0] = 1;
      st.txKnown[1] = 1;
      st.nextTx[0] = 0;
      st.nextTx[1] = 0;
    }
  } else {
    st.fresh = false;
  }
  ctx.emit(dir, pdu);
}

const statePool: Iec104State[] = [];

export const iec104: Dissector<Iec104State, Iec104Pdu> & JsonForms<Iec104State, Iec104Pdu> = {
  name: 'iec104',
  tcp: true,
  udp: false,
  ports: [2404],
  maxPdu: MAX_LEN + 2,
  minProbe: 6,
  anchorAt: 0, // start byte 68
  anchorOk: anchorBytes(START),

  probe(buf: Buffer, off: number, len: number, dir: Dir): Probe {
    if (off < 0 || len <= 0 || off + len > buf.length) return len <= 0 ? Probe.NeedMore : Probe.NoMatch;
    const n = checkApdu(buf, off, len);
    if (n === 0) return Probe.NoMatch;
    if (n < 0) return Probe.NeedMore;
    const role = roleOut[0];
    // A following APDU header, when present, must be valid too.
    if (len > n) {
      const m = checkApdu(buf, off + n, len - n);
      if (m === 0) return Probe.NoMatch;
    }
    if (role !== 0 && role > 0 === (dir === C2S)) return Probe.MatchReversed;
    return Probe.Match;
  },

  createState(): Iec104State {
    return (
      statePool.pop() ?? {
        pdu: newPdu(),
        nextTx: new Uint16Array(2),
        txKnown: new Uint8Array(2),
        repeatNext: new Int32Array([-1, -1]),
        fresh: true,
        typeIds: new CodeCounts(256),
        causes: new CodeCounts(64),
        commands: 0,
        seqAnomalies: 0,
        iFrames: 0,
        sFrames: 0,
        uFrames: 0,
      }
    );
  },

  releaseState(st: Iec104State): void {
    if (statePool.length >= STATE_POOL_MAX) return;
    // st.pdu is scratch, filled afresh for every frame.
    st.nextTx.fill(0);
    st.txKnown.fill(0);
    st.repeatNext.fill(-1);
    st.fresh = true;
    st.typeIds.clear();
    st.causes.clear();
    st.commands = 0;
    st.seqAnomalies = 0;
    st.iFrames = 0;
    st.sFrames = 0;
    st.uFrames = 0;
    statePool.push(st);
  },

  parse(st: Iec104State, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
    if (off < 0 || len <= 0 || off + len > buf.length) return 0;
    const end = off + len;
    let p = off;
    while (p < end) {
      const avail = end - p;
      if (buf[p] !== START) {
        // Report only when it is the first byte of this call; otherwise the
        // next call starts here and reports it.
        if (p > off) return p - off;
        ctx.anomaly(dir, 'invalid_start');
        return -1;
      }
      if (avail < 2) {
        ctx.need = 2;
        return p - off;
      }
      const alen = buf[p + 1];
      if (alen < MIN_LEN || alen > MAX_LEN) {
        if (p > off) return p - off;
        ctx.anomaly(dir, 'invalid_length');
        return -1;
      }
      const total = alen + 2;
      if (avail < total) {
        ctx.need = total;
        return p - off;
      }
      decodeApdu(st, buf, p, alen, dir, ctx);
      p += total;
    }
    return len;
  },

  gap(st: Iec104State, dir: Dir, _bytes: number): void {
    // Frames of `dir` were lost: its N(S) and the peer's acks of it are unknown.
    st.txKnown[dir] = 0;
    st.repeatNext[dir] = -1;
    st.fresh = false;
  },
  pduWrite: writeIec104Pdu,
  pduJson: (p: Iec104Pdu): string => jsonText(writeIec104Pdu, p),
  flowWrite: writeIec104Flow,
  flowJson: (st: Iec104State): string => jsonText(writeIec104Flow, st),
};

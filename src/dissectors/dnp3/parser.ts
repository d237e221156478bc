// DNP3 (IEEE 1815) over TCP and UDP: link frames -> transport segments ->
// application fragments.
//
// Framing: 0x05 0x64, LEN (5..255: control + addresses + user data), CTRL,
// DST (LE16), SRC (LE16), header CRC; then the user data in blocks of 16 bytes,
// each followed by its CRC. A frame is at most 10 + 250 + 16*2 = 292 bytes.
//
// Records: one PDU per complete application fragment (fc = application
// function code), one per link frame without user data (fc -1), one per frame
// with a bad CRC (crc_ok false, nothing decoded). Transport segments that do
// not finish a fragment are counted, not emitted.
//
// Choices:
// - A bad header CRC still advances by the declared length (5..255 is all
//   that was checked): over TCP/UDP the length is almost always right, and
//   probe(), which does check the CRC, is what finds frames after a gap.
// - Transport reassembly is per direction (one fragment in progress each
//   way, as a master/outstation pair sends); a segment from other link
//   addresses mid-fragment counts as out of sequence. A repeat of the last
//   segment (link-layer retry) is skipped.

import { jsonText } from '../../output/json-out.js';
import { writeDnp3Flow, writeDnp3Pdu } from './records.js';
import { dnp3CrcOk } from './dnp3-crc.js';
import {
  anchorBytes,
  C2S,
  Probe,
  STATE_POOL_MAX,
  type Dir,
  type Dissector,
  type ParseCtx,
  type PduBase,
  type JsonForms,
} from '../types.js';
import { CodeCounts } from '../code-counts.js';

export type Dnp3Anomaly =
  | 'bad_start' // first two bytes are not 0x05 0x64 (parse returns -1)
  | 'invalid_length' // LEN < 5 (parse returns -1)
  | 'bad_crc' // header or data-block CRC mismatch
  | 'empty_user_data' // user-data link function without a transport header
  | 'unknown_link_fc' // link function code not defined for the PRM direction
  | 'out_of_sequence' // transport segment that does not continue the fragment
  | 'fragment_incomplete' // new FIR before the previous fragment's FIN
  | 'fragment_too_long' // reassembled fragment over MAX_FRAGMENT
  | 'app_too_short' // fragment without function code, or response without IIN
  | 'malformed_object'; // reserved qualifier, or an object header, its indexes or data past the fragment

const HDR = 10;
const MAX_FRAME = 292;
/** Reassembly bound. Fragments are 2048 bytes by default in practice. */
export const MAX_FRAGMENT = 4096;
/** Object headers recorded per fragment. */
export const MAX_OBJECTS = 32;

export interface Dnp3Object {
  group: number;
  variation: number;
  qualifier: number;
  /** Objects covered by the header (0 for qualifier 0x06, "all"). */
  count: number;
}

export interface Dnp3Pdu extends PduBase {
  src: number;
  dst: number;
  /** Link-layer function code (control & 0x0f). */
  link_fc: number;
  /** Application function code, -1 for link-only or bad-CRC frames. */
  fc: number;
  /** IIN1 << 8 | IIN2 on responses, else -1. */
  iin: number;
  uns: boolean;
  /** Reused; only the first `nobjects` entries are valid. */
  objects: Dnp3Object[];
  nobjects: number;
  /** Object headers remain that were not walked (unknown size or cap). */
  objects_truncated: boolean;
  crc_ok: boolean;
}

// Transport reassembly state of one direction.
const IDLE = 0; // no fragment in progress
const ACTIVE = 1; // between FIR and FIN
const DISCARD = 2; // lost the fragment: drop non-FIR segments quietly

interface Reasm {
  /** Allocated on the first segment of this direction. */
  buf: Buffer | null;
  len: number;
  mode: number;
  /** Segments in the fragment so far. */
  nseg: number;
  seq: number;
  src: number;
  dst: number;
}

export interface Dnp3State {
  rx: [Reasm, Reasm];
  pdu: Dnp3Pdu;
  /** Fragments per application function code. */
  fcCount: CodeCounts;
  linkFrames: number;
  linkOnly: number;
  crcErrors: number;
  segments: number;
  fragments: number;
  /** Fragments with the application UNS bit set. */
  unsolicited: number;
  /** Partial fragments abandoned (sequence, size, CRC, gap). */
  dropped: number;
}

// Object sizes in bytes by group << 8 | variation; PACKED1/2 are bit-packed
// (1 or 2 bits per point); UNKNOWN stops the walk. Octet-string groups are
// sized by their variation in code.
const UNKNOWN = -1;
const PACKED1 = -2;
const PACKED2 = -3;
const SIZES = new Int8Array(65536).fill(UNKNOWN);
function sizes(group: number, perVariation: number[]): void {
  for (let v = 0; v < perVariation.length; v++) SIZES[(group << 8) | (v + 1)] = perVariation[v];
}
// IEEE 1815-2012 Annex A, variations 1..n.
sizes(1, [PACKED1, 1]);
sizes(2, [1, 7, 3]);
sizes(3, [PACKED2, 1]);
sizes(4, [1, 7, 3]);
sizes(10, [PACKED1, 1]);
sizes(11, [1, 7]);
sizes(12, [11, 11, PACKED1]);
sizes(13, [1, 7]);
sizes(20, [5, 3, 5, 3, 4, 2, 4, 2]);
sizes(21, [5, 3, 5, 3, 11, 9, 11, 9, 4, 2, 4, 2]);
sizes(22, [5, 3, 5, 3, 11, 9, 11, 9]);
sizes(23, [5, 3, 5, 3, 11, 9, 11, 9]);
sizes(30, [5, 3, 4, 2, 5, 9]);
sizes(31, [5, 3, 11, 9, 4, 2, 5, 9]);
sizes(32, [5, 3, 11, 9, 5, 9, 11, 15]);
sizes(33, [5, 3, 11, 9, 5, 9, 11, 15]);
sizes(34, [2, 4, 4]);
sizes(40, [5, 3, 5, 9]);
sizes(41, [5, 3, 5, 9]);
sizes(42, [5, 3, 11, 9, 5, 9, 11, 15]);
sizes(43, [5, 3, 11, 9, 5, 9, 11, 15]);
sizes(50, [6, 10, 6, 11]);
sizes(51, [6, 6]);
sizes(52, [2, 2]);
sizes(60, [0, 0, 0, 0]);
sizes(80, [PACKED1]);
sizes(102, [1]);
SIZES[(120 << 8) | 4] = 2; // authentication session key status request: user number

// Which requests carry object data after their headers (IEEE 1815-2012 4.4):
// NONE = headers only, ALL = every header, TIME = only g50 (freeze at time).
// Responses (129..131) always carry data; size-prefixed objects always do;
// the objects of other function codes are not walked.
const D_UNKNOWN = 0;
const D_NONE = 1;
const D_ALL = 2;
const D_TIME = 3;
const DATA_MODE = new Uint8Array(256);
for (const fc of [0, 1, 7, 8, 9, 10, 13, 14, 15, 19, 20, 21, 22, 23, 24]) DATA_MODE[fc] = D_NONE;
for (const fc of [2, 3, 4, 5, 6, 16, 17, 18, 25, 26, 27, 28, 29, 30, 31, 32, 33]) DATA_MODE[fc] = D_ALL;
DATA_MODE[11] = D_TIME;
DATA_MODE[12] = D_TIME;
DATA_MODE[129] = D_ALL;
DATA_MODE[130] = D_ALL;
DATA_MODE[131] = D_ALL;

/** Bytes of the index/size prefix per prefix code (qualifier bits 6..4). */
const PREFIX_LEN = [0, 1, 2, 4, 1, 2, 4, -1];

// Defined link function codes, as bit sets (IEEE 1815-2012 9.2.4.1.3):
// primary 0 reset link, 1 reset user process (obsolete), 2 test link,
// 3/4 (un)confirmed user data, 9 request link status; secondary 0 ACK,
// 1 NACK, 11 link status, 14 not functioning (obsolete), 15 not supported.
const PRIMARY_FCS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9);
const SECONDARY_FCS = (1 << 0) | (1 << 1) | (1 << 11) | (1 << 14) | (1 << 15);

function frameSize(lenField: number): number {
  const data = lenField - 5;
  return HDR + data + 2 * ((data + 15) >>> 4);
}

function newReasm(): Reasm {
  return { buf: null, len: 0, mode: IDLE, nseg: 0, seq: 0, src: 0, dst: 0 };
}

function readLe(b: Uint8Array, p: number, n: number): number {
  if (n === 1) return b[p];
  if (n === 2) return b[p] | (b[p + 1] << 8);
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000;
}

function abandon(st: Dnp3State, r: Reasm): void {
  if (r.mode === ACTIVE) st.dropped++;
  r.mode = DISCARD;
  r.len = 0;
}

function fillLinkOnly(pdu: Dnp3Pdu, src: number, dst: number, linkFc: number, crcOk: boolean): void {
  pdu.src = src;
  pdu.dst = dst;
  pdu.link_fc = linkFc;
  pdu.fc = -1;
  pdu.iin = -1;
  pdu.uns = false;
  pdu.nobjects = 0;
  pdu.objects_truncated = false;
  pdu.crc_ok = crcOk;
}

/** Bytes of the range field per range code (qualifier bits 3..0); -1 reserved. */
const RANGE_LEN = [2, 4, 8, 1, 2, 4, 0, 1, 2, 4, -1, 1, -1, -1, -1, -1];

const SIZE_UNKNOWN = -1;
const MALFORMED = -2;

/**
 * Skips the data of `count` objects starting at b[p]: returns the position
 * after them, SIZE_UNKNOWN when their size is not known, or MALFORMED when
 * they run past n.
 */
function skipData(b: Buffer, p: number, n: number, group: number, variation: number, q: number, count: number): number {
  const prefixCode = (q >>> 4) & 7;
  const plen = PREFIX_LEN[prefixCode];
  if (prefixCode >= 4 && prefixCode <= 6) {
    // Each object carries its own size: walkable whatever the group. Every
    // step consumes >= 1 byte, so a huge count ends at n.
    for (let i = 0; i < count; i++) {
      if (n - p < plen) return MALFORMED;
      const size = readLe(b, p, plen);
      if (n - p - plen < size) return MALFORMED;
      p += plen + size;
    }
    return p;
  }
  if (plen < 0 || (q & 15) === 11) return SIZE_UNKNOWN; // free format needs a size prefix
  if (group === 0) {
    // Device attributes: data type code, length, value.
    for (let i = 0; i < count; i++) {
      if (n - p < plen + 2) return MALFORMED;
      const size = b[p + plen + 1];
      if (n - p - plen - 2 < size) return MALFORMED;
      p += plen + 2 + size;
    }
    return p;
  }
  let size: number = SIZES[(group << 8) | variation];
  if (group >= 110 && group <= 113) size = variation > 0 ? variation : UNKNOWN; // octet strings
  let dataLen: number;
  if (size === PACKED1 || size === PACKED2) {
    if (plen !== 0) return SIZE_UNKNOWN;
    dataLen = Math.ceil((count * (size === PACKED1 ? 1 : 2)) / 8);
  } else if (size === UNKNOWN) {
    return SIZE_UNKNOWN;
  } else {
    dataLen = count * (plen + size);
  }
  return n - p < dataLen ? MALFORMED : p + dataLen;
}

function malformed(pdu: Dnp3Pdu, dir: Dir, ctx: ParseCtx): void {
  pdu.objects_truncated = true;
  ctx.anomaly(dir, 'malformed_object');
}

/**
 * Walks the object headers of b[p, n) into pdu.objects. Stops with
 * objects_truncated at the first header whose data size is unknown, at the
 * MAX_OBJECTS cap, or (with 'malformed_object') at the first header that
 * cannot be valid: a reserved qualifier (prefix code 7, range code 10 or
 * 12-15; that header is the last one reported, with count 0), or a header,
 * its indexes or its data that do not fit. Nothing after it is read.
 */
function walkObjects(b: Buffer, p: number, n: number, fc: number, pdu: Dnp3Pdu, dir: Dir, ctx: ParseCtx): void {
  const mode = DATA_MODE[fc];
  if (mode === D_UNKNOWN) {
    pdu.objects_truncated = p < n;
    return;
  }
  while (p < n) {
    if (pdu.nobjects === MAX_OBJECTS) {
      pdu.objects_truncated = true;
      return;
    }
    if (n - p < 3) {
      malformed(pdu, dir, ctx);
      return;
    }
    const group = b[p];
    const variation = b[p + 1];
    const q = b[p + 2];
    p += 3;
    const range = q & 15;
    const rlen = RANGE_LEN[range];
    const plen = PREFIX_LEN[(q >>> 4) & 7];
    if (rlen > n - p) {
      malformed(pdu, dir, ctx);
      return;
    }
    let count: number;
    if (range <= 2) count = readLe(b, p + rlen / 2, rlen / 2) - readLe(b, p, rlen / 2) + 1;
    else if (range <= 5)
      count = 1; // one absolute address
    else if (range === 7 || range === 8 || range === 9 || range === 11) count = readLe(b, p, rlen);
    else count = 0; // 6: "all", no range field; or reserved
    const o = pdu.objects[pdu.nobjects++];
    o.group = group;
    o.variation = variation;
    o.qualifier = q;
    o.count = count > 0 ? count : 0;
    if (rlen < 0 || plen < 0) {
      malformed(pdu, dir, ctx); // reported as tshark does, then nothing more
      return;
    }
    p += rlen;
    if (count < 0) {
      malformed(pdu, dir, ctx); // stop < start
      return;
    }

    // Size-prefixed objects (prefix codes 4..6) carry their data even in
    // header-only requests (e.g. READ of g70v5 file transport).
    const sized = (q & 0x70) >= 0x40 && (q & 0x70) <= 0x60;
    if (count === 0) continue;
    if (!sized && (mode === D_NONE || (mode === D_TIME && group !== 50))) {
      // No data, but an index prefix (e.g. READ with qualifier 0x17/0x28)
      // still carries one index per object.
      if (plen > 0) {
        if (count > (n - p) / plen) {
          malformed(pdu, dir, ctx);
          return;
        }
        p += count * plen;
      }
      continue;
    }
    const next = skipData(b, p, n, group, variation, q, count);
    if (next === MALFORMED) {
      malformed(pdu, dir, ctx);
      return;
    }
    if (next === SIZE_UNKNOWN) {
      pdu.objects_truncated = p < n;
      return;
    }
    p = next;
  }
}

/** Decodes a complete application fragment and emits it. */
function emitFragment(st: Dnp3State, r: Reasm, b: Buffer, linkFc: number, dir: Dir, ctx: ParseCtx): void {
  const n = r.len;
  if (n < 2) {
    st.dropped++;
    ctx.anomaly(dir, 'app_too_short');
    return;
  }
  const pdu = st.pdu;
  const fc = b[1];
  pdu.src = r.src;
  pdu.dst = r.dst;
  pdu.link_fc = linkFc;
  pdu.fc = fc;
  pdu.uns = (b[0] & 0x10) !== 0;
  pdu.iin = -1;
  pdu.nobjects = 0;
  pdu.objects_truncated = false;
  pdu.crc_ok = true;
  st.fragments++;
  st.fcCount.add(fc);
  if (pdu.uns) st.unsolicited++;
  if (fc >= 129 && fc <= 131) {
    if (n < 4) {
      ctx.anomaly(dir, 'app_too_short');
    } else {
      pdu.iin = (b[2] << 8) | b[3];
      walkObjects(b, 4, n, fc, pdu, dir, ctx);
    }
  } else {
    walkObjects(b, 2, n, fc, pdu, dir, ctx);
  }
  ctx.emit(dir, pdu);
}

/** Transport layer for one CRC-checked frame at buf[pos] with dataLen >= 1. */
function segment(
  st: Dnp3State,
  buf: Buffer,
  pos: number,
  dataLen: number,
  src: number,
  dst: number,
  linkFc: number,
  dir: Dir,
  ctx: ParseCtx,
): void {
  st.segments++;
  const th = buf[pos + HDR];
  const fin = (th & 0x80) !== 0;
  const fir = (th & 0x40) !== 0;
  const seq = th & 0x3f;
  const r = st.rx[dir];
  // The same segment again is a link-layer retry (confirmed user data): skip it.
  if (r.mode === ACTIVE && seq === r.seq && src === r.src && dst === r.dst && fir === (r.nseg === 1)) return;
  if (fir) {
    if (r.mode === ACTIVE) {
      st.dropped++;
      ctx.anomaly(dir, 'fragment_incomplete');
    }
    r.mode = ACTIVE;
    r.len = 0;
    r.nseg = 0;
  } else if (r.mode === ACTIVE) {
    if (seq !== ((r.seq + 1) & 0x3f) || src !== r.src || dst !== r.dst) {
      abandon(st, r);
      ctx.anomaly(dir, 'out_of_sequence');
      return;
    }
  } else {
    if (r.mode === IDLE) ctx.anomaly(dir, 'out_of_sequence');
    r.mode = DISCARD;
    return;
  }
  if (r.len + dataLen - 1 > MAX_FRAGMENT) {
    abandon(st, r);
    ctx.anomaly(dir, 'fragment_too_long');
    return;
  }
  // A fragment in one segment (the common case) is assembled in a scratch
  // buffer shared by all flows; only a flow that really splits fragments
  // gets its own buffer, grown as needed up to MAX_FRAGMENT.
  const single = fir && fin;
  const need = r.len + dataLen;
  if (!single && (r.buf === null || r.buf.length < need)) {
    let size = r.buf === null ? 512 : r.buf.length * 2;
    while (size < need) size *= 2;
    if (size > MAX_FRAGMENT) size = MAX_FRAGMENT;
    const nb = Buffer.allocUnsafe(size);
    if (r.buf !== null) r.buf.copy(nb, 0, 0, r.len);
    r.buf = nb;
  }
  // Copy the user data without the block CRCs and the transport header.
  const dstBuf = single ? SCRATCH : r.buf!;
  let w = r.len;
  let p = pos + HDR;
  let left = dataLen;
  let skip = 1;
  while (left > 0) {
    const blk = left < 16 ? left : 16;
    for (let i = p + skip, e = p + blk; i < e; i++) dstBuf[w++] = buf[i];
    skip = 0;
    p += blk + 2;
    left -= blk;
  }
  r.len = w;
  r.nseg++;
  r.seq = seq;
  r.src = src;
  r.dst = dst;
  if (fin) {
    r.mode = IDLE;
    emitFragment(st, r, single ? SCRATCH : r.buf!, linkFc, dir, ctx);
    r.len = 0;
  }
}

const SCRATCH = Buffer.allocUnsafe(MAX_FRAGMENT);

/** One PDU object (with its object list) for every flow: it is only valid
 *  during ctx.emit, and parsing is synchronous. */
const SHARED_PDU: Dnp3Pdu = {
  src: 0,
  dst: 0,
  link_fc: 0,
  fc: -1,
  iin: -1,
  uns: false,
  objects: Array.from({ length: MAX_OBJECTS }, (): Dnp3Object => ({ group: 0, variation: 0, qualifier: 0, count: 0 })),
  nobjects: 0,
  objects_truncated: false,
  crc_ok: true,
};

const statePool: Dnp3State[] = [];

function newState(): Dnp3State {
  return {
    rx: [newReasm(), newReasm()],
    pdu: SHARED_PDU,
    fcCount: new CodeCounts(256),
    linkFrames: 0,
    linkOnly: 0,
    crcErrors: 0,
    segments: 0,
    fragments: 0,
    unsolicited: 0,
    dropped: 0,
  };
}

export const dnp3: Dissector<Dnp3State, Dnp3Pdu> & JsonForms<Dnp3State, Dnp3Pdu> = {
  name: 'dnp3',
  tcp: true,
  udp: true,
  ports: [20000],
  maxPdu: MAX_FRAME,
  minProbe: HDR,
  anchorAt: 0, // start bytes 05 64
  anchorOk: anchorBytes(0x05),

  probe(buf: Buffer, off: number, len: number, dir: Dir): Probe {
    if (len < 1) return Probe.NeedMore;
    if (buf[off] !== 0x05) return Probe.NoMatch;
    if (len < 2) return Probe.NeedMore;
    if (buf[off + 1] !== 0x64) return Probe.NoMatch;
    if (len < 3) return Probe.NeedMore;
    if (buf[off + 2] < 5) return Probe.NoMatch;
    if (len < HDR) return Probe.NeedMore;
    if (!dnp3CrcOk(buf, off, 8)) return Probe.NoMatch;
    // DIR = 1: sent by the master (the client role), 0: by the outstation.
    const fromMaster = (buf[off + 3] & 0x80) !== 0;
    return fromMaster === (dir === C2S) ? Probe.Match : Probe.MatchReversed;
  },

  createState(): Dnp3State {
    return statePool.pop() ?? newState();
  },

  releaseState(st: Dnp3State): void {
    if (statePool.length >= STATE_POOL_MAX) return;
    for (const r of st.rx) {
      r.buf = null;
      r.len = 0;
      r.mode = IDLE;
      r.nseg = 0;
      r.seq = 0;
      r.src = 0;
      r.dst = 0;
    }
    st.fcCount.clear();
    st.linkFrames = 0;
    st.linkOnly = 0;
    st.crcErrors = 0;
    st.segments = 0;
    st.fragments = 0;
    st.unsolicited = 0;
    st.dropped = 0;
    statePool.push(st);
  },

  parse(st: Dnp3State, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
    const end = off + len;
    let pos = off;
    while (pos < end) {
      const avail = end - pos;
      if (buf[pos] !== 0x05 || (avail >= 2 && buf[pos + 1] !== 0x64)) {
        if (pos > off) break; // the next call reports it
        ctx.anomaly(dir, 'bad_start');
        return -1;
      }
      if (avail < 3) {
        ctx.need = HDR;
        break;
      }
      const lenField = buf[pos + 2];
      if (lenField < 5) {
        if (pos > off) break;
        ctx.anomaly(dir, 'invalid_length');
        return -1;
      }
      const size = frameSize(lenField);
      if (avail < size) {
        ctx.need = size;
        break;
      }

      st.linkFrames++;
      const ctrl = buf[pos + 3];
      const linkFc = ctrl & 0x0f;
      const dst = buf[pos + 4] | (buf[pos + 5] << 8);
      const src = buf[pos + 6] | (buf[pos + 7] << 8);
      const dataLen = lenField - 5;
      let ok = dnp3CrcOk(buf, pos, 8);
      for (let p = pos + HDR, left = dataLen; ok && left > 0; p += 18, left -= 16) {
        ok = dnp3CrcOk(buf, p, left < 16 ? left : 16);
      }
      if (!ok) {
        // Neither addresses nor data can be trusted; the declared length is
        // still the best guess of where the next frame starts. A lost segment
        // orphans the rest of its fragment: drop that quietly.
        st.crcErrors++;
        if (dataLen > 0) abandon(st, st.rx[dir]);
        ctx.anomaly(dir, 'bad_crc');
        fillLinkOnly(st.pdu, src, dst, linkFc, false);
        ctx.emit(dir, st.pdu);
        pos += size;
        continue;
      }
      ctx.proven?.(); // header and block CRCs verify: this is DNP3
      if ((ctrl & 0x40) !== 0 && (linkFc === 3 || linkFc === 4)) {
        if (dataLen === 0) {
          ctx.anomaly(dir, 'empty_user_data');
          st.linkOnly++;
          fillLinkOnly(st.pdu, src, dst, linkFc, true);
          ctx.emit(dir, st.pdu);
        } else {
          segment(st, buf, pos, dataLen, src, dst, linkFc, dir, ctx);
        }
      } else {
        // Link service frame (reset, test, status, ACK...): no transport.
        // A reserved code is reported; its data, if any, is not decoded
        // since the receiver rejects such frames.
        const defined = (ctrl & 0x40) !== 0 ? PRIMARY_FCS : SECONDARY_FCS;
        if ((defined & (1 << linkFc)) === 0) ctx.anomaly(dir, 'unknown_link_fc');
        st.linkOnly++;
        fillLinkOnly(st.pdu, src, dst, linkFc, true);
        ctx.emit(dir, st.pdu);
      }
      pos += size;
    }
    return pos - off;
  },

  gap(st: Dnp3State, dir: Dir, _bytes: number): void {
    abandon(st, st.rx[dir]);
  },
  pduWrite: writeDnp3Pdu,
  pduJson: (p: Dnp3Pdu): string => jsonText(writeDnp3Pdu, p),
  flowWrite: writeDnp3Flow,
  flowJson: (st: Dnp3State): string => jsonText(writeDnp3Flow, st),
};

// OPC UA binary (UA TCP + UA Secure Conversation), OPC 10000-6 §7.1 and §6.7.
//
// Framing: every message chunk starts with an 8-byte header: 3 ASCII bytes of
// message type, 1 chunk type byte (F/C/A) and a little-endian uint32 size that
// counts the whole chunk. We frame on that size, bounded by the hard cap
// MAX_CHUNK and, once HEL/ACK were seen, by the negotiated buffer sizes.
//
// Decoded in clear: HEL/ACK/ERR/RHE bodies, the OPN asymmetric security header,
// the MSG/CLO channel and token ids, and, on channels whose security policy is
// None (from this flow's OPN, or inferred mid-stream from a sequence header
// followed by a known service type id), the sequence header and the service
// type NodeId of the first chunk of every message.
//
// Chunks: one PDU per chunk. A MSG sent as C..C F (or C..C A) is tracked per
// direction and request id; every chunk's PDU carries the logical message's
// service once known (it is only on the wire in the first chunk), and the
// final F/A chunk's PDU carries "chunks" = the number of chunks. Flow service
// counters count each logical message once, on its final F chunk.
import { u16le as u16, u32le as u32 } from '../../capture/bytes.js';
import { jsonText } from '../../output/json-out.js';
import { writeOpcuaFlow, writeOpcuaPdu } from './records.js';
import { anchorBytes, C2S, Probe, STATE_POOL_MAX, type JsonForms } from '../types.js';
import type { Dir, Dissector, ParseCtx, PduBase } from '../types.js';
import { opcuaServiceName, opcuaServiceRole } from './opcua-services.js';
import { findApplicationDescription, type UaIdentitySpans } from './opcua-identity.js';

/** Hard cap of one chunk (bytes), whatever HEL/ACK negotiated: the stream
 *  layer's buffer bound. Stacks commonly use 64 KiB chunks (open62541 65535,
 *  python-opcua/UA .NET 65535/65536). */
export const OPCUA_MAX_CHUNK = 65536;
/** Longest string (endpoint URL, policy URI, ERR reason) we decode, in bytes. */
export const OPCUA_MAX_STRING = 1024;
/** Chunked messages tracked at once per direction; the oldest is dropped beyond. */
export const OPCUA_MAX_OPEN = 8;
/** Distinct services and error codes kept in the flow counters. */
export const OPCUA_MAX_SERVICE_KEYS = 96;
export const OPCUA_MAX_ERROR_KEYS = 16;
/** The only policy whose messages are in clear. */
export const OPCUA_POLICY_NONE = 'http://opcfoundation.org/UA/SecurityPolicy#None';

export type OpcuaMsgType = 'HEL' | 'ACK' | 'ERR' | 'RHE' | 'OPN' | 'MSG' | 'CLO';
export type OpcuaChunk = 'F' | 'C' | 'A';

export type OpcuaAnomaly =
  /** Declared chunk size under the type's minimum, above the negotiated
   *  buffer size or above OPCUA_MAX_CHUNK. Framing is lost: resync. */
  | 'invalid_length'
  /** Not one of HEL/ACK/ERR/RHE/OPN/MSG/CLO. Resync. */
  | 'invalid_message_type'
  /** Chunk byte not F/C/A (resync), or C/A on a type other than MSG
   *  (OPC 10000-6 6.7.2.2: always F there; framing is kept). */
  | 'invalid_chunk_type'
  /** A String/ByteString length runs past the chunk (or is < -1). */
  | 'invalid_string_length'
  /** The service type NodeId of a clear message does not decode. */
  | 'invalid_node_id'
  /** More chunks in one message than the receiver's MaxChunkCount. */
  | 'too_many_chunks'
  /** More than OPCUA_MAX_OPEN chunked messages open in one direction. */
  | 'chunk_flood';

/** One chunk. Reused: valid only during `emit`. Numeric fields are -1 and
 *  optional ones undefined when not known for this chunk. */
export interface OpcuaPdu extends PduBase, UaIdentitySpans {
  /** Service type node id (numeric, ns=0) or -1. */
  fc: number;
  msg: OpcuaMsgType;
  chunk: OpcuaChunk;
  size: number;
  channel: number;
  token: number;
  seq: number;
  req: number;
  service: number;
  serviceName: string | undefined;
  /** OPN only: SecurityPolicyUri (bounded). */
  policy: string | undefined;
  /** HEL/RHE only: EndpointUrl (bounded). */
  endpoint: string | undefined;
  /** ERR error, abort (A) error, or a response's ServiceResult. */
  status: number;
  /** true: secured channel (only headers decoded); false: policy None, a
   *  clear body found on a secured channel, or an OPN without a receiver
   *  certificate thumbprint (not encrypted, OPC 10000-6 6.7.2.3). */
  encrypted: boolean | undefined;
  /** On the final chunk of a multi-chunk message: how many chunks. 0 otherwise. */
  chunks: number;
  // Decoded but not part of the JSON record.
  /** HEL/ACK: ProtocolVersion, buffer sizes, limits; -1 otherwise. */
  version: number;
  recvBuf: number;
  sendBuf: number;
  maxMessage: number;
  maxChunks: number;
  /** OPN: SenderCertificate / ReceiverCertificateThumbprint non-empty. */
  senderCert: boolean | undefined;
  receiverThumbprint: boolean | undefined;
  /** ERR and abort chunks: Reason (bounded). */
  reason: string | undefined;
  // UaIdentitySpans: the ApplicationDescription of a clear GetEndpointsResponse
  // (first endpoint's server), CreateSessionRequest (client) or
  // CreateSessionResponse (first server endpoint), as positions in idBuf
  // (valid during emit only); opcuaIdentity() makes the strings.
}

/** Identity of an OPC UA application (strings bounded by OPCUA_MAX_STRING). */
export interface OpcuaIdentity {
  /** Who it describes: the server (GetEndpoints/CreateSession responses) or the client (CreateSessionRequest). */
  role: 'server' | 'client';
  applicationUri: string | null;
  productUri: string | null;
  applicationName: string | null;
}

/** A bounded string from its span in the PDU's buffer (null: absent). */
export function spanText(b: Buffer, pos: number, len: number): string | null {
  return len < 0 ? null : b.toString('utf8', pos, pos + (len > OPCUA_MAX_STRING ? OPCUA_MAX_STRING : len));
}

/** The ApplicationDescription a PDU carries, or null. Call during emit only. */
export function opcuaIdentity(p: OpcuaPdu): OpcuaIdentity | null {
  const b = p.idBuf;
  if (b === null) return null;
  return {
    role: p.service === 461 ? 'client' : 'server',
    applicationUri: spanText(b, p.appUriPos, p.appUriLen),
    productUri: spanText(b, p.productUriPos, p.productUriLen),
    applicationName: spanText(b, p.appNamePos, p.appNameLen),
  };
}

export interface OpcuaState {
  pdu: OpcuaPdu;
  /** SEC_* below. */
  sec: number;
  policy: string | undefined;
  policyRaw: Buffer | undefined;
  endpoint: string | undefined;
  endpointRaw: Buffer | undefined;
  /** Per direction: largest chunk the receiver accepts (from HEL/ACK). */
  limit: [number, number];
  /** Per direction: receiver's MaxChunkCount (0 = no limit). */
  maxChunks: [number, number];
  /** Per direction: bytes were lost, or nothing was decoded yet (the flow
   *  may have started mid-stream, and the stream layer reports no gap before
   *  the protocol is identified), and no known service type id has been seen
   *  since. A MSG then may be the continuation of a message whose start was
   *  not seen, so its body is not trusted as a NodeId: only a known service
   *  id is taken (and ends this state), nothing is flagged. */
  resync: [boolean, boolean];
  // Open chunked MSG messages, OPCUA_MAX_OPEN slots per direction (dir * OPCUA_MAX_OPEN + i).
  openUsed: Uint8Array;
  /** Request id, or -1 when not visible (secured or unknown channel). */
  openKey: Float64Array;
  openCount: Uint32Array;
  openService: Float64Array;
  openTicket: Float64Array;
  ticket: number;
  /** Flow counters: service id -> messages; status code -> count. */
  services: Map<number, number>;
  errors: Map<number, number>;
}

const SEC_UNKNOWN = 0;
const SEC_NONE = 1;
const SEC_SECURED = 2;
const SEC_NONE_INFERRED = 3;

const T_HEL = 0,
  T_ACK = 1,
  T_ERR = 2,
  T_RHE = 3,
  T_OPN = 4,
  T_MSG = 5,
  T_CLO = 6;
const TYPE_NAMES: readonly OpcuaMsgType[] = ['HEL', 'ACK', 'ERR', 'RHE', 'OPN', 'MSG', 'CLO'];
const TYPE_BYTES: readonly (readonly number[])[] = TYPE_NAMES.map((n) => [...Buffer.from(n, 'latin1')]);
/** Smallest valid chunk per type: header + fixed fields + empty strings. */
const MIN_SIZE = [
  32, // HEL: version, 4 limits, EndpointUrl length
  28, // ACK: version, 4 limits
  16, // ERR: error, Reason length
  16, // RHE: ServerUri and EndpointUrl lengths
  24, // OPN: channel, policy, certificate and thumbprint lengths
  16, // MSG: channel, token
  16, // CLO: channel, token
];
const CH_F = 0x46,
  CH_C = 0x43,
  CH_A = 0x41;
/** OPC 10000-6 7.1.2.3: buffer sizes "shall be at least 8192 bytes". */
const MIN_BUFFER = 8192;
const NONE_RAW = Buffer.from(OPCUA_POLICY_NONE, 'latin1');

const ROLE_CLIENT = 1,
  ROLE_SERVER = 2;

// --- small readers (callers check bounds) ---

function i32(b: Buffer, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

/** Message type at p (3 bytes available), or -1. */
function typeAt(b: Buffer, p: number): number {
  const x = b[p],
    y = b[p + 1],
    z = b[p + 2];
  switch (x) {
    case 0x48:
      return y === 0x45 && z === 0x4c ? T_HEL : -1; // HEL
    case 0x41:
      return y === 0x43 && z === 0x4b ? T_ACK : -1; // ACK
    case 0x45:
      return y === 0x52 && z === 0x52 ? T_ERR : -1; // ERR
    case 0x52:
      return y === 0x48 && z === 0x45 ? T_RHE : -1; // RHE
    case 0x4f:
      return y === 0x50 && z === 0x4e ? T_OPN : -1; // OPN
    case 0x4d:
      return y === 0x53 && z === 0x47 ? T_MSG : -1; // MSG
    case 0x43:
      return y === 0x4c && z === 0x4f ? T_CLO : -1; // CLO
    default:
      return -1;
  }
}

/** Can the n (< 3) bytes at p begin a message type? */
function typePrefixOk(b: Buffer, p: number, n: number): boolean {
  for (let t = 0; t < 7; t++) {
    const tb = TYPE_BYTES[t];
    let ok = true;
    for (let i = 0; i < n; i++)
      if (b[p + i] !== tb[i]) {
        ok = false;
        break;
      }
    if (ok) return true;
  }
  return false;
}

function chunkValid(c: number): boolean {
  return c === CH_F || c === CH_C || c === CH_A;
}

// String/ByteString: int32 length (-1 = null) then bytes. readStr leaves the
// bytes' start/length in sPos/sLen and returns the position after, or -1 when
// the length is invalid or runs past `end`.
let sPos = 0;
let sLen = -1;
function readStr(b: Buffer, p: number, end: number): number {
  if (p + 4 > end) return -1;
  const l = i32(b, p);
  sPos = p + 4;
  if (l < -1 || l > end - sPos) return -1;
  sLen = l;
  return l > 0 ? sPos + l : sPos;
}

// NodeId / ExpandedNodeId (OPC 10000-6 5.2.2.9-10). readNodeId returns the
// numeric id when it is a numeric id in namespace 0 on the local server, else
// -1; nEnd is the position after it, or -1 when it does not decode.
let nEnd = -1;
function readNodeId(b: Buffer, p: number, end: number): number {
  nEnd = -1;
  if (p >= end) return -1;
  const enc = b[p];
  let id = -1;
  let local = true;
  let q: number;
  switch (enc & 0x3f) {
    case 0: // two-byte
      if (p + 2 > end) return -1;
      id = b[p + 1];
      q = p + 2;
      break;
    case 1: // four-byte
      if (p + 4 > end) return -1;
      local = b[p + 1] === 0;
      id = u16(b, p + 2);
      q = p + 4;
      break;
    case 2: // numeric
      if (p + 7 > end) return -1;
      local = u16(b, p + 1) === 0;
      id = u32(b, p + 3);
      q = p + 7;
      break;
    case 3: // string
    case 5: // bytestring
      if (p + 3 > end) return -1;
      q = readStr(b, p + 3, end);
      if (q < 0) return -1;
      local = false;
      break;
    case 4: // guid
      if (p + 19 > end) return -1;
      q = p + 19;
      local = false;
      break;
    default:
      return -1;
  }
  if (enc & 0x80) {
    // NamespaceUri: not namespace 0 by index
    q = readStr(b, q, end);
    if (q < 0) return -1;
    local = false;
  }
  if (enc & 0x40) {
    // ServerIndex
    if (q + 4 > end) return -1;
    if (u32(b, q) !== 0) local = false;
    q += 4;
  }
  nEnd = q;
  return local ? id : -1;
}

/** Role of the sender of a chunk judged from its content alone:
 *  ROLE_CLIENT, ROLE_SERVER or 0. Pure (used by probe). */
function contentRole(b: Buffer, p: number, end: number, t: number): number {
  switch (t) {
    case T_HEL:
      return ROLE_CLIENT;
    case T_ACK:
    case T_ERR:
    case T_RHE:
      return ROLE_SERVER;
    case T_OPN: {
      let q = readStr(b, p + 12, end);
      if (q < 0 || sLen !== NONE_RAW.length || b.compare(NONE_RAW, 0, NONE_RAW.length, sPos, sPos + sLen) !== 0) return 0;
      q = readStr(b, q, end); // certificate
      if (q < 0) return 0;
      q = readStr(b, q, end); // thumbprint
      if (q < 0) return 0;
      return opcuaServiceRole(readNodeId(b, q + 8, end));
    }
    case T_MSG:
    case T_CLO:
      if (b[p + 3] !== CH_F && b[p + 3] !== CH_C) return 0;
      return opcuaServiceRole(readNodeId(b, p + 24, end));
    default:
      return 0;
  }
}

/** Header-level sanity of a complete 8-byte header at p: type or -1. */
function headerType(b: Buffer, p: number): number {
  const t = typeAt(b, p);
  if (t < 0) return -1;
  const c = b[p + 3];
  if (c !== CH_F && !(t === T_MSG && (c === CH_C || c === CH_A))) return -1;
  const size = u32(b, p + 4);
  if (size < MIN_SIZE[t] || size > OPCUA_MAX_CHUNK) return -1;
  return t;
}

/** Deeper per-type checks on whatever of the chunk at p is visible (up to
 *  `end`, at most the chunk). Pure. */
function bodyPlausible(b: Buffer, p: number, size: number, end: number, t: number): boolean {
  const avail = end - p;
  switch (t) {
    case T_HEL:
      if (avail >= 12 && u32(b, p + 8) > 0xff) return false;
      if (avail >= 20 && (u32(b, p + 12) < MIN_BUFFER || u32(b, p + 16) < MIN_BUFFER)) return false;
      if (avail >= 32) {
        const l = i32(b, p + 28);
        if (l < -1 || size !== 32 + (l > 0 ? l : 0)) return false;
      }
      return true;
    case T_ACK:
      if (size !== 28) return false;
      if (avail >= 12 && u32(b, p + 8) > 0xff) return false;
      if (avail >= 20 && (u32(b, p + 12) < MIN_BUFFER || u32(b, p + 16) < MIN_BUFFER)) return false;
      return true;
    case T_ERR:
      if (avail >= 12 && b[p + 11] < 0x80) return false; // always a Bad code
      if (avail >= 16) {
        const l = i32(b, p + 12);
        if (l < -1 || l > 4096 || size !== 16 + (l > 0 ? l : 0)) return false;
      }
      return true;
    case T_RHE:
      if (avail >= 12) {
        const l = i32(b, p + 8);
        if (l < -1 || l > size - 16) return false;
      }
      return true;
    case T_OPN: {
      if (avail >= 16) {
        const l = i32(b, p + 12);
        if (l < 1 || l > size - 24) return false;
        // A URI: printable ASCII, as far as visible (checked up to 32 bytes).
        const stop = Math.min(end, p + 16 + l, p + 48);
        for (let i = p + 16; i < stop; i++) if (b[i] < 0x21 || b[i] > 0x7e) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

function resetPdu(pdu: OpcuaPdu): void {
  pdu.fc = -1;
  pdu.channel = -1;
  pdu.token = -1;
  pdu.seq = -1;
  pdu.req = -1;
  pdu.service = -1;
  pdu.serviceName = undefined;
  pdu.policy = undefined;
  pdu.endpoint = undefined;
  pdu.status = -1;
  pdu.encrypted = undefined;
  pdu.chunks = 0;
  pdu.version = -1;
  pdu.recvBuf = -1;
  pdu.sendBuf = -1;
  pdu.maxMessage = -1;
  pdu.maxChunks = -1;
  pdu.senderCert = undefined;
  pdu.receiverThumbprint = undefined;
  pdu.reason = undefined;
  pdu.idBuf = null;
  pdu.appUriLen = pdu.productUriLen = pdu.appNameLen = -1;
  pdu.appUriPos = pdu.productUriPos = pdu.appNamePos = 0;
}

function newPdu(): OpcuaPdu {
  const pdu = { msg: 'MSG', chunk: 'F', size: 0 } as OpcuaPdu;
  resetPdu(pdu);
  return pdu;
}

function setService(pdu: OpcuaPdu, id: number): void {
  pdu.service = id;
  pdu.fc = id;
  pdu.serviceName = id >= 0 ? opcuaServiceName(id) : undefined;
}

function bump(m: Map<number, number>, k: number, cap: number): void {
  const v = m.get(k);
  if (v !== undefined) m.set(k, v + 1);
  else if (m.size < cap) m.set(k, 1);
}

function countStatus(st: OpcuaState, status: number): void {
  // Severity Bad = top two bits 10 (OPC 10000-4 7.39).
  if (status >= 0 && status >>> 30 === 2) bump(st.errors, status, OPCUA_MAX_ERROR_KEYS);
}

/** Bounded string from the wire; `cache` is reused when the bytes are equal. */
function wireString(b: Buffer, pos: number, len: number, cacheRaw: Buffer | undefined, cache: string | undefined): string {
  const n = len > OPCUA_MAX_STRING ? OPCUA_MAX_STRING : len;
  if (cacheRaw !== undefined && cache !== undefined && cacheRaw.length === n && b.compare(cacheRaw, 0, n, pos, pos + n) === 0) return cache;
  return b.toString('utf8', pos, pos + n);
}

function setLimit(st: OpcuaState, d: number, v: number): void {
  // Values under the spec minimum are ignored rather than trusted.
  if (v >= MIN_BUFFER) st.limit[d] = v < OPCUA_MAX_CHUNK ? v : OPCUA_MAX_CHUNK;
}

// --- chunk tracking ---

function findOpen(st: OpcuaState, dir: Dir, key: number): number {
  const base = dir * OPCUA_MAX_OPEN;
  for (let i = base; i < base + OPCUA_MAX_OPEN; i++) {
    if (st.openUsed[i] === 1 && st.openKey[i] === key) return i;
  }
  return -1;
}

function allocOpen(st: OpcuaState, dir: Dir, key: number, service: number, ctx: ParseCtx): void {
  const base = dir * OPCUA_MAX_OPEN;
  let slot = -1;
  let oldest = base;
  for (let i = base; i < base + OPCUA_MAX_OPEN; i++) {
    if (st.openUsed[i] === 0) {
      slot = i;
      break;
    }
    if (st.openTicket[i] < st.openTicket[oldest]) oldest = i;
  }
  if (slot < 0) {
    ctx.anomaly(dir, 'chunk_flood');
    slot = oldest;
  }
  st.openUsed[slot] = 1;
  st.openKey[slot] = key;
  st.openCount[slot] = 1;
  st.openService[slot] = service;
  st.openTicket[slot] = st.ticket++;
}

function clearOpen(st: OpcuaState, dir: Dir): void {
  const base = dir * OPCUA_MAX_OPEN;
  for (let i = base; i < base + OPCUA_MAX_OPEN; i++) st.openUsed[i] = 0;
}

// --- per-type decoding of one complete chunk [p, p+size) ---

/** HEL and ACK share their body: version and buffer limits. The sender of
 *  either sends at most its SendBufferSize and its peer at most the
 *  sender's ReceiveBufferSize; MaxChunkCount bounds what the peer sends.
 *  (ACK carries the server's revised values.) */
function decodeLimits(st: OpcuaState, b: Buffer, p: number, dir: Dir): void {
  const pdu = st.pdu;
  pdu.version = u32(b, p + 8);
  pdu.recvBuf = u32(b, p + 12);
  pdu.sendBuf = u32(b, p + 16);
  pdu.maxMessage = u32(b, p + 20);
  pdu.maxChunks = u32(b, p + 24);
  setLimit(st, dir, pdu.sendBuf);
  setLimit(st, dir ^ 1, pdu.recvBuf);
  st.maxChunks[dir ^ 1] = pdu.maxChunks;
}

function decodeHel(st: OpcuaState, b: Buffer, p: number, end: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  decodeLimits(st, b, p, dir);
  if (readStr(b, p + 28, end) < 0) {
    ctx.anomaly(dir, 'invalid_string_length');
    return;
  }
  if (sLen >= 0) {
    const s = wireString(b, sPos, sLen, st.endpointRaw, st.endpoint);
    if (s !== st.endpoint) {
      st.endpoint = s;
      st.endpointRaw = Buffer.from(b.subarray(sPos, sPos + Math.min(sLen, OPCUA_MAX_STRING)));
    }
    pdu.endpoint = s;
  }
}

/** Error (UInt32) + Reason (String) at p: ERR body and abort chunk body. */
function decodeError(st: OpcuaState, b: Buffer, p: number, end: number, dir: Dir, ctx: ParseCtx): void {
  if (p + 4 > end) return;
  const pdu = st.pdu;
  pdu.status = u32(b, p);
  countStatus(st, pdu.status);
  if (readStr(b, p + 4, end) < 0) {
    ctx.anomaly(dir, 'invalid_string_length');
    return;
  }
  if (sLen >= 0) pdu.reason = wireString(b, sPos, sLen, undefined, undefined);
}

function decodeRhe(st: OpcuaState, b: Buffer, p: number, end: number, dir: Dir, ctx: ParseCtx): void {
  let q = readStr(b, p + 8, end); // ServerUri
  if (q >= 0) q = readStr(b, q, end); // EndpointUrl
  if (q < 0) {
    ctx.anomaly(dir, 'invalid_string_length');
    return;
  }
  if (sLen >= 0) {
    const s = wireString(b, sPos, sLen, st.endpointRaw, st.endpoint);
    if (st.endpoint === undefined) {
      st.endpoint = s;
      st.endpointRaw = Buffer.from(b.subarray(sPos, sPos + Math.min(sLen, OPCUA_MAX_STRING)));
    }
    st.pdu.endpoint = s;
  }
}

/** Service type NodeId at q and, for responses, the ResponseHeader's
 *  ServiceResult (after Timestamp and RequestHandle). */
function decodeService(st: OpcuaState, b: Buffer, q: number, end: number, dir: Dir, ctx: ParseCtx): number {
  const id = readNodeId(b, q, end);
  if (st.resync[dir]) {
    // Only a known service id proves this is the first chunk of a message.
    if (nEnd < 0 || id < 0 || opcuaServiceRole(id) === 0) return -1;
    st.resync[dir] = false;
  }
  if (nEnd < 0) {
    ctx.anomaly(dir, 'invalid_node_id');
    return -1;
  }
  setService(st.pdu, id);
  if (id >= 0 && opcuaServiceRole(id) === ROLE_SERVER && nEnd + 16 <= end) {
    st.pdu.status = u32(b, nEnd + 12);
    countStatus(st, st.pdu.status);
  }
  return id;
}

function decodeOpn(st: OpcuaState, b: Buffer, p: number, end: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  pdu.channel = u32(b, p + 8);
  let q = readStr(b, p + 12, end);
  if (q < 0) {
    ctx.anomaly(dir, 'invalid_string_length');
    return;
  }
  if (sLen >= 0) {
    const none = sLen === NONE_RAW.length && b.compare(NONE_RAW, 0, NONE_RAW.length, sPos, sPos + sLen) === 0;
    st.sec = none ? SEC_NONE : SEC_SECURED;
    const s = wireString(b, sPos, sLen, st.policyRaw, st.policy);
    if (s !== st.policy) {
      st.policy = s;
      st.policyRaw = Buffer.from(b.subarray(sPos, sPos + Math.min(sLen, OPCUA_MAX_STRING)));
    }
    pdu.policy = s;
  } else {
    st.sec = SEC_SECURED; // a null policy is not None: decode nothing further
  }
  q = readStr(b, q, end);
  if (q >= 0) {
    pdu.senderCert = sLen > 0;
    q = readStr(b, q, end);
  }
  if (q >= 0) pdu.receiverThumbprint = sLen > 0;
  if (q < 0) {
    ctx.anomaly(dir, 'invalid_string_length');
    return;
  }
  // OPC 10000-6 6.7.2.3: the thumbprint "shall be null if the Message is not
  // encrypted", so it, not the policy, says whether this OPN's body is
  // ciphertext (a signed-only or unsecured OPN under a real policy is clear).
  pdu.encrypted = st.sec !== SEC_NONE && pdu.receiverThumbprint;
  if (pdu.encrypted || q + 8 > end) return;
  pdu.seq = u32(b, q);
  pdu.req = u32(b, q + 4);
  const id = decodeService(st, b, q + 8, end, dir, ctx);
  if (id >= 0) bump(st.services, id, OPCUA_MAX_SERVICE_KEYS);
}

function decodeMsg(st: OpcuaState, b: Buffer, p: number, end: number, dir: Dir, ctx: ParseCtx, t: number, c: number): void {
  const pdu = st.pdu;
  pdu.channel = u32(b, p + 8);
  pdu.token = u32(b, p + 12);
  let plain = st.sec === SEC_NONE || st.sec === SEC_NONE_INFERRED;
  if (st.sec === SEC_SECURED) pdu.encrypted = true;
  const hasSeq = p + 24 <= end;
  if (st.sec === SEC_SECURED && hasSeq && c !== CH_A && findOpen(st, dir, -1) < 0) {
    // A secured channel in Sign (not SignAndEncrypt) mode keeps bodies in
    // clear; the mode is inside the OPN, so look: a known service id for
    // this direction's role after the sequence header (random ciphertext
    // matches with probability ~1e-8).
    const id = readNodeId(b, p + 24, end);
    if (nEnd >= 0 && id >= 0 && opcuaServiceRole(id) === (dir === 0 ? 1 : 2)) plain = true;
  }
  if (st.sec === SEC_UNKNOWN && hasSeq && c !== CH_A && (t === T_CLO || findOpen(st, dir, -1) < 0)) {
    // No OPN seen: clear if a sequence header and a known service id follow.
    const id = readNodeId(b, p + 24, end);
    if (nEnd >= 0 && id >= 0 && opcuaServiceRole(id) !== 0) {
      st.sec = SEC_NONE_INFERRED;
      plain = true;
    }
  }
  if (plain) {
    pdu.encrypted = false;
    if (!hasSeq) return;
    pdu.seq = u32(b, p + 16);
    pdu.req = u32(b, p + 20);
  }
  const key = plain ? pdu.req : -1;
  if (t === T_CLO) {
    // never chunked
    if (plain) {
      const id = decodeService(st, b, p + 24, end, dir, ctx);
      if (id >= 0) bump(st.services, id, OPCUA_MAX_SERVICE_KEYS);
    }
    return;
  }
  const slot = findOpen(st, dir, key);
  if (c === CH_A) {
    if (slot >= 0) {
      pdu.chunks = st.openCount[slot] + 1;
      setService(pdu, st.openService[slot]);
      st.openUsed[slot] = 0;
    }
    if (plain) decodeError(st, b, p + 24, end, dir, ctx);
    return;
  }
  if (slot < 0) {
    // first (or only) chunk: the service id is here
    const id = plain ? decodeService(st, b, p + 24, end, dir, ctx) : -1;
    if (id === 431 || id === 461 || id === 464) findApplicationDescription(b, nEnd, end, id, pdu);
    if (c === CH_C) allocOpen(st, dir, key, id, ctx);
    else if (id >= 0) bump(st.services, id, OPCUA_MAX_SERVICE_KEYS);
    return;
  }
  const n = st.openCount[slot] + 1;
  const id = st.openService[slot];
  setService(pdu, id);
  const max = st.maxChunks[dir];
  if (max > 0 && n === max + 1) ctx.anomaly(dir, 'too_many_chunks');
  if (c === CH_F) {
    pdu.chunks = n;
    st.openUsed[slot] = 0;
    if (id >= 0) bump(st.services, id, OPCUA_MAX_SERVICE_KEYS);
  } else {
    st.openCount[slot] = n;
  }
}

function parseChunk(st: OpcuaState, b: Buffer, p: number, size: number, t: number, dir: Dir, ctx: ParseCtx): void {
  const pdu = st.pdu;
  resetPdu(pdu);
  const c = b[p + 3];
  pdu.msg = TYPE_NAMES[t];
  pdu.chunk = c === CH_F ? 'F' : c === CH_C ? 'C' : 'A';
  pdu.size = size;
  if (c !== CH_F && t !== T_MSG) ctx.anomaly(dir, 'invalid_chunk_type');
  const end = p + size;
  switch (t) {
    case T_HEL:
      decodeHel(st, b, p, end, dir, ctx);
      break;
    case T_ACK:
      decodeLimits(st, b, p, dir);
      break;
    case T_ERR:
      decodeError(st, b, p + 8, end, dir, ctx);
      break;
    case T_RHE:
      decodeRhe(st, b, p, end, dir, ctx);
      break;
    case T_OPN:
      decodeOpn(st, b, p, end, dir, ctx);
      break;
    default:
      decodeMsg(st, b, p, end, dir, ctx, t, c);
      break;
  }
  ctx.emit(dir, pdu);
}

const statePool: OpcuaState[] = [];

export const opcua: Dissector<OpcuaState, OpcuaPdu> & JsonForms<OpcuaState, OpcuaPdu> = {
  name: 'opcua',
  tcp: true,
  udp: false,
  ports: [4840],
  maxPdu: OPCUA_MAX_CHUNK,
  minProbe: 8,
  anchorAt: 0, // first letter of HEL ACK ERR RHE OPN MSG CLO
  anchorOk: anchorBytes(...TYPE_BYTES.map((b) => b[0])),

  probe(buf: Buffer, off: number, len: number, dir: Dir): Probe {
    if (len <= 0) return Probe.NeedMore;
    if (len < 8) {
      if (len < 3) return typePrefixOk(buf, off, len) ? Probe.NeedMore : Probe.NoMatch;
      const t = typeAt(buf, off);
      if (t < 0) return Probe.NoMatch;
      if (len > 3) {
        const c = buf[off + 3];
        if (c !== CH_F && !(t === T_MSG && (c === CH_C || c === CH_A))) return Probe.NoMatch;
      }
      return Probe.NeedMore;
    }
    const t = headerType(buf, off);
    if (t < 0) return Probe.NoMatch;
    const size = u32(buf, off + 4);
    const end = off + (len < size ? len : size);
    if (!bodyPlausible(buf, off, size, end, t)) return Probe.NoMatch;
    // The next header, as far as it is visible, must be one too.
    const rest = len - size;
    if (rest >= 8) {
      if (headerType(buf, off + size) < 0) return Probe.NoMatch;
    } else if (rest > 0) {
      const n = rest < 3 ? rest : 3;
      if (n < 3 ? !typePrefixOk(buf, off + size, n) : typeAt(buf, off + size) < 0) return Probe.NoMatch;
    }
    const role = contentRole(buf, off, end, t);
    if (role === 0) return Probe.Match;
    return (role === ROLE_CLIENT) === (dir === C2S) ? Probe.Match : Probe.MatchReversed;
  },

  releaseState(st: OpcuaState): void {
    if (statePool.length >= STATE_POOL_MAX) return;
    // st.pdu is scratch, reset for every chunk (resetPdu).
    st.sec = SEC_UNKNOWN;
    st.policy = undefined;
    st.policyRaw = undefined;
    st.endpoint = undefined;
    st.endpointRaw = undefined;
    st.limit[0] = OPCUA_MAX_CHUNK;
    st.limit[1] = OPCUA_MAX_CHUNK;
    st.maxChunks[0] = 0;
    st.maxChunks[1] = 0;
    st.resync[0] = true;
    st.resync[1] = true;
    st.openUsed.fill(0);
    st.openKey.fill(0);
    st.openCount.fill(0);
    st.openService.fill(0);
    st.openTicket.fill(0);
    st.ticket = 0;
    st.services.clear();
    st.errors.clear();
    statePool.push(st);
  },

  createState(): OpcuaState {
    return (
      statePool.pop() ?? {
        pdu: newPdu(),
        sec: SEC_UNKNOWN,
        policy: undefined,
        policyRaw: undefined,
        endpoint: undefined,
        endpointRaw: undefined,
        limit: [OPCUA_MAX_CHUNK, OPCUA_MAX_CHUNK],
        maxChunks: [0, 0],
        resync: [true, true],
        openUsed: new Uint8Array(2 * OPCUA_MAX_OPEN),
        openKey: new Float64Array(2 * OPCUA_MAX_OPEN),
        openCount: new Uint32Array(2 * OPCUA_MAX_OPEN),
        openService: new Float64Array(2 * OPCUA_MAX_OPEN),
        openTicket: new Float64Array(2 * OPCUA_MAX_OPEN),
        ticket: 0,
        services: new Map(),
        errors: new Map(),
      }
    );
  },

  parse(st: OpcuaState, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
    const end = off + len;
    let p = off;
    while (p < end) {
      const avail = end - p;
      if (avail < 8) {
        // Fail early on a partial header that cannot become a valid one.
        const n = avail < 3 ? avail : 3;
        const typeOk = n < 3 ? typePrefixOk(buf, p, n) : typeAt(buf, p) >= 0;
        if (!typeOk) return bad(p, off, dir, ctx, 'invalid_message_type');
        if (avail > 3 && !chunkValid(buf[p + 3])) return bad(p, off, dir, ctx, 'invalid_chunk_type');
        ctx.need = 8;
        return p - off;
      }
      const t = typeAt(buf, p);
      if (t < 0) return bad(p, off, dir, ctx, 'invalid_message_type');
      if (!chunkValid(buf[p + 3])) return bad(p, off, dir, ctx, 'invalid_chunk_type');
      const size = u32(buf, p + 4);
      if (size < MIN_SIZE[t] || size > st.limit[dir]) return bad(p, off, dir, ctx, 'invalid_length');
      if (size > avail) {
        ctx.need = size;
        return p - off;
      }
      parseChunk(st, buf, p, size, t, dir, ctx);
      p += size;
    }
    return p - off;
  },

  gap(st: OpcuaState, dir: Dir, _bytes: number): void {
    clearOpen(st, dir);
    st.resync[dir] = true;
  },
  pduWrite: writeOpcuaPdu,
  pduJson: (p: OpcuaPdu): string => jsonText(writeOpcuaPdu, p),
  flowWrite: writeOpcuaFlow,
  flowJson: (st: OpcuaState): string => jsonText(writeOpcuaFlow, st),
};

/** Report and give up at p: -1 when nothing was consumed, else what was (the
 *  next call starts at the bad bytes and reports them then). */
function bad(p: number, off: number, dir: Dir, ctx: ParseCtx, a: OpcuaAnomaly): number {
  if (p > off) return p - off;
  ctx.anomaly(dir, a);
  return -1;
}

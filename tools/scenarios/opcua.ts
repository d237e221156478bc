// OPC UA binary capture scenarios for end-to-end tests: each function returns a
// pcap and what otwatch must report for it. The expectations are derived from
// how each scenario was built (the messages sent, how they were cut into
// segments, what the capture misses), never from running the dissector.
//
// Message layouts (OPC 10000-6): 8-byte header ("HEL"/"ACK"/"ERR"/"OPN"/"MSG"/
// "CLO", chunk byte F/C/A, uint32 LE size of the whole chunk); HEL/ACK 7.1.2;
// OPN = channel id + asymmetric security header (policy URI, sender
// certificate, receiver thumbprint) + sequence header (sequence number,
// request id) + body; MSG/CLO = channel id + token id + sequence header + body.
// The first chunk's body starts with the service's binary encoding NodeId
// (four-byte form 01 00 <id LE>); RequestHeader/ResponseHeader per 10000-4 7.33/7.34.
//
// Expectation rules of the opcua dissector (src/dissectors/opcua.ts): one PDU
// per chunk; every chunk of a message carries the message's service; the
// final chunk (F or A) of a multi-chunk message carries "chunks"; responses
// carry "status" = ResponseHeader.ServiceResult (first chunk only); abort
// chunks carry their error as "status". Flow counters count a service once per
// logical message (on its F chunk, not for aborted ones) and every Bad status
// (ERR, abort, ServiceResult).
import { Clock, toPcap } from '../pcapgen/capture.js';
import { TcpSession } from '../pcapgen/tcp-session.js';
import { mulberry32 } from '../prng.js';

export type ScenarioDir = 'c2s' | 's2c';

/** The "opcua" member of a PDU record (the dissector's pduJson). */
export interface OpcuaJson {
  msg: 'HEL' | 'ACK' | 'ERR' | 'RHE' | 'OPN' | 'MSG' | 'CLO';
  chunk: 'F' | 'C' | 'A';
  size: number;
  channel?: number;
  token?: number;
  seq?: number;
  req?: number;
  service?: number;
  service_name?: string;
  policy?: string;
  endpoint?: string;
  status?: number;
  encrypted?: boolean;
  chunks?: number;
}

export interface ExpectedOpcuaPdu {
  /** 1-based number of the packet that carried the chunk's last byte. */
  pkt: number;
  /** That packet's capture time (epoch seconds). */
  ts: number;
  dir: ScenarioDir;
  opcua: OpcuaJson;
}

/** The "opcua" member of the flow record (the dissector's flowJson). */
export interface OpcuaFlowCounters {
  policy?: string;
  endpoint?: string;
  services: Record<string, number>;
  errors: Record<string, number>;
}

export interface OpcuaScenario {
  name: string;
  about: string;
  pcap: Buffer;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  /** PDU records in capture order. */
  pdus: ExpectedOpcuaPdu[];
  /** Anomalies the dissector reports, in order (stream-layer events such as
   *  gaps and resync bytes are not listed). */
  anomalies: { dir: ScenarioDir; name: string }[];
  flow: OpcuaFlowCounters;
}

// ---- encoding ---------------------------------------------------------------

const POLICY_NONE = 'http://opcfoundation.org/UA/SecurityPolicy#None';
const POLICY_B256 = 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256';

/** Service binary encoding ids used here (UA-Nodeset Schema/NodeIds.csv). */
const SVC = {
  OpenSecureChannelRequest: 446,
  OpenSecureChannelResponse: 449,
  CloseSecureChannelRequest: 452,
  ReadRequest: 631,
  ReadResponse: 634,
  WriteRequest: 673,
  WriteResponse: 676,
  ServiceFault: 397,
} as const;
type SvcName = keyof typeof SVC;

/** Status codes used here (UA-Nodeset Schema/StatusCode.csv). */
const BadTooManyOperations = 0x80100000;
const BadResponseTooLarge = 0x80b90000;
const BadTcpEndpointUrlInvalid = 0x80830000;

const u8 = (v: number): Buffer => Buffer.from([v & 0xff]);
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
const f64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b;
};
/** DateTime: 100 ns ticks since 1601-01-01; a fixed 2023-11-14 22:13:20 UTC. */
const DATETIME = (() => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(133444784000000000n);
  return b;
})();
const str = (s: string | Buffer | null): Buffer => {
  if (s === null) return i32(-1);
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([i32(b.length), b]);
};
/** Four-byte NodeId (namespace 0, id < 65536). */
const nid4 = (id: number): Buffer => Buffer.concat([u8(0x01), u8(0), u16(id)]);
/** Numeric NodeId ns=2;i=id (four-byte form: ns < 256, id < 65536). */
const nodeNs2 = (id: number): Buffer => Buffer.concat([u8(0x01), u8(2), u16(id)]);
const EMPTY_EXT = Buffer.from([0x00, 0x00, 0x00]); // null NodeId + no body

function requestHeader(handle: number): Buffer {
  // AuthenticationToken (null NodeId), Timestamp, RequestHandle, ReturnDiagnostics,
  // AuditEntryId, TimeoutHint, AdditionalHeader.
  return Buffer.concat([Buffer.from([0x00, 0x00]), DATETIME, u32(handle), u32(0), str(null), u32(10000), EMPTY_EXT]);
}
function responseHeader(handle: number, status: number): Buffer {
  // Timestamp, RequestHandle, ServiceResult, ServiceDiagnostics (empty mask),
  // StringTable (null array), AdditionalHeader.
  return Buffer.concat([DATETIME, u32(handle), u32(status), u8(0), i32(-1), EMPTY_EXT]);
}
/** DataValue with an Int32 value (mask 0x01, Variant type 6). */
const dvInt32 = (v: number): Buffer => Buffer.concat([u8(0x01), u8(6), i32(v)]);
/** DataValue with a ByteString value (Variant type 15). */
const dvBytes = (b: Buffer): Buffer => Buffer.concat([u8(0x01), u8(15), str(b)]);

const readBody = (handle: number, nodes: number[]): Buffer =>
  Buffer.concat([
    requestHeader(handle),
    f64(0),
    u32(2), // MaxAge, TimestampsToReturn Neither
    i32(nodes.length),
    ...nodes.map((n) => Buffer.concat([nodeNs2(n), u32(13), str(null), u16(0), str(null)])), // Value attribute
  ]);
const readResponseBody = (handle: number, values: Buffer[]): Buffer =>
  Buffer.concat([responseHeader(handle, 0), i32(values.length), ...values, i32(-1)]);
const writeBody = (handle: number, node: number, value: Buffer): Buffer =>
  Buffer.concat([requestHeader(handle), i32(1), nodeNs2(node), u32(13), str(null), value]);
const writeResponseBody = (handle: number): Buffer => Buffer.concat([responseHeader(handle, 0), i32(1), u32(0), i32(-1)]);
const serviceFaultBody = (handle: number, status: number): Buffer => responseHeader(handle, status);

function header(type: string, chunk: string, rest: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(type + chunk, 0, 'latin1');
  h.writeUInt32LE(8 + rest.length, 4);
  return Buffer.concat([h, rest]);
}

/** Deterministic bytes (the low byte of each mulberry32 word), for ciphertext and certificates. */
function prngBytes(seed: number, n: number): Buffer {
  const r = mulberry32(seed);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 4294967296) & 0xff;
  return out;
}

// ---- messages with their expected record ------------------------------------

interface Msg {
  bytes: Buffer;
  json: OpcuaJson;
}

function hel(url: string, buf = 65536, maxChunks = 0): Msg {
  const bytes = header('HEL', 'F', Buffer.concat([u32(0), u32(buf), u32(buf), u32(0), u32(maxChunks), str(url)]));
  return { bytes, json: { msg: 'HEL', chunk: 'F', size: bytes.length, endpoint: url } };
}
function ack(buf = 65536, maxChunks = 0): Msg {
  const bytes = header('ACK', 'F', Buffer.concat([u32(0), u32(buf), u32(buf), u32(0), u32(maxChunks)]));
  return { bytes, json: { msg: 'ACK', chunk: 'F', size: bytes.length } };
}
function errMsg(status: number, reason: string): Msg {
  const bytes = header('ERR', 'F', Buffer.concat([u32(status), str(reason)]));
  return { bytes, json: { msg: 'ERR', chunk: 'F', size: bytes.length, status } };
}

/**
 * One secure channel with policy None (or a secured one): numbers sequence
 * numbers per direction and request ids as a real stack does.
 */
class Channel {
  id = 0;
  token = 0;
  private readonly seq: [number, number];
  private req = 0;
  private handle = 0;

  constructor(
    readonly policy: string,
    seqStart: [number, number] = [1, 51],
  ) {
    this.seq = [seqStart[0], seqStart[1]];
  }

  private nextSeq(dir: ScenarioDir): number {
    const i = dir === 'c2s' ? 0 : 1;
    return this.seq[i]++;
  }

  nextReq(): number {
    return ++this.req;
  }
  nextHandle(): number {
    return ++this.handle;
  }

  private plain(json: OpcuaJson, svc?: SvcName, status?: number): OpcuaJson {
    if (svc !== undefined) {
      json.service = SVC[svc];
      json.service_name = svc;
    }
    if (status !== undefined) json.status = status;
    json.encrypted = false;
    return json;
  }

  opnRequest(): Msg {
    const seq = this.nextSeq('c2s');
    const req = this.nextReq();
    const body = Buffer.concat([
      nid4(SVC.OpenSecureChannelRequest),
      requestHeader(this.nextHandle()),
      u32(0),
      u32(0),
      u32(1),
      str(Buffer.alloc(0)),
      u32(3600000),
    ]); // version, Issue, None, nonce, lifetime
    const bytes = header('OPN', 'F', Buffer.concat([u32(0), str(this.policy), str(null), str(null), u32(seq), u32(req), body]));
    return {
      bytes,
      json: this.plain(
        { msg: 'OPN', chunk: 'F', size: bytes.length, channel: 0, seq, req, policy: this.policy },
        'OpenSecureChannelRequest',
      ),
    };
  }

  opnResponse(channelId: number, tokenId: number, req: number): Msg {
    this.id = channelId;
    this.token = tokenId;
    const seq = this.nextSeq('s2c');
    const body = Buffer.concat([
      nid4(SVC.OpenSecureChannelResponse),
      responseHeader(this.handle, 0),
      u32(0),
      u32(channelId),
      u32(tokenId),
      DATETIME,
      u32(3600000),
      str(Buffer.alloc(0)),
    ]);
    const bytes = header('OPN', 'F', Buffer.concat([u32(channelId), str(this.policy), str(null), str(null), u32(seq), u32(req), body]));
    return {
      bytes,
      json: this.plain(
        { msg: 'OPN', chunk: 'F', size: bytes.length, channel: channelId, seq, req, policy: this.policy },
        'OpenSecureChannelResponse',
        0,
      ),
    };
  }

  /** A single-chunk MSG (or CLO) with the service's body after its NodeId. */
  msg(dir: ScenarioDir, svc: SvcName, req: number, body: Buffer, type: 'MSG' | 'CLO' = 'MSG', status?: number): Msg {
    const seq = this.nextSeq(dir);
    const bytes = header(type, 'F', Buffer.concat([u32(this.id), u32(this.token), u32(seq), u32(req), nid4(SVC[svc]), body]));
    return {
      bytes,
      json: this.plain({ msg: type, chunk: 'F', size: bytes.length, channel: this.id, token: this.token, seq, req }, svc, status),
    };
  }

  /**
   * A message in chunks of at most `maxChunk` bytes: C..C then F, or, with
   * `abort`, the first `abort.after` chunks then an A chunk with the error.
   */
  chunked(
    dir: ScenarioDir,
    svc: SvcName,
    req: number,
    body: Buffer,
    maxChunk: number,
    status?: number,
    abort?: { after: number; status: number; reason: string },
  ): Msg[] {
    const full = Buffer.concat([nid4(SVC[svc]), body]);
    const room = maxChunk - 24; // header 8 + channel 4 + token 4 + sequence header 8
    const pieces: Buffer[] = [];
    for (let o = 0; o < full.length; o += room) pieces.push(full.subarray(o, o + room));
    if (abort) pieces.length = abort.after;
    const out: Msg[] = [];
    pieces.forEach((p, k) => {
      const last = !abort && k === pieces.length - 1;
      const seq = this.nextSeq(dir);
      const c = last ? 'F' : 'C';
      const bytes = header('MSG', c, Buffer.concat([u32(this.id), u32(this.token), u32(seq), u32(req), p]));
      const json = this.plain(
        { msg: 'MSG', chunk: c, size: bytes.length, channel: this.id, token: this.token, seq, req },
        svc,
        k === 0 ? status : undefined,
      );
      if (last && pieces.length > 1) json.chunks = pieces.length;
      out.push({ bytes, json });
    });
    if (abort) {
      const seq = this.nextSeq(dir);
      const bytes = header(
        'MSG',
        'A',
        Buffer.concat([u32(this.id), u32(this.token), u32(seq), u32(req), u32(abort.status), str(abort.reason)]),
      );
      const json = this.plain(
        { msg: 'MSG', chunk: 'A', size: bytes.length, channel: this.id, token: this.token, seq, req },
        svc,
        abort.status,
      );
      json.chunks = pieces.length + 1;
      out.push({ bytes, json });
    }
    return out;
  }

  /** Secured channel: OPN with certificate/thumbprint and ciphertext after the asymmetric header. */
  securedOpn(dir: ScenarioDir, channelId: number, seed: number): Msg {
    if (dir === 's2c') this.id = channelId;
    const cert = prngBytes(seed, 620);
    const thumb = prngBytes(seed + 1, 20);
    const bytes = header(
      'OPN',
      'F',
      Buffer.concat([u32(dir === 'c2s' ? 0 : channelId), str(this.policy), str(cert), str(thumb), prngBytes(seed + 2, 256)]),
    );
    return {
      bytes,
      json: { msg: 'OPN', chunk: 'F', size: bytes.length, channel: dir === 'c2s' ? 0 : channelId, policy: this.policy, encrypted: true },
    };
  }

  /** Secured MSG/CLO: only channel and token are in clear. */
  securedMsg(type: 'MSG' | 'CLO', tokenId: number, len: number, seed: number): Msg {
    this.token = tokenId;
    const bytes = header(type, 'F', Buffer.concat([u32(this.id), u32(tokenId), prngBytes(seed, len)]));
    return { bytes, json: { msg: type, chunk: 'F', size: bytes.length, channel: this.id, token: tokenId, encrypted: true } };
  }
}

// ---- scenario script --------------------------------------------------------

const MSS = 1448;

class Script {
  readonly sess: TcpSession;
  readonly pdus: ExpectedOpcuaPdu[] = [];
  readonly anomalies: { dir: ScenarioDir; name: string }[] = [];
  policy: string | undefined;
  endpoint: string | undefined;

  constructor(
    readonly name: string,
    start: number,
    client: string,
    server: string,
    cport: number,
    sport: number,
    handshake: boolean,
  ) {
    this.sess = new TcpSession({ client, server, cport, sport, clock: new Clock(start, 2_000_000) });
    if (handshake) this.sess.handshake();
  }

  /**
   * Sends `msgs` back to back from `dir`, cut into segments at `cuts` (byte
   * offsets into their concatenation; default: MSS-sized pieces). Every
   * message is expected, completed by the segment holding its last byte.
   */
  send(dir: ScenarioDir, msgs: Msg[], cuts?: number[]): void {
    const payload = Buffer.concat(msgs.map((m) => m.bytes));
    const c = cuts ?? Array.from({ length: Math.ceil(payload.length / MSS) - 1 }, (_, k) => (k + 1) * MSS);
    const before = this.sess.frames().length;
    if (c.length === 0) this.sess.send(dir, payload);
    else this.sess.segments(dir, payload, c);
    const frames = this.sess.frames();
    const bounds = [0, ...c, payload.length];
    let off = 0;
    for (const m of msgs) {
      const end = (off += m.bytes.length);
      // Piece p holds bytes [bounds[p], bounds[p+1]); the last byte is end - 1.
      let p = 0;
      while (bounds[p + 1]! < end) p++;
      const pkt = before + p + 1;
      this.pdus.push({ pkt, ts: frames[pkt - 1]!.ts, dir, opcua: m.json });
      if (m.json.policy !== undefined) this.policy = m.json.policy;
      if (m.json.endpoint !== undefined) this.endpoint = m.json.endpoint;
    }
  }

  /** Bytes that are no message from their start (the tail of one begun before the capture). */
  raw(dir: ScenarioDir, bytes: Buffer): void {
    this.sess.send(dir, bytes);
  }

  done(about: string, close = true): OpcuaScenario {
    if (close) this.sess.close('c2s');
    return {
      name: this.name,
      about,
      pcap: toPcap(this.sess.frames()),
      client: { ip: this.sess.client, port: this.sess.cport },
      server: { ip: this.sess.server, port: this.sess.sport },
      pdus: this.pdus,
      anomalies: this.anomalies,
      flow: countersOf(this.pdus, this.policy, this.endpoint),
    };
  }
}

/** Flow counters implied by the expected PDUs (see the header comment). */
function countersOf(pdus: ExpectedOpcuaPdu[], policy: string | undefined, endpoint: string | undefined): OpcuaFlowCounters {
  const c: OpcuaFlowCounters = { services: {}, errors: {} };
  if (policy !== undefined) c.policy = policy;
  if (endpoint !== undefined) c.endpoint = endpoint;
  for (const { opcua: j } of pdus) {
    if (j.chunk === 'F' && j.service_name !== undefined) c.services[j.service_name] = (c.services[j.service_name] ?? 0) + 1;
    if (j.status !== undefined && j.status >>> 30 === 2) {
      const k = `0x${j.status.toString(16).toUpperCase().padStart(8, '0')}`;
      c.errors[k] = (c.errors[k] ?? 0) + 1;
    }
  }
  return c;
}

const T0 = 1_700_000_000;
const HMI = '192.168.40.10';
const PLC = '192.168.40.20';
const URL = 'opc.tcp://192.168.40.20:4840/plc';

/** HEL/ACK, OPN request/response on a policy None channel. */
function openNone(s: Script, ch: Channel, url = URL, buf = 65536, maxChunks = 0): void {
  s.send('c2s', [hel(url, buf, maxChunks)]);
  s.send('s2c', [ack(buf, maxChunks)]);
  const opn = ch.opnRequest();
  s.send('c2s', [opn]);
  s.send('s2c', [ch.opnResponse(7, 1, opn.json.req!)]);
}

function readPair(ch: Channel, nodes: number[], values: number[]): [Msg, Msg] {
  const req = ch.nextReq();
  const h = ch.nextHandle();
  return [
    ch.msg('c2s', 'ReadRequest', req, readBody(h, nodes)),
    ch.msg('s2c', 'ReadResponse', req, readResponseBody(h, values.map(dvInt32)), 'MSG', 0),
  ];
}

function closeChannel(s: Script, ch: Channel): void {
  s.send('c2s', [ch.msg('c2s', 'CloseSecureChannelRequest', ch.nextReq(), requestHeader(ch.nextHandle()), 'CLO')]);
}

// ---- scenarios --------------------------------------------------------------

/** A policy None session: HEL/ACK/OPN, Read, Write, a ServiceFault, CLO. */
export function opcuaSessionNone(): OpcuaScenario {
  const s = new Script('opcua-session-none', T0, HMI, PLC, 50100, 4840, true);
  const ch = new Channel(POLICY_NONE);
  openNone(s, ch);
  const [rq, rs] = readPair(ch, [1001, 1002], [42, -7]);
  s.send('c2s', [rq]);
  s.send('s2c', [rs]);
  const wreq = ch.nextReq();
  const wh = ch.nextHandle();
  s.send('c2s', [ch.msg('c2s', 'WriteRequest', wreq, writeBody(wh, 1001, dvInt32(43)))]);
  s.send('s2c', [ch.msg('s2c', 'WriteResponse', wreq, writeResponseBody(wh), 'MSG', 0)]);
  const freq = ch.nextReq();
  const fh = ch.nextHandle();
  s.send('c2s', [
    ch.msg(
      'c2s',
      'ReadRequest',
      freq,
      readBody(
        fh,
        Array.from({ length: 40 }, (_, k) => 2000 + k),
      ),
    ),
  ]);
  s.send('s2c', [ch.msg('s2c', 'ServiceFault', freq, serviceFaultBody(fh, BadTooManyOperations), 'MSG', BadTooManyOperations)]);
  closeChannel(s, ch);
  return s.done(
    'HEL/ACK, OPN (policy None), Read of 2 nodes, Write, a 40-node Read answered with a ServiceFault BadTooManyOperations, CLO',
  );
}

/** Messages cut across segments (inside the 8-byte header and inside bodies) and several per segment. */
export function opcuaSplitAcrossSegments(): OpcuaScenario {
  const s = new Script('opcua-split-across-segments', T0 + 100, HMI, PLC, 50101, 4840, true);
  const ch = new Channel(POLICY_NONE);
  const h = hel(URL);
  s.send('c2s', [h], [3]); // inside the message type
  s.send('s2c', [ack()], [6]); // inside the size field
  const opn = ch.opnRequest();
  s.send('c2s', [opn], [20, 60]); // inside the policy URI
  s.send('s2c', [ch.opnResponse(7, 1, opn.json.req!)], [8, 9]); // header alone, then one byte
  // Three pipelined reads in two segments, the cut 5 bytes into the second one.
  const pairs = [readPair(ch, [1001], [1]), readPair(ch, [1002], [2]), readPair(ch, [1003], [3])];
  const reqs = pairs.map((p) => p[0]);
  s.send('c2s', reqs, [reqs[0]!.bytes.length + 5]);
  // All three responses in one segment.
  s.send(
    's2c',
    pairs.map((p) => p[1]),
    [],
  );
  closeChannel(s, ch);
  return s.done(
    'HEL cut after 3 bytes, ACK after 6, OPN in 3 pieces, three pipelined Reads in two segments (cut inside the second header), three responses in one segment',
  );
}

/** Chunked messages: a 3-chunk WriteRequest and a ReadResponse aborted after one chunk. */
export function opcuaChunked(): OpcuaScenario {
  const s = new Script('opcua-chunked', T0 + 200, HMI, PLC, 50102, 4840, true);
  const ch = new Channel(POLICY_NONE);
  openNone(s, ch, URL, 8192, 16); // 8 KiB chunks, at most 16 chunks per message
  const wreq = ch.nextReq();
  const wh = ch.nextHandle();
  const blob = prngBytes(9, 20000);
  const chunks = ch.chunked('c2s', 'WriteRequest', wreq, writeBody(wh, 3001, dvBytes(blob)), 8192);
  if (chunks.length !== 3) throw new Error('expected a 3-chunk WriteRequest');
  s.send('c2s', chunks); // MSS-sized segments: chunk boundaries fall inside segments
  s.send('s2c', [ch.msg('s2c', 'WriteResponse', wreq, writeResponseBody(wh), 'MSG', 0)]);
  // A Read of 300 ByteString variables (64 bytes each, ~21 KB of values)
  // whose response is abandoned after its first chunk.
  const rreq = ch.nextReq();
  const rh = ch.nextHandle();
  s.send('c2s', [
    ch.msg(
      'c2s',
      'ReadRequest',
      rreq,
      readBody(
        rh,
        Array.from({ length: 300 }, (_, k) => 5000 + k),
      ),
    ),
  ]);
  const values = Array.from({ length: 300 }, (_, k) => dvBytes(prngBytes(1000 + k, 64)));
  const resp = ch.chunked('s2c', 'ReadResponse', rreq, readResponseBody(rh, values), 8192, 0, {
    after: 1,
    status: BadResponseTooLarge,
    reason: 'response exceeds MaxMessageSize',
  });
  s.send('s2c', resp);
  const [rq, rs] = readPair(ch, [1001], [5]);
  s.send('c2s', [rq]);
  s.send('s2c', [rs]);
  closeChannel(s, ch);
  return s.done(
    '8 KiB buffers; a 20000-byte ByteString Write in 3 chunks (C C F) over MSS segments; a 300-node Read whose response is aborted after 1 chunk (A, BadResponseTooLarge); then a normal Read',
  );
}

/** No handshake, no HEL/OPN: the capture starts inside a ReadRequest; policy None is inferred. */
export function opcuaMidStream(): OpcuaScenario {
  const s = new Script('opcua-mid-stream', T0 + 300, HMI, PLC, 50103, 4840, false);
  const ch = new Channel(POLICY_NONE, [500, 900]);
  ch.id = 33;
  ch.token = 4;
  for (let k = 0; k < 20; k++) {
    ch.nextReq();
    ch.nextHandle();
  }
  // The request begun before the capture: only its last 30 bytes are seen
  // (ReadValueId of node 4242: no byte sequence that forms a message header).
  const [lostReq, lostResp] = readPair(ch, [4242, 4243], [0, 0]);
  s.sess.lose('c2s', lostReq.bytes.length - 30);
  s.raw('c2s', lostReq.bytes.subarray(lostReq.bytes.length - 30));
  s.send('s2c', [lostResp]);
  for (let k = 0; k < 3; k++) {
    const [rq, rs] = readPair(ch, [1001 + k], [k]);
    s.send('c2s', [rq]);
    s.send('s2c', [rs]);
  }
  return s.done(
    'no TCP handshake and no HEL/OPN: the first client segment is the 30-byte tail of a ReadRequest (skipped); the response to it and three Read exchanges follow, decoded as policy None (inferred)',
    false,
  );
}

/** A complete policy None session with the server on TCP port 48010. */
export function opcuaNonStandardPort(): OpcuaScenario {
  const s = new Script('opcua-nonstandard-port', T0 + 400, HMI, PLC, 50104, 48010, true);
  const ch = new Channel(POLICY_NONE);
  openNone(s, ch, 'opc.tcp://192.168.40.20:48010');
  for (let k = 0; k < 2; k++) {
    const [rq, rs] = readPair(ch, [1001 + k], [10 * k]);
    s.send('c2s', [rq]);
    s.send('s2c', [rs]);
  }
  closeChannel(s, ch);
  return s.done('HEL/ACK, OPN (None), two Reads and CLO with the server on TCP port 48010');
}

/** A Basic256Sha256 channel: only headers are in clear; every record says encrypted. */
export function opcuaSecured(): OpcuaScenario {
  const s = new Script('opcua-secured', T0 + 500, HMI, PLC, 50105, 4840, true);
  const ch = new Channel(POLICY_B256);
  s.send('c2s', [hel(URL)]);
  s.send('s2c', [ack()]);
  s.send('c2s', [ch.securedOpn('c2s', 0, 100)]);
  s.send('s2c', [ch.securedOpn('s2c', 12, 200)]);
  for (let k = 0; k < 3; k++) {
    s.send('c2s', [ch.securedMsg('MSG', 1, 160 + 16 * k, 300 + k)]);
    s.send('s2c', [ch.securedMsg('MSG', 1, 224 + 16 * k, 400 + k)]);
  }
  s.send('c2s', [ch.securedMsg('CLO', 1, 96, 500)]);
  return s.done(
    'HEL/ACK, OPN with policy Basic256Sha256 (certificate, thumbprint, ciphertext), three encrypted MSG exchanges, encrypted CLO',
  );
}

/** The server refuses the endpoint: HEL answered with ERR. */
export function opcuaErr(): OpcuaScenario {
  const s = new Script('opcua-err', T0 + 600, HMI, PLC, 50106, 4840, true);
  s.send('c2s', [hel('opc.tcp://192.168.40.20:4840/nope')]);
  s.send('s2c', [errMsg(BadTcpEndpointUrlInvalid, 'unknown endpoint "/nope"')]);
  return s.done('HEL for an unknown endpoint answered by ERR BadTcpEndpointUrlInvalid (0x80830000)');
}

export const OPCUA_SCENARIOS: readonly (() => OpcuaScenario)[] = [
  opcuaSessionNone,
  opcuaSplitAcrossSegments,
  opcuaChunked,
  opcuaMidStream,
  opcuaNonStandardPort,
  opcuaSecured,
  opcuaErr,
];

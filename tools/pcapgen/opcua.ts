// Hand-built OPC UA binary messages (OPC 10000-6): UA TCP and Secure
// Conversation headers, the request/response headers and the
// ApplicationDescription carried by GetEndpoints and CreateSession.

const u8 = (v: number): Buffer => Buffer.of(v & 0xff);
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v & 0xffff);
  return b;
};
export const uaU32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v | 0);
  return b;
};
const f64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b;
};
/** DateTime: a fixed 2023-11-14 22:13:20 UTC. */
const DATETIME = (() => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(133444784000000000n);
  return b;
})();

/** String / ByteString: Int32 length (-1 for null) and the bytes. */
export function uaStr(s: string | Buffer | null): Buffer {
  if (s === null) return i32(-1);
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([i32(b.length), b]);
}

/** Four-byte NodeId (namespace 0, id < 65536). */
export const uaNid4 = (id: number): Buffer => Buffer.concat([u8(0x01), u8(0), u16(id)]);
const EMPTY_EXT = Buffer.from([0x00, 0x00, 0x00]); // null NodeId, no body

export function uaRequestHeader(handle: number): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0x00]), DATETIME, uaU32(handle), uaU32(0), uaStr(null), uaU32(10000), EMPTY_EXT]);
}

/** ResponseHeader; `diag`: a ServiceDiagnostics DiagnosticInfo with an inner one, and a StringTable of two. */
export function uaResponseHeader(handle: number, status: number, diag = false): Buffer {
  const d = diag
    ? Buffer.concat([u8(0x01 | 0x10 | 0x40), i32(3), uaStr('more'), u8(0x20), uaU32(0x80000000), i32(2), uaStr('a'), uaStr('b')])
    : Buffer.concat([u8(0), i32(-1)]);
  return Buffer.concat([DATETIME, uaU32(handle), uaU32(status), d, EMPTY_EXT]);
}

export interface UaAppDescription {
  applicationUri: string | null;
  productUri: string | null;
  /** LocalizedText: [locale, text] (either may be null: left out by the mask). */
  name: [string | null, string | null];
  type?: number;
}

export function uaApplicationDescription(a: UaAppDescription): Buffer {
  const [loc, text] = a.name;
  const mask = (loc !== null ? 1 : 0) | (text !== null ? 2 : 0);
  return Buffer.concat([
    uaStr(a.applicationUri),
    uaStr(a.productUri),
    u8(mask),
    loc !== null ? uaStr(loc) : Buffer.alloc(0),
    text !== null ? uaStr(text) : Buffer.alloc(0),
    uaU32(a.type ?? 0),
    uaStr(null),
    uaStr(null),
    i32(1),
    uaStr('opc.tcp://plc:4840'),
  ]);
}

/** EndpointDescription with policy None and one anonymous token policy. */
export function uaEndpoint(url: string, server: UaAppDescription): Buffer {
  return Buffer.concat([
    uaStr(url),
    uaApplicationDescription(server),
    uaStr(null),
    uaU32(1),
    uaStr('http://opcfoundation.org/UA/SecurityPolicy#None'),
    i32(1),
    uaStr('anon'),
    uaU32(0),
    uaStr(null),
    uaStr(null),
    uaStr(null),
    uaStr('http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary'),
    u8(0),
  ]);
}

export function uaGetEndpointsResponse(handle: number, servers: UaAppDescription[], diag = false): Buffer {
  return Buffer.concat([
    uaNid4(431),
    uaResponseHeader(handle, 0, diag),
    i32(servers.length),
    ...servers.map((s, i) => uaEndpoint(`opc.tcp://plc:${4840 + i}`, s)),
  ]);
}

export function uaCreateSessionRequest(handle: number, client: UaAppDescription): Buffer {
  return Buffer.concat([
    uaNid4(461),
    uaRequestHeader(handle),
    uaApplicationDescription(client),
    uaStr(null),
    uaStr('opc.tcp://plc:4840'),
    uaStr('session 1'),
    uaStr(Buffer.alloc(32, 7)),
    uaStr(null),
    f64(60000),
    uaU32(0),
  ]);
}

export function uaCreateSessionResponse(handle: number, server: UaAppDescription): Buffer {
  const sessionId = Buffer.concat([u8(0x02), u16(1), uaU32(123456)]); // numeric NodeId ns=1
  const token = Buffer.concat([u8(0x05), u16(1), uaStr(Buffer.alloc(16, 9))]); // ByteString NodeId
  return Buffer.concat([
    uaNid4(464),
    uaResponseHeader(handle, 0),
    sessionId,
    token,
    f64(60000),
    uaStr(Buffer.alloc(32, 3)),
    uaStr(null),
    i32(1),
    uaEndpoint('opc.tcp://plc:4840', server),
    i32(0),
    uaStr(null),
    uaStr(null),
    uaU32(0),
  ]);
}

/** A chunk: 3-byte type, chunk byte, size, then `rest`. */
export function uaChunk(type: string, chunk: string, rest: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(type + chunk, 0, 'latin1');
  h.writeUInt32LE(8 + rest.length, 4);
  return Buffer.concat([h, rest]);
}

export function uaHel(url: string): Buffer {
  return uaChunk('HEL', 'F', Buffer.concat([uaU32(0), uaU32(65536), uaU32(65536), uaU32(0), uaU32(0), uaStr(url)]));
}

export function uaAck(): Buffer {
  return uaChunk('ACK', 'F', Buffer.concat([uaU32(0), uaU32(65536), uaU32(65536), uaU32(0), uaU32(0)]));
}

/** OPN: asymmetric security header (policy, sender certificate, receiver
 *  thumbprint), sequence header, then `body` (service NodeId onwards). */
export function uaOpn(
  channel: number,
  policy: string,
  cert: Buffer | null,
  thumb: Buffer | null,
  seq: number,
  req: number,
  body: Buffer,
): Buffer {
  return uaChunk('OPN', 'F', Buffer.concat([uaU32(channel), uaStr(policy), uaStr(cert), uaStr(thumb), uaU32(seq), uaU32(req), body]));
}

export function uaOpenSecureChannelRequest(handle: number, mode: number): Buffer {
  return Buffer.concat([uaNid4(446), uaRequestHeader(handle), uaU32(0), uaU32(0), uaU32(mode), uaStr(null), uaU32(3600000)]);
}

export function uaOpenSecureChannelResponse(handle: number, channel: number): Buffer {
  return Buffer.concat([
    uaNid4(449),
    uaResponseHeader(handle, 0),
    uaU32(0),
    uaU32(channel),
    uaU32(1),
    DATETIME,
    uaU32(3600000),
    uaStr(null),
  ]);
}

/** MSG chunk on a clear channel: channel, token, sequence header, body. */
export function uaMsg(channel: number, token: number, seq: number, req: number, body: Buffer, chunk = 'F'): Buffer {
  return uaChunk('MSG', chunk, Buffer.concat([uaU32(channel), uaU32(token), uaU32(seq), uaU32(req), body]));
}

/** A clear (SecurityPolicy None) OPC UA session opened on `s`: HEL/ACK, OpenSecureChannel and
 *  CreateSession, with each side's ApplicationDescription. */
export function uaClearSession<T extends { send(dir: 'c2s' | 's2c', payload: Uint8Array): T }>(
  s: T,
  url: string,
  client: UaAppDescription,
  server: UaAppDescription,
): T {
  const none = 'http://opcfoundation.org/UA/SecurityPolicy#None';
  return s
    .send('c2s', uaHel(url))
    .send('s2c', uaAck())
    .send('c2s', uaOpn(0, none, null, null, 1, 1, uaOpenSecureChannelRequest(1, 1)))
    .send('s2c', uaOpn(5, none, null, null, 1, 1, uaOpenSecureChannelResponse(1, 5)))
    .send('c2s', uaMsg(5, 1, 3, 3, uaCreateSessionRequest(3, client)))
    .send('s2c', uaMsg(5, 1, 3, 3, uaCreateSessionResponse(3, server)));
}

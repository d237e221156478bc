// Where an OPC UA ApplicationDescription (OPC 10000-4 7.2) sits in a clear
// message, for the asset inventory: the client's in CreateSessionRequest, the
// server's in the first endpoint of GetEndpointsResponse and of
// CreateSessionResponse's ServerEndpoints. Only positions are found here
// (no string is made); every length is checked against the chunk's end, and
// the walk gives up quietly where the chunk ends (a message continued in a
// later chunk) or a field does not decode.
//
// Encodings: OPC 10000-6 5.2 (String, NodeId, ExtensionObject,
// DiagnosticInfo, LocalizedText).

/** Where the identity strings are: positions in `buf`, length -1 when null or absent. */
export interface UaIdentitySpans {
  idBuf: Buffer | null;
  appUriPos: number;
  appUriLen: number;
  productUriPos: number;
  productUriLen: number;
  appNamePos: number;
  appNameLen: number;
}

export const SVC_GET_ENDPOINTS_RESPONSE = 431;
export const SVC_CREATE_SESSION_REQUEST = 461;
export const SVC_CREATE_SESSION_RESPONSE = 464;

/** DiagnosticInfo nesting we follow (the spec sets no limit). */
const MAX_DIAG_DEPTH = 4;

function i32(b: Buffer, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

// Each skip returns the position after the field, or -1.

/** String / ByteString / XmlElement; sPos and sLen describe it. */
let sPos = 0;
let sLen = -1;
function str(b: Buffer, p: number, end: number): number {
  if (p < 0 || p + 4 > end) return -1;
  const l = i32(b, p);
  if (l < -1 || l > end - p - 4) return -1;
  sPos = p + 4;
  sLen = l;
  return l > 0 ? p + 4 + l : p + 4;
}

function nodeId(b: Buffer, p: number, end: number): number {
  if (p < 0 || p >= end) return -1;
  const enc = b[p];
  let q: number;
  switch (enc & 0x3f) {
    case 0:
      q = p + 2;
      break;
    case 1:
      q = p + 4;
      break;
    case 2:
      q = p + 7;
      break;
    case 3:
    case 5:
      q = str(b, p + 3, end);
      break;
    case 4:
      q = p + 19;
      break;
    default:
      return -1;
  }
  if (q < 0 || q > end) return -1;
  if (enc & 0x80) q = str(b, q, end);
  if (q >= 0 && enc & 0x40) q += 4;
  return q >= 0 && q <= end ? q : -1;
}

function extensionObject(b: Buffer, p: number, end: number): number {
  const q = nodeId(b, p, end);
  if (q < 0 || q >= end) return -1;
  const enc = b[q];
  if (enc === 0) return q + 1;
  return enc === 1 || enc === 2 ? str(b, q + 1, end) : -1;
}

function diagnosticInfo(b: Buffer, p: number, end: number, depth: number): number {
  if (p >= end) return -1;
  const m = b[p];
  let q = p + 1;
  if (m & 0x01) q += 4; // SymbolicId
  if (m & 0x02) q += 4; // NamespaceUri
  if (m & 0x08) q += 4; // Locale
  if (m & 0x04) q += 4; // LocalizedText
  if (m & 0x10) q = str(b, q, end); // AdditionalInfo
  if (q >= 0 && m & 0x20) q += 4; // InnerStatusCode
  if (q >= 0 && m & 0x40) q = depth < MAX_DIAG_DEPTH ? diagnosticInfo(b, q, end, depth + 1) : -1;
  return q >= 0 && q <= end ? q : -1;
}

function requestHeader(b: Buffer, p: number, end: number): number {
  let q = nodeId(b, p, end); // AuthenticationToken
  if (q < 0) return -1;
  q = str(b, q + 16, end); // Timestamp, RequestHandle, ReturnDiagnostics; AuditEntryId
  if (q < 0) return -1;
  return extensionObject(b, q + 4, end); // TimeoutHint; AdditionalHeader
}

function responseHeader(b: Buffer, p: number, end: number): number {
  let q = diagnosticInfo(b, p + 16, end, 0); // Timestamp, RequestHandle, ServiceResult; ServiceDiagnostics
  if (q < 0 || q + 4 > end) return -1;
  const n = i32(b, q); // StringTable
  q += 4;
  if (n < -1 || n > (end - q) >> 2) return -1;
  for (let i = 0; i < n && q >= 0; i++) q = str(b, q, end);
  return q < 0 ? -1 : extensionObject(b, q, end);
}

/** ApplicationUri, ProductUri and ApplicationName's text at p into `out`. */
function applicationDescription(b: Buffer, p: number, end: number, out: UaIdentitySpans): boolean {
  let q = str(b, p, end);
  if (q < 0) return false;
  const uriPos = sPos,
    uriLen = sLen;
  q = str(b, q, end);
  if (q < 0 || q >= end) return false;
  const prodPos = sPos,
    prodLen = sLen;
  const mask = b[q++];
  if (mask & 0x01) q = str(b, q, end); // Locale
  let namePos = 0,
    nameLen = -1;
  if (q >= 0 && mask & 0x02) {
    q = str(b, q, end);
    namePos = sPos;
    nameLen = sLen;
  }
  if (q < 0) return false;
  out.idBuf = b;
  out.appUriPos = uriPos;
  out.appUriLen = uriLen;
  out.productUriPos = prodPos;
  out.productUriLen = prodLen;
  out.appNamePos = namePos;
  out.appNameLen = nameLen;
  return true;
}

/** After EndpointDescription[] count at p: the first endpoint's Server. */
function firstEndpointServer(b: Buffer, p: number, end: number, out: UaIdentitySpans): boolean {
  if (p < 0 || p + 4 > end || i32(b, p) < 1) return false;
  const q = str(b, p + 4, end); // EndpointUrl
  return q >= 0 && applicationDescription(b, q, end, out);
}

/**
 * Finds the ApplicationDescription of a clear message of service `service`
 * whose body (after the service NodeId) is b[p, end). True when `out` was
 * filled; it is left alone otherwise.
 */
export function findApplicationDescription(b: Buffer, p: number, end: number, service: number, out: UaIdentitySpans): boolean {
  switch (service) {
    case SVC_CREATE_SESSION_REQUEST: {
      const q = requestHeader(b, p, end);
      return q >= 0 && applicationDescription(b, q, end, out);
    }
    case SVC_GET_ENDPOINTS_RESPONSE:
      return firstEndpointServer(b, responseHeader(b, p, end), end, out);
    case SVC_CREATE_SESSION_RESPONSE: {
      let q = responseHeader(b, p, end);
      if (q >= 0) q = nodeId(b, q, end); // SessionId
      if (q >= 0) q = nodeId(b, q, end); // AuthenticationToken
      if (q >= 0) q = str(b, q + 8, end); // RevisedSessionTimeout; ServerNonce
      if (q >= 0) q = str(b, q, end); // ServerCertificate
      return firstEndpointServer(b, q, end, out);
    }
    default:
      return false;
  }
}

// What the sender needs from a way out: connect, send one record with a
// callback once the far end has it, and word when the connection is gone.

export interface Transport {
  /** Resolves once the connection is up (TLS verified); rejects with a clear error. */
  connect(): Promise<void>;
  /** `done(null)` once the receiver acknowledged the record (MQTT: PUBACK). */
  send(type: string, line: string, done: (err: Error | null) => void): void;
  /** Records the receiver takes in flight at once, when it says (MQTT 5 Receive Maximum). */
  readonly window?: number;
  /** Set by the sender: the connection went away after connect(). */
  onDown: (err: Error) => void;
  close(): Promise<void>;
}

/** The receiver took the record but says it went nowhere: send it again later. */
export class UndeliveredError extends Error {}

/** One sentence for a TLS or socket failure, naming what to check. */
export function describeNetError(e: Error & { code?: string; reason?: string }, host: string): string {
  const code = e.code ?? '';
  switch (code) {
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the server certificate does not name '${host}' (${e.reason ?? e.message})`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `the server certificate is not signed by the CA given with --export-ca (${code})`;
    case 'CERT_HAS_EXPIRED':
      return 'the server certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'the server certificate is not valid yet (check the clock)';
    case 'ECONNREFUSED':
      return 'connection refused (is the broker running?)';
    case 'ETIMEDOUT':
      return 'connection timed out';
    default:
      break;
  }
  const m = e.message;
  if (/certificate expired/i.test(m)) return `the server rejected our client certificate as expired (${m})`;
  if (/certificate required|handshake failure|unknown ca|bad certificate/i.test(m))
    return `the server rejected our client ` + `certificate (${m})`;
  return code !== '' && !m.includes(code) ? `${m} (${code})` : m;
}

// Syslog for SIEMs: RFC 5424 messages over one long-lived TLS connection
// with RFC 5425 octet-counting framing ("LEN SP MSG"), client certificate
// included. Syslog has no acknowledgement: a record counts as delivered once
// its bytes are handed to the kernel, so a connection that dies may lose
// what was in flight on it (the MQTT export does not have this gap).
import { connect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { TlsMaterial } from './tls-files.js';
import { describeNetError, type Transport } from './transport.js';

/** local0: the facility SIEM rules usually reserve for applications. */
const FACILITY = 16;
/** RFC 5424 severities: 2 crit, 3 err, 4 warning, 5 notice, 6 info. */
const SEVERITY: Record<string, number> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };
/** Documentation enterprise number (RFC 5612) for the structured data id. */
const SD_ID = 'otwatch@32473';

export function severityOf(type: string, line: string): number {
  if (type === 'alert') {
    const m = /"severity":"([a-z]+)"/.exec(line);
    return SEVERITY[m?.[1] ?? ''] ?? 4;
  }
  return type === 'alert_summary' ? 5 : 6;
}

/** One RFC 5424 message for a stamped record line, framed per RFC 5425. */
export function syslogFrame(type: string, line: string, sensor: string): Buffer {
  const json = line.endsWith('\n') ? line.slice(0, -1) : line;
  const tsM = /"ts":([0-9.]+)/.exec(json);
  const ts = tsM !== null ? new Date(Number(tsM[1]) * 1000).toISOString() : '-';
  const seqM = /"seq":(\d+)\}$/.exec(json);
  const pri = FACILITY * 8 + severityOf(type, json);
  const sd = `[${SD_ID} sensor="${sensor}" seq="${seqM?.[1] ?? ''}"]`;
  const msg = Buffer.from(`<${pri}>1 ${ts} ${sensor} otwatch - ${type} ${sd} ${json}`, 'utf8');
  return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
}

export class SyslogTransport implements Transport {
  private sock: TLSSocket | null = null;
  onDown: (err: Error) => void = () => {};

  constructor(
    private readonly url: URL,
    private readonly tls: TlsMaterial,
    private readonly sensor: string,
  ) {}

  connect(): Promise<void> {
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const s = connect({
        host,
        port: Number(this.url.port || 6514),
        ca: this.tls.ca,
        cert: this.tls.cert,
        key: this.tls.key,
        rejectUnauthorized: true,
        servername: isIP(host) === 0 ? host : undefined,
      });
      this.sock = s;
      let up = false;
      let lastErr: Error | null = null;
      s.setTimeout(15_000, () => s.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })));
      s.on('secureConnect', () => {
        up = true;
        s.setTimeout(0);
        s.setKeepAlive(true, 30_000);
        resolve();
      });
      s.on('error', (e) => {
        lastErr = e;
      });
      // The server sends nothing; reading keeps 'end' visible.
      s.on('data', () => {});
      s.on('close', () => {
        if (this.sock === s) this.sock = null;
        const err = new Error(lastErr !== null ? describeNetError(lastErr, host) : 'the connection closed');
        if (up) this.onDown(err);
        else reject(err);
      });
    });
  }

  send(type: string, line: string, done: (err: Error | null) => void): void {
    const s = this.sock;
    if (s === null) {
      done(new Error('not connected'));
      return;
    }
    s.write(syslogFrame(type, line, this.sensor), (err) => done(err ?? null));
  }

  close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s === null) return Promise.resolve();
    return new Promise((r) => {
      s.once('close', () => r());
      s.end();
    });
  }
}

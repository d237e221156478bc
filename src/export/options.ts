// The export options (`--export URL` on read and live, `export flush`,
// `collect`), declared once, and turning them into settings.
import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError, type OptSpec, type Parsed } from '../cli/options.js';
import type { RecordKind } from '../output/sink.js';

/** TLS options shared by the sensor and the collector. */
export const TLS_OPTIONS: readonly OptSpec[] = [
  { name: 'export-ca', kind: 'string', arg: 'FILE', help: 'CA certificate (PEM) the broker/syslog server certificate must chain to' },
  { name: 'export-cert', kind: 'string', arg: 'FILE', help: 'client certificate (PEM) for mutual TLS' },
  { name: 'export-key', kind: 'string', arg: 'FILE', help: 'client private key (PEM); a warning when group or others can read it' },
  { name: 'export-insecure', kind: 'flag', help: 'allow mqtt:// (plaintext); a warning at every connect' },
];

export const SPOOL_OPTIONS: readonly OptSpec[] = [
  {
    name: 'state',
    kind: 'string',
    arg: 'DIR',
    help: 'state directory: export spool and seq (default $STATE_DIRECTORY, $XDG_STATE_HOME/otwatch or ~/.local/state/otwatch)',
  },
  {
    name: 'export-format',
    kind: 'string',
    arg: 'FMT',
    choices: ['json', 'msgpack'],
    default: 'json',
    help: 'payload encoding of exported records',
  },
  {
    name: 'export-wait',
    kind: 'seconds',
    arg: 'DUR',
    default: 30,
    help: 'read: at end of input, wait this long for the spool to drain (exit 4 if it did not)',
  },
  {
    name: 'export-rate',
    kind: 'number',
    arg: 'N',
    default: 5000,
    help: 'at most N records/s sent (bounds a backlog after an outage; 0: no bound)',
  },
  {
    name: 'spool-mb',
    kind: 'number',
    arg: 'MB',
    default: 1024,
    help: 'spool bound; when full, flows/stats/pdus are dropped oldest first, alerts last',
  },
];

/** This sensor's name: in exported topics and records, and in the inventory. */
export const SENSOR_OPTION: OptSpec = {
  name: 'sensor-id',
  kind: 'string',
  arg: 'NAME',
  help: "this sensor's name in exported records and topics and in the inventory (default: the host name)",
};

export const EXPORT_OPTIONS: readonly OptSpec[] = [
  {
    name: 'export',
    kind: 'string',
    arg: 'URL',
    help: 'send records out: mqtts://HOST:PORT (MQTT 5, QoS 1) or syslog+tls://HOST:PORT (RFC 5424/5425)',
  },
  {
    name: 'export-types',
    kind: 'list',
    arg: 'LIST',
    help: 'record types to export: alert,alert_summary,flow,stats,pdu (default all; syslog: alert,alert_summary)',
  },
  ...TLS_OPTIONS,
  ...SPOOL_OPTIONS,
];

export const RECORD_TYPES = ['alert', 'alert_summary', 'flow', 'stats', 'pdu'] as const;
export type ExportType = (typeof RECORD_TYPES)[number];
/** The output kind (file) each exported type belongs to. */
export const KIND_OF: Readonly<Record<string, RecordKind>> = {
  alert: 'alert',
  alert_summary: 'alert',
  flow: 'flow',
  pdu: 'pdu',
  stats: 'stats',
};

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface ExportSettings {
  url: URL;
  transport: 'mqtt' | 'syslog';
  secure: boolean;
  tls: TlsFiles;
  sensor: string;
  stateDir: string;
  types: Set<string>;
  format: 'json' | 'msgpack';
  waitSecs: number;
  rate: number;
  spoolBytes: number;
}

/** Sensor names go into topics: no wildcards, separators or spaces. */
export const SENSOR_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function defaultStateDir(): string {
  // systemd sets STATE_DIRECTORY for StateDirectory=otwatch.
  const sd = process.env.STATE_DIRECTORY;
  if (sd) return sd.split(':')[0];
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'otwatch');
}

export function tlsFiles(opts: Parsed['opts']): TlsFiles {
  const s = (k: string) => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  return { ca: s('export-ca'), cert: s('export-cert'), key: s('export-key') };
}

/** Parses a broker URL; plaintext only with --export-insecure. */
export function brokerUrl(
  text: string,
  opts: Parsed['opts'],
  allowSyslog: boolean,
): { url: URL; transport: 'mqtt' | 'syslog'; secure: boolean } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`bad export URL '${text}' (example: mqtts://broker.dmz:8883)`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  const known = allowSyslog ? ['mqtts', 'mqtt', 'syslog+tls'] : ['mqtts', 'mqtt'];
  if (!known.includes(scheme))
    throw new UsageError(`export URL scheme must be one of ` + `${known.map((k) => `${k}://`).join(', ')}, not ${scheme}://`);
  if (url.hostname === '') throw new UsageError(`export URL '${text}' has no host`);
  if (scheme === 'mqtt' && opts['export-insecure'] !== true) {
    throw new UsageError('mqtt:// is plaintext: use mqtts://, or give --export-insecure to allow it');
  }
  const secure = scheme !== 'mqtt';
  const tls = tlsFiles(opts);
  if (secure && tls.ca === undefined) throw new UsageError('--export-ca FILE is needed to verify the server certificate');
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new UsageError('--export-cert and --export-key go together');
  return { url, transport: scheme === 'syslog+tls' ? 'syslog' : 'mqtt', secure };
}

export function exportSettings(opts: Parsed['opts'], urlText = opts.export as string | undefined): ExportSettings | null {
  if (typeof urlText !== 'string') return null;
  const { url, transport, secure } = brokerUrl(urlText, opts, true);
  const sensor = typeof opts['sensor-id'] === 'string' ? (opts['sensor-id'] as string) : hostname().split('.')[0];
  if (!SENSOR_ID.test(sensor)) throw new UsageError(`sensor id '${sensor}' must be 1-64 letters, digits, '_', '.', '-' (give --sensor-id)`);
  let types: Set<string>;
  if (Array.isArray(opts['export-types'])) {
    for (const t of opts['export-types']) {
      if (!(RECORD_TYPES as readonly string[]).includes(t))
        throw new UsageError(`--export-types: unknown type '${t}' ` + `(known: ${RECORD_TYPES.join(',')})`);
    }
    types = new Set(opts['export-types']);
  } else {
    types = new Set(transport === 'syslog' ? ['alert', 'alert_summary'] : RECORD_TYPES);
  }
  const mb = opts['spool-mb'] as number;
  if (!(mb >= 1)) throw new UsageError('--spool-mb must be at least 1');
  return {
    url,
    transport,
    secure,
    tls: tlsFiles(opts),
    sensor,
    stateDir: typeof opts.state === 'string' ? (opts.state as string) : defaultStateDir(),
    types,
    format: opts['export-format'] as 'json' | 'msgpack',
    waitSecs: opts['export-wait'] as number,
    rate: opts['export-rate'] as number,
    spoolBytes: Math.floor(mb * 1024 * 1024),
  };
}

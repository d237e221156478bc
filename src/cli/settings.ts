// The options `read`, `live` and `baseline` share, declared once (parsing
// and --help are built from these tables), and the one place where parsed
// option values become typed settings: nothing below src/cli sees the bag.
import { DISSECTORS } from '../dissectors/index.js';
import { DEFAULT_FLOW_OPTIONS } from '../flows/flow-table.js';
import { DEFAULT_SCAN } from '../detect/scan.js';
import { EXPORT_OPTIONS, exportSettings, SENSOR_OPTION } from '../export/options.js';
import { INVENTORY_RUN_OPTIONS, inventorySettings } from '../inventory/run-options.js';
import type { DetectSettings, EngineSettings, LogSettings, OutputSettings, PipelineSettings, ScanSettings } from '../pipeline/settings.js';
import type { OptSpec, Parsed } from './options.js';

type Opts = Parsed['opts'];

export const SCAN_OPTIONS: readonly OptSpec[] = [
  {
    name: 'scan-ports',
    kind: 'number',
    arg: 'N',
    default: DEFAULT_SCAN.ports,
    help: 'a scan: one source touches more than N ports of one host (0: off)',
  },
  {
    name: 'scan-hosts',
    kind: 'number',
    arg: 'N',
    default: DEFAULT_SCAN.hosts,
    help: 'a scan: one source touches more than N hosts on one port (0: off)',
  },
  { name: 'scan-window', kind: 'seconds', arg: 'DUR', default: DEFAULT_SCAN.window, help: 'a scan: ... within DUR of capture time' },
];

export const DETECT_OPTIONS: readonly OptSpec[] = [
  { name: 'baseline', kind: 'string', arg: 'FILE', help: 'alert on what this baseline (otwatch baseline learn) has not seen' },
  { name: 'learn-for', kind: 'seconds', arg: 'DUR', help: 'learn a baseline from the first DUR of capture time, then alert' },
  { name: 'save-baseline', kind: 'string', arg: 'FILE', help: 'with --learn-for: write the learned baseline to FILE when learning ends' },
  { name: 'policy', kind: 'string', arg: 'FILE', help: 'zones and conduits (JSON) to enforce: zone_violation alerts' },
  ...SCAN_OPTIONS,
];

/** What shapes the engine (flows and dissectors); `baseline learn` takes these. */
export const ENGINE_OPTIONS: readonly OptSpec[] = [
  { name: 'no-dissect', kind: 'flag', help: 'flows only: no application-layer decoding' },
  { name: 'protocols', kind: 'list', arg: 'LIST', help: `dissectors to run (default all: ${DISSECTORS.map((d) => d.name).join(',')})` },
  {
    name: 'max-flows',
    kind: 'number',
    arg: 'N',
    default: DEFAULT_FLOW_OPTIONS.maxFlows,
    help: 'flow table cap; the least recently active flow is evicted',
  },
  { name: 'tcp-idle', kind: 'seconds', arg: 'DUR', default: DEFAULT_FLOW_OPTIONS.tcpIdle, help: 'TCP idle timeout' },
  { name: 'udp-idle', kind: 'seconds', arg: 'DUR', default: DEFAULT_FLOW_OPTIONS.udpIdle, help: 'UDP idle timeout' },
  {
    name: 'active-timeout',
    kind: 'seconds',
    arg: 'DUR',
    default: DEFAULT_FLOW_OPTIONS.activeTimeout,
    help: 'interim record for flows open this long',
  },
  { name: 'reassembly-mb', kind: 'number', arg: 'MB', default: 64, help: 'global bound on out-of-order TCP bytes held' },
];

export const LOG_OPTIONS: readonly OptSpec[] = [
  {
    name: 'log-level',
    kind: 'string',
    arg: 'LEVEL',
    default: 'info',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    help: 'diagnostics on stderr',
  },
  { name: 'log-format', kind: 'string', arg: 'FMT', default: 'text', choices: ['text', 'json'], help: 'diagnostics as text or pino JSON' },
];

export const PIPELINE_OPTIONS: readonly OptSpec[] = [
  { name: 'json', kind: 'flag', help: 'stream NDJSON records to stdout (the summary goes to stderr)' },
  { name: 'write', short: 'w', kind: 'string', arg: 'DIR', help: 'write flows.ndjson, pdus.ndjson, alerts.ndjson into DIR' },
  { name: 'format', kind: 'string', arg: 'FMT', choices: ['ndjson', 'msgpack'], default: 'ndjson', help: 'file format for -w' },
  { name: 'pdus', kind: 'flag', help: 'one record per application PDU' },
  ...ENGINE_OPTIONS,
  ...LOG_OPTIONS,
  ...DETECT_OPTIONS,
  SENSOR_OPTION,
  ...EXPORT_OPTIONS,
  ...INVENTORY_RUN_OPTIONS,
];

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown, dflt: number): number => (typeof v === 'number' ? v : dflt);

export function engineSettings(o: Opts): EngineSettings {
  return {
    flows: {
      ...DEFAULT_FLOW_OPTIONS,
      maxFlows: Math.max(1, Math.floor(num(o['max-flows'], DEFAULT_FLOW_OPTIONS.maxFlows))),
      tcpIdle: num(o['tcp-idle'], DEFAULT_FLOW_OPTIONS.tcpIdle),
      udpIdle: num(o['udp-idle'], DEFAULT_FLOW_OPTIONS.udpIdle),
      activeTimeout: num(o['active-timeout'], DEFAULT_FLOW_OPTIONS.activeTimeout),
    },
    protocols: o['no-dissect'] === true ? [] : Array.isArray(o.protocols) ? o.protocols : null,
    pdus: o.pdus === true,
    reassemblyBytes: num(o['reassembly-mb'], 64) * 1024 * 1024,
    summary: o.quiet !== true,
  };
}

export function scanSettings(o: Opts): ScanSettings {
  return {
    ports: Math.floor(num(o['scan-ports'], DEFAULT_SCAN.ports)),
    hosts: Math.floor(num(o['scan-hosts'], DEFAULT_SCAN.hosts)),
    window: num(o['scan-window'], DEFAULT_SCAN.window),
  };
}

export function logSettings(o: Opts): LogSettings {
  return { level: str(o['log-level']) ?? 'info', format: o['log-format'] === 'json' ? 'json' : 'text' };
}

function outputSettings(o: Opts): OutputSettings {
  return { json: o.json === true, dir: str(o.write), format: o.format === 'msgpack' ? 'msgpack' : 'ndjson' };
}

function detectSettings(o: Opts): DetectSettings {
  return {
    baseline: str(o.baseline),
    learnFor: typeof o['learn-for'] === 'number' ? o['learn-for'] : null,
    saveBaseline: str(o['save-baseline']),
    policy: str(o.policy),
    scan: scanSettings(o),
  };
}

export function pipelineSettings(o: Opts): PipelineSettings {
  return {
    engine: engineSettings(o),
    output: outputSettings(o),
    detect: detectSettings(o),
    log: logSettings(o),
    export: exportSettings(o),
    inventory: inventorySettings(o),
    quiet: o.quiet === true,
  };
}

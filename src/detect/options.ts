// Detection options shared by `read` and `live` (spread into PIPELINE_OPTIONS),
// and building the detector from them.
import type { OptSpec } from '../cli/options.js';
import { UsageError } from '../cli/options.js';
import type { ProtocolModule } from '../dissectors/module.js';
import type { Logger } from '../output/log.js';
import type { RecordSink } from '../output/sink.js';
import { AlertLog } from './alerts.js';
import { BaselineError, type Baseline } from './baseline.js';
import { loadBaseline, saveBaseline } from './baseline-file.js';
import { Detector } from './detector.js';
import { loadPolicy, PolicyError, type Policy } from './policy.js';
import { DEFAULT_SCAN } from './scan.js';

export const SCAN_OPTIONS: readonly OptSpec[] = [
  { name: 'scan-ports', kind: 'number', arg: 'N', default: DEFAULT_SCAN.ports, help: 'a scan: one source touches more than N ports of one host (0: off)' },
  { name: 'scan-hosts', kind: 'number', arg: 'N', default: DEFAULT_SCAN.hosts, help: 'a scan: one source touches more than N hosts on one port (0: off)' },
  { name: 'scan-window', kind: 'seconds', arg: 'DUR', default: DEFAULT_SCAN.window, help: 'a scan: ... within DUR of capture time' },
];

export const DETECT_OPTIONS: readonly OptSpec[] = [
  { name: 'baseline', kind: 'string', arg: 'FILE', help: 'alert on what this baseline (otwatch baseline learn) has not seen' },
  { name: 'learn-for', kind: 'seconds', arg: 'DUR', help: 'learn a baseline from the first DUR of capture time, then alert' },
  { name: 'save-baseline', kind: 'string', arg: 'FILE', help: 'with --learn-for: write the learned baseline to FILE when learning ends' },
  { name: 'policy', kind: 'string', arg: 'FILE', help: 'zones and conduits (JSON) to enforce: zone_violation alerts' },
  ...SCAN_OPTIONS,
];

export function scanOptions(opts: Record<string, unknown>): { ports: number; hosts: number; window: number } {
  return {
    ports: Math.floor((opts['scan-ports'] as number | undefined) ?? DEFAULT_SCAN.ports),
    hosts: Math.floor((opts['scan-hosts'] as number | undefined) ?? DEFAULT_SCAN.hosts),
    window: (opts['scan-window'] as number | undefined) ?? DEFAULT_SCAN.window,
  };
}

/** The detector the options ask for, or null when they ask for none. File
 *  problems are UsageErrors with a clear message. */
export function detectorFromOptions(
  opts: Record<string, unknown>,
  sink: RecordSink,
  dissectors: readonly ProtocolModule[],
  log: Logger | null,
): Detector | null {
  const bpath = typeof opts.baseline === 'string' ? opts.baseline : null;
  const ppath = typeof opts.policy === 'string' ? opts.policy : null;
  const learnFor = typeof opts['learn-for'] === 'number' ? (opts['learn-for'] as number) : null;
  const save = typeof opts['save-baseline'] === 'string' ? (opts['save-baseline'] as string) : null;
  if (save !== null && learnFor === null) throw new UsageError('--save-baseline needs --learn-for');
  if (bpath === null && ppath === null && learnFor === null) return null;
  let baseline: Baseline | null = null;
  let policy: Policy | null = null;
  try {
    if (bpath !== null) baseline = loadBaseline(bpath);
    if (ppath !== null) policy = loadPolicy(ppath);
  } catch (e) {
    if (e instanceof BaselineError || e instanceof PolicyError) throw new UsageError(e.message);
    throw e;
  }
  if (baseline !== null) {
    log?.debug(`baseline ${bpath}: ${baseline.endpoints.size} endpoints, ${baseline.hosts.size} hosts, ${baseline.scanners.size} scanners`);
  }
  const alerts = new AlertLog(sink);
  let ended = false;
  return new Detector(
    {
      baseline,
      learnFor,
      policy,
      scan: scanOptions(opts),
      dissectors,
      onLearned: (b, ts) => {
        if (ended) log?.info('flows open when learning ended added learned facts since');
        else log?.info(`learning ended at capture time ${new Date(ts * 1000).toISOString()}: ${b.endpoints.size} listening endpoints, ${b.hosts.size} hosts`);
        ended = true;
        if (save !== null) {
          try {
            saveBaseline(save, b);
          } catch (e) {
            log?.error((e as Error).message);
          }
        }
      },
      onFinish: (a) => {
        if (a.count > 0 || a.dropped > 0) log?.info(`detection: ${a.summaryText()}`);
      },
    },
    alerts,
  );
}

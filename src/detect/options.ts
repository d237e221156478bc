// Building the detector a run's DetectSettings ask for (`read`, `live`).
import type { ProtocolModule } from '../dissectors/module.js';
import type { Logger } from '../output/log.js';
import type { RecordSink } from '../output/sink.js';
import { UsageError } from '../pipeline/errors.js';
import type { DetectSettings } from '../pipeline/settings.js';
import { AlertLog } from './alerts.js';
import { BaselineError, type Baseline } from './baseline.js';
import { loadBaseline, saveBaseline } from './baseline-file.js';
import { Detector } from './detector.js';
import { loadPolicy, PolicyError, type Policy } from './policy.js';

/** The detector the options ask for, or null when they ask for none. File
 *  problems are UsageErrors with a clear message. */
export function detectorFor(
  s: DetectSettings,
  sink: RecordSink,
  dissectors: readonly ProtocolModule[],
  log: Logger | null,
): Detector | null {
  const { baseline: bpath, policy: ppath, learnFor, saveBaseline: save } = s;
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
      scan: s.scan,
      dissectors,
      onLearned: (b, ts) => {
        if (ended) log?.info('flows open when learning ended added learned facts since');
        else
          log?.info(
            `learning ended at capture time ${new Date(ts * 1000).toISOString()}: ${b.endpoints.size} listening endpoints, ${b.hosts.size} hosts`,
          );
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

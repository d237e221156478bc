// `otwatch baseline learn|show|diff`: build a baseline from captures, print
// one as JSON, compare two.
import { allocReadBuffer, readCapture } from '../capture/file-source.js';
import { CaptureError } from '../capture/raw-packet.js';
import { AlertLog } from '../detect/alerts.js';
import { BaselineError, toPlain, type Baseline } from '../detect/baseline.js';
import { BaselineWriteError, loadBaseline, saveBaseline } from '../detect/baseline-file.js';
import { diffBaselines, diffJson, diffText } from '../detect/baseline-diff.js';
import { Detector } from '../detect/detector.js';
import { NullSink } from '../output/sink.js';
import { createLogger } from '../output/log.js';
import { engineFor } from '../pipeline/build.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { ENGINE_OPTIONS, engineSettings, LOG_OPTIONS, logSettings, SCAN_OPTIONS, scanSettings } from './settings.js';

export const BASELINE_OPTIONS: readonly OptSpec[] = [
  { name: 'output', short: 'o', kind: 'string', arg: 'FILE', help: 'learn: the baseline file to write' },
  { name: 'from', kind: 'string', arg: 'FILE', help: 'learn: start from this baseline and add what the captures show' },
  { name: 'json', kind: 'flag', help: 'diff: JSON instead of text' },
  ...ENGINE_OPTIONS,
  ...LOG_OPTIONS,
  ...SCAN_OPTIONS,
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export const BASELINE_USAGE = 'otwatch baseline learn [options] CAPTURE... -o FILE | baseline show FILE | baseline diff OLD NEW';

function load(path: string): Baseline {
  try {
    return loadBaseline(path);
  } catch (e) {
    if (e instanceof BaselineError) throw new UsageError(e.message);
    throw e;
  }
}

export async function runBaseline({ opts, rest }: Parsed): Promise<number> {
  const [sub, ...args] = rest;
  switch (sub) {
    case 'learn':
      return learn(opts, args);
    case 'show': {
      if (args.length !== 1) throw new UsageError('usage: otwatch baseline show FILE');
      process.stdout.write(`${JSON.stringify(toPlain(load(args[0])), null, 2)}\n`);
      return 0;
    }
    case 'diff': {
      if (args.length !== 2) throw new UsageError('usage: otwatch baseline diff OLD NEW');
      const d = diffBaselines(load(args[0]), load(args[1]));
      process.stdout.write(opts.json ? diffJson(d) : diffText(d));
      // Like diff(1): 0 when the same, 1 when they differ.
      return d.added.length + d.removed.length === 0 ? 0 : 1;
    }
    case undefined:
      throw new UsageError(`usage: ${BASELINE_USAGE}`);
    default:
      throw new UsageError(`unknown baseline command '${sub}' (learn, show, diff)`);
  }
}

async function learn(opts: Parsed['opts'], paths: string[]): Promise<number> {
  const out = opts.output;
  if (typeof out !== 'string') throw new UsageError('baseline learn needs -o FILE');
  if (paths.length === 0) throw new UsageError('baseline learn needs capture files (or - for stdin)');
  const ls = logSettings(opts);
  const log = createLogger(ls.level, ls.format);
  const from = typeof opts.from === 'string' ? load(opts.from) : null;
  const engine = engineFor({ ...engineSettings(opts), summary: false }, new NullSink());
  const det = new Detector(
    { baseline: from, learnFor: Infinity, policy: null, scan: scanSettings(opts), dissectors: engine.opts.dissectors },
    new AlertLog(new NullSink()),
  );
  engine.observer = det;
  const buffer = allocReadBuffer();
  let damaged = 0;
  for (const path of paths) {
    try {
      await readCapture(path, engine.onPacket, { buffer });
    } catch (e) {
      damaged++;
      log.error(e instanceof CaptureError ? e.message : `${path}: ${(e as Error).message}`);
    }
  }
  engine.finish('eof');
  const b = det.baseline;
  try {
    saveBaseline(out, b);
  } catch (e) {
    // Disk full or no permission: the learning went well, the output failed.
    if (e instanceof BaselineWriteError) {
      log.error(`${e.message}; the previous file, if any, is unchanged`);
      return 1;
    }
    if (e instanceof BaselineError) throw new UsageError(e.message);
    throw e;
  }
  let talkers = 0;
  let fns = 0;
  for (const ep of b.endpoints.values()) {
    talkers += ep.talkers.size;
    for (const t of ep.talkers.values()) fns += t.fns.size;
  }
  log.info(
    `${out}: ${b.endpoints.size} listening endpoints, ${talkers} talkers, ${fns} function facts, ${b.hosts.size} hosts, ` +
      `${b.scanners.size} scanners from ${engine.stats.packets} packets${b.overflow > 0 ? ` (${b.overflow} facts over the limits, not kept)` : ''}`,
  );
  return damaged > 0 ? 1 : 0;
}

// What `read` and `live` share around their capture loop: building the
// pipeline from typed settings, and ending a run (internal-error report,
// output faults, the human summary, the exit code), written once.
import type { Detector } from '../detect/detector.js';
import { detectorFor } from '../detect/options.js';
import type { Engine } from '../engine.js';
import { FdWriter } from '../output/fd-writer.js';
import { createLogger, type Logger } from '../output/log.js';
import { TeeSink, type RecordSink } from '../output/sink.js';
import { type ExportSink, startExportSink } from '../export/export-thread.js';
import { openInventory } from '../inventory/run-options.js';
import type { InventorySession } from '../inventory/session.js';
import { renderAlerts, renderSummary, type FileTime } from '../output/summary-text.js';
import { engineFor, fileOutputs } from './build.js';
import { EXIT_CLOSED_STDOUT, faultText, type OutputFault } from './errors.js';
import type { PipelineSettings } from './settings.js';
import { StopControl } from './stop.js';

export const EXIT_OK = 0;
/** Some input damaged or unreadable, or an output could not be written. */
export const EXIT_FAILED = 1;
export const EXIT_INTERNAL = 3;
/** --export: records were still spooled when --export-wait ran out. */
export const EXIT_SPOOLED = 4;

export interface Pipeline {
  settings: PipelineSettings;
  log: Logger;
  engine: Engine;
  sink: RecordSink;
  detector: Detector | null;
  /** --export: teed into `sink`; drained at the end of the run. */
  exporter: ExportSink | null;
  /** --inventory: an observer beside the detector; its last write at endRun. */
  inventory: InventorySession | null;
  stop: StopControl;
  /** Flows live in this thread's engine (not in workers), not yet ended. */
  flowsOpen: boolean;
}

/** Ends every open flow of this thread's engine (once). */
export function finishFlows(p: Pipeline, reason: 'eof' | 'shutdown'): void {
  if (!p.flowsOpen) return;
  p.flowsOpen = false;
  p.engine.finish(reason);
}

/** The engine, detector and signal handling of a run. Outputs are those of
 *  --json / -w unless the command brings its own (`live`: rotating files). */
export function startPipeline(settings: PipelineSettings, outputs?: RecordSink): Pipeline {
  const log = createLogger(settings.log.level, settings.log.format);
  const local = outputs ?? fileOutputs(settings.output);
  const exporter = settings.export === null ? null : startExportSink(settings.export, log);
  const sink = exporter === null ? local : new TeeSink([local, exporter]);
  const engine = engineFor(settings.engine, sink);
  const inventory = settings.inventory === null ? null : openInventory(settings.inventory, engine, log);
  // The inventory links unapproved services to their new_listener alerts: it sees the detector's records.
  const detector = detectorFor(settings.detect, inventory === null ? sink : inventory.alertTap(sink), engine.opts.dissectors, log);
  engine.observer = detector;
  inventory?.attach(engine);
  // A second signal: what is decoded is written before the exit (flows end
  // as "shutdown", buffers are flushed), only the rest of the input is left.
  const p: Pipeline = {
    settings,
    log,
    engine,
    sink,
    detector,
    exporter,
    inventory,
    stop: new StopControl(log, () => hurry(p)),
    flowsOpen: true,
  };
  p.stop.install();
  return p;
}

function hurry(p: Pipeline): void {
  finishFlows(p, 'shutdown');
  p.sink.flush?.();
}

/** The first failed output, reported once by the caller. */
export function outputFault(p: Pipeline): OutputFault | null {
  return p.sink.fault?.() ?? null;
}

export interface RunEnd {
  /** Inputs (files or interfaces) of the run. */
  inputs: number;
  damaged: number;
  secs: number;
  perFile?: readonly FileTime[];
  /** Lines the command adds to the summary (live: per interface). */
  extra?: string;
  /** A failure that makes the run incomplete (a worker died): exit 3. */
  internal?: Error | null;
  /** Exit code the command decided (live: no interface could be opened). */
  code?: number;
  /** --export: seconds to wait for the spool to drain (default: --export-wait). */
  exportWait?: number;
}

/** Reports, closes the outputs, waits for the export spool to drain, prints
 *  the summary; returns the exit code. */
export async function endRun(p: Pipeline, end: RunEnd): Promise<number> {
  const { engine, log } = p;
  p.stop.uninstall();
  if (engine.firstInternalError !== null) {
    const e = engine.firstInternalError;
    const flows = `${engine.stats.internalErrors} flows affected, their decoding stopped`;
    log.error(`internal error in application-layer decoding (${flows}): ${e.stack ?? e.message}`);
  }
  p.sink.close();
  // Its final transaction; a failure (full disk...) is logged by the session
  // and, like any output that could not be written, fails the run.
  const inventoryLost = p.inventory !== null && !(await p.inventory.close());
  const ex = p.exporter;
  const drained = ex === null || (await ex.drain(end.exportWait ?? p.settings.export?.waitSecs ?? 0));
  let fault = outputFault(p);
  if (fault !== null && !isClosedStdout(fault)) log.error(`${faultText(fault)}; records after the last complete one are lost`);
  if (end.internal) log.error(`${end.internal.message}; records it had not sent are missing`);
  if (!p.settings.quiet && (fault === null || !isClosedStdout(fault))) {
    const f = printSummary(p, end);
    if (f !== null && !isClosedStdout(f)) log.error(faultText(f));
    fault ??= f;
  }
  const closedStdout = fault !== null && isClosedStdout(fault);
  if (end.internal) return EXIT_INTERNAL;
  if (closedStdout) return EXIT_CLOSED_STDOUT;
  if (fault !== null) return EXIT_FAILED;
  if (end.code !== undefined && end.code !== EXIT_OK) return end.code;
  if (end.damaged > 0 || inventoryLost) return EXIT_FAILED;
  return drained ? EXIT_OK : EXIT_SPOOLED;
}

function isClosedStdout(f: OutputFault): boolean {
  return f.code === 'EPIPE' && f.path === '<stdout>';
}

/** Prints the summary; a fault when stdout would not take it. */
function printSummary(p: Pipeline, end: RunEnd): OutputFault | null {
  let text = renderSummary(p.engine, end.secs, end.inputs, end.damaged, end.perFile ?? []);
  text += end.extra ?? '';
  if (p.exporter !== null) text += p.exporter.summaryText();
  if (p.detector !== null) text += renderAlerts(p.detector.alerts, alertsWhere(p.settings));
  if (p.settings.output.json) {
    process.stderr.write(text);
    return null;
  }
  const out = new FdWriter(1, false);
  out.writeBytes(Buffer.from(text));
  return out.fault;
}

/** Where the full alert list went, for "N more in ...". */
function alertsWhere(s: PipelineSettings): string | null {
  const where: string[] = [];
  if (s.output.json) where.push('the --json stream');
  if (s.output.dir !== null) where.push(`${s.output.dir}/alerts.${s.output.format}`);
  return where.length === 0 ? null : where.join(' and ');
}

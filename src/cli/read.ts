// `otwatch read FILES...`: offline analysis of pcap/pcapng files or stdin.
import { allocReadBuffer, readCapture } from '../capture/file-source.js';
import { CaptureError } from '../capture/raw-packet.js';
import type { FileTime } from '../output/summary-text.js';
import { endRun, finishFlows, outputFault, startPipeline, type Pipeline } from '../pipeline/run.js';
import { readParallel, workerCount } from '../parallel/pool.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { pipelineSettings, PIPELINE_OPTIONS } from './settings.js';

export const READ_OPTIONS: readonly OptSpec[] = [
  ...PIPELINE_OPTIONS,
  {
    name: 'workers',
    kind: 'number',
    arg: 'N',
    help: 'worker threads, flows sharded by address pair (default: one per core with 4 or more cores and 32 MB or more of input files, else 1 = no threads)',
  },
  { name: 'quiet', short: 'q', kind: 'flag', help: 'no summary' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export async function runRead({ opts, rest }: Parsed): Promise<number> {
  if (rest.length === 0) throw new UsageError('no input: give capture files, or - for stdin');
  // The inventory reads each flow's first frame and its PDUs: one thread.
  const workers = typeof opts.inventory === 'string' ? 1 : workerCount(typeof opts.workers === 'number' ? opts.workers : undefined, rest);
  const p = startPipeline(pipelineSettings(opts));
  const progress = process.stderr.isTTY && !p.settings.quiet ? new Progress() : null;
  const started = process.hrtime.bigint();
  const perFile: FileTime[] = [];
  // Stop reading once an output failed: nothing more can be written.
  const shouldStop = (): boolean => {
    if (!p.stop.stopping && outputFault(p) !== null) p.stop.request();
    return p.stop.stopping;
  };
  let damaged: number;
  let internal: Error | null = null;
  if (workers > 1) {
    p.flowsOpen = false; // the workers hold the flows
    const r = await readParallel({
      workers,
      paths: rest,
      settings: p.settings.engine,
      engine: p.engine,
      sink: p.sink,
      log: p.log,
      shouldStop,
      stop: p.stop.stopped,
      msgpack: p.settings.output.format === 'msgpack' && p.settings.output.dir !== null,
      fileDone: (path, packets, secs) => perFile.push({ path, packets, secs }),
      progress: progress === null ? undefined : (path, bytes, total, packets) => progress.update(path, bytes, total, packets),
    });
    damaged = r.damaged;
    internal = r.error;
  } else {
    damaged = await readOneThread(p, rest, shouldStop, perFile, progress);
    finishFlows(p, p.stop.stopping ? 'shutdown' : 'eof');
  }
  progress?.clear();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  return await endRun(p, { inputs: rest.length, damaged, secs, perFile: perFile.length > 1 ? perFile : [], internal });
}

/** Reads the inputs in turn on this thread; returns how many were damaged. */
async function readOneThread(
  p: Pipeline,
  paths: readonly string[],
  shouldStop: () => boolean,
  perFile: FileTime[],
  progress: Progress | null,
): Promise<number> {
  const { engine, log } = p;
  const buffer = allocReadBuffer();
  let damaged = 0;
  for (const path of paths) {
    if (shouldStop()) break;
    const t0 = process.hrtime.bigint();
    const p0 = engine.stats.packets;
    try {
      const r = await readCapture(path, engine.onPacket, {
        buffer,
        stop: p.stop.stopped,
        afterChunk: (pr) => {
          progress?.update(path, pr.bytes, pr.total, engine.stats.packets);
          return shouldStop();
        },
      });
      log.debug(`${path}: ${r.format}, ${r.packets} packets`);
    } catch (e) {
      damaged++;
      log.error(e instanceof CaptureError ? e.message : `${path}: ${(e as Error).message}`);
    }
    perFile.push({ path, packets: engine.stats.packets - p0, secs: Number(process.hrtime.bigint() - t0) / 1e9 });
  }
  return damaged;
}

/** One line on a TTY, redrawn at most 4 times a second. */
class Progress {
  private last = 0;
  private lastPkts = 0;
  private lastT = Date.now();
  update(path: string, bytes: number, total: number, pkts: number): void {
    const now = Date.now();
    if (now - this.last < 250) return;
    const rate = ((pkts - this.lastPkts) * 1000) / Math.max(1, now - this.lastT);
    this.last = this.lastT = now;
    this.lastPkts = pkts;
    const pct = total > 0 ? ` ${((100 * bytes) / total).toFixed(1)}%` : '';
    const mb = (bytes / 1048576).toFixed(1);
    const tot = total > 0 ? `/${(total / 1048576).toFixed(1)}` : '';
    process.stderr.write(`\r\x1b[K${path}: ${mb}${tot} MB${pct}, ${Math.round(rate).toLocaleString('en')} pkt/s`);
  }
  clear(): void {
    process.stderr.write('\r\x1b[K');
  }
}

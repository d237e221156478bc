// `otwatch read FILES...`: offline analysis of pcap/pcapng files or stdin.
import { allocReadBuffer, readCapture } from '../capture/file-source.js';
import { CaptureError } from '../capture/raw-packet.js';
import { FdWriter } from '../output/fd-writer.js';
import { createLogger } from '../output/log.js';
import { renderSummary, type FileTime } from '../output/summary-text.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { buildPipeline, PIPELINE_OPTIONS } from './pipeline.js';
import { readParallel, workerCount } from '../parallel/pool.js';

export const READ_OPTIONS: readonly OptSpec[] = [
  ...PIPELINE_OPTIONS,
  { name: 'workers', kind: 'number', arg: 'N', help: 'worker threads, flows sharded by address pair (default: one per core with 4 or more cores and 32 MB or more of input files, else 1 = no threads)' },
  { name: 'quiet', short: 'q', kind: 'flag', help: 'no summary' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export async function runRead({ opts, rest }: Parsed): Promise<number> {
  if (rest.length === 0) throw new UsageError('no input: give capture files, or - for stdin');
  // The inventory reads each flow's first frame and its PDUs: one thread.
  const workers = typeof opts.inventory === 'string' ? 1 : workerCount(opts.workers as number | undefined, rest);
  const log = createLogger(opts['log-level'] as string, opts['log-format'] as 'text' | 'json');
  const { engine, sink, inventory } = buildPipeline(opts, log);

  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) process.exit(130); // a second signal: leave now
    stopping = true;
    log.warn(`${sig}: stopping; flushing open flows`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = process.stderr.isTTY && !opts.quiet ? new Progress() : null;
  const started = process.hrtime.bigint();
  let damaged = 0;
  const perFile: FileTime[] = [];
  if (workers > 1) {
    const r = await readParallel({
      workers, paths: rest, opts, engine, sink, log,
      shouldStop: () => stopping,
      fileDone: (path, packets, secs) => perFile.push({ path, packets, secs }),
      progress: progress === null ? undefined : (path, bytes, total, packets) => progress.update(path, bytes, total, packets),
    });
    progress?.clear();
    damaged = r.damaged;
    if (r.error !== null) {
      sink.close(); // what the workers sent is written
      log.error(`${r.error.message}; records it had not sent are missing`);
      return 3;
    }
  } else {
    const buffer = allocReadBuffer();
    for (const path of rest) {
      if (stopping) break;
      const t0 = process.hrtime.bigint();
      const p0 = engine.stats.packets;
      try {
        const r = await readCapture(path, engine.onPacket, {
          buffer,
          afterChunk: (p) => {
            progress?.update(path, p.bytes, p.total, engine.stats.packets);
            return stopping;
          },
        });
        log.debug(`${path}: ${r.format}, ${r.packets} packets`);
      } catch (e) {
        damaged++;
        if (e instanceof CaptureError) log.error(e.message);
        else log.error(`${path}: ${(e as Error).message}`);
      }
      perFile.push({ path, packets: engine.stats.packets - p0, secs: Number(process.hrtime.bigint() - t0) / 1e9 });
    }
    progress?.clear();
  }
  if (engine.firstInternalError !== null) {
    log.error(`internal error in application-layer decoding (${engine.stats.internalErrors} flows affected, their decoding stopped): ${engine.firstInternalError.stack ?? engine.firstInternalError.message}`);
  }
  if (workers <= 1) engine.finish(stopping ? 'shutdown' : 'eof');
  sink.close();
  if (inventory !== null && !inventory.close()) damaged++; // the write failure is logged
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  if (!opts.quiet) {
    const text = renderSummary(engine, secs, rest.length, damaged, perFile.length > 1 ? perFile : []);
    if (opts.json) process.stderr.write(text);
    else new FdWriter(1, false).writeBytes(Buffer.from(text));
  }
  return damaged > 0 ? 1 : 0;
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

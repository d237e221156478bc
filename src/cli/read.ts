// `otwatch read FILES...`: offline analysis of pcap/pcapng files or stdin.
import { mkdirSync } from 'node:fs';
import { allocReadBuffer, readCapture } from '../capture/file-source.js';
import { CaptureError } from '../capture/raw-packet.js';
import { DISSECTORS, dissectorsByName } from '../dissectors/index.js';
import { Engine } from '../engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../flows/flow-table.js';
import { FdWriter } from '../output/fd-writer.js';
import { createLogger } from '../output/log.js';
import { DirSink, NullSink, StreamSink, TeeSink, type RecordSink } from '../output/sink.js';
import { renderSummary } from '../output/summary-text.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';

export const READ_OPTIONS: readonly OptSpec[] = [
  { name: 'json', kind: 'flag', help: 'stream NDJSON records to stdout (the summary goes to stderr)' },
  { name: 'write', short: 'w', kind: 'string', arg: 'DIR', help: 'write flows.ndjson, pdus.ndjson, alerts.ndjson into DIR' },
  { name: 'format', kind: 'string', arg: 'FMT', choices: ['ndjson', 'msgpack'], default: 'ndjson', help: 'file format for -w' },
  { name: 'pdus', kind: 'flag', help: 'one record per application PDU' },
  { name: 'no-dissect', kind: 'flag', help: 'flows only: no application-layer decoding' },
  { name: 'protocols', kind: 'list', arg: 'LIST', help: `dissectors to run (default all: ${DISSECTORS.map((d) => d.name).join(',')})` },
  { name: 'max-flows', kind: 'number', arg: 'N', default: DEFAULT_FLOW_OPTIONS.maxFlows, help: 'flow table cap; the least recently active flow is evicted' },
  { name: 'tcp-idle', kind: 'seconds', arg: 'DUR', default: DEFAULT_FLOW_OPTIONS.tcpIdle, help: 'TCP idle timeout' },
  { name: 'udp-idle', kind: 'seconds', arg: 'DUR', default: DEFAULT_FLOW_OPTIONS.udpIdle, help: 'UDP idle timeout' },
  { name: 'active-timeout', kind: 'seconds', arg: 'DUR', default: DEFAULT_FLOW_OPTIONS.activeTimeout, help: 'interim record for flows open this long' },
  { name: 'reassembly-mb', kind: 'number', arg: 'MB', default: 64, help: 'global bound on out-of-order TCP bytes held' },
  { name: 'quiet', short: 'q', kind: 'flag', help: 'no summary' },
  { name: 'log-level', kind: 'string', arg: 'LEVEL', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], help: 'diagnostics on stderr' },
  { name: 'log-format', kind: 'string', arg: 'FMT', default: 'text', choices: ['text', 'json'], help: 'diagnostics as text or pino JSON' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export async function runRead({ opts, rest }: Parsed): Promise<number> {
  if (rest.length === 0) throw new UsageError('no input: give capture files, or - for stdin');
  const log = createLogger(opts['log-level'] as string, opts['log-format'] as 'text' | 'json');
  let dissectors = DISSECTORS;
  if (opts['no-dissect']) dissectors = [];
  else if (Array.isArray(opts.protocols)) {
    try {
      dissectors = dissectorsByName(opts.protocols);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const sinks: RecordSink[] = [];
  if (opts.json) sinks.push(new StreamSink(new FdWriter(1, false)));
  if (typeof opts.write === 'string') {
    try {
      mkdirSync(opts.write, { recursive: true });
    } catch (e) {
      throw new UsageError(`cannot create output directory ${opts.write}: ${(e as Error).message}`);
    }
    sinks.push(new DirSink(opts.write, opts.format as 'ndjson' | 'msgpack'));
  }
  const sink = sinks.length === 0 ? new NullSink() : sinks.length === 1 ? sinks[0] : new TeeSink(sinks);
  const engine = new Engine(
    {
      flows: {
        ...DEFAULT_FLOW_OPTIONS,
        maxFlows: Math.max(1, Math.floor(opts['max-flows'] as number)),
        tcpIdle: opts['tcp-idle'] as number,
        udpIdle: opts['udp-idle'] as number,
        activeTimeout: opts['active-timeout'] as number,
      },
      dissectors,
      pdus: opts.pdus === true,
      reassemblyBytes: (opts['reassembly-mb'] as number) * 1024 * 1024,
    },
    sink,
  );

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
  const buffer = allocReadBuffer();
  let damaged = 0;
  for (const path of rest) {
    if (stopping) break;
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
  }
  progress?.clear();
  if (engine.firstInternalError !== null) {
    log.error(`internal error in application-layer decoding (${engine.stats.internalErrors} flows affected, their decoding stopped): ${engine.firstInternalError.stack ?? engine.firstInternalError.message}`);
  }
  engine.finish(stopping ? 'shutdown' : 'eof');
  sink.close();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  if (!opts.quiet) {
    const text = renderSummary(engine, secs, rest.length, damaged);
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

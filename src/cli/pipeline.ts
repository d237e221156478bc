// What `read` and `live` share: the options of the pipeline after capture
// (flows, dissectors, outputs) and building it from them.
import { mkdirSync } from 'node:fs';
import { DISSECTORS, dissectorsByName } from '../dissectors/index.js';
import { Engine } from '../engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../flows/flow-table.js';
import { FdWriter } from '../output/fd-writer.js';
import type { Logger } from '../output/log.js';
import { DirSink, NullSink, StreamSink, TeeSink, type RecordSink } from '../output/sink.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { DETECT_OPTIONS, detectorFromOptions } from '../detect/options.js';
import { INVENTORY_RUN_OPTIONS, inventoryFromOptions } from '../inventory/run-options.js';
import type { InventorySession } from '../inventory/session.js';

export const PIPELINE_OPTIONS: readonly OptSpec[] = [
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
  { name: 'log-level', kind: 'string', arg: 'LEVEL', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], help: 'diagnostics on stderr' },
  { name: 'log-format', kind: 'string', arg: 'FMT', default: 'text', choices: ['text', 'json'], help: 'diagnostics as text or pino JSON' },
  ...DETECT_OPTIONS,
  ...INVENTORY_RUN_OPTIONS,
];

export interface Pipeline {
  engine: Engine;
  sink: RecordSink;
  /** --inventory: close() it after engine.finish (final write). */
  inventory: InventorySession | null;
}

/** Builds the engine and, unless `outputs` is given, the sinks that --json
 *  and -w ask for. `live` passes its own (rotating, reopenable) sink. */
export function buildPipeline(opts: Parsed['opts'], log: Logger, outputs?: RecordSink): Pipeline {
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
  if (outputs !== undefined) opts = { ...opts, json: false, write: undefined as unknown as string };
  if (opts.json) sinks.push(new StreamSink(new FdWriter(1, false)));
  if (typeof opts.write === 'string') {
    try {
      mkdirSync(opts.write, { recursive: true });
    } catch (e) {
      throw new UsageError(`cannot create output directory ${opts.write}: ${(e as Error).message}`);
    }
    sinks.push(new DirSink(opts.write, opts.format as 'ndjson' | 'msgpack'));
  }
  const sink = outputs ?? (sinks.length === 0 ? new NullSink() : sinks.length === 1 ? sinks[0] : new TeeSink(sinks));
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
      summary: opts.quiet !== true,
    },
    sink,
  );
  const inventory = inventoryFromOptions(opts, engine, log);
  engine.observer = detectorFromOptions(opts, inventory === null ? sink : inventory.alertTap(sink), dissectors, log);
  inventory?.attach(engine);
  return { engine, sink, inventory };
}

// Building a run's engine, outputs and detector from typed settings.
import { DISSECTORS, dissectorsByName } from '../dissectors/index.js';
import type { ProtocolModule } from '../dissectors/module.js';
import { Engine } from '../engine.js';
import { FdWriter } from '../output/fd-writer.js';
import { DirSink, NullSink, StreamSink, TeeSink, type RecordSink } from '../output/sink.js';
import { UsageError } from './errors.js';
import { prepareOutputDir } from './output-dir.js';
import type { EngineSettings, OutputSettings } from './settings.js';

export function dissectorsFor(s: EngineSettings): readonly ProtocolModule[] {
  if (s.protocols === null) return DISSECTORS;
  try {
    return dissectorsByName(s.protocols);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function engineFor(s: EngineSettings, sink: RecordSink): Engine {
  return new Engine(
    { flows: s.flows, dissectors: dissectorsFor(s), pdus: s.pdus, reassemblyBytes: s.reassemblyBytes, summary: s.summary },
    sink,
  );
}

/** One sink over what --json and -w ask for (`read`, `baseline`). */
export function fileOutputs(s: OutputSettings): RecordSink {
  const sinks: RecordSink[] = [];
  if (s.json) sinks.push(new StreamSink(new FdWriter(1, false)));
  if (s.dir !== null) {
    prepareOutputDir(s.dir);
    sinks.push(new DirSink(s.dir, s.format));
  }
  return sinks.length === 0 ? new NullSink() : sinks.length === 1 ? sinks[0] : new TeeSink(sinks);
}

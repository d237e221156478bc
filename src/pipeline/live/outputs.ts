// Outputs of a live run: stdout (--json) and/or rotating files (-w DIR),
// opened after the privilege drop so files belong to --user. Until then the
// pipeline writes to a forwarder whose target is set once they are open.
import { FdWriter } from '../../output/fd-writer.js';
import type { Logger } from '../../output/log.js';
import { RotatingSink } from '../../output/rotating-sink.js';
import { NullSink, StreamSink, TeeSink, type RecordKind, type RecordSink } from '../../output/sink.js';
import type { OutputFault } from '../errors.js';
import { prepareOutputDir } from '../output-dir.js';
import type { LiveSettings } from './settings.js';

export class LiveOutputs implements RecordSink {
  private target: RecordSink = new NullSink();
  stdout: FdWriter | null = null;
  files: RotatingSink | null = null;

  write(kind: RecordKind, line: string): void {
    this.target.write(kind, line);
  }

  flush(): void {
    this.stdout?.flush();
    this.files?.flush();
  }

  /** Only stdout ends a live run: files drop records and recover. */
  fault(): OutputFault | null {
    return this.stdout?.fault ?? null;
  }

  close(): void {
    this.target.close();
  }

  /** Records lost to file write failures. */
  get unwritten(): number {
    return this.files?.dropped ?? 0;
  }

  /** Opens what the settings ask for; a SetupError if the directory is unusable. */
  open(s: LiveSettings, log: Logger): void {
    const out = s.pipeline.output;
    const sinks: RecordSink[] = [];
    if (out.json) {
      this.stdout = new FdWriter(1, false);
      sinks.push(new StreamSink(this.stdout));
    }
    if (out.dir !== null) {
      prepareOutputDir(out.dir);
      this.files = new RotatingSink({
        dir: out.dir,
        format: out.format,
        maxBytes: s.rotate.maxBytes,
        maxSeconds: s.rotate.maxSeconds,
        retain: s.retain,
        onError: (m) => log.warn(m),
        onPruned: (paths) => log.info(`retention: deleted the ${paths.length} oldest rotated files, from ${paths[0]}`),
      });
      sinks.push(this.files);
    }
    if (sinks.length === 0) log.warn('no output selected (--json or -w DIR): only the summary will be written');
    this.target = sinks.length === 0 ? new NullSink() : sinks.length === 1 ? sinks[0] : new TeeSink(sinks);
  }

  reopen(log: Logger): void {
    if (this.files === null) return;
    this.files.reopen();
    log.info('SIGHUP: output files reopened');
  }
}

// Where records go. Every record is one NDJSON line built by a serializer;
// sinks only route lines: stdout (--json), one file per record type (-w DIR),
// or msgpack files (--format msgpack).
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { msgpack } from './msgpack-lazy.js';
import { FdWriter, type ByteOut } from './fd-writer.js';
import { errnoCode, type OutputFault } from '../pipeline/errors.js';

export type RecordKind = 'flow' | 'pdu' | 'alert' | 'stats';
export const RECORD_KINDS: readonly RecordKind[] = ['flow', 'pdu', 'alert', 'stats'];
/** File stem per record type: flows.ndjson, pdus.ndjson, alerts.ndjson, stats.ndjson. */
export const FILE_STEMS: Record<RecordKind, string> = { flow: 'flows', pdu: 'pdus', alert: 'alerts', stats: 'stats' };

export interface RecordSink {
  write(kind: RecordKind, line: string): void;
  /** The NDJSON writer that takes every `kind` record, when there is exactly
   *  one: hot records (PDUs) are then encoded straight into its buffer. */
  direct?(kind: RecordKind): ByteOut | null;
  /** Writes what is buffered. */
  flush?(): void;
  /** The first output that failed, if any (writes never throw). */
  fault?(): OutputFault | null;
  close(): void;
}

/** All records, one stream (stdout). */
export class StreamSink implements RecordSink {
  constructor(private readonly out: FdWriter) {}
  write(_kind: RecordKind, line: string): void {
    this.out.write(line);
  }
  direct(): FdWriter {
    return this.out;
  }
  flush(): void {
    this.out.flush();
  }
  fault(): OutputFault | null {
    return this.out.fault;
  }
  close(): void {
    this.out.close();
  }
}

/** flows.ndjson, pdus.ndjson, alerts.ndjson, stats.ndjson in a directory,
 *  created on first use; or .msgpack files of the same records. */
export class DirSink implements RecordSink {
  private readonly files = new Map<RecordKind, FdWriter>();
  private openFault: OutputFault | null = null;
  /** Where records go once a file cannot be opened: nowhere. */
  private readonly dead = new FdWriter(-1, false, '');
  constructor(
    private readonly dir: string,
    private readonly format: 'ndjson' | 'msgpack',
  ) {
    this.dead.fault = { path: '', code: 'closed' };
  }

  private file(kind: RecordKind): FdWriter {
    let w = this.files.get(kind);
    if (w === undefined) {
      const path = join(this.dir, `${FILE_STEMS[kind]}.${this.format}`);
      try {
        w = new FdWriter(openSync(path, 'w'), true, path);
      } catch (e) {
        this.openFault ??= { path, code: errnoCode(e) };
        return this.dead;
      }
      this.files.set(kind, w);
    }
    return w;
  }

  write(kind: RecordKind, line: string): void {
    if (this.format === 'ndjson') this.file(kind).write(line);
    else this.file(kind).writeBytes(msgpack().encode(JSON.parse(line)));
  }

  direct(kind: RecordKind): FdWriter | null {
    return this.format === 'ndjson' ? this.file(kind) : null;
  }

  flush(): void {
    for (const w of this.files.values()) w.flush();
  }

  fault(): OutputFault | null {
    if (this.openFault !== null) return this.openFault;
    for (const w of this.files.values()) if (w.fault !== null) return w.fault;
    return null;
  }

  close(): void {
    for (const w of this.files.values()) w.close(true);
  }
}

/** Several sinks as one: two fields (the second a TeeSink of the rest when there are more), so each call
 *  site sees one kind of sink and V8 inlines it, where a loop over a list made them all polymorphic. */
export class TeeSink implements RecordSink {
  private readonly a: RecordSink;
  private readonly b: RecordSink;
  constructor(sinks: RecordSink[]) {
    if (sinks.length < 2) throw new Error('TeeSink needs two sinks or more');
    this.a = sinks[0];
    this.b = sinks.length === 2 ? sinks[1] : new TeeSink(sinks.slice(1));
  }
  write(kind: RecordKind, line: string): void {
    this.a.write(kind, line);
    this.b.write(kind, line);
  }
  flush(): void {
    this.a.flush?.();
    this.b.flush?.();
  }
  fault(): OutputFault | null {
    return this.a.fault?.() ?? this.b.fault?.() ?? null;
  }
  close(): void {
    this.a.close();
    this.b.close();
  }
}

export class NullSink implements RecordSink {
  write(): void {}
  close(): void {}
}

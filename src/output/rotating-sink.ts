// Output files for a sensor that runs for months: one file per record kind in
// a directory, rotated by size and/or time, reopened on request (SIGHUP).
//
// Without rotation the names are fixed (flows.ndjson, ...) and opened for
// append, so logrotate can move them and send SIGHUP. With rotation every
// file is named after the UTC time it was opened, flows-YYYYmmddTHHMMSS.ndjson
// (a -N suffix when that name exists), and time rotation happens on multiples
// of the period (every hour on the hour for 1h). A write that fails (disk
// full, directory gone) drops the records it held (counted in `dropped`),
// cuts the file back to its last complete record, is reported at most once
// a minute through onError, and the file is opened again on a later write,
// so writing resumes when space returns; the sensor keeps running. With
// retention limits, the oldest rotated files are deleted at each rotation
// and after a failed write.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { causeText, errnoCode } from '../pipeline/errors.js';
import { msgpack } from './msgpack-lazy.js';
import { pruneRotated, type RetentionLimits } from './retention.js';
import type { RecordKind, RecordSink } from './sink.js';

export interface RotatingOptions {
  dir: string;
  format: 'ndjson' | 'msgpack';
  /** Rotate a file once it holds this many bytes (0: never). */
  maxBytes: number;
  /** Rotate every file on multiples of this many seconds (0: never). */
  maxSeconds: number;
  /** Wall clock in ms (tests pass their own). */
  now?: () => number;
  /** Failures to open or write: reported (at most once a minute), never thrown. */
  onError?: (message: string) => void;
  /** Delete the oldest rotated files beyond these limits. */
  retain?: RetentionLimits;
  /** Rotated files deleted by retention (for the log). */
  onPruned?: (paths: string[]) => void;
}

/** Bytes buffered per file before a write. */
const FLUSH_AT = 256 * 1024;
/** After a failed open or write, how long before trying again. */
const RETRY_OPEN_MS = 10_000;
/** Failures are reported at most this often. */
const REPORT_EVERY_MS = 60_000;

/** File name stem per record kind. */
import { FILE_STEMS as FILE_STEM } from './sink.js';

/** "20240131T235959" in UTC. */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15);
}

class OutFile {
  fd = -1;
  /** Bytes written since opened, and the file's size then (append). */
  bytes = 0;
  start = 0;
  pending: string[] = [];
  pendingLen = 0;
  path = '';
  failedAt = -Infinity;
}

export class RotatingSink implements RecordSink {
  private readonly files = new Map<RecordKind, OutFile>();
  private readonly now: () => number;
  private readonly rotating: boolean;
  /** When the current time period ends (ms), for time rotation. */
  private periodEnd = Infinity;
  /** Records lost to write failures. */
  dropped = 0;
  /** When a failure was last reported, and records dropped since. */
  private reportedAt = -Infinity;
  private droppedAtReport = 0;
  /** Files opened so far (for tests and the log). */
  readonly opened: string[] = [];

  constructor(private readonly o: RotatingOptions) {
    this.now = o.now ?? Date.now;
    this.rotating = o.maxBytes > 0 || o.maxSeconds > 0;
  }

  write(kind: RecordKind, line: string): void {
    if (this.o.maxSeconds > 0 && this.now() >= this.periodEnd) this.rotate();
    let f = this.files.get(kind);
    if (f === undefined) {
      f = new OutFile();
      this.files.set(kind, f);
    }
    if (f.fd < 0 && !this.open(kind, f)) {
      this.dropped++;
      return;
    }
    if (this.o.format === 'ndjson') {
      f.pending.push(line);
      f.pendingLen += line.length;
      if (f.pendingLen >= FLUSH_AT) this.flushFile(f);
    } else {
      this.flushFile(f);
      this.put(f, msgpack().encode(JSON.parse(line)));
    }
    if (this.o.maxBytes > 0 && f.bytes + f.pendingLen >= this.o.maxBytes) this.closeFile(f, false);
  }

  /** Writes what is buffered (call it every second or so: records of a quiet
   *  link must not wait in memory). Also rotates on time without a write. */
  flush(): void {
    if (this.o.maxSeconds > 0 && this.now() >= this.periodEnd) this.rotate();
    for (const f of this.files.values()) this.flushFile(f);
  }

  /** Closes every file; the next record of each kind opens a new one (the
   *  same name, appended, when not rotating). For SIGHUP / logrotate. */
  reopen(): void {
    for (const f of this.files.values()) this.closeFile(f, false);
  }

  /** Starts new files now. */
  rotate(): void {
    for (const f of this.files.values()) this.closeFile(f, true);
    this.periodEnd = Infinity;
  }

  close(): void {
    for (const f of this.files.values()) this.closeFile(f, true);
  }

  private open(kind: RecordKind, f: OutFile): boolean {
    const now = this.now();
    if (now - f.failedAt < RETRY_OPEN_MS) return false;
    const ext = this.o.format;
    try {
      if (!this.rotating) {
        f.path = join(this.o.dir, `${FILE_STEM[kind]}.${ext}`);
        f.fd = openSync(f.path, 'a', 0o640);
      } else {
        const stamp = fileStamp(now);
        for (let n = 0; ; n++) {
          f.path = join(this.o.dir, `${FILE_STEM[kind]}-${stamp}${n === 0 ? '' : `-${n}`}.${ext}`);
          try {
            f.fd = openSync(f.path, 'wx', 0o640);
            break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 999) throw e;
          }
        }
      }
    } catch (e) {
      f.failedAt = now;
      this.report(`cannot open ${f.path}: ${causeText(errnoCode(e))}`);
      return false;
    }
    f.bytes = 0;
    f.start = this.rotating ? 0 : fstatSync(f.fd).size;
    f.failedAt = -Infinity;
    this.opened.push(f.path);
    if (this.rotating) this.prune();
    if (this.o.maxSeconds > 0 && this.periodEnd === Infinity) {
      const p = this.o.maxSeconds * 1000;
      this.periodEnd = (Math.floor(now / p) + 1) * p;
    }
    return true;
  }

  private flushFile(f: OutFile): void {
    if (f.pending.length === 0 || f.fd < 0) return;
    const buf = Buffer.from(f.pending.join(''), 'utf8');
    const n = f.pending.length;
    f.pending.length = 0;
    f.pendingLen = 0;
    this.put(f, buf, n);
  }

  private put(f: OutFile, buf: Uint8Array, records = 1): void {
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(f.fd, buf, off, buf.length - off);
      f.bytes += buf.length;
    } catch (e) {
      this.dropped += records;
      this.report(`write to ${f.path} failed: ${causeText(errnoCode(e))}`);
      try {
        ftruncateSync(f.fd, f.start + f.bytes); // no partial last record
        closeSync(f.fd);
      } catch {
        // nothing more to do
      }
      f.fd = -1;
      f.failedAt = this.now();
      this.prune();
    }
  }

  /** Applies the retention limits (files being written are kept). */
  private prune(): void {
    if (this.o.retain === undefined) return;
    const open = new Set<string>();
    for (const g of this.files.values()) if (g.fd >= 0) open.add(g.path);
    const gone = pruneRotated(this.o.dir, this.o.retain, open, this.now());
    if (gone.length > 0) this.o.onPruned?.(gone);
  }

  private closeFile(f: OutFile, sync: boolean): void {
    if (f.fd < 0) {
      f.pending.length = 0;
      f.pendingLen = 0;
      return;
    }
    this.flushFile(f);
    if (f.fd < 0) return;
    try {
      if (sync) fsyncSync(f.fd);
      closeSync(f.fd);
    } catch (e) {
      this.report(`close of ${f.path} failed: ${causeText(errnoCode(e))}`);
    }
    f.fd = -1;
  }

  private report(msg: string): void {
    const now = this.now();
    if (now - this.reportedAt < REPORT_EVERY_MS) return;
    const lost = this.dropped - this.droppedAtReport;
    this.reportedAt = now;
    this.droppedAtReport = this.dropped;
    this.o.onError?.(`${msg}; ${lost} records not written since the last report (${this.dropped} in all); writing resumes when it can`);
  }
}

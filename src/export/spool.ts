// The export spool: every exported record is appended here first and
// deleted only once the receiver acknowledged it (PUBACK), so nothing is lost
// while the broker is away or when the sensor restarts.
//
// Layout in DIR: two chains of segment files, a-<first seq>.seg for alerts
// and b-<first seq>.seg for everything else, each holding stamped NDJSON
// lines in seq order; state.json keeps the last seq given out and the acked
// watermark. Two chains so that when the spool is full, flows/stats/pdus are
// dropped oldest segment first and alerts only when nothing else is left.
//
// Writing never happens on the packet path: append() copies the line into
// an in-memory queue (bounded) that a timer writes out every 100 ms with
// async file I/O (libuv threads) and fsync; a record is sent only once it
// and every record before it are fsynced. So an alert is durable before it
// counts as written, and a power loss costs at most the last 100 ms of
// records (the issue allows one second for flows and stats). A line cut
// short by a crash is removed when the spool is opened again. A segment is
// deleted only once state.json (fsynced) holds a seq at least its last, so
// no seq is ever given out twice.
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  fstatSync,
  ftruncateSync,
  unlinkSync,
} from 'node:fs';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { lineSeq, recordType } from './record-line.js';

const CHUNK = 1 << 20;
/** The in-memory queue bound; beyond it non-alert records are dropped (counted). */
const MAX_QUEUED = 64 << 20;
const READ_BYTES = 1 << 20;

type ChainName = 'a' | 'b';

export class Segment {
  first = -1;
  last = -1;
  count = 0;
  bytes = 0;
  /** Bytes written (and for alerts fsynced): what a reader may send. */
  readable = 0;
  fh: FileHandle | null = null;
  constructor(
    readonly path: string,
    readonly chain: ChainName,
  ) {}
}

/** Records queued in memory for one segment (a new one once this is full). */
class Batch {
  chunks: Buffer[] = [];
  cur: Buffer | null = null;
  used = 0;
  bytes = 0;
  first = -1;
  last = -1;
  count = 0;
  full = false;
}

class Chain {
  readonly segs: Segment[] = [];
  batches: Batch[] = [new Batch()];
  /** Batches taken by the write under way, not yet readable. */
  writing: Batch[] = [];
  queued = 0;
  qCount = 0;
  busy: Promise<void> | null = null;
  constructor(readonly name: ChainName) {}
  get active(): Segment | undefined {
    return this.segs[this.segs.length - 1];
  }
}

/** A reader's place in one chain. */
class Cursor {
  seg: Segment | null = null;
  fd = -1;
  off = 0;
  lines: string[] = [];
  seqs: number[] = [];
  i = 0;
}

export interface DropCounts {
  records: number;
  alerts: number;
}

export interface SpoolStats {
  segments: number;
  bytes: number;
  queued_bytes: number;
  dropped: number;
  dropped_alerts: number;
}

export class Spool {
  private readonly chains: Record<ChainName, Chain> = { a: new Chain('a'), b: new Chain('b') };
  private readonly cursors: Record<ChainName, Cursor> = { a: new Cursor(), b: new Cursor() };
  private readonly segBytes: number;
  private lastSeq = 0;
  /** Every record with seq <= acked was acknowledged (or dropped). */
  private acked = 0;
  private savedState = '';
  /** The seq in state.json as last fsynced. */
  private persistedSeq = 0;
  private stateBusy: Promise<void> | null = null;
  /** Records dropped so far: by the size bound, or when the queue was full. */
  readonly dropped: DropCounts = { records: 0, alerts: 0 };
  /** Drops not yet announced with a spool_overflow alert. */
  readonly unannounced: DropCounts = { records: 0, alerts: 0 };
  onError: (message: string) => void = () => {};

  private constructor(
    readonly dir: string,
    readonly limit: number,
  ) {
    this.segBytes = Math.max(64 << 10, Math.min(8 << 20, Math.floor(limit / 16)));
  }

  /** Opens (creating) the spool in `dir` and recovers what a previous run left. */
  static open(dir: string, limit: number): Spool {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = new Spool(dir, limit);
    s.recover();
    return s;
  }

  private recover(): void {
    try {
      const st = JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as {
        seq?: number;
        acked?: number;
        unannounced?: DropCounts;
      };
      this.lastSeq = Math.max(0, Number(st.seq) || 0);
      this.persistedSeq = this.lastSeq;
      this.acked = Math.max(0, Number(st.acked) || 0);
      // Drops a previous run could not announce are announced by this one.
      this.unannounced.records = Math.max(0, Number(st.unannounced?.records) || 0);
      this.unannounced.alerts = Math.max(0, Number(st.unannounced?.alerts) || 0);
    } catch {
      // a new spool, or a state file lost: the segments tell the seq
    }
    const names = readdirSync(this.dir)
      .filter((n) => /^[ab]-\d{16}\.seg$/.test(n))
      .sort();
    for (const n of names) {
      const seg = new Segment(join(this.dir, n), n[0] as ChainName);
      scanSegment(seg);
      if (seg.count === 0) {
        unlinkSync(seg.path);
        continue;
      }
      this.lastSeq = Math.max(this.lastSeq, seg.last);
      this.chains[seg.chain].segs.push(seg);
    }
    this.acked = Math.min(this.acked, this.lastSeq);
    this.release(this.acked);
  }

  /** The next seq; strictly increasing across restarts. */
  takeSeq(): number {
    return ++this.lastSeq;
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** Queues a stamped line; false when it was dropped (queue full). */
  append(line: string, seq: number, alert: boolean): boolean {
    const c = this.chains[alert ? 'a' : 'b'];
    const n = Buffer.byteLength(line);
    if (!alert && this.queuedBytes() + n > MAX_QUEUED) {
      this.countDrop(1, 0);
      return false;
    }
    let b = c.batches[c.batches.length - 1];
    if (b.bytes >= this.segBytes) {
      b.full = true;
      b = new Batch();
      c.batches.push(b);
    }
    if (b.cur === null || b.used + n > b.cur.length) {
      if (b.cur !== null && b.used > 0) b.chunks.push(b.cur.subarray(0, b.used));
      b.cur = Buffer.allocUnsafe(Math.max(CHUNK, n));
      b.used = 0;
    }
    b.used += b.cur.write(line, b.used, 'utf8');
    b.bytes += n;
    if (b.first < 0) b.first = seq;
    b.last = seq;
    b.count++;
    c.queued += n;
    c.qCount++;
    return true;
  }

  queuedBytes(): number {
    return this.chains.a.queued + this.chains.b.queued;
  }

  /** Writes out (and fsyncs) what a chain has queued; one write at a time per chain. */
  flush(which: ChainName): Promise<void> {
    const c = this.chains[which];
    if (c.busy !== null) return c.busy.then(() => (c.qCount > 0 ? this.flush(which) : undefined));
    if (c.qCount === 0) return Promise.resolve();
    const p = this.writeQueued(c).catch((e: Error) => this.onError(`spool write failed in ${this.dir}: ${e.message}`));
    c.busy = p.finally(() => {
      c.busy = null;
    });
    return c.busy;
  }

  flushAll(): Promise<unknown> {
    return Promise.all([this.flush('a'), this.flush('b')]);
  }

  private async writeQueued(c: Chain): Promise<void> {
    const batches = c.batches;
    c.batches = [new Batch()];
    c.writing = batches;
    for (const b of batches) {
      if (b.count === 0) continue;
      if (b.cur !== null && b.used > 0) b.chunks.push(b.cur.subarray(0, b.used));
      let seg = c.active;
      if (seg === undefined || seg.fh === null || seg.bytes + b.bytes > this.segBytes) {
        if (seg?.fh) {
          await seg.fh.close();
          seg.fh = null;
        }
        seg = new Segment(join(this.dir, `${c.name}-${String(b.first).padStart(16, '0')}.seg`), c.name);
        seg.fh = await open(seg.path, 'a', 0o600);
        seg.first = b.first;
        c.segs.push(seg);
      }
      for (const chunk of b.chunks) await seg.fh!.write(chunk);
      await seg.fh!.sync();
      seg.last = b.last;
      seg.count += b.count;
      seg.bytes += b.bytes;
      seg.readable = seg.bytes;
      c.queued -= b.bytes;
      c.qCount -= b.count;
      c.writing = c.writing.slice(1);
      this.enforceLimit();
    }
    c.writing = [];
  }

  /** The highest seq up to which every record is readable on disk (or was
   *  dropped): the two chains are written separately, and records must leave
   *  in seq order. */
  settled(): number {
    let h = this.lastSeq;
    for (const c of [this.chains.a, this.chains.b]) {
      for (const b of c.writing) if (b.count > 0) h = Math.min(h, b.first - 1);
      for (const b of c.batches) if (b.count > 0) h = Math.min(h, b.first - 1);
    }
    return h;
  }

  /** Deletes whole segments, bulk before alerts, oldest first, until under the bound. */
  private enforceLimit(): void {
    let total = this.diskBytes();
    while (total > this.limit) {
      const victim = this.oldestIdle('b') ?? this.oldestIdle('a');
      if (victim === null) return;
      const { records, alerts } = countUnacked(victim, this.acked);
      this.countDrop(records, alerts);
      this.remove(victim);
      total -= victim.bytes;
    }
  }

  private oldestIdle(which: ChainName): Segment | null {
    const c = this.chains[which];
    return c.segs.length > 1 ? c.segs[0] : null;
  }

  /** Records lost before they reached the spool (or dropped by it): counted and announced alike. */
  countDrop(records: number, alerts: number): void {
    this.dropped.records += records;
    this.dropped.alerts += alerts;
    this.unannounced.records += records;
    this.unannounced.alerts += alerts;
  }

  private remove(seg: Segment): void {
    const c = this.chains[seg.chain];
    const i = c.segs.indexOf(seg);
    if (i >= 0) c.segs.splice(i, 1);
    const cur = this.cursors[seg.chain];
    if (cur.seg === seg) this.leave(cur);
    if (seg.fh !== null) {
      void seg.fh.close().catch(() => {});
      seg.fh = null;
    }
    try {
      unlinkSync(seg.path);
    } catch (e) {
      this.onError(`cannot delete spool segment ${seg.path}: ${(e as Error).message}`);
    }
  }

  diskBytes(): number {
    let n = 0;
    for (const c of [this.chains.a, this.chains.b]) for (const s of c.segs) n += s.bytes;
    return n;
  }

  /** The receiver acknowledged every record up to `seq`: delete what is done. */
  release(seq: number): void {
    if (seq > this.acked) this.acked = seq;
    for (const c of [this.chains.a, this.chains.b]) {
      while (c.segs.length > 0) {
        const s = c.segs[0];
        if (s.last > this.acked || s.last > this.persistedSeq) break;
        // The segment being written stays while a write is under way.
        if (s === c.active && (c.busy !== null || s.bytes < s.readable)) break;
        this.remove(s);
      }
    }
  }

  get ackedSeq(): number {
    return this.acked;
  }

  /** Records not yet acknowledged (queued or on disk). */
  get backlog(): number {
    let n = this.chains.a.qCount + this.chains.b.qCount;
    for (const c of [this.chains.a, this.chains.b]) for (const s of c.segs) if (s.last > this.acked) n += s.count;
    return n;
  }

  isEmpty(): boolean {
    const done = (c: Chain) => c.qCount === 0 && c.segs.every((s) => s.last <= this.acked);
    return done(this.chains.a) && done(this.chains.b);
  }

  // --- reading, for the sender ------------------------------------------------

  /** Reading starts again after the acked watermark (after a reconnect). */
  rewind(): void {
    for (const k of ['a', 'b'] as const) this.leave(this.cursors[k]);
  }

  private leave(cur: Cursor): void {
    if (cur.fd >= 0) closeSync(cur.fd);
    cur.fd = -1;
    cur.seg = null;
    cur.off = 0;
    cur.lines = [];
    cur.seqs = [];
    cur.i = 0;
  }

  /** The seq of the next record of a chain that is readable, or -1. */
  private peek(k: ChainName, after: number): number {
    const cur = this.cursors[k];
    for (;;) {
      while (cur.i < cur.lines.length) {
        if (cur.seqs[cur.i] > after) return cur.seqs[cur.i];
        cur.i++;
      }
      if (!this.fill(k, cur, after)) return -1;
    }
  }

  private fill(k: ChainName, cur: Cursor, after: number): boolean {
    const segs = this.chains[k].segs;
    if (cur.seg !== null && !segs.includes(cur.seg)) this.leave(cur);
    if (cur.seg === null) {
      const s = segs.find((x) => x.last > after && x.readable > 0);
      if (s === undefined) return false;
      cur.seg = s;
      cur.fd = openSync(s.path, 'r');
      cur.off = 0;
    }
    const s = cur.seg;
    if (cur.off >= s.readable) {
      const next = segs[segs.indexOf(s) + 1];
      if (next === undefined || next.readable === 0) return false;
      this.leave(cur);
      return this.fill(k, cur, after);
    }
    const want = Math.min(READ_BYTES, s.readable - cur.off);
    const buf = Buffer.allocUnsafe(want);
    const n = readSync(cur.fd, buf, 0, want, cur.off);
    const end = buf.lastIndexOf(10, n - 1);
    if (end < 0) throw new Error(`spool segment ${s.path}: a record longer than ${READ_BYTES} bytes at ${cur.off}`);
    cur.off += end + 1;
    const text = buf.toString('utf8', 0, end + 1);
    const lines: string[] = [];
    const seqs: number[] = [];
    let a = 0;
    for (let b = text.indexOf('\n'); b >= 0; b = text.indexOf('\n', a)) {
      const line = text.slice(a, b + 1);
      lines.push(line);
      seqs.push(lineSeq(line));
      a = b + 1;
    }
    cur.lines = lines;
    cur.seqs = seqs;
    cur.i = 0;
    return true;
  }

  /** The next record in seq order over both chains with seq > after, or null. */
  next(after: number): { seq: number; line: string } | null {
    const sa = this.peek('a', after);
    const sb = this.peek('b', after);
    if (sa < 0 && sb < 0) return null;
    const k: ChainName = sb < 0 || (sa >= 0 && sa < sb) ? 'a' : 'b';
    if ((k === 'a' ? sa : sb) > this.settled()) return null;
    const cur = this.cursors[k];
    const r = { seq: cur.seqs[cur.i], line: cur.lines[cur.i] };
    cur.i++;
    return r;
  }

  // --- state ----------------------------------------------------------------

  /** Saves seq, the acked watermark and unannounced drops (tmp, fsync, rename) when they changed. */
  async saveState(): Promise<void> {
    while (this.stateBusy !== null) await this.stateBusy;
    const seq = this.lastSeq;
    const text = JSON.stringify({ seq, acked: this.acked, unannounced: this.unannounced });
    if (text === this.savedState) return;
    this.stateBusy = (async () => {
      try {
        const tmp = join(this.dir, 'state.json.tmp');
        await writeFile(tmp, text, { mode: 0o600, flush: true } as Parameters<typeof writeFile>[2]);
        renameSync(tmp, join(this.dir, 'state.json'));
        this.savedState = text;
        this.persistedSeq = seq;
      } catch (e) {
        this.onError(`cannot save spool state in ${this.dir}: ${(e as Error).message}`);
      }
    })();
    await this.stateBusy;
    this.stateBusy = null;
    this.release(this.acked);
  }

  stats(): SpoolStats {
    let segments = 0;
    for (const c of [this.chains.a, this.chains.b]) segments += c.segs.length;
    return {
      segments,
      bytes: this.diskBytes(),
      queued_bytes: this.queuedBytes(),
      dropped: this.dropped.records,
      dropped_alerts: this.dropped.alerts,
    };
  }

  async close(): Promise<void> {
    await this.flushAll();
    await this.saveState();
    this.rewind();
    for (const c of [this.chains.a, this.chains.b]) {
      for (const s of c.segs) {
        if (s.fh !== null) await s.fh.close();
        s.fh = null;
      }
    }
  }
}

/** Counts a segment's lines, its first and last seq; cuts a partial last line. */
function scanSegment(seg: Segment): void {
  const fd = openSync(seg.path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(READ_BYTES);
    let good = 0;
    for (let off = 0; off < size; ) {
      const n = readSync(fd, buf, 0, Math.min(READ_BYTES, size - off), off);
      if (n <= 0) break;
      for (let i = buf.indexOf(10); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) {
        seg.count++;
        good = off + i + 1;
      }
      off += n;
    }
    if (good < size) ftruncateSync(fd, good);
    seg.bytes = seg.readable = good;
    if (seg.count === 0) return;
    const head = readSync(fd, buf, 0, Math.min(READ_BYTES, good), 0);
    seg.first = lineSeq(buf.toString('utf8', 0, buf.indexOf(10) + 1 || head));
    const tail = Math.min(good, READ_BYTES);
    readSync(fd, buf, 0, tail, good - tail);
    seg.last = lineSeq(buf.toString('utf8', buf.lastIndexOf(10, tail - 2) + 1, tail));
  } finally {
    closeSync(fd);
  }
}

/** Records of a segment above the acked watermark, and how many are alerts. */
function countUnacked(seg: Segment, acked: number): DropCounts {
  if (seg.first > acked) {
    const alerts = seg.chain === 'a' ? seg.count : 0;
    return { records: seg.count, alerts };
  }
  let records = 0;
  let alerts = 0;
  const text = readFileSync(seg.path, 'utf8');
  let a = 0;
  for (let b = text.indexOf('\n'); b >= 0; b = text.indexOf('\n', a)) {
    const line = text.slice(a, b + 1);
    if (lineSeq(line) > acked) {
      records++;
      const t = recordType(line);
      if (t === 'alert' || t === 'alert_summary') alerts++;
    }
    a = b + 1;
  }
  return { records, alerts };
}

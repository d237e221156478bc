// `otwatch read --workers N` (N > 1), the reader thread's side.
//
// The reader thread reads the captures into shared chunks (ring.ts), parses
// them as usual, hashes each frame (shard.ts) and puts a record of it (where
// it is, not a copy) in the ring of the worker that owns its flow. It also
// keeps the run's capture clock: when a packet crosses a sweep boundary
// every worker gets a tick first, so idle and active timeouts fire at the
// same capture times as in one engine, whichever worker holds the flow. The
// workers send their records back; the reader thread writes them to the same
// sinks a single engine would (stdout, -w files), runs the detector on the
// workers' events (events.ts), and merges their totals into the summary.
//
// Memory: a fixed chunk pool and one fixed ring per worker; the reader waits
// when no chunk is free or a ring is full. What the workers send back is
// bounded by what the chunks held.
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CaptureError, type RawPacket } from '../capture/raw-packet.js';
import { UsageError } from '../pipeline/errors.js';
import type { EngineSettings } from '../pipeline/settings.js';
import type { Engine } from '../engine.js';
import type { Logger } from '../output/log.js';
import { NullSink, type RecordKind, type RecordSink } from '../output/sink.js';
import { EventReplay } from './events.js';
import type { BatchMessage, TopEntry, WorkerConfig, WorkerTotals } from './protocol.js';
import type { TopTable } from '../output/summary.js';
import { CHUNK_BYTES, readCaptureChunked } from './reader.js';
import { ChunkPool, createRing, END_EOF, END_SHUTDOWN, REC_END, REC_TICK, RingWriter } from './ring.js';
import { shardOf } from './shard.js';

/** Records per worker ring (32 bytes each). */
export const RING_RECORDS = 1 << 16;
/** Chunks of capture in flight: the workers' lookahead. */
export const CHUNKS = 8;

/** Below this much input the default is one thread: starting workers costs
 *  more than they save on a small capture. */
export const AUTO_MIN_BYTES = 32 * 1024 * 1024;
/** Below this many cores the default is one thread: a single engine already
 *  keeps more than one core busy (V8 collects garbage and compiles on helper
 *  threads), and on 2 cores workers were measured no faster (docs/workers.md). */
export const AUTO_MIN_CORES = 4;
export const MAX_WORKERS = 64;

/** Threads for `read`: --workers N, or by default one per core for inputs
 *  of AUTO_MIN_BYTES or more on AUTO_MIN_CORES or more cores (stdin counts
 *  as small: its size is unknown). */
export function workerCount(opt: number | undefined, paths: readonly string[]): number {
  if (opt !== undefined) {
    if (!Number.isInteger(opt) || opt < 1 || opt > MAX_WORKERS)
      throw new UsageError(`--workers needs a whole number from 1 to ${MAX_WORKERS}`);
    return opt;
  }
  const cores = availableParallelism();
  if (cores < AUTO_MIN_CORES || paths.includes('-')) return 1;
  let bytes = 0;
  for (const p of paths) {
    try {
      bytes += statSync(p).size;
    } catch {
      // reported when read
    }
  }
  return bytes >= AUTO_MIN_BYTES ? Math.min(cores, MAX_WORKERS) : 1;
}

export interface ParallelReadOptions {
  workers: number;
  paths: readonly string[];
  /** What each worker's engine is built from (bounds are split between them). */
  settings: EngineSettings;
  /** The sink takes msgpack records (one line at a time), not NDJSON bytes. */
  msgpack: boolean;
  /** The pipeline the command built: its sink receives every record, its
   *  observer (the detector, if any) the workers' events, and its stats and
   *  summary the workers' totals. It sees no packets itself. */
  engine: Engine;
  sink: RecordSink;
  log: Logger;
  /** Checked after every read: stop reading (a signal). */
  shouldStop(): boolean;
  /** Settles when reading must stop at once, even in the middle of a read. */
  stop?: Promise<void>;
  progress?(path: string, bytes: number, total: number, packets: number): void;
  /** After each input: its packets and the seconds from opening it until
   *  its last packet was handed to a worker (the workers trail that by at
   *  most their rings and chunks, and start the next input with the same
   *  lag, so a long input's time is its processing time). */
  fileDone?(path: string, packets: number, secs: number): void;
}

export interface ParallelReadResult {
  damaged: number;
  stopped: boolean;
  /** A worker failed: the run is incomplete (exit code 3). */
  error: Error | null;
}

/** Ring records a slice of `bytes` capture bytes can need in one ring: a
 *  packet record per 16 bytes (the smallest capture record), a tick before
 *  each, a chunk release and the end record. */
function worstCase(bytes: number): number {
  return 2 * Math.ceil(bytes / 16) + 4;
}

export async function readParallel(o: ParallelReadOptions): Promise<ParallelReadResult> {
  const n = o.workers;
  const engine = o.engine;
  const msgpack = o.msgpack;
  const detector = engine.observer;
  const replay = detector !== null ? new EventReplay(detector, engine.opts.dissectors, n) : null;
  const crash = /^(\d+):(\d+)$/.exec(process.env.OTWATCH_TEST_WORKER_CRASH ?? '');

  const writers: RingWriter[] = [];
  const workers: Worker[] = [];
  const finished: boolean[] = new Array(n).fill(false);
  const lastMajor: number[] = new Array(n).fill(-1);
  const marks: number[] = new Array(n).fill(-1);
  const caughtUp: boolean[] = new Array(n).fill(false);
  let failure: Error | null = null;
  let doneCount = 0;
  let wake: (() => void) | null = null;

  const chunks = ChunkPool.create(CHUNKS, CHUNK_BYTES);
  const fail = (e: Error): void => {
    if (failure === null) failure = e;
    for (const w of writers) w.wake();
    chunks.wakeAll();
    wake?.();
  };

  const write = (kind: RecordKind, s: string): void => {
    if (s === '') return;
    if (!msgpack) {
      o.sink.write(kind, s); // whole lines, concatenated: the sinks only append
      return;
    }
    let a = 0;
    for (let b = s.indexOf('\n'); b >= 0; b = s.indexOf('\n', a)) {
      o.sink.write(kind, s.slice(a, b + 1));
      a = b + 1;
    }
  };

  /** A worker's record bytes: straight to the output when it takes NDJSON
   *  bytes, else as lines (whole records: a batch never ends mid-record). */
  const writeBytes = (kind: RecordKind, chunks: Uint8Array[]): void => {
    if (chunks.length === 0) return;
    const out = msgpack ? null : (o.sink.direct?.(kind) ?? null);
    if (out !== null) {
      for (const c of chunks) out.writeBytes(c);
      return;
    }
    write(kind, Buffer.concat(chunks).toString('utf8'));
  };

  const onBatch = (m: BatchMessage): void => {
    if (failure !== null) return;
    try {
      writeBytes('flow', m.flow);
      writeBytes('pdu', m.pdu);
      write('alert', m.alert);
      write('stats', m.stats);
      if (replay !== null && m.ev !== null) {
        replay.push(m.w, m.ev, m.totals !== null);
        marks[m.w] = m.mark;
        for (let w = 0; w < n; w++) caughtUp[w] = finished[w] || marks[w] === lastMajor[w];
        replay.release(2 * seq + 1, caughtUp);
      }
      if (m.totals !== null) {
        mergeTotals(engine, m.totals);
        finished[m.w] = true;
        doneCount++;
        if (doneCount === n) wake?.();
      }
    } catch (e) {
      fail(e as Error);
    }
  };

  for (let i = 0; i < n; i++) {
    const sab = createRing(RING_RECORDS);
    writers.push(new RingWriter(sab));
    const cfg: WorkerConfig = {
      index: i,
      workers: n,
      ring: sab,
      chunks: chunks.sabs,
      chunkRefs: chunks.refs.buffer as SharedArrayBuffer,
      engine: o.settings,
      records: !(o.sink instanceof NullSink),
      detect: replay !== null,
      crashAfter: crash !== null && Number(crash[1]) === i ? Number(crash[2]) : 0,
    };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: cfg });
    w.on('message', onBatch);
    w.on('error', (e) => fail(new Error(`worker ${i} failed: ${e.stack ?? e.message}`)));
    w.on('exit', (code) => {
      if (!finished[i]) fail(new Error(`worker ${i} exited (code ${code}) before the end of its input`));
    });
    workers.push(w);
  }

  // The run's clock, as Engine.onPacket keeps it.
  let now = 0;
  let nextSweep = 0;
  let seq = -1;
  let packets = 0;
  const current = { chunk: 0 };
  const onPacket = (raw: RawPacket): void => {
    let ts = raw.ts;
    if (ts > now) now = ts;
    else ts = now;
    seq++;
    if (ts >= nextSweep) {
      for (let w = 0; w < n; w++) {
        writers[w].putMark(REC_TICK, 0, ts, seq);
        lastMajor[w] = 2 * seq;
      }
      nextSweep = Math.floor(ts) + 1;
    }
    const w = shardOf(raw.buf, raw.off, raw.caplen, raw.linktype, n);
    writers[w].putPacket(raw, current.chunk, ts, seq);
    lastMajor[w] = 2 * seq + 1;
    packets++;
  };

  const waitRoom = async (need: number): Promise<void> => {
    for (const w of writers) {
      while (w.free() < need) {
        if (failure !== null) throw failure;
        await w.waitRead(200);
      }
    }
    if (failure !== null) throw failure;
  };
  const gate = (bytes: number): Promise<void> | null => {
    const need = worstCase(bytes);
    if (failure === null && writers.every((w) => w.free() >= need)) return null;
    return waitRoom(need);
  };
  const publish = (): void => {
    for (const w of writers) w.publish();
  };
  let lastChunk = -1;
  const acquire = async (): Promise<number> => {
    const c = (lastChunk + 1) % CHUNKS;
    while (!chunks.isFree(c)) {
      if (failure !== null) throw failure;
      await chunks.waitFree(c, 200);
    }
    if (failure !== null) throw failure;
    lastChunk = c;
    return c;
  };
  const done = (c: number): void => {
    if (failure !== null) return; // the rings may be full; the workers are stopped anyway
    chunks.hold(c, n); // before the workers can see the release records
    for (const w of writers) w.putRelease(c); // room: worstCase counts it
    publish();
  };

  let damaged = 0;
  let stopped = false;
  try {
    for (const path of o.paths) {
      if (o.shouldStop()) {
        stopped = true;
        break;
      }
      const t0 = process.hrtime.bigint();
      const p0 = packets;
      try {
        const r = await readCaptureChunked(path, onPacket, chunks, current, {
          acquire,
          gate,
          afterSlice: publish,
          done,
          stop: o.stop,
          afterChunk: (p) => {
            o.progress?.(path, p.bytes, p.total, packets);
            return o.shouldStop();
          },
        });
        if (r.stopped) stopped = true;
        o.log.debug(`${path}: ${r.format}, ${r.packets} packets`);
      } catch (e) {
        if (failure !== null && e === failure) throw e;
        damaged++;
        if (e instanceof CaptureError) o.log.error(e.message);
        else o.log.error(`${path}: ${(e as Error).message}`);
      }
      o.fileDone?.(path, packets - p0, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    // End of input: every worker flushes its flows and sends its totals.
    await waitRoom(worstCase(0));
    // A signal after the last read still makes it a shutdown, as in one engine.
    for (const w of writers) w.putMark(REC_END, stopped || o.shouldStop() ? END_SHUTDOWN : END_EOF, now, seq + 1);
    publish();
    while (doneCount < n && failure === null) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (doneCount === n || failure !== null) resolve();
      });
      wake = null;
    }
    if (failure !== null) throw failure;
    replay?.drain();
    engine.stats.lastTs = now;
    detector?.finish(now);
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    return { damaged, stopped, error: e as Error };
  }
  return { damaged, stopped, error: null };
}

function mergeTop(t: TopTable, entries: TopEntry[]): void {
  for (const e of entries) t.merge(e.key, e.flows, e.bytes);
}

/** A worker's totals into the reader thread's engine (for the summary). */
function mergeTotals(engine: Engine, t: WorkerTotals): void {
  const st = engine.stats as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(t.stats)) {
    if (k === 'firstTs') {
      if (v !== 0 && (st.firstTs === 0 || v < st.firstTs)) st.firstTs = v;
    } else if (k === 'lastTs') {
      if (v > st.lastTs) st.lastTs = v;
    } else {
      st[k] = (st[k] ?? 0) + v;
    }
  }
  engine.table.evicted += t.evicted;
  const sm = engine.summary;
  mergeTop(sm.talkers, t.talkers);
  sm.talkers.other += t.talkersOther;
  mergeTop(sm.services, t.services);
  sm.services.other += t.servicesOther;
  sm.refused += t.refused;
  sm.unanswered += t.unanswered;
  for (const [k, v] of t.apps) sm.apps.set(k, (sm.apps.get(k) ?? 0) + v);
  if (t.internalError !== null && engine.firstInternalError === null) {
    const e = new Error(t.internalError.message);
    e.stack = t.internalError.stack;
    engine.firstInternalError = e;
  }
}

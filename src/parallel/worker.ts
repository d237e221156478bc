// Worker thread entry: one Engine fed from one packet ring. Records go back to
// the reader thread in batches (it owns stdout and the -w files); detection
// events too when a detector runs there (events.ts).
//
// The loop is synchronous: handle what the ring holds, and when it is empty
// send what is pending and sleep on the ring (Atomics.wait). Nothing reaches
// a worker except through its ring, so it needs no event loop of its own.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RawPacket } from '../capture/raw-packet.js';
import { engineFor } from '../pipeline/build.js';
import type { Engine } from '../engine.js';
import { NullSink, type RecordKind, type RecordSink } from '../output/sink.js';
import type { ByteOut } from '../output/fd-writer.js';
import { EventRecorder } from './events.js';
import type { BatchMessage, TopEntry, WorkerConfig, WorkerTotals } from './protocol.js';
import type { TopTable } from '../output/summary.js';
import { ChunkPool, END_SHUTDOWN, REC_END, REC_PACKET, REC_RELEASE, REC_TICK, RingReader, RingRecord } from './ring.js';

/** Send output once this many bytes are pending. */
const FLUSH_CHARS = 512 * 1024;
/** Bytes per record buffer handed over. */
const BATCH_BUF = 256 * 1024;
/** ... or this many detection events' numbers. */
const FLUSH_EVENTS = 64 * 1024;
/** ... or, with detection, after this many records (the reader thread can
 *  only release merged events up to every worker's progress). */
const FLUSH_RECORDS = 16 * 1024;

/** Flow or PDU records encoded as bytes (JsonOut writes into `buf`); full
 *  buffers are kept whole and handed to the reader thread by transfer, so
 *  no record becomes a string on either side. */
class ByteBatch implements ByteOut {
  buf = Buffer.allocUnsafe(BATCH_BUF);
  used = 0;
  private full: Uint8Array[] = [];
  private fullBytes = 0;

  get size(): number {
    return this.fullBytes + this.used;
  }

  flush(): void {
    if (this.used === 0) return;
    this.full.push(this.buf.subarray(0, this.used));
    this.fullBytes += this.used;
    this.buf = Buffer.allocUnsafe(BATCH_BUF); // its own ArrayBuffer (above the pool size): transferable
    this.used = 0;
  }

  write(s: string): void {
    if (this.used + s.length * 3 > this.buf.length) {
      this.flush();
      if (s.length * 3 > this.buf.length) {
        const b = Buffer.from(s, 'utf8');
        this.full.push(new Uint8Array(b)); // a copy with its own ArrayBuffer, to transfer
        this.fullBytes += b.length;
        return;
      }
    }
    this.used += this.buf.write(s, this.used, 'utf8');
  }

  writeBytes(b: Uint8Array): void {
    this.flush();
    this.full.push(new Uint8Array(b));
    this.fullBytes += b.length;
  }

  /** Everything so far, emptied. */
  take(): Uint8Array[] {
    this.flush();
    const out = this.full;
    this.full = [];
    this.fullBytes = 0;
    return out;
  }
}

/** Records collected per kind until the next batch. */
class BatchSink implements RecordSink {
  readonly flow = new ByteBatch();
  readonly pdu = new ByteBatch();
  alert = '';
  stats = '';
  private strs = 0;
  get size(): number {
    return this.flow.size + this.pdu.size + this.strs;
  }
  write(kind: RecordKind, line: string): void {
    switch (kind) {
      case 'flow':
        this.flow.write(line);
        break;
      case 'pdu':
        this.pdu.write(line);
        break;
      case 'alert':
        this.alert += line;
        this.strs += line.length;
        break;
      default:
        this.stats += line;
        this.strs += line.length;
    }
  }
  direct(kind: RecordKind): ByteOut | null {
    return kind === 'flow' ? this.flow : kind === 'pdu' ? this.pdu : null;
  }
  takeStrings(): void {
    this.alert = this.stats = '';
    this.strs = 0;
  }
  close(): void {}
}

function topEntries(t: TopTable): TopEntry[] {
  return t.entries().map(([key, v]) => ({ key, flows: v.flows, bytes: v.bytes }));
}

function totals(engine: Engine): WorkerTotals {
  const stats: Record<string, number> = {};
  for (const [k, v] of Object.entries(engine.stats)) stats[k] = v as number;
  const e = engine.firstInternalError;
  return {
    stats,
    evicted: engine.table.evicted,
    talkers: topEntries(engine.summary.talkers),
    talkersOther: engine.summary.talkers.other,
    services: topEntries(engine.summary.services),
    servicesOther: engine.summary.services.other,
    refused: engine.summary.refused,
    unanswered: engine.summary.unanswered,
    apps: [...engine.summary.apps],
    internalError: e === null ? null : { message: e.message, stack: e.stack ?? e.message },
  };
}

/** The engine a worker runs: the command's pipeline without outputs or
 *  detection, with the flow and reassembly bounds split between workers so
 *  the run as a whole keeps the configured memory bounds. */
export function workerEngine(cfg: WorkerConfig, sink: RecordSink): Engine {
  const s = cfg.engine;
  return engineFor(
    {
      ...s,
      flows: { ...s.flows, maxFlows: Math.max(1, Math.ceil(s.flows.maxFlows / cfg.workers)) },
      reassemblyBytes: Math.ceil(s.reassemblyBytes / cfg.workers),
    },
    sink,
  );
}

function run(cfg: WorkerConfig): void {
  const port = parentPort!;
  const sink = new BatchSink();
  const engine = workerEngine(cfg, cfg.records ? sink : new NullSink());
  const rec = cfg.detect ? new EventRecorder(engine.opts.dissectors) : null;
  engine.observer = rec;
  const ring = new RingReader(cfg.ring);
  const r = new RingRecord();
  const chunks = new ChunkPool(cfg.chunks, cfg.chunkRefs);
  const bufs = chunks.bufs;
  const raw = new RawPacket();
  let mark = -1;
  let records = 0;
  let packets = 0;

  const send = (t: WorkerTotals | null): void => {
    const ev = rec !== null ? rec.take(mark) : null;
    const flow = sink.flow.take();
    const pdu = sink.pdu.take();
    const msg: BatchMessage = { t: 'batch', w: cfg.index, flow, pdu, alert: sink.alert, stats: sink.stats, ev, mark, totals: t };
    sink.takeStrings();
    records = 0;
    const transfer: ArrayBuffer[] = [];
    for (const b of flow) transfer.push(b.buffer as ArrayBuffer);
    for (const b of pdu) transfer.push(b.buffer as ArrayBuffer);
    if (ev !== null) transfer.push(ev.nums.buffer as ArrayBuffer);
    port.postMessage(msg, transfer);
  };

  for (;;) {
    if (!ring.next(r)) {
      if (sink.size > 0 || (rec !== null && records > 0)) send(null);
      ring.waitData(1000);
      continue;
    }
    records++;
    const seq = r.seq;
    if (r.type === REC_PACKET) {
      if (++packets === cfg.crashAfter)
        throw new Error(`injected crash in worker ${cfg.index} at its packet ${packets} (OTWATCH_TEST_WORKER_CRASH)`);
      raw.buf = bufs[r.chunk];
      raw.off = r.arg;
      raw.caplen = r.caplen;
      raw.origlen = r.origlen;
      raw.linktype = r.linktype;
      raw.ts = r.ts;
      if (rec !== null) {
        rec.packet(seq);
        engine.lastFlow = null;
        engine.onPacket(raw);
        rec.touched(engine.lastFlow);
      } else {
        engine.onPacket(raw);
      }
      mark = 2 * seq + 1;
    } else if (r.type === REC_RELEASE) {
      chunks.release(r.chunk);
      continue;
    } else if (r.type === REC_TICK) {
      rec?.sweep(seq);
      engine.advanceClock(r.ts);
      mark = 2 * seq;
    } else if (r.type === REC_END) {
      rec?.final();
      engine.advanceClock(r.ts);
      engine.finish(r.arg === END_SHUTDOWN ? 'shutdown' : 'eof');
      mark = Number.MAX_SAFE_INTEGER;
      send(totals(engine));
      ring.commit();
      return;
    }
    if (sink.size >= FLUSH_CHARS || (rec !== null && (rec.pending >= FLUSH_EVENTS || records >= FLUSH_RECORDS))) send(null);
  }
}

if (!isMainThread && (workerData as WorkerConfig | null)?.ring instanceof SharedArrayBuffer) run(workerData as WorkerConfig);

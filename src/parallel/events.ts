// Detection in a sharded run. Scan detection, baselines and alert
// deduplication are state across flows, and flows live on different workers,
// so the detector stays on the reader thread: each worker records what its
// engine tells the observer (flow start, answer, app confirmed/unknown, the
// client's PDUs with a function code, flow end) with a snapshot of the flow
// fields detection reads,
// and the reader thread replays the events into the one Detector in the
// order a single engine would have produced them.
//
// That order, as a key (major, minor1, minor2), compared in that order:
//  - events while handling packet k:          (2k+1, 0, 0): one worker only;
//  - a sweep that packet k triggered:         (2k, list, last packet seq):
//    the flow table sweeps its idle lists in list order, each list ordered
//    by the flows' last packets; every worker sees every sweep (ticks);
//  - the final flush at end of input:         (FINAL, lastTs, list * 2^41 + seq):
//    flushAll takes the oldest list head, ties to the lower list.
// Each worker's events come in increasing key order, so the reader thread
// merges the streams, releasing events up to what every worker has passed.
import type { ProtocolModule } from '../dissectors/module.js';
import type { Dir } from '../dissectors/types.js';
import type { FlowObserver } from '../detect/observer.js';
import { END_REASONS, Flow, type EndReason } from '../flows/flow.js';

export const FINAL = Number.MAX_SAFE_INTEGER;
const LIST_SHIFT = 2 ** 41;

export const EV_START = 1;
export const EV_ANSWERED = 2;
export const EV_CONFIRMED = 3;
export const EV_UNKNOWN = 4;
export const EV_PDU = 5;
export const EV_END = 7;

// Layout of one event (doubles).
const E_TYPE = 0,
  E_K0 = 1,
  E_K1 = 2,
  E_K2 = 3,
  E_ID = 4,
  E_TS = 5;
const E_CLIENT_IS_A = 6,
  E_ROLES_FIXED = 7,
  E_TCP_SEEN = 8,
  E_PKTS_C2S = 9,
  E_PAY_C2S = 10,
  E_PAY_S2C = 11,
  E_APP = 12;
const E_X = 13,
  E_Y = 14,
  E_Z = 15,
  E_W = 16;
export const EV_SIZE = 17;
/** flowStart carries the flow key after the common part. */
const START_EXTRA = 14;

/** A batch of events from one worker: numbers, and the worker's progress
 *  (every later event has a major key above `mark`). */
export interface EventBatch {
  nums: Float64Array;
  mark: number;
}

interface Track {
  id: number;
  /** seq of the flow's last packet. */
  seq: number;
}

/** Worker side: a FlowObserver that records. */
export class EventRecorder implements FlowObserver {
  private buf = new Float64Array(64 * 1024);
  private len = 0;
  private readonly tracks = new Map<Flow, Track>();
  private nextId = 1;
  /** 0 packet, 1 sweep, 2 final flush. */
  private ctx = 0;
  private seq = 0;
  private readonly dIndex = new Map<ProtocolModule, number>();

  constructor(dissectors: readonly ProtocolModule[]) {
    dissectors.forEach((d, i) => {
      this.dIndex.set(d, i);
    });
  }

  /** Before the engine handles packet `seq`. */
  packet(seq: number): void {
    this.ctx = 0;
    this.seq = seq;
  }

  /** After: the flow the packet belonged to (engine.lastFlow), or null. */
  touched(f: Flow | null): void {
    if (f === null) return;
    const t = this.tracks.get(f);
    if (t !== undefined) t.seq = this.seq;
  }

  /** Before a clock tick that may sweep. */
  sweep(seq: number): void {
    this.ctx = 1;
    this.seq = seq;
  }

  /** Before the final flush. */
  final(): void {
    this.ctx = 2;
  }

  get pending(): number {
    return this.len;
  }

  /** Takes the recorded events (the numbers are a copy that can be transferred). */
  take(mark: number): EventBatch {
    const b: EventBatch = { nums: this.buf.slice(0, this.len), mark };
    this.len = 0;
    return b;
  }

  private ev(type: number, f: Flow, ts: number, extra: number): number {
    const t = this.tracks.get(f);
    if (t === undefined) return -1;
    if (this.len + EV_SIZE + extra > this.buf.length) {
      const nb = new Float64Array(this.buf.length * 2);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    const b = this.buf;
    const o = this.len;
    b[o + E_TYPE] = type;
    if (this.ctx === 0) {
      b[o + E_K0] = 2 * this.seq + 1;
      b[o + E_K1] = 0;
      b[o + E_K2] = 0;
    } else if (this.ctx === 1) {
      b[o + E_K0] = 2 * this.seq;
      b[o + E_K1] = f.listId;
      b[o + E_K2] = t.seq;
    } else {
      b[o + E_K0] = FINAL;
      b[o + E_K1] = f.lastTs;
      b[o + E_K2] = f.listId * LIST_SHIFT + t.seq;
    }
    b[o + E_ID] = t.id;
    b[o + E_TS] = ts;
    b[o + E_CLIENT_IS_A] = f.clientIsA ? 1 : 0;
    b[o + E_ROLES_FIXED] = f.rolesFixed ? 1 : 0;
    b[o + E_TCP_SEEN] = f.tcpSeen;
    b[o + E_PKTS_C2S] = f.pktsC2S;
    b[o + E_PAY_C2S] = f.payC2S;
    b[o + E_PAY_S2C] = f.payS2C;
    b[o + E_APP] = f.appStage;
    b[o + E_X] = 0;
    b[o + E_Y] = 0;
    b[o + E_Z] = 0;
    b[o + E_W] = 0;
    this.len = o + EV_SIZE + extra;
    return o;
  }

  flowStart(f: Flow, ts: number): void {
    this.tracks.set(f, { id: this.nextId++, seq: this.seq });
    const o = this.ev(EV_START, f, ts, START_EXTRA) + EV_SIZE;
    const b = this.buf;
    b[o] = f.ipVersion;
    b[o + 1] = f.proto;
    b[o + 2] = f.vlan;
    b[o + 3] = f.innerVlan;
    b[o + 4] = f.a0;
    b[o + 5] = f.a1;
    b[o + 6] = f.a2;
    b[o + 7] = f.a3;
    b[o + 8] = f.b0;
    b[o + 9] = f.b1;
    b[o + 10] = f.b2;
    b[o + 11] = f.b3;
    b[o + 12] = f.aPort;
    b[o + 13] = f.bPort;
  }

  serverAnswered(f: Flow, ts: number): void {
    this.ev(EV_ANSWERED, f, ts, 0);
  }

  appConfirmed(f: Flow, d: ProtocolModule, ts: number): void {
    const o = this.ev(EV_CONFIRMED, f, ts, 0);
    if (o >= 0) this.buf[o + E_X] = this.dIndex.get(d) ?? -1;
  }

  appUnknown(f: Flow, ts: number): void {
    this.ev(EV_UNKNOWN, f, ts, 0);
  }

  pdu(f: Flow, d: ProtocolModule, dir: Dir, fc: number, cls: number, ts: number): void {
    // Detection looks only at the client's PDUs that have a function code
    // (Detector.pdu returns at once for the others): only those travel.
    if (dir !== 0 || fc < 0) return;
    const o = this.ev(EV_PDU, f, ts, 0);
    if (o < 0) return;
    const b = this.buf;
    b[o + E_X] = this.dIndex.get(d) ?? -1;
    b[o + E_Y] = dir;
    b[o + E_Z] = fc;
    b[o + E_W] = cls;
  }

  flowEnd(f: Flow, reason: EndReason, ts: number): void {
    const o = this.ev(EV_END, f, ts, 0);
    if (o >= 0) this.buf[o + E_X] = END_REASONS.indexOf(reason);
    this.tracks.delete(f);
  }

  finish(): void {
    // The reader thread finishes the detector once every worker is done.
  }
}

/** A flow rebuilt on the reader thread from the events: the application
 *  layer it reports is the stage the worker's flow was at. */
class ReplayFlow extends Flow {
  stage = 0;

  override get appStage(): number {
    return this.stage;
  }
}

class Queue {
  batches: EventBatch[] = [];
  /** Position in batches[0].nums. */
  pos = 0;
  mark = -1;
  /** Worker has sent its last batch. */
  done = false;
  readonly flows = new Map<number, ReplayFlow>();

  head(): EventBatch | null {
    while (this.batches.length > 0) {
      const b = this.batches[0];
      if (this.pos < b.nums.length) return b;
      this.batches.shift();
      this.pos = 0;
    }
    return null;
  }
}

/** Reader-thread side: merges the workers' events into one observer. */
export class EventReplay {
  private readonly qs: Queue[];
  /** Events applied (for tests and debugging). */
  applied = 0;

  constructor(
    private readonly obs: FlowObserver,
    private readonly dissectors: readonly ProtocolModule[],
    workers: number,
  ) {
    this.qs = Array.from({ length: workers }, () => new Queue());
  }

  push(w: number, b: EventBatch, done: boolean): void {
    const q = this.qs[w];
    if (b.nums.length > 0) q.batches.push(b);
    if (b.mark > q.mark) q.mark = b.mark;
    if (done) q.done = true;
  }

  /** Applies every event whose major key is at most `bound`; `caughtUp[w]`:
   *  worker w has consumed all it was given, so it is past `bound` too. */
  release(bound: number, caughtUp: readonly boolean[]): void {
    let limit = bound;
    for (let w = 0; w < this.qs.length; w++) {
      const q = this.qs[w];
      if (!q.done && !caughtUp[w] && q.mark < limit) limit = q.mark;
    }
    for (;;) {
      let best = -1;
      let bk0 = 0,
        bk1 = 0,
        bk2 = 0;
      for (let w = 0; w < this.qs.length; w++) {
        const b = this.qs[w].head();
        if (b === null) continue;
        const o = this.qs[w].pos;
        const n = b.nums;
        const k0 = n[o + E_K0],
          k1 = n[o + E_K1],
          k2 = n[o + E_K2];
        if (k0 > limit) continue;
        if (best < 0 || k0 < bk0 || (k0 === bk0 && (k1 < bk1 || (k1 === bk1 && k2 < bk2)))) {
          best = w;
          bk0 = k0;
          bk1 = k1;
          bk2 = k2;
        }
      }
      if (best < 0) return;
      this.apply(best);
    }
  }

  /** Everything left (all workers done). */
  drain(): void {
    this.release(
      Infinity,
      this.qs.map(() => true),
    );
  }

  private apply(w: number): void {
    const q = this.qs[w];
    const b = q.batches[0];
    const n = b.nums;
    const o = q.pos;
    const type = n[o + E_TYPE];
    const id = n[o + E_ID];
    const ts = n[o + E_TS];
    q.pos = o + EV_SIZE + (type === EV_START ? START_EXTRA : 0);
    this.applied++;
    let f = q.flows.get(id);
    if (type === EV_START) {
      f = new ReplayFlow();
      const x = o + EV_SIZE;
      f.ipVersion = n[x];
      f.proto = n[x + 1];
      f.vlan = n[x + 2];
      f.innerVlan = n[x + 3];
      f.a0 = n[x + 4];
      f.a1 = n[x + 5];
      f.a2 = n[x + 6];
      f.a3 = n[x + 7];
      f.b0 = n[x + 8];
      f.b1 = n[x + 9];
      f.b2 = n[x + 10];
      f.b3 = n[x + 11];
      f.aPort = n[x + 12];
      f.bPort = n[x + 13];
      q.flows.set(id, f);
    }
    if (f === undefined) return;
    const clientIsA = n[o + E_CLIENT_IS_A] === 1;
    if (clientIsA !== f.clientIsA) {
      f.clientIsA = clientIsA;
      f.endpointsJson = null; // role-dependent text
    }
    f.rolesFixed = n[o + E_ROLES_FIXED] === 1;
    f.tcpSeen = n[o + E_TCP_SEEN];
    f.pktsC2S = n[o + E_PKTS_C2S];
    f.payC2S = n[o + E_PAY_C2S];
    f.payS2C = n[o + E_PAY_S2C];
    f.stage = n[o + E_APP];
    const obs = this.obs;
    switch (type) {
      case EV_START:
        obs.flowStart(f, ts);
        break;
      case EV_ANSWERED:
        obs.serverAnswered(f, ts);
        break;
      case EV_CONFIRMED:
        obs.appConfirmed(f, this.dissectors[n[o + E_X]], ts);
        break;
      case EV_UNKNOWN:
        obs.appUnknown(f, ts);
        break;
      case EV_PDU:
        obs.pdu(f, this.dissectors[n[o + E_X]], n[o + E_Y] as Dir, n[o + E_Z], n[o + E_W], ts);
        break;
      case EV_END:
        obs.flowEnd(f, END_REASONS[n[o + E_X]], ts);
        q.flows.delete(id);
        break;
    }
  }
}

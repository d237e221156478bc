// Moves records from the spool to a transport: in seq order, a bounded
// window in flight, at a bounded rate, deleting from the spool only what was
// acknowledged. A lost connection puts the reading position back to the
// acknowledged watermark (what was in flight is sent again: at-least-once,
// the collector removes duplicates by seq), then reconnects with
// exponential backoff and jitter.
import type { Logger } from '../output/log.js';
import { msgpack } from '../output/msgpack-lazy.js';
import { recordType } from './record-line.js';
import type { Spool } from './spool.js';
import { UndeliveredError, type Transport } from './transport.js';

/** Records in flight at once (MQTT.js keeps these; the broker's receive maximum may be lower). */
const WINDOW = 1024;
/** Records a rate-bound sender waits for tokens to send together. */
const RATE_BATCH = 64;
const BACKOFF_MIN_S = 0.5;
const BACKOFF_MAX_S = 60;
/** Longest pause between tries while the broker has no subscriber. */
const NO_SUBSCRIBER_MAX_S = 30;

export type ConnState = 'connecting' | 'connected' | 'backoff' | 'stopped';

export interface SenderCounters {
  state: ConnState;
  connects: number;
  disconnects: number;
  sent: number;
  acked: number;
  resent: number;
  last_error: string | null;
}

export class Sender {
  state: ConnState = 'connecting';
  readonly counters: SenderCounters = { state: 'connecting', connects: 0, disconnects: 0, sent: 0, acked: 0, resent: 0, last_error: null };
  /** Seqs in flight, in send order, and whether each was acknowledged. */
  private fly: number[] = [];
  private flyDone: boolean[] = [];
  /** The last seq handed to the transport. */
  private lastSent = 0;
  /** The highest seq ever sent: below it, a send is a resend. */
  private highSent = 0;
  private gen = 0;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private tokens: number;
  /** Records/s now (0: no bound): the configured rate, or less while capture needs the CPU. */
  private rate: number;
  private lastRefill = Date.now();
  private pumping = false;
  private pokeQueued = false;
  private topUp = false;
  private topUpTimer: NodeJS.Timeout | null = null;
  /** Sending waits after a record found no subscriber. */
  private paused = false;
  private pauseTimer: NodeJS.Timeout | null = null;
  /** One record in flight until the broker delivers one again. */
  private probe = false;
  private noSubscriber = 0;
  private lastLogged = '';
  /** Called once a connection is up (the exporter announces drops then). */
  onConnect: () => void = () => {};
  /** Called when every record handed over so far is acknowledged. */
  onIdle: () => void = () => {};

  constructor(
    private readonly spool: Spool,
    private readonly transport: Transport,
    private readonly o: { name: string; rate: number; format: 'json' | 'msgpack'; insecure: boolean; log: Logger },
  ) {
    this.rate = o.rate;
    this.tokens = this.burst();
    transport.onDown = (err) => this.down(err);
  }

  private burst(): number {
    return this.rate > 0 ? Math.max(1, Math.ceil(this.rate / 10)) : Infinity;
  }

  start(): void {
    void this.connect();
  }

  private setState(s: ConnState): void {
    this.state = s;
    this.counters.state = s;
  }

  private async connect(): Promise<void> {
    this.timer = null;
    if (this.state === 'stopped') return;
    this.setState('connecting');
    if (this.o.insecure)
      this.o.log.warn(`export: connecting to ${this.o.name} WITHOUT TLS (--export-insecure): records ` + `travel in plaintext`);
    try {
      await this.transport.connect();
    } catch (e) {
      this.retry(`cannot connect to ${this.o.name}: ${(e as Error).message}`);
      return;
    }
    if ((this.state as ConnState) === 'stopped') {
      await this.transport.close();
      return;
    }
    this.gen++;
    this.counters.connects++;
    this.setState('connected');
    this.o.log.info(`export: connected to ${this.o.name}; ${this.spool.backlog} records to send`);
    this.o.log.debug(`export: window ${this.transport.window ?? 'none'}`);
    this.fromWatermark();
    this.endPause();
    this.onConnect();
    this.poke();
  }

  private retry(msg: string): void {
    if (this.state === 'stopped') return;
    this.counters.last_error = msg;
    const cap = Math.min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** this.attempt);
    const delay = cap / 2 + (Math.random() * cap) / 2;
    this.attempt = Math.min(this.attempt + 1, 20);
    const line = `export: ${msg}; ${this.spool.backlog} records stay spooled; retrying in ${delay.toFixed(1)} s`;
    if (msg !== this.lastLogged) this.o.log.error(line);
    else this.o.log.debug(line);
    this.lastLogged = msg;
    this.setState('backoff');
    this.timer = setTimeout(() => void this.connect(), delay * 1000);
  }

  private down(err: Error): void {
    if (this.state !== 'connected') return;
    this.counters.disconnects++;
    this.gen++;
    this.retry(`connection to ${this.o.name} lost: ${err.message}`);
  }

  /** Changes the send rate (0: no bound); what is in flight stays. */
  setRate(rate: number): void {
    if (rate === this.rate) return;
    this.rate = rate;
    this.lastRefill = Date.now();
    this.tokens = rate > 0 ? Math.min(this.tokens, this.burst()) : Infinity;
    if (rate === 0) this.poke();
  }

  /** More records may be readable (after a spool flush or an ack). */
  poke(): void {
    if (this.state !== 'connected' || this.pumping || this.paused) return;
    this.pumping = true;
    try {
      this.pump();
    } finally {
      this.pumping = false;
    }
  }

  private pump(): void {
    const gen = this.gen;
    if (this.rate > 0) {
      const now = Date.now();
      this.tokens = Math.min(this.burst(), this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
      this.lastRefill = now;
    }
    const window = this.probe ? 1 : Math.min(WINDOW, this.transport.window ?? WINDOW);
    // Refill from half empty, not one record per ack: the records of a refill share one TLS write (each
    // publish corks the socket until the next tick) instead of a write and a TLS record each, on both ends.
    // Whatever is in flight brings acks, so nothing waits.
    if (!this.topUp && this.fly.length > window >> 1) {
      // A broker with Nagle on (mosquitto's default) holds its next PUBACKs until our TCP ack, which a
      // sender waiting for them would delay by 40 ms: top up after a millisecond then.
      this.topUpTimer ??= setTimeout(() => {
        this.topUpTimer = null;
        this.topUp = true;
        try {
          this.poke();
        } finally {
          this.topUp = false;
        }
      }, 1);
      return;
    }
    while (this.state === 'connected' && this.fly.length < window) {
      if (this.tokens < 1) {
        // Out of tokens: wait for a batch of them, not one, so a paced sender makes a TLS write per batch
        // rather than one per record (at most RATE_BATCH / rate later for a lone alert: 64 ms at 1000/s).
        const need = Math.min(this.burst(), RATE_BATCH);
        this.schedulePump(Math.ceil((1000 * (need - this.tokens)) / this.rate));
        return;
      }
      const r = this.spool.next(this.lastSent);
      if (r === null) return;
      const type = recordType(r.line) ?? 'unknown';
      const idx = this.fly.length;
      this.fly.push(r.seq);
      this.flyDone.push(false);
      this.lastSent = r.seq;
      this.tokens--;
      this.counters.sent++;
      if (r.seq <= this.highSent) this.counters.resent++;
      else this.highSent = r.seq;
      const payload = this.o.format === 'msgpack' ? (Buffer.from(msgpack().encode(JSON.parse(r.line))) as unknown as string) : r.line;
      const seq = r.seq;
      this.transport.send(type, payload, (err) => this.acked(gen, seq, idx, type, err));
    }
  }

  /** The broker took the record but had no subscriber for it (no collector yet, or a restarted broker that
   *  has not restored the collectors' sessions). The connection is fine: sending pauses, then starts again
   *  from the acknowledged watermark with one record in flight until one is delivered. */
  private undelivered(seq: number, type: string, err: Error): void {
    this.gen++; // acks still in flight are resent rather than counted (the collector drops duplicates)
    this.probe = true;
    const delay = Math.min(NO_SUBSCRIBER_MAX_S, 2 ** this.noSubscriber);
    this.noSubscriber = Math.min(this.noSubscriber + 1, 10);
    const msg = `${this.o.name} did not deliver record seq ${seq} (type ${type}): ${err.message}`;
    this.counters.last_error = msg;
    const line = `export: ${msg}; ${this.spool.backlog} records stay spooled; sending again in ${delay} s`;
    if (msg.replace(/seq \d+ \(type \w+\)/, '') !== this.lastLogged.replace(/seq \d+ \(type \w+\)/, '')) this.o.log.error(line);
    else this.o.log.debug(line);
    this.lastLogged = msg;
    this.paused = true;
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      this.paused = false;
      if (this.state !== 'connected') return;
      this.fromWatermark();
      this.poke();
    }, delay * 1000);
  }

  private schedulePump(ms: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.poke();
      },
      Math.max(1, ms),
    );
  }

  private acked(gen: number, seq: number, _idx: number, type: string, err: Error | null): void {
    if (gen !== this.gen || this.state !== 'connected') return;
    if (err instanceof UndeliveredError) {
      this.undelivered(seq, type, err);
      return;
    }
    if (err !== null) {
      // The broker refused it (e.g. not authorised for this topic): the
      // record stays spooled; a new connection tries again later.
      this.counters.disconnects++;
      this.gen++;
      void this.transport.close();
      this.retry(`${this.o.name} refused record seq ${seq} (type ${type}): ${err.message}`);
      return;
    }
    const i = this.fly.indexOf(seq);
    if (i >= 0) this.flyDone[i] = true;
    this.counters.acked++;
    let done = 0;
    let upTo = -1;
    while (done < this.fly.length && this.flyDone[done]) upTo = this.fly[done++];
    if (done > 0) {
      this.fly.splice(0, done);
      this.flyDone.splice(0, done);
      this.spool.release(upTo);
      this.attempt = 0;
      this.probe = false;
      this.noSubscriber = 0;
    }
    if (this.fly.length === 0) this.onIdle();
    // One pump after the acks of a read, not one per ack: the records it sends then share one TLS write
    // (each publish corks the socket until the next tick) instead of a write and a TLS record each.
    if (!this.pokeQueued) {
      this.pokeQueued = true;
      setImmediate(() => {
        this.pokeQueued = false;
        this.poke();
      });
    }
  }

  /** Sending starts again after the acknowledged watermark: what was in flight goes again. */
  private fromWatermark(): void {
    this.lastSent = this.spool.ackedSeq;
    this.fly = [];
    this.flyDone = [];
    this.spool.rewind();
  }

  private endPause(): void {
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.setState('stopped');
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.endPause();
    if (this.topUpTimer !== null) clearTimeout(this.topUpTimer);
    this.topUpTimer = null;
    this.gen++;
    await this.transport.close();
  }
}

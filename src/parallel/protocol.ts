// What the reader thread and its workers exchange besides the packet rings.
import type { EngineSettings } from '../pipeline/settings.js';
import type { EventBatch } from './events.js';

export interface WorkerConfig {
  index: number;
  workers: number;
  /** The packet ring this worker reads (ring.ts). */
  ring: SharedArrayBuffer;
  /** The chunks the capture is read into, and their use counts (ChunkPool). */
  chunks: SharedArrayBuffer[];
  chunkRefs: SharedArrayBuffer;
  /** The run's engine settings; the worker builds its engine from them. */
  engine: EngineSettings;
  /** Someone reads the records (else, as in one engine, none are built). */
  records: boolean;
  /** Record detection events for the reader thread's detector. */
  detect: boolean;
  /** Test hook: throw when handling this many packets (0: never). */
  crashAfter: number;
}

/** Summary table key (summary.ts packs IPv4 keys into numbers). */
export type TopKey = number | string;

export interface TopEntry {
  key: TopKey;
  flows: number;
  bytes: number;
}

/** A worker's totals at the end: stats, summary tables, errors. */
export interface WorkerTotals {
  stats: Record<string, number>;
  evicted: number;
  talkers: TopEntry[];
  talkersOther: number;
  services: TopEntry[];
  servicesOther: number;
  refused: number;
  unanswered: number;
  apps: [string, number][];
  /** First exception caught from application-layer decoding. */
  internalError: { message: string; stack: string } | null;
}

/** Worker → reader thread. Output lines are concatenated per record kind. */
export interface BatchMessage {
  t: 'batch';
  w: number;
  /** Flow and PDU records: NDJSON bytes, in order (transferred buffers). */
  flow: Uint8Array[];
  pdu: Uint8Array[];
  alert: string;
  stats: string;
  /** Detection events (detect mode), with the worker's progress mark. */
  ev: EventBatch | null;
  /** Major key of the last record handled (events.ts). */
  mark: number;
  /** Set on the worker's last message. */
  totals: WorkerTotals | null;
}

// What a run is asked to do, typed: the command line is parsed once into
// these (src/cli/settings.ts), and each layer receives only its part. Plain
// data, so a worker thread gets its EngineSettings by structured clone.
import type { ExportSettings } from '../export/options.js';
import type { FlowTableOptions } from '../flows/flow-table.js';
import type { InventorySettings } from '../inventory/run-options.js';

export interface EngineSettings {
  flows: FlowTableOptions;
  /** Dissectors by name; null: all of them, []: flows only. */
  protocols: readonly string[] | null;
  /** One record per application PDU. */
  pdus: boolean;
  /** Global bound on out-of-order TCP bytes held. */
  reassemblyBytes: number;
  /** Aggregate the human summary's tables. */
  summary: boolean;
}

export interface OutputSettings {
  /** NDJSON on stdout. */
  json: boolean;
  /** flows.ndjson... in this directory; null: none. */
  dir: string | null;
  format: 'ndjson' | 'msgpack';
}

export interface ScanSettings {
  ports: number;
  hosts: number;
  window: number;
}

export interface DetectSettings {
  baseline: string | null;
  /** Seconds of capture time to learn from; null: not learning. */
  learnFor: number | null;
  saveBaseline: string | null;
  policy: string | null;
  scan: ScanSettings;
}

export interface LogSettings {
  level: string;
  format: 'text' | 'json';
}

/** What `read` and `live` share. */
export interface PipelineSettings {
  engine: EngineSettings;
  output: OutputSettings;
  detect: DetectSettings;
  log: LogSettings;
  /** --export: records also leave through the spool to a broker; null: not exported. */
  export: ExportSettings | null;
  /** --inventory: the SQLite asset/service inventory updated by the run; null: none. */
  inventory: InventorySettings | null;
  /** No human summary. */
  quiet: boolean;
}

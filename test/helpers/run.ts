// Running captures through otwatch in tests: in-process through the Engine
// (fast, for many small cases) or through the built CLI (exit codes, stderr).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { readCapture } from '../../src/capture/file-source.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import { Engine, type EngineOptions } from '../../src/engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import type { RecordKind, RecordSink } from '../../src/output/sink.js';
import { REPO } from './shared.js';

export type Rec = Record<string, any>;

export class MemorySink implements RecordSink {
  readonly records: Rec[] = [];
  write(_kind: RecordKind, line: string): void {
    this.records.push(JSON.parse(line));
  }
  close(): void {}
}

export interface RunResult {
  records: Rec[];
  flows: Rec[];
  pdus: Rec[];
  engine: Engine;
  errors: string[];
}

/** Reads captures (paths or in-memory buffers written to a temp file by the caller) through an Engine. */
export async function runEngine(paths: string[], opts: Partial<EngineOptions> = {}): Promise<RunResult> {
  const sink = new MemorySink();
  const engine = new Engine(
    {
      flows: { ...DEFAULT_FLOW_OPTIONS, ...(opts.flows ?? {}) },
      dissectors: opts.dissectors ?? DISSECTORS,
      pdus: opts.pdus ?? true,
      reassemblyBytes: opts.reassemblyBytes ?? 64 << 20,
      summary: opts.summary,
    },
    sink,
  );
  const errors: string[] = [];
  for (const p of paths) {
    try {
      await readCapture(p, engine.onPacket);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  engine.finish('eof');
  if (engine.firstInternalError) throw engine.firstInternalError;
  return {
    records: sink.records,
    flows: sink.records.filter((r) => r.type === 'flow'),
    pdus: sink.records.filter((r) => r.type === 'pdu'),
    engine,
    errors,
  };
}

export const CLI = resolve(REPO, 'dist/src/cli.js');

export function runCli(args: string[], input?: Buffer): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, input, encoding: 'buffer', maxBuffer: 512 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

export function fixture(...parts: string[]): string {
  return resolve(REPO, 'fixtures', 'pcaps', ...parts);
}

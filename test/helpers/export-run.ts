// Running otwatch processes for the export tests: read/export flush to
// completion, collect and mosquitto_sub in the background.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './run.js';
import { REPO } from './shared.js';
import type { Pki } from './pki.js';

export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Done>;
  constructor(readonly p: ChildProcess) {
    p.stdout?.on('data', (b: Buffer) => (this.stdout += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((r) => p.on('close', (code, signal) => r({ code, signal, stdout: this.stdout, stderr: this.stderr })));
  }
  async waitFor(re: RegExp, ms = 15_000, where: 'stdout' | 'stderr' = 'stderr'): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this[where])) {
      if (this.p.exitCode !== null) throw new Error(`exited before ${re}: ${this.stderr}`);
      if (Date.now() - t0 > ms) throw new Error(`timeout waiting for ${re}: ${this.stderr}`);
      await sleep(50);
    }
  }
  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<Done> {
    if (this.p.exitCode === null && this.p.signalCode === null) this.p.kill(sig);
    return this.exited;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function otwatch(args: string[]): Proc {
  return new Proc(spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export function tlsArgs(pki: Pki, cn: string): string[] {
  const c = pki.client(cn);
  return ['--export-ca', pki.ca, '--export-cert', c.cert, '--export-key', c.key];
}

/** An independent subscriber: mosquitto_sub, MQTT 5, QoS 1, persistent session. */
export function mosquittoSub(pki: Pki, port: number, cn: string, topic: string, id: string): Proc {
  const c = pki.client(cn);
  return new Proc(
    spawn(
      'stdbuf',
      [
        '-oL',
        'mosquitto_sub',
        '-V',
        '5',
        '-h',
        'localhost',
        '-p',
        String(port),
        '--cafile',
        pki.ca,
        '--cert',
        c.cert,
        '--key',
        c.key,
        '-q',
        '1',
        '-c',
        '-i',
        id,
        '-x',
        '3600',
        '-t',
        topic,
        '-F',
        '%t\t%p',
        '-d',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
}

export type Rec = Record<string, any>;

export function parseLines(text: string): Rec[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Rec);
}

/** Records as --json writes them: without the export stamps. */
export function unstamped(r: Rec): string {
  const { sensor: _s, seq: _q, ...rest } = r;
  return JSON.stringify(rest);
}

/** Every record a collector wrote for a sensor, from all its files. */
export function collected(dir: string, sensor: string): Rec[] {
  const d = join(dir, sensor);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => parseLines(readFileSync(join(d, f), 'utf8')));
}

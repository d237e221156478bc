// A real mosquitto for the export tests: TLS on a free loopback port,
// client certificates required, the certificate's CN as the user name, and
// an ACL that lets a sensor publish only under otwatch/<its CN>/#.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Pki } from './pki.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface BrokerOptions {
  maxInflight?: number;
  maxQueued?: number;
  /** Readers (collectors) by CN. */
  readers?: string[];
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Run inside this network namespace. */
  netns?: string;
}

export class Broker {
  proc: ChildProcess | null = null;
  log = '';
  readonly conf: string;
  constructor(
    readonly dir: string,
    readonly port: number,
    pki: Pki,
    private readonly o: BrokerOptions = {},
  ) {
    mkdirSync(join(dir, 'data'), { recursive: true });
    const acl = ['pattern write otwatch/%u/#', ...(o.readers ?? ['collector']).flatMap((r) => ['', `user ${r}`, 'topic read otwatch/#'])];
    writeFileSync(join(dir, 'acl'), `${acl.join('\n')}\n`);
    this.conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      this.conf,
      [
        // As root mosquitto would switch to its own user, who cannot read the test's private temp dir.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        `listener ${port} ${o.host ?? '127.0.0.1'}`,
        `cafile ${pki.ca}`,
        `certfile ${pki.serverCert}`,
        `keyfile ${pki.serverKey}`,
        'require_certificate true',
        'use_identity_as_username true',
        `acl_file ${join(dir, 'acl')}`,
        'persistence true',
        `persistence_location ${join(dir, 'data')}/`,
        'autosave_interval 1',
        `max_inflight_messages ${o.maxInflight ?? 0}`,
        `max_queued_messages ${o.maxQueued ?? 0}`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        'log_type information',
        '',
      ].join('\n'),
    );
  }

  /** Starts mosquitto and resolves once it listens. */
  async start(): Promise<void> {
    const cmd = this.o.netns !== undefined ? ['ip', 'netns', 'exec', this.o.netns, 'mosquitto'] : ['mosquitto'];
    const p = spawn(cmd[0], [...cmd.slice(1), '-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    p.stderr!.on('data', (b: Buffer) => (this.log += b.toString()));
    const t0 = Date.now();
    const before = this.log.length;
    while (!/Opening ipv4 listen socket on port \d+/.test(this.log.slice(before)) || !/running/.test(this.log.slice(before))) {
      if (p.exitCode !== null) throw new Error(`mosquitto exited: ${this.log}`);
      if (Date.now() - t0 > 10_000) throw new Error(`mosquitto did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (mosquitto saves its persistent store) or SIGKILL. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await done;
    this.proc = null;
  }
}

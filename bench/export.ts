// `node dist/bench/export.js [--runs N] [--no-pdus] [--baseline FILE] CAPTURE...`: the
// cost of --export on `read --baseline --json --pdus`, against a local
// mosquitto with TLS and client certificates (made here with openssl), and
// the records/s the exporter sustains end to end (every record PUBACKed).
// Not part of the test suite; needs mosquitto and openssl.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker, freePort } from '../test/helpers/broker.js';
import { makePki } from '../test/helpers/pki.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Run {
  wall: number;
  processed: number;
  acked: number;
  code: number;
}

function run(args: string[]): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const processed = Number(/processed in ([\d.]+) s/.exec(r.stderr)?.[1] ?? NaN);
  const acked = Number((/([\d,]+) acknowledged/.exec(r.stderr)?.[1] ?? '0').replace(/,/g, ''));
  return { wall, processed, acked, code: r.status ?? -1 };
}

async function main(argv: string[]): Promise<void> {
  let runs = 3;
  let baseline: string | null = null;
  let pdus = true;
  const caps: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--baseline') baseline = argv[++i];
    else if (argv[i] === '--no-pdus')
      pdus = false; // detect mode: flows and alerts only
    else caps.push(argv[i]);
  }
  if (caps.length === 0) {
    process.stderr.write('usage: node dist/bench/export.js [--runs N] [--no-pdus] [--baseline FILE] CAPTURE...\n');
    process.exit(2);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'otwatch-bench-export-'));
  const pki = makePki(join(tmp, 'pki'));
  const port = await freePort();
  const broker = new Broker(join(tmp, 'broker'), port, pki);
  await broker.start();
  try {
    if (baseline === null) {
      baseline = join(tmp, 'plant.otb');
      spawnSync(process.execPath, [CLI, 'baseline', 'learn', join(ROOT, 'fixtures/pcaps/gen/plant-sample.pcap'), '-o', baseline]);
    }
    const c = pki.client('bench');
    for (const cap of caps) {
      const base = ['read', '--baseline', baseline, '--json', ...(pdus ? ['--pdus'] : []), cap];
      const plain: Run[] = [];
      const exp: Run[] = [];
      for (let i = 0; i < runs; i++) {
        plain.push(run(base));
        const st = join(tmp, `state-${i}`);
        exp.push(
          run([
            ...base,
            '--export',
            `mqtts://localhost:${port}`,
            '--export-ca',
            pki.ca,
            '--export-cert',
            c.cert,
            '--export-key',
            c.key,
            '--sensor-id',
            'bench',
            '--state',
            st,
            '--export-rate',
            '0',
            '--export-wait',
            '600',
          ]),
        );
        rmSync(st, { recursive: true, force: true });
      }
      const bad = exp.find((r) => r.code !== 0);
      if (bad !== undefined) throw new Error(`export run exited ${bad.code}`);
      const p = median(plain.map((r) => r.processed));
      const e = median(exp.map((r) => r.processed));
      const acked = exp[0].acked;
      const endToEnd = median(exp.map((r) => r.wall));
      process.stdout.write(
        `${cap}\n  read --json: processed in ${p.toFixed(2)} s (wall ${median(plain.map((r) => r.wall)).toFixed(2)} s)\n` +
          `  + --export:  processed in ${e.toFixed(2)} s (+${(((e - p) / p) * 100).toFixed(1)} %), all ${acked} records ` +
          `acknowledged after ${endToEnd.toFixed(2)} s wall: ` +
          `${Math.round(acked / endToEnd)} records/s end to end\n`,
      );
    }
  } finally {
    await broker.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`bench/export: ${e.message}\n`);
  process.exit(1);
});

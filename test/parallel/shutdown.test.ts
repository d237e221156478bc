// Shutdown and failure with --workers: a signal during a large read stops the
// reading, and every packet read until then still yields its records (the
// same as one engine reading exactly those packets); a worker that dies is
// reported with exit code 3, never a hang.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPcap, type Packet } from '../../tools/pcapgen/capture.js';
import { clock, modbusReads, tmpDir } from '../detect/helpers.js';
import { CLI } from '../helpers/run.js';
import { REPO } from '../helpers/shared.js';
import { byType, run } from './helpers.js';

let dir: string;
let packets: Packet[];
let big: string;

beforeAll(() => {
  dir = tmpDir('workers-stop');
  // 8000 Modbus/TCP connections one after the other (27 packets each: handshake,
  // ten reads, close) from 8000 client addresses: ~216 k packets, ~19 MB,
  // about 20 chunks of the reader.
  const c = clock();
  packets = [];
  for (let i = 0; i < 8000; i++) {
    const client = `10.${1 + (i >> 12)}.${(i >> 6) & 63}.${1 + (i & 63)}`;
    packets.push(...modbusReads(c, { client, server: `10.9.${i & 7}.1`, cport: 40000 + (i % 20000), sport: 502 }, 10));
  }
  big = join(dir, 'big.pcap');
  writeFileSync(big, toPcap(packets));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; on its first output, stops reading stdout (so it cannot run
 *  ahead) and sends `sig`; then reads everything to the end. */
function readAndSignal(args: string[], sig: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (d: string) => {
      stdout += d;
      child.stdout.pause();
      child.kill(sig);
      child.stdout.on('data', (e: string) => (stdout += e));
      child.stdout.resume();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('--workers: signals', () => {
  for (const [sig, n] of [
    ['SIGTERM', 2],
    ['SIGINT', 3],
  ] as const) {
    it(`${sig} during a large read with ${n} workers: every record of the packets read`, async () => {
      const r = await readAndSignal(['read', '--json', '--pdus', '--workers', String(n), big], sig);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`${sig}: stopping`);
      // The summary (stderr with --json) counts the packets read.
      const m = /, ([\d,]+) packets,/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      const read = Number(m![1].replace(/,/g, ''));
      expect(read).toBeGreaterThan(0);
      expect(read).toBeLessThan(packets.length); // the signal stopped the read
      // One engine on exactly those packets, to the end of its input.
      const prefix = join(dir, `prefix-${sig}.pcap`);
      writeFileSync(prefix, toPcap(packets.slice(0, read)));
      const ref = run(['read', '--json', '--pdus', '--workers', '1', prefix]);
      expect(ref.code).toBe(0);
      const got = r.stdout.split('\n').filter((l) => l !== '');
      // Flows still open when the run stops end as "shutdown" instead of "eof".
      expect(got.some((l) => l.includes('"end":"shutdown"'))).toBe(true);
      const normalized = got.map((l) => l.replace('"end":"shutdown"', '"end":"eof"')).sort();
      expect(byType(normalized)).toEqual(byType(ref.lines));
      expect(normalized).toEqual(ref.lines);
    }, 120_000);
  }
});

describe('--workers: a worker that fails', () => {
  it('is reported with exit code 3, not a hang, and what it sent before is written', () => {
    const r = run(['read', '--json', '--workers', '2', big], { OTWATCH_TEST_WORKER_CRASH: '1:50000' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/worker 1 failed: Error: injected crash in worker 1 at its packet 50000/);
    for (const l of r.lines) expect(() => JSON.parse(l)).not.toThrow(); // whole records only
  });

  it('on its first packet, with more workers, is reported the same way', () => {
    const r = run(['read', '--json', '--pdus', '--workers', '3', big], { OTWATCH_TEST_WORKER_CRASH: '0:1' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/worker 0 failed: Error: injected crash in worker 0 at its packet 1/);
  });
});

describe('--workers option', () => {
  it('must be a whole number from 1', () => {
    const r = run(['read', '--workers', '0', big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--workers needs a whole number from 1 to 64');
  });
});

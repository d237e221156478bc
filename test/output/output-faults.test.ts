// Output faults, injected for real: a full 64 KiB tmpfs, /dev/full as stdout,
// a pipe closed by `head -1`, a directory the user cannot write (as nobody),
// a path that can never be made, a baseline write killed with SIGKILL. Each
// is one line naming the output and the cause, never a "damaged" input or a
// stack trace, with the documented exit code, and no NDJSON file ends in a
// partial line.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPcap, type Packet } from '../../tools/pcapgen/capture.js';
import { clock, modbusReads, tmpDir } from '../detect/helpers.js';
import { CLI, runCli } from '../helpers/run.js';
import { REPO } from '../helpers/shared.js';

const isRoot = process.getuid?.() === 0;
let dir: string;
let big: string;

beforeAll(() => {
  dir = tmpDir('out-faults');
  chmodSync(dir, 0o755);
  // 1500 Modbus/TCP connections of ten reads: ~2.7 MB of --pdus records.
  const c = clock();
  const packets: Packet[] = [];
  for (let i = 0; i < 1500; i++) {
    packets.push(...modbusReads(c, { client: `10.1.${i >> 6}.${1 + (i & 63)}`, server: '10.9.0.1', cport: 40000 + i, sport: 502 }, 10));
  }
  big = join(dir, 'big.pcap');
  writeFileSync(big, toPcap(packets));
  chmodSync(big, 0o644);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every line of an NDJSON file is one complete JSON record. */
function completeLines(path: string): number {
  const text = readFileSync(path, 'utf8');
  if (text === '') return 0;
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  return lines.length;
}

function noBlame(stderr: string): void {
  expect(stderr).not.toMatch(/damaged|internal error|\n\s+at /);
}

describe('output faults', () => {
  it('stdout on /dev/full: one line naming <stdout> and the cause, exit 1', () => {
    for (const args of [['--json', '--pdus', big], [big]]) {
      const fd = openSync('/dev/full', 'w');
      const r = spawnSync(process.execPath, [CLI, 'read', ...args], { cwd: REPO, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      closeSync(fd);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('cannot write <stdout>: no space left on device (ENOSPC)');
      noBlame(r.stderr);
    }
  });

  it('a stdout closed by head -1 stops the run quietly with 141', () => {
    const script = `node ${CLI} read --json --pdus ${big} 2>${dir}/err.txt | head -1; echo "\${PIPESTATUS[0]}"`;
    const out = execFileSync('bash', ['-c', script], { cwd: REPO, encoding: 'utf8' }).split('\n');
    expect(JSON.parse(out[0]).type).toBe('pdu');
    expect(out[1]).toBe('141');
    expect(readFileSync(join(dir, 'err.txt'), 'utf8')).toBe('');
  });

  it('-w on a path that can never be made fails at once with exit 1', () => {
    const r = spawnSync(process.execPath, [CLI, 'read', '-w', '/proc/x/y', big], { cwd: REPO, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('otwatch: error: cannot create output directory /proc/x/y: /proc/x: no such file or directory (ENOENT)');
  });

  it('a leftover temp file of a baseline write killed by SIGKILL is removed at the next write', () => {
    const out = join(dir, 'kill.otb');
    const code = `import { saveBaseline } from '${REPO}/dist/src/detect/baseline-file.js';
      import { Baseline } from '${REPO}/dist/src/detect/baseline.js';
      saveBaseline(${JSON.stringify(out)}, new Baseline(), { midWrite: () => process.kill(process.pid, 'SIGKILL') });`;
    const k = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(k.signal).toBe('SIGKILL');
    const temps = () => readdirSync(dir).filter((n) => n.startsWith('.kill.otb.tmp-'));
    expect(temps()).toEqual([`.kill.otb.tmp-${k.pid}`]);
    const r = runCli(['baseline', 'learn', big, '-o', out]);
    expect(r.code).toBe(0);
    expect(temps()).toEqual([]);
    expect(existsSync(out)).toBe(true);
  });
});

// Mounting a tmpfs and switching user need root (CI runs as root).
if (isRoot) {
  describe('output faults needing root', () => {
    let full: string;
    beforeAll(() => {
      full = join(dir, 'full');
      mkdirSync(full);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    });
    afterAll(() => {
      execFileSync('umount', [full]);
    });

    it('-w on a full disk: one line naming the file, exit 1, no partial last line', () => {
      const out = join(full, 'out');
      const r = runCli(['read', '-w', out, '--pdus', big]);
      expect(r.code).toBe(1);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('otwatch: error'));
      const cause = 'no space left on device (ENOSPC); records after the last complete one are lost';
      expect(errors).toEqual([`otwatch: error: cannot write ${out}/pdus.ndjson: ${cause}`]);
      noBlame(r.stderr);
      expect(completeLines(join(out, 'pdus.ndjson'))).toBeGreaterThan(100);
      completeLines(join(out, 'flows.ndjson'));
      rmSync(out, { recursive: true });
    });

    it('baseline learn -o on a full disk: exit 1 with the cause, not a usage error', () => {
      writeFileSync(join(full, 'filler'), Buffer.alloc(60 * 1024));
      const r = runCli(['baseline', 'learn', big, '-o', join(full, 'plant.otb')]);
      rmSync(join(full, 'filler'));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot write baseline ${join(full, 'plant.otb')}: no space left on device (ENOSPC)`);
      expect(r.stderr).not.toContain('--help');
      expect(readdirSync(full)).toEqual([]);
    });

    it('an output directory the user cannot write: one line, exit 1', () => {
      const locked = join(dir, 'locked');
      mkdirSync(locked, { mode: 0o755 });
      const out = join(locked, 'out');
      const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];
      const r = spawnSync('setpriv', [...asNobody, process.execPath, CLI, 'read', '-w', out, big], { cwd: REPO, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(`otwatch: error: cannot create output directory ${out}: ${out}: permission denied (EACCES)`);
    });
  });
}

/** otwatch reading from a producer that writes `file` and then holds the
 *  pipe open, as `tcpdump -w -` on a quiet network does. */
function idlePipe(file: string, args: string[]) {
  const producer = spawn('sh', ['-c', `cat ${file}; exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const child = spawn(process.execPath, [CLI, 'read', ...args, '-'], { cwd: REPO, stdio: [producer.stdout, 'pipe', 'pipe'] });
  const r = { child, producer, stdout: '', stderr: '', exit: new Promise<number | null>((res) => child.on('exit', (c) => res(c))) };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (r.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (r.stderr += d));
  return r;
}

describe('signals', () => {
  let head: string;
  beforeAll(() => {
    // The start of the capture, cut inside a record: the cut one is never completed.
    head = join(dir, 'head.pcap');
    writeFileSync(head, readFileSync(big).subarray(0, 100_007));
  });

  for (const extra of [[], ['--workers', '2']]) {
    it(`SIGTERM while stdin is an open idle pipe: flows flushed at once, exit 0 ${extra.join(' ')}`, async () => {
      const r = idlePipe(head, ['--json', ...extra]);
      await new Promise((res) => setTimeout(res, 1500));
      const t0 = Date.now();
      r.child.kill('SIGTERM');
      const code = await r.exit;
      const ms = Date.now() - t0;
      r.producer.kill('SIGKILL');
      expect(code, r.stderr).toBe(0);
      expect(ms).toBeLessThan(2000);
      const flows = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(flows.length).toBeGreaterThan(10);
      expect(flows.filter((f) => f.end === 'shutdown').length).toBe(1);
      expect(r.stderr).toContain('SIGTERM: stopping; flushing open flows');
      noBlame(r.stderr);
    });
  }
});

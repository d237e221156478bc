// `otwatch live` on a real interface: each test makes its own network
// namespace with a veth pair, replays fixture captures into one end with
// tcpreplay and runs otwatch on the other end, then checks the records
// against `otwatch read` of the same captures. Needs root (CI runs as root);
// without it these tests fail with a message saying so.
//
// Traffic stays in the namespaces: the veth ends get no address and no route,
// IPv6 is off before they come up, and the fixtures' addresses are private or
// documentation ranges that nothing here routes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, fixture, runCli, type Rec } from '../helpers/run.js';

const namespaces: string[] = [];
const procs: ChildProcess[] = [];
const tmpDirs: string[] = [];
let nsCount = 0;

const REPLAY = 'otwr'; // tcpreplay's end
const SENSOR = 'otws'; // otwatch's end

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function nsx(ns: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, ...args]);
}

/** A namespace with a veth pair, both ends up, IPv6 off, no addresses. */
function makeNetns(): string {
  const ns = `otw-${process.pid}-${nsCount++}`;
  sh('ip', ['netns', 'add', ns]);
  namespaces.push(ns);
  // Off before any interface exists, so no link-local address, DAD or router solicitation is ever sent.
  nsx(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  addVeth(ns);
  return ns;
}

function addVeth(ns: string, replayEnd = REPLAY, sensorEnd = SENSOR): void {
  nsx(ns, ['ip', 'link', 'add', replayEnd, 'type', 'veth', 'peer', 'name', sensorEnd]);
  nsx(ns, ['sysctl', '-qw', `net.ipv6.conf.${replayEnd}.disable_ipv6=1`, `net.ipv6.conf.${sensorEnd}.disable_ipv6=1`]);
  nsx(ns, ['ip', 'link', 'set', replayEnd, 'up']);
  nsx(ns, ['ip', 'link', 'set', sensorEnd, 'up']);
}

/** Replays at top speed (unless `opts` say otherwise); returns packets sent. */
function replay(ns: string, files: string[], opts: string[] = ['-t'], iface = REPLAY): number {
  const out = nsx(ns, ['tcpreplay', '-q', ...opts, '-i', iface, ...files]);
  return Number(/Actual: (\d+) packets/.exec(out)?.[1] ?? -1);
}

/** The sensor end's counters, from `ip -s link`. */
function linkStats(ns: string): { rx: number; tx: number } {
  const j = JSON.parse(nsx(ns, ['ip', '-s', '-j', 'link', 'show', SENSOR])) as {
    stats64: { rx: { packets: number }; tx: { packets: number } };
  }[];
  return { rx: j[0].stats64.rx.packets, tx: j[0].stats64.tx.packets };
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Real and effective uid/gid of a process, from /proc. */
function ids(pid: number): { uids: number[]; gids: number[] } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const row = (k: string) =>
    /^(\w+):\s+(.*)$/m
      .exec(st.split('\n').find((l) => l.startsWith(`${k}:`)) ?? '')![2]
      .split(/\s+/)
      .map(Number);
  return { uids: row('Uid'), gids: row('Gid') };
}

/** Classic pcap, split into its header and records (for prefixes and halves). */
function pcapParts(path: string): { header: Buffer; records: Buffer[] } {
  const b = readFileSync(path);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${path}: expected a little-endian µs pcap`);
  const records: Buffer[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const n = 16 + b.readUInt32LE(o + 8);
    records.push(b.subarray(o, o + n));
    o += n;
  }
  return { header: b.subarray(0, 24), records };
}

function writePcap(header: Buffer, records: Buffer[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'otw-live-'));
  tmpDirs.push(dir);
  const p = join(dir, 'part.pcap');
  writeFileSync(p, Buffer.concat([header, ...records]));
  return p;
}

class LiveRun {
  readonly proc: ChildProcess;
  out = '';
  err = '';
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly ns: string,
    args: string[],
  ) {
    // `ip netns exec` execs node, so proc.pid is otwatch's pid.
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, 'live', '-i', SENSOR, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(this.proc);
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stdout!.on('data', (s: string) => (this.out += s));
    this.proc.stderr!.on('data', (s: string) => (this.err += s));
    this.exit = new Promise((res) => this.proc.on('close', (code, signal) => res({ code, signal })));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  records(): Rec[] {
    const end = this.out.lastIndexOf('\n');
    return end < 0
      ? []
      : this.out
          .slice(0, end)
          .split('\n')
          .map((l) => JSON.parse(l) as Rec);
  }

  stats(): Rec[] {
    return this.records().filter((r) => r.type === 'stats');
  }

  /** Packets decoded on all interfaces, from the last stats record. */
  decoded(): number {
    const s = this.stats();
    return s.length === 0 ? -1 : (s[s.length - 1].interfaces as Rec[]).reduce((n, i) => n + (i.decoded as number), 0);
  }

  /** Polls until cond() holds; generous, since CI machines are busy. */
  async until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (this.proc.exitCode !== null)
        throw new Error(`otwatch exited (${this.proc.exitCode}) while waiting for ${what}; stderr:\n${this.err}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; stderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  ready(): Promise<void> {
    return this.until(() => this.err.includes('capturing via'), 'the capture to start');
  }

  async stop(): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    this.proc.kill('SIGTERM');
    const r = await this.exit;
    return { code: r.code, ms: Date.now() - t0 };
  }
}

/** Sockets of these pids in the namespace, from `ss -l -n -p` (every family). */
function listening(ns: string, pids: number[]): string[] {
  const out = nsx(ns, ['ss', '-H', '-l', '-n', '-p', '-A', 'all']);
  return out.split('\n').filter((l) => pids.some((p) => l.includes(`pid=${p},`)));
}

/** Flow and PDU records without what differs between a capture and its
 *  replay: capture times, and eof (end of file) vs shutdown (SIGTERM). */
function normal(records: Rec[]): string[] {
  return records
    .filter((r) => r.type === 'flow' || r.type === 'pdu')
    .map((r) => {
      const { ts: _t, end_ts: _e, ...rest } = r;
      if (rest.end === 'eof') rest.end = 'shutdown';
      return JSON.stringify(rest);
    })
    .sort();
}

function readRecords(files: string[], extra: string[] = []): Rec[] {
  const recs: Rec[] = [];
  for (const f of files) {
    const r = runCli(['read', '--json', '-q', ...extra, f]);
    expect(r.code, r.stderr).toBe(0);
    for (const l of r.stdout.trim().split('\n')) if (l !== '') recs.push(JSON.parse(l) as Rec);
  }
  return recs;
}

beforeAll(() => {
  if (process.getuid?.() !== 0) {
    throw new Error('live capture tests need root (network namespaces, veth, tcpreplay): run the suite as root, as CI does');
  }
  for (const tool of ['ip', 'tcpreplay', 'tcpdump', 'ss']) {
    try {
      sh('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`live capture tests need ${tool}: run scripts/setup.sh as root`);
    }
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: build first (npx tsc -p tsconfig.json)`);
});

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const ns of namespaces) {
    // Anything still running in our namespace (a tcpdump left by a failed test) is ours.
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  }
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

const FIXTURES = [
  'plant-sample.pcap',
  'tcp-events.pcap',
  'basic-us-le.pcap',
  'link-vlan100.pcap',
  'link-qinq-88a8.pcap',
  'ipv6-exthdr.pcap',
].map((f) => fixture('gen', f));

describe('otwatch live (tcpdump path)', () => {
  it('gives the records of `otwatch read` for replayed captures, transmits nothing, listens on nothing', async () => {
    const ns = makeNetns();
    const run = new LiveRun(ns, ['--json', '--pdus', '--stats-interval', '0.5']);
    await run.ready();
    const before = linkStats(ns);
    const tcpdump = children(run.pid);
    expect(tcpdump.length).toBe(1);
    // Only tcpdump's packet socket (receive side of the capture); no LISTEN, nothing of node's own.
    let socks = listening(ns, [run.pid, ...tcpdump]);
    expect(socks.length).toBe(1);
    expect(socks[0]).toMatch(/^p_raw\s+UNCONN\b/);
    expect(socks[0]).toContain(`pid=${tcpdump[0]},`);

    let sent = 0;
    for (const f of FIXTURES) sent += replay(ns, [f]);
    const expected = FIXTURES.reduce((n, f) => n + pcapParts(f).records.length, 0);
    expect(sent).toBe(expected);
    await run.until(() => run.decoded() >= sent, `${sent} packets decoded`);
    socks = listening(ns, [run.pid, ...tcpdump]);
    expect(socks.length).toBe(1);
    expect(socks[0]).toMatch(/^p_raw\s/);

    const { code, ms } = await run.stop();
    expect(code, run.err).toBe(0);
    expect(ms).toBeLessThan(10_000);
    const after = linkStats(ns);
    expect(after.tx - before.tx).toBe(0);
    expect(after.tx).toBe(0);
    expect(after.rx - before.rx).toBe(sent);

    const live = run.records();
    expect(normal(live)).toEqual(normal(readRecords(FIXTURES, ['--pdus'])));
    // Live records carry capture time: today, not the fixtures' 2023.
    const flows = live.filter((r) => r.type === 'flow');
    expect(flows.length).toBeGreaterThan(5);
    for (const r of flows) expect(Math.abs(r.ts - Date.now() / 1000)).toBeLessThan(600);

    const stats = run.stats();
    expect(stats.filter((s) => s.final === false).length).toBeGreaterThan(0);
    const fin = stats.filter((s) => s.final === true);
    expect(fin.length).toBe(1);
    expect(stats[stats.length - 1]).toBe(fin[0]);
    const ifs = fin[0].interfaces[0];
    expect(ifs).toMatchObject({ name: SENSOR, received: sent, dropped_kernel: 0, captured: sent, decoded: sent, restarts: 0 });
    expect(fin[0].packets).toBe(sent);
    expect(fin[0].flows_open).toBe(0);
    expect(fin[0].flows).toBe(flows.length);
    // tcpdump left with otwatch.
    for (const p of tcpdump) expect(existsSync(`/proc/${p}`)).toBe(false);
  });

  it('on SIGTERM mid-stream ends every open flow ("shutdown") with what was decoded so far', async () => {
    const ns = makeNetns();
    const file = fixture('gen', 'plant-sample.pcap');
    const run = new LiveRun(ns, ['--json', '--stats-interval', '0.25']);
    await run.ready();
    // Original timing at 2x (13 s of capture in 6.5 s): SIGTERM arrives while flows are open.
    const replaying = spawn('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '-x', '2', '-i', REPLAY, file], { stdio: 'ignore' });
    procs.push(replaying);
    await run.until(() => run.decoded() >= 30, '30 packets decoded');
    const { code, ms } = await run.stop();
    expect(code, run.err).toBe(0);
    expect(ms).toBeLessThan(10_000);
    replaying.kill('SIGKILL');

    const fin = run.stats().find((s) => s.final === true)!;
    const n = fin.interfaces[0].decoded as number;
    const { header, records } = pcapParts(file);
    expect(n).toBeGreaterThanOrEqual(30);
    expect(n).toBeLessThan(records.length);
    const flows = run.records().filter((r) => r.type === 'flow');
    expect(flows.some((f) => f.end === 'shutdown')).toBe(true);
    // Every decoded packet is in a flow record: the same records as reading the first n packets.
    expect(normal(flows)).toEqual(normal(readRecords([writePcap(header, records.slice(0, n))])));
    expect(linkStats(ns).tx).toBe(0);
  });

  it('--user nobody: otwatch and tcpdump run without root once the device is open, and still capture', async () => {
    const ns = makeNetns();
    const nobody = Number(sh('id', ['-u', 'nobody']).trim());
    const nogroup = Number(sh('id', ['-g', 'nobody']).trim());
    expect(nobody).not.toBe(0);
    const run = new LiveRun(ns, ['--json', '--user', 'nobody', '--stats-interval', '0.5']);
    await run.ready();
    const self = ids(run.pid);
    expect(self.uids).toEqual([nobody, nobody, nobody, nobody]); // real, effective, saved, fs
    expect(self.gids).toEqual([nogroup, nogroup, nogroup, nogroup]);
    const tcpdump = children(run.pid);
    expect(tcpdump.length).toBe(1);
    expect(ids(tcpdump[0]).uids).toEqual([nobody, nobody, nobody, nobody]);

    const file = fixture('gen', 'basic-us-le.pcap');
    const sent = replay(ns, [file]);
    await run.until(() => run.decoded() >= sent, `${sent} packets decoded`);
    const { code } = await run.stop();
    expect(code, run.err).toBe(0);
    expect(normal(run.records())).toEqual(normal(readRecords([file])));
  });

  it('reports an interface that disappears, reopens it with --retry, and keeps flow state across the gap', async () => {
    const ns = makeNetns();
    const file = fixture('gen', 'plant-sample.pcap');
    const { header, records } = pcapParts(file);
    const half = 50;
    const run = new LiveRun(ns, ['--json', '--retry', '--stats-interval', '0.25']);
    await run.ready();
    const first = replay(ns, [writePcap(header, records.slice(0, half))]);
    await run.until(() => run.decoded() >= first, 'the first half decoded');

    nsx(ns, ['ip', 'link', 'del', REPLAY]); // takes its peer, the sensor end, with it
    await run.until(() => /otws: capture stopped: .*(disappeared|went down).*retrying in 1 s/.test(run.err), 'the error and the retry');
    addVeth(ns);
    await run.until(() => run.err.includes('otws: capturing again'), 'the capture to reopen');
    const second = replay(ns, [writePcap(header, records.slice(half))]);
    await run.until(() => run.decoded() >= first + second, 'the second half decoded');

    const { code } = await run.stop();
    expect(code, run.err).toBe(0);
    const fin = run.stats().find((s) => s.final === true)!;
    expect(fin.interfaces[0]).toMatchObject({ restarts: 1, decoded: records.length, dropped_kernel: 0 });
    // Flows that spanned the outage are whole: the same records as reading the whole file.
    expect(normal(run.records())).toEqual(normal(readRecords([file])));
  });

  it('without --retry a missing interface is a clear error and exit status 1', async () => {
    const ns = makeNetns();
    nsx(ns, ['ip', 'link', 'del', REPLAY]);
    const run = new LiveRun(ns, ['--json']);
    const r = await run.exit;
    expect(r.code).toBe(1);
    expect(run.err).toMatch(/otws: cannot capture: .*No such device/);
  }, 20_000);

  it('SIGHUP reopens output files (logrotate), -w writes stats.ndjson', async () => {
    const ns = makeNetns();
    const dir = mkdtempSync(join(tmpdir(), 'otw-live-'));
    tmpDirs.push(dir);
    const run = new LiveRun(ns, ['-w', dir, '--stats-interval', '0.2']);
    await run.ready();
    const stats = join(dir, 'stats.ndjson');
    await run.until(() => existsSync(stats) && readFileSync(stats, 'utf8').length > 0, 'stats.ndjson');
    renameSync(stats, `${stats}.1`);
    const moved = readFileSync(`${stats}.1`, 'utf8').length;
    run.proc.kill('SIGHUP');
    await run.until(() => existsSync(stats) && readFileSync(stats, 'utf8').length > 0, 'a new stats.ndjson after SIGHUP');
    const { code } = await run.stop();
    expect(code, run.err).toBe(0);
    // The moved file got no more than what was buffered at the HUP; the final record is in the new one.
    const old = readFileSync(`${stats}.1`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    const cur = readFileSync(stats, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
    expect(old.length).toBeGreaterThan(0);
    expect(old.every((r) => r.final === false)).toBe(true);
    expect(cur[cur.length - 1].final).toBe(true);
    expect(moved).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(['stats.ndjson', 'stats.ndjson.1']);
  });
});

describe('otwatch live: kernel counters and several interfaces', () => {
  it('reports kernel drops while the capture is stalled, in stats records and a warning', async () => {
    const ns = makeNetns();
    // A 64 KiB buffer and a stopped tcpdump: the kernel must drop.
    const run = new LiveRun(ns, ['--json', '--stats-interval', '0.25', '--buffer-mb', '0.0625']);
    await run.ready();
    const [tcpdump] = children(run.pid);
    process.kill(tcpdump, 'SIGSTOP');
    let sent: number;
    try {
      sent = replay(ns, [fixture('gen', 'plant-sample.pcap')], ['-t', '--loop', '200']);
    } finally {
      process.kill(tcpdump, 'SIGCONT');
    }
    expect(sent).toBe(106 * 200);
    await run.until(
      () =>
        run.stats().some((s) => s.interfaces[0].dropped_kernel > 0 && s.interfaces[0].decoded + s.interfaces[0].dropped_kernel === sent),
      'the drops reported',
    );
    const { code } = await run.stop();
    expect(code, run.err).toBe(0);
    const fin = run.stats().find((s) => s.final === true)!.interfaces[0];
    expect(fin.received).toBe(sent); // "received by filter" counts what was then dropped
    expect(fin.dropped_kernel).toBeGreaterThan(0);
    expect(fin.decoded + fin.dropped_kernel).toBe(sent);
    expect(fin.captured).toBe(fin.decoded);
    expect(run.err).toMatch(/otws: the kernel dropped \d+ packets since the last report/);
  });

  it('captures on several interfaces at once (-i a -i b)', async () => {
    const ns = makeNetns();
    addVeth(ns, 'otwr2', 'otws2');
    const a = fixture('gen', 'plant-sample.pcap');
    const b = fixture('gen', 'tcp-events.pcap');
    const run = new LiveRun(ns, ['-i', 'otws2', '--json', '--pdus', '--stats-interval', '0.25']);
    await run.ready();
    await run.until(() => (run.err.match(/capturing via/g) ?? []).length === 2, 'both interfaces');
    const sent = replay(ns, [a]) + replay(ns, [b], ['-t'], 'otwr2');
    await run.until(() => run.decoded() >= sent, `${sent} packets decoded`);
    const { code } = await run.stop();
    expect(code, run.err).toBe(0);
    expect(normal(run.records())).toEqual(normal(readRecords([a, b], ['--pdus'])));
    const fin = run.stats().find((s) => s.final === true)!;
    expect((fin.interfaces as Rec[]).map((i) => [i.name, i.decoded])).toEqual([
      [SENSOR, 106],
      ['otws2', 23],
    ]);
  });
});

describe('otwatch live --capture cap', () => {
  it('gives the flows of `otwatch read` (wall-clock times), transmits nothing, holds only its packet socket', async () => {
    const ns = makeNetns();
    const file = fixture('gen', 'plant-sample.pcap');
    const run = new LiveRun(ns, ['--json', '--capture', 'cap', '--stats-interval', '0.25']);
    await run.ready();
    expect(children(run.pid)).toEqual([]); // in-process: no child
    const socks = listening(ns, [run.pid]);
    expect(socks.length).toBe(1);
    expect(socks[0]).toMatch(/^p_raw\s+UNCONN\b/);
    const sent = replay(ns, [file]);
    await run.until(() => run.decoded() >= sent, `${sent} packets decoded`);
    const { code } = await run.stop();
    expect(code, run.err).toBe(0);
    expect(normal(run.records())).toEqual(normal(readRecords([file])));
    expect(linkStats(ns).tx).toBe(0);
    const fin = run.stats().find((s) => s.final === true)!;
    // cap has no kernel counters.
    expect(fin.interfaces[0]).toMatchObject({ received: null, dropped_kernel: null, decoded: sent });
  });
});

describe('otwatch live: a full output disk', () => {
  it('keeps capturing, counts what it could not write in stats and the summary, warns once, resumes when space returns', async () => {
    const ns = makeNetns();
    const dir = mkdtempSync(join(tmpdir(), 'otw-live-'));
    tmpDirs.push(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      // Room for a few kB only: the first replay's PDU records fill it.
      const filler = join(dir, 'filler');
      writeFileSync(filler, Buffer.alloc(52 * 1024));
      const out = join(dir, 'out');
      const run = new LiveRun(ns, ['--json', '--pdus', '-w', out, '--stats-interval', '0.3']);
      await run.ready();
      const file = fixture('gen', 'plant-sample.pcap');
      let sent = replay(ns, [file]) + replay(ns, [file]);
      await run.until(() => run.decoded() >= sent && run.stats().some((s) => s.records_unwritten > 0), 'records counted as not written');
      // Still capturing and decoding while the disk is full.
      sent += replay(ns, [file]);
      await run.until(() => run.decoded() >= sent, 'packets decoded on a full disk');
      expect(run.err.match(/no space left on device/g)?.length).toBe(1);
      // Space returns: files are opened again (after 10 s) and written.
      rmSync(filler);
      const pdus = join(out, 'pdus.ndjson');
      const before = readFileSync(pdus, 'utf8').length;
      await new Promise((r) => setTimeout(r, 10_500));
      sent += replay(ns, [file]);
      await run.until(() => run.decoded() >= sent, 'packets decoded after space returned');
      const { code } = await run.stop();
      expect(code, run.err).toBe(0);
      expect(readFileSync(pdus, 'utf8').length).toBeGreaterThan(before);
      const fin = run.stats().find((s) => s.final === true)!;
      expect(fin.records_unwritten).toBeGreaterThan(0);
      expect(run.err).toContain(`records not written (output full or failing): ${fin.records_unwritten}`);
      // No file ends in a partial record.
      for (const n of readdirSync(out)) {
        const text = readFileSync(join(out, n), 'utf8');
        expect(text === '' || text.endsWith('\n'), n).toBe(true);
        for (const l of text.split('\n').filter(Boolean)) JSON.parse(l);
      }
    } finally {
      execFileSync('umount', [dir]);
    }
  }, 60_000);
});

describe('otwatch live: a second signal', () => {
  it('while the capture is slow to stop: leaves at once (130) with every open flow written ("shutdown")', async () => {
    const ns = makeNetns();
    const file = fixture('gen', 'plant-sample.pcap');
    const run = new LiveRun(ns, ['--json', '--stats-interval', '0.25']);
    await run.ready();
    const replaying = spawn('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '-x', '2', '-i', REPLAY, file], { stdio: 'ignore' });
    procs.push(replaying);
    await run.until(() => run.decoded() >= 30, '30 packets decoded');
    // A stopped tcpdump cannot exit: the first SIGTERM waits for it (up to 4 s, then SIGKILL).
    const [tcpdump] = children(run.pid);
    process.kill(tcpdump, 'SIGSTOP');
    const t0 = Date.now();
    run.proc.kill('SIGTERM');
    await run.until(() => run.err.includes('SIGTERM: stopping'), 'the first signal');
    run.proc.kill('SIGTERM');
    const { code } = await run.exit;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(code, run.err).toBe(130);
    replaying.kill('SIGKILL');
    expect(run.err).toContain('SIGTERM again: leaving now; records already decoded are written');
    const flows = run.records().filter((r) => r.type === 'flow');
    expect(flows.length).toBeGreaterThan(0);
    expect(flows.some((f) => f.end === 'shutdown')).toBe(true);
    expect(run.out.endsWith('\n')).toBe(true);
  });
});

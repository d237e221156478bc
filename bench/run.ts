// `npm run bench`: otwatch read against tcpdump, ndpiReader and tshark on a
// large mixed ICS capture, plus a memory benchmark on a 1 M-flow SYN scan.
// Not part of the test suite. See bench/README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker, type Broker } from './broker.js';
import { buildMixed, buildPcapng, buildScan, buildShifted, buildSlice, type CaptureInfo, type Mix } from './capture.js';
import { hasGnuTime, median, runMeasured, which, type RunResult } from './measure.js';
import { selfTimes } from './profile.js';
import { barChart, fmtRate, type Bar } from './svg.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const WORK = join(ROOT, 'bench', 'work');
const RESULTS = join(ROOT, 'bench', 'results');

interface Args {
  quick: boolean;
  runs: number;
  tsharkRuns: number;
  packets: number;
  scanFlows: number;
  tsharkSlice: number;
  only: Set<string> | null;
  memory: boolean;
  peers: boolean;
  profile: boolean;
  profileOnly: boolean;
  rebuild: boolean;
  install: boolean;
  /** Also time each otwatch mode on the capture followed by itself a day later. */
  warm: boolean;
  /** Seconds to wait for a quiet machine before timing (0: don't). */
  waitIdle: number;
  /** Another checkout (built) whose otwatch modes are timed in the same rounds, as `<mode>@ref`. */
  ref: string | null;
  /** Which traffic classes the mixed capture has (see bench/capture.ts). */
  mix: Mix;
}

const USAGE = `usage: node dist/bench/run.js [options]   (npm run bench -- [options])
  --quick             200 k-packet capture, 2 runs, 200 k-flow scan: a sanity check in under a minute
  --runs N            timed runs per mode (default 5; tshark 3)
  --packets N         size of the mixed capture (default 2000000)
  --scan-flows N      flows in the memory-benchmark scan (default 1000000)
  --tshark-slice N    packets tshark reads (default 100000)
  --only LIST         modes to run, e.g. tcpdump,flows,dissect (default all)
  --no-memory         skip the memory benchmark
  --no-peers          skip ndpiReader and tshark (tcpdump always runs: ratios need it)
  --profile           also profile the default mode once (node --cpu-prof), whole run and warm pass, and list self time
  --profile-only      only build the capture and profile
  --no-install        do not apt-get install libndpi-bin when ndpiReader is missing
  --rebuild           rebuild the cached captures in bench/work/
  --no-warm           skip the warm (second-pass) timings, which double the run time
  --wait-idle SEC     before timing, wait up to SEC seconds for the 1-min load average to drop below half the CPUs
  --ref DIR           also time the otwatch modes with the build in DIR (another checkout, e.g. a git worktree of the
                      commit before a change, built with 'npm run build'), interleaved in the same rounds as '<mode>@ref':
                      a change's cost as a ratio measured in one run
  --mix all|classic   the mixed capture's traffic classes: all (default), or classic = without the EtherNet/IP and
                      S7comm captures (the mix before those protocols were decoded)`;

function parseArgs(argv: string[]): Args {
  const a: Args = {
    quick: false,
    runs: 5,
    tsharkRuns: 3,
    packets: 2_000_000,
    scanFlows: 1_000_000,
    tsharkSlice: 100_000,
    only: null,
    memory: true,
    peers: true,
    profile: false,
    profileOnly: false,
    rebuild: false,
    install: true,
    waitIdle: 0,
    warm: true,
    ref: null,
    mix: 'all',
  };
  const num = (v: string | undefined, name: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      process.stderr.write(`bench: ${name} needs a positive integer\n${USAGE}\n`);
      process.exit(2);
    }
    return n;
  };
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    switch (k) {
      case '--quick':
        a.quick = true;
        break;
      case '--runs':
        a.runs = num(argv[++i], k);
        explicit.add('runs');
        break;
      case '--packets':
        a.packets = num(argv[++i], k);
        explicit.add('packets');
        break;
      case '--scan-flows':
        a.scanFlows = num(argv[++i], k);
        explicit.add('scan');
        break;
      case '--tshark-slice':
        a.tsharkSlice = num(argv[++i], k);
        explicit.add('slice');
        break;
      case '--only':
        a.only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
        break;
      case '--no-memory':
        a.memory = false;
        break;
      case '--no-peers':
        a.peers = false;
        break;
      case '--no-warm':
        a.warm = false;
        break;
      case '--profile':
        a.profile = true;
        break;
      case '--profile-only':
        a.profile = a.profileOnly = true;
        break;
      case '--no-install':
        a.install = false;
        break;
      case '--rebuild':
        a.rebuild = true;
        break;
      case '--wait-idle':
        a.waitIdle = num(argv[++i], k);
        break;
      case '--ref':
        a.ref = argv[++i] ?? null;
        break;
      case '--mix': {
        const m = argv[++i];
        if (m !== 'all' && m !== 'classic') {
          process.stderr.write(`bench: --mix takes all or classic\n${USAGE}\n`);
          process.exit(2);
        }
        a.mix = m;
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        process.stderr.write(`bench: unknown option ${k}\n${USAGE}\n`);
        process.exit(2);
    }
  }
  if (a.quick) {
    if (!explicit.has('runs')) a.runs = 2;
    if (!explicit.has('packets')) a.packets = 200_000;
    if (!explicit.has('scan')) a.scanFlows = 200_000;
    if (!explicit.has('slice')) a.tsharkSlice = 10_000;
  }
  a.tsharkRuns = Math.min(a.runs, a.quick ? 1 : 3);
  return a;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

interface Mode {
  name: string;
  kind: 'otwatch' | 'peer';
  about: string;
  cmd: string;
  args: string[];
  /** Packets and bytes the command reads (a slice for tshark). */
  packets: number;
  bytes: number;
  runs: number;
  stdoutTo?: string;
  /** The same command reading the capture and then its next-day copy. */
  warmArgs?: string[];
}

interface ModeResult {
  name: string;
  kind: 'otwatch' | 'peer';
  about: string;
  command: string;
  packets: number;
  bytes: number;
  wallSec: number[];
  cpuSec: number[];
  maxRssKb: number[];
  failures: { code: number | null; signal: string | null; stderr: string }[];
  /** Lines in the files -w wrote on the last run (flows.ndjson, alerts.ndjson, ...). */
  written?: Record<string, number>;
  medianSec?: number;
  pktPerSec?: number;
  /** From the fastest run: on a shared machine the least disturbed one. */
  bestPktPerSec?: number;
  mbPerSec?: number;
  ratioTcpdump?: number;
  /** Median over rounds of (tcpdump time / this time) in the same round. */
  ratioTcpdumpPaired?: number;
  medianCpuSec?: number;
  maxRssMb?: number;
  /** Warm runs (capture, then its next-day copy): wall seconds; the second
   *  input's time from otwatch's own summary (single-threaded runs time each
   *  input); and per round warm wall minus the plain run of the same round
   *  (an estimate of the second pass for every mode, noisier). */
  warmWallSec?: number[];
  warmInputSec?: number[];
  warmPassSec?: number[];
  /** Packets / median second pass (the summary's time when there is one,
   *  else the difference): throughput once the code is compiled. */
  warmPktPerSec?: number;
  warmFrom?: 'summary' | 'difference';
  /** Packets / median difference, for every mode (compares workers with one thread). */
  warmDiffPktPerSec?: number;
  warmRatioTcpdump?: number;
}

function gitInfo(): { sha: string; dirty: boolean } {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    // The bench's own output (bench/results, e.g. latest.svg of the run before) does not make the code dirty.
    const st = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return { sha, dirty: st.trim().length > 0 };
  } catch {
    return { sha: 'nogit', dirty: false };
  }
}

function firstLine(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim().length > 0);
  return text ? text.trim() : null;
}

function ensureNdpi(args: Args): string | null {
  let p = which('ndpiReader');
  if (p !== null || !args.install) return p;
  if (process.getuid?.() !== 0 || which('apt-get') === null) return null;
  log('ndpiReader missing: apt-get install -y libndpi-bin ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'libndpi-bin'], { env, encoding: 'utf8', timeout: 600000 });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, encoding: 'utf8', timeout: 600000 });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'libndpi-bin'], { env, encoding: 'utf8', timeout: 600000 });
  }
  p = which('ndpiReader');
  if (p === null) log(`apt-get failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`);
  return p;
}

/** Long options `otwatch read --help` lists. */
function readFlags(cli = CLI): Set<string> {
  const r = spawnSync(process.execPath, [cli, 'read', '--help'], { encoding: 'utf8' });
  return new Set([...(r.stdout ?? '').matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
}

/** Seconds otwatch's summary gives for one input ("  processed in 1.23 s: PATH, ..."), or null. */
function inputSeconds(text: string, path: string): number | null {
  for (const line of text.split('\n')) {
    const m = /^ {2}processed in ([\d.]+) s: (.*), [\d,]+ packets/.exec(line);
    if (m !== null && m[2] === path) return Number(m[1]);
  }
  return null;
}

/** Parses the human summary (`otwatch read` without -q) for flows and PDUs. */
function parseSummary(text: string): { flows: number | null; pdus: number | null; apps: string | null } {
  const num = (s: string | undefined) => (s === undefined ? null : Number(s.replace(/,/g, '')));
  const f = /flows ([\d,]+)/.exec(text);
  const p = /application PDUs ([\d,]+)/.exec(text);
  const a = /flows by application: (.*)/.exec(text);
  return { flows: num(f?.[1]), pdus: num(p?.[1]), apps: a?.[1]?.trim() ?? null };
}

function countLines(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.endsWith('.ndjson')) continue;
    const b = readFileSync(join(dir, n));
    let c = 0;
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) c++;
    out[n] = c;
  }
  return out;
}

function warmCache(path: string): void {
  const fd = openSync(path, 'r');
  const b = Buffer.allocUnsafe(8 << 20);
  while (readSync(fd, b, 0, b.length, null) > 0);
  closeSync(fd);
}

async function waitIdle(maxSec: number): Promise<void> {
  const limit = cpus().length * 0.5;
  const until = Date.now() + maxSec * 1000;
  let said = false;
  while (loadavg()[0]! > limit && Date.now() < until) {
    if (!said) log(`waiting up to ${maxSec} s for load ${loadavg()[0]!.toFixed(2)} to drop below ${limit} ...`);
    said = true;
    await new Promise((r) => setTimeout(r, 5000));
  }
  if (said) log(`load now ${loadavg()[0]!.toFixed(2)}`);
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function fmtSec(s: number | undefined): string {
  return s === undefined || !Number.isFinite(s) ? '-' : s < 10 ? s.toFixed(3) : s.toFixed(1);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) {
    log(`bench: ${relative(ROOT, CLI)} missing: run 'npm run build' first (npm run bench does)`);
    return 2;
  }
  mkdirSync(WORK, { recursive: true });
  const started = new Date();
  const git = gitInfo();
  const load0 = loadavg();

  const cap = buildMixed(ROOT, WORK, args.packets, log, args.rebuild, args.mix);
  const capMB = cap.bytes / 1e6;
  log(
    `capture: ${relative(ROOT, cap.path)}: ${cap.packets.toLocaleString('en')} packets, ${capMB.toFixed(1)} MB, ${cap.flows.toLocaleString('en')} flows, ${(cap.spanSec / 60).toFixed(0)} min of capture time`,
  );
  log(
    `  classes: ${Object.entries(cap.classes)
      .map(([c, v]) => `${c} ${v.packets.toLocaleString('en')} pkts (${v.files} files, ${v.copies} copies)`)
      .join('; ')}`,
  );
  if (cap.sources.shared === 0) log('  note: ../shared/pcaps not found: built from fixtures/pcaps and synthetic traffic only');
  warmCache(cap.path);

  const outDir = (m: string) => join(WORK, 'out', m);
  const flags = readFlags();
  // A 2 M-packet run spends a good part of its time before V8 has compiled
  // the hot code (measured: the second of two identical 1 M-packet halves
  // takes under half the time of the first). A sensor runs for months, so
  // each otwatch mode is also timed on the capture followed by its next-day
  // copy; the difference is the steady-state cost of one pass.
  const next = args.warm ? buildShifted(cap, WORK, log) : null;
  const otw = (name: string, about: string, extra: string[], stdoutTo?: string): Mode => ({
    name,
    kind: 'otwatch',
    about,
    cmd: process.execPath,
    args: [CLI, 'read', '-q', ...extra, cap.path],
    packets: cap.packets,
    bytes: cap.bytes,
    runs: args.runs,
    stdoutTo,
    // Without -q: the summary times each input (single-threaded runs).
    warmArgs:
      next === null ? undefined : [CLI, 'read', ...extra.map((a, i) => (extra[i - 1] === '-w' ? `${a}-warm` : a)), cap.path, next.path],
  });

  const modes: Mode[] = [];
  const skipped: { name: string; reason: string }[] = [];
  const want = (n: string) => args.only === null || args.only.has(n) || n === 'tcpdump';

  const prof: { out: ReturnType<typeof selfTimes> | null; warm: ReturnType<typeof selfTimes> | null } = { out: null, warm: null };
  const printProfile = (title: string, p: ReturnType<typeof selfTimes>, pf: string) => {
    process.stdout.write(`\n${title} (${p.totalMs.toFixed(0)} ms sampled): top self time\n`);
    for (const row of p.rows.slice(0, 15)) {
      process.stdout.write(
        `  ${pad(row.selfMs.toFixed(0), 7, true)} ms ${pad(row.pct.toFixed(1), 5, true)}%  ${pad(row.name, 34)} ${row.where}\n`,
      );
    }
    process.stdout.write(`  profile: ${relative(ROOT, pf)} (open in Chrome DevTools > Performance)\n`);
  };
  const profile = async () => {
    const dir = join(WORK, 'prof');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log('profiling the default mode (node --cpu-prof) ...');
    warmCache(cap.path);
    const r = await runMeasured(process.execPath, [
      '--cpu-prof',
      '--cpu-prof-dir',
      dir,
      '--cpu-prof-name',
      'default.cpuprofile',
      CLI,
      'read',
      '-q',
      '-w',
      outDir('profile'),
      cap.path,
    ]);
    const pf = join(dir, 'default.cpuprofile');
    if (!existsSync(pf)) {
      log(`profile failed (exit ${r.code}): ${r.stderrTail.trim()}`);
      return;
    }
    prof.out = selfTimes(pf, ROOT);
    printProfile(`CPU profile of 'otwatch read -q -w DIR' (${fmtSec(r.wallSec)} s wall)`, prof.out, pf);
    if (next === null) return;
    // The warm pass: the capture, then its next-day copy; self time of the
    // second input only (what a long-running sensor spends its time on):
    // the summary's time for it, before the final flush of open flows.
    log('profiling the warm pass ...');
    warmCache(cap.path);
    warmCache(next.path);
    const wr = await runMeasured(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-dir',
        dir,
        '--cpu-prof-name',
        'warm.cpuprofile',
        CLI,
        'read',
        '-w',
        outDir('profile-warm'),
        cap.path,
        next.path,
      ],
      { countStdout: {} },
    );
    const wf = join(dir, 'warm.cpuprofile');
    const summary = `${wr.stdoutTail ?? ''}\n${wr.stderrTail}`;
    const first = inputSeconds(summary, cap.path);
    const second = inputSeconds(summary, next.path);
    if (!existsSync(wf) || first === null || second === null) {
      log(`warm profile failed (exit ${wr.code}): ${wr.stderrTail.trim()}`);
      return;
    }
    prof.warm = selfTimes(wf, ROOT, { startFn: 'pcapRecords', skipMs: first * 1000, lenMs: second * 1000, endFn: 'flushAll' });
    printProfile(`CPU profile of the warm pass ('otwatch read -w DIR FILE NEXTDAY', second input, ${fmtSec(second)} s)`, prof.warm, wf);
  };
  if (args.profileOnly) {
    await profile();
    return 0;
  }

  // tcpdump first in every round: every ratio uses a tcpdump time from the same round.
  const tcpdump = which('tcpdump');
  if (tcpdump === null) {
    log('bench: tcpdump not found (apt-get install tcpdump): ratios need it');
    return 2;
  }
  modes.push({
    name: 'tcpdump',
    kind: 'peer',
    about: 'tcpdump -r FILE -w /dev/null',
    cmd: tcpdump,
    args: ['-r', cap.path, '-w', '/dev/null'],
    packets: cap.packets,
    bytes: cap.bytes,
    runs: args.runs,
  });
  if (want('flows')) {
    if (flags.has('no-dissect'))
      modes.push(otw('flows', 'otwatch read --no-dissect -w DIR (flows only)', ['--no-dissect', '-w', outDir('flows')]));
    else skipped.push({ name: 'flows', reason: 'otwatch read has no --no-dissect' });
  }
  if (want('dissect')) modes.push(otw('dissect', 'otwatch read -w DIR (all dissectors)', ['-w', outDir('dissect')]));
  if (want('pcapng')) {
    // The same packets as pcapng (Wireshark's and dumpcap's default format): its own reader loop.
    const ng = buildPcapng(cap, WORK, log);
    modes.push({
      name: 'pcapng',
      kind: 'otwatch',
      about: 'otwatch read -w DIR FILE.pcapng (all dissectors, the capture as pcapng)',
      cmd: process.execPath,
      args: [CLI, 'read', '-q', '-w', outDir('pcapng'), ng.path],
      packets: ng.packets,
      bytes: ng.bytes,
      runs: args.runs,
    });
  }
  const nWorkers = cpus().length;
  if (want('workers')) {
    if (!flags.has('workers')) skipped.push({ name: 'workers', reason: 'otwatch read has no --workers' });
    else if (nWorkers < 2) skipped.push({ name: 'workers', reason: 'one CPU' });
    else
      modes.push(
        otw('workers', `otwatch read --workers ${nWorkers} -w DIR (all dissectors, one worker thread per CPU)`, [
          '--workers',
          String(nWorkers),
          '-w',
          outDir('workers'),
        ]),
      );
  }
  let broker: Broker | null = null;
  if (want('detect') || want('export') || want('inventory')) {
    // Steady state: a baseline learned (untimed) from the same capture, so the
    // timed replay runs every check and raises next to no alerts.
    if (flags.has('baseline')) {
      const base = join(WORK, `${cap.path.replace(/^.*\//, '').replace(/\.pcap$/, '')}.baseline.bin`); // per capture: --quick must not replace the full one
      rmSync(base, { force: true });
      log('learning a baseline from the capture (untimed): otwatch baseline learn ...');
      const r = spawnSync(process.execPath, [CLI, 'baseline', 'learn', cap.path, '-o', base], { encoding: 'utf8' });
      const detect = ['--baseline', base];
      if (r.status !== 0 || !existsSync(base))
        skipped.push({ name: 'detect', reason: `'otwatch baseline learn' failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` });
      else {
        if (want('detect'))
          modes.push(
            otw('detect', 'otwatch read --baseline FILE -w DIR (dissectors + detector, learned from this capture)', [
              ...detect,
              '-w',
              outDir('detect'),
            ]),
          );
        if (want('export')) {
          // Flows and alerts published to a local mosquitto (TLS, client certificates), spooled first.
          if (!flags.has('export')) skipped.push({ name: 'export', reason: 'otwatch read has no --export' });
          else if (which('mosquitto') === null || which('mosquitto_sub') === null)
            skipped.push({ name: 'export', reason: 'mosquitto or mosquitto-clients not installed' });
          else {
            try {
              broker = await startBroker(WORK, which('mosquitto')!);
              const state = join(WORK, 'export-state');
              rmSync(state, { recursive: true, force: true });
              const tls = ['--export-ca', broker.ca, '--export-cert', broker.cert, '--export-key', broker.key];
              modes.push(
                otw(
                  'export',
                  `otwatch read --baseline FILE -w DIR --export ${broker.url} (detect, flows and alerts also published over MQTT/TLS to a local mosquitto with a QoS 1 subscriber; capture first: sending slows while the packet thread is saturated; the run ends when the broker has acknowledged every record)`,
                  [
                    ...detect,
                    '-w',
                    outDir('export'),
                    '--export',
                    broker.url,
                    ...tls,
                    '--export-types',
                    'flow,alert',
                    '--sensor-id',
                    'bench',
                    '--state',
                    state,
                    // No send-rate bound (it paces a backlog after an outage) and time to have everything
                    // acknowledged: what the exporter itself sustains.
                    '--export-rate',
                    '0',
                    '--export-wait',
                    '600',
                  ],
                ),
              );
            } catch (e) {
              skipped.push({ name: 'export', reason: `local mosquitto: ${(e as Error).message}` });
            }
          }
        }
        if (want('inventory')) {
          // The inventory kept across runs, as on a sensor: the first run fills it, later runs update it.
          if (!flags.has('inventory')) skipped.push({ name: 'inventory', reason: 'otwatch read has no --inventory' });
          else
            modes.push(
              otw(
                'inventory',
                'otwatch read --baseline FILE -w DIR --inventory DB (detect, and the SQLite asset/service inventory updated)',
                [...detect, '-w', outDir('inventory'), '--inventory', join(WORK, 'bench-inventory.db')],
              ),
            );
        }
      }
    } else skipped.push({ name: 'detect', reason: 'otwatch read has no --baseline yet (detector not merged)' });
  }
  if (want('learn')) {
    // Learning then alerting: copies that start after the first 10 minutes are new to the baseline.
    if (flags.has('learn-for'))
      modes.push(
        otw('learn', 'otwatch read --learn-for 10m -w DIR (learn 10 min of capture time, then detect)', [
          '--learn-for',
          '10m',
          '-w',
          outDir('learn'),
        ]),
      );
    else skipped.push({ name: 'learn', reason: 'otwatch read has no --learn-for yet (detector not merged)' });
  }
  let pduRecords: number | null = null;
  if (want('pdus')) {
    if (flags.has('pdus') && flags.has('json'))
      modes.push(otw('pdus', 'otwatch read --pdus --json > /dev/null', ['--pdus', '--json'], '/dev/null'));
    else skipped.push({ name: 'pdus', reason: 'otwatch read has no --pdus/--json' });
  }
  if (args.peers && want('ndpiReader')) {
    const ndpi = ensureNdpi(args);
    if (ndpi !== null)
      modes.push({
        name: 'ndpiReader',
        kind: 'peer',
        about: 'ndpiReader -i FILE -q',
        cmd: ndpi,
        args: ['-i', cap.path, '-q'],
        packets: cap.packets,
        bytes: cap.bytes,
        runs: args.runs,
      });
    else skipped.push({ name: 'ndpiReader', reason: 'ndpiReader not installed (Debian: apt-get install libndpi-bin)' });
  }
  let slice: CaptureInfo | null = null;
  if (args.peers && want('tshark')) {
    const tshark = which('tshark');
    if (tshark !== null) {
      slice = args.tsharkSlice >= cap.packets ? cap : buildSlice(cap, WORK, args.tsharkSlice);
      modes.push({
        name: 'tshark',
        kind: 'peer',
        about: `tshark -r SLICE -T fields -e frame.number (first ${slice.packets.toLocaleString('en')} packets)`,
        cmd: tshark,
        args: ['-r', slice.path, '-T', 'fields', '-e', 'frame.number'],
        packets: slice.packets,
        bytes: slice.bytes,
        runs: args.tsharkRuns,
      });
    } else skipped.push({ name: 'tshark', reason: 'tshark not installed' });
  }
  if (args.ref !== null) {
    const refCli = join(args.ref, 'dist', 'src', 'cli.js');
    if (!existsSync(refCli)) {
      log(`bench: --ref ${args.ref}: ${refCli} missing (build that checkout first)`);
      return 2;
    }
    const refFlags = readFlags(refCli);
    // Each otwatch mode again with the reference build, right after it in every round.
    for (const m of modes.splice(0)) {
      modes.push(m);
      if (m.kind !== 'otwatch') continue;
      const flag = m.args.find((a) => a.startsWith('--') && !refFlags.has(a.slice(2)));
      if (flag !== undefined) {
        skipped.push({ name: `${m.name}@ref`, reason: `the reference build has no ${flag}` });
        continue;
      }
      const swap = (a: string[]) => a.map((x) => (x === CLI ? refCli : x.startsWith(join(WORK, 'out')) ? `${x}-ref` : x));
      let refArgs = swap(m.args);
      const bi = m.args.indexOf('--baseline');
      if (bi >= 0) {
        // A baseline learned by the reference build itself: its own format version.
        const base = `${m.args[bi + 1]}.ref`;
        rmSync(base, { force: true });
        const r = spawnSync(process.execPath, [refCli, 'baseline', 'learn', cap.path, '-o', base], { encoding: 'utf8' });
        if (r.status !== 0) {
          skipped.push({
            name: `${m.name}@ref`,
            reason: `reference 'baseline learn' failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`,
          });
          continue;
        }
        refArgs = refArgs.map((x, i) => (i === bi + 1 ? base : x));
      }
      const refWarm =
        m.warmArgs === undefined ? undefined : swap(m.warmArgs).map((x) => (x === m.args[bi + 1] && bi >= 0 ? `${x}.ref` : x));
      modes.push({
        ...m,
        name: `${m.name}@ref`,
        about: `${m.about}, reference build ${relative(ROOT, args.ref) || args.ref}`,
        args: refArgs,
        warmArgs: refWarm,
      });
    }
  }
  for (const s of skipped) log(`  skip ${s.name}: ${s.reason}`);

  // One untimed run: checks otwatch works on the capture, and counts flows and PDUs.
  let summary: ReturnType<typeof parseSummary> = { flows: null, pdus: null, apps: null };
  if (flags.has('pdus') && flags.has('json') && want('pdus')) {
    log('checking run: otwatch read --pdus --json (counting PDU records) ...');
    const r = await runMeasured(process.execPath, [CLI, 'read', '--pdus', '--json', cap.path], { countStdout: { match: '"type":"pdu"' } });
    if (r.code !== 0) log(`  otwatch exited ${r.code}: ${r.stderrTail.trim().split('\n').slice(-3).join(' | ')}`);
    summary = parseSummary(r.stderrTail);
    pduRecords = r.stdoutMatches ?? null;
    log(
      `  ${(r.stdoutLines ?? 0).toLocaleString('en')} records, ${pduRecords?.toLocaleString('en')} of them PDUs; summary: flows ${summary.flows?.toLocaleString('en') ?? '?'}, apps: ${summary.apps ?? '?'}`,
    );
  }

  const results = new Map<string, ModeResult>();
  for (const m of modes) {
    results.set(m.name, {
      name: m.name,
      kind: m.kind,
      about: m.about,
      command: [m.cmd === process.execPath ? 'node' : m.cmd, ...m.args].map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a)).join(' '),
      packets: m.packets,
      bytes: m.bytes,
      wallSec: [],
      cpuSec: [],
      maxRssKb: [],
      failures: [],
    });
  }
  const tcpdumpByRound: number[] = [];
  const pairedRatios = new Map<string, number[]>();
  if (args.waitIdle > 0) await waitIdle(args.waitIdle);
  const loadPerRound: number[] = [];
  for (let round = 0; round < args.runs; round++) {
    const line: string[] = [];
    loadPerRound.push(loadavg()[0]!);
    for (const m of modes) {
      if (round >= m.runs) continue;
      // This VM reclaims cold page cache (kdamond): re-read the input so every run starts hot.
      warmCache(m.args.includes(cap.path) ? cap.path : (slice?.path ?? cap.path));
      const r: RunResult = await runMeasured(m.cmd, m.args, { stdoutTo: m.stdoutTo, timeoutSec: 1800 });
      const res = results.get(m.name)!;
      // tcpdump and ndpiReader exit 0; otwatch 0 (1 would mean damaged input).
      if (r.code !== 0) {
        res.failures.push({ code: r.code, signal: r.signal, stderr: r.stderrTail.trim().split('\n').slice(-5).join('\n') });
        line.push(`${m.name} FAILED(${r.code ?? r.signal})`);
        continue;
      }
      res.wallSec.push(r.wallSec);
      if (r.userSec !== null && r.sysSec !== null) res.cpuSec.push(r.userSec + r.sysSec);
      if (r.maxRssKb !== null) res.maxRssKb.push(r.maxRssKb);
      if (m.name === 'tcpdump') tcpdumpByRound[round] = r.wallSec;
      else if (tcpdumpByRound[round] !== undefined) {
        const tdRate = cap.packets / tcpdumpByRound[round]!;
        const l = pairedRatios.get(m.name) ?? [];
        l.push(m.packets / r.wallSec / tdRate);
        pairedRatios.set(m.name, l);
      }
      line.push(`${m.name} ${r.wallSec.toFixed(2)}s`);
      const wi = m.args.indexOf('-w');
      if (wi >= 0) res.written = countLines(m.args[wi + 1]!);
      if (m.warmArgs !== undefined) {
        warmCache(cap.path);
        warmCache(next!.path);
        const w = await runMeasured(m.cmd, m.warmArgs, {
          stdoutTo: m.stdoutTo,
          countStdout: m.stdoutTo === undefined ? {} : undefined,
          timeoutSec: 3600,
        });
        if (w.code !== 0) {
          res.failures.push({
            code: w.code,
            signal: w.signal,
            stderr: `warm run: ${w.stderrTail.trim().split('\n').slice(-5).join('\n')}`,
          });
          line.push(`${m.name}+next FAILED(${w.code ?? w.signal})`);
          continue;
        }
        (res.warmWallSec ??= []).push(w.wallSec);
        (res.warmPassSec ??= []).push(w.wallSec - r.wallSec);
        const t = inputSeconds(`${w.stdoutTail ?? ''}\n${w.stderrTail}`, next!.path);
        if (t !== null) (res.warmInputSec ??= []).push(t);
        line.push(`${m.name}+next ${w.wallSec.toFixed(2)}s`);
      }
    }
    log(`round ${round + 1}/${args.runs} (load ${loadPerRound[round]!.toFixed(2)}): ${line.join(', ')}`);
  }

  const td = results.get('tcpdump')!;
  const tdRate = td.wallSec.length > 0 ? td.packets / median(td.wallSec) : NaN;
  for (const r of results.values()) {
    if (r.wallSec.length === 0) continue;
    r.medianSec = median(r.wallSec);
    r.pktPerSec = r.packets / r.medianSec;
    r.bestPktPerSec = r.packets / Math.min(...r.wallSec);
    r.mbPerSec = r.bytes / 1e6 / r.medianSec;
    r.ratioTcpdump = r.pktPerSec / tdRate;
    const pr = pairedRatios.get(r.name);
    if (pr && pr.length > 0) r.ratioTcpdumpPaired = median(pr);
    if (r.cpuSec.length > 0) r.medianCpuSec = median(r.cpuSec);
    if (r.maxRssKb.length > 0) r.maxRssMb = Math.max(...r.maxRssKb) / 1024;
    const diff = r.warmPassSec === undefined ? NaN : median(r.warmPassSec);
    if (diff > 0) r.warmDiffPktPerSec = r.packets / diff;
    const own = r.warmInputSec !== undefined && r.warmInputSec.length === r.warmPassSec?.length ? median(r.warmInputSec) : NaN;
    const pass = own > 0 ? own : diff;
    if (pass > 0) {
      r.warmFrom = own > 0 ? 'summary' : 'difference';
      r.warmPktPerSec = r.packets / pass;
      r.warmRatioTcpdump = r.warmPktPerSec / tdRate;
    }
  }

  // The table.
  const rows = [...results.values()];
  const out: string[] = [];
  out.push('');
  out.push(
    `otwatch bench ${started.toISOString()} git ${git.sha}${git.dirty ? '+dirty' : ''}, node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, load ${load0.map((x) => x.toFixed(2)).join(' ')}`,
  );
  out.push(
    `capture: ${cap.packets.toLocaleString('en')} packets, ${capMB.toFixed(1)} MB, ${cap.flows.toLocaleString('en')} flows; ${args.runs} runs (tshark ${args.tsharkRuns}), medians; wall time includes process start`,
  );
  if (next !== null)
    out.push(
      "warm: the same mode reading the capture and then its next-day copy in one process; the second input's time from otwatch's summary (median; * = no per-input time: warm run minus the plain run of the same round): one pass with the code already compiled, as on a running sensor; warm x td divides by tcpdump's whole-run rate",
    );
  out.push('');
  const head = [
    'mode',
    'packets',
    'median s',
    'pkt/s',
    'MB/s',
    'x tcpdump',
    'best pkt/s',
    'CPU s',
    'max RSS MB',
    'warm pkt/s',
    'warm x td',
  ];
  const widths = [12, 11, 9, 10, 8, 10, 11, 7, 11, 11, 10];
  out.push(`${head.map((h, i) => pad(h, widths[i]!, i > 0)).join(' ')}  command`);
  for (const r of rows) {
    const cells = [
      r.name,
      r.packets.toLocaleString('en'),
      fmtSec(r.medianSec),
      r.pktPerSec ? fmtRate(r.pktPerSec) : 'FAILED',
      r.mbPerSec ? r.mbPerSec.toFixed(1) : '-',
      r.ratioTcpdump ? r.ratioTcpdump.toFixed(3) : '-',
      r.bestPktPerSec ? fmtRate(r.bestPktPerSec) : '-',
      r.medianCpuSec !== undefined ? r.medianCpuSec.toFixed(2) : '-',
      r.maxRssMb !== undefined ? r.maxRssMb.toFixed(0) : '-',
      r.warmPktPerSec !== undefined ? `${fmtRate(r.warmPktPerSec)}${r.warmFrom === 'difference' ? '*' : ''}` : '-',
      r.warmRatioTcpdump !== undefined ? r.warmRatioTcpdump.toFixed(3) : '-',
    ];
    out.push(`${cells.map((c, i) => pad(c, widths[i]!, i > 0)).join(' ')}  ${r.about}`);
    if (r.written && Object.keys(r.written).length > 0)
      out.push(
        `${''.padEnd(14)}wrote ${Object.entries(r.written)
          .map(([f, n]) => `${f} ${n.toLocaleString('en')} lines`)
          .join(', ')}`,
      );
    for (const f of r.failures.slice(0, 1)) out.push(`${''.padEnd(14)}failed (${f.code ?? f.signal}): ${f.stderr.replace(/\n/g, ' | ')}`);
  }
  for (const s of skipped) out.push(`${pad(s.name, 12)} skipped: ${s.reason}`);
  // The bench itself keeps about one core busy; more than that is someone else.
  if (Math.max(...loadPerRound) > cpus().length * 0.75) {
    out.push(
      `note: 1-min load average reached ${Math.max(...loadPerRound).toFixed(2)} on ${cpus().length} CPUs during the runs: other processes competed; compare ratios rather than absolute rates`,
    );
  }

  // Targets from issue 7 (benchmarks, not tests).
  const get = (n: string) => results.get(n);
  const main = get('detect')?.pktPerSec !== undefined ? get('detect')! : get('dissect');
  const targets: { what: string; value: string; target: string; ok: boolean | null }[] = [];
  if (main?.pktPerSec) {
    const label = main.name === 'detect' ? 'dissectors + detector' : 'dissectors (detector not available)';
    const nd = get('ndpiReader');
    const ts = get('tshark');
    for (const [how, rate] of [
      ['', main.pktPerSec],
      [', warm', main.warmPktPerSec],
    ] as const) {
      if (rate === undefined) continue;
      targets.push({
        what: `${label}${how} vs tcpdump`,
        value: `${(rate / tdRate).toFixed(3)}x`,
        target: '>= 0.5x',
        ok: rate / tdRate >= 0.5,
      });
      if (nd?.pktPerSec)
        targets.push({
          what: `${label}${how} vs ndpiReader`,
          value: `${(rate / nd.pktPerSec).toFixed(2)}x`,
          target: '>= 2x',
          ok: rate / nd.pktPerSec >= 2,
        });
      if (ts?.pktPerSec)
        targets.push({
          what: `${label}${how} vs tshark`,
          value: `${(rate / ts.pktPerSec).toFixed(0)}x`,
          target: '>= 100x',
          ok: rate / ts.pktPerSec >= 100,
        });
    }
  }
  const wk = get('workers');
  const ds = get('dissect');
  if (wk?.pktPerSec && ds?.pktPerSec) {
    targets.push({
      what: `--workers ${nWorkers} vs one thread (all dissectors)`,
      value: `${(wk.pktPerSec / ds.pktPerSec).toFixed(2)}x`,
      target: '>= 1.7x on 2 cores',
      ok: wk.pktPerSec / ds.pktPerSec >= 1.7,
    });
    // Both figures from the same estimator (the summary's, else the difference).
    const same = wk.warmFrom === ds.warmFrom;
    const w = same ? wk.warmPktPerSec : wk.warmDiffPktPerSec;
    const d = same ? ds.warmPktPerSec : ds.warmDiffPktPerSec;
    if (w && d)
      targets.push({
        what: `--workers ${nWorkers} vs one thread, warm${same && wk.warmFrom === 'summary' ? '' : ' (difference)'}`,
        value: `${(w / d).toFixed(2)}x`,
        target: '>= 1.7x on 2 cores',
        ok: w / d >= 1.7,
      });
  }
  const fl = get('flows');
  if (fl?.ratioTcpdump !== undefined)
    targets.push({
      what: 'flows only vs tcpdump (issue 2)',
      value: `${fl.ratioTcpdump.toFixed(3)}x`,
      target: '>= 0.5x',
      ok: fl.ratioTcpdump >= 0.5,
    });
  if (fl?.warmRatioTcpdump !== undefined)
    targets.push({
      what: 'flows only, warm, vs tcpdump',
      value: `${fl.warmRatioTcpdump.toFixed(3)}x`,
      target: '>= 0.5x',
      ok: fl.warmRatioTcpdump >= 0.5,
    });
  const pd = get('pdus');
  let pduRate: number | null = null;
  if (pd?.medianSec && pduRecords !== null) {
    pduRate = pduRecords / pd.medianSec;
    targets.push({
      what: `--pdus NDJSON (${pduRecords.toLocaleString('en')} PDU records)`,
      value: `${fmtRate(pduRate)} rec/s`,
      target: '>= 1 M rec/s',
      ok: pduRate >= 1e6,
    });
    if (pd.warmPktPerSec !== undefined) {
      const w = (pduRecords * pd.warmPktPerSec) / pd.packets;
      targets.push({ what: '--pdus NDJSON, warm', value: `${fmtRate(w)} rec/s`, target: '>= 1 M rec/s', ok: w >= 1e6 });
    }
  }

  // Memory benchmark.
  const memory: {
    flows: number;
    packets: number;
    bytes: number;
    runs: { about: string; args: string[]; wallSec: number; maxRssMb: number | null; code: number | null; flowsSummary: number | null }[];
  } | null = args.memory && want('memory') ? { flows: 0, packets: 0, bytes: 0, runs: [] } : null;
  if (memory !== null) {
    const scan = buildScan(WORK, args.scanFlows, log, args.rebuild);
    warmCache(scan.path);
    memory.flows = scan.flows;
    memory.packets = scan.packets;
    memory.bytes = scan.bytes;
    const variants: [string, string[], string?][] = [
      ['default flow cap, -q (no records out)', []],
      ['--max-flows 100000, -q', ['--max-flows', '100000']],
      ['default flow cap, --json > /dev/null', ['--json'], '/dev/null'],
    ];
    for (const [about, extra, to] of variants) {
      // Without -q the summary (with the flow count) is printed; with --json it goes to stderr.
      const r = await runMeasured(process.execPath, [CLI, 'read', ...extra, scan.path], {
        stdoutTo: to,
        countStdout: to ? undefined : {},
        timeoutSec: 1800,
      });
      const s = parseSummary(`${r.stdoutTail ?? ''}\n${r.stderrTail}`);
      memory.runs.push({
        about,
        args: extra,
        wallSec: r.wallSec,
        maxRssMb: r.maxRssKb !== null ? r.maxRssKb / 1024 : null,
        code: r.code,
        flowsSummary: s.flows,
      });
      log(
        `memory: ${about}: ${r.wallSec.toFixed(2)} s, peak RSS ${r.maxRssKb !== null ? (r.maxRssKb / 1024).toFixed(0) : '?'} MB${r.code !== 0 ? `, exit ${r.code}: ${r.stderrTail.trim().split('\n').pop()}` : ''}`,
      );
    }
    out.push('');
    out.push(
      `memory: SYN scan, ${scan.flows.toLocaleString('en')} distinct flows in ${scan.packets.toLocaleString('en')} packets (${(scan.bytes / 1e6).toFixed(0)} MB); peak RSS via ${hasGnuTime ? '/usr/bin/time' : '/proc VmHWM polling'}`,
    );
    for (const r of memory.runs) {
      out.push(
        `  ${pad(r.about, 40)} peak RSS ${pad(r.maxRssMb !== null ? r.maxRssMb.toFixed(0) : '?', 5, true)} MB  ${r.wallSec.toFixed(2)} s  ${fmtRate(memory.packets / r.wallSec)} pkt/s${r.code !== 0 ? `  exit ${r.code}` : ''}`,
      );
    }
    const def = memory.runs[0];
    if (def?.maxRssMb != null)
      targets.push({
        what: `peak RSS, ${scan.flows.toLocaleString('en')}-flow scan, default cap`,
        value: `${def.maxRssMb.toFixed(0)} MB`,
        target: '< 300 MB',
        ok: def.maxRssMb < 300,
      });
  }

  if (targets.length > 0) {
    out.push('');
    out.push('targets (issues 2 and 7):');
    for (const t of targets)
      out.push(`  ${t.ok === null ? '    ' : t.ok ? 'met ' : 'MISS'}  ${pad(t.what, 52)} ${pad(t.value, 14, true)}  (${t.target})`);
  }
  process.stdout.write(`${out.join('\n')}\n`);

  if (args.profile) await profile();

  // JSON and SVG.
  const date = started.toISOString().slice(0, 10);
  const resultsDir = args.quick ? WORK : RESULTS;
  mkdirSync(resultsDir, { recursive: true });
  const json = {
    schema: 1,
    date: started.toISOString(),
    git,
    quick: args.quick,
    host: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      memMB: Math.round(totalmem() / 1048576),
      loadavgBefore: load0,
      loadPerRound,
      loadavgAfter: loadavg(),
    },
    tools: {
      tcpdump: firstLine(tcpdump, ['--version']),
      ndpiReader: which('ndpiReader') ? (firstLine('ndpiReader', ['-h'])?.replace(/^.*?(nDPI|ndpiReader)/i, '$1') ?? null) : null,
      tshark: which('tshark') ? firstLine('tshark', ['--version']) : null,
      gnuTime: hasGnuTime,
    },
    capture: {
      ...cap,
      path: relative(ROOT, cap.path),
      otwatchFlows: summary.flows,
      otwatchPdus: summary.pdus,
      apps: summary.apps,
      pduRecords,
    },
    tsharkSlice: slice ? { packets: slice.packets, bytes: slice.bytes } : null,
    runs: args.runs,
    modes: rows,
    skipped,
    pduRecordsPerSec: pduRate,
    targets,
    memory,
    profile: prof.out ? { totalMs: prof.out.totalMs, top: prof.out.rows.slice(0, 25) } : null,
    profileWarm: prof.warm ? { totalMs: prof.warm.totalMs, top: prof.warm.rows.slice(0, 25) } : null,
  };
  const base = `${date}-${git.sha}${git.dirty ? '-dirty' : ''}${args.quick ? '-quick' : ''}`;
  const jsonPath = join(resultsDir, `${base}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  const bars: Bar[] = rows
    .filter((r) => r.pktPerSec !== undefined)
    .map((r) => ({
      label:
        r.name === 'tshark' ? `tshark (first ${r.packets.toLocaleString('en')})` : r.kind === 'otwatch' ? `otwatch: ${r.name}` : r.name,
      value: r.pktPerSec!,
      kind: r.kind,
      note: r.name === 'tcpdump' ? '' : `${r.ratioTcpdump!.toFixed(2)}x tcpdump`,
    }));
  const svg = barChart(
    `otwatch read vs peers, ${cap.packets.toLocaleString('en')}-packet ICS mix`,
    `${date}, git ${git.sha}${git.dirty ? '+dirty' : ''}, node ${process.version}, ${cpus().length} CPUs, median of ${args.runs} runs`,
    bars,
    Number.isFinite(tdRate) ? { value: tdRate * 0.5, label: 'target 0.5x tcpdump' } : undefined,
  );
  const svgPath = join(resultsDir, args.quick ? 'latest-quick.svg' : 'latest.svg');
  writeFileSync(svgPath, svg);
  log(`\nwrote ${relative(ROOT, jsonPath)} and ${relative(ROOT, svgPath)}`);
  rmSync(join(WORK, 'out'), { recursive: true, force: true });
  broker?.stop();
  return rows.some((r) => r.failures.length > 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 3;
  },
);

// `otwatch live -i IFACE [options] [BPF filter]`: its options, checked and
// turned into LiveSettings; the run itself is src/pipeline/live/run.ts.
import { LiveRun } from '../pipeline/live/run.js';
import type { LiveSettings } from '../pipeline/live/settings.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { pipelineSettings, PIPELINE_OPTIONS } from './settings.js';

export { dropPrivileges } from '../pipeline/live/privileges.js';

export const LIVE_OPTIONS: readonly OptSpec[] = [
  ...PIPELINE_OPTIONS,
  { name: 'interface', short: 'i', kind: 'list', arg: 'IFACE', help: 'capture on IFACE; repeat (or a,b) for several' },
  {
    name: 'capture',
    kind: 'string',
    arg: 'PATH',
    choices: ['tcpdump', 'cap'],
    default: 'tcpdump',
    help: 'tcpdump: a receive-only tcpdump child, kernel timestamps (fastest, see docs); cap: in-process libpcap binding, no timestamps or drop counters',
  },
  { name: 'tcpdump', kind: 'string', arg: 'FILE', default: 'tcpdump', help: 'the tcpdump program for --capture tcpdump' },
  { name: 'buffer-mb', short: 'B', kind: 'number', arg: 'MB', default: 64, help: 'kernel capture buffer per interface' },
  { name: 'snaplen', short: 's', kind: 'number', arg: 'BYTES', default: 262144, help: 'bytes kept per packet (cap: always 65535)' },
  { name: 'no-promisc', short: 'p', kind: 'flag', help: 'leave the interface out of promiscuous mode (a SPAN port needs it)' },
  {
    name: 'immediate',
    kind: 'flag',
    help: 'libpcap immediate mode: each packet as it comes, not in kernel blocks (lower latency, more CPU)',
  },
  {
    name: 'batch',
    kind: 'flag',
    help: 'tcpdump writes 4 KiB blocks, not every packet: ~5x less capture CPU for busy links, but a packet may wait until 4 KiB follow it, so flows end by packet time only',
  },
  { name: 'user', short: 'u', kind: 'string', arg: 'NAME', help: 'once the interfaces are open, drop root for NAME and its groups' },
  {
    name: 'retry',
    kind: 'flag',
    help: 'an interface that is missing, fails or disappears is opened again with backoff instead of ending the run',
  },
  { name: 'retry-max', kind: 'seconds', arg: 'DUR', default: 60, help: 'longest wait between two retries' },
  {
    name: 'stats-interval',
    kind: 'seconds',
    arg: 'DUR',
    default: 60,
    help: 'a "stats" record (kernel counters) every DUR; 0: only at exit',
  },
  { name: 'rotate-size', kind: 'number', arg: 'MB', default: 0, help: 'with -w: new files once one reaches MB (0: never)' },
  {
    name: 'rotate-time',
    kind: 'seconds',
    arg: 'DUR',
    default: 0,
    help: 'with -w: new files every DUR, aligned (1h: on the hour; 0: never)',
  },
  {
    name: 'retain-mb',
    kind: 'number',
    arg: 'MB',
    default: 0,
    help: 'with rotation: delete the oldest rotated files while they hold more than MB (0: keep all)',
  },
  { name: 'retain-age', kind: 'seconds', arg: 'DUR', default: 0, help: 'with rotation: delete rotated files older than DUR (0: keep all)' },
  { name: 'quiet', short: 'q', kind: 'flag', help: 'no summary at exit' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

/** Linux interface names: at most 15 bytes, no slash or space. */
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export function liveSettings({ opts, rest }: Parsed): LiveSettings {
  const interfaces = [...new Set(Array.isArray(opts.interface) ? opts.interface : [])];
  if (interfaces.length === 0) throw new UsageError('no interface: give -i IFACE');
  for (const n of interfaces) if (!IFNAME.test(n)) throw new UsageError(`bad interface name '${n}'`);
  const user = typeof opts.user === 'string' ? opts.user : null;
  if (user !== null && process.getuid?.() !== 0) throw new UsageError('--user needs otwatch to start as root');
  const capture = opts.capture === 'cap' ? 'cap' : 'tcpdump';
  const snaplen = Math.floor(num(opts.snaplen));
  if (snaplen < 64 || snaplen > 262144) throw new UsageError('--snaplen must be between 64 and 262144');
  const bufferBytes = Math.floor(num(opts['buffer-mb']) * 1024 * 1024);
  if (bufferBytes < 65536) throw new UsageError('--buffer-mb must be at least 0.0625');
  const batch = opts.batch === true;
  if (batch && capture === 'cap') throw new UsageError('--batch is for --capture tcpdump');
  const rotate = { maxBytes: Math.floor(num(opts['rotate-size']) * 1024 * 1024), maxSeconds: num(opts['rotate-time']) };
  const retain = { maxBytes: Math.floor(num(opts['retain-mb']) * 1024 * 1024), maxAgeS: num(opts['retain-age']) };
  if ((retain.maxBytes > 0 || retain.maxAgeS > 0) && rotate.maxBytes === 0 && rotate.maxSeconds === 0) {
    throw new UsageError('--retain-mb and --retain-age need rotation (--rotate-size or --rotate-time)');
  }
  return {
    pipeline: pipelineSettings(opts),
    interfaces,
    capture,
    tcpdump: typeof opts.tcpdump === 'string' ? opts.tcpdump : 'tcpdump',
    filter: rest.join(' '),
    bufferBytes,
    snaplen,
    promisc: opts['no-promisc'] !== true,
    immediate: opts.immediate === true,
    batch,
    user,
    retry: opts.retry === true,
    retryMaxS: Math.max(1, num(opts['retry-max'])),
    statsEveryS: num(opts['stats-interval']),
    rotate,
    retain,
  };
}

export function runLive(parsed: Parsed): Promise<number> {
  return new LiveRun(liveSettings(parsed)).run();
}

// Live capture throughput: replays a capture into one end of a veth pair
// (inside a private network namespace) with tcpreplay at increasing rates and
// runs `otwatch live` on the other end, once per capture path. Prints, per
// trial, what tcpreplay sent and what otwatch decoded and the kernel dropped.
//
// Run as root after a build:
//   node dist/bench/live-capture.js [--paths tcpdump,tcpdump-batch,tcpdump-immediate,cap]
//       [--rates 50000,100000,200000,300000,max] [--seconds 5] [--file X.pcap]
//       [--buffer-mb 64] [--no-dissect] [--gen PROGRAM] [--pin]
// `max` is tcpreplay --topspeed. tcpreplay (a debug build on Debian) tops out
// near 170-370 k pkt/s on a 2-core machine; `--gen PROGRAM` replaces it by a
// program called as `PROGRAM IFACE FILE PPS TOTAL` (PPS 0: as fast as it can)
// that prints tcpreplay's "Actual: N packets" and "X pps"; `--gen builtin`
// compiles the small sendmmsg replayer below with cc. `--pin` puts the sender
// on CPU 0 and otwatch on CPU 1. Traffic never leaves the namespace.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli.js');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const SHARED_PLANT = resolve(REPO, '..', 'shared', 'pcaps', 'ct-samples', 'Protocols', 'Modbus', 'ModbusTCP', 'Plant1_ModbusTCP.pcap');
const file = arg('file', existsSync(SHARED_PLANT) ? SHARED_PLANT : join(REPO, 'fixtures', 'pcaps', 'gen', 'plant-sample.pcap'));
const paths = arg('paths', 'tcpdump,tcpdump-batch,tcpdump-immediate,cap').split(',');
const rates = arg('rates', '50000,100000,150000,200000,250000,300000,max').split(',');
const seconds = Number(arg('seconds', '5'));
const bufferMb = arg('buffer-mb', '64');
const dissect = !process.argv.includes('--no-dissect');
let gen = arg('gen', '');
const pin = process.argv.includes('--pin');

const NS = `otwb-${process.pid}`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const nsx = (args: string[]) => sh('ip', ['netns', 'exec', NS, ...args]);

function packetsIn(path: string): number {
  // Classic pcap only (the bench inputs): count records.
  const b = readFileSync(path);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  let p = 24;
  let n = 0;
  while (p + 16 <= b.length) {
    const cap = le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
    p += 16 + cap;
    n++;
  }
  return n;
}

/** CPU time (user+system, ms) of a process and of its children. */
function cpuMs(pid: number): { self: number; child: number } {
  const one = (p: number) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return ((Number(v[11]) + Number(v[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
    } catch {
      return 0;
    }
  };
  let child = 0;
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) child += one(Number(c));
  } catch {
    // no children
  }
  return { self: one(pid), child };
}

/** A pcap replayer fast enough to load the capture path: AF_PACKET,
 *  sendmmsg in batches of 64, qdisc bypass, paced to a rate; each loop flips
 *  bits of the IPv4 addresses so flows are new. Bench-only. */
const GEN_C = `// Fast pcap replayer for the bench: AF_PACKET + sendmmsg, qdisc bypass,
// paced to a target rate; each loop shifts the IPv4 addresses (byte 2) so
// flows are new. Usage: gen IFACE FILE.pcap PPS TOTAL
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>
struct rec { uint8_t *d; uint32_t n; };
static double now(void){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec/1e9; }
int main(int argc,char**argv){
  if(argc<5){fprintf(stderr,"usage\\n");return 2;}
  FILE*f=fopen(argv[2],"rb"); fseek(f,0,SEEK_END); long sz=ftell(f); fseek(f,0,SEEK_SET);
  uint8_t*b=malloc(sz); fread(b,1,sz,f); fclose(f);
  int cap=1<<20, n=0; struct rec*r=malloc(sizeof(struct rec)*cap);
  long p=24; while(p+16<=sz){ uint32_t cl=*(uint32_t*)(b+p+8); r[n].d=b+p+16; r[n].n=cl; n++; p+=16+cl; }
  double pps=atof(argv[3]); long total=atol(argv[4]);
  int s=socket(AF_PACKET,SOCK_RAW,0); int one=1; setsockopt(s,SOL_PACKET,PACKET_QDISC_BYPASS,&one,sizeof one);
  int sndbuf=16<<20; setsockopt(s,SOL_SOCKET,SO_SNDBUF,&sndbuf,sizeof sndbuf);
  struct sockaddr_ll a; memset(&a,0,sizeof a); a.sll_family=AF_PACKET; a.sll_ifindex=if_nametoindex(argv[1]); a.sll_halen=6;
  if(bind(s,(struct sockaddr*)&a,sizeof a)<0){perror("bind");return 1;}
  enum{B=64}; struct mmsghdr m[B]; struct iovec io[B]; uint8_t buf[B][2048];
  long sent=0,fail=0; int idx=0; int loop=0; double t0=now();
  while(sent<total){
    int k=0;
    for(;k<B && sent+k<total;k++){
      struct rec*x=&r[idx]; uint32_t len=x->n>2048?2048:x->n; memcpy(buf[k],x->d,len);
      if(len>=34 && buf[k][12]==8 && buf[k][13]==0){ buf[k][14+12+1]^=(uint8_t)loop; buf[k][14+16+1]^=(uint8_t)loop; }
      io[k].iov_base=buf[k]; io[k].iov_len=len; memset(&m[k],0,sizeof m[k]); m[k].msg_hdr.msg_iov=&io[k]; m[k].msg_hdr.msg_iovlen=1;
      m[k].msg_hdr.msg_name=&a; m[k].msg_hdr.msg_namelen=sizeof a;
      if(++idx==n){idx=0;loop++;}
    }
    int done=0; while(done<k){ int rr=sendmmsg(s,m+done,k-done,0); if(rr<0){fail++; usleep(50); continue;} done+=rr; }
    sent+=k;
    if(pps>0){ double want=t0+sent/pps; double d; while((d=want-now())>0){ if(d>0.0002) usleep((useconds_t)(d*1e6*0.8)); } }
  }
  double el=now()-t0;
  printf("Actual: %ld packets sent in %.2f seconds\\nRated: %.1f pps\\n",sent,el,sent/el);
  return 0;
}
`;

function buildGen(): string {
  const dir = mkdtempSync(join(tmpdir(), 'otwb-gen-'));
  writeFileSync(join(dir, 'gen.c'), GEN_C);
  sh('cc', ['-O2', '-o', join(dir, 'gen'), join(dir, 'gen.c')]);
  return join(dir, 'gen');
}

function setup(): void {
  sh('ip', ['netns', 'add', NS]);
  nsx(['ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
  nsx(['sysctl', '-qw', 'net.ipv6.conf.va.disable_ipv6=1', 'net.ipv6.conf.vb.disable_ipv6=1']);
  nsx(['ip', 'link', 'set', 'va', 'up']);
  nsx(['ip', 'link', 'set', 'vb', 'up']);
}

function rxDropped(): { rx: number; dropped: number; tx: number } {
  const j = JSON.parse(nsx(['ip', '-s', '-j', 'link', 'show', 'vb'])) as {
    stats64: { rx: { packets: number; dropped: number }; tx: { packets: number } };
  }[];
  return { rx: j[0].stats64.rx.packets, dropped: j[0].stats64.rx.dropped, tx: j[0].stats64.tx.packets };
}

interface Stats {
  received: number | null;
  dropped_kernel: number | null;
  decoded: number;
}

async function trial(path: string, rate: string, perFile: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'otwb-'));
  try {
    return await trialIn(dir, path, rate, perFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function trialIn(dir: string, path: string, rate: string, perFile: number): Promise<string> {
  // A path is 'cap', 'tcpdump', 'tcpdump-batch', 'tcpdump-immediate' or
  // 'tcpdump=PROGRAM' (a wrapper, to try other tcpdump flags).
  const extra =
    path === 'cap'
      ? ['--capture', 'cap']
      : path === 'tcpdump-immediate'
        ? ['--immediate']
        : path === 'tcpdump-batch'
          ? ['--batch']
          : path.startsWith('tcpdump=')
            ? ['--tcpdump', path.slice(8)]
            : [];
  if (!dissect) extra.push('--no-dissect');
  // --pin: the sender on CPU 0, otwatch and its tcpdump on CPU 1, so neither
  // slows the other and a consumer that cannot keep up shows as kernel drops.
  const live = spawn(
    pin ? 'taskset' : 'ip',
    [
      ...(pin ? ['-c', '1', 'ip'] : []),
      'netns',
      'exec',
      NS,
      process.execPath,
      CLI,
      'live',
      '-i',
      'vb',
      '-w',
      dir,
      '-q',
      '--stats-interval',
      '0.5',
      '-B',
      bufferMb,
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  try {
    await new Promise<void>((res, rej) => {
      live.stderr.setEncoding('utf8');
      live.stderr.on('data', (s: string) => {
        err += s;
        if (err.includes('capturing via')) res();
      });
      live.on('close', () => rej(new Error(`live exited: ${err}`)));
    });
    const before = rxDropped();
    const target = rate === 'max' ? 300000 : Number(rate);
    const loops = Math.max(1, Math.ceil((target * seconds) / perFile));
    const speed = rate === 'max' ? ['-t'] : ['-p', rate];
    const pinArgs = pin ? ['taskset', '-c', '0'] : [];
    const out =
      gen !== ''
        ? nsx([...pinArgs, gen, 'va', file, rate === 'max' ? '0' : rate, String(loops * perFile)])
        : nsx([...pinArgs, 'tcpreplay', '-q', '-K', ...speed, '--loop', String(loops), '--unique-ip', '-i', 'va', file]);
    const sent = Number(/Actual: (\d+) packets/.exec(out)?.[1] ?? 0);
    const pps = Number(/([\d.]+) pps/.exec(out)?.[1] ?? 0);
    // Wait until decoding has caught up (unchanged for 1.5 s) or 60 s; the
    // drain time is when the count last moved after tcpreplay ended.
    const tEnd = Date.now();
    let lastChange = tEnd;
    const statsFile = join(dir, 'stats.ndjson');
    let last = -1;
    for (let i = 0; i < 240; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const lines = existsSync(statsFile) ? readFileSync(statsFile, 'utf8').trim().split('\n') : [];
      const cur = lines.length > 0 ? (JSON.parse(lines[lines.length - 1]) as { interfaces: Stats[] }).interfaces[0].decoded : -1;
      if (cur !== last) {
        last = cur;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > 1500) break;
    }
    const drain = Math.max(0, (lastChange - tEnd) / 1000);
    const cpu = cpuMs(live.pid!);
    live.kill('SIGTERM');
    await new Promise((r) => live.on('close', r));
    const after = rxDropped();
    const lines = readFileSync(statsFile, 'utf8').trim().split('\n');
    const fin = (JSON.parse(lines[lines.length - 1]) as { interfaces: Stats[] }).interfaces[0];
    const lost = sent - fin.decoded;
    return [
      path.padEnd(18),
      rate.padStart(7),
      String(Math.round(pps)).padStart(8),
      String(sent).padStart(9),
      String(after.rx - before.rx).padStart(9),
      String(after.dropped - before.dropped).padStart(6),
      String(fin.received ?? '-').padStart(9),
      String(fin.dropped_kernel ?? '-').padStart(8),
      String(fin.decoded).padStart(9),
      String(lost).padStart(8),
      `${((100 * lost) / Math.max(1, sent)).toFixed(2)}%`.padStart(7),
      String(after.tx - before.tx).padStart(4),
      drain.toFixed(1).padStart(6),
      ((cpu.self * 1e6) / Math.max(1, sent) / 1000).toFixed(2).padStart(7),
      ((cpu.child * 1e6) / Math.max(1, sent) / 1000).toFixed(2).padStart(7),
    ].join(' ');
  } finally {
    if (live.exitCode === null && live.signalCode === null) live.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (network namespace, veth, tcpreplay)');
  const perFile = packetsIn(file);
  const builtin = gen === 'builtin';
  if (builtin) gen = buildGen();
  setup();
  try {
    const load = readFileSync('/proc/loadavg', 'utf8').trim();
    console.log(
      `# ${file} (${perFile} packets per loop), ${seconds} s per trial, -B ${bufferMb} MB, dissect ${dissect}, sender ${gen || 'tcpreplay'}${pin ? ' on CPU 0, otwatch on CPU 1' : ''}, load ${load}`,
    );
    console.log(
      [
        'path'.padEnd(18),
        'target'.padStart(7),
        'act_pps'.padStart(8),
        'sent'.padStart(9),
        'veth_rx'.padStart(9),
        'rxdrop'.padStart(6),
        'received'.padStart(9),
        'kdrop'.padStart(8),
        'decoded'.padStart(9),
        'lost'.padStart(8),
        'lost%'.padStart(7),
        'tx'.padStart(4),
        'drain'.padStart(6),
        'node_us'.padStart(7),
        'child_us'.padStart(7),
      ].join(' '),
    );
    console.log('# node_us, child_us: CPU µs per packet sent, of otwatch (node) and of its capture child (tcpdump)');
    for (const path of paths) {
      for (const rate of rates) {
        console.log(await trial(path, rate, perFile));
      }
    }
  } finally {
    sh('ip', ['netns', 'del', NS]);
    if (builtin) rmSync(join(gen, '..'), { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

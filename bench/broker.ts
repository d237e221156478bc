// A local MQTT broker for the export mode: Debian's mosquitto on a loopback
// port with TLS and client certificates, as a DMZ broker would run, with
// keys made by openssl in the bench's work directory. Nothing leaves loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export interface Broker {
  url: string;
  ca: string;
  cert: string;
  key: string;
  stop(): void;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${(r.stderr ?? '').trim().split('\n').pop()}`);
}

/** CA, a server certificate for 127.0.0.1 and a client certificate (CN=bench). */
function makeKeys(dir: string): void {
  const subj = (cn: string) => ['-subj', `/CN=${cn}`];
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    ...subj('otwatch bench CA'),
  ]);
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ['client', 'bench', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl(dir, [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      ...subj(cn),
    ]);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ]);
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    // Bound and closed at once, only to learn a free port number for mosquitto.
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

async function waitPort(port: number, child: ChildProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        res(true);
      });
      c.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`mosquitto did not listen on 127.0.0.1:${port}`);
}

/** Publishes a probe until the broker's PUBACK no longer says 0x10 (no matching subscribers). */
async function waitSubscribed(port: number, sub: ChildProcess): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (sub.exitCode !== null) throw new Error(`mosquitto_sub exited ${sub.exitCode}`);
    const args = ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-q', '1', '-d', '-t', 'otwatch/bench/probe', '-m', 'probe'];
    const r = spawnSync('mosquitto_pub', args, { encoding: 'utf8' });
    if (/received PUBACK \(Mid: \d+, RC:0\)/.test(r.stdout ?? '')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('mosquitto_sub did not subscribe');
}

/** Starts mosquitto with TLS on a loopback port, or throws saying why. */
export async function startBroker(workDir: string, mosquitto: string): Promise<Broker> {
  const dir = join(workDir, 'broker');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  makeKeys(dir);
  const port = await freePort();
  const subPort = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      // As root mosquitto would switch to its own user, which cannot read the
      // keys openssl wrote for us (0600, root's).
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'per_listener_settings false',
      'persistence false',
      `listener ${port} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'require_certificate true',
      'use_identity_as_username true',
      // The TLS listener requires a client certificate; anonymous clients can only come in on the
      // plaintext loopback listener below, the bench's stand-in for the IT side.
      'allow_anonymous true',
      `listener ${subPort} 127.0.0.1`,
      'max_inflight_messages 100',
      'max_queued_messages 100000',
      '',
    ].join('\n'),
  );
  const child = spawn(mosquitto, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  process.once('exit', () => child.kill('SIGTERM')); // also when the bench fails half-way
  await waitPort(port, child, 10_000);
  // The IT side: a QoS 1 subscriber. Without one the broker answers PUBACK 0x10 (no subscriber) and
  // otwatch keeps the records spooled. It reads without TLS so that the two cores spend less on what
  // the bench does not measure (the broker would be in the DMZ, the subscriber on the IT side).
  const sub = spawn(
    'mosquitto_sub',
    ['-h', '127.0.0.1', '-p', String(subPort), '-V', 'mqttv5', '-q', '1', '-i', 'bench-it-side', '-t', 'otwatch/#'],
    {
      stdio: 'ignore',
    },
  );
  process.once('exit', () => sub.kill('SIGTERM'));
  await waitSubscribed(subPort, sub);
  return {
    url: `mqtts://127.0.0.1:${port}`,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'client.pem'),
    key: join(dir, 'client.key'),
    stop: () => {
      sub.kill('SIGTERM');
      child.kill('SIGTERM');
    },
  };
}

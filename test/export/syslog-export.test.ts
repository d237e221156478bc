// syslog+tls:// export into a real rsyslog (gnutls, client certificates
// required) on a loopback port: RFC 5424 messages in RFC 5425 octet-counting
// framing, APP-NAME otwatch, MSGID the record type, sensor and seq in
// structured data, severity from the alert, the JSON record as MSG.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/broker.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { otwatch, parseLines, sleep, tlsArgs, type Rec } from '../helpers/export-run.js';
import { CLI, fixture } from '../helpers/run.js';

const PLANT = fixture('gen', 'plant-sample.pcap');
const hasRsyslogTls =
  existsSync('/usr/sbin/rsyslogd') &&
  ['/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so'].some(existsSync);

describe.runIf(hasRsyslogTls)('export over syslog+tls to rsyslog (gnutls)', () => {
  let tmp: string;
  let pki: Pki;
  let port: number;
  let proc: ChildProcess | null = null;
  let out: string;
  let want: Rec[];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'otwatch-syslog-'));
    pki = makePki(join(tmp, 'pki'));
    port = await freePort();
    out = join(tmp, 'messages.log');
    mkdirSync(join(tmp, 'work'));
    const conf = join(tmp, 'rsyslog.conf');
    writeFileSync(
      conf,
      [
        `global(workDirectory="${join(tmp, 'work')}" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${pki.ca}"`,
        `  DefaultNetstreamDriverCertFile="${pki.serverCert}" DefaultNetstreamDriverKeyFile="${pki.serverKey}")`,
        'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")',
        `input(type="imtcp" port="${port}" address="127.0.0.1")`,
        'template(name="fields" type="string" string="%pri%\\t%app-name%\\t%msgid%\\t%hostname%\\t%structured-data%\\t%msg%\\n")',
        `*.* action(type="omfile" file="${out}" template="fields")`,
        '',
      ].join('\n'),
    );
    proc = spawn('/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', join(tmp, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const t0 = Date.now();
    // Ready once the port takes connections.
    while (spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status !== 0) {
      if (proc.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`rsyslogd did not start: ${err}`);
      await sleep(100);
    }
    const r = spawnSync(process.execPath, [CLI, 'read', '--json', '--learn-for', '1s', '-q', PLANT], { encoding: 'utf8' });
    want = parseLines(r.stdout).filter((x) => x.type === 'alert' || x.type === 'alert_summary');
    expect(want.length).toBeGreaterThan(0);
  });

  afterAll(() => {
    proc?.kill('SIGKILL');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('delivers the alerts (the default) as RFC 5424 over RFC 5425 framing, each once, in seq order', async () => {
    const r = await otwatch([
      'read',
      '-q',
      '--learn-for',
      '1s',
      PLANT,
      '--export',
      `syslog+tls://localhost:${port}`,
      ...tlsArgs(pki, 'siem1'),
      '--sensor-id',
      'siem1',
      '--state',
      join(tmp, 'st1'),
    ]).exited;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/export: connected to syslog\+tls:\/\/localhost:\d+/);
    const t0 = Date.now();
    const lines = () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l.includes('\totwatch\t'))
        : [];
    while (lines().length < want.length && Date.now() - t0 < 10_000) await sleep(200);
    const got = lines().map((l) => {
      const [pri, app, msgid, host, sd, msg] = l.split('\t');
      return { pri: Number(pri), app, msgid, host, sd, rec: JSON.parse(msg) as Rec };
    });
    expect(got).toHaveLength(want.length);
    got.forEach((g, i) => {
      expect(g.app).toBe('otwatch');
      expect(g.host).toBe('siem1');
      expect(g.msgid).toBe(g.rec.type);
      expect(g.sd).toBe(`[otwatch@32473 sensor="siem1" seq="${g.rec.seq}"]`);
      const sev =
        g.rec.type === 'alert_summary'
          ? 5
          : ({ critical: 2, high: 3, medium: 4, low: 5, info: 6 } as Record<string, number>)[g.rec.severity];
      expect(g.pri).toBe(16 * 8 + sev);
      if (i > 0) expect(g.rec.seq).toBeGreaterThan(got[i - 1].rec.seq);
    });
    const { sensor: _s, seq: _q, ...first } = got[0].rec;
    expect(JSON.stringify(first)).toBe(JSON.stringify(want[0]));
    expect(got.map((g) => g.rec.kind ?? g.rec.type).sort()).toEqual(want.map((w) => w.kind ?? w.type).sort());
  });

  it('a wrong CA: a clear error, nothing sent in plaintext, records stay spooled (exit 4)', async () => {
    const c = pki.client('siem2');
    const r = await otwatch([
      'read',
      '-q',
      '--learn-for',
      '1s',
      PLANT,
      '--export',
      `syslog+tls://localhost:${port}`,
      '--export-ca',
      pki.otherCa,
      '--export-cert',
      c.cert,
      '--export-key',
      c.key,
      '--sensor-id',
      'siem2',
      '--state',
      join(tmp, 'st2'),
      '--export-wait',
      '2',
    ]).exited;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot connect to syslog\+tls:\/\/localhost:\d+: the server certificate is not signed by the CA/);
    expect(readFileSync(out, 'utf8')).not.toMatch(/siem2/);
  });
});

// Each alert kind on a built capture, through the Engine with a Detector,
// against a baseline learned from the "normal" capture; and the quiet replay.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Baseline } from '../../src/detect/baseline.js';
import { parsePolicy } from '../../src/detect/policy.js';
import { type Clock, mergePackets } from '../../tools/pcapgen/capture.js';
import { REPO } from '../helpers/shared.js';
import { brief, clock, learn, modbusExchange, modbusReads, refused, runDetect, T0, tcp, tmpDir, udp, writePcap } from './helpers.js';
import * as S from './scenarios.js';
import { http } from './scenarios.js';

let dir: string;
let trainPath: string;
let base: Baseline;

/** Scenario packets on their own clock, 100 s after the training traffic. */
function later(build: (c: Clock) => ReturnType<typeof S.train>, name: string): string {
  return writePcap(dir, name, build(clock(T0 + 100)));
}

beforeAll(async () => {
  dir = tmpDir('alerts');
  trainPath = writePcap(dir, 'train.pcap', S.train());
  base = await learn([trainPath]);
});

describe('the learned baseline', () => {
  it('holds the listeners, apps, talkers and functions of the training capture', () => {
    const ep = base.endpoints.get(`-1/tcp/${S.PLC}/502`)!;
    expect(ep.learnedApps()).toEqual(['modbus']);
    expect([...ep.talkers.keys()].sort()).toEqual([S.MASTER, S.HMI].sort());
    const fns = (ip: string) => [...ep.talkers.get(ip)!.fns.values()].map((r) => `${r.fc}/${r.cls}`).sort();
    expect(fns(S.MASTER)).toEqual(['3/0']); // FC 3, class read
    expect(fns(S.HMI)).toEqual(['3/0', '6/1']); // FC 3 read, FC 6 write
    expect(base.endpoints.get(`-1/tcp/${S.PLC2}/5020`)!.learnedApps()).toEqual([]);
    expect(base.endpoints.get(`-1/tcp/${S.WEB}/80`)!.learnedApps()).toEqual(['other']);
    // 1 PLC + 1 PLC2 + 1 WEB + 25 RTUs; the refused SYNs of the scanner are no listeners.
    expect(base.endpoints.size).toBe(28);
    expect([...base.scanners.keys()]).toEqual([S.SCANNER]);
  });
});

describe('alerts', () => {
  it('replaying the training capture raises nothing', async () => {
    const r = await runDetect([trainPath], { baseline: base });
    expect(r.alerts).toEqual([]);
    expect(r.summary).toBeUndefined();
  });

  it('new_listener: SYN-ACK and UDP answers; not a RST, a silent SYN or an unanswered datagram', async () => {
    const r = await runDetect([later(S.newListener, 'listener.pcap')], { baseline: base });
    expect(r.alerts.map(brief).sort()).toEqual([
      `new_listener/high ${S.MASTER}:42000 -> ${S.PLC}:8080`,
      `new_listener/high ${S.MASTER}:42003 -> ${S.PLC}:161`,
    ]);
    const tcpAlert = r.alerts.find((a) => a.server.port === 8080)!;
    expect(tcpAlert.proto).toBe('tcp');
    expect(tcpAlert.community_id).toMatch(/^1:/);
    expect(tcpAlert.detail).toContain('accepted a TCP connection');
    expect(r.alerts.find((a) => a.server.port === 161)!.proto).toBe('udp');
  });

  it('unexpected_protocol: ICS by content on an odd port, HTTP on an ICS port, a changed protocol', async () => {
    const r = await runDetect([later(S.unexpectedProtocol, 'unexpected.pcap')], { baseline: base });
    const got = r.alerts.map((a) => `${brief(a)} app=${a.app}`).sort();
    // Besides: the first FC 3 reads of known talkers on these endpoints are new functions (low).
    expect(got).toEqual(
      [
        `new_function/low ${S.MASTER}:43000 -> ${S.PLC2}:5020 fc 3 read app=modbus`,
        `new_function/low 10.0.0.7:43002 -> ${S.WEB}:80 fc 3 read app=modbus`,
        `new_listener/high ${S.MASTER}:43001 -> ${S.PLC}:20000 app=null`,
        `unexpected_protocol/high 10.0.0.7:43002 -> ${S.WEB}:80 app=modbus`,
        `unexpected_protocol/high ${S.MASTER}:43001 -> ${S.PLC}:20000 app=null`,
        `unexpected_protocol/high ${S.MASTER}:43003 -> ${S.PLC}:502 app=null`,
        `unexpected_protocol/medium ${S.MASTER}:43000 -> ${S.PLC2}:5020 app=modbus`,
      ].sort(),
    );
    const d = (port: number) => r.alerts.find((a) => a.kind === 'unexpected_protocol' && a.server.port === port)!.detail;
    expect(d(5020)).toBe(`modbus found by content on TCP port 5020 of ${S.PLC2}, not its standard port 502.`);
    expect(d(20000)).toContain('standard dnp3 port');
    expect(d(80)).toContain('the baseline saw only');
  });

  it('new_function: a first write from a talker that only read is high; repeats are counted once per flow', async () => {
    const r = await runDetect([later(S.newFunction, 'function.pcap')], { baseline: base });
    expect(r.alerts.map(brief)).toEqual([
      `new_function/high ${S.MASTER}:44000 -> ${S.PLC}:502 fc 6 write`,
      `new_function/high ${S.MASTER}:44000 -> ${S.PLC}:502 fc 16 write`,
      `new_function/high ${S.MASTER}:44020 -> ${S.PLC}:502 fc 8 config`,
    ]);
    expect(r.alerts.every((a) => a.app === 'modbus')).toBe(true);
    // The second connection repeats both writes: 2 repeats, in the summary.
    expect(r.summary!.alerts).toBe(3);
    expect(r.summary!.repeats).toBe(2);
    expect(r.summary!.by_kind).toEqual({ new_function: 3 });
  });

  it('new_talker: a new client; its writes too, not its reads; a spoofed SYN-ACK-RST is no talker', async () => {
    const r = await runDetect([later(S.newTalker, 'talker.pcap')], { baseline: base });
    expect(r.alerts.map(brief)).toEqual([
      `new_talker/high 10.0.0.9:45000 -> ${S.PLC}:502`,
      `new_talker/high 10.0.0.10:45001 -> ${S.PLC}:502`,
      `new_function/high 10.0.0.10:45001 -> ${S.PLC}:502 fc 16 write`,
    ]);
    expect(r.alerts[0].detail).toBe(`10.0.0.9 talked to ${S.PLC}:502/tcp (modbus) for the first time; the baseline knows 2 clients there.`);
  });

  it('scan: a port scan and a host sweep; not a known master polling its RTUs, not a known scanner', async () => {
    const r = await runDetect([later(S.scan, 'scan.pcap')], { baseline: base });
    expect(r.alerts.map(brief)).toEqual([
      `scan/high 10.0.0.66:50020 -> ${S.PLC}:21`,
      `new_listener/high 10.0.0.66:50021 -> ${S.PLC}:22`,
      `scan/high 10.0.0.67:51021 -> 10.0.1.21:502`,
    ]);
    expect(r.alerts[0].detail).toBe(
      `10.0.0.66 touched 21 distinct TCP ports on ${S.PLC} within 60 s (threshold 20), answered or not: a port scan.`,
    );
    expect(r.alerts[2].detail).toBe(
      '10.0.0.67 touched TCP port 502 on 21 distinct hosts within 60 s (threshold 20), answered or not: a host sweep.',
    );
    // Ports 22-25 and hosts 22-30 after the crossing.
    const rep = Object.fromEntries(r.summary!.top_repeated.map((x: { fact: string; repeats: number }) => [x.fact, x.repeats]));
    expect(rep).toEqual({ [`scan 10.0.0.66 -> ${S.PLC} tcp ports`]: 4, 'scan 10.0.0.67 -> tcp port 502 hosts': 9 });
  });

  it('scan: without a baseline the master polling 25 RTUs is a sweep; a learned master is not a scanner', async () => {
    const p = later(S.scan, 'scan2.pcap');
    const policyOnly = parsePolicy({ zones: [{ name: 'all', cidrs: ['0.0.0.0/0'] }] });
    const r = await runDetect([p], { policy: policyOnly });
    expect(r.alerts.filter((a) => a.client.ip === S.MASTER).map((a) => a.kind)).toEqual(['scan']);
    expect(base.scanners.has(S.MASTER)).toBe(false);
  });

  it('thresholds are options: --scan-ports 30 lets the 25-port scan pass', async () => {
    const r = await runDetect([later(S.scan, 'scan3.pcap')], { baseline: base, scan: { ports: 30 } });
    expect(r.alerts.map((a) => a.kind)).toEqual(['new_listener', 'scan']);
  });

  it('replaying every scenario against a baseline learned from all of them raises nothing', async () => {
    const c = clock(T0 + 100);
    const all = [S.train(clock()), S.newListener(c), S.unexpectedProtocol(c), S.newFunction(c), S.newTalker(c), S.scan(c)];
    const p = writePcap(dir, 'all.pcap', mergePackets(...all));
    const b = await learn([p]);
    const r = await runDetect([p], { baseline: b });
    expect(r.alerts).toEqual([]);
    expect(r.summary).toBeUndefined();
  });

  it('replaying each repository fixture capture against the baseline learned from it raises nothing', async () => {
    const root = resolve(REPO, 'fixtures/pcaps');
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((n) => /\.pcap(ng)?$/.test(n));
    expect(files.length).toBeGreaterThan(20);
    const noisy: string[] = [];
    let endpoints = 0;
    for (const n of files) {
      const p = join(root, n);
      const b = await learn([p]);
      endpoints += b.endpoints.size;
      const r = await runDetect([p], { baseline: b });
      if (r.alerts.length > 0) noisy.push(`${n}: ${r.alerts.map(brief).join(', ')}`);
    }
    expect(noisy).toEqual([]);
    expect(endpoints).toBeGreaterThan(20);
  });

  it('--learn-for: learns the first part by capture time, then detects', async () => {
    // Training in the first second, the new facts 100 s later: learn 60 s.
    const p = writePcap(dir, 'learnfor.pcap', mergePackets(S.train(clock()), S.newFunction(clock(T0 + 100))));
    const r = await runDetect([p], { learnFor: 60 });
    expect(r.alerts.map(brief)).toEqual([
      `new_function/high ${S.MASTER}:44000 -> ${S.PLC}:502 fc 6 write`,
      `new_function/high ${S.MASTER}:44000 -> ${S.PLC}:502 fc 16 write`,
      `new_function/high ${S.MASTER}:44020 -> ${S.PLC}:502 fc 8 config`,
    ]);
    expect(r.detector.isLearning).toBe(false);
  });

  it('VLANs are part of an endpoint: the same server port in another VLAN is a new listener', async () => {
    const c = clock(T0 + 100);
    const s = tcp(c, { client: S.MASTER, server: S.PLC, cport: 47000, sport: 502, vlan: 10 }).handshake();
    s.send('c2s', S.read(1)).send('s2c', S.readResp(1)).close('c2s');
    const r = await runDetect([writePcap(dir, 'vlan.pcap', s.frames())], { baseline: base });
    expect(r.alerts.map((a) => `${a.kind} vlan=${a.vlan}`)).toEqual(['new_listener vlan=10']);
    expect(r.alerts[0].detail).toContain('in VLAN 10');
  });

  it('a closed port seen in training stays quiet when it is refused again', async () => {
    const c = clock(T0 + 100);
    const r = await runDetect([writePcap(dir, 'rst.pcap', refused(c, { client: S.MASTER, server: S.PLC, cport: 47100, sport: 8081 }))], {
      baseline: base,
    });
    expect(r.alerts).toEqual([]);
  });

  it('alert lines are valid JSON whatever the detail text holds', async () => {
    // Conduit names come from a file and reach the detail: quotes,
    // backslashes and control characters must be escaped.
    const name = 'say "hi"\\ and\nleave';
    const policy = parsePolicy({
      zones: [
        { name: 'ot', cidrs: ['10.0.0.20/32'] },
        { name: 'ops', cidrs: ['10.0.0.0/24'] },
      ],
      conduits: [{ name, from: 'ops', to: 'ot', functions: ['read'] }],
    });
    const c = clock(T0 + 100);
    const pk = modbusExchange(c, { client: S.MASTER, server: S.PLC, cport: 47200, sport: 502 }, [[S.write6(1), S.write6(1)]]);
    const r = await runDetect([writePcap(dir, 'esc.pcap', pk)], { policy });
    expect(r.alerts.map(brief)).toEqual([`zone_violation/high ${S.MASTER}:47200 -> ${S.PLC}:502 fc 6 write`]);
    expect(r.alerts[0].detail).toContain(`conduit "${name}" allows only read into the OT zone`);
  });
});

describe('zones and conduits', () => {
  const policy = parsePolicy({
    zones: [
      { name: 'ot', ot: true, cidrs: ['10.10.0.0/16'] },
      { name: 'dmz', cidrs: ['10.20.0.0/24'] },
      { name: 'it', cidrs: ['10.30.0.0/16'] },
    ],
    conduits: [
      { name: 'plc data to dmz', from: 'ot', to: 'dmz', proto: 'tcp', ports: [502], apps: ['modbus'], functions: ['read'] },
      { from: 'it', to: 'dmz', proto: 'tcp', ports: [443] },
    ],
  });

  it('flags what no conduit allows, above all inbound into OT; passes what conduits allow', async () => {
    const c = clock(T0 + 100);
    const pk = [
      // it -> ot: a Modbus read, and a refused attempt: both violations, high.
      ...modbusReads(c, { client: '10.30.1.5', server: '10.10.1.20', cport: 48000, sport: 502 }, 1),
      ...refused(c, { client: '10.30.1.5', server: '10.10.1.21', cport: 48001, sport: 502 }),
      // ot -> dmz Modbus reads: allowed by the conduit.
      ...modbusReads(c, { client: '10.10.1.5', server: '10.20.0.10', cport: 48002, sport: 502 }, 2),
      // ot -> dmz Modbus write FC 6: the conduit allows reads only.
      ...modbusExchange(c, { client: '10.10.1.5', server: '10.20.0.10', cport: 48003, sport: 502 }, [[S.write6(1), S.write6(1)]]),
      // ot -> dmz HTTP on 502: the conduit allows Modbus only.
      ...http(c, { client: '10.10.1.6', server: '10.20.0.10', cport: 48004, sport: 502 }),
      // it -> dmz 443: allowed (any content).
      ...http(c, { client: '10.30.1.5', server: '10.20.0.11', cport: 48005, sport: 443 }),
      // inside ot: not checked.
      ...modbusReads(c, { client: '10.10.1.5', server: '10.10.1.20', cport: 48006, sport: 502 }, 1),
      // dmz -> it: no conduit, medium.
      ...http(c, { client: '10.20.0.10', server: '10.30.1.5', cport: 48007, sport: 445 }),
      // ot -> multicast: not a connection.
      ...udp(c, { client: '10.10.1.5', server: '239.1.1.1', cport: 48008, sport: 5000 }).send('c2s', Buffer.from('hello')).frames(),
    ];
    const r = await runDetect([writePcap(dir, 'zones.pcap', pk)], { policy });
    expect(r.alerts.every((a) => a.kind === 'zone_violation')).toBe(true);
    expect(r.alerts.map((a) => `${brief(a)} app=${a.app}`)).toEqual([
      'zone_violation/high 10.30.1.5:48000 -> 10.10.1.20:502 app=undefined',
      'zone_violation/high 10.30.1.5:48001 -> 10.10.1.21:502 app=undefined',
      'zone_violation/medium 10.10.1.5:48003 -> 10.20.0.10:502 fc 6 write app=modbus',
      // The SYN names the initiator: checked at once. The app is known when identification gives up.
      'zone_violation/medium 10.20.0.10:48007 -> 10.30.1.5:445 app=undefined',
      'zone_violation/medium 10.10.1.6:48004 -> 10.20.0.10:502 app=null',
    ]);
    expect(r.alerts[0].detail).toBe(
      '10.30.1.5 (zone it) initiated a TCP connection to 10.10.1.20:502 (zone ot): inbound into the OT zone, and no conduit allows it to ot.',
    );
    expect(r.alerts[2].detail).toContain('conduit "plc data to dmz" allows only read');
    expect(r.alerts[4].detail).toContain('carries a protocol that is none of modbus, dnp3, iec104, opcua');
  });
});

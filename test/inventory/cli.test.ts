// The inventory end to end through the built CLI, on real captures: what
// `read --inventory` records, `inventory show/history` field names, reruns,
// staleness on a time-shifted copy (editcap), approval and its effect on the
// detector (no new_listener for an approved service), CSV import, prune.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, type Rec } from '../helpers/run.js';

const PLANT = fixture('gen', 'plant-sample.pcap');
const DNP3 = fixture('corpus', 'dnp3_read.pcap');
const OPCUA = fixture('corpus', 'open62541_client-server-getEndpoints.pcap');
const MODBUS = fixture('corpus', 'modbusSmall.pcap');

let dir: string;
const lines = (out: string): Rec[] =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
const db = (name: string) => join(dir, name);

function ok(args: string[]): string {
  const r = runCli(args);
  expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const newListeners = (recs: Rec[]) =>
  recs.filter((r) => r.type === 'alert' && r.kind === 'new_listener').map((r) => `${r.server.ip} ${r.proto}/${r.server.port}`);

function show(path: string): Rec[] {
  return lines(ok(['inventory', 'show', '--json', path]));
}

function history(path: string, ...extra: string[]): Rec[] {
  return lines(ok(['inventory', 'history', '--json', path, ...extra]));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'otwatch-inv-'));
});

describe('read --inventory on the plant sample', () => {
  let assets: Rec[];
  beforeAll(() => {
    ok(['read', '-q', '--inventory', db('plant.db'), '--sensor-id', 'span-1', PLANT]);
    assets = show(db('plant.db'));
  });

  it("prints one asset per line with exactly the issue's field names", () => {
    expect(assets.map((a) => a.ip)).toEqual(['10.10.1.1', '10.10.1.10', '10.10.1.21', '10.10.1.22', '10.10.1.30']);
    for (const a of assets) {
      expect(Object.keys(a)).toEqual([
        'type',
        'ip',
        'vlan',
        'mac',
        'vendor',
        'first_ts',
        'last_ts',
        'sensors',
        'roles',
        'identity',
        'services',
      ]);
      expect(a.type).toBe('asset');
      expect(a.sensors).toEqual(['span-1']);
      for (const r of a.roles) expect(Object.keys(r)).toEqual(['app', 'role', 'term', 'ids']);
      for (const s of a.services) {
        expect(Object.keys(s)).toEqual(['proto', 'port', 'app', 'status', 'first_ts', 'last_ts', 'flows', 'clients', 'classes']);
      }
    }
  });

  it("records roles in the protocol's words, protocol addresses, services with classes and the first frame's MAC", () => {
    const by = new Map(assets.map((a) => [a.ip, a]));
    const master = by.get('10.10.1.10')!;
    expect(master.roles).toEqual([
      { app: 'dnp3', role: 'client', term: 'master', ids: [{ kind: 'link_address', value: 1 }] },
      { app: 'modbus', role: 'client', term: 'client', ids: [] },
    ]);
    expect(master.services).toEqual([]); // it only connects out
    expect(master.mac).toBe('02:00:0a:0a:01:0a');
    expect(master.vendor).toBeNull(); // locally administered: no IEEE vendor
    const out = by.get('10.10.1.30')!;
    expect(out.roles).toEqual([{ app: 'dnp3', role: 'server', term: 'outstation', ids: [{ kind: 'link_address', value: 10 }] }]);
    expect(out.services).toEqual([
      expect.objectContaining({ proto: 'tcp', port: 20000, app: 'dnp3', status: 'baseline', flows: 1, clients: 1, classes: ['read'] }),
    ]);
    const plc = by.get('10.10.1.21')!;
    expect(plc.roles[0]).toEqual({ app: 'modbus', role: 'server', term: 'server', ids: [{ kind: 'unit_id', value: 1 }] });
    expect(plc.services[0]).toMatchObject({ proto: 'tcp', port: 502, app: 'modbus', classes: ['read', 'write'] });
    // A UDP service without an ICS protocol is still a service (NTP answered).
    expect(by.get('10.10.1.1')!.services).toEqual([expect.objectContaining({ proto: 'udp', port: 123, app: null })]);
  });

  it('agrees with the flow records: every answered server endpoint is a service, every sender an asset', () => {
    const flows = lines(ok(['read', '--json', PLANT])).filter((r) => r.type === 'flow');
    const senders = new Set<string>();
    const answered = new Set<string>();
    for (const f of flows) {
      if (f.pkts.c2s > 0) senders.add(f.client.ip);
      if (f.pkts.s2c > 0) {
        senders.add(f.server.ip);
        answered.add(`${f.server.ip} ${f.proto}/${f.server.port}`);
      }
    }
    expect(new Set(assets.map((a) => a.ip))).toEqual(senders);
    expect(new Set(assets.flatMap((a) => a.services.map((s: Rec) => `${a.ip} ${s.proto}/${s.port}`)))).toEqual(answered);
  });

  it("history: one row per change with exactly the issue's fields; a rerun adds counts, not history", () => {
    const h = history(db('plant.db'));
    for (const c of h) expect(Object.keys(c)).toEqual(['type', 'ts', 'kind', 'ip', 'proto', 'port', 'app', 'detail']);
    const kinds = h.map((c) => c.kind);
    expect(kinds.filter((k) => k === 'asset_appeared').length).toBe(5);
    expect(kinds.filter((k) => k === 'service_appeared').length).toBe(4);
    expect(kinds.filter((k) => k === 'role_appeared').length).toBe(5);
    const write = h.find((c) => c.kind === 'function_class_new' && c.ip === '10.10.1.21' && c.detail.startsWith('write'));
    expect(write).toMatchObject({ proto: 'tcp', port: 502, app: 'modbus' });
    ok(['read', '-q', '--inventory', db('plant.db'), '--sensor-id', 'span-1', PLANT]);
    expect(history(db('plant.db'))).toEqual(h);
    const again = show(db('plant.db'));
    expect(again.find((a) => a.ip === '10.10.1.30')!.services[0].flows).toBe(2);
    const last = h[h.length - 1].ts;
    expect(history(db('plant.db'), '--since', new Date(last * 1000).toISOString())).toEqual(h.filter((c) => c.ts >= last));
  });

  it('--csv prints one row per service under a header', () => {
    const csv = ok(['inventory', 'show', '--csv', db('plant.db')])
      .trimEnd()
      .split('\n');
    expect(csv[0].split(',').slice(0, 4)).toEqual(['ip', 'vlan', 'mac', 'vendor']);
    // 5 assets, 4 services, the master has none: 4 + 1 rows.
    expect(csv.length).toBe(1 + 5);
    expect(csv.find((l) => l.startsWith('10.10.1.30,'))).toMatch(/,tcp,20000,dnp3,baseline,/);
  });
});

describe('identity and vendors on corpus captures', () => {
  it("MAC vendors are the IEEE registry's, as tshark resolves them", () => {
    ok(['read', '-q', '--inventory', db('dnp3.db'), DNP3]);
    const tsh = execFileSync('tshark', ['-r', DNP3, '-T', 'fields', '-e', 'ip.src', '-e', 'eth.src', '-e', 'eth.src.oui_resolved'], {
      encoding: 'utf8',
    });
    const want = new Map(
      tsh
        .trim()
        .split('\n')
        .map((l) => l.split('\t'))
        .map(([ip, mac, v]) => [ip, [mac, v]]),
    );
    const assets = show(db('dnp3.db'));
    expect(assets.length).toBe(2);
    for (const a of assets) expect([a.mac, a.vendor]).toEqual(want.get(a.ip));
    const outstation = assets.find((a) => a.ip === '130.126.140.229')!;
    expect(outstation.roles[0]).toMatchObject({ term: 'outstation', ids: [{ kind: 'link_address', value: 2 }] });
  });

  it('OPC UA: endpoint URL (from HEL, before the protocol is confirmed) and security policy of the server', () => {
    ok(['read', '-q', '--inventory', db('opcua.db'), OPCUA]);
    const [a] = show(db('opcua.db'));
    const server = a.roles.find((r: Rec) => r.role === 'server');
    expect(server.ids).toEqual([
      { kind: 'endpoint_url', value: 'opc.tcp://localhost:4840' },
      { kind: 'security_mode', value: 'None' },
      { kind: 'security_policy', value: 'http://opcfoundation.org/UA/SecurityPolicy#None' },
    ]);
    // tshark agrees on both strings.
    const fields = ['-e', 'opcua.transport.endpoint', '-e', 'opcua.security.spu'];
    const t = execFileSync('tshark', ['-r', OPCUA, '-T', 'fields', ...fields], { encoding: 'utf8' });
    expect(t).toContain('opc.tcp://localhost:4840');
    expect(t).toContain('http://opcfoundation.org/UA/SecurityPolicy#None');
  });
});

describe('staleness on a time-shifted copy of the capture', () => {
  it('a service silent for --stale-after goes stale (history), and one that answers again comes back', () => {
    const noDnp3 = join(dir, 'no-dnp3.pcap');
    const later = join(dir, 'later-no-dnp3.pcap');
    const muchLater = join(dir, 'much-later.pcap');
    execFileSync('tcpdump', ['-r', PLANT, '-w', noDnp3, 'not port 20000'], { stdio: 'ignore' });
    execFileSync('editcap', ['-t', String(40 * 86400), noDnp3, later]);
    execFileSync('editcap', ['-t', String(80 * 86400), PLANT, muchLater]);
    const p = db('stale.db');
    ok(['read', '-q', '--inventory', p, PLANT]);
    ok(['read', '-q', '--inventory', p, later]);
    let svc = show(p).find((a) => a.ip === '10.10.1.30')!.services[0];
    expect(svc.status).toBe('stale');
    expect(show(p).find((a) => a.ip === '10.10.1.21')!.services[0].status).toBe('baseline');
    const stale = history(p).filter((c) => c.kind === 'service_stale');
    expect(stale).toEqual([expect.objectContaining({ ip: '10.10.1.30', proto: 'tcp', port: 20000, app: 'dnp3' })]);
    ok(['read', '-q', '--inventory', p, muchLater]);
    svc = show(p).find((a) => a.ip === '10.10.1.30')!.services[0];
    expect(svc.status).toBe('baseline');
    expect(history(p).filter((c) => c.kind === 'service_back')).toEqual([expect.objectContaining({ ip: '10.10.1.30', port: 20000 })]);
    // --stale-after is also the show's own choice: with 1 s every service of the older runs is stale.
    const short = lines(ok(['inventory', 'show', '--json', '--stale-after', '1s', p]));
    expect(short.flatMap((a) => a.services.map((s: Rec) => s.status))).toContain('stale');
  });
});

describe('approval, alerts and the detector', () => {
  it('a service new to the baseline is unapproved with its new_listener alert linked; once approved the detector stays quiet', () => {
    const otb = join(dir, 'modbus.otb');
    ok(['baseline', 'learn', MODBUS, '-o', otb]);
    const p = db('approve.db');
    const first = lines(ok(['read', '--json', '--baseline', otb, '--inventory', p, PLANT]));
    const listeners = newListeners(first);
    expect(listeners).toContain('10.10.1.30 tcp/20000');
    const svc = () => show(p).find((a) => a.ip === '10.10.1.30')!.services[0];
    expect(svc().status).toBe('unapproved');
    const conn = new Database(p, { readonly: true });
    const link = conn.prepare(`SELECT alert_ts, alert_community_id FROM service WHERE ip = '10.10.1.30'`).get() as Rec;
    const alert = first.find((r) => r.type === 'alert' && r.kind === 'new_listener' && r.server.ip === '10.10.1.30');
    expect(alert).toBeDefined();
    expect(link).toEqual({ alert_ts: alert?.ts, alert_community_id: alert?.community_id });
    expect(conn.prepare(`SELECT COUNT(*) AS n FROM alert`).get()).toEqual({ n: first.filter((r) => r.type === 'alert').length });
    conn.close();

    const r = runCli([
      'inventory',
      'approve',
      p,
      '10.10.1.30',
      'tcp/20000',
      '--reason',
      'DNP3 outstation polled by SCADA',
      '--by',
      'alice',
      '--ticket',
      'CHG-42',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(svc().status).toBe('approved');
    const given = history(p).filter((c) => c.kind === 'approval_given');
    expect(given).toEqual([expect.objectContaining({ ip: '10.10.1.30', proto: 'tcp', port: 20000, app: 'dnp3' })]);
    expect(given[0].detail).toBe('10.10.1.30 tcp/20000 approved by alice (ticket CHG-42): DNP3 outstation polled by SCADA');

    const second = lines(ok(['read', '--json', '--baseline', otb, '--inventory', p, PLANT]));
    const again = newListeners(second);
    expect(again).not.toContain('10.10.1.30 tcp/20000');
    expect(again.length).toBe(listeners.length - 1);

    expect(runCli(['inventory', 'withdraw', p, '10.10.1.30', 'tcp/20000', '--reason', 'decommissioned', '--by', 'bob']).code).toBe(0);
    expect(svc().status).toBe('unapproved'); // its alert is still on record
    expect(history(p).map((c) => c.kind)).toContain('approval_withdrawn');
    expect(runCli(['inventory', 'withdraw', p, '10.10.1.30', 'tcp/20000', '--reason', 'x', '--by', 'bob']).code).toBe(1);
  });

  it('import: approvals from a change-management CSV, all or none', () => {
    const p = db('import.db');
    ok(['read', '-q', '--inventory', p, PLANT]);
    const good = join(dir, 'ports.csv');
    writeFileSync(
      good,
      [
        'ip,service,reason,by,ticket',
        '10.10.1.21,tcp/502,"HMI polling, per drawing P-101",carol,CHG-7',
        '10.10.1.22,tcp/502,HMI polling,carol,',
        '',
      ].join('\n'),
    );
    const r = runCli(['inventory', 'import', p, good]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2 approvals imported/);
    const st = show(p)
      .filter((a) => a.ip.startsWith('10.10.1.2'))
      .map((a) => a.services[0].status);
    expect(st).toEqual(['approved', 'approved']);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'ip,proto,port,reason,by\n10.10.1.30,tcp,20000,ok,dave\n10.10.1.1,udp,99999,bad port,dave\n');
    const b = runCli(['inventory', 'import', p, bad]);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`otwatch: inventory import: ${bad}: CSV line 3: bad service 'udp/99999' (expected PROTO/PORT, e.g. tcp/502)\n`);
    expect(show(p).find((a) => a.ip === '10.10.1.30')!.services[0].status).toBe('baseline'); // line 2 was not applied either
  });

  it('approve: bad input is a usage error or one clear line', () => {
    const p = db('plant.db');
    expect(runCli(['inventory', 'approve', p, '10.10.1.30', 'tcp/20000', '--by', 'x']).stderr).toMatch(/needs --reason/);
    const bad = runCli(['inventory', 'approve', p, '10.10.1.300', 'tcp/20000', '--by', 'x', '--reason', 'y']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("otwatch: inventory approve: bad IP address '10.10.1.300'\n");
  });
});

describe('prune', () => {
  it('deletes history only when asked, and logs it', () => {
    const p = db('prune.db');
    ok(['read', '-q', '--inventory', p, PLANT]);
    const h = history(p);
    const cut = h[Math.floor(h.length / 2)].ts;
    const r = runCli(['inventory', 'prune', p, '--before', String(cut), '--by', 'auditor']);
    expect(r.code, r.stderr).toBe(0);
    const left = history(p);
    expect(left).toEqual(h.filter((c) => c.ts >= cut));
    const conn = new Database(p, { readonly: true });
    expect(conn.prepare(`SELECT before_ts, rows_deleted, pruned_by FROM prune_log`).all()).toEqual([
      { before_ts: cut, rows_deleted: h.length - left.length, pruned_by: 'auditor' },
    ]);
    conn.close();
  });
});

describe('read --inventory options', () => {
  it('refuses --workers above 1', () => {
    const r = runCli(['read', '-q', '--workers', '2', '--inventory', db('w.db'), PLANT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--inventory runs on one thread/);
  });
});

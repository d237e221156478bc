// A deterministic synthetic plant inventory for the report's scale bench and
// tests: OT cells of controllers (Modbus, DNP3, IEC 104, OPC UA, ENIP) with
// their HMIs and masters in 10.10.x.0/24, a DMZ and some IT hosts; some
// services approved, some unapproved with a new_listener alert, some stale.
import type { ReportAlert, ReportAsset, ReportChange, ReportSnapshot, ReportTalk } from '../src/report/model.js';
import { mulberry32 } from './prng.js';

const APPS = [
  { app: 'modbus', port: 502, terms: ['master', 'slave'], ids: 'unit_id' },
  { app: 'dnp3', port: 20000, terms: ['master', 'outstation'], ids: 'link_address' },
  { app: 'iec104', port: 2404, terms: ['controlling', 'controlled'], ids: 'common_address' },
  { app: 'opcua', port: 4840, terms: ['client', 'server'], ids: 'endpoint_url' },
  { app: 'enip', port: 44818, terms: ['originator', 'target'], ids: 'slot' },
] as const;
const VENDORS = [
  ['Schneider Electric', 'BMX P34 2020', 'v2.70'],
  ['Siemens', 'SIMATIC S7-1500', 'V2.9.4'],
  ['Rockwell Automation', '1756-L83E ControlLogix', '33.011'],
  ['ABB', 'RTU560', '13.2'],
  ['SEL', 'SEL-3530 RTAC', 'R148'],
] as const;
const CLASSES = ['read', 'write', 'control', 'config', 'diagnostic'] as const;
const hex2 = (x: number) => x.toString(16).padStart(2, '0');

export interface SynthOptions {
  assets: number;
  seed?: number;
  t0?: number;
  /** Put markup, quotes and formula text into identity fields (escaping tests). */
  hostile?: boolean;
}

export function synthInventory(o: SynthOptions): ReportSnapshot {
  const rnd = mulberry32(o.seed ?? 1);
  const t0 = o.t0 ?? 1_764_000_000;
  const day = 86_400;
  const t1 = t0 + 60 * day;
  const assets: ReportAsset[] = [];
  const talks: ReportTalk[] = [];
  const alerts: ReportAlert[] = [];
  const changes: ReportChange[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  // Cells of 24 controllers and 4 clients; the last tenth of the addresses is IT.
  const perCell = 28;
  let cell = 0;
  let cellClients: ReportAsset[] = [];
  for (let i = 0; i < o.assets; i++) {
    const k = i % perCell;
    if (k === 0) {
      cell++;
      cellClients = [];
    }
    const it = i >= o.assets * 0.9;
    const ip = it ? `10.30.${Math.floor(i / 250) % 256}.${(i % 250) + 1}` : `10.10.${cell % 256}.${k + 10 + Math.floor(cell / 256) * 40}`;
    const first = t0 + Math.floor(rnd() * 10 * day);
    const a: ReportAsset = {
      ip,
      vlan: it ? null : 100 + (cell % 8),
      mac: `02:00:${[i >> 16, (i >> 8) & 255, i & 255].map(hex2).join(':')}:01`,
      vendor: it ? null : 'Example OUI Corp',
      first_ts: first,
      last_ts: t1 - Math.floor(rnd() * day),
      sensors: [`sensor-${(cell % 3) + 1}`],
      roles: [],
      identity: {},
      services: [],
    };
    assets.push(a);
    changes.push({ ts: first, kind: 'asset_appeared', ip, proto: null, port: null, app: null, detail: null });
    if (it) continue;
    const spec = APPS[cell % APPS.length];
    if (k < 4) {
      a.roles.push({ app: spec.app, role: 'client', term: spec.terms[0], ids: [] });
      cellClients.push(a);
      continue;
    }
    const [vendor, product, revision] = pick(VENDORS);
    a.identity =
      o.hostile && k === 5
        ? { vendor: '<script>alert(1)</script>', product_name: '"><img src=x onerror=alert(2)>', revision: '=HYPERLINK("http://x")' }
        : { vendor, product_name: product, revision };
    a.roles.push({ app: spec.app, role: 'server', term: spec.terms[1], ids: [spec.ids === 'endpoint_url' ? `opc.tcp://${ip}:4840` : k] });
    const roll = rnd();
    const status = roll < 0.05 ? 'unapproved' : roll < 0.1 ? 'stale' : roll < 0.5 ? 'approved' : 'baseline';
    const classes = rnd() < 0.2 ? ['read', pick(CLASSES)] : ['read'];
    const sfirst = first + 3600;
    a.services.push({
      proto: 'tcp',
      port: spec.port,
      app: spec.app,
      status,
      first_ts: sfirst,
      last_ts: a.last_ts,
      flows: 1 + Math.floor(rnd() * 500),
      clients: cellClients.length,
      classes: [...new Set(classes)],
      ...(status === 'approved'
        ? { reason: 'process control, in the cell design', approver: 'j.doe', ticket: `CHG-${1000 + i}`, approved_ts: sfirst + day }
        : {}),
    });
    changes.push({ ts: sfirst, kind: 'service_appeared', ip, proto: 'tcp', port: spec.port, app: spec.app, detail: null });
    if (rnd() < 0.1) {
      a.services.push({
        proto: 'tcp',
        port: 80,
        app: null,
        status: 'baseline',
        first_ts: sfirst,
        last_ts: a.last_ts,
        flows: 3,
        clients: 1,
        classes: [],
      });
    }
    if (status === 'unapproved') {
      alerts.push({
        ts: sfirst,
        kind: 'new_listener',
        severity: 'high',
        client: cellClients[0]?.ip ?? null,
        server: ip,
        proto: 'tcp',
        port: spec.port,
        app: spec.app,
        detail: `${ip} answered on tcp/${spec.port} (${spec.app}) for the first time`,
      });
    }
    for (const c of cellClients) {
      const flows = 1 + Math.floor(rnd() * 100);
      const cls = [...new Set(classes)];
      talks.push({ client: c.ip, server: ip, vlan: a.vlan, proto: 'tcp', port: spec.port, app: spec.app, flows, classes: cls });
    }
  }
  // IT hosts read a few OPC UA servers through the DMZ historian.
  const hist: ReportAsset = {
    ip: '10.20.0.5',
    vlan: null,
    mac: null,
    vendor: null,
    first_ts: t0,
    last_ts: t1,
    sensors: ['sensor-1'],
    roles: [{ app: 'opcua', role: 'client', term: 'client', ids: [] }],
    identity: { application_name: 'Historian replica' },
    services: [
      {
        proto: 'tcp',
        port: 443,
        app: null,
        status: 'approved',
        first_ts: t0,
        last_ts: t1,
        flows: 40,
        clients: 3,
        classes: [],
        reason: 'historian web',
        approver: 'a.smith',
        ticket: 'CHG-7',
        approved_ts: t0 + day,
      },
    ],
  };
  assets.push(hist);
  for (const a of assets) {
    if (a.roles.some((r) => r.app === 'opcua' && r.role === 'server') && rnd() < 0.5) {
      talks.push({
        client: hist.ip,
        server: a.ip,
        vlan: null,
        proto: 'tcp',
        port: 4840,
        app: 'opcua',
        flows: 12,
        classes: ['read', 'session'],
      });
    }
  }
  alerts.push({
    ts: t1 - day,
    kind: 'zone_violation',
    severity: 'high',
    client: assets[assets.length - 2]?.ip ?? null,
    server: assets[5]?.ip ?? null,
    proto: 'tcp',
    port: 502,
    app: 'modbus',
    detail: 'it -> ot: no conduit allows this connection',
  });
  return { first_ts: t0, last_ts: t1, sensors: ['sensor-1', 'sensor-2', 'sensor-3'], since: t1 - 35 * day, assets, changes, alerts, talks };
}

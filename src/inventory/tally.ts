// What the inventory learned since its last write, kept on the writer
// thread (the Aggregator fills it from flow events) without allocating per
// flow. Assets and services are rows that live across writes, found by
// number (IPv4: VLAN and address in one key; a service: its asset's row id,
// port and transport), so a flow end of a known conversation only moves
// timestamps and counters. A row is "dirty" once touched; a write takes the
// dirty rows as one Batch and resets them. Address text is made once per
// asset row, not per flow.
import {
  type AlertRec,
  AssetAgg,
  assetKey,
  Batch,
  FactAgg,
  MAX_BATCH_CLIENTS,
  MAX_BATCH_FACTS,
  RoleAgg,
  ServiceAgg,
  serviceKey,
} from './batch.js';

/** Rows kept between writes; past this the tables start over after the next one (a scan of a /8). */
export const MAX_ROWS = 1 << 18;
/** Services of one asset found by a scan of its list; more get a map. */
const SCAN_SERVICES = 16;

export class RoleTally {
  first = Infinity;
  last = -Infinity;
  constructor(
    readonly app: string,
    readonly role: 'client' | 'server',
    readonly term: string,
  ) {}
}

export class AssetTally {
  first = Infinity;
  last = -Infinity;
  mac: string | null = null;
  dirty = false;
  readonly roles: RoleTally[] = [];
  readonly services: ServiceTally[] = [];
  serviceMap: Map<number, ServiceTally> | null = null;
  /** Since the last write. */
  facts: FactAgg[] = [];
  constructor(
    readonly id: number,
    readonly vlan: number,
    readonly ip: string,
  ) {}
}

export class ServiceTally {
  first = Infinity;
  last = -Infinity;
  app: string | null = null;
  appTs = 0;
  flows = 0;
  classes = 0;
  dirty = false;
  /** Client asset row ids. */
  readonly clients = new Set<number>();
  constructor(
    readonly asset: AssetTally,
    readonly proto: 'tcp' | 'udp',
    readonly port: number,
  ) {}
}

export class Tally {
  /** IPv4 rows per VLAN, keyed by the address as int32 (a small integer key hashes fastest). */
  private readonly v4 = new Map<number, Map<number, AssetTally>>();
  private lastVlan = Number.NaN;
  private lastV4: Map<number, AssetTally> | null = null;
  private readonly other = new Map<string, AssetTally>();
  private readonly byId: AssetTally[] = [];
  private serviceRows = 0;
  private dirtyAssets: AssetTally[] = [];
  private dirtyServices: ServiceTally[] = [];
  alerts: AlertRec[] = [];
  /** Newest capture time covered. */
  clock = 0;

  /** Entries to write: dirty rows and alerts. */
  get size(): number {
    return this.dirtyAssets.length + this.dirtyServices.length + this.alerts.length;
  }

  /** The IPv4 asset row (made on first sight; `text` gives its address text then). */
  row4(vlan: number, ip: number, text: (ip: number) => string): AssetTally {
    let m = this.lastV4;
    if (vlan !== this.lastVlan || m === null) {
      m = this.v4.get(vlan) ?? null;
      if (m === null) {
        m = new Map();
        this.v4.set(vlan, m);
      }
      this.lastVlan = vlan;
      this.lastV4 = m;
    }
    const k = ip | 0;
    let a = m.get(k);
    if (a === undefined) {
      a = this.add(vlan, text(ip));
      m.set(k, a);
    }
    return a;
  }

  /** Any other address family, by its text. */
  rowText(vlan: number, ip: string): AssetTally {
    const k = `${vlan} ${ip}`;
    let a = this.other.get(k);
    if (a === undefined) {
      a = this.add(vlan, ip);
      this.other.set(k, a);
    }
    return a;
  }

  private add(vlan: number, ip: string): AssetTally {
    const a = new AssetTally(this.byId.length, vlan, ip);
    this.byId.push(a);
    return a;
  }

  /** The asset sent or received in [first, last]: it is written at the next write. */
  seen(a: AssetTally, first: number, last: number): AssetTally {
    if (!a.dirty) {
      a.dirty = true;
      this.dirtyAssets.push(a);
    }
    if (first < a.first) a.first = first;
    if (last > a.last) a.last = last;
    return a;
  }

  role(a: AssetTally, app: string, role: 'client' | 'server', term: string, first: number, last: number): void {
    let r: RoleTally | undefined;
    for (const x of a.roles) {
      if (x.app === app && x.role === role) {
        r = x;
        break;
      }
    }
    if (r === undefined) {
      r = new RoleTally(app, role, term);
      a.roles.push(r);
    }
    if (first < r.first) r.first = first;
    if (last > r.last) r.last = last;
  }

  fact(
    a: AssetTally,
    app: string,
    role: 'client' | 'server',
    what: 'address' | 'identity',
    key: string,
    value: string,
    first: number,
    last: number,
  ): void {
    // A few facts per asset, the same ones flow after flow: a scan of interned strings, no key text.
    const fs = a.facts;
    for (const f of fs) {
      if (f.value === value && f.key === key && f.app === app && f.role === role && f.what === what) {
        if (first < f.first) f.first = first;
        if (last > f.last) f.last = last;
        return;
      }
    }
    if (fs.length < MAX_BATCH_FACTS) fs.push(new FactAgg(app, role, what, key, value, first, last));
  }

  service(server: AssetTally, tcp: boolean, port: number, first: number, last: number): ServiceTally {
    // An asset offers a few services: a scan of its own list; a host with many (a port scan answered)
    // gets a map by port.
    const proto = tcp ? 'tcp' : 'udp';
    const list = server.services;
    let s: ServiceTally | undefined;
    if (server.serviceMap !== null) s = server.serviceMap.get(port * 2 + (tcp ? 1 : 0));
    else {
      for (const x of list) {
        if (x.port === port && x.proto === proto) {
          s = x;
          break;
        }
      }
    }
    if (s === undefined) {
      s = new ServiceTally(server, proto, port);
      list.push(s);
      if (server.serviceMap !== null) server.serviceMap.set(port * 2 + (tcp ? 1 : 0), s);
      else if (list.length > SCAN_SERVICES) server.serviceMap = new Map(list.map((x) => [x.port * 2 + (x.proto === 'tcp' ? 1 : 0), x]));
      this.serviceRows++;
    }
    if (!s.dirty) {
      s.dirty = true;
      this.dirtyServices.push(s);
    }
    if (first < s.first) s.first = first;
    if (last > s.last) s.last = last;
    return s;
  }

  client(s: ServiceTally, client: AssetTally): void {
    if (s.clients.size < MAX_BATCH_CLIENTS) s.clients.add(client.id);
  }

  /** The dirty rows and alerts as the writer's Batch; the rows are reset for the next one. */
  takeBatch(): Batch {
    const b = new Batch();
    for (const a of this.dirtyAssets) {
      const agg = new AssetAgg(a.vlan, a.ip, a.first, a.last);
      agg.mac = a.mac;
      for (const r of a.roles) {
        if (r.last === -Infinity) continue;
        agg.roles.set(`${r.app} ${r.role}`, new RoleAgg(r.app, r.role, r.term, r.first, r.last));
        r.first = Infinity;
        r.last = -Infinity;
      }
      for (const f of a.facts) agg.facts.set(`${f.app} ${f.role} ${f.what} ${f.key} ${f.value}`, f);
      if (a.facts.length > 0) a.facts = [];
      b.assets.set(assetKey(a.vlan, a.ip), agg);
      a.first = Infinity;
      a.last = -Infinity;
      a.dirty = false;
    }
    for (const s of this.dirtyServices) {
      const a = s.asset;
      const agg = new ServiceAgg(a.vlan, a.ip, s.proto, s.port, s.first, s.last);
      agg.app = s.app;
      agg.appTs = s.appTs;
      agg.flows = s.flows;
      agg.classes = s.classes;
      for (const id of s.clients) agg.clients.add(this.byId[id].ip);
      b.services.set(serviceKey(a.vlan, a.ip, s.proto, s.port), agg);
      s.first = Infinity;
      s.last = -Infinity;
      s.app = null;
      s.appTs = 0;
      s.flows = 0;
      s.classes = 0;
      s.clients.clear();
      s.dirty = false;
    }
    for (const al of this.alerts) b.alerts.push(al);
    b.clock = this.clock;
    this.dirtyAssets = [];
    this.dirtyServices = [];
    this.alerts = [];
    // Every row is clean now: the place to start over when the tables have grown too large.
    if (this.byId.length > MAX_ROWS || this.serviceRows > MAX_ROWS) this.reset();
    return b;
  }

  private reset(): void {
    this.v4.clear();
    this.lastV4 = null;
    this.lastVlan = Number.NaN;
    this.other.clear();
    this.byId.length = 0;
    this.serviceRows = 0;
  }
}

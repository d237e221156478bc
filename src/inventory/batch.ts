// What the inventory learned since its last write: assets and services
// touched, with their facts, keyed by text. Filled at flow ends (not per
// packet) and emptied by each write, so it holds a few seconds of traffic.

/** Distinct clients of one service kept in one batch (a spoofed flood must not grow it). */
export const MAX_BATCH_CLIENTS = 1024;
/** Identity/address facts per asset in one batch. */
export const MAX_BATCH_FACTS = 64;

export class RoleAgg {
  constructor(
    readonly app: string,
    readonly role: 'client' | 'server',
    readonly term: string,
    public first: number,
    public last: number,
  ) {}
}

export class FactAgg {
  constructor(
    readonly app: string,
    readonly role: 'client' | 'server',
    /** 'address' (protocol address) or 'identity' (device attribute). */
    readonly what: 'address' | 'identity',
    readonly key: string,
    readonly value: string,
    public first: number,
    public last: number,
  ) {}
}

export class AssetAgg {
  mac: string | null = null;
  readonly roles = new Map<string, RoleAgg>();
  readonly facts = new Map<string, FactAgg>();
  constructor(
    readonly vlan: number,
    readonly ip: string,
    public first: number,
    public last: number,
  ) {}

  seen(first: number, last: number): void {
    if (first < this.first) this.first = first;
    if (last > this.last) this.last = last;
  }
}

export class ServiceAgg {
  /** Latest application confirmed here in this batch (null: none). */
  app: string | null = null;
  appTs = 0;
  flows = 0;
  readonly clients = new Set<string>();
  /** Function classes used, one bit per class index. */
  classes = 0;
  constructor(
    readonly vlan: number,
    readonly ip: string,
    readonly proto: 'tcp' | 'udp',
    readonly port: number,
    public first: number,
    public last: number,
  ) {}
}

export interface AlertRec {
  ts: number;
  kind: string;
  severity: string;
  community_id: string | null;
  vlan: number;
  client_ip: string | null;
  client_port: number | null;
  server_ip: string | null;
  server_port: number | null;
  proto: string | null;
  app: string | null;
  detail: string;
}

export const assetKey = (vlan: number, ip: string): string => `${vlan} ${ip}`;
export const serviceKey = (vlan: number, ip: string, proto: string, port: number): string => `${vlan} ${ip} ${proto} ${port}`;

export class Batch {
  readonly assets = new Map<string, AssetAgg>();
  readonly services = new Map<string, ServiceAgg>();
  readonly alerts: AlertRec[] = [];
  /** Newest capture time covered. */
  clock = 0;

  asset(vlan: number, ip: string, first: number, last: number): AssetAgg {
    const k = assetKey(vlan, ip);
    let a = this.assets.get(k);
    if (a === undefined) {
      a = new AssetAgg(vlan, ip, first, last);
      this.assets.set(k, a);
    } else a.seen(first, last);
    return a;
  }

  service(vlan: number, ip: string, proto: 'tcp' | 'udp', port: number, first: number, last: number): ServiceAgg {
    const k = serviceKey(vlan, ip, proto, port);
    let s = this.services.get(k);
    if (s === undefined) {
      s = new ServiceAgg(vlan, ip, proto, port, first, last);
      this.services.set(k, s);
    } else {
      if (first < s.first) s.first = first;
      if (last > s.last) s.last = last;
    }
    return s;
  }

  get size(): number {
    return this.assets.size + this.services.size + this.alerts.length;
  }

  clear(): void {
    this.assets.clear();
    this.services.clear();
    this.alerts.length = 0;
  }
}

/** A batch as the writer thread gets it: one JSON text (Tally.takeWire writes it; V8 writes and reads
 *  JSON several times faster than it structured-clones Maps of objects). Read back into a Batch. */
export function batchFromWire(text: string): Batch {
  const [assets, services, alerts, clock] = JSON.parse(text) as [unknown[], unknown[], AlertRec[], number];
  const b = new Batch();
  for (let i = 0; i < assets.length; i += 7) {
    const a = b.asset(assets[i] as number, assets[i + 1] as string, assets[i + 3] as number, assets[i + 4] as number);
    a.mac = assets[i + 2] as string | null;
    const roles = assets[i + 5] as never[];
    for (let j = 0; j < roles.length; j += 5) {
      a.roles.set(`${roles[j]} ${roles[j + 1]}`, new RoleAgg(roles[j], roles[j + 1], roles[j + 2], roles[j + 3], roles[j + 4]));
    }
    const facts = assets[i + 6] as never[];
    for (let j = 0; j < facts.length; j += 7) {
      const f = new FactAgg(facts[j], facts[j + 1], facts[j + 2], facts[j + 3], facts[j + 4], facts[j + 5], facts[j + 6]);
      a.facts.set(`${f.app} ${f.role} ${f.what} ${f.key} ${f.value}`, f);
    }
  }
  for (let i = 0; i < services.length; i += 11) {
    const x = services as never[];
    const v = b.service(x[i], x[i + 1], x[i + 2], x[i + 3], x[i + 9], x[i + 10]);
    v.app = x[i + 4];
    v.appTs = x[i + 5];
    v.flows = x[i + 6];
    for (const c of x[i + 7] as string[]) v.clients.add(c);
    v.classes = x[i + 8];
  }
  for (const al of alerts) b.alerts.push(al);
  b.clock = clock;
  return b;
}

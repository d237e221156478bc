// One write of the inventory: assets and services touched since the last
// one, with their facts, keyed by text (Tally.takeBatch builds it from the
// rows it holds), so it holds a few seconds of traffic.

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

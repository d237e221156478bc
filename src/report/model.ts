// What a report is built from: a plain snapshot of the inventory, shaped like
// `otwatch inventory show --json` (assets with roles, identity and services)
// and `inventory history --json` (changes), plus the alerts and the talker
// pairs the map draws. Every string in it came off the wire or out of a file
// someone else wrote: the report escapes all of them.

export type ServiceStatus = 'baseline' | 'approved' | 'unapproved' | 'stale';

export interface ReportRole {
  app: string;
  role: 'client' | 'server';
  /** The protocol's own word: master, outstation, controlling, ... */
  term: string;
  ids: (string | number)[];
}

export interface ReportService {
  proto: string;
  port: number;
  app: string | null;
  status: ServiceStatus | string;
  first_ts: number;
  last_ts: number;
  flows: number;
  clients: number;
  classes: string[];
  /** Approval, when given (approved services). */
  reason?: string | null;
  approver?: string | null;
  ticket?: string | null;
  approved_ts?: number | null;
}

export interface ReportAsset {
  ip: string;
  vlan: number | null;
  mac: string | null;
  vendor: string | null;
  first_ts: number;
  last_ts: number;
  sensors: string[];
  roles: ReportRole[];
  /** Device identity from the traffic: vendor, product_code, revision, application_uri, ... */
  identity: Record<string, string | number>;
  services: ReportService[];
}

export interface ReportChange {
  ts: number;
  kind: string;
  ip: string | null;
  proto: string | null;
  port: number | null;
  app: string | null;
  detail: string | null;
}

export interface ReportAlert {
  ts: number;
  kind: string;
  severity: string;
  client: string | null;
  server: string | null;
  proto: string | null;
  port: number | null;
  app: string | null;
  detail: string | null;
}

/** One client -> server pair on one service, for the map's edges. */
export interface ReportTalk {
  client: string;
  server: string;
  vlan: number | null;
  proto: string;
  port: number;
  app: string | null;
  /** Flows of this pair, when the source counts them per client. */
  flows: number | null;
  classes: string[];
}

export interface ReportSnapshot {
  /** Observation window: first and last traffic seen (epoch seconds); null when empty. */
  first_ts: number | null;
  last_ts: number | null;
  sensors: string[];
  /** Changes are those at or after this time (epoch seconds); null: all. */
  since: number | null;
  assets: ReportAsset[];
  changes: ReportChange[];
  alerts: ReportAlert[];
  talks: ReportTalk[];
}

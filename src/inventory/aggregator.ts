// The writer thread's side of the flow events: each event becomes asset,
// role, fact and service entries in the Tally, as the flow's record. Here,
// not on the packet thread: aggregation and the MAC-per-IP router check cost
// as much as the capture's dissection of the flows they summarise.
import type { AlertRec } from './batch.js';
import { type AppInfo, Ev, EvFlag, type EventBatch, FactCode, INLINE_FACTS } from './flow-event.js';
import { macText } from './oui.js';
import { type AssetTally, Tally } from './tally.js';
import { ipv4Text } from '../output/ip-text.js';

/** A MAC seen as the link address of more IPs than this is a router's, not an asset's. */
export const MAX_IPS_PER_MAC = 4;

export class Aggregator {
  readonly tally = new Tally();
  /** The protocols and fact keys, by the index events refer to them. */
  private readonly apps: AppInfo[] = [];
  private readonly keys: string[] = [];
  /** Distinct IPs per MAC seen this run (capped at MAX_IPS_PER_MAC + 1). */
  private readonly macIps = new Map<number, string[]>();

  /** Applies one hand-over. */
  apply(b: EventBatch): void {
    for (const a of b.apps) this.apps.push(a);
    for (const k of b.keys) this.keys.push(k);
    const ev = b.events;
    for (let i = 0; i < b.count; i++) this.record(ev, i * Ev.Size, b.side);
    for (const line of b.alerts) {
      const r = alertRec(line);
      if (r !== null) this.tally.alerts.push(r);
    }
    if (b.clock > this.tally.clock) this.tally.clock = b.clock;
  }

  private row(ev: Float64Array, o: number, at: Ev, side: (string | number)[]): AssetTally {
    const vlan = ev[o + Ev.Vlan];
    if ((ev[o + Ev.Flags] & EvFlag.V4) !== 0) return this.tally.row4(vlan, ev[o + at], ipv4Text);
    return this.tally.rowText(vlan, side[ev[o + at]] as string);
  }

  private record(ev: Float64Array, o: number, side: (string | number)[]): void {
    const t = this.tally;
    const flags = ev[o + Ev.Flags];
    const first = ev[o + Ev.First];
    const last = ev[o + Ev.Last];
    const client = (flags & EvFlag.FromClient) !== 0 ? t.seen(this.row(ev, o, Ev.Client, side), first, last) : null;
    const server = (flags & EvFlag.FromServer) !== 0 ? t.seen(this.row(ev, o, Ev.Server, side), first, last) : null;
    if ((flags & EvFlag.Mac) !== 0) {
      const srcIsClient = (flags & EvFlag.SrcIsClient) !== 0;
      this.mac(srcIsClient ? client : server, ev[o + Ev.SrcHi], ev[o + Ev.SrcLo]);
      this.mac(srcIsClient ? server : client, ev[o + Ev.DstHi], ev[o + Ev.DstLo]);
    }
    const app = ev[o + Ev.App];
    const d = app >= 0 ? this.apps[app] : null;
    if (d !== null) {
      const name = d[0];
      if (client !== null) t.role(client, name, 'client', d[1], first, last);
      if (server !== null) t.role(server, name, 'server', d[2], first, last);
      const n = ev[o + Ev.Facts];
      for (let i = 0; i < n && i < INLINE_FACTS; i++) {
        const code = ev[o + Ev.Fact0 + 2 * i];
        const v = ev[o + Ev.Value0 + 2 * i];
        this.fact(client, server, name, code, (code & FactCode.Text) !== 0 ? side[v] : v, first, last);
      }
      for (let i = ev[o + Ev.FactsAt], end = i + 2 * (n - INLINE_FACTS); i < end; i += 2) {
        this.fact(client, server, name, side[i] as number, side[i + 1], first, last);
      }
    }
    if ((flags & EvFlag.Answered) !== 0) {
      const tcp = (flags & EvFlag.Tcp) !== 0;
      const s = t.service(server ?? this.row(ev, o, Ev.Server, side), tcp, ev[o + Ev.ServerPort], first, last);
      if ((flags & EvFlag.Counted) === 0) s.flows++;
      t.client(s, client ?? this.row(ev, o, Ev.Client, side));
      s.classes |= ev[o + Ev.Classes];
      if (d !== null && last >= s.appTs) {
        s.app = d[0];
        s.appTs = last;
      }
    }
  }

  private fact(
    client: AssetTally | null,
    server: AssetTally | null,
    app: string,
    code: number,
    value: string | number,
    first: number,
    last: number,
  ): void {
    const a = (code & FactCode.Server) !== 0 ? server : client;
    if (a === null) return;
    const role = (code & FactCode.Server) !== 0 ? 'server' : 'client';
    const what = (code & FactCode.Identity) !== 0 ? 'identity' : 'address';
    this.tally.fact(a, app, role, what, this.keys[code >> FactCode.KeyShift], factValue(value), first, last);
  }

  /** Gives `a` the MAC unless that MAC has shown up for several IPs (a router). */
  private mac(a: AssetTally | null, hi: number, lo: number): void {
    if (a === null || hi < 0 || !isUnicast(hi) || (hi === 0 && lo === 0)) return; // all zeros: anonymised captures
    const k = hi * 0x100000000 + (lo >>> 0);
    let ips = this.macIps.get(k);
    if (ips === undefined) {
      if (this.macIps.size >= 1 << 18) this.macIps.clear();
      ips = [];
      this.macIps.set(k, ips);
    }
    if (ips.length <= MAX_IPS_PER_MAC && !ips.includes(a.ip)) ips.push(a.ip);
    if (ips.length > MAX_IPS_PER_MAC) {
      a.mac = null;
      return;
    }
    if (a.mac === null) a.mac = macText(hi, lo);
  }
}

/** Not a group (multicast/broadcast) address: bit 0 of the first octet clear. */
function isUnicast(hi16: number): boolean {
  return ((hi16 >> 8) & 1) === 0;
}

/** Bounded text of a value reported by a protocol (wire data). */
function factValue(v: string | number): string {
  const s = typeof v === 'number' ? String(v) : v;
  return s.length > 256 ? s.slice(0, 256) : s;
}

/** An alert record (the detector's JSON line) as the inventory stores it; null when unreadable. */
export function alertRec(line: string): AlertRec | null {
  try {
    const a = JSON.parse(line) as Record<string, unknown>;
    const ep = (x: unknown) => (x !== null && typeof x === 'object' ? (x as { ip: string; port: number }) : null);
    const c = ep(a.client);
    const s = ep(a.server);
    return {
      ts: Number(a.ts),
      kind: String(a.kind),
      severity: String(a.severity),
      community_id: typeof a.community_id === 'string' ? a.community_id : null,
      vlan: typeof a.vlan === 'number' ? a.vlan : -1,
      client_ip: c?.ip ?? null,
      client_port: c?.port ?? null,
      server_ip: s?.ip ?? null,
      server_port: s?.port ?? null,
      proto: typeof a.proto === 'string' ? a.proto : null,
      app: typeof a.app === 'string' ? a.app : null,
      detail: String(a.detail ?? ''),
    };
  } catch {
    return null;
  }
}

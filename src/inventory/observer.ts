// The inventory's view of the pipeline: a second FlowObserver beside the
// detector. Per flow it keeps a small pooled state (Flow.inv): whether the
// server answered, the confirmed protocol, the function classes used, the
// MACs of the first frame and the identity facts the protocol reported. At
// the flow's end that becomes asset, role and service facts in the Tally;
// nothing here touches the database (InventoryWriter does, every few seconds).
import type { IdentityKind, ProtocolModule, Side } from '../dissectors/module.js';
import type { Dir } from '../dissectors/types.js';
import type { Packet } from '../decode/packet.js';
import type { EndReason, Flow } from '../flows/flow.js';
import type { FlowObserver } from '../detect/observer.js';
import { clientIp, clientPort, serverIp, serverPort } from '../output/flow-record.js';
import { ipv4Text } from '../output/ip-text.js';
import { macText } from './oui.js';
import { type AssetTally, Tally } from './tally.js';

/** Identity facts kept per flow (a module may report the same fact every PDU: only new ones are kept). */
const MAX_FLOW_FACTS = 16;
/** A MAC seen as the link address of more IPs than this is a router's, not an asset's. */
export const MAX_IPS_PER_MAC = 4;

class FlowInv {
  answered = false;
  d: ProtocolModule | null = null;
  classes = 0;
  /** First frame: source and destination MAC (hi 16 bits, lo 32 bits); macHi -1 when none. */
  srcHi = -1;
  srcLo = 0;
  dstHi = -1;
  dstLo = 0;
  /** Whether the first frame's source was the client, and the roles then. */
  srcWasClient = true;
  clientIsA0 = true;
  /** Already counted in its service's flows (by an interim record of a long flow). */
  counted = false;
  nfacts = 0;
  readonly fSide: Side[] = [];
  readonly fWhat: ('address' | 'identity')[] = [];
  readonly fKey: string[] = [];
  readonly fValue: (string | number)[] = [];

  reset(): void {
    this.answered = false;
    this.d = null;
    this.classes = 0;
    this.srcHi = -1;
    this.srcLo = 0;
    this.dstHi = -1;
    this.dstLo = 0;
    this.srcWasClient = true;
    this.clientIsA0 = true;
    this.counted = false;
    this.nfacts = 0;
  }

  fact(side: Side, what: 'address' | 'identity', key: string, value: string | number): void {
    const n = this.nfacts;
    for (let i = 0; i < n; i++) {
      if (this.fValue[i] === value && this.fKey[i] === key && this.fSide[i] === side && this.fWhat[i] === what) return;
    }
    if (n >= MAX_FLOW_FACTS) return;
    this.fSide[n] = side;
    this.fWhat[n] = what;
    this.fKey[n] = key;
    this.fValue[n] = value;
    this.nfacts = n + 1;
  }
}

/** Bounded text of a value reported by a protocol (wire data). */
function factValue(v: string | number): string {
  const s = typeof v === 'number' ? String(v) : v;
  return s.length > 256 ? s.slice(0, 256) : s;
}

export interface InventoryObserverOptions {
  /** The engine's reused Packet, read at flowStart for the first frame's MACs (null: no MACs). */
  packet: Packet | null;
  /** Called when the batch has grown past `maxBatch` entries (write it now). */
  onFull?: () => void;
  maxBatch?: number;
}

export class InventoryObserver implements FlowObserver {
  /** Filled by the flows; its dirty rows are taken by each write. */
  readonly tally = new Tally();
  private readonly pool: FlowInv[] = [];
  /** Distinct IPs per MAC seen this run (capped at MAX_IPS_PER_MAC + 1). */
  private readonly macIps = new Map<number, string[]>();
  private readonly maxBatch: number;
  /** Finish hook (the session's final write), set by the owner. */
  onFinish: ((ts: number) => void) | null = null;

  constructor(private readonly opts: InventoryObserverOptions) {
    this.maxBatch = opts.maxBatch ?? 200_000;
  }

  flowStart(f: Flow, ts: number): void {
    const st = this.pool.pop() ?? new FlowInv();
    st.reset();
    f.inv = st;
    if (ts > this.tally.clock) this.tally.clock = ts;
    const p = this.opts.packet;
    if (p !== null && p.macOff >= 0) {
      const b = p.buf;
      const o = p.macOff;
      st.dstHi = (b[o] << 8) | b[o + 1];
      st.dstLo = b.readInt32BE(o + 2);
      st.srcHi = (b[o + 6] << 8) | b[o + 7];
      st.srcLo = b.readInt32BE(o + 8);
      st.clientIsA0 = f.clientIsA;
      st.srcWasClient =
        p.sport !== p.dport ? p.sport === clientPort(f) : f.ipVersion !== 4 || b.readInt32BE(p.srcOff) === (f.clientIsA ? f.a0 : f.b0);
    }
  }

  serverAnswered(f: Flow): void {
    const st = f.inv as FlowInv | null;
    if (st !== null) st.answered = true;
  }

  appConfirmed(f: Flow, mod: ProtocolModule): void {
    const st = f.inv as FlowInv | null;
    if (st !== null) st.d = mod;
  }

  appUnknown(): void {}

  pdu(f: Flow, _mod: ProtocolModule, _dir: Dir, fc: number, cls: number): void {
    const st = f.inv as FlowInv | null;
    if (st !== null && fc >= 0 && cls >= 0) st.classes |= 1 << cls;
  }

  /** What the flow's protocol module reported about one side (addresses, device
   *  identity). Roles come from the module's roleTerms when the flow is recorded. */
  identity(f: Flow, _mod: ProtocolModule, side: Side, kind: IdentityKind, key: string, value: string | number): void {
    if (kind === 'role') return;
    (f.inv as FlowInv | null)?.fact(side, kind, key, value);
  }

  flowEnd(f: Flow, _reason: EndReason, ts: number): void {
    const st = f.inv as FlowInv | null;
    if (st === null) return;
    f.inv = null;
    this.record(f, st);
    this.pool.push(st);
    if (ts > this.tally.clock) this.tally.clock = ts;
    if (this.tally.size >= this.maxBatch) this.opts.onFull?.();
  }

  /** A long flow (live: a polling connection open for days) is recorded at each interim record, not only at its end. */
  flowInterim(f: Flow, ts: number): void {
    const st = f.inv as FlowInv | null;
    if (st === null) return;
    this.record(f, st);
    if (ts > this.tally.clock) this.tally.clock = ts;
    if (this.tally.size >= this.maxBatch) this.opts.onFull?.();
  }

  finish(ts: number): void {
    if (ts > this.tally.clock) this.tally.clock = ts;
    this.onFinish?.(ts);
  }

  /** The flow's client or server asset row. */
  private row(f: Flow, client: boolean): AssetTally {
    if (f.ipVersion === 4) return this.tally.row4(f.vlan, client === f.clientIsA ? f.a0 : f.b0, ipv4Text);
    return this.tally.rowText(f.vlan, client ? clientIp(f) : serverIp(f));
  }

  private record(f: Flow, st: FlowInv): void {
    const t = this.tally;
    const first = f.firstTs;
    const last = f.lastTs;
    const client = f.pktsC2S > 0 ? t.seen(this.row(f, true), first, last) : null;
    const server = f.pktsS2C > 0 ? t.seen(this.row(f, false), first, last) : null;
    if (st.srcHi >= 0) {
      const srcIsClient = st.srcWasClient === (f.clientIsA === st.clientIsA0);
      this.mac(srcIsClient ? client : server, st.srcHi, st.srcLo);
      this.mac(srcIsClient ? server : client, st.dstHi, st.dstLo);
    }
    const d = st.d;
    if (d !== null) {
      const [termC, termS] = d.roleTerms;
      if (client !== null) t.role(client, d.name, 'client', termC, first, last);
      if (server !== null) t.role(server, d.name, 'server', termS, first, last);
      for (let i = 0; i < st.nfacts; i++) {
        const a = st.fSide[i] === 'client' ? client : server;
        if (a !== null) t.fact(a, d.name, st.fSide[i], st.fWhat[i], st.fKey[i], factValue(st.fValue[i]), first, last);
      }
    }
    // serverAnswered fires at packet time; when the dissector swaps the roles later (a capture that starts with a
    // response), the final server's payload or UDP reply is the answer.
    if (st.answered || (f.isTcp ? f.payS2C > 0 : f.pktsS2C > 0)) {
      const s = t.service(server ?? this.row(f, false), f.isTcp, serverPort(f), first, last);
      if (!st.counted) s.flows++;
      st.counted = true;
      t.client(s, client ?? this.row(f, true));
      s.classes |= st.classes;
      if (d !== null && last >= s.appTs) {
        s.app = d.name;
        s.appTs = last;
      }
    }
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

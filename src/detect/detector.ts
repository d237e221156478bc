// The detector: turns what the engine reports (flow starts, answers,
// application identification, PDUs, flow ends) into facts, learns them into a
// baseline or compares them with one, and raises alerts for new facts.
//
// Learning and detection share every code path, so a capture replayed against
// the baseline learned from it meets only known facts and raises nothing.
//
// When is a flow's endpoint known? The server side is fixed by a handshake
// (SYN/SYN-ACK); without one (mid-stream TCP, UDP) the application layer may
// still swap the roles when content says so, so the flow is "settled" once its
// protocol is decided (confirmed or unknown) or at its end. Facts about the
// endpoint wait for the settle; the client becomes a talker once it has
// really spoken (handshake completed, or data both ways); its function codes
// wait for both, and are judged by the time of each PDU (learning or not).
import type { Dir } from '../dissectors/types.js';
import type { ProtocolModule } from '../dissectors/module.js';
import { APP_NAMES, MODULES } from '../dissectors/index.js';
import { isServicePort } from '../flows/service-ports.js';
import { TcpSeen, type EndReason, type Flow } from '../flows/flow.js';
import { clientIp, clientPort, serverIp, serverPort } from '../output/flow-record.js';
import { Ipv4TextCache } from './ip-text-cache.js';
import type { AlertLog, AlertSpec, Severity } from './alerts.js';
import {
  Baseline,
  EndpointRec,
  endpointKey,
  endpointText,
  fnKey,
  FunctionRec,
  functionText,
  LIMITS,
  smallFnKey,
  TalkerRec,
  type AppFact,
} from './baseline.js';
import { FUNCTION_CLASSES, isHighClass, OTHER } from './function-class.js';
import type { FlowObserver } from './observer.js';
import { conduitText, isGroupAddress, type Conduit, type Policy, type Zone } from './policy.js';
import { DEFAULT_SCAN, ScanHit, ScanTracker, type ScanOptions } from './scan.js';

export interface DetectorOptions {
  /** Known facts to compare with (or to extend while learning); null: none. */
  baseline: Baseline | null;
  /** Seconds of capture time to learn from before detecting; Infinity: learn
   *  only; null: detect only. Baseline alerts need a baseline or learning. */
  learnFor: number | null;
  policy: Policy | null;
  scan: ScanOptions;
  /** The dissectors the engine runs (a standard port only "speaks something
   *  else" if its dissector was given the chance to recognise it). */
  dissectors: readonly ProtocolModule[];
  /** Called when learning ends: at the switch to detection, or at the end of
   *  input while still learning; and again at the end of input when flows
   *  open at the switch added learned facts after it. */
  onLearned?: (b: Baseline, ts: number) => void;
  /** Called at the end of input, after the summary record. */
  onFinish?: (alerts: AlertLog) => void;
}

/** Targets held in scan candidates while learning; beyond, a candidate
 *  source is learned as a scanner at once. */
const MAX_CANDIDATE_TARGETS = 1_000_000;

/** A source over a scan threshold while learning, with the targets of that
 *  window: it is a scanner if enough of them are not its learned endpoints. */
interface ScanCandidate {
  src: string;
  proto: 'tcp' | 'udp';
  ts: number;
  /** Vertical: the host and its ports. Horizontal: the port and its hosts. */
  host: string | null;
  ports: number[] | null;
  port: number;
  hosts: string[] | null;
}

/** Small function keys remembered per flow (st.fnsSeen). */
const MAX_FNS_SEEN = 8;

/** Function codes held per flow until its protocol is confirmed. */
const MAX_PENDING = 8;
/** Distinct function facts remembered per flow (beyond: checked every time). */
const MAX_FLOW_FNS = 64;

class FlowState {
  answered = false;
  answeredTs = 0;
  settled = false;
  /** The settle happened while learning. */
  learnt = false;
  /** The server side is trusted as a listener: baseline facts apply. */
  known = false;
  appDecided = false;
  app: AppFact | null = null;
  appDone = false;
  ep: EndpointRec | null = null;
  /** The client's talker fact was taken (or cannot be any more). */
  talkerDone = false;
  talker: TalkerRec | null = null;
  fns: Set<number> | null = null;
  /** Small keys (see smallFnKey) of the first facts found in or added to
   *  `fns`: a poll repeats a few codes, checked without a Set lookup. */
  fnsSeen: number[] | null = null;
  /** (app index, fc, class, learning 1/0) awaiting confirmation or the talker. */
  pend: number[] | null = null;
  zoneDone = false;
  zoneAppDone = false;
  /** Conduits that allow this flow only under app/function conditions. */
  conduits: Conduit[] | null = null;
  zoneFnAlerted = 0;
}

/** Which enabled dissector owns a standard port, per transport. */
function portOwners(ds: readonly ProtocolModule[], tcp: boolean): Map<number, ProtocolModule> {
  const m = new Map<number, ProtocolModule>();
  for (const d of ds) if (tcp ? d.tcp : d.udp) for (const p of d.ports) if (!m.has(p)) m.set(p, d);
  return m;
}

function protoName(f: Flow): 'tcp' | 'udp' {
  return f.proto === 6 ? 'tcp' : 'udp';
}

function appLabel(app: AppFact): string {
  return app === 'other' ? `a protocol that is none of ${APP_NAMES.join(', ')}` : app;
}

export class Detector implements FlowObserver {
  readonly alerts: AlertLog;
  readonly baseline: Baseline;
  private readonly baselineKinds: boolean;
  private readonly learnFor: number | null;
  private learning: boolean;
  private learnEnd = -1;
  private readonly policy: Policy | null;
  private readonly scan: ScanTracker | null;
  /** Address text of IPv4 flows (FlowState lives in Flow.det). */
  private readonly ip4 = new Ipv4TextCache();
  private candidates: ScanCandidate[] = [];
  private learnedLate = false;
  private candidateTargets = 0;
  private readonly rolesByPorts: boolean;
  private readonly enabled: readonly ProtocolModule[];
  private readonly allTcp = portOwners(MODULES, true);
  private readonly allUdp = portOwners(MODULES, false);
  private readonly enTcp: Map<number, ProtocolModule>;
  private readonly enUdp: Map<number, ProtocolModule>;
  private readonly onLearned: ((b: Baseline, ts: number) => void) | undefined;
  private readonly onFinish: ((alerts: AlertLog) => void) | undefined;

  constructor(opts: DetectorOptions, alerts: AlertLog) {
    this.alerts = alerts;
    this.baseline = opts.baseline ?? new Baseline();
    this.learnFor = opts.learnFor;
    this.baselineKinds = opts.baseline !== null || opts.learnFor !== null;
    this.learning = opts.learnFor !== null && opts.learnFor > 0;
    this.policy = opts.policy;
    const scan = new ScanTracker(opts.scan ?? DEFAULT_SCAN);
    this.scan = scan.enabled ? scan : null;
    this.enabled = opts.dissectors;
    this.rolesByPorts = opts.dissectors.length === 0;
    this.enTcp = portOwners(opts.dissectors, true);
    this.enUdp = portOwners(opts.dissectors, false);
    this.onLearned = opts.onLearned;
    this.onFinish = opts.onFinish;
  }

  /** Still learning (no baseline alerts yet). */
  get isLearning(): boolean {
    return this.learning;
  }

  private tick(ts: number): void {
    if (this.learnEnd < 0) this.learnEnd = this.learnFor === null ? 0 : ts + this.learnFor;
    if (this.learning && ts >= this.learnEnd) this.stopLearning(ts);
  }

  private stopLearning(ts: number): void {
    this.learning = false;
    this.decideScanners();
    this.onLearned?.(this.baseline, ts);
  }

  /** A flow that was answered while learning adds a fact after the switch. */
  private lateCheck(): void {
    if (!this.learning) this.learnedLate = true;
  }

  private learningAt(ts: number): boolean {
    return this.learning || (this.learnFor !== null && ts < this.learnEnd);
  }

  /** clientIp(f), from the per-run cache for IPv4. */
  private cipOf(f: Flow): string {
    return f.ipVersion === 4 ? this.ip4.text(f.clientIsA ? f.a0 : f.b0) : clientIp(f);
  }

  /** serverIp(f), from the per-run cache for IPv4. */
  private sipOf(f: Flow): string {
    return f.ipVersion === 4 ? this.ip4.text(f.clientIsA ? f.b0 : f.a0) : serverIp(f);
  }

  // ---- FlowObserver ----

  flowStart(f: Flow, ts: number): void {
    this.tick(ts);
    const st = new FlowState();
    f.det = st;
    const syn = f.isTcp && (f.tcpSeen & (TcpSeen.SynC | TcpSeen.SynAckS)) === TcpSeen.SynC;
    if (this.scan !== null) {
      if (syn) this.touch(f, true, ts);
      else if (!f.isTcp) this.touch(f, f.pktsC2S > 0, ts);
    }
    // A SYN names the initiator: the attempt is checked whether or not it is answered.
    if (syn && this.policy !== null) this.checkZone(f, st, ts);
  }

  serverAnswered(f: Flow, ts: number): void {
    this.tick(ts);
    const st = f.det as FlowState | null;
    if (st === null) return;
    st.answered = true;
    st.answeredTs = ts;
    this.advance(f, st, ts);
  }

  appConfirmed(f: Flow, d: ProtocolModule, ts: number): void {
    this.tick(ts);
    const st = f.det as FlowState | null;
    if (st === null) return;
    st.appDecided = true;
    st.app = d.name;
    this.advance(f, st, ts);
  }

  appUnknown(f: Flow, ts: number): void {
    this.tick(ts);
    const st = f.det as FlowState | null;
    if (st === null) return;
    st.appDecided = true;
    st.app = 'other';
    st.pend = null; // PDUs of a protocol that was then rejected
    this.advance(f, st, ts);
  }

  pdu(f: Flow, d: ProtocolModule, dir: Dir, fc: number, cls: number, ts: number): void {
    if (dir !== 0 || fc < 0) return; // the client's requests and commands
    this.tick(ts);
    const st = f.det as FlowState | null;
    if (st === null) return;
    if (st.settled && st.app === d.name) {
      if (!st.talkerDone) this.talkerFact(f, st, ts, false);
      if (st.talkerDone) {
        this.functionFact(f, st, d.name, fc, cls, ts, this.learning);
        return;
      }
    }
    const p = (st.pend ??= []);
    if (p.length < MAX_PENDING * 4) p.push(APP_NAMES.indexOf(d.name), fc, cls, this.learning ? 1 : 0);
  }

  flowEnd(f: Flow, _reason: EndReason, ts: number): void {
    this.tick(ts);
    const st = f.det as FlowState | null;
    if (st === null) return;
    f.det = null;
    if (st.app === null && f.appStage !== 0 && this.undecidedIsOther(f)) {
      st.app = 'other';
      st.appDecided = true;
      st.pend = null;
    }
    if (st.answered && !st.settled) this.settle(f, st, ts);
    if (st.settled) {
      if (!st.talkerDone) this.talkerFact(f, st, ts, true);
      this.afterApp(f, st, ts);
    }
    if (!st.zoneDone && this.policy !== null) this.checkZone(f, st, ts);
  }

  finish(ts: number): void {
    this.tick(ts);
    if (this.learning) this.stopLearning(ts);
    else if (this.learnedLate) this.onLearned?.(this.baseline, ts);
    this.alerts.writeSummary(ts);
    this.onFinish?.(this.alerts);
  }

  // ---- Facts ----

  private advance(f: Flow, st: FlowState, ts: number): void {
    if (!st.settled) {
      if (st.answered && (f.rolesFixed || this.rolesByPorts || (st.appDecided && (!f.isTcp || (f.payC2S > 0 && f.payS2C > 0))))) {
        this.settle(f, st, ts);
      }
      return;
    }
    this.afterApp(f, st, ts);
  }

  /** A flow that ends with payload but no protocol decided: is it "none of
   *  the ICS protocols"? Yes when its stream was seen from the handshake
   *  (the dissectors had its first bytes, and one that ends undecided after
   *  a valid PDU on its own port is confirmed at the end), or for UDP (every
   *  datagram is a whole message). A mid-stream TCP flow may simply have
   *  been too short to tell. */
  private undecidedIsOther(f: Flow): boolean {
    if (f.payC2S === 0 || f.appStage === 2) return false; // nothing sent, or a protocol still tentative
    return f.isTcp ? f.handshake : true;
  }

  /** Can the server side of this flow be trusted as a listener? A handshake
   *  or identified ICS content says who serves; without them (a connection
   *  already open when the capture started) only data both ways and a
   *  service port facing an ephemeral one do. A TCP keep-alive byte is not
   *  an answer, and two ephemeral ports say nothing about who listens. */
  private listenerKnown(f: Flow, st: FlowState): boolean {
    if (!f.isTcp || f.rolesFixed) return true;
    if (f.payC2S === 0 || f.payS2C === 0) return false;
    if (st.app !== null && st.app !== 'other') return true;
    return isServicePort(serverPort(f)) && !isServicePort(clientPort(f));
  }

  /** The flow's endpoint, talker and (if known) app become facts. */
  private settle(f: Flow, st: FlowState, ts: number): void {
    st.settled = true;
    st.learnt = this.learningAt(st.answeredTs);
    st.known = this.baselineKinds && this.listenerKnown(f, st);
    if (st.known) {
      const b = this.baseline;
      const proto = protoName(f);
      const sport = serverPort(f);
      if (st.learnt) {
        const sip = this.sipOf(f);
        this.lateCheck();
        st.ep = b.learnEndpoint(f.vlan, sip, proto, sport, ts);
        b.learnHost(sip, ts);
      } else {
        const v4 = f.ipVersion === 4;
        const ep = v4
          ? b.endpoint4(f.vlan, proto === 'udp', f.clientIsA ? f.b0 : f.a0, sport)
          : b.endpoint(endpointKey(f.vlan, proto, serverIp(f), sport));
        if (ep === undefined) {
          const sip = this.sipOf(f);
          this.newListener(f, st, endpointKey(f.vlan, proto, sip, sport), proto, sip, sport, this.cipOf(f), ts);
        } else {
          if (ep.fact !== null) ep.fact.again(ts);
          st.ep = ep;
        }
      }
    } else {
      st.talkerDone = true;
    }
    if (!st.zoneDone && this.policy !== null) this.checkZone(f, st, ts);
    this.afterApp(f, st, ts);
  }

  /** The client becomes a talker of the endpoint once it has really spoken:
   *  it completed the handshake and did not just reset it (the answer of a
   *  spoofed address to a SYN-ACK it never asked for, in a SYN flood) unless
   *  the server had sent data; without a handshake, data went both ways.
   *  `final`: the flow ended, decide now. */
  private talkerFact(f: Flow, st: FlowState, ts: number, final: boolean): void {
    const s = f.tcpSeen;
    const spoke = !f.isTcp || !f.rolesFixed || ((s & TcpSeen.AckC) !== 0 && ((s & TcpSeen.Rst) === 0 || f.payS2C > 0));
    if (!spoke) {
      if (final) st.talkerDone = true;
      return;
    }
    st.talkerDone = true;
    const ep = st.ep;
    if (ep === null) return;
    const b = this.baseline;
    const cip = this.cipOf(f);
    if (st.learnt) {
      this.lateCheck();
      st.talker = b.learnTalker(ep, cip, ts);
      b.learnHost(cip, ts);
      return;
    }
    if (ep.fact !== null) return; // a new endpoint: its listener alert says it all
    const t = ep.talkers.get(cip);
    if (t === undefined) this.newTalker(f, st, ep, cip, ts);
    else {
      if (t.fact !== null) t.fact.again(ts);
      st.talker = t;
    }
  }

  /** App fact and held function codes, once the flow is settled. */
  private afterApp(f: Flow, st: FlowState, ts: number): void {
    if (!st.talkerDone) this.talkerFact(f, st, ts, false);
    if (st.app === null) return;
    if (!st.appDone) {
      st.appDone = true;
      if (st.known) this.appFact(f, st, st.app, ts);
    }
    if (st.conduits !== null && !st.zoneAppDone) this.zoneApp(f, st, ts);
    const p = st.pend;
    if (p !== null && st.app !== 'other' && st.talkerDone) {
      st.pend = null;
      for (let i = 0; i < p.length; i += 4) {
        if (APP_NAMES[p[i]] === st.app) this.functionFact(f, st, st.app, p[i + 1], p[i + 2], ts, p[i + 3] === 1);
      }
    }
  }

  private newListener(
    f: Flow,
    st: FlowState,
    key: string,
    proto: 'tcp' | 'udp',
    sip: string,
    sport: number,
    cip: string,
    ts: number,
  ): void {
    const b = this.baseline;
    const icsPort = (proto === 'tcp' ? this.allTcp : this.allUdp).get(sport);
    const severity: Severity = icsPort !== undefined || b.icsServers.has(sip) ? 'high' : 'medium';
    const why =
      icsPort !== undefined ? ` (the standard ${icsPort.name} port)` : b.icsServers.has(sip) ? ' (the host serves an ICS protocol)' : '';
    const newHost = b.hosts.has(sip) ? '' : '; the host itself is not in the baseline';
    const verb =
      proto === 'tcp' ? `accepted a TCP connection from ${cip} on port ${sport}${why}` : `answered ${cip} on UDP port ${sport}${why}`;
    const vlan = f.vlan >= 0 ? ` in VLAN ${f.vlan}` : '';
    const text = `new_listener ${endpointText(f.vlan, proto, sip, sport)}`;
    const fact = this.alerts.raise(ts, text, {
      kind: 'new_listener',
      severity,
      flow: f,
      app: this.flowApp(st),
      detail: `${sip}${vlan} ${verb}: a listening endpoint not in the baseline${newHost}.`,
    });
    if (fact !== null && b.endpoints.size < LIMITS.endpoints) {
      const ep = new EndpointRec(f.vlan, sip, proto, sport, ts, ts, fact);
      b.setEndpoint(key, ep);
      st.ep = ep;
    }
  }

  private newTalker(f: Flow, st: FlowState, ep: EndpointRec, cip: string, ts: number): void {
    const apps = ep.learnedApps().filter((a) => a !== 'other');
    const known = [...ep.talkers.values()].filter((t) => t.fact === null).length;
    const eptext = endpointText(ep.vlan, ep.proto, ep.ip, ep.port);
    const fact = this.alerts.raise(ts, `new_talker ${cip} -> ${eptext}`, {
      kind: 'new_talker',
      severity: apps.length > 0 ? 'high' : 'medium',
      flow: f,
      app: this.flowApp(st) ?? apps[0] ?? null,
      detail: `${cip} talked to ${eptext}${apps.length > 0 ? ` (${apps.join(', ')})` : ''} for the first time; the baseline knows ${known} client${known === 1 ? '' : 's'} there.`,
    });
    if (fact !== null && ep.talkers.size < LIMITS.talkersPerEndpoint) {
      const t = new TalkerRec(cip, ts, ts, fact);
      ep.talkers.set(cip, t);
      st.talker = t;
    }
  }

  private flowApp(st: FlowState): string | null {
    return st.app === null || st.app === 'other' ? null : st.app;
  }

  private appFact(f: Flow, st: FlowState, app: AppFact, ts: number): void {
    const ep = st.ep;
    if (st.learnt) {
      this.lateCheck();
      if (ep !== null) this.baseline.learnApp(ep, app);
      return;
    }
    if (ep !== null) {
      const v = ep.apps.get(app);
      if (v === null) return;
      if (v !== undefined) {
        v.again(ts);
        return;
      }
    }
    const proto = protoName(f);
    const sip = this.sipOf(f);
    const sport = serverPort(f);
    const eptext = endpointText(f.vlan, proto, sip, sport);
    const text = `unexpected_protocol ${app} on ${eptext}`;
    let spec: AlertSpec | null = null;
    const learned = ep !== null && ep.fact === null ? ep.learnedApps() : [];
    if (learned.length > 0) {
      // Content the run could not have recognised is not a change of protocol.
      if (app === 'other' && learned.some((a) => a !== 'other' && !this.enabled.some((d) => d.name === a))) return;
      spec = {
        kind: 'unexpected_protocol',
        severity: 'high',
        flow: f,
        app: app === 'other' ? null : app,
        detail: `${eptext} speaks ${appLabel(app)}; the baseline saw only ${learned.map(appLabel).join(' and ')} there.`,
      };
    } else if (app !== 'other') {
      const d = this.enabled.find((x) => x.name === app) ?? MODULES.find((x) => x.name === app);
      // A device that connects out from its own standard port (reverse
      // connect) is not hiding its protocol.
      if (d !== undefined && !d.ports.includes(sport) && !d.ports.includes(clientPort(f))) {
        spec = {
          kind: 'unexpected_protocol',
          severity: 'medium',
          flow: f,
          app,
          detail: `${app} found by content on ${proto.toUpperCase()} port ${sport} of ${sip}, not its standard port ${d.ports.join('/')}.`,
        };
      }
    } else {
      const owner = (proto === 'tcp' ? this.enTcp : this.enUdp).get(sport);
      if (owner !== undefined) {
        spec = {
          kind: 'unexpected_protocol',
          severity: 'high',
          flow: f,
          app: null,
          detail: `${proto.toUpperCase()} port ${sport} of ${sip} is the standard ${owner.name} port but carries ${appLabel(app)}.`,
        };
      }
    }
    if (spec === null) return;
    const s = spec;
    if (ep === null) {
      this.alerts.once(text, ts, text, () => s);
      return;
    }
    const fact = this.alerts.raise(ts, text, s);
    if (fact !== null) ep.apps.set(app, fact);
  }

  /** `learn`: the PDU came while learning. Unlike the endpoint and talker
   *  facts (taken when the connection was answered), functions are judged
   *  by their own time: ICS connections last for days, and a write on a
   *  connection opened while learning is still news after it. */
  private functionFact(f: Flow, st: FlowState, app: string, fc: number, cls: number, ts: number, learn: boolean): void {
    const small = smallFnKey(app, fc, cls);
    let seen = st.fnsSeen;
    if (seen !== null && small >= 0) {
      for (let i = 0; i < seen.length; i++) if (seen[i] === small) return; // in fns
    }
    const key = fnKey(app, fc, cls);
    let fns = st.fns;
    const found = fns?.has(key);
    if (!found) {
      if (fns === null) fns = st.fns = new Set();
      if (fns.size >= MAX_FLOW_FNS) {
        this.functionFactNew(f, st, app, fc, cls, key, ts, learn); // not remembered: checked every time
        return;
      }
      fns.add(key);
    }
    if (small >= 0) {
      if (seen === null) seen = st.fnsSeen = [];
      if (seen.length < MAX_FNS_SEEN) seen.push(small);
    }
    if (found) return;
    this.functionFactNew(f, st, app, fc, cls, key, ts, learn);
  }

  /** functionFact for a fact new to the flow. */
  private functionFactNew(f: Flow, st: FlowState, app: string, fc: number, cls: number, key: number, ts: number, learn: boolean): void {
    if (st.conduits !== null) this.zoneFunction(f, st, app, fc, cls, ts);
    if (!this.baselineKinds) return;
    const t = st.talker;
    if (t === null) return; // new endpoint (its listener alert says it all) or a capped baseline
    if (learn && t.fact === null) {
      this.baseline.learnFunction(t, key, app, fc, cls, ts);
      return;
    }
    const r = t.fns.get(key);
    if (r !== undefined) {
      if (r.fact !== null) r.fact.again(ts);
      return;
    }
    // A talker new to the endpoint is already an alert; only its dangerous functions add one.
    if (t.fact !== null && !isHighClass(cls)) return;
    const ep = st.ep!;
    const eptext = endpointText(ep.vlan, ep.proto, ep.ip, ep.port);
    const seen = new Set<number>();
    for (const x of t.fns.values()) if (x.fact === null) seen.add(x.cls);
    const before =
      t.fact !== null
        ? 'a client new to this endpoint'
        : seen.size === 0
          ? 'the baseline saw no function codes from it there'
          : `the baseline saw only ${[...seen]
              .sort()
              .map((c) => FUNCTION_CLASSES[c])
              .join(', ')} there`;
    const severity: Severity = isHighClass(cls) ? 'high' : cls === OTHER ? 'medium' : 'low';
    const fact = this.alerts.raise(ts, `new_function ${t.ip} -> ${eptext} ${functionText(app, fc, cls)}`, {
      kind: 'new_function',
      severity,
      flow: f,
      app,
      fc,
      cls,
      detail: `${t.ip} used ${functionText(app, fc, cls)} on ${eptext} for the first time; ${before}.`,
    });
    if (fact !== null && t.fns.size < LIMITS.functionsPerTalker) t.fns.set(key, new FunctionRec(app, fc, cls, ts, ts, fact));
  }

  // ---- Scans ----

  /** A connection attempt from the client (`fromClient`) or, for a UDP flow
   *  whose first datagram came from the server side, from the server. */
  private touch(f: Flow, fromClient: boolean, ts: number): void {
    const proto = protoName(f);
    const port = fromClient ? serverPort(f) : clientPort(f);
    // A known talker reaching its known endpoint is polling, not probing.
    const v4 = f.ipVersion === 4;
    if (this.baselineKinds && v4) {
      const c = f.clientIsA ? f.a0 : f.b0;
      const s = f.clientIsA ? f.b0 : f.a0;
      if (this.baseline.isTalker4(fromClient ? c : s, proto === 'udp', fromClient ? s : c, port)) return;
    }
    const cip = this.cipOf(f);
    const sip = this.sipOf(f);
    const src = fromClient ? cip : sip;
    const host = fromClient ? sip : cip;
    if (this.baselineKinds && !v4 && this.baseline.isTalker(src, proto, host, port)) return;
    const scan = this.scan!;
    const hit = scan.touch(src, host, f.proto, port, ts);
    if (hit === ScanHit.None) return;
    if (this.learning) {
      // While learning, a master's first poll of its outstations looks like
      // a sweep: whether it was one is decided when learning ends, once its
      // endpoints are known.
      this.scanCandidate(src, proto, host, port, ts);
      return;
    }
    if (this.baseline.scanners.has(src)) return;
    const o = scan.opts;
    const P = proto.toUpperCase();
    if (hit & ScanHit.Vertical) {
      const text = `scan ${src} -> ${host} ${proto} ports`;
      const n = scan.portsSeen;
      this.alerts.once(text, ts, text, () => ({
        kind: 'scan',
        severity: 'high',
        flow: f,
        detail: `${src} touched ${n} distinct ${P} ports on ${host} within ${o.window} s (threshold ${o.ports}), answered or not: a port scan.`,
      }));
    }
    if (hit & ScanHit.Horizontal) {
      const text = `scan ${src} -> ${proto} port ${port} hosts`;
      const n = scan.hostsSeen;
      this.alerts.once(text, ts, text, () => ({
        kind: 'scan',
        severity: 'high',
        flow: f,
        detail: `${src} touched ${P} port ${port} on ${n} distinct hosts within ${o.window} s (threshold ${o.hosts}), answered or not: a host sweep.`,
      }));
    }
  }

  private scanCandidate(src: string, proto: 'tcp' | 'udp', host: string, port: number, ts: number): void {
    const scan = this.scan!;
    if (this.baseline.scanners.has(src)) return;
    const vp = scan.hitPorts;
    const hh = scan.hitHosts;
    const n = (vp?.size ?? 0) + (hh?.size ?? 0);
    if (this.candidateTargets + n > MAX_CANDIDATE_TARGETS) {
      this.baseline.learnScanner(src, ts);
      return;
    }
    this.candidateTargets += n;
    if (vp !== null) this.candidates.push({ src, proto, ts, host, ports: [...vp.keys()], port: -1, hosts: null });
    if (hh !== null) this.candidates.push({ src, proto, ts, host: null, ports: null, port, hosts: [...hh.keys()] });
  }

  private decideScanners(): void {
    const b = this.baseline;
    const o = this.scan?.opts;
    for (const c of this.candidates) {
      if (o === undefined || b.scanners.has(c.src)) continue;
      let n = 0;
      if (c.ports !== null) {
        for (const p of c.ports) if (!b.isTalker(c.src, c.proto, c.host!, p)) n++;
        if (n > o.ports) b.learnScanner(c.src, c.ts);
      } else {
        for (const h of c.hosts!) if (!b.isTalker(c.src, c.proto, h, c.port)) n++;
        if (n > o.hosts) b.learnScanner(c.src, c.ts);
      }
    }
    this.candidates = [];
    this.candidateTargets = 0;
  }

  // ---- Zones and conduits ----

  private checkZone(f: Flow, st: FlowState, ts: number): void {
    st.zoneDone = true;
    const p = this.policy!;
    if (isGroupAddress(f)) return;
    const cz = p.clientZone(f);
    const sz = p.serverZone(f);
    if (cz === null || sz === null || cz.name === sz.name) return;
    const proto = protoName(f);
    const cs = p.matching(cz, sz, proto, serverPort(f));
    if (cs.length === 0) {
      const into = sz.ot
        ? `: inbound into the OT zone, and no conduit allows ${cz.name} to ${sz.name}`
        : ` that no conduit allows from ${cz.name} to ${sz.name}`;
      this.zoneViolation(
        f,
        st,
        cz,
        sz,
        'no_conduit',
        ts,
        undefined,
        undefined,
        undefined,
        (c, s) => `${c} ${proto === 'tcp' ? 'initiated a TCP connection to' : 'sent UDP to'} ${s}${into}.`,
      );
      return;
    }
    if (cs.some((c) => c.apps === null && c.functions === -1)) return;
    st.conduits = cs;
    if (st.appDone) this.zoneApp(f, st, ts);
  }

  private zoneApp(f: Flow, st: FlowState, ts: number): void {
    st.zoneAppDone = true;
    const app = st.app!;
    const cs = st.conduits!;
    const ok = cs.filter((c) => c.apps === null || c.apps.includes(app));
    if (ok.length === 0) {
      st.conduits = null;
      const p = this.policy!;
      const cz = p.clientZone(f)!;
      const sz = p.serverZone(f)!;
      const allowed = [...new Set(cs.flatMap((c) => c.apps ?? []))].join(', ');
      this.zoneViolation(
        f,
        st,
        cz,
        sz,
        `app:${app}`,
        ts,
        app === 'other' ? null : app,
        undefined,
        undefined,
        (c, s) =>
          `the connection from ${c} to ${s} carries ${appLabel(app)}, but ${cs.map(conduitText).join(' and ')} allow${cs.length === 1 ? 's' : ''} only ${allowed}${sz.ot ? ' into the OT zone' : ''}.`,
      );
      return;
    }
    st.conduits = ok.some((c) => c.functions === -1) ? null : ok;
  }

  private zoneFunction(f: Flow, st: FlowState, app: string, fc: number, cls: number, ts: number): void {
    if (!st.zoneAppDone) return;
    const cs = st.conduits!;
    const bit = 1 << cls;
    if (cs.some((c) => (c.functions & bit) !== 0) || (st.zoneFnAlerted & bit) !== 0) return;
    st.zoneFnAlerted |= bit;
    const p = this.policy!;
    const cz = p.clientZone(f)!;
    const sz = p.serverZone(f)!;
    const allowed = FUNCTION_CLASSES.filter((_, k) => cs.some((c) => (c.functions & (1 << k)) !== 0)).join(', ');
    this.zoneViolation(
      f,
      st,
      cz,
      sz,
      `function:${cls}`,
      ts,
      app,
      fc,
      cls,
      (c, s) =>
        `${c} used ${functionText(app, fc, cls)} on ${s}, but ${cs.map(conduitText).join(' and ')} allow${cs.length === 1 ? 's' : ''} only ${allowed}${sz.ot ? ' into the OT zone' : ''}.`,
    );
  }

  private zoneViolation(
    f: Flow,
    _st: FlowState,
    cz: Zone,
    sz: Zone,
    reason: string,
    ts: number,
    app: string | null | undefined,
    fc: number | undefined,
    cls: number | undefined,
    sentence: (client: string, server: string) => string,
  ): void {
    const proto = protoName(f);
    const cip = this.cipOf(f);
    const sip = this.sipOf(f);
    const sport = serverPort(f);
    const text = `zone_violation ${cz.name} -> ${sz.name} ${cip} -> ${endpointText(f.vlan, proto, sip, sport)} ${reason}`;
    this.alerts.once(text, ts, text, () => {
      const d = sentence(`${cip} (zone ${cz.name})`, `${sip}:${sport} (zone ${sz.name})`);
      return {
        kind: 'zone_violation',
        severity: sz.ot ? 'high' : 'medium',
        flow: f,
        app,
        fc,
        cls,
        detail: d.charAt(0).toUpperCase() + d.slice(1),
      };
    });
  }
}

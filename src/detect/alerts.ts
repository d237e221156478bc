// Alert records and their deduplication. An alert is raised once per new
// fact; later sightings of the same fact (in other flows) only count, and the
// counts come out in one summary record at the end.
//
// Record (fixed schema, built as one string; text fields are JSON-escaped):
// {"type":"alert","ts":T,"kind":K,"severity":"low"|"medium"|"high",
//  "community_id":...,"proto":...,"vlan":...,"client":{...},"server":{...},
//  "app":"modbus"|...|null,"fc":n,"function_class":"write","detail":"..."}
// The flow part is the flow record's own (flowHeadJson); app, fc and
// function_class appear when the fact has them.
import type { Flow } from '../flows/flow.js';
import { flowHeadJson, tsText } from '../output/flow-record.js';
import type { RecordSink } from '../output/sink.js';
import { FUNCTION_CLASSES } from './function-class.js';

export type AlertKind = 'new_listener' | 'unexpected_protocol' | 'new_talker' | 'new_function' | 'scan' | 'zone_violation';
export const ALERT_KINDS: readonly AlertKind[] = [
  'new_listener',
  'unexpected_protocol',
  'new_talker',
  'new_function',
  'scan',
  'zone_violation',
];
export type Severity = 'low' | 'medium' | 'high';

/** One raised fact. */
export class Fact {
  repeats = 0;
  lastTs: number;
  constructor(
    readonly kind: AlertKind,
    readonly text: string,
    readonly ts: number,
  ) {
    this.lastTs = ts;
  }
  again(ts: number): void {
    this.repeats++;
    if (ts > this.lastTs) this.lastTs = ts;
  }
}

export interface AlertSpec {
  kind: AlertKind;
  severity: Severity;
  /** The flow the fact was seen on (endpoints, community id, proto, vlan). */
  flow: Flow | null;
  /** Application of the fact: a protocol name, null for none; omitted when undefined. */
  app?: string | null;
  fc?: number;
  /** Function class index. */
  cls?: number;
  detail: string;
}

/** JSON string literal of text that may hold anything (wire or file derived). */
export function jsonString(s: string): string {
  return JSON.stringify(s);
}

export function alertJson(ts: number, a: AlertSpec): string {
  let s = `{"type":"alert","ts":${tsText(ts)},"kind":"${a.kind}","severity":"${a.severity}"`;
  if (a.flow !== null) s += `,${flowHeadJson(a.flow)}`;
  if (a.app !== undefined) s += a.app === null ? ',"app":null' : `,"app":${jsonString(a.app)}`;
  if (a.fc !== undefined) s += `,"fc":${a.fc}`;
  if (a.cls !== undefined) s += `,"function_class":"${FUNCTION_CLASSES[a.cls]}"`;
  return `${s},"detail":${jsonString(a.detail)}}\n`;
}

/** Alerts the human summary lists per severity (the rest are counted). */
export const SHOWN_PER_SEVERITY = 10;
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];

/** An alert as the human summary shows it. */
export interface ShownAlert {
  ts: number;
  kind: AlertKind;
  detail: string;
}

/** Distinct facts kept for deduplication and the summary. */
export const MAX_FACTS = 100_000;
/** Repeated facts listed in the summary record. */
const SUMMARY_TOP = 100;

export class AlertLog {
  readonly byKind = new Map<AlertKind, number>();
  readonly bySeverity: Record<Severity, number> = { high: 0, medium: 0, low: 0 };
  /** The first SHOWN_PER_SEVERITY alerts of each severity. */
  readonly shown: Record<Severity, ShownAlert[]> = { high: [], medium: [], low: [] };
  private readonly facts: Fact[] = [];
  /** Facts of kinds without a baseline record to hang on (scan, zone). */
  private readonly keyed = new Map<string, Fact>();
  /** Alerts not raised because MAX_FACTS was reached. */
  dropped = 0;

  constructor(private readonly sink: RecordSink) {}

  get count(): number {
    return this.facts.length;
  }

  /** Raises a new fact; null when the fact limit is reached (nothing written). */
  raise(ts: number, text: string, a: AlertSpec): Fact | null {
    if (this.facts.length >= MAX_FACTS) {
      this.dropped++;
      return null;
    }
    const f = new Fact(a.kind, text, ts);
    this.facts.push(f);
    this.byKind.set(a.kind, (this.byKind.get(a.kind) ?? 0) + 1);
    if (this.bySeverity[a.severity]++ < SHOWN_PER_SEVERITY) this.shown[a.severity].push({ ts, kind: a.kind, detail: a.detail });
    this.sink.write('alert', alertJson(ts, a));
    return f;
  }

  /** Raises the fact named `key` once; later calls count repeats. */
  once(key: string, ts: number, text: string, build: () => AlertSpec): void {
    const f = this.keyed.get(key);
    if (f !== undefined) {
      f.again(ts);
      return;
    }
    const nf = this.raise(ts, text, build());
    if (nf !== null) this.keyed.set(key, nf);
  }

  get repeats(): number {
    let n = 0;
    for (const f of this.facts) n += f.repeats;
    return n;
  }

  /** The summary record, or null when nothing was raised. */
  summaryJson(ts: number): string | null {
    if (this.facts.length === 0 && this.dropped === 0) return null;
    let kinds = '';
    for (const k of ALERT_KINDS) {
      const n = this.byKind.get(k);
      if (n !== undefined) kinds += `${kinds === '' ? '' : ','}"${k}":${n}`;
    }
    const rep = this.facts.filter((f) => f.repeats > 0).sort((a, b) => b.repeats - a.repeats || a.ts - b.ts);
    const top = rep
      .slice(0, SUMMARY_TOP)
      .map(
        (f) =>
          `{"kind":"${f.kind}","fact":${jsonString(f.text)},"first_ts":${tsText(f.ts)},"last_ts":${tsText(f.lastTs)},"repeats":${f.repeats}}`,
      );
    return (
      `{"type":"alert_summary","ts":${tsText(ts)},"alerts":${this.facts.length},"by_kind":{${kinds}},` +
      `"repeats":${this.repeats},"repeated_facts":${rep.length},"dropped":${this.dropped},"top_repeated":[${top.join(',')}]}\n`
    );
  }

  writeSummary(ts: number): void {
    const s = this.summaryJson(ts);
    if (s !== null) this.sink.write('alert', s);
  }

  /** "3 alerts (new_listener 1, scan 2), 5 repeats". */
  summaryText(): string {
    const parts = ALERT_KINDS.filter((k) => this.byKind.has(k)).map((k) => `${k} ${this.byKind.get(k)}`);
    const n = this.facts.length;
    return `${n} alert${n === 1 ? '' : 's'}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}, ${this.repeats} repeats${this.dropped > 0 ? `, ${this.dropped} dropped at the limit` : ''}`;
  }
}

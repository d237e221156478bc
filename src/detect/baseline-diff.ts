// What one baseline has that another has not: listening endpoints, their
// apps, talkers, function codes per talker, hosts and scanners, as flat facts.
import { type Baseline, endpointText, functionText } from './baseline.js';
import { FUNCTION_CLASSES } from './function-class.js';

export interface DiffFact {
  fact: 'listener' | 'app' | 'talker' | 'function' | 'host' | 'scanner';
  /** One line for people. */
  text: string;
  /** The same for programs. */
  json: Record<string, unknown>;
  /** Order within a kind (numbers zero-padded). */
  key: string;
}

const pad = (n: number) => String(n).padStart(10, '0');

export interface BaselineDiff {
  added: DiffFact[];
  removed: DiffFact[];
}

function facts(b: Baseline): Map<string, DiffFact> {
  const m = new Map<string, DiffFact>();
  const eps = [...b.endpoints.values()].filter((e) => e.fact === null);
  for (const ep of eps) {
    const endpoint = { vlan: ep.vlan < 0 ? null : ep.vlan, ip: ep.ip, proto: ep.proto, port: ep.port };
    const et = endpointText(ep.vlan, ep.proto, ep.ip, ep.port);
    const ek = `${ep.ip} ${pad(ep.port)} ${ep.proto} ${pad(ep.vlan + 1)}`;
    m.set(`L ${ep.key}`, { fact: 'listener', text: `listener ${et}`, json: { fact: 'listener', endpoint }, key: ek });
    for (const a of ep.learnedApps()) {
      m.set(`A ${ep.key} ${a}`, { fact: 'app', text: `app ${a} on ${et}`, json: { fact: 'app', endpoint, app: a }, key: `${ek} ${a}` });
    }
    for (const t of ep.talkers.values()) {
      if (t.fact !== null) continue;
      m.set(`T ${ep.key} ${t.ip}`, {
        fact: 'talker',
        text: `talker ${t.ip} -> ${et}`,
        json: { fact: 'talker', endpoint, client: t.ip },
        key: `${ek} ${t.ip}`,
      });
      for (const r of t.fns.values()) {
        if (r.fact !== null) continue;
        m.set(`F ${ep.key} ${t.ip} ${r.app} ${r.fc} ${r.cls}`, {
          fact: 'function',
          text: `function ${t.ip} -> ${et} ${functionText(r.app, r.fc, r.cls)}`,
          json: { fact: 'function', endpoint, client: t.ip, app: r.app, fc: r.fc, function_class: FUNCTION_CLASSES[r.cls] },
          key: `${ek} ${t.ip} ${r.app} ${pad(r.fc)} ${r.cls}`,
        });
      }
    }
  }
  for (const h of b.hosts.values()) m.set(`H ${h.ip}`, { fact: 'host', text: `host ${h.ip}`, json: { fact: 'host', ip: h.ip }, key: h.ip });
  for (const s of b.scanners.values())
    m.set(`S ${s.ip}`, { fact: 'scanner', text: `scanner ${s.ip}`, json: { fact: 'scanner', ip: s.ip }, key: s.ip });
  return m;
}

const ORDER = ['listener', 'app', 'talker', 'function', 'host', 'scanner'];

function sorted(list: DiffFact[]): DiffFact[] {
  return list.sort((a, b) => ORDER.indexOf(a.fact) - ORDER.indexOf(b.fact) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function diffBaselines(oldB: Baseline, newB: Baseline): BaselineDiff {
  const a = facts(oldB);
  const b = facts(newB);
  const added: DiffFact[] = [];
  const removed: DiffFact[] = [];
  for (const [k, v] of b) if (!a.has(k)) added.push(v);
  for (const [k, v] of a) if (!b.has(k)) removed.push(v);
  return { added: sorted(added), removed: sorted(removed) };
}

export function diffText(d: BaselineDiff): string {
  const lines = [...d.added.map((f) => `+ ${f.text}`), ...d.removed.map((f) => `- ${f.text}`)];
  lines.push(`${d.added.length} added, ${d.removed.length} removed`);
  return `${lines.join('\n')}\n`;
}

export function diffJson(d: BaselineDiff): string {
  return `${JSON.stringify({ added: d.added.map((f) => f.json), removed: d.removed.map((f) => f.json) })}\n`;
}

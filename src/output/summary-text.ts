// The human summary printed at the end of `otwatch read`.
import { SEVERITIES, type AlertLog } from '../detect/alerts.js';
import type { Engine } from '../engine.js';
import { human } from './summary.js';

/** One input of a run: its packets and the time from opening it to its end
 *  (flows still open then are written after the last input, in the run's
 *  total only). With workers: until its last packet was handed to one. */
export interface FileTime {
  path: string;
  packets: number;
  secs: number;
}

export function renderSummary(engine: Engine, secs: number, inputs: number, damaged: number, perFile: readonly FileTime[] = []): string {
  const st = engine.stats;
  const sm = engine.summary;
  const rate = secs > 0 ? st.packets / secs : 0;
  const lines: string[] = [];
  const span = st.lastTs > st.firstTs ? ` over ${(st.lastTs - st.firstTs).toFixed(1)} s of capture` : '';
  lines.push(
    `otwatch: ${inputs} input${inputs === 1 ? '' : 's'}${damaged > 0 ? ` (${damaged} damaged)` : ''}, ${st.packets.toLocaleString('en')} packets, ${human(st.bytes)}B${span}`,
  );
  lines.push(`  processed in ${secs.toFixed(2)} s (${human(rate)} pkt/s)`);
  // Per input, with the same prefix: every timing line starts "  processed in".
  for (const f of perFile) {
    lines.push(
      `  processed in ${f.secs.toFixed(2)} s: ${f.path}, ${f.packets.toLocaleString('en')} packets (${human(f.secs > 0 ? f.packets / f.secs : 0)} pkt/s)`,
    );
  }
  lines.push(
    `  tcp ${st.tcp}, udp ${st.udp}, other ip ${st.ipOther}, non-ip ${st.nonIp}, malformed ${st.malformed}, unsupported link ${st.unsupportedLink}, truncated ${st.truncated}, fragments ${st.fragments}`,
  );
  lines.push(
    `  flows ${st.flows.toLocaleString('en')} (evicted ${engine.table.evicted}), application PDUs ${st.pdus.toLocaleString('en')}`,
  );
  if (sm.apps.size > 0) {
    lines.push(
      `  flows by application: ${[...sm.apps]
        // Ties by name: with --workers the apps arrive in the workers' order.
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  const talkers = sm.topTalkers(5);
  if (talkers.length > 0) {
    lines.push('  top talkers (client, by bytes):');
    for (const [k, v] of talkers) lines.push(`    ${k.padEnd(40)} ${human(v.bytes).padStart(9)}B ${String(v.flows).padStart(7)} flows`);
  }
  const services = sm.topServices(8);
  if (services.length > 0) {
    lines.push('  top services (server that answered, by flows):');
    for (const [k, v] of services) lines.push(`    ${k.padEnd(40)} ${String(v.flows).padStart(7)} flows ${human(v.bytes).padStart(9)}B`);
  }
  if (sm.refused > 0) {
    lines.push(`  refused connection attempts: ${sm.refused.toLocaleString('en')} (not services: the server answered with a reset)`);
  }
  if (sm.unanswered > 0) lines.push(`  unanswered attempts: ${sm.unanswered.toLocaleString('en')} (no packet back from the server)`);
  return `${lines.join('\n')}\n`;
}

/** The alerts of a run, most severe first, each with its detail sentence;
 *  at most SHOWN_PER_SEVERITY per severity, then how many more and where.
 *  `where`: where every alert record went (null: nowhere). */
export function renderAlerts(alerts: AlertLog, where: string | null): string {
  const total = alerts.count;
  if (total === 0) return '';
  const counts = SEVERITIES.filter((s) => alerts.bySeverity[s] > 0).map((s) => `${s} ${alerts.bySeverity[s]}`);
  const lines = [`  alerts: ${total.toLocaleString('en')} (${counts.join(', ')})`];
  let shown = 0;
  for (const sev of SEVERITIES) {
    const list = alerts.shown[sev];
    if (list.length === 0) continue;
    lines.push(`    ${sev}:`);
    for (const a of list) lines.push(`      ${new Date(a.ts * 1000).toISOString()} ${a.kind}: ${a.detail}`);
    shown += list.length;
  }
  if (shown < total) {
    const more = total - shown;
    lines.push(`    ${more.toLocaleString('en')} more ${where === null ? '(use --json or -w DIR for every alert record)' : `in ${where}`}`);
  }
  return `${lines.join('\n')}\n`;
}

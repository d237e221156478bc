// The `stats` record of a live run: kernel counters per interface, engine
// totals, and records the outputs could not take.
import { addStats, NO_STATS } from '../../capture/live-source.js';
import type { Engine } from '../../engine.js';
import type { Logger } from '../../output/log.js';
import type { Iface } from './captures.js';

export interface StatsContext {
  engine: Engine;
  ifaces: readonly Iface[];
  capture: string;
  startedMs: number;
  log: Logger;
  /** Records lost to output write failures so far. */
  unwritten(): number;
  /** --export: the exporter's connection state and spool counters; null: not exporting. */
  exportStats(): object | null;
}

/** The record's JSON line; logs kernel drops since the last report. */
export async function statsRecord(c: StatsContext, final: boolean): Promise<string> {
  const current = async (f: Iface) => (f.src !== null ? await f.src.stats() : NO_STATS);
  const per = await Promise.all(c.ifaces.map(async (f) => ({ f, s: addStats(f.base, await current(f)), decoded: f.decoded })));
  const now = Date.now() / 1000;
  const list = per.map(({ f, s, decoded }) => {
    const drops = s.droppedKernel ?? 0;
    if (drops > f.lastDrops) {
      const since = drops - f.lastDrops;
      c.log.warn(`${f.name}: the kernel dropped ${since} packets since the last report (${drops} in all): the sensor is not keeping up`);
      f.lastDrops = drops;
    }
    return {
      name: f.name,
      state: f.src !== null ? 'capturing' : f.timer !== null ? 'retrying' : final ? 'stopped' : 'failed',
      link: f.operstate,
      received: s.received,
      dropped_kernel: s.droppedKernel,
      dropped_iface: s.droppedIface,
      captured: s.captured,
      decoded,
      restarts: f.restarts,
      error: f.failed?.reason ?? null,
    };
  });
  const st = c.engine.stats;
  const rec = {
    type: 'stats',
    ts: Math.round(now * 1e6) / 1e6,
    final,
    uptime: Math.round(now - c.startedMs / 1000),
    capture: c.capture,
    interfaces: list,
    packets: st.packets,
    bytes: st.bytes,
    flows_open: c.engine.table.size,
    flows: st.flows,
    evicted: c.engine.table.evicted,
    pdus: st.pdus,
    malformed: st.malformed,
    truncated: st.truncated,
    records_unwritten: c.unwritten(),
    ...exportMember(c.exportStats()),
  };
  return `${JSON.stringify(rec)}\n`;
}

/** The summary's lines per interface. */
export function ifaceLines(ifaces: readonly Iface[], capture: string): string {
  const n = (v: number | null) => (v === null ? 'n/a' : v.toLocaleString('en'));
  let text = '';
  for (const f of ifaces) {
    const s = f.base;
    const restarts = f.restarts > 0 ? `, restarted ${f.restarts}×` : '';
    const drops = `dropped by kernel ${n(s.droppedKernel)}, by interface ${n(s.droppedIface)}`;
    text += `  ${f.name} (${capture}): received ${n(s.received)}, ${drops}, decoded ${f.decodedBase.toLocaleString('en')}${restarts}\n`;
  }
  return text;
}

function exportMember(e: object | null): { export?: object } {
  return e === null ? {} : { export: e };
}

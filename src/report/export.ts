// The report's tables for a CMDB or SIEM: `--format csv` (one file per table
// in a directory, RFC 4180, times in ISO 8601 UTC) and `--format json` (NDJSON:
// one `report` line with the window, then one line per row, typed
// report_asset, report_service, report_change, report_alert, with the
// columns' keys as field names and times as epoch seconds like every record).
import { csvCell } from './escape.js';
import type { ReportSnapshot } from './model.js';
import type { Table } from './tables.js';

const ROW_TYPE: Record<Table['name'], string> = {
  assets: 'report_asset',
  services: 'report_service',
  changes: 'report_change',
  alerts: 'report_alert',
};

function isoOrEmpty(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? new Date(v * 1000).toISOString() : '';
}

export function tableCsv(t: Table): string {
  const out: string[] = [t.columns.map((c) => c.key).join(',')];
  for (const r of t.rows) out.push(t.columns.map((c, i) => (c.kind === 'ts' ? isoOrEmpty(r[i]) : csvCell(r[i]))).join(','));
  return `${out.join('\r\n')}\r\n`;
}

export interface ReportMeta {
  generated_ts: number;
  source: string;
  policy: string | null;
  version: string;
}

export function tablesNdjson(s: ReportSnapshot, tables: Table[], meta: ReportMeta): string {
  const lines: string[] = [
    JSON.stringify({
      type: 'report',
      ts: meta.generated_ts,
      first_ts: s.first_ts,
      last_ts: s.last_ts,
      since: s.since,
      sensors: s.sensors,
      source: meta.source,
      policy: meta.policy,
      version: meta.version,
      assets: s.assets.length,
      services: tables.find((t) => t.name === 'services')!.rows.length,
    }),
  ];
  for (const t of tables) {
    const type = ROW_TYPE[t.name];
    for (const r of t.rows) {
      const o: Record<string, unknown> = { type };
      t.columns.forEach((c, i) => {
        o[c.key] = r[i];
      });
      lines.push(JSON.stringify(o));
    }
  }
  return `${lines.join('\n')}\n`;
}

// Builds a report from a snapshot: the HTML page, or the tables as CSV files
// or NDJSON. Output files appear whole or not at all (written aside, then
// renamed), so a full disk or a kill never leaves half a report.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../detect/baseline-file.js';
import type { Policy } from '../detect/policy.js';
import { tableCsv, tablesNdjson } from './export.js';
import { buildGraph, DEFAULT_GROUP_ABOVE } from './graph.js';
import { renderPage } from './html.js';
import { LayoutError, layoutSvg } from './layout.js';
import { html } from './escape.js';
import type { ReportSnapshot } from './model.js';
import { buildTables } from './tables.js';

export type ReportFormat = 'html' | 'csv' | 'json';

export interface ReportOptions {
  format: ReportFormat;
  /** html/json: the file (json: '-' for stdout); csv: a directory. */
  out: string;
  policy: Policy | null;
  policyName: string | null;
  source: string;
  version: string;
  generatedTs?: number;
  groupAbove?: number;
}

export interface ReportResult {
  files: string[];
  bytes: number;
  mode: 'assets' | 'groups' | null;
  nodes: number;
  mapError: string | null;
}

export interface HtmlResult {
  page: string;
  mode: 'assets' | 'groups';
  nodes: number;
  /** Why the map is missing (the layout failed or ran too long); the tables are complete. */
  mapError: string | null;
}

export async function renderHtml(
  s: ReportSnapshot,
  o: Omit<ReportOptions, 'format' | 'out'>,
  layoutTimeoutMs?: number,
): Promise<HtmlResult> {
  const tables = buildTables(s, o.policy);
  const graph = buildGraph(s, o.policy, o.groupAbove ?? DEFAULT_GROUP_ABOVE);
  let svg: string;
  let mapError: string | null = null;
  try {
    svg = await layoutSvg(graph, layoutTimeoutMs);
  } catch (e) {
    if (!(e instanceof LayoutError)) throw e;
    mapError = e.message;
    svg = `<p class="none">No map: ${html(e.message)}. The tables below are complete.</p>`;
  }
  const page = renderPage({
    snapshot: s,
    tables,
    graph,
    svg,
    source: o.source,
    policyName: o.policyName,
    generatedTs: o.generatedTs ?? Date.now() / 1000,
    version: o.version,
  });
  return { page, mode: graph.mode, nodes: Object.keys(graph.nodes).length, mapError };
}

export async function writeReport(s: ReportSnapshot, o: ReportOptions): Promise<ReportResult> {
  const generatedTs = o.generatedTs ?? Date.now() / 1000;
  if (o.format === 'html') {
    const r = await renderHtml(s, { ...o, generatedTs });
    const bytes = Buffer.from(r.page, 'utf8');
    writeFileAtomic(o.out, bytes);
    return { files: [o.out], bytes: bytes.length, mode: r.mode, nodes: r.nodes, mapError: r.mapError };
  }
  const tables = buildTables(s, o.policy);
  if (o.format === 'json') {
    const text = tablesNdjson(s, tables, { generated_ts: generatedTs, source: o.source, policy: o.policyName, version: o.version });
    const bytes = Buffer.from(text, 'utf8');
    if (o.out === '-') process.stdout.write(bytes);
    else writeFileAtomic(o.out, bytes);
    return { files: [o.out], bytes: bytes.length, mode: null, nodes: 0, mapError: null };
  }
  mkdirSync(o.out, { recursive: true });
  let total = 0;
  const files: string[] = [];
  tables.forEach((t) => {
    const path = join(o.out, `${t.name}.csv`);
    const bytes = Buffer.from(tableCsv(t), 'utf8');
    writeFileAtomic(path, bytes);
    files.push(path);
    total += bytes.length;
  });
  return { files, bytes: total, mode: null, nodes: 0, mapError: null };
}

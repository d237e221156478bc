// The report as one self-contained HTML file: inline CSS, the map as inline
// SVG, the tables as JSON in a data element rendered by the inline script.
// A Content-Security-Policy forbids every request and any script but ours
// (by hash), so the page works from a USB stick on an air-gapped laptop and
// text from the wire cannot run even if some escaping were missed.
import { createHash } from 'node:crypto';
import { html, scriptJson } from './escape.js';
import { APP_COLOURS, HIGH_CLASSES, MARK_COLOUR, MIN_GROUP, OTHER_COLOUR, ROLE_COLOURS, type MapGraph } from './graph.js';
import type { ReportSnapshot } from './model.js';
import { PAGE_SCRIPT } from './page-script.js';
import type { Table } from './tables.js';

export interface PageInput {
  snapshot: ReportSnapshot;
  tables: Table[];
  graph: MapGraph;
  svg: string;
  /** Name of the database the report was built from (shown, not linked). */
  source: string;
  policyName: string | null;
  generatedTs: number;
  version: string;
}

export function isoTs(ts: number | null): string {
  if (ts === null || !Number.isFinite(ts)) return 'unknown';
  return new Date(ts * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#1f2a36;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d3dd;font-size:13px}
main{padding:12px 24px 40px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:12px 16px}
h2{font-size:16px;margin:0 0 8px}
.method p{margin:6px 0;max-width:70em}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 0;padding:0;list-style:none}
.stats li{border:1px solid #ddd;border-radius:4px;padding:4px 10px;background:#f5f7fa}
.stats b{font-size:16px}
#map-wrap{display:flex;gap:12px;align-items:flex-start}
#map-view{flex:1;overflow:auto;height:78vh;border:1px solid #e3e3e3;border-radius:4px;background:#fff;min-height:200px}
#map-view svg{display:block}
#map-view g.node{cursor:pointer}
#map-view g.node.selected polygon,#map-view g.node.selected path{stroke:#000;stroke-width:3}
#node-panel{width:340px;max-height:78vh;overflow:auto;border:1px solid #e3e3e3;border-radius:4px;padding:8px 10px;font-size:13px}
#node-panel h3{margin:0 0 6px;font-size:14px;word-break:break-all}
.svc-list{list-style:none;padding:0;margin:0}.svc-list ul{list-style:none;padding-left:12px;margin:2px 0 6px}
.svc .port{font-family:ui-monospace,Menlo,Consolas,monospace}.meta,.none{color:#666}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:12px;margin:6px 0}
.sw{display:inline-block;width:14px;height:10px;border:1px solid #777;vertical-align:middle;margin-right:4px;border-radius:2px}
.ln{display:inline-block;width:22px;height:0;border-top:3px solid;vertical-align:middle;margin-right:4px}
.tools{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:6px}
.tools input{font:inherit;padding:3px 6px;width:26em;max-width:100%}
button{font:inherit;padding:2px 10px;cursor:pointer}
.only{background:#fff3cd;border:1px solid #e0c36b;border-radius:12px;padding:1px 10px}
.count{color:#555}
.scroll{overflow:auto;max-height:70vh}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th{position:sticky;top:0;background:#eef1f5;text-align:left;cursor:pointer;white-space:nowrap;padding:4px 6px;border-bottom:1px solid #ccc}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td{padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top;max-width:28em;overflow-wrap:break-word}
td.k-num,th.k-num{text-align:right}td.k-ts{white-space:nowrap}
.v-unapproved,.v-high{color:#b00020;font-weight:600}.v-approved{color:#1b7f3b}.v-stale{color:#8a6d00}.v-baseline{color:#1f4e8c}
.v-medium{color:#b35c00}
footer{color:#777;font-size:12px;padding:0 24px 20px}
`;

function legend(): string {
  const role = (Object.keys(ROLE_COLOURS) as (keyof typeof ROLE_COLOURS)[])
    .map(
      (k) =>
        `<span><span class="sw" style="background:${ROLE_COLOURS[k]}"></span>${html(
          { server: 'serves an industrial protocol', client: 'client / master', both: 'both', none: 'no industrial role' }[k],
        )}</span>`,
    )
    .join('');
  const apps = Object.entries(APP_COLOURS)
    .concat([['other', OTHER_COLOUR]])
    .map(([a, c]) => `<span><span class="ln" style="border-color:${c}"></span>${html(a)}</span>`)
    .join('');
  return (
    `<div class="legend">${role}<span><span class="sw" style="border:3px double ${MARK_COLOUR}"></span>` +
    'alert or unapproved service</span></div>' +
    `<div class="legend">${apps}<span><span class="ln" style="border-color:#555;border-top-width:6px"></span>` +
    `thick, labelled: ${HIGH_CLASSES.join(' / ')} used</span></div>`
  );
}

function tableSection(t: Table, blurb: string): string {
  return (
    `<section id="table-${t.name}"><h2>${html(t.title)}</h2><p class="blurb">${blurb}</p>` +
    `<div class="tools"><input class="filter" type="search" placeholder="filter: words, or column:word (e.g. status:unapproved)" ` +
    `aria-label="filter ${html(t.title)}"><span class="count"></span><button class="only" hidden></button></div>` +
    `<div class="scroll"><table></table></div><button class="more" hidden></button></section>`
  );
}

export function renderPage(p: PageInput): string {
  const s = p.snapshot;
  const svcTable = p.tables.find((t) => t.name === 'services')!;
  const services = svcTable.rows;
  const si = svcTable.columns.findIndex((c) => c.key === 'status');
  const byStatus = new Map<string, number>();
  for (const r of services) byStatus.set(String(r[si]), (byStatus.get(String(r[si])) ?? 0) + 1);
  const statusText = ['baseline', 'approved', 'unapproved', 'stale'].map((k) => `${byStatus.get(k) ?? 0} ${k}`).join(', ');
  const changes = p.tables.find((t) => t.name === 'changes')!.rows.length;
  const sensors = s.sensors.length > 0 ? s.sensors.map(html).join(', ') : 'not recorded';
  const window = s.first_ts === null ? null : `${html(isoTs(s.first_ts))} to ${html(isoTs(s.last_ts))}`;
  const since = s.since === null ? 'the beginning of the history' : html(isoTs(s.since));
  const g = p.graph;
  const mapNote =
    g.mode === 'groups'
      ? `${s.assets.length} assets are more than the map can show one by one: ` +
        `each box is a subnet (IPv4 /${g.prefix} where at least ${MIN_GROUP} addresses share one, wider for scattered addresses; ` +
        `IPv6 /${(g.prefix ?? 24) + 40} and wider)` +
        `${p.policyName !== null ? ' within its zone' : ''}; click one for its assets and their services.`
      : 'Each box is one address; click one for its services.';
  const edgeNote =
    g.edgesDrawn < g.edgesTotal
      ? ` The ${g.edgesDrawn} busiest connections of ${g.edgesTotal} are drawn (writes, control and config first).`
      : '';
  const data = scriptJson({ tables: p.tables, nodes: g.nodes });
  const hash = createHash('sha256').update(PAGE_SCRIPT).digest('base64');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${hash}'; form-action 'none'; base-uri 'none'`;

  return (
    `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otwatch inventory report, ${html(isoTs(s.last_ts))}</title>
<style>${CSS}</style></head>
<body>
<header><h1>OT asset and service inventory</h1>
<p>Observed ${window ?? 'nothing yet'}. Sensors: ${sensors}. Built ${html(isoTs(p.generatedTs))} by otwatch ${html(p.version)} from ${html(p.source)}` +
    `${p.policyName !== null ? `, zones from ${html(p.policyName)}` : ''}.</p></header>
<main>
<section class="method" id="method"><h2>Method</h2>
<p>This inventory comes from passive observation: otwatch read a copy of the network's traffic ` +
    `(a SPAN or mirror port, or captures of one)${window === null ? '' : ` from ${window}`}, with sensor(s) ${sensors}, and sent no packet. ` +
    'A service is listed because it carried traffic in that window. A port that ' +
    `is open but was not used, was used only outside the window, or is reached only over paths no sensor sees does not appear.</p>
<p>It therefore complements host-based port and service listings (the host's own socket list, vendor configuration tools) ` +
    `and does not replace them. Status of a service: <b>baseline</b> learned from traffic, not yet reviewed; <b>approved</b> reviewed, ` +
    'with reason, approver and ticket; <b>unapproved</b> appeared after the baseline (its new_listener alert is linked); ' +
    '<b>stale</b> not seen ' +
    `for the stale period (35 days unless set otherwise). Changes are listed from ${since}.</p>
<ul class="stats"><li><b>${s.assets.length}</b> assets</li><li><b>${services.length}</b> services (${statusText})</li>` +
    `<li><b>${changes}</b> changes and <b>${s.alerts.length}</b> alerts since ${since}</li></ul></section>
<section id="map"><h2>Network map</h2><p>${mapNote}${edgeNote}</p>${legend()}
<div class="tools"><button id="zoom-in" title="zoom in">+</button><button id="zoom-out" title="zoom out">&minus;</button>` +
    `<button id="zoom-fit">fit</button></div>
<div id="map-wrap"><div id="map-view">${p.svg}</div><aside id="node-panel" hidden></aside></div></section>
${tableSection(p.tables[0], 'Every address that took part in traffic, with its roles and the identity its traffic carried.')}
${tableSection(p.tables[1], 'Every endpoint that answered: NERC CIP-007 R1 evidence of enabled ports and services, status and approval.')}
${tableSection(p.tables[2], `What changed since ${since}: the CIP-010 R1/R2 review (at least every 35 days).`)}
${tableSection(p.tables[3], `Alerts since ${since}, in time order.`)}
</main>
<footer>otwatch ${html(p.version)}. This file is self-contained: it loads nothing and sends nothing.</footer>
<script type="application/json" id="report-data">${data}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`
  );
}

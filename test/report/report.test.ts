// The report without a browser: escaping through the real Graphviz, the map's
// grouping at 10 000 assets, the CSV and JSON tables against `inventory show`,
// and the command's faults (corrupt database, bad policy, full disk).
import { instance } from '@viz-js/viz';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInventory } from '../../src/inventory/db.js';
import { csvCell, dotString, scriptJson } from '../../src/report/escape.js';
import { tableCsv } from '../../src/report/export.js';
import { buildGraph, MAX_GROUPS, subnetOf } from '../../src/report/graph.js';
import { buildTables, SERVICE_COLUMNS } from '../../src/report/tables.js';
import { synthInventory } from '../../tools/synth-inventory.js';
import { fixture, runCli } from '../helpers/run.js';
import { REPO } from '../helpers/shared.js';

const HOSTILE = [
  '<script>alert(1)</script>',
  '"];\na -> b [label="x',
  'back\\slash \\N \\l',
  '&amp; &#60; &bogus;',
  'Ünïcødé ✓ 𝔘',
  "=cmd|'/c calc'!A1",
];

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, e: string) =>
    e[0] === '#'
      ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)))
      : ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()],
  );
}

describe('escaping', () => {
  it('a DOT string reaches the SVG as exactly its text, with no markup', async () => {
    const viz = await instance();
    for (const h of HOSTILE) {
      const svg = viz.renderString(`digraph { n1 [label=${dotString(h)}]; }`, { format: 'svg' });
      const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decodeXml(m[1]));
      expect(texts, h).toEqual([h.replace(/[\n]/g, '?')]);
      expect(svg).not.toContain('<script');
    }
  });

  it('JSON in a script element cannot close it and parses back unchanged', () => {
    const v = { a: HOSTILE, b: '</script><script>alert(1)</script><!--', c: 'line\u2028sep\u2029' };
    const s = scriptJson(v);
    expect(s).not.toMatch(/[<\u2028\u2029]/);
    expect(JSON.parse(s)).toEqual(v);
  });

  it('CSV cells are quoted as RFC 4180 says and formulas are defused', () => {
    expect(csvCell('=1+2')).toBe("'=1+2");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(-1)).toBe('-1');
    expect(csvCell(['read', 'write'])).toBe('read; write');
    expect(csvCell(null)).toBe('');
  });
});

describe('map', () => {
  it('one node per address up to the threshold, with client -> server edges', () => {
    const s = synthInventory({ assets: 60 });
    const g = buildGraph(s, null);
    expect(g.mode).toBe('assets');
    const ips = new Set([...s.assets.map((a) => a.ip), ...s.talks.flatMap((t) => [t.client, t.server])]);
    expect(
      Object.values(g.nodes)
        .map((n) => n.ips[0])
        .sort(),
    ).toEqual([...ips].sort());
    expect(g.edgesDrawn).toBe(new Set(s.talks.map((t) => `${t.client}|${t.server}|${t.app}`)).size);
  });

  it('10 000 assets: grouped by subnet, every address in exactly one group, laid out', async () => {
    const s = synthInventory({ assets: 10_000 });
    const g = buildGraph(s, null);
    expect(g.mode).toBe('groups');
    const nodes = Object.values(g.nodes);
    expect(nodes.length).toBeLessThanOrEqual(MAX_GROUPS);
    const seen = nodes.flatMap((n) => n.ips);
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set([...s.assets.map((a) => a.ip), ...s.talks.flatMap((t) => [t.client, t.server])]));
    for (const n of nodes) {
      const [net, bits] = n.label.split(' ')[0].split('/');
      for (const ip of n.ips) expect(subnetOf(ip, Number(bits))).toBe(`${net}/${bits}`);
    }
    const viz = await instance();
    const r = viz.render(g.dot, { format: 'svg', engine: g.engine });
    expect(r.status).toBe('success');
    expect((r.output!.match(/class="node"/g) ?? []).length).toBe(nodes.length);
  });

  it('grouping keeps dense /24s and gathers scattered addresses into the rest of their /16 or /8', () => {
    const ips = [...Array.from({ length: 10 }, (_, i) => `10.10.1.${i + 1}`), '10.10.2.1', '10.10.2.2', '10.10.3.1', '8.8.8.8'];
    const base = synthInventory({ assets: 1 });
    const s = { ...base, talks: [], alerts: [], assets: ips.map((ip) => ({ ...base.assets[0], ip })) };
    const g = buildGraph(s, null, 5);
    const groups = Object.values(g.nodes).map((n) => [n.label, n.ips.length]);
    expect(groups.sort()).toEqual([
      ['10.10.0.0/16 (rest)', 3],
      ['10.10.1.0/24', 10],
      ['8.0.0.0/8', 1],
    ]);
  });

  it('a layout that runs too long is stopped; the page keeps every table', async () => {
    // The compiled modules: only there does the layout run in a worker that can be stopped.
    const layout = await import(join(REPO, 'dist/src/report/layout.js'));
    const build = await import(join(REPO, 'dist/src/report/build.js'));
    // dot's component packing with clusters runs for minutes on 250 assets (found while choosing engines).
    const g = buildGraph(synthInventory({ assets: 250 }), null);
    const slow = { ...g, dot: g.dot.replace('newrank=true', 'newrank=true, pack=true, packmode="array_u"') };
    const t0 = Date.now();
    await expect(layout.layoutSvg(slow, 1500)).rejects.toThrow(/took longer than 1.5 s and was stopped/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const s = synthInventory({ assets: 60 });
    const r = await build.renderHtml(s, { policy: null, policyName: null, source: 'x.db', version: 't' }, 1);
    expect(r.mapError).toMatch(/took longer than/);
    expect(r.page).toContain('No map: graph layout (dot) took longer than');
    expect(r.page).toContain(s.assets[0].ip);
  });

  it('CSV of a table: a header of the column keys and one line per row', () => {
    const s = synthInventory({ assets: 50, hostile: true });
    const t = buildTables(s, null).find((x) => x.name === 'services')!;
    const lines = tableCsv(t).split('\r\n');
    expect(lines[0]).toBe(SERVICE_COLUMNS.map((c) => c.key).join(','));
    expect(lines.length - 2).toBe(s.assets.reduce((n, a) => n + a.services.length, 0));
  });
});

describe('otwatch report', () => {
  let dir: string;
  let db: string;
  let shown: any[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otwatch-report-cli-'));
    db = join(dir, 'inv.db');
    const r = runCli(['read', '-q', '--inventory', db, fixture('gen', 'plant-sample.pcap'), fixture('corpus', 'dnp3_read.pcap')]);
    expect(r.code, r.stderr).toBe(0);
    shown = runCli(['inventory', 'show', '--json', db])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--format json: the window, then one line per asset, service, change and alert, agreeing with inventory show', () => {
    const r = runCli(['report', db, '--format', 'json', '-o', '-', '--since', '0']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].type).toBe('report');
    expect(lines[0].assets).toBe(shown.length);
    const assets = lines.filter((l) => l.type === 'report_asset');
    const services = lines.filter((l) => l.type === 'report_service');
    expect(assets.map((a) => a.ip).sort()).toEqual(shown.map((a) => a.ip).sort());
    const line = (ip: string, s: any) => `${ip} ${s.proto}/${s.port} ${s.app} ${s.status} ${s.flows} ${s.clients}`;
    const want = shown.flatMap((a) => a.services.map((s: any) => line(a.ip, s)));
    expect(services.map((s) => line(s.ip, s)).sort()).toEqual(want.sort());
    const history = runCli(['inventory', 'history', '--json', db]).stdout.trim().split('\n');
    expect(lines.filter((l) => l.type === 'report_change').length).toBe(history.length);
    const later = runCli(['report', db, '--format', 'json', '-o', '-', '--since', '2999-01-01']);
    const types = later.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type);
    expect(types.filter((t) => t === 'report_change' || t === 'report_alert')).toEqual([]);
  });

  it('--format csv: four files with the same rows', () => {
    const out = join(dir, 'csv');
    const r = runCli(['report', db, '--format', 'csv', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['alerts.csv', 'assets.csv', 'changes.csv', 'services.csv']);
    const assets = readFileSync(join(out, 'assets.csv'), 'utf8').trim().split('\r\n');
    expect(assets.length - 1).toBe(shown.length);
    const services = readFileSync(join(out, 'services.csv'), 'utf8').trim().split('\r\n');
    expect(services.length - 1).toBe(shown.reduce((n, a) => n + a.services.length, 0));
    expect(services[0].split(',')).toContain('approver');
  });

  it('an empty inventory: a page that says nothing was observed yet', () => {
    const empty = join(dir, 'empty.db');
    openInventory(empty).close();
    const r = runCli(['report', empty, '-o', join(dir, 'empty.html')]);
    expect(r.code, r.stderr).toBe(0);
    const page = readFileSync(join(dir, 'empty.html'), 'utf8');
    expect(page).toContain('Observed nothing yet.');
    expect(page).toContain('Changes are listed from the beginning of the history');
    expect(page).toContain('<b>0</b> assets');
  });

  it('faults: one line and the right exit code', () => {
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not a database at all'.repeat(100));
    const bad = runCli(['report', junk, '-o', join(dir, 'x.html')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^otwatch: report: .*junk\.db/);
    expect(existsSync(join(dir, 'x.html'))).toBe(false);

    const missing = runCli(['report', join(dir, 'nope.db'), '-o', join(dir, 'x.html')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such inventory database/);

    expect(runCli(['report', db]).code).toBe(2);
    const pol = join(dir, 'p.json');
    writeFileSync(pol, '{"zones": 3}');
    const badPolicy = runCli(['report', db, '-o', join(dir, 'x.html'), '--policy', pol]);
    expect(badPolicy.code).toBe(2);
    expect(badPolicy.stderr).toMatch(/zones must be a list/);

    const noDir = runCli(['report', db, '-o', join(dir, 'no', 'such', 'dir', 'r.html')]);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr.trim().split('\n')).toHaveLength(1);
    expect(noDir.stderr).toMatch(/^otwatch: report: cannot write .*r\.html: ENOENT/);
  });

  it('a full disk: exit 1, one line, no partial report left', () => {
    const mnt = join(dir, 'full');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', mnt]);
    try {
      const r = runCli(['report', db, '-o', join(mnt, 'report.html')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^otwatch: report: cannot write .*report\.html: ENOSPC/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

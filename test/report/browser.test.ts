// The report in a real browser: Debian's chromium, headless, driven by
// playwright-core (no browser download). An inventory is built from captures
// by `otwatch read --inventory`, one service is approved, `otwatch report`
// writes the page; the test checks the map's nodes against `inventory show`,
// filters and sorts the services table, clicks a node, checks that the page
// made no request, and takes a screenshot. A second page built from hostile
// names checks that nothing from the data runs.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/build.js';
import { synthInventory } from '../../tools/synth-inventory.js';
import { fixture, runCli } from '../helpers/run.js';
import { hasShared, REPO, SHARED_PCAPS } from '../helpers/shared.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Corpus captures added to the bundled ones when the corpus is there: one or two per protocol. */
const CORPUS = [
  'dumbled00r-DNP3-ICS-Lab/dataset/pcap/MITM_DOS.pcap',
  'heinrihs-s-IEC104-Threat-Scenario-Generator/pcaps/stage_2_T0801.pcap',
  'ITI-ICS-Security-Tools/pcaps/modicon/modicon_test.pcap',
  'KiwiMiri-opcua-security-research/pcaps/anssi_scenario/scenario_baseline_none.pcap',
  'icsnpp-opcua-binary/tests/traces/open62541_client-server_mainloop-not-localhost-non-standard-port.pcap',
];
const FIXTURES = [
  fixture('gen', 'plant-sample.pcap'),
  fixture('corpus', 'dnp3_read.pcap'),
  fixture('corpus', 'open62541_client-server-getEndpoints.pcap'),
  fixture('corpus', 'modbusSmall.pcap'),
];

interface Svc {
  proto: string;
  port: number;
  app: string | null;
  status: string;
}
interface Asset {
  ip: string;
  services: Svc[];
}

let dir: string;
let ctx: BrowserContext;
let assets: Asset[];
const requests: string[] = [];
const problems: string[] = [];

async function open(file: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(`file://${file}`);
  return page;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otwatch-report-'));
  const db = join(dir, 'plant.db');
  const captures = [...FIXTURES, ...(hasShared ? CORPUS.map((p) => resolve(SHARED_PCAPS, p)) : [])];
  const read = runCli(['read', '-q', '--inventory', db, ...captures]);
  expect(read.stderr).toBe('');
  expect(read.code).toBe(0);
  const approve = runCli([
    'inventory',
    'approve',
    db,
    '10.10.1.30',
    'tcp/20000',
    '--reason',
    'DNP3 polling of RTU 10',
    '--by',
    'j.doe',
    '--ticket',
    'CHG-42',
  ]);
  expect(approve.code).toBe(0);
  const show = runCli(['inventory', 'show', '--json', db]);
  expect(show.code).toBe(0);
  assets = show.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Asset);
  const rep = runCli(['report', db, '-o', join(dir, 'report.html'), '--policy', resolve(REPO, 'docs/policy.example.json')]);
  expect(rep.code, rep.stderr).toBe(0);
  expect(rep.stderr).toMatch(/^otwatch: report: \d+ assets, map of \d+ assets: .*report\.html/);
  ctx = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 1000 },
  });
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('report in chromium', () => {
  it("shows every asset on the map, filters, sorts, and lists a clicked node's services, offline", async () => {
    const page = await open(join(dir, 'report.html'));
    // Every asset of the inventory is a node whose hover title starts with its address.
    const titles = await page.locator('#map-view g.node > title').allTextContents();
    const nodeIps = new Set(titles.map((t) => t.split(/[\s]/)[0]));
    expect(assets.length).toBeGreaterThan(5);
    for (const a of assets) expect(nodeIps.has(a.ip), a.ip).toBe(true);

    // The services table holds every service; filtering by application keeps exactly the modbus ones.
    const services = assets.flatMap((a) => a.services.map((s) => ({ ...s, ip: a.ip })));
    const svc = page.locator('#table-services');
    await expect.poll(() => svc.locator('tbody tr').count()).toBe(services.length);
    await svc.locator('input.filter').fill('app:modbus');
    const modbus = services.filter((s) => s.app === 'modbus');
    expect(modbus.length).toBeGreaterThan(0);
    await expect.poll(() => svc.locator('tbody tr').count()).toBe(modbus.length);
    expect(await svc.locator('.count').textContent()).toBe(`${modbus.length} of ${services.length} rows`);
    const appCol = await svc.locator('th').allTextContents();
    const appIdx = appCol.indexOf('Application');
    const apps = await svc.locator(`tbody tr td:nth-child(${appIdx + 1})`).allTextContents();
    expect(new Set(apps)).toEqual(new Set(['modbus']));

    // Sorting by port, twice: ascending, then descending.
    await svc.locator('input.filter').fill('');
    const portIdx = appCol.indexOf('Port');
    await svc.locator('th', { hasText: /^Port$/ }).click();
    const asc = (await svc.locator(`tbody tr td:nth-child(${portIdx + 1})`).allTextContents()).map(Number);
    expect(asc).toEqual([...services.map((s) => s.port)].sort((x, y) => x - y));
    await svc.locator('th', { hasText: /^Port$/ }).click();
    const desc = (await svc.locator(`tbody tr td:nth-child(${portIdx + 1})`).allTextContents()).map(Number);
    expect(desc).toEqual([...asc].reverse());

    // The approved service shows its reason, approver and status (stale outranks approved, as in inventory show).
    await svc.locator('input.filter').fill('ticket:chg-42');
    await expect.poll(() => svc.locator('tbody tr').count()).toBe(1);
    const row = await svc.locator('tbody tr').first().textContent();
    const dnp3 = services.find((x) => x.ip === '10.10.1.30' && x.port === 20000)!;
    expect(['approved', 'stale']).toContain(dnp3.status);
    expect(row).toContain(dnp3.status);
    expect(row).toContain('DNP3 polling of RTU 10');
    expect(row).toContain('j.doe');
    expect(row).toContain('CHG-42');
    await svc.locator('input.filter').fill('');

    // Clicking the RTU's node lists its services and narrows the tables to it.
    const rtu = assets.find((a) => a.ip === '10.10.1.30')!;
    const node = page.locator('#map-view g.node').filter({ has: page.locator('title', { hasText: /^10\.10\.1\.30\s/ }) });
    await node.click();
    const panel = page.locator('#node-panel');
    await expect.poll(() => panel.isVisible()).toBe(true);
    for (const s of rtu.services) expect(await panel.textContent()).toContain(`${s.proto}/${s.port}`);
    expect(await panel.textContent()).toContain('dnp3');
    await expect.poll(() => svc.locator('tbody tr').count()).toBe(rtu.services.length);
    expect(await svc.locator('button.only').textContent()).toContain('10.10.1.30');
    await svc.locator('button.only').click();
    await expect.poll(() => svc.locator('tbody tr').count()).toBe(services.length);

    // The method statement states the window and the sensors.
    const method = await page.locator('#method').textContent();
    expect(method).toMatch(/passive observation/);
    expect(method).toMatch(/complements host-based port and service listings/);

    // The screenshot shows the map with the clicked node's services beside it.
    await node.click();
    await page.evaluate(() => (globalThis as any).document.getElementById('map').scrollIntoView());
    const shot = process.env.OTWATCH_REPORT_SCREENSHOT ?? join(dir, 'report.png');
    await page.screenshot({ path: shot });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(shot).size).toBeGreaterThan(20_000);

    expect(requests).toEqual([`file://${join(dir, 'report.html')}`]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows hostile names as text: nothing from the data runs or loads', async () => {
    const s = synthInventory({ assets: 40, hostile: true });
    const opts = { policy: null, policyName: null, source: '<b>x</b>.db', version: 'test', generatedTs: 1_764_000_000 };
    const { page: html } = await renderHtml(s, opts);
    const file = join(dir, 'hostile.html');
    writeFileSync(file, html);
    requests.length = 0;
    const page = await open(file);
    await expect.poll(() => page.locator('#table-assets tbody tr').count()).toBe(s.assets.length);
    // The markup from the wire is text in the table, in the node titles and labels; no element came of it.
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(2);
    expect(await page.locator('#table-assets tbody').textContent()).toContain('<script>alert(1)</script>');
    const titles = (await page.locator('#map-view g.node > title').allTextContents()).join('\n');
    expect(titles).toContain('"><img src=x onerror=alert(2)>');
    expect(await page.locator('#map-view svg').textContent()).toContain('"><img src=x onerror=alert(2)>');
    expect(await page.locator('header').textContent()).toContain('<b>x</b>.db');
    expect(requests).toEqual([`file://${file}`]);
    expect(problems).toEqual([]);
    await page.close();
  });
});

// The human summary shows what matters: with --baseline the alerts, most
// severe first, each with its detail sentence, capped, then how many more
// and where they went; "top services" only lists servers that answered, and
// refused attempts are counted on their own line.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SHOWN_PER_SEVERITY } from '../../src/detect/alerts.js';
import { runCli, type Rec } from '../helpers/run.js';
import { clock, T0, tmpDir, writePcap } from '../detect/helpers.js';
import * as S from '../detect/scenarios.js';

let dir: string;
let otb: string;
let today: string;

beforeAll(() => {
  dir = tmpDir('summary-alerts');
  otb = join(dir, 'plant.otb');
  expect(runCli(['baseline', 'learn', writePcap(dir, 'train.pcap', S.train()), '-o', otb]).code).toBe(0);
  // 14 new web servers on the PLC (new_listener each), new functions, and a
  // port scan of the PLC: 24 ports refused (RST), port 22 answers.
  const c = clock(T0 + 100);
  const pk = [];
  for (let i = 0; i < 14; i++) pk.push(...S.http(c, { client: S.MASTER, server: S.PLC, cport: 42000 + i, sport: 8000 + i }));
  pk.push(...S.newFunction(c), ...S.scan(c));
  today = writePcap(dir, 'today.pcap', pk);
});

const SEV_ORDER = ['high', 'medium', 'low'];

describe('human summary', () => {
  it('lists the alerts by severity with their detail sentences, capped, then how many more and where', () => {
    const json = runCli(['read', '--json', '-q', '--baseline', otb, today]);
    expect(json.code, json.stderr).toBe(0);
    const alerts = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec)
      .filter((r) => r.type === 'alert');
    const bySev = new Map<string, Rec[]>();
    for (const a of alerts) bySev.set(a.severity, [...(bySev.get(a.severity) ?? []), a]);
    expect(Math.max(...[...bySev.values()].map((l) => l.length))).toBeGreaterThan(SHOWN_PER_SEVERITY);

    const out = join(dir, 'out');
    const r = runCli(['read', '-w', out, '--baseline', otb, today]);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout;
    const counts = SEV_ORDER.filter((s) => bySev.has(s))
      .map((s) => `${s} ${bySev.get(s)!.length}`)
      .join(', ');
    expect(text).toContain(`  alerts: ${alerts.length} (${counts})\n`);
    // Severity headings in order; under each, the first alerts of that severity in time order.
    let at = text.indexOf('  alerts:');
    let shown = 0;
    for (const sev of SEV_ORDER) {
      const list = bySev.get(sev);
      if (list === undefined) continue;
      const h = text.indexOf(`    ${sev}:\n`, at);
      expect(h, sev).toBeGreaterThan(at);
      at = h;
      for (const a of list.slice(0, SHOWN_PER_SEVERITY)) {
        const line = `      ${new Date(a.ts * 1000).toISOString()} ${a.kind}: ${a.detail}\n`;
        const k = text.indexOf(line, at);
        expect(k, line).toBeGreaterThan(at);
        at = k;
        shown++;
      }
      for (const a of list.slice(SHOWN_PER_SEVERITY)) expect(text).not.toContain(a.detail);
    }
    expect(text).toContain(`    ${alerts.length - shown} more in ${out}/alerts.ndjson\n`);
    // Without --json or -w, the summary says how to get them all.
    const bare = runCli(['read', '--baseline', otb, today]);
    expect(bare.stdout).toContain(`    ${alerts.length - shown} more (use --json or -w DIR for every alert record)\n`);
    // With --json the summary is on stderr and names the stream.
    const js = runCli(['read', '--json', '--baseline', otb, today]);
    expect(js.stderr).toContain(`    ${alerts.length - shown} more in the --json stream\n`);
  });

  it('top services lists only servers that answered; refused attempts are counted on their own line', () => {
    const r = runCli(['read', '--json', today]);
    expect(r.code).toBe(0);
    const flows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec)
      .filter((f) => f.type === 'flow');
    const refused = flows.filter((f) => f.state === 'rejected').length;
    const unanswered = flows.filter((f) => f.pkts.s2c === 0).length;
    // The PLC's 24 closed ports, and the known scanner's sweep again; the 30 silent RTUs.
    expect(refused).toBeGreaterThanOrEqual(24);
    expect(unanswered).toBeGreaterThanOrEqual(30);
    const s = r.stderr;
    const services = s.slice(s.indexOf('  top services'), s.indexOf('  refused'));
    expect(services).toContain('top services (server that answered, by flows):');
    expect(services).not.toMatch(new RegExp(`${S.PLC.replaceAll('.', '\\.')} tcp/(1|2|21|23|24|25) `));
    expect(services).not.toMatch(/10\.0\.1\.\d+ tcp\/502|10\.0\.0\.40 /);
    expect(services).toContain(`${S.PLC} tcp/502 (modbus)`);
    expect(s).toContain(`  refused connection attempts: ${refused} (not services: the server answered with a reset)\n`);
    expect(s).toContain(`  unanswered attempts: ${unanswered} (no packet back from the server)\n`);
  });
});

// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// Detection on the public corpus: every capture replayed against the
// baseline learned from it is quiet; and on a few captures, what is new in
// the second half is checked against tshark (an independent decoder).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG, codeClass, FUNCTION_CLASSES } from '../../src/detect/function-class.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';
import { learn, runDetect } from './helpers.js';

function tshark(file: string, filter: string, fields: string[]): string[][] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

function tsv(rel: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(resolve(SHARED_PCAPS, '_tshark_ref', rel), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => l.split('\t'));
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])));
}

withShared(() => {
  describe('public corpus', () => {
    it('replaying every capture against the baseline learned from it raises nothing', async () => {
      const rows = readFileSync(resolve(SHARED_PCAPS, 'MANIFEST.tsv'), 'utf8')
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split('\t')[0]);
      expect(rows.length).toBeGreaterThan(300);
      const noisy: string[] = [];
      let endpoints = 0;
      for (const rel of rows) {
        const p = resolve(SHARED_PCAPS, rel);
        const b = await learn([p]);
        endpoints += b.endpoints.size;
        const r = await runDetect([p], { baseline: b });
        if (r.alerts.length > 0) noisy.push(`${rel}: ${r.alerts.map((a) => a.detail).join(' | ')}`);
      }
      expect(noisy).toEqual([]);
      // The replay compared something: the corpus has hundreds of listeners.
      expect(endpoints).toBeGreaterThan(300);
    });

    it('dnp3_example: the function codes new in the second half are those tshark sees the master use first there', async () => {
      const rel = 'icsnpp-dnp3/testing/traces/dnp3_example.pcap';
      const rows = tsv(`${rel}.dnp3.tsv`);
      // The first frame of the capture is a DNP3 frame: the detector's clock starts there.
      expect(rows[0]['frame.number']).toBe('1');
      const t0 = Number(rows[0]['frame.time_epoch']);
      const tEnd = Number(rows[rows.length - 1]['frame.time_epoch']);
      const cut = (t0 + tEnd) / 2;
      expect(rows.some((r) => Number(r['frame.time_epoch']) === cut)).toBe(false);
      // Master requests (link DIR bit 1) with an application function code.
      const key = (r: Record<string, string>): string => {
        const fc = Number(r['dnp3.al.func']);
        const groups = r['dnp3.al.obj']
          .split('|')
          .filter((x) => x !== '')
          .map((x) => parseInt(x.slice(2, 4), 16));
        // WRITE of g50 (time) or g70 (file) is config: see src/detect/function-class.ts.
        const cls = fc === 2 && groups.some((g) => g === 50 || g === 70) ? CONFIG : codeClass('dnp3', fc);
        return `${fc}/${FUNCTION_CLASSES[cls]}`;
      };
      const requests = rows.filter((r) => r['dnp3.ctl.dir'] === '1' && r['dnp3.al.func'] !== '');
      const before = new Set(requests.filter((r) => Number(r['frame.time_epoch']) < cut).map(key));
      const expected = [...new Set(requests.filter((r) => Number(r['frame.time_epoch']) > cut).map(key))].filter((k) => !before.has(k));
      expect(expected.length).toBeGreaterThan(0);

      const r = await runDetect([resolve(SHARED_PCAPS, rel)], { learnFor: cut - t0 });
      const got = r.alerts.filter((a) => a.kind === 'new_function');
      expect(got.map((a) => `${a.fc}/${a.function_class}`).sort()).toEqual(expected.sort());
      expect(got.every((a) => a.client.ip === '10.10.20.5' && a.server.ip === '10.10.20.8' && a.app === 'dnp3')).toBe(true);
      expect(r.alerts.filter((a) => a.kind !== 'new_function')).toEqual([]);
    });

    it('modbus-and-non-modbus-p502: new listeners and non-Modbus on port 502, as tshark sees them', async () => {
      const file = resolve(SHARED_PCAPS, 'zeek/Traces/modbus/modbus-and-non-modbus-p502.pcap');
      // Learn the first Modbus session (0-177 s); the rest comes years later.
      const t0 = Number(tshark(file, 'tcp', ['frame.time_epoch'])[0][0]);
      const cut = t0 + 1000;
      const synAck = tshark(file, `tcp.flags.syn==1 && tcp.flags.ack==1 && frame.time_epoch > ${cut}`, ['ip.src', 'tcp.srcport']);
      const listeners = [...new Set(synAck.map(([ip, port]) => `${ip}:${port}`))].sort();
      // Client payload to 502 that tshark does not decode as Modbus/TCP.
      const other = tshark(file, `tcp.dstport==502 && tcp.len>0 && !mbtcp && frame.time_epoch > ${cut}`, ['ip.dst']);
      const odd = [...new Set(other.map(([ip]) => `${ip}:502`))].sort();
      expect(listeners.length).toBeGreaterThan(0);
      expect(odd.length).toBeGreaterThan(0);

      const r = await runDetect([file], { learnFor: 1000 });
      const of = (kind: string) =>
        [...new Set(r.alerts.filter((a) => a.kind === kind).map((a) => `${a.server.ip}:${a.server.port}`))].sort();
      expect(of('new_listener')).toEqual(listeners);
      expect(of('unexpected_protocol')).toEqual(odd);
      expect(r.alerts.filter((a) => a.kind === 'unexpected_protocol').every((a) => a.severity === 'high' && a.app === null)).toBe(true);
      expect(r.alerts.map((a) => a.kind).sort()).toEqual(
        [...listeners.map(() => 'new_listener'), ...odd.map(() => 'unexpected_protocol')].sort(),
      );
    });
  });
});

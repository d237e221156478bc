// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// The S7comm module against CISA's ICSNPP S7comm Zeek plugin (btest
// baselines in ../shared/pcaps/icsnpp-s7comm): every row of s7comm.log,
// s7comm_plus.log and s7comm_read_szl.log appears in otwatch's PDUs for the
// same direction and in the same order, and s7comm_known_devices.log's names
// are what the identity hook reports.
// ICSNPP reads the PDU reference little-endian (tshark and the S7 header
// layout say big-endian: 0x0100 is Zeek's 1), so it is compared byte-swapped.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

const BASE = resolve(SHARED_PCAPS, 'icsnpp-s7comm/tests/baseline');
const TRACES = resolve(SHARED_PCAPS, 'icsnpp-s7comm/tests/traces');
const CASES = ['snap7', 's7ident', 's7comm_plus'];

function zeekLog(test: string, name: string): Record<string, string>[] {
  const p = resolve(BASE, `analyzer.${test}`, `${name}.log`);
  if (!existsSync(p)) return [];
  const lines = readFileSync(p, 'utf8').split('\n');
  const fields = lines
    .find((l) => l.startsWith('#fields'))!
    .split('\t')
    .slice(1);
  return lines
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const c = l.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, c[i]]));
    });
}

const zdir = (r: Record<string, string>) => `${r.source_h}:${r.source_p}>${r.destination_h}:${r.destination_p}`;
function odir(p: Rec): string {
  const a = `${p.client.ip}:${p.client.port}`;
  const b = `${p.server.ip}:${p.server.port}`;
  return p.dir === 'c2s' ? `${a}>${b}` : `${b}>${a}`;
}
const swap16 = (v: number) => ((v & 0xff) << 8) | (v >> 8);

/** Zeek keys not found, in order, among otwatch's keys of the same direction. */
function missing(zeek: [string, string][], ours: [string, string][]): string[] {
  const out: string[] = [];
  const pos = new Map<string, number>();
  for (const [d, k] of zeek) {
    const list = ours.filter(([od]) => od === d).map(([, ok]) => ok);
    let j = pos.get(d) ?? 0;
    while (j < list.length && list[j] !== k) j++;
    if (j === list.length) out.push(`${d} ${k}`);
    else pos.set(d, j + 1);
  }
  return out;
}

withShared(() => {
  describe('s7comm: otwatch vs ICSNPP S7comm (Zeek)', () => {
    for (const test of CASES) {
      it(`${test}.pcap`, async () => {
        const r = await runEngine([resolve(TRACES, `${test}.pcap`)], { pdus: true });
        const pdus = r.pdus.filter((p) => p.app === 's7comm');

        const s7 = zeekLog(test, 's7comm').map((z): [string, string] => {
          const group = z.rosctr_code === '7' ? String(Number(z.function_code) & 0x0f) : '';
          const fn = z.rosctr_code === '7' ? `${group}/${Number(z.subfunction_code)}` : String(Number(z.function_code));
          return [zdir(z), `${z.rosctr_code}/${z.pdu_reference}/${fn}`];
        });
        const ourS7 = pdus
          .filter((p) => !p.s7comm.plus && p.s7comm.rosctr !== null)
          .map((p): [string, string] => {
            const s = p.s7comm;
            const fn = s.rosctr === 7 ? `${s.funcgroup}/${s.subfunc}` : String(s.func);
            return [odir(p), `${s.rosctr}/${swap16(s.pduref)}/${fn}`];
          });
        expect(missing(s7, ourS7), 's7comm.log rows not in otwatch').toEqual([]);

        const plus = zeekLog(test, 's7comm_plus').map((z): [string, string] => [
          zdir(z),
          `${z.version}/${Number(z.opcode)}/${z.function_code === '-' ? '-' : Number(z.function_code)}`,
        ]);
        const ourPlus = pdus
          .filter((p) => p.s7comm.plus)
          .map((p): [string, string] => [odir(p), `${p.s7comm.version}/${p.s7comm.opcode ?? '-'}/${p.s7comm.plus_func ?? '-'}`]);
        expect(missing(plus, ourPlus), 's7comm_plus.log rows not in otwatch').toEqual([]);

        const szl = zeekLog(test, 's7comm_read_szl').map((z): [string, string] => [zdir(z), `${Number(z.szl_id)}/${Number(z.szl_index)}`]);
        const ourSzl = pdus
          .filter((p) => p.s7comm.szl_id !== null)
          .map((p): [string, string] => [odir(p), `${p.s7comm.szl_id}/${p.s7comm.szl_index}`]);
        expect(missing(szl, ourSzl), 's7comm_read_szl.log rows not in otwatch').toEqual([]);

        for (const d of zeekLog(test, 's7comm_known_devices')) {
          const got = pdus.find((p) => p.s7comm.system_name !== undefined)?.s7comm;
          expect(got).toMatchObject({
            system_name: d.automation_system_name,
            module_name: d.module_name,
            plant_name: d.plant_name === '(empty)' ? '' : d.plant_name,
            serial: d.module_serial,
          });
        }
        console.log(
          `[zeek-s7comm] ${test}: s7comm.log ${s7.length} rows, s7comm_plus.log ${plus.length}, ` +
            `read_szl ${szl.length}; otwatch ${pdus.length} PDUs`,
        );
        expect(s7.length + plus.length).toBeGreaterThan(0);
      });
    }
  });
});

// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// otwatch against Zeek's own logs (zeek btest baselines, ICSNPP baselines and
// the older Bro logs shipped with some captures): per connection and
// direction, the sequence of function codes Zeek logged must appear, in
// order, in otwatch's PDU records (otwatch may decode more). Differences are
// listed with their reason in zeek-allowlist.json.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

const DNP3_FC: Record<string, number> = {
  CONFIRM: 0,
  READ: 1,
  WRITE: 2,
  SELECT: 3,
  OPERATE: 4,
  DIRECT_OPERATE: 5,
  DIRECT_OPERATE_NR: 6,
  IMMED_FREEZE: 7,
  IMMED_FREEZE_NR: 8,
  FREEZE_CLEAR: 9,
  FREEZE_CLEAR_NR: 10,
  FREEZE_AT_TIME: 11,
  FREEZE_AT_TIME_NR: 12,
  COLD_RESTART: 13,
  WARM_RESTART: 14,
  INITIALIZE_DATA: 15,
  INITIALIZE_APPL: 16,
  START_APPL: 17,
  STOP_APPL: 18,
  SAVE_CONFIG: 19,
  ENABLE_UNSOLICITED: 20,
  DISABLE_UNSOLICITED: 21,
  ASSIGN_CLASS: 22,
  DELAY_MEASURE: 23,
  RECORD_CURRENT_TIME: 24,
  OPEN_FILE: 25,
  CLOSE_FILE: 26,
  DELETE_FILE: 27,
  GET_FILE_INFO: 28,
  AUTHENTICATE_FILE: 29,
  ABORT_FILE: 30,
  ACTIVATE_CONFIG: 31,
  AUTHENTICATE_REQ: 32,
  AUTHENTICATE_ERR: 33,
  RESPONSE: 129,
  UNSOLICITED_RESPONSE: 130,
  AUTHENTICATE_RESP: 131,
};
const MODBUS_FC: Record<string, number> = {
  READ_COILS: 1,
  READ_DISCRETE_INPUTS: 2,
  READ_HOLDING_REGISTERS: 3,
  READ_INPUT_REGISTERS: 4,
  WRITE_SINGLE_COIL: 5,
  WRITE_SINGLE_REGISTER: 6,
  READ_EXCEPTION_STATUS: 7,
  DIAGNOSTICS: 8,
  GET_COMM_EVENT_COUNTER: 11,
  GET_COMM_EVENT_LOG: 12,
  WRITE_MULTIPLE_COILS: 15,
  WRITE_MULTIPLE_REGISTERS: 16,
  REPORT_SLAVE_ID: 17,
  READ_FILE_RECORD: 20,
  WRITE_FILE_RECORD: 21,
  MASK_WRITE_REGISTER: 22,
  READ_WRITE_MULTIPLE_REGISTERS: 23,
  READ_FIFO_QUEUE: 24,
  ENCAP_INTERFACE_TRANSPORT: 43,
  // Vendor-specific names in Zeek's table (Modbus function code numbers are public).
  PROGRAM_484: 9,
  POLL_484: 10,
  PROGRAM_584_984: 13,
  POLL_584_984: 14,
  PROGRAM_884_U84: 18,
  RESET_COMM_LINK_884_U84: 19,
  PROGRAM_CONCEPT: 40,
  MULTIPLE_FUNCTION_CODES: 41,
  PROGRAM_UNITY: 90,
  OBJECT_MESSAGING: 91,
  FIRMWARE_REPLACEMENT: 125,
  PROGRAM_584_984_2: 126,
  REPORT_LOCAL_ADDRESS: 127,
};

function fcOf(table: Record<string, number>, name: string): number | null {
  if (name === '-' || name === '(empty)' || name === '') return null;
  const base = name.replace(/_EXCEPTION$/, '');
  if (base in table) return table[base];
  const m = /^unknown-(\d+)$/.exec(name);
  if (m) return Number(m[1]) & 0x7f;
  throw new Error(`unknown Zeek function name ${name}`);
}

interface ZeekRow {
  [field: string]: string;
}

function readZeekLog(path: string): ZeekRow[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  // Some btest baselines drop the header lines; their columns are Zeek's
  // base modbus.log ones (ts uid id... func exception).
  const header = lines.find((l) => l.startsWith('#fields'));
  const fields =
    header !== undefined
      ? header.split('\t').slice(1)
      : ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'func', 'exception'];
  return lines
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const c = l.split('\t');
      const o: ZeekRow = {};
      fields.forEach((f, i) => {
        o[f] = c[i] ?? '';
      });
      return o;
    });
}

/** Zeek's function codes per "orig>resp dir". */
function zeekSeqs(proto: string, rows: ZeekRow[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const push = (k: string, v: number | null) => {
    if (v === null) return;
    m.set(k, [...(m.get(k) ?? []), v]);
  };
  for (const r of rows) {
    const conn = `${r['id.orig_h']}:${r['id.orig_p']}>${r['id.resp_h']}:${r['id.resp_p']}`;
    if (proto === 'dnp3') {
      push(`${conn} c2s`, fcOf(DNP3_FC, r.fc_request));
      push(`${conn} s2c`, fcOf(DNP3_FC, r.fc_reply));
    } else {
      const dir = r.pdu_type === 'RESP' ? 's2c' : r.pdu_type === 'REQ' ? 'c2s' : 'any';
      push(`${conn} ${dir}`, fcOf(MODBUS_FC, r.func));
    }
  }
  return m;
}

function oursSeqs(proto: string, pdus: Rec[], byDir: boolean): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const p of pdus) {
    if (p.app !== proto) continue;
    const fc = p[proto].fc;
    if (fc === null || (proto === 'dnp3' && !p.dnp3.crc_ok)) continue;
    const conn = `${p.client.ip}:${p.client.port}>${p.server.ip}:${p.server.port}`;
    const k = `${conn} ${byDir ? p.dir : 'any'}`;
    m.set(k, [...(m.get(k) ?? []), fc]);
  }
  return m;
}

interface Allowed {
  log: string;
  missing: number;
  reason: string;
}
const allowlist = JSON.parse(readFileSync(resolve(import.meta.dirname, 'zeek-allowlist.json'), 'utf8')) as Allowed[];

withShared(() => {
  const lines = readFileSync(resolve(SHARED_PCAPS, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const cols = lines[0].split('\t');
  const pairs: { pcap: string; log: string; proto: string }[] = [];
  for (const l of lines.slice(1)) {
    const c = l.split('\t');
    for (const out of (c[cols.indexOf('expected_output_files')] ?? '').split(',')) {
      const m = /(modbus|dnp3)\.log$/.exec(out);
      if (m) pairs.push({ pcap: c[cols.indexOf('relpath')], log: out, proto: m[1] });
    }
  }
  describe('function-code sequences against Zeek logs', () => {
    const totals = { zeek: 0, matched: 0 };
    it('finds the Zeek logs', () => {
      expect(pairs.length).toBeGreaterThan(25);
    });
    for (const p of pairs) {
      it(`${p.log}`, async () => {
        const rows = readZeekLog(resolve(SHARED_PCAPS, p.log));
        const z = zeekSeqs(p.proto, rows);
        const byDir = ![...z.keys()].some((k) => k.endsWith(' any'));
        const r = await runEngine([resolve(SHARED_PCAPS, p.pcap)], { pdus: true });
        const o = oursSeqs(p.proto, r.pdus, byDir);
        let missing = 0;
        const where: string[] = [];
        for (const [k, seq] of z) {
          const ours = o.get(k) ?? [];
          let j = 0;
          for (const fc of seq) {
            totals.zeek++;
            let q = j;
            while (q < ours.length && ours[q] !== fc) q++;
            if (q === ours.length) {
              missing++;
              if (where.length < 5) where.push(`${k} fc ${fc}`);
            } else {
              totals.matched++;
              j = q + 1;
            }
          }
        }
        const allowed = allowlist.find((a) => a.log === p.log);
        expect(missing, `${p.log}: function codes Zeek logged that otwatch did not decode: ${where.join('; ')}`).toBe(
          allowed?.missing ?? 0,
        );
      });
    }
    it('totals', () => {
      console.log(`[zeek-diff] function codes in Zeek logs: ${totals.zeek}, found in order in otwatch's PDUs: ${totals.matched}`);
      expect(totals.matched).toBeGreaterThan(0);
    });
  });
});

// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// Differential test of the S7comm module against tshark 4.0 on the shared
// corpus: every S7 PDU tshark decodes appears in otwatch's output for the same
// flow direction, in the same order, with the same identity fields
//   S7comm       (ROSCTR, PDU reference, function; userdata group, subfunction)
//                and, for frames with one S7 PDU, item count, area, DB and
//                address of the first item, SZL id and index, PI service
//   S7comm-plus  (protocol version, opcode, function code)
// S7comm is compared with live tshark when installed (OTWATCH_TSHARK=ref: the
// stored references); S7comm-plus always with the stored references made with
// the s7comm_plus plugin 0.0.9 (stock tshark has no S7comm-plus dissector).
// Disagreements judged to be tshark's (or deliberate) are listed with the
// reason in tshark-s7comm-allowlist.json, by capture and count.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';
import { readManifest, tsharkLive, tsharkRows, type TsharkRow, endpoint, split } from '../helpers/tshark.js';

interface Allowed {
  capture: string;
  proto: string;
  missing: number;
  reason: string;
}
const allowlist = JSON.parse(readFileSync(resolve(import.meta.dirname, 'tshark-s7comm-allowlist.json'), 'utf8')) as Allowed[];

interface Item {
  key: string;
  frame: string;
}

const hex = (v: string) => String(Number(v));

/** tshark's PDUs per flow direction, in frame order. */
export function tsharkItems(proto: string, rows: TsharkRow[], live: boolean): Map<string, Item[]> {
  const m = new Map<string, Item[]>();
  const lastKeys = new Map<string, string>();
  for (const r of rows) {
    const dir = `${endpoint(r, 'src')}>${endpoint(r, 'dst')}`;
    if (!live) {
      // Stored references have no TCP analysis fields: a frame that repeats
      // the previous frame of its direction is a retransmission.
      const k = Object.entries(r)
        .filter(([f]) => f !== 'frame.number' && f !== 'frame.time_epoch')
        .map(([, v]) => v)
        .join('\t');
      if (lastKeys.get(dir) === k) continue;
      lastKeys.set(dir, k);
    }
    const list = m.get(dir) ?? [];
    m.set(dir, list);
    const add = (key: string) => list.push({ key, frame: r['frame.number'] });
    const detail = m.get(`${dir}#detail`) ?? [];
    m.set(`${dir}#detail`, detail);
    if (proto === 's7comm') {
      // Columns aggregate per field: walk the ROSCTRs and take the function
      // (job/ack_data) or group/subfunction (userdata) fields in order.
      const rosctr = split(r['s7comm.header.rosctr']);
      const ref = split(r['s7comm.header.pduref']);
      const func = split(r['s7comm.param.func']);
      const grp = split(r['s7comm.param.userdata.funcgroup']);
      const sub = split(r['s7comm.param.userdata.subfunc']);
      let f = 0,
        g = 0,
        u = 0;
      if (rosctr.length === 1) {
        // One PDU in the frame: its detail fields pair up unambiguously.
        const first = (k: string) => split(r[k])[0] ?? '-';
        const num = (k: string) => (first(k) === '-' ? '-' : hex(first(k)));
        const items = `${num('s7comm.param.itemcount')}/${num('s7comm.param.item.area')}/${num('s7comm.param.item.db')}`;
        const szl = `${num('s7comm.data.userdata.szl_id')}/${num('s7comm.data.userdata.szl_index')}`;
        // Userdata: the SZL id and index (cyclic-data item lists are not compared).
        const job = `${items}/${num('s7comm.param.item.address')}/${first('s7comm.param.pistart.servicename')}`;
        const key = rosctr[0] === '7' ? `ud/${szl}` : job;
        // tshark gives a fragmented SZL answer's id on the last fragment only.
        const readSzl = first('s7comm.param.userdata.funcgroup') === '4' && first('s7comm.param.userdata.subfunc') === '1';
        const deferred = key === 'ud/-/-' && readSzl;
        if (!deferred) detail.push({ key, frame: r['frame.number'] });
      }
      rosctr.forEach((rc, i) => {
        // Group 0 (mode transition) has its own subfunction field.
        if (rc === '7') {
          add(`7/${ref[i]}/${grp[g]}/${grp[g] === '0' ? '-' : sub[u++]}`);
          g++;
        } else if (rc === '1' || rc === '3') add(`${rc}/${ref[i]}/${func[f] === undefined ? '-' : hex(func[f++])}`);
        else add(`${rc}/${ref[i]}/-`);
      });
    } else {
      const ver = split(r['s7comm-plus.header.protocolversion']);
      const op = split(r['s7comm-plus.data.opcode']);
      const fn = split(r['s7comm-plus.data.function']);
      let o = 0,
        f = 0;
      for (const v of ver) {
        if (v === '0xfe') {
          add('254/-/-');
          continue;
        }
        const code = op[o++];
        if (code === undefined) {
          add(`${hex(v)}/-/-`);
          continue;
        }
        const withFn = code === '0x31' || code === '0x32' || code === '0x02';
        add(`${hex(v)}/${hex(code)}/${withFn && fn[f] !== undefined ? hex(fn[f++]) : '-'}`);
      }
    }
  }
  return m;
}

/** otwatch's PDUs per flow direction, in order. */
export function oursItems(proto: string, pdus: Rec[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const p of pdus) {
    if (p.app !== 's7comm') continue;
    const s = p.s7comm;
    if (s.plus !== (proto === 's7comm_plus') || (!s.plus && s.rosctr === null)) continue;
    const a = `${p.client.ip}:${p.client.port}`;
    const b = `${p.server.ip}:${p.server.port}`;
    const dir = p.dir === 'c2s' ? `${a}>${b}` : `${b}>${a}`;
    const list = m.get(dir) ?? [];
    m.set(dir, list);
    if (!s.plus) {
      const d = m.get(`${dir}#detail`) ?? [];
      m.set(`${dir}#detail`, d);
      const v = (x: number | null) => (x === null ? '-' : String(x));
      const job = `${v(s.items)}/${v(s.area)}/${v(s.db)}/${v(s.address)}/${s.pi_service ?? '-'}`;
      d.push(s.rosctr === 7 ? `ud/${v(s.szl_id)}/${v(s.szl_index)}` : job);
    }
    if (s.plus) list.push(`${s.version}/${s.opcode ?? '-'}/${s.plus_func ?? '-'}`);
    else if (s.rosctr === 7) list.push(`7/${s.pduref}/${s.funcgroup}/${s.funcgroup === 0 ? '-' : s.subfunc}`);
    else list.push(`${s.rosctr}/${s.pduref}/${s.func ?? '-'}`);
  }
  return m;
}

export interface DiffResult {
  tshark: number;
  ours: number;
  details: number;
  missing: { dir: string; frame: string; key: string }[];
}

export function compare(t: Map<string, Item[]>, o: Map<string, string[]>): DiffResult {
  const res: DiffResult = { tshark: 0, ours: 0, details: 0, missing: [] };
  for (const [dir, l] of o) if (!dir.endsWith('#detail')) res.ours += l.length;
  for (const [dir, items] of t) {
    if (dir.endsWith('#detail')) res.details += items.length;
    else res.tshark += items.length;
    const ours = o.get(dir) ?? [];
    let j = 0;
    for (const it of items) {
      let k = j;
      while (k < ours.length && ours[k] !== it.key) k++;
      if (k === ours.length) res.missing.push({ dir, frame: it.frame, key: it.key });
      else j = k + 1;
    }
  }
  return res;
}

withShared(() => {
  const rows = readManifest();
  for (const proto of ['s7comm', 's7comm_plus']) {
    const caps = rows.filter((r) => r.tsharkRef.some((x) => x.endsWith(`.${proto}.tsv`)));
    const live = proto === 's7comm' && tsharkLive;
    describe(`${proto}: otwatch vs tshark 4.0 on the shared corpus`, () => {
      const totals = { tshark: 0, ours: 0, details: 0, missing: 0 };
      it('has captures to compare', () => {
        expect(caps.length).toBeGreaterThanOrEqual(proto === 's7comm' ? 20 : 7);
      });
      for (const row of caps) {
        it(row.relpath, async () => {
          const [t, r] = await Promise.all([
            // The S7comm-plus references cannot be made live (a plugin's).
            tsharkRows(row, proto, { ref: !live }),
            runEngine([resolve(SHARED_PCAPS, row.relpath)], { pdus: true }),
          ]);
          const d = compare(tsharkItems(proto, t!, live), oursItems(proto, r.pdus));
          totals.tshark += d.tshark;
          totals.ours += d.ours;
          totals.details += d.details;
          totals.missing += d.missing.length;
          const allowed = allowlist.find((a) => a.capture === row.relpath && a.proto === proto);
          const detail = d.missing
            .slice(0, 5)
            .map((m) => `frame ${m.frame} ${m.dir} ${m.key}`)
            .join('; ');
          const msg = `${row.relpath}: PDUs tshark decodes that otwatch does not (${d.missing.length}): ${detail}`;
          if (live) expect(d.missing.length, msg).toBe(allowed?.missing ?? 0);
          else expect(d.missing.length, msg).toBeLessThanOrEqual(allowed?.missing ?? 0);
          if (!allowed) expect(d.ours, `${row.relpath}: otwatch decodes fewer PDUs than tshark`).toBeGreaterThanOrEqual(d.tshark);
        });
      }
      it('totals', () => {
        console.log(
          `[tshark-diff] ${proto}: tshark ${totals.tshark} PDUs, otwatch ${totals.ours}, ` +
            `detail checks ${totals.details}, tshark-only ${totals.missing}`,
        );
        const explained = allowlist.filter((a) => a.proto === proto).reduce((n, a) => n + a.missing, 0);
        expect(totals.missing).toBeLessThanOrEqual(explained);
      });
    });
  }
});

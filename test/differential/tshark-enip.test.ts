// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// Differential test against tshark 4.0 on the shared corpus, EtherNet/IP and
// CIP. Every PDU tshark decodes appears in otwatch's output for the same flow
// direction, in the same order, with the same identity fields:
//   #msg  encapsulation command and session handle, one per message
//   #io   implicit I/O (udp/2222): connection id and sequence number
//   #id   ListIdentity reply: vendor, device type, product code, revision
//   #svc  CIP service and response bit, one per service: tshark's Multiple
//         Service Packet and Unconnected Send containers are dropped, since
//         otwatch reports the services they carry instead
//   #cls  CIP class (one of the classes tshark lists; a response's is its
//         request's) on frames with a single CIP service, and #tag the
//         symbolic segments on frames whose single CIP service is a request
// Disagreements judged to be tshark's (or deliberate) are listed with the
// reason in tshark-enip-allowlist.json, by capture, channel and count.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';
import { readManifest, tsharkLive, tsharkRows, type ManifestRow, type TsharkRow, endpoint, split } from '../helpers/tshark.js';

interface Allowed {
  capture: string;
  channel: string;
  missing: number;
  reason: string;
}
const allowlist = JSON.parse(readFileSync(resolve(import.meta.dirname, 'tshark-enip-allowlist.json'), 'utf8')) as Allowed[];

/** tshark rows for enip/cip; the capture whose client port tshark gives to
 *  IDMP is decoded with that dissector off (as its reference was). */
function rows(row: ManifestRow, proto: string): Promise<TsharkRow[] | null> {
  const clash = row.protocols.includes('TSHARK-PORT-CLASH');
  return tsharkRows(row, proto, clash ? { args: ['--disable-protocol', 'idmp'] } : {});
}

const num = (s: string) => Number(s.startsWith('0x') ? parseInt(s, 16) : s);

type Items = Map<string, { key: string; frame: string }[]>;

function tsharkItems(enipRows: TsharkRow[], cipRows: TsharkRow[]): Items {
  const m: Items = new Map();
  const last = new Map<string, string>();
  const add = (r: TsharkRow, channel: string, key: string) => {
    const k = `${endpoint(r, 'src')}>${endpoint(r, 'dst')}${channel}`;
    const list = m.get(k) ?? [];
    list.push({ key, frame: r['frame.number'] });
    m.set(k, list);
  };
  /** The stored references have no TCP analysis fields: a frame repeating
   *  the previous frame of its direction is a retransmission. */
  const repeat = (r: TsharkRow, tag: string) => {
    if (tsharkLive) return false;
    const dirKey = `${tag}${endpoint(r, 'src')}>${endpoint(r, 'dst')}`;
    const k = Object.entries(r)
      .filter(([f]) => f !== 'frame.number' && f !== 'frame.time_epoch')
      .map(([, v]) => v)
      .join('\t');
    if (last.get(dirKey) === k) return true;
    last.set(dirKey, k);
    return false;
  };
  for (const r of enipRows) {
    if (repeat(r, 'e')) continue;
    const cmds = split(r['enip.command']);
    const sessions = split(r['enip.session']);
    if (cmds.length === 0) {
      const ids = split(r['enip.cpf.sai.connid']);
      const seqs = split(r['enip.cpf.sai.seq']);
      if (ids.length === 1 && seqs.length === 1) add(r, '#io', `${num(ids[0])}/${num(seqs[0])}`);
      continue;
    }
    cmds.forEach((c, i) => {
      add(r, '#msg', `${num(c)}/${num(sessions[i] ?? '')}`);
    });
    const vendor = split(r['enip.lir.vendor']);
    if (vendor.length === 1) {
      add(r, '#id', [vendor[0], r['enip.lir.devtype'], r['enip.lir.prodcode'], r['enip.lir.revision']].map(num).join('/'));
    }
  }
  for (const r of cipRows) {
    if (repeat(r, 'c')) continue;
    const sc = split(r['cip.sc']);
    const rr = split(r['cip.rr']);
    if (rr.length !== sc.length) continue; // cannot be paired
    // Containers are replaced by what they carry (a lone one stays: nothing to expand).
    const keep = sc.map((s, i) => sc.length === 1 || !(s === '0x0a' || (s === '0x52' && rr[i] === '0x00')));
    sc.forEach((s, i) => {
      if (keep[i]) add(r, '#svc', `${num(s)}/${num(rr[i])}`);
    });
    if (sc.length === 1) {
      // A connected request lists its connection's class too (first), a
      // Forward_Open its connection path's (after): either may be the path's.
      // Responses have the class of the request tshark paired them with.
      const cls = split(r['cip.class']);
      if (cls.length > 0) add(r, '#cls', cls.map((x) => `${num(sc[0])}/${num(rr[0])}/${num(x)}`).join('|'));
    }
    if (sc.length === 1 && rr[0] === '0x00') {
      const sym = split(r['cip.symbol']);
      if (sym.length > 0) add(r, '#tag', `${num(sc[0])}/${sym.join('.')}`);
    }
  }
  return m;
}

function oursItems(pdus: Rec[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const p of pdus) {
    if (p.app !== 'enip') continue;
    const e = p.enip;
    const a = `${p.client.ip}:${p.client.port}`;
    const b = `${p.server.ip}:${p.server.port}`;
    const dirKey = p.dir === 'c2s' ? `${a}>${b}` : `${b}>${a}`;
    const add = (channel: string, key: string) => {
      const k = `${dirKey}${channel}`;
      const list = m.get(k) ?? [];
      list.push(key);
      m.set(k, list);
    };
    if (e.io) {
      add('#io', `${e.conn_id}/${e.seq}`);
      continue;
    }
    // One message per encapsulation header: services 1.. of a Multiple Service Packet share it.
    if (e.msp_index === undefined || e.msp_index === 0) add('#msg', `${e.command}/${e.session}`);
    if (e.vendor !== undefined) {
      const [major, minor] = (e.revision as string).split('.').map(Number);
      add('#id', `${e.vendor}/${e.device_type}/${e.product_code}/${major * 256 + minor}`);
    }
    if (e.service === null) continue;
    add('#svc', `${e.service}/${e.resp ? 1 : 0}`);
    if (e.class !== null) add('#cls', `${e.service}/${e.resp ? 1 : 0}/${e.class}`);
    if (!e.resp && e.tag !== null) add('#tag', `${e.service}/${e.tag}`);
  }
  return m;
}

interface Diff {
  tshark: number;
  ours: number;
  missing: { dir: string; frame: string; key: string }[];
  channels: Map<string, number>;
}

function compare(t: Items, o: Map<string, string[]>): Diff {
  const res: Diff = { tshark: 0, ours: 0, missing: [], channels: new Map() };
  for (const [k, l] of o) if (k.endsWith('#svc') || k.endsWith('#msg') || k.endsWith('#io')) res.ours += l.length;
  for (const [dir, items] of t) {
    if (dir.endsWith('#svc') || dir.endsWith('#msg') || dir.endsWith('#io')) res.tshark += items.length;
    const ch = dir.slice(dir.lastIndexOf('#'));
    res.channels.set(ch, (res.channels.get(ch) ?? 0) + items.length);
    const ours = o.get(dir) ?? [];
    let j = 0;
    for (const it of items) {
      let k = j;
      const alts = it.key.split('|');
      while (k < ours.length && !alts.includes(ours[k])) k++;
      if (k === ours.length) res.missing.push({ dir, frame: it.frame, key: it.key });
      else j = k + 1;
    }
  }
  return res;
}

withShared(() => {
  const caps = readManifest().filter((r) => r.tsharkRef.some((x) => x.endsWith('.enip.tsv')));
  describe('enip: otwatch vs tshark 4.0 on the shared corpus', () => {
    const totals = { tshark: 0, ours: 0, missing: 0 };
    const channels = new Map<string, number>();
    it('has captures to compare', () => {
      expect(caps.length).toBeGreaterThanOrEqual(25);
    });
    for (const row of caps) {
      it(row.relpath, async () => {
        const run = runEngine([resolve(SHARED_PCAPS, row.relpath)], { pdus: true });
        const [e, c, r] = await Promise.all([rows(row, 'enip'), rows(row, 'cip'), run]);
        const d = compare(tsharkItems(e ?? [], c ?? []), oursItems(r.pdus));
        totals.tshark += d.tshark;
        totals.ours += d.ours;
        totals.missing += d.missing.length;
        for (const [ch, n] of d.channels) channels.set(ch, (channels.get(ch) ?? 0) + n);
        const byChannel = new Map<string, Diff['missing']>();
        for (const x of d.missing) {
          const ch = x.dir.slice(x.dir.lastIndexOf('#'));
          byChannel.set(ch, [...(byChannel.get(ch) ?? []), x]);
        }
        for (const ch of ['#msg', '#io', '#id', '#svc', '#cls', '#tag']) {
          const miss = byChannel.get(ch) ?? [];
          const allowed = allowlist.find((a) => a.capture === row.relpath && a.channel === ch)?.missing ?? 0;
          const detail = miss
            .slice(0, 5)
            .map((m) => `frame ${m.frame} ${m.dir} ${m.key}`)
            .join('; ');
          const msg = `${row.relpath} ${ch}: PDUs tshark decodes that otwatch does not (${miss.length}): ${detail}`;
          if (tsharkLive) expect(miss.length, msg).toBe(allowed);
          else expect(miss.length, msg).toBeLessThanOrEqual(allowed);
        }
      });
    }
    it('totals', () => {
      const per = [...channels].map(([c, n]) => `${c} ${n}`).join(', ');
      const t = totals;
      console.log(`[tshark-diff] enip: tshark ${t.tshark} messages/services, otwatch ${t.ours}, tshark-only ${t.missing}; ${per}`);
      const explained = allowlist.reduce((n, a) => n + a.missing, 0);
      expect(totals.missing).toBeLessThanOrEqual(explained);
    });
  });
});

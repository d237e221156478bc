// Capture formats and link layers: every generated fixture gives the flows its
// manifest declares (tuples, VLAN ids, per-direction packet counts, Community
// ID), which tools/make-fixtures.ts declares by hand and test/tools checks
// against tshark. Damaged files: records before the damage, offset named.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, runCli, runEngine, type Rec } from '../helpers/run.js';

interface ExpFlow {
  proto: string;
  client: string;
  cport: number;
  server: string;
  sport: number;
  vlans: number[];
  c2s: number;
  s2c: number;
  communityId: string;
}
interface Entry {
  file: string;
  packets: number;
  flows: ExpFlow[];
  damage?: string;
}

const manifest = JSON.parse(readFileSync(fixture('gen', 'MANIFEST.json'), 'utf8')) as Entry[];

function key(proto: string, cip: string, cport: number, sip: string, sport: number): string {
  return `${proto} ${cip}:${cport} > ${sip}:${sport}`;
}

function flowsOf(records: Rec[]): Map<string, Rec> {
  const m = new Map<string, Rec>();
  for (const r of records) if (r.type === 'flow') m.set(key(r.proto, r.client.ip, r.client.port, r.server.ip, r.server.port), r);
  return m;
}

/** Offset of the first damaged record, found by walking the file independently. */
function damageOffset(path: string): number {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) === 0x0a0d0d0a) {
    let o = 0;
    for (;;) {
      const len = dv.getUint32(o + 4, true);
      if (len < 12 || len % 4 !== 0 || o + len > b.length) return o;
      o += len;
    }
  }
  const le = dv.getUint32(0, true) === 0xa1b2c3d4;
  const snap = dv.getUint32(16, le);
  let o = 24;
  for (;;) {
    const cap = dv.getUint32(o + 8, le);
    if (cap > snap || cap > 262144 || o + 16 + cap > b.length) return o;
    o += 16 + cap;
  }
}

describe('every generated fixture gives its declared flows', () => {
  for (const e of manifest) {
    it(e.file, async () => {
      const r = await runEngine([fixture('gen', e.file)], { dissectors: [] });
      expect(r.engine.stats.packets).toBe(e.packets);
      const got = flowsOf(r.records);
      expect(got.size).toBe(e.flows.length);
      for (const x of e.flows) {
        const f = got.get(key(x.proto, x.client, x.cport, x.server, x.sport));
        expect(f, `flow ${key(x.proto, x.client, x.cport, x.server, x.sport)} in ${e.file}`).toBeDefined();
        expect(f!.vlan).toBe(x.vlans.length > 0 ? x.vlans[0] : null);
        expect(f!.inner_vlan ?? null).toBe(x.vlans.length > 1 ? x.vlans[1] : null);
        expect(f!.pkts).toEqual({ c2s: x.c2s, s2c: x.s2c });
        expect(f!.community_id).toBe(x.communityId);
      }
      if (e.damage && !e.file.startsWith('snaplen')) {
        expect(r.errors).toHaveLength(1);
        expect(r.errors[0]).toContain(`byte offset ${damageOffset(fixture('gen', e.file))}`);
      } else {
        expect(r.errors).toEqual([]);
      }
    });
  }
});

describe('pcap µs/ns, both byte orders, pcapng with two link types', () => {
  const variants = [
    'basic-us-le.pcap',
    'basic-us-be.pcap',
    'basic-ns-le.pcap',
    'basic-ns-be.pcap',
    'basic-le.pcapng',
    'basic-be.pcapng',
    'basic-2sections.pcapng',
  ];
  it('give identical flow records, timestamps included', async () => {
    const outs: string[] = [];
    for (const v of variants) {
      const r = await runEngine([fixture('gen', v)], { dissectors: [] });
      const flows = [...flowsOf(r.records).entries()].sort();
      // basic-le/be.pcapng carry the last UDP packet in a Simple Packet Block,
      // which has no timestamp: that flow's end_ts is the previous packet's.
      if (v === 'basic-le.pcapng' || v === 'basic-be.pcapng') {
        const udp = flows.find(([k]) => k.startsWith('udp'))![1];
        expect(udp.end_ts).toBeLessThan(1700000000.138461);
      }
      for (const [k, f] of flows) if (k.startsWith('udp')) delete f.end_ts;
      outs.push(JSON.stringify(flows));
    }
    for (let i = 1; i < outs.length; i++) expect(outs[i], variants[i]).toBe(outs[0]);
    // The first packet is at 1700000000.123456789: µs output truncates, never rounds up.
    const first = JSON.parse(outs[0]) as [string, Rec][];
    expect(Math.min(...first.map(([, f]) => f.ts))).toBe(1700000000.123456);
  });
});

describe('end reasons and TCP states', () => {
  it('FIN close, RST close, UDP at end of input', async () => {
    const r = await runEngine([fixture('gen', 'basic-us-le.pcap')], { dissectors: [] });
    const f = flowsOf(r.records);
    const modbus = f.get(key('tcp', '10.0.0.1', 49152, '10.0.0.2', 502))!;
    expect(modbus.end).toBe('fin');
    expect(modbus.state).toBe('closed');
    expect(modbus.handshake).toBe(true);
    const iec = f.get(key('tcp', '10.0.0.5', 49153, '10.0.0.6', 2404))!;
    expect(iec.end).toBe('rst');
    expect(iec.state).toBe('reset');
    const udp = f.get(key('udp', '10.0.0.3', 20000, '10.0.0.4', 20000))!;
    expect(udp.end).toBe('eof');
    expect(udp.state).toBe('two_way');
  });

  it('idle and active timeouts on the plant sample', async () => {
    // The sample polls once a second for 12 s; PLC1 and the RTU stay open.
    const idle = await runEngine([fixture('gen', 'plant-sample.pcap')], { dissectors: [], flows: { tcpIdle: 0.5, udpIdle: 0.5 } as any });
    const ends = idle.flows.map((f) => f.end);
    expect(ends).toContain('idle');
    // With a 3 s active timeout the long-lived PLC1 poll gets interim records, then its final one.
    const act = await runEngine([fixture('gen', 'plant-sample.pcap')], { dissectors: [], flows: { activeTimeout: 3 } as any });
    const plc1 = act.flows.filter((f) => f.server.ip === '10.10.1.21');
    expect(plc1.filter((f) => f.end === 'active').length).toBeGreaterThanOrEqual(3);
    const last = plc1[plc1.length - 1];
    expect(last.end).toBe('eof');
    // Interim records are cumulative: counts never decrease.
    for (let i = 1; i < plc1.length; i++) expect(plc1[i].pkts.c2s).toBeGreaterThanOrEqual(plc1[i - 1].pkts.c2s);
    expect(last.pkts).toEqual({ c2s: 28, s2c: 15 });
  });

  it('evicts the least recently active flow when the table is full', async () => {
    const r = await runEngine([fixture('gen', 'plant-sample.pcap')], { dissectors: [], flows: { maxFlows: 2 } as any });
    expect(r.flows.some((f) => f.end === 'evicted')).toBe(true);
    expect(r.engine.table.size).toBe(0);
  });

  it('a frame cut by snaplen is counted and decoded as far as it goes', async () => {
    const r = await runEngine([fixture('gen', 'snaplen-truncated.pcap')], { dissectors: [] });
    expect(r.engine.stats.truncated).toBe(1);
    expect(r.flows[0].truncated_pkts).toBe(1);
  });
});

describe('CLI on damaged input', () => {
  it('reports the file and offset, keeps earlier records, continues with the next file, exits 1', () => {
    const bad = fixture('gen', 'damaged-truncated-last.pcap');
    const good = fixture('gen', 'link-vlan100.pcap');
    const r = runCli(['read', '--json', '-q', '--no-dissect', bad, good]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}: truncated record`);
    expect(r.stderr).toContain(`byte offset ${damageOffset(bad)}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const flows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(flows.some((f) => f.server.port === 502 && f.client.ip === '10.0.0.1')).toBe(true);
    expect(flows.some((f) => f.vlan === 100)).toBe(true);
  });

  it('the summary times each input of a multi-file run, with the packets each one held', () => {
    const files = [fixture('gen', 'plant-sample.pcap'), fixture('gen', 'link-vlan100.pcap'), fixture('gen', 'tcp-events.pcap')];
    const packetsOf = (text: string) => Number(/otwatch: \d+ inputs?[^,]*, ([\d,]+) packets/.exec(text)![1].replace(/,/g, ''));
    const alone = files.map((f) => {
      const r = runCli(['read', '--no-dissect', f]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/processed in [\d.]+ s: /); // one input: the run's line only
      return packetsOf(r.stdout);
    });
    const r = runCli(['read', '--no-dissect', ...files]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('  processed in '));
    expect(lines).toHaveLength(1 + files.length);
    files.forEach((f, i) => {
      const m = /^ {2}processed in ([\d.]+) s: (.*), ([\d,]+) packets \(/.exec(lines[1 + i]!)!;
      expect(m[2]).toBe(f);
      expect(Number(m[3]!.replace(/,/g, ''))).toBe(alone[i]);
      expect(Number(m[1])).toBeGreaterThanOrEqual(0);
    });
    expect(packetsOf(r.stdout)).toBe(alone.reduce((a, b) => a + b, 0));
    // With workers the reader thread times each input the same way.
    const w = runCli(['read', '--no-dissect', '--workers', '2', ...files]);
    expect(w.code).toBe(0);
    const wl = w.stdout.split('\n').filter((l) => /^ {2}processed in [\d.]+ s: /.test(l));
    expect(wl.map((l) => /: (.*), ([\d,]+) packets/.exec(l)!.slice(1, 3))).toEqual(
      files.map((f, i) => [f, alone[i]!.toLocaleString('en')]),
    );
  });

  it('reads stdin with -', () => {
    const r = runCli(['read', '--json', '-q', '-'], readFileSync(fixture('gen', 'basic-le.pcapng')));
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('not a capture: clear error, exit 1', () => {
    const r = runCli(['read', '-q', fixture('gen', 'MANIFEST.md')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a pcap or pcapng file .* at byte offset 0/);
  });

  it('usage errors exit 2 with a hint', () => {
    const r = runCli(['read', '--bogus', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect(runCli(['read']).code).toBe(2);
  });

  it('-w writes flows.ndjson; --format msgpack writes flows.msgpack', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { decodeMulti } = await import('@msgpack/msgpack');
    const d = mkdtempSync(join(tmpdir(), 'otw-'));
    expect(runCli(['read', '-q', '-w', d, fixture('gen', 'basic-us-le.pcap')]).code).toBe(0);
    const lines = readFileSync(join(d, 'flows.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    const m = mkdtempSync(join(tmpdir(), 'otw-'));
    expect(runCli(['read', '-q', '-w', m, '--format', 'msgpack', fixture('gen', 'basic-us-le.pcap')]).code).toBe(0);
    expect(statSync(join(m, 'flows.msgpack')).size).toBeGreaterThan(0);
    const objs = [...decodeMulti(readFileSync(join(m, 'flows.msgpack')))] as Rec[];
    expect(objs.map((o) => o.community_id).sort()).toEqual(lines.map((o) => o.community_id).sort());
  });
});

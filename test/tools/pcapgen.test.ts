// The capture builder and the generated fixtures, checked against tshark (an
// independent reader and dissector) and against hand-computed bytes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO, SHARED_PCAPS, withShared } from '../helpers/shared.js';
import { parseIp } from '../../src/flows/community-id.js';
import { buildFrame, internetChecksum, linktypeOf } from '../../tools/pcapgen/frame.js';
import { PcapngWriter, PcapWriter } from '../../tools/pcapgen/writer.js';
import { Clock, mergePackets, toPcapng } from '../../tools/pcapgen/capture.js';
import { crcDnp, modbusAdu, mbReadHoldingReq } from '../../tools/pcapgen/ics.js';
import { TcpSession, UdpExchange } from '../../tools/pcapgen/tcp-session.js';
import { writeFixtures, type FixtureInfo } from '../../tools/make-fixtures.js';

const GEN = resolve(REPO, 'fixtures/pcaps/gen');
const CORPUS = resolve(REPO, 'fixtures/pcaps/corpus');
const manifest = JSON.parse(readFileSync(resolve(GEN, 'MANIFEST.json'), 'utf8')) as FixtureInfo[];

// Expert severities (epan/proto.h): PI_ERROR = 0x00800000.
const PI_ERROR = 0x00800000;

interface TsharkResult {
  rows: Record<string, string>[];
  stderr: string;
  status: number | null;
}

function tshark(file: string, fields: string[], extra: string[] = []): TsharkResult {
  const args = [
    '-n',
    '-r',
    file,
    '-o',
    'tcp.check_checksum:TRUE',
    '-o',
    'udp.check_checksum:TRUE',
    '-o',
    'ip.check_checksum:TRUE',
    '--enable-protocol',
    'communityid',
    '-T',
    'fields',
    '-E',
    'separator=/t',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=,',
    ...fields.flatMap((f) => ['-e', f]),
    ...extra,
  ];
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const rows = r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, cols[i] ?? '']));
    });
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l && !l.startsWith('Running as user'))
    .join('\n');
  return { rows, stderr, status: r.status };
}

const FLOW_FIELDS = [
  'frame.number',
  'frame.len',
  'frame.cap_len',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'ieee8021ad.id',
  'vlan.id',
  'ip.checksum.status',
  'tcp.checksum.status',
  'udp.checksum.status',
  'communityid',
  '_ws.malformed',
  '_ws.expert.severity',
];

const hexIp = (t: string) => Buffer.from(parseIp(t)).toString('hex');
const nums = (s: string) => (s === '' ? [] : s.split(',').map(Number));

// What tshark must say about each damaged file (from Wireshark's wiretap messages).
const DAMAGE_MESSAGE: Record<string, RegExp> = {
  'damaged-truncated-last.pcap': /cut short in the middle of a packet/,
  'damaged-huge-record.pcap': /300000-byte packet, bigger than maximum of 262144/,
  'damaged-bad-block.pcapng': /total block length \d+ of an EPB is less than the minimum/,
};

describe('generated fixtures match MANIFEST.json according to tshark', () => {
  it('the directory holds exactly the files in the manifest', () => {
    const files = readdirSync(GEN)
      .filter((f) => !f.startsWith('MANIFEST.'))
      .sort();
    expect(files).toEqual(manifest.map((m) => m.file).sort());
    expect(Object.keys(DAMAGE_MESSAGE).every((f) => manifest.some((m) => m.file === f && m.damage))).toBe(true);
  });

  for (const fx of manifest) {
    it(`${fx.file}: tuples, VLANs, counts, Community IDs, checksums`, () => {
      const r = tshark(join(GEN, fx.file), FLOW_FIELDS);
      const damage = DAMAGE_MESSAGE[fx.file];
      if (damage) {
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(damage);
      } else {
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toBe('');
      }
      expect(r.rows.length).toBe(fx.packets);

      const counts = fx.flows.map(() => ({ c2s: 0, s2c: 0 }));
      for (const row of r.rows) {
        const v4 = row['ip.src'] !== '';
        const src = hexIp(v4 ? row['ip.src']! : row['ipv6.src']!);
        const dst = hexIp(v4 ? row['ip.dst']! : row['ipv6.dst']!);
        const proto = row['tcp.srcport'] ? 'tcp' : 'udp';
        const sp = Number(row[`${proto}.srcport`]);
        const dp = Number(row[`${proto}.dstport`]);
        const i = fx.flows.findIndex(
          (f) =>
            f.proto === proto &&
            ((hexIp(f.client) === src && f.cport === sp && hexIp(f.server) === dst && f.sport === dp) ||
              (hexIp(f.server) === src && f.sport === sp && hexIp(f.client) === dst && f.cport === dp)),
        );
        expect(i, `frame ${row['frame.number']} belongs to no manifest flow`).toBeGreaterThanOrEqual(0);
        const f = fx.flows[i]!;
        if (hexIp(f.client) === src && f.cport === sp) counts[i]!.c2s++;
        else counts[i]!.s2c++;

        const where = `frame ${row['frame.number']}`;
        expect([...nums(row['ieee8021ad.id']!), ...nums(row['vlan.id']!)], where).toEqual(f.vlans);
        expect(row.communityid, where).toBe(f.communityId);
        expect(row['_ws.malformed'], where).toBe('');
        expect(
          nums(row['_ws.expert.severity']!).every((s) => s < PI_ERROR),
          where,
        ).toBe(true);
        if (v4) expect(row['ip.checksum.status'], where).toBe('1'); // 1 = good
        // A frame cut by the snaplen cannot have its L4 checksum verified (2 = unverified).
        const whole = row['frame.len'] === row['frame.cap_len'];
        expect(row[`${proto}.checksum.status`], where).toBe(whole ? '1' : '2');
      }
      expect(counts).toEqual(fx.flows.map((f) => ({ c2s: f.c2s, s2c: f.s2c })));
    });
  }
});

describe('container variants of the basic set', () => {
  const times = (file: string) => tshark(join(GEN, file), ['frame.number', 'frame.time_epoch', 'frame.interface_id', 'ip.src']).rows;
  // Declared in make-fixtures: first packet at 1700000000.123456789, then every 1.000321 ms.
  const expectedNs = Array.from({ length: 20 }, (_, i) => 1_700_000_000_123_456_789n + BigInt(i) * 1_000_321n);
  const fmtNs = (ns: bigint) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  const fmtUs = (ns: bigint) => fmtNs((ns / 1000n) * 1000n);

  it.each(['basic-us-le.pcap', 'basic-us-be.pcap'])('%s has the µs timestamps', (file) => {
    expect(times(file).map((r) => r['frame.time_epoch'])).toEqual(expectedNs.map(fmtUs));
  });
  it.each(['basic-ns-le.pcap', 'basic-ns-be.pcap'])('%s has the ns timestamps', (file) => {
    expect(times(file).map((r) => r['frame.time_epoch'])).toEqual(expectedNs.map(fmtNs));
  });
  it.each(['basic-le.pcapng', 'basic-be.pcapng'])('%s: IEC 104 on interface 1 (ns), the rest on 0 (µs), packet 16 an SPB', (file) => {
    const rows = times(file);
    expect(rows.length).toBe(20);
    rows.forEach((r, i) => {
      const iec104 = r['ip.src'] === '10.0.0.5' || r['ip.src'] === '10.0.0.6';
      expect(r['frame.interface_id']).toBe(iec104 ? '1' : '0');
      if (i === 15)
        expect(r['frame.time_epoch']).toBe(''); // a Simple Packet Block has no timestamp
      else expect(r['frame.time_epoch']).toBe(iec104 ? fmtNs(expectedNs[i]!) : fmtUs(expectedNs[i]!));
    });
    const sll = tshark(join(GEN, file), ['sll.etype'], ['-Y', 'sll']).rows;
    expect(sll.length).toBe(6);
    expect(sll.every((r) => r['sll.etype'] === '0x0800')).toBe(true);
  });
  it('basic-2sections.pcapng: µs section then ns section', () => {
    const rows = times('basic-2sections.pcapng');
    expect(rows.map((r) => r['frame.time_epoch'])).toEqual(expectedNs.map((ns, i) => (i < 10 ? fmtUs(ns) : fmtNs(ns))));
  });
});

describe('fixture details', () => {
  it('tcp-events.pcap: split, retransmission, reordering, loss, mid-stream start as designed', () => {
    const f = [
      'frame.number',
      'tcp.seq',
      'tcp.seq_raw',
      'tcp.len',
      'tcp.analysis.retransmission',
      'tcp.analysis.out_of_order',
      'tcp.analysis.lost_segment',
      'tcp.analysis.ack_lost_segment',
    ];
    const rows = tshark(join(GEN, 'tcp-events.pcap'), f).rows;
    const flagged = (field: string) => rows.filter((r) => r[field] !== '').map((r) => Number(r['frame.number']));
    // Frames 4-6: the 12-byte request in pieces of 5, 5, 2 at relative seq 1, 6, 11.
    expect(rows.slice(3, 6).map((r) => [r['tcp.seq'], r['tcp.len']])).toEqual([
      ['1', '5'],
      ['6', '5'],
      ['11', '2'],
    ]);
    expect(flagged('tcp.analysis.retransmission')).toEqual([9]); // tid 2 sent again
    expect(flagged('tcp.analysis.out_of_order')).toEqual([12]); // tid 3 after tid 4
    expect(flagged('tcp.analysis.lost_segment')).toEqual([11, 15]); // hole before tid 4 (filled later), tid 5 never seen
    expect(flagged('tcp.analysis.ack_lost_segment')).toContain(14); // response acks the unseen tid 5
    // Mid-stream flow (frames 20-23): client ISN 0xfffffff0, so data starts at 0xfffffff1 and the
    // second 12-byte request at 0xfffffffd (wrapping inside it); server ISN 123, responses of 11 bytes.
    expect(rows.slice(19).map((r) => r['tcp.seq_raw'])).toEqual([String(0xfffffff1), '124', String(0xfffffffd), String(124 + 11)]);
  });

  it('snaplen-truncated.pcap: packet 5 is 128 of 263 bytes', () => {
    const rows = tshark(join(GEN, 'snaplen-truncated.pcap'), ['frame.len', 'frame.cap_len']).rows;
    // 14 Ethernet + 20 IP + 20 TCP + 7 MBAP + 2 (FC, byte count) + 200 register bytes = 263.
    expect(rows[4]).toEqual({ 'frame.len': '263', 'frame.cap_len': '128' });
    expect(rows.filter((r) => r['frame.len'] !== r['frame.cap_len']).length).toBe(1);
  });

  it('link-null-le/-be.pcap: the DLT_NULL address families', () => {
    const fam = (file: string) => [...new Set(tshark(join(GEN, file), ['null.family']).rows.map((r) => r['null.family']))].sort();
    expect(fam('link-null-le.pcap')).toEqual(['2', '24', '28', '30']);
    expect(fam('link-null-be.pcap')).toEqual(['2', '24']);
  });

  it('ipv6-exthdr.pcap: hop-by-hop then destination options then TCP on every packet', () => {
    const rows = tshark(join(GEN, 'ipv6-exthdr.pcap'), ['ipv6.nxt', 'ipv6.hopopts.nxt', 'ipv6.dstopts.nxt']).rows;
    expect(rows.length).toBe(8);
    for (const r of rows) expect(r).toEqual({ 'ipv6.nxt': '0', 'ipv6.hopopts.nxt': '60', 'ipv6.dstopts.nxt': '6' });
  });

  it('ipv4-options.pcap: 28-byte IPv4 headers with Router Alert', () => {
    const rows = tshark(join(GEN, 'ipv4-options.pcap'), ['ip.hdr_len', 'ip.opt.type']).rows;
    // Option type bytes: 0x94 = 148 Router Alert, 1 NOP, 0 EOL.
    for (const r of rows) expect(r).toEqual({ 'ip.hdr_len': '28', 'ip.opt.type': '148,1,0' });
  });

  it('plant-sample.pcap: Modbus function codes, the exception, DNP3 CRCs, padding', () => {
    const file = join(GEN, 'plant-sample.pcap');
    const mb = tshark(file, ['ip.src', 'modbus.func_code', 'modbus.exception_code'], ['-Y', 'modbus']).rows;
    const tally = new Map<string, number>();
    for (const r of mb) {
      const k = `${r['ip.src']} fc${r['modbus.func_code']}${r['modbus.exception_code'] ? ` ex${r['modbus.exception_code']}` : ''}`;
      tally.set(k, (tally.get(k) ?? 0) + 1);
    }
    // 12 cycles: each reads both PLCs; FC 6 to PLC1 twice; FC 16 to PLC2 once; one bad read of PLC2 -> 0x83 code 2.
    expect(Object.fromEntries(tally)).toEqual({
      '10.10.1.10 fc3': 25,
      '10.10.1.10 fc6': 2,
      '10.10.1.10 fc16': 1,
      '10.10.1.21 fc3': 12,
      '10.10.1.21 fc6': 2,
      '10.10.1.22 fc3': 12,
      '10.10.1.22 fc16': 1,
      '10.10.1.22 fc3 ex2': 1,
    });
    const dnp = tshark(file, ['dnp.hdr.CRC.status', 'dnp.data_chunk.CRC.status', 'dnp3.al.func'], ['-Y', 'dnp3']).rows;
    expect(dnp.length).toBe(6);
    for (const r of dnp) {
      expect(r['dnp.hdr.CRC.status']).toBe('1');
      expect(r['dnp.data_chunk.CRC.status']!.split(',').every((s) => s === '1')).toBe(true);
    }
    expect(dnp.map((r) => r['dnp3.al.func'])).toEqual(['1', '129', '1', '129', '1', '129']); // READ / RESPONSE
    // The PLCs' and RTU's SYN-ACKs (58 bytes) and PLC2's FIN (54) arrive padded to 60.
    const padded = tshark(file, ['frame.number'], ['-Y', 'eth.padding']).rows.length;
    expect(padded).toBe(4);
    const proto = tshark(file, ['_ws.col.Protocol'], ['-Y', 'ntp || syslog']).rows.map((r) => r['_ws.col.Protocol']);
    expect(proto.sort()).toEqual(['NTP', 'NTP', 'NTP', 'NTP', 'Syslog']);
  });
});

describe('regenerating', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otwatch-fixtures-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reproduces the committed files byte for byte', () => {
    writeFixtures(dir);
    const committed = readdirSync(GEN).sort();
    expect(readdirSync(dir).sort()).toEqual(committed);
    for (const f of committed) {
      expect(readFileSync(join(dir, f)).equals(readFileSync(join(GEN, f))), f).toBe(true);
    }
  });
});

describe('toPcapng', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otwatch-pcapng-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives each link type its own interface', () => {
    const clock = new Clock([1_000, 0]);
    const t = new TcpSession({ client: '10.1.1.1', server: '10.1.1.2', cport: 1111, sport: 502, clock });
    const u = new UdpExchange({ client: '2001:db8::1', server: '2001:db8::2', cport: 2222, sport: 20000, clock, link: 'raw6' });
    t.handshake();
    u.send('c2s', Buffer.from('x')).send('s2c', Buffer.from('y'));
    t.fin('c2s');
    const file = join(dir, 'mixed.pcapng');
    writeFileSync(file, toPcapng(mergePackets(t.frames(), u.frames()), { endian: 'be', tsresol: 9 }));
    const rows = tshark(file, ['frame.interface_id', 'frame.time_epoch', 'ip.src', 'ipv6.src']).rows;
    expect(rows.map((r) => [r['frame.interface_id'], r['ip.src'] || r['ipv6.src']])).toEqual([
      ['0', '10.1.1.1'],
      ['0', '10.1.1.2'],
      ['0', '10.1.1.1'],
      ['1', '2001:db8::1'],
      ['1', '2001:db8::2'],
      ['0', '10.1.1.1'],
    ]);
    // Default step 1 ms from 1000 s.
    expect(rows.map((r) => r['frame.time_epoch'])).toEqual([0, 1, 2, 3, 4, 5].map((ms) => `1000.00${ms}000000`));
  });
});

describe('corpus copies', () => {
  const sources = readFileSync(resolve(REPO, 'fixtures/pcaps/SOURCES.md'), 'utf8');
  const rows = sources
    .split('\n')
    .filter((l) => /^\| \S+\.pcap/.test(l))
    .map((l) => l.split('|').map((c) => c.trim()));
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

  it('every file in corpus/ is listed in SOURCES.md with its sha256, total under 200 KB', () => {
    const files = readdirSync(CORPUS)
      .filter((f) => f.endsWith('.pcap') || f.endsWith('.pcapng'))
      .sort();
    expect(rows.map((r) => r[1]).sort()).toEqual(files);
    let total = 0;
    for (const r of rows) {
      const p = join(CORPUS, r[1]!);
      expect(sha(p), r[1]).toBe(r[7]);
      total += readFileSync(p).length;
    }
    expect(total).toBeLessThan(200_000);
  });

  withShared(() => {
    it('each copy is byte-identical to the shared corpus file with the same source and commit, or exactly its frames selection', () => {
      const tsv = readFileSync(resolve(SHARED_PCAPS, 'MANIFEST.tsv'), 'utf8')
        .split('\n')
        .map((l) => l.split('\t'));
      for (const r of rows) {
        const [, file, , where, commit, licence] = r;
        // "PATH, frames 1-17, 371-372 and 377-396 (`editcap -r`)": a slice, reproduced here by editcap.
        const sel = /^(.*?), frames (.*?) \(`editcap -r`\)$/.exec(where!);
        const path = sel === null ? where : sel[1];
        const m = tsv.find((t) => t[2] === path && t[3] === commit);
        expect(m, file).toBeDefined();
        if (sel === null) expect(m![9]).toBe(sha(join(CORPUS, file!)));
        else {
          const out = join(mkdtempSync(join(tmpdir(), 'otwatch-slice-')), 'slice.pcap');
          const ranges = sel[2]!.split(/, | and /);
          execFileSync('editcap', ['-r', resolve(SHARED_PCAPS, m![0]!), out, ...ranges]);
          expect(sha(out), `${file}: editcap -r ${ranges.join(' ')}`).toBe(sha(join(CORPUS, file!)));
        }
        expect(m![4]).toMatch(/^(BSD|MIT|Apache|CC-BY)/);
        expect(licence).toMatch(/^(BSD|MIT|Apache|CC-BY)/);
      }
    });
  });
});

describe('builder bytes (hand-computed)', () => {
  it('internet checksum of the classic IPv4 header example is 0xb861', () => {
    // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7, checksum field zeroed.
    const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(internetChecksum(h)).toBe(0xb861);
  });

  it('CRC-16/DNP check value for "123456789" is 0xEA82', () => {
    expect(crcDnp(Buffer.from('123456789'))).toBe(0xea82);
  });

  it('Modbus FC 3 ADU', () => {
    // tid 1, proto 0, length 6 (unit + 5 PDU bytes), unit 1, FC 3, addr 0, qty 10.
    expect(modbusAdu(1, 1, mbReadHoldingReq(0, 10)).toString('hex')).toBe('0001' + '0000' + '0006' + '01' + '03' + '0000' + '000a');
  });

  it('QinQ tags and ethertype follow the MACs', () => {
    const f = buildFrame({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      proto: 'udp',
      sport: 1,
      dport: 2,
      vlans: [{ tpid: 0x88a8, id: 200 }, { id: 300 }],
    });
    // 88a8, TCI 200 = 0x00c8, 8100, TCI 300 = 0x012c, 0800.
    expect(f.subarray(12, 22).toString('hex')).toBe('88a800c88100012c0800');
    expect(f.subarray(0, 12).toString('hex')).toBe('02000a00000202000a000001'); // dst then src MAC from the IPs
  });

  it('link types are the tcpdump.org LINKTYPE_ numbers', () => {
    expect([
      linktypeOf('ether'),
      linktypeOf('null'),
      linktypeOf('null-be'),
      linktypeOf('raw'),
      linktypeOf('raw4'),
      linktypeOf('raw6'),
      linktypeOf('sll'),
      linktypeOf('sll2'),
    ]).toEqual([1, 0, 0, 101, 228, 229, 113, 276]);
  });

  it('pcap global headers and a record', () => {
    // magic, version 2.4, thiszone 0, sigfigs 0, snaplen 262144 (0x40000), linktype 1; little-endian.
    expect(new PcapWriter().toBuffer().toString('hex')).toBe('d4c3b2a1' + '02000400' + '00000000' + '00000000' + '00000400' + '01000000');
    const w = new PcapWriter({ endian: 'be', nanos: true, snaplen: 128, linktype: 101 });
    w.add(2, 999_999_999, Buffer.alloc(200, 0x55));
    const b = w.toBuffer();
    expect(b.subarray(0, 24).toString('hex')).toBe('a1b23c4d' + '00020004' + '00000000' + '00000000' + '00000080' + '00000065');
    // ts 2 s + 999999999 ns, caplen 128 (snaplen), origlen 200.
    expect(b.subarray(24, 40).toString('hex')).toBe('00000002' + '3b9ac9ff' + '00000080' + '000000c8');
    expect(b.length).toBe(24 + 16 + 128);
    expect(() => new PcapWriter().add(0, 1_000_000, Buffer.alloc(1))).toThrow(RangeError);
  });

  it('pcapng blocks and timestamp units', () => {
    const w = new PcapngWriter({ endian: 'le' });
    const i = w.addInterface({ linktype: 113, tsresol: 9 });
    w.addAt(i, 1, 5, Buffer.from('abc'));
    const b = w.toBuffer();
    // SHB: 12 framing + 16 fixed + shb_userappl "otwatch pcapgen" (4 + 16) + end (4) = 52 bytes.
    expect(b.subarray(0, 12).toString('hex')).toBe('0a0d0d0a' + '34000000' + '4d3c2b1a');
    expect(b.readUInt32LE(48)).toBe(52);
    // IDB at 52: 12 framing + linktype/reserved/snaplen 8 + if_tsresol (4 + 4) + end (4) = 32 bytes.
    expect(b.subarray(52, 64).toString('hex')).toBe('01000000' + '20000000' + '7100' + '0000');
    expect(b.subarray(68, 76).toString('hex')).toBe('0900' + '0100' + '09000000'); // if_tsresol = 9
    // EPB at 84: 8 framing + 20 fixed + 4 data (3 padded) + 4 trailing length = 36 bytes;
    // ts = 1 s * 1e9 + 5 = 0x3b9aca05 units, caplen = origlen = 3.
    expect(b.subarray(84, 112).toString('hex')).toBe(
      '06000000' + '24000000' + '00000000' + '00000000' + '05ca9a3b' + '03000000' + '03000000',
    );
    expect(b.subarray(112, 116).toString('hex')).toBe('61626300');
    expect(b.readUInt32LE(116)).toBe(36);
    expect(b.length).toBe(120);
    // Big-endian sections put the byte-order magic in big-endian order.
    expect(new PcapngWriter({ endian: 'be' }).toBuffer().subarray(8, 12).toString('hex')).toBe('1a2b3c4d');
  });

  it('TcpSession rejects bad cut points; Clock refuses to go back', () => {
    const s = new TcpSession({ client: '10.0.0.1', server: '10.0.0.2', cport: 1, sport: 2 });
    expect(() => s.segments('c2s', Buffer.alloc(10), [5, 5])).toThrow();
    expect(() => s.segments('c2s', Buffer.alloc(10), [10])).toThrow();
    expect(() => s.retransmit('s2c')).toThrow();
    const c = new Clock([100, 0]);
    expect(() => c.set(99, 999)).toThrow(RangeError);
  });
});

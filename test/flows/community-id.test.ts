import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { communityId, parseIp } from '../../src/flows/community-id.js';
import { SHARED, withShared } from '../helpers/shared.js';

interface Vector {
  proto: number;
  saddr: string;
  daddr: string;
  sport: number | null;
  dport: number | null;
  communityid: string;
}

function load(name: string): Vector[] {
  return JSON.parse(readFileSync(resolve(SHARED, 'community-id', name), 'utf8')) as Vector[];
}

// Published values from the spec's README tables (corelight/community-id-spec,
// baseline/README.md), independent of this implementation.
const V6A = 'fe80:0001:0203:0405:0607:0809:0A0B:0C0D';
const V6B = 'fe80:1011:1213:1415:1617:1819:1A1B:1C1D';
const README_DEFAULT: [number, string, string, number, number, string][] = [
  [6, '1.2.3.4', '5.6.7.8', 1122, 3344, '1:wCb3OG7yAFWelaUydu0D+125CLM='],
  [6, '5.6.7.8', '1.2.3.4', 3344, 1122, '1:wCb3OG7yAFWelaUydu0D+125CLM='],
  [17, '1.2.3.4', '5.6.7.8', 1122, 3344, '1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg='],
  [132, '5.6.7.8', '1.2.3.4', 3344, 1122, '1:EKt4MsxuyaE6mL+hmrEkQ9csDD8='],
  [1, '1.2.3.4', '5.6.7.8', 8, 0, '1:crodRHL2FEsHjbv3UkRrfbs4bZ0='], // echo request
  [1, '5.6.7.8', '1.2.3.4', 0, 0, '1:crodRHL2FEsHjbv3UkRrfbs4bZ0='], // echo reply: same flow
  [1, '1.2.3.4', '5.6.7.8', 11, 0, '1:f/YiSyWqczrTgfUCZlBUnvHRcPk='], // time exceeded: one-way
  [58, V6A, V6B, 128, 0, '1:0bf7hyMJUwt3fMED7z8LIfRpBeo='],
  [58, V6B, V6A, 129, 0, '1:0bf7hyMJUwt3fMED7z8LIfRpBeo='],
  [58, V6A, V6B, 146, 0, '1:fYC8+pz24E+EhANP1EZhpX0Dw10='],
  [46, '1.2.3.4', '5.6.7.8', 0, 0, '1:ikv3kmf89luf73WPz1jOs49S768='], // RSVP: no ports
  [46, '5.6.7.8', '1.2.3.4', 0, 0, '1:ikv3kmf89luf73WPz1jOs49S768='],
  [46, V6B, V6A, 0, 0, '1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0='],
];
const README_SEED1: [number, string, string, number, number, string][] = [
  [6, '1.2.3.4', '5.6.7.8', 1122, 3344, '1:HhA1B+6CoLbiKPEs5nhNYN4XWfk='],
  [17, '5.6.7.8', '1.2.3.4', 3344, 1122, '1:OShq+iKDAMVouh/4bMxB9Sz4amw='],
  [1, '5.6.7.8', '1.2.3.4', 0, 0, '1:9pr4ZGTICiuZoIh90RRYE2RyXpU='],
  [58, V6A, V6B, 146, 0, '1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s='],
  [46, V6A, V6B, 0, 0, '1:j6EyyfBzL4vWKHFXgUqb5Az3OxM='],
];

describe('communityId: spec README tables', () => {
  it.each(README_DEFAULT)('proto %i %s -> %s %i/%i (seed 0)', (proto, s, d, sp, dp, id) => {
    expect(communityId(proto, parseIp(s), parseIp(d), sp, dp)).toBe(id);
  });
  it.each(README_SEED1)('proto %i %s -> %s %i/%i (seed 1)', (proto, s, d, sp, dp, id) => {
    expect(communityId(proto, parseIp(s), parseIp(d), sp, dp, 1)).toBe(id);
  });
  it('ports are ignored for port-less protocols', () => {
    const a = parseIp('1.2.3.4'),
      b = parseIp('5.6.7.8');
    expect(communityId(46, a, b, 999, 7)).toBe('1:ikv3kmf89luf73WPz1jOs49S768=');
  });
  it('rejects mixed or bad address lengths', () => {
    expect(() => communityId(6, parseIp('1.2.3.4'), parseIp('::1'), 1, 2)).toThrow(RangeError);
    expect(() => communityId(6, new Uint8Array(5), new Uint8Array(5), 1, 2)).toThrow(RangeError);
  });
});

withShared(() => {
  describe('communityId: spec JSON baselines', () => {
    it('baseline_deflt.json (seed 0)', () => {
      const vs = load('baseline_deflt.json');
      expect(vs.length).toBeGreaterThan(20);
      for (const v of vs) {
        const got = communityId(v.proto, parseIp(v.saddr), parseIp(v.daddr), v.sport ?? 0, v.dport ?? 0);
        expect(got, JSON.stringify(v)).toBe(v.communityid);
      }
    });
    it('baseline_seed1.json (seed 1)', () => {
      const vs = load('baseline_seed1.json');
      expect(vs.length).toBeGreaterThan(20);
      for (const v of vs) {
        const got = communityId(v.proto, parseIp(v.saddr), parseIp(v.daddr), v.sport ?? 0, v.dport ?? 0, 1);
        expect(got, JSON.stringify(v)).toBe(v.communityid);
      }
    });
  });
});

describe('parseIp', () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  it('IPv4', () => {
    expect(hex(parseIp('10.0.0.1'))).toBe('0a000001');
    expect(hex(parseIp('255.255.255.255'))).toBe('ffffffff');
  });
  it('IPv6 forms', () => {
    expect(hex(parseIp('::'))).toBe('0'.repeat(32));
    expect(hex(parseIp('::1'))).toBe(`${'0'.repeat(31)}1`);
    expect(hex(parseIp('fe80::1'))).toBe(`fe80${'0'.repeat(27)}1`);
    expect(hex(parseIp('2001:db8::'))).toBe(`20010db8${'0'.repeat(24)}`);
    expect(hex(parseIp('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008');
    expect(hex(parseIp('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(parseIp('64:ff9b::1.2.3.4'))).toBe('0064ff9b000000000000000001020304');
    expect(hex(parseIp('FE80:0001:0203:0405:0607:0809:0A0B:0C0D'))).toBe('fe80000102030405060708090a0b0c0d');
  });
  it.each([
    '',
    '1.2.3',
    '1.2.3.256',
    '1.2.3.4.5',
    'a.b.c.d',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '1.2.3.4::',
    '::1.2.3',
    'fe80::1%eth0',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7::8',
  ])('rejects %j', (t) => {
    expect(() => parseIp(t)).toThrow();
  });
});

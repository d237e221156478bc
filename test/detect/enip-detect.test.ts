// EtherNet/IP through detection: a controller stopped by a client that only
// ever read tags raises a high-severity new_function of class control.
import { describe, expect, it } from 'vitest';
import { brief, clock, runDetect, tcp, tmpDir, writePcap, type Conv } from './helpers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// The same messages as test/dissectors/enip.test.ts (decoded there against tshark).
const REGISTER_REQ = hex('650004000000000000000000000000000000000000000000 0100 0000');
const REGISTER_REPLY = hex('650004007856341200000000 0102030405060708 00000000 0100 0000');
const READ_TAG_ROUTED = hex(
  '6f002c0078563412000000000000000000000000000000000000 00000a000200 00000000 b2001c00 520220062401 0a0e0e00 ' +
    '4c0591 07 436f756e746572 00 0100 01000100',
);
const READ_TAG_REPLY = hex('6f00180078563412000000000000000000000000000000000000 00000a000200 00000000 b2000800 cc000000 c300 2a00');
const STOP = hex('6f00180078563412000000000000000000000000000000000000 00000a000200 00000000 b2000800 0702 208e 2401 0000');
const STOP_REPLY = hex('6f00140078563412000000000000000000000000000000000000 00000a000200 00000000 b2000400 87000000');

const HMI: Conv = { client: '10.0.0.5', server: '10.0.0.20', cport: 50000, sport: 44818 };

function session(c: ReturnType<typeof clock>, cport: number, pairs: [Buffer, Buffer][]) {
  const s = tcp(c, { ...HMI, cport }).handshake();
  s.send('c2s', REGISTER_REQ).send('s2c', REGISTER_REPLY);
  for (const [q, r] of pairs) s.send('c2s', q).send('s2c', r);
  return s.close('c2s').frames();
}

describe('enip: detection', () => {
  it('Stop after a baseline of tag reads is new_function/high, class control', async () => {
    const dir = tmpDir('enip');
    const read: [Buffer, Buffer] = [READ_TAG_ROUTED, READ_TAG_REPLY];
    const learnPcap = writePcap(dir, 'learn.pcap', session(clock(), 50000, [read, read]));
    const later = writePcap(dir, 'later.pcap', session(clock(1_700_100_000), 50001, [read, [STOP, STOP_REPLY]]));
    const r = await runDetect([learnPcap, later], { learnFor: 3600 });
    expect(r.alerts.map(brief)).toEqual([`new_function/high ${HMI.client}:50001 -> ${HMI.server}:44818 fc 7 control`]);
    expect(r.alerts[0].app).toBe('enip');
    expect(r.alerts[0].detail).toContain('Stop');
  });
});

// DNP3 object headers that cannot be valid stop the walk (issue 12 §4): a
// reserved qualifier, or indexes/ranges past the fragment, set
// objects_truncated and 'malformed_object', and nothing after them is read as
// objects. Built captures, checked against tshark 4.0 where it is right.
import { describe, expect, it } from 'vitest';
import { TcpSession, dnp3Frame, toPcap } from '../../tools/pcapgen/index.js';
import { runEngine } from '../helpers/run.js';
import { tsharkFields, writeCapture } from '../helpers/built-capture.js';

/** One application fragment per frame, master (src 1) to outstation 10. */
function capture(name: string, apps: number[][]): string {
  const s = new TcpSession({ client: '10.0.0.1', cport: 40000, server: '10.0.0.2', sport: 20000 });
  s.handshake();
  apps.forEach((a, i) => {
    s.send('c2s', dnp3Frame(0xc4, 10, 1, Buffer.from([0xc0 | (i & 0x3f), ...a])));
  });
  return writeCapture(name, toPcap(s.frames()));
}

const objs = (p: any) => (p.dnp3.objects ?? []).map((o: any) => `0x${((o.group << 8) | o.variation).toString(16).padStart(4, '0')}`);

describe('dnp3: object headers that cannot be valid', () => {
  it('READ with an index prefix (qualifier 0x17): the indexes are skipped, the next header is read, as tshark does', async () => {
    const path = capture('dnp3-read-indexes.pcap', [
      [0xc1, 0x01, 0x1e, 0x01, 0x17, 0x02, 0x03, 0x05, 0x3c, 0x01, 0x06], // g30v1 q17 count 2 [3, 5]; g60v1 q06
      [0xc2, 0x01, 0x01, 0x02, 0x28, 0x01, 0x00, 0x07, 0x01], // g1v2 q28 count 1 [263]
    ]);
    const r = await runEngine([path]);
    const pdus = r.pdus.filter((p) => p.app === 'dnp3');
    expect(pdus.map((p) => p.dnp3.objects)).toEqual([
      [
        { group: 30, variation: 1, qualifier: 0x17, count: 2 },
        { group: 60, variation: 1, qualifier: 0x06, count: 0 },
      ],
      [{ group: 1, variation: 2, qualifier: 0x28, count: 1 }],
    ]);
    expect(pdus.every((p) => p.dnp3.objects_truncated === undefined)).toBe(true);
    expect(r.flows[0].anomalies).toBeUndefined();
    const t = tsharkFields(path, 'dnp3.al.func', ['dnp3.al.obj']).map((x) => x[0].split('|'));
    expect(pdus.map(objs)).toEqual(t);
  });

  it('a reserved qualifier stops the walk: no plausible-looking object after it, flagged', async () => {
    const path = capture('dnp3-reserved-qualifier.pcap', [
      [0xc1, 0x01, 0x3c, 0x02, 0x76, 0x64, 0x01, 0x06], // g60v2 prefix code 7 (reserved); then "g100v1 q06"
      [0xc2, 0x01, 0x3c, 0x02, 0x0c, 0x64, 0x01, 0x06], // g60v2 range code 12 (reserved); then "g100v1 q06"
      [0xc3, 0x01, 0x1e, 0x01, 0x28, 0x09, 0x00, 0x03, 0x00, 0x3c, 0x01, 0x06], // q28 count 9: 18 index bytes, 5 left: past the fragment
    ]);
    const r = await runEngine([path]);
    const pdus = r.pdus.filter((p) => p.app === 'dnp3');
    expect(pdus.map((p) => [objs(p), p.dnp3.objects_truncated])).toEqual([
      [['0x3c02'], true],
      [['0x3c02'], true],
      [['0x1e01'], true],
    ]);
    expect(r.flows[0].anomalies).toEqual({ malformed_object: 3 });
    // tshark reads the same first header, then goes on into the bytes after a
    // reserved qualifier (its g100v1 is what otwatch must not report).
    const t = tsharkFields(path, 'dnp3.al.func', ['dnp3.al.obj', 'dnp3.al.objq.prefix', 'dnp3.al.objq.range']);
    expect(t.slice(0, 2).map((x) => x[0])).toEqual(['0x3c02|0x6401', '0x3c02|0x6401']);
    expect(t[0][1].split('|')[0]).toBe('7');
    expect(t[1][2].split('|')[0]).toBe('12');
  });
});

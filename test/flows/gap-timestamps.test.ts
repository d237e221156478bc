// A PDU's ts is the capture time of the segment that completed it (issue 12
// §4), also when that segment waited in the reassembly queue behind a hole
// that a later packet declared lost; never earlier than the side's previous PDU.
import { describe, expect, it } from 'vitest';
import { TcpSession, modbusAdu, mbReadHoldingReq, mbReadHoldingResp, toPcap } from '../../tools/pcapgen/index.js';
import { runEngine } from '../helpers/run.js';
import { tsharkFields, writeCapture } from '../helpers/built-capture.js';

const usec = (t: number): number => Math.round(t * 1e6);

describe('PDU timestamps behind a capture gap', () => {
  it('a queued PDU keeps the time of its own segment, not of the ACK that ended the wait', async () => {
    const s = new TcpSession({ client: '10.0.0.1', cport: 40001, server: '10.0.0.2', sport: 502 });
    s.handshake();
    s.send('c2s', modbusAdu(1, 1, mbReadHoldingReq(0, 1)));
    s.send('s2c', modbusAdu(1, 1, mbReadHoldingResp([1])));
    s.lose('c2s', modbusAdu(2, 1, mbReadHoldingReq(0, 1))); // the capture misses tid 2
    s.send('c2s', modbusAdu(3, 1, mbReadHoldingReq(10, 1))); // waits behind the hole
    s.wait(2);
    s.send('s2c', modbusAdu(2, 1, mbReadHoldingResp([2]))); // acknowledges past the hole
    s.send('s2c', modbusAdu(3, 1, mbReadHoldingResp([3])));
    s.fin('c2s').fin('s2c');
    const path = writeCapture('modbus-gap-ts.pcap', toPcap(s.frames()));
    const r = await runEngine([path]);
    const pdus = r.pdus.filter((p) => p.app === 'modbus');
    // The ACK in the server's next segment releases tid 3 before that segment's own bytes.
    expect(pdus.map((p) => [p.dir, p.modbus.tid])).toEqual([
      ['c2s', 1],
      ['s2c', 1],
      ['c2s', 3],
      ['s2c', 2],
      ['s2c', 3],
    ]);
    // tshark: the time of the frame that carries each ADU.
    const t = new Map(
      tsharkFields(path, 'modbus', ['mbtcp.trans_id', 'tcp.srcport', 'frame.time_epoch']).map((x) => [`${x[0]}/${x[1]}`, Number(x[2])]),
    );
    const tid3 = t.get('3/40001')!;
    expect(usec(pdus[2].ts)).toBe(usec(tid3));
    expect(usec(t.get('2/502')!) - usec(tid3)).toBeGreaterThanOrEqual(2e6); // the ACK came 2 s later
    for (const p of pdus) expect(usec(p.ts)).toBe(usec(t.get(`${p.modbus.tid}/${p.dir === 'c2s' ? 40001 : 502}`)!));
    const f = r.flows.find((x) => x.app === 'modbus')!;
    expect(f.gaps).toBe(1);
  });

  it('a PDU completed by a queued segment is as recent as its newest bytes; PDUs after it never go back in time', async () => {
    const s = new TcpSession({ client: '10.0.0.1', cport: 40002, server: '10.0.0.2', sport: 502 });
    s.handshake();
    const a = modbusAdu(5, 1, mbReadHoldingReq(0, 2));
    const b = modbusAdu(6, 1, mbReadHoldingReq(4, 2));
    // The second half of a, then b, arrive first (queued); the first half of a comes 1 s later.
    s.send('c2s', a.subarray(6), { seqOffset: 6, noAdvance: true });
    s.send('c2s', b, { seqOffset: a.length, noAdvance: true });
    s.wait(1);
    s.send('c2s', a.subarray(0, 6));
    s.send('s2c', modbusAdu(5, 1, mbReadHoldingResp([1, 2])));
    s.send('s2c', modbusAdu(6, 1, mbReadHoldingResp([3, 4])));
    const path = writeCapture('modbus-reorder-ts.pcap', toPcap(s.frames()));
    const r = await runEngine([path]);
    const pdus = r.pdus.filter((p) => p.app === 'modbus' && p.dir === 'c2s');
    expect(pdus.map((p) => p.modbus.tid)).toEqual([5, 6]);
    // Frame times: tshark reassembles a from both pieces; its frame is the late first half.
    const frames = tsharkFields(path, 'tcp.srcport == 40002 && tcp.len > 0', ['frame.time_epoch']).map((x) => usec(Number(x[0])));
    expect(frames).toHaveLength(3);
    const late = frames[2];
    expect(late - frames[0]).toBeGreaterThanOrEqual(1e6);
    expect(usec(pdus[0].ts)).toBe(late); // completed when its first half arrived
    expect(usec(pdus[1].ts)).toBe(late); // b arrived earlier but is not stamped before a
  });
});

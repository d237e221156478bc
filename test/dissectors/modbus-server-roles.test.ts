// A Modbus server that opens the TCP connection itself (issue 12 §4): the SYN
// sender is the flow's client, yet its exceptions (fc >= 0x80) are responses,
// and so is everything else it sends once it has sent one.
import { describe, expect, it } from 'vitest';
import { TcpSession, mbException, modbusAdu, mbReadHoldingReq, mbReadHoldingResp, toPcap } from '../../tools/pcapgen/index.js';
import { runEngine } from '../helpers/run.js';
import { tsharkFields, writeCapture } from '../helpers/built-capture.js';

/** A device on port 502 connects out to its master (10.0.0.1:40000); the
 *  master asks fc 1 and fc 3, the device answers 10 exceptions and one read. */
function deviceConnectsOut(): Buffer {
  const s = new TcpSession({ client: '10.0.0.2', cport: 502, server: '10.0.0.1', sport: 40000 });
  s.handshake();
  for (let t = 1; t <= 10; t++) {
    s.send('s2c', modbusAdu(t, 1, Buffer.of(0x01, 0x00, 0x00, 0x00, 0x08)));
    s.send('c2s', modbusAdu(t, 1, mbException(1, 6)));
  }
  s.send('s2c', modbusAdu(11, 1, mbReadHoldingReq(0, 2)));
  s.send('c2s', modbusAdu(11, 1, mbReadHoldingResp([7, 8])));
  s.fin('c2s').fin('s2c');
  return toPcap(s.frames());
}

describe('modbus: a server that opened the connection', () => {
  it('exceptions and the replies after them are responses; the flow counts them so', async () => {
    const path = writeCapture('modbus-device-connects-out.pcap', deviceConnectsOut());
    const r = await runEngine([path]);
    const flow = r.flows.find((f) => f.app === 'modbus')!;
    // TCP roles stay the handshake's: the device sent the SYN.
    expect(flow.client).toEqual({ ip: '10.0.0.2', port: 502 });
    expect(flow.modbus).toMatchObject({ requests: 11, responses: 11, exceptions: 10, open_transactions: 0 });
    expect(flow.anomalies).toBeUndefined();
    const pdus = r.pdus.filter((p) => p.app === 'modbus');
    expect(pdus).toHaveLength(22);
    const fromDevice = pdus.filter((p) => p.dir === 'c2s');
    expect(fromDevice.map((p) => p.modbus.resp)).toEqual(Array(11).fill(true));
    expect(fromDevice.slice(0, 10).map((p) => [p.modbus.fc, p.modbus.exception])).toEqual(Array(10).fill([1, 6]));
    expect(pdus.filter((p) => p.dir === 's2c').every((p) => p.modbus.resp === false)).toBe(true);

    // tshark (by port: source port 502 is a response; it links each to its request) agrees frame by frame on
    // who answered, the function code and the exception code.
    const t = tsharkFields(path, 'modbus', ['tcp.srcport', 'mbtcp.trans_id', 'modbus.func_code', 'modbus.exception_code']);
    expect(t).toHaveLength(22);
    const ours = pdus.map((p) => [
      p.dir === 'c2s' ? '502' : '40000',
      String(p.modbus.tid),
      String(p.modbus.fc),
      p.modbus.exception === null ? '' : String(p.modbus.exception),
    ]);
    expect(ours).toEqual(t);
    const tResp = tsharkFields(path, 'modbus', ['_ws.col.Info']).map((x) => x[0].trim().startsWith('Response'));
    expect(pdus.map((p) => p.modbus.resp)).toEqual(tResp);
  });

  it('without a handshake the first exception also decides, before any request is seen', async () => {
    const s = new TcpSession({ client: '10.0.0.2', cport: 502, server: '10.0.0.1', sport: 40000 });
    s.send('c2s', modbusAdu(1, 1, mbException(3, 2)));
    s.send('s2c', modbusAdu(2, 1, mbReadHoldingReq(0, 1)));
    s.send('c2s', modbusAdu(2, 1, mbException(3, 2)));
    const r = await runEngine([writeCapture('modbus-exception-first.pcap', toPcap(s.frames()))]);
    const flow = r.flows.find((f) => f.app === 'modbus')!;
    expect(flow.modbus).toMatchObject({ requests: 1, responses: 2, exceptions: 2 });
    const pdus = r.pdus.filter((p) => p.app === 'modbus');
    expect(pdus.map((p) => p.modbus.resp)).toEqual([true, false, true]);
  });
});

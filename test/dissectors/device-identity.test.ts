// Device identity for the inventory (issue 16): Modbus Read Device
// Identification (fc 43 / MEI 14) response objects and the OPC UA
// ApplicationDescription of GetEndpoints and CreateSession in clear channels,
// on built captures against tshark, and on corpus captures that carry them.
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import {
  TcpSession,
  modbusAdu,
  toPcap,
  uaAck,
  uaCreateSessionRequest,
  uaCreateSessionResponse,
  uaGetEndpointsResponse,
  uaHel,
  uaMsg,
  uaNid4,
  uaOpenSecureChannelRequest,
  uaOpenSecureChannelResponse,
  uaOpn,
  uaRequestHeader,
  uaStr,
  type UaAppDescription,
} from '../../tools/pcapgen/index.js';
import { modbus, modbusDeviceIdentity, MODBUS_MAX_ID_OBJECTS, type ModbusPdu } from '../../src/dissectors/modbus/parser.js';
import { S2C, type Dir, type ParseCtx, type PduBase } from '../../src/dissectors/types.js';
import { runEngine } from '../helpers/run.js';
import { tsharkFields, writeCapture } from '../helpers/built-capture.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

/** fc 43 / MEI 14 response PDU: code, conformity, more follows, next id, objects. */
function devIdResponse(
  code: number,
  conformity: number,
  more: number,
  next: number,
  objs: [number, string | Buffer][],
  count = objs.length,
): Buffer {
  const body = objs.map(([id, v]) => {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.of(id, b.length), b]);
  });
  return Buffer.concat([Buffer.of(0x2b, 0x0e, code, conformity, more, next, count), ...body]);
}

describe('modbus: Read Device Identification', () => {
  it('response objects reach the PDU record and modbusDeviceIdentity, as tshark decodes them', async () => {
    const s = new TcpSession({ client: '10.0.0.1', cport: 40010, server: '10.0.0.2', sport: 502 });
    s.handshake();
    s.send('c2s', modbusAdu(1, 1, Buffer.of(0x2b, 0x0e, 0x01, 0x00)));
    s.send(
      's2c',
      modbusAdu(
        1,
        1,
        devIdResponse(1, 0x81, 0, 0, [
          [0, 'Schneider Electric'],
          [1, 'BMX P34 2020'],
          [2, 'v2.7'],
        ]),
      ),
    );
    s.send('c2s', modbusAdu(2, 1, Buffer.of(0x2b, 0x0e, 0x02, 0x03)));
    s.send(
      's2c',
      modbusAdu(
        2,
        1,
        devIdResponse(2, 0x81, 0xff, 0x05, [
          [3, 'http://www.se.com'],
          [4, 'Modicon "M340"'],
        ]),
      ),
    );
    const path = writeCapture('modbus-devid.pcap', toPcap(s.frames()));
    const r = await runEngine([path]);
    const pdus = r.pdus.filter((p) => p.app === 'modbus');
    expect(pdus.map((p) => p.modbus.device_id)).toEqual([
      undefined,
      { vendor_name: 'Schneider Electric', product_code: 'BMX P34 2020', revision: 'v2.7' },
      undefined,
      { vendor_url: 'http://www.se.com', product_name: 'Modicon "M340"' },
    ]);
    expect(pdus[1].modbus).toMatchObject({ fc: 43, mei: 14, resp: true, conformity: 0x81, more_follows: 0, next_object_id: 0 });
    expect(pdus[3].modbus).toMatchObject({ more_follows: 0xff, next_object_id: 5 });
    expect(pdus[0].modbus.conformity).toBeUndefined();
    const t = tsharkFields(path, 'modbus.mei == 14 && modbus.num_objects', ['modbus.object_id', 'modbus.object_str_value']);
    const ours = pdus.filter((p) => p.modbus.device_id).map((p) => Object.values(p.modbus.device_id as Record<string, string>));
    expect(ours).toEqual(t.map((x) => x[1].split('|')));
    expect(t.map((x) => x[0])).toEqual(['0|1|2', '3|4']);
  });

  it('is bounded: at most MODBUS_MAX_ID_OBJECTS objects, stops at one past the PDU, keeps the first of a repeated id', () => {
    const objs: [number, string][] = Array.from({ length: 40 }, (_, i) => [0x80 + i, `x${i}`]);
    const got: (Record<string, string> | null)[] = [];
    const ctx: ParseCtx = {
      ts: 0,
      need: 0,
      emit(_d: Dir, p: PduBase) {
        got.push(modbusDeviceIdentity(p as ModbusPdu));
      },
      anomaly() {},
    };
    const st = modbus.createState();
    const feed = (pdu: Buffer) => {
      const b = modbusAdu(1, 1, pdu);
      modbus.parse(st, b, 0, b.length, S2C, ctx);
    };
    feed(devIdResponse(4, 0x83, 0, 0, objs));
    expect(Object.keys(got[0]!)).toHaveLength(MODBUS_MAX_ID_OBJECTS);
    expect(got[0]!.object_128).toBe('x0');
    // The count says 3, the second object's length runs past the PDU.
    feed(Buffer.concat([devIdResponse(1, 1, 0, 0, [[0, 'ok']], 3), Buffer.of(1, 200, 0x41)]));
    expect(got[1]).toEqual({ vendor_name: 'ok' });
    feed(
      devIdResponse(1, 1, 0, 0, [
        [0, 'first'],
        [0, 'second'],
      ]),
    );
    expect(got[2]).toEqual({ vendor_name: 'first' });
    feed(devIdResponse(1, 1, 0, 0, []));
    expect(got[3]).toBeNull();
  });
});

const PLC: UaAppDescription = { applicationUri: 'urn:plc:server', productUri: 'urn:vendor:product', name: ['en-US', 'PLC server'] };
const HMI: UaAppDescription = { applicationUri: 'urn:hmi:client', productUri: null, name: [null, 'HMI "A"'] };

describe('opcua: ApplicationDescription', () => {
  it('GetEndpointsResponse (first endpoint), CreateSessionRequest/Response in a clear channel, as tshark decodes them', async () => {
    const s = new TcpSession({ client: '10.0.0.1', cport: 50010, server: '10.0.0.9', sport: 4840 });
    s.handshake();
    s.send('c2s', uaHel('opc.tcp://10.0.0.9:4840'));
    s.send('s2c', uaAck());
    const none = 'http://opcfoundation.org/UA/SecurityPolicy#None';
    s.send('c2s', uaOpn(0, none, null, null, 1, 1, uaOpenSecureChannelRequest(1, 1)));
    s.send('s2c', uaOpn(5, none, null, null, 1, 1, uaOpenSecureChannelResponse(1, 5)));
    s.send(
      'c2s',
      uaMsg(5, 1, 2, 2, Buffer.concat([uaNid4(428), uaRequestHeader(2), uaStr('opc.tcp://10.0.0.9:4840'), uaStr(null), uaStr(null)])),
    );
    s.send('s2c', uaMsg(5, 1, 2, 2, uaGetEndpointsResponse(2, [PLC, { ...PLC, applicationUri: 'urn:other' }], true)));
    s.send('c2s', uaMsg(5, 1, 3, 3, uaCreateSessionRequest(3, HMI)));
    s.send('s2c', uaMsg(5, 1, 3, 3, uaCreateSessionResponse(3, PLC)));
    const path = writeCapture('opcua-identity.pcap', toPcap(s.frames()));
    const r = await runEngine([path]);
    const ua = r.pdus.filter((p) => p.app === 'opcua').map((p) => p.opcua);
    const withId = ua.filter((o) => 'application_uri' in o);
    expect(withId.map((o) => [o.service, o.application_uri, o.product_uri, o.application_name])).toEqual([
      [431, 'urn:plc:server', 'urn:vendor:product', 'PLC server'],
      [461, 'urn:hmi:client', undefined, 'HMI "A"'],
      [464, 'urn:plc:server', 'urn:vendor:product', 'PLC server'],
    ]);
    expect(ua.filter((o) => o.service === 428 || o.service === 446)).toHaveLength(2);
    expect(ua.filter((o) => o.msg === 'OPN' || o.msg === 'MSG').every((o) => o.encrypted === false)).toBe(true);
    // tshark: every ApplicationUri it decodes in those messages; ours are the first of each.
    const t = tsharkFields(path, 'opcua.ApplicationUri', ['opcua.servicenodeid.numeric', 'opcua.ApplicationUri', 'opcua.ProductUri']);
    expect(t.map((x) => [Number(x[0]), x[1].split('|')[0]])).toEqual(withId.map((o) => [o.service, o.application_uri]));
    expect(t[0][1].split('|')).toEqual(['urn:plc:server', 'urn:other']);
  });

  it('a description cut by the chunk end gives no identity and no anomaly', async () => {
    const s = new TcpSession({ client: '10.0.0.1', cport: 50011, server: '10.0.0.9', sport: 4840 });
    s.handshake();
    s.send('c2s', uaHel('opc.tcp://10.0.0.9:4840'));
    s.send('s2c', uaAck());
    const none = 'http://opcfoundation.org/UA/SecurityPolicy#None';
    s.send('c2s', uaOpn(0, none, null, null, 1, 1, uaOpenSecureChannelRequest(1, 1)));
    s.send('s2c', uaOpn(5, none, null, null, 1, 1, uaOpenSecureChannelResponse(1, 5)));
    const full = uaCreateSessionRequest(3, HMI);
    s.send('c2s', uaMsg(5, 1, 2, 3, full.subarray(0, 40), 'C')); // first chunk ends inside the ApplicationUri
    s.send('c2s', uaMsg(5, 1, 3, 3, full.subarray(40), 'F'));
    const r = await runEngine([writeCapture('opcua-identity-cut.pcap', toPcap(s.frames()))]);
    const ua = r.pdus.filter((p) => p.app === 'opcua').map((p) => p.opcua);
    expect(ua.slice(-2).map((o) => [o.service, o.chunk, 'application_uri' in o])).toEqual([
      [461, 'C', false],
      [461, 'F', false],
    ]);
    expect(r.flows[0].anomalies).toBeUndefined();
  });
});

withShared(() => {
  describe('modbus: Read Device Identification on the corpus, against tshark', () => {
    it('icsnpp-modbus modbus_example.pcap (frame 94)', async () => {
      const path = resolve(SHARED_PCAPS, 'icsnpp-modbus/testing/traces/modbus_example.pcap');
      const r = await runEngine([path]);
      const ours = r.pdus.filter((p) => p.app === 'modbus' && p.modbus.device_id).map((p) => p.modbus);
      const t = tsharkFields(path, 'modbus.mei == 14 && modbus.num_objects', [
        'modbus.conformity_level',
        'modbus.object_id',
        'modbus.object_str_value',
      ]);
      expect(ours).toHaveLength(1);
      expect(t).toHaveLength(1);
      expect(ours[0].conformity).toBe(Number(t[0][0]));
      expect(Object.values(ours[0].device_id)).toEqual(t[0][2].split('|'));
      expect(ours[0].device_id).toEqual({ vendor_name: 'Zeek Modbus Test', product_code: 'Protocol Parsing is fun!', revision: '1.2.3.6' });
    });
  });

  describe('opcua: ApplicationDescription on the corpus, against tshark', () => {
    it.each([
      'KiwiMiri-opcua-security-research/pcaps/anssi_normal.pcap',
      'KiwiMiri-opcua-security-research/pcaps/python_username_normal.pcap',
    ])('%s', async (rel) => {
      const path = resolve(SHARED_PCAPS, rel);
      const r = await runEngine([path]);
      const ours = r.pdus
        .filter((p) => p.app === 'opcua' && 'application_uri' in p.opcua)
        .map((p) => [p.opcua.service, p.opcua.application_uri, p.opcua.product_uri]);
      const t = tsharkFields(
        path,
        'opcua.ApplicationUri',
        ['opcua.servicenodeid.numeric', 'opcua.ApplicationUri', 'opcua.ProductUri'],
        ['tcp.port==4840,opcua'],
      );
      expect(ours.length).toBeGreaterThan(0);
      expect(ours).toEqual(t.map((x) => [Number(x[0]), x[1].split('|')[0], x[2].split('|')[0]]));
    });
  });
});

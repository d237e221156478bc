// The function-class tables: every code a dissector knows has a row, and the
// classes follow the protocol specifications.
import { describe, expect, it } from 'vitest';
import { codeClass, codeName, FUNCTION_CLASSES, pduClass, tableCodes } from '../../src/detect/function-class.js';
import { dnp3, type Dnp3Pdu } from '../../src/dissectors/dnp3/parser.js';
import { iec104, type Iec104Pdu } from '../../src/dissectors/iec104/parser.js';
import { modbus, type ModbusPdu } from '../../src/dissectors/modbus/parser.js';
import { opcuaServiceName } from '../../src/dissectors/opcua/opcua-services.js';
import type { Dir, ParseCtx, PduBase } from '../../src/dissectors/types.js';
import { dnp3Frame, mbReadHoldingReq, modbusAdu } from '../../tools/pcapgen/ics.js';

class Ctx implements ParseCtx {
  ts = 0;
  need = 0;
  anomalies: string[] = [];
  pdus: PduBase[] = [];
  emit(_dir: Dir, pdu: PduBase): void {
    this.pdus.push({ ...pdu });
  }
  anomaly(_dir: Dir, name: string): void {
    this.anomalies.push(name);
  }
}

const cls = (app: Parameters<typeof codeClass>[0], fc: number) => FUNCTION_CLASSES[codeClass(app, fc)];

describe('every code the dissectors name has a row', () => {
  it('Modbus: the codes the dissector does not call unknown_function_code', () => {
    const known: number[] = [];
    for (let fc = 1; fc < 128; fc++) {
      // A 4-byte body: the shape does not matter, only whether the code is known.
      const ctx = new Ctx();
      modbus.parse(modbus.createState(), modbusAdu(1, 1, Buffer.of(fc, 0, 0, 0, 1)), 0, 12, 0, ctx);
      if (!ctx.anomalies.includes('unknown_function_code')) known.push(fc);
    }
    // Public 1-24 and 43 (spec V1.1b3 and legacy codes), UMAS 90, user ranges 65-72, 100-110.
    expect(known.length).toBe(24 + 1 + 1 + 8 + 11);
    expect(tableCodes('modbus')).toEqual(known);
  });

  it('IEC 104: the type ids the dissector does not call unknown_type_id', () => {
    const known: number[] = [];
    for (let t = 1; t < 256; t++) {
      // I frame, N(S)=N(R)=0, type t, one object, cause 6 (activation), CA 1, IOA 1, 4 value bytes.
      const apdu = Buffer.of(0x68, 17, 0, 0, 0, 0, t, 1, 6, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0);
      const ctx = new Ctx();
      iec104.parse(iec104.createState(), apdu, 0, apdu.length, 0, ctx);
      expect(ctx.pdus.length).toBe(1);
      if (!ctx.anomalies.includes('unknown_type_id')) known.push(t);
    }
    expect(tableCodes('iec104')).toEqual(known);
  });

  it('DNP3: IEEE 1815-2012 Table 4-1 (0-33 requests, 129-131 responses)', () => {
    const expected = [...Array.from({ length: 34 }, (_, i) => i), 129, 130, 131];
    expect(tableCodes('dnp3')).toEqual(expected);
  });

  it('OPC UA: every service message id the dissector names', () => {
    const named: number[] = [];
    for (let id = 0; id < 20000; id++) if (opcuaServiceName(id) !== undefined) named.push(id);
    expect(named.length).toBeGreaterThan(70);
    expect(tableCodes('opcua')).toEqual(named);
    // Both tables name the same message.
    for (const id of named) expect(codeName('opcua', id)).toBe(opcuaServiceName(id));
  });
});

describe('classes follow the specifications', () => {
  it('Modbus (Application Protocol V1.1b3 section 6)', () => {
    expect([1, 2, 3, 4].map((f) => cls('modbus', f))).toEqual(['read', 'read', 'read', 'read']);
    expect([5, 6, 15, 16, 22, 23].map((f) => cls('modbus', f))).toEqual(Array(6).fill('write'));
    expect(cls('modbus', 8)).toBe('diagnostic');
    expect(cls('modbus', 21)).toBe('config'); // Write File Record
    expect(cls('modbus', 90)).toBe('config'); // UMAS: program download, run/stop
    expect(cls('modbus', 101)).toBe('other');
    expect(cls('modbus', 127)).toBe('other'); // not in the table
  });

  it('Modbus diagnostics sub-functions 1 (restart) and 4 (listen only) are config', () => {
    const ctx = new Ctx();
    // fc 8, sub-function 0x0001 Restart Communications Option, data 0x0000.
    modbus.parse(modbus.createState(), modbusAdu(1, 1, Buffer.of(8, 0, 1, 0, 0)), 0, 12, 0, ctx);
    expect(FUNCTION_CLASSES[pduClass('modbus', ctx.pdus[0])]).toBe('config');
    const ctx2 = new Ctx();
    // sub-function 0x0000 Return Query Data.
    modbus.parse(modbus.createState(), modbusAdu(1, 1, Buffer.of(8, 0, 0, 0x12, 0x34)), 0, 12, 0, ctx2);
    expect(FUNCTION_CLASSES[pduClass('modbus', ctx2.pdus[0])]).toBe('diagnostic');
    const ctx3 = new Ctx();
    modbus.parse(modbus.createState(), modbusAdu(1, 1, mbReadHoldingReq(0, 1)), 0, 12, 0, ctx3);
    expect((ctx3.pdus[0] as ModbusPdu).fc).toBe(3);
    expect(FUNCTION_CLASSES[pduClass('modbus', ctx3.pdus[0])]).toBe('read');
  });

  it('DNP3 (IEEE 1815 Table 4-1) and WRITE of time objects', () => {
    expect(cls('dnp3', 1)).toBe('read');
    expect(cls('dnp3', 2)).toBe('write');
    expect([3, 4, 5, 6].map((f) => cls('dnp3', f))).toEqual(Array(4).fill('control'));
    expect([13, 14, 17, 18].map((f) => cls('dnp3', f))).toEqual(Array(4).fill('config')); // restarts, start/stop application
    expect(cls('dnp3', 0)).toBe('session');
    const write = (group: number): Dnp3Pdu =>
      ({ fc: 2, objects: [{ group, variation: 1, qualifier: 7, count: 1 }], nobjects: 1 }) as unknown as Dnp3Pdu;
    expect(FUNCTION_CLASSES[pduClass('dnp3', write(50))]).toBe('config'); // g50v1 time and date: sets the clock
    expect(FUNCTION_CLASSES[pduClass('dnp3', write(80))]).toBe('write'); // g80 internal indications
  });

  it('IEC 104: commands, system commands and parameters by cause', () => {
    expect(cls('iec104', 45)).toBe('control'); // C_SC_NA_1 single command
    expect(cls('iec104', 100)).toBe('read'); // C_IC_NA_1 interrogation
    expect(cls('iec104', 103)).toBe('config'); // C_CS_NA_1 clock synchronisation
    expect(cls('iec104', 105)).toBe('config'); // C_RP_NA_1 reset process
    expect(cls('iec104', 13)).toBe('read'); // M_ME_NC_1 measured value
    const p = (typeId: number, cot: number): Iec104Pdu => ({ fc: typeId, typeId, cot }) as unknown as Iec104Pdu;
    expect(FUNCTION_CLASSES[pduClass('iec104', p(110, 6))]).toBe('config'); // P_ME_NA_1 activation: set parameter
    expect(FUNCTION_CLASSES[pduClass('iec104', p(110, 20))]).toBe('read'); // interrogated by station interrogation
  });

  it('OPC UA services', () => {
    expect(cls('opcua', 631)).toBe('read'); // ReadRequest
    expect(cls('opcua', 673)).toBe('write'); // WriteRequest
    expect(cls('opcua', 712)).toBe('control'); // CallRequest
    expect(cls('opcua', 488)).toBe('config'); // AddNodesRequest
    expect(cls('opcua', 446)).toBe('session'); // OpenSecureChannelRequest
  });

  it('a DNP3 WRITE of g50v1 decoded by the dissector is config', () => {
    // Transport FIR|FIN seq 0; application control FIR|FIN seq 0; fc 2 WRITE;
    // object header g50 v1, qualifier 0x07 (8-bit count), count 1; 6-byte time.
    const user = Buffer.of(0xc0, 0xc0, 0x02, 50, 1, 0x07, 1, 1, 2, 3, 4, 5, 6);
    const frame = dnp3Frame(0xc4, 1, 3, user);
    const ctx = new Ctx();
    const st = dnp3.createState();
    dnp3.parse(st, frame, 0, frame.length, 0, ctx);
    expect(ctx.pdus.length).toBe(1);
    expect(ctx.pdus[0].fc).toBe(2);
    // The PDU copy is shallow: its objects are the dissector's reused list, still valid here.
    expect(FUNCTION_CLASSES[pduClass('dnp3', ctx.pdus[0])]).toBe('config');
  });
});

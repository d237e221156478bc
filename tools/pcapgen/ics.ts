// Hand-built ICS application payloads for fixtures: Modbus/TCP ADUs and DNP3
// link-layer frames (with their CRCs).

/** Modbus/TCP ADU: MBAP (transaction id, protocol 0, length = unit + PDU, unit id) then the PDU. */
export function modbusAdu(tid: number, unit: number, pdu: Uint8Array): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid & 0xffff, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(1 + pdu.length, 4);
  b[6] = unit;
  b.set(pdu, 7);
  return b;
}

function u16s(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => {
    b.writeUInt16BE(v & 0xffff, i * 2);
  });
  return b;
}

/** FC 3 Read Holding Registers request PDU. */
export function mbReadHoldingReq(addr: number, qty: number): Buffer {
  return Buffer.concat([Buffer.of(0x03), u16s([addr, qty])]);
}

/** FC 3 response PDU: byte count then the register values. */
export function mbReadHoldingResp(values: number[]): Buffer {
  return Buffer.concat([Buffer.of(0x03, values.length * 2), u16s(values)]);
}

/** FC 6 Write Single Register PDU (the response echoes the request). */
export function mbWriteSingle(addr: number, value: number): Buffer {
  return Buffer.concat([Buffer.of(0x06), u16s([addr, value])]);
}

/** FC 16 Write Multiple Registers request PDU. */
export function mbWriteMultipleReq(addr: number, values: number[]): Buffer {
  return Buffer.concat([Buffer.of(0x10), u16s([addr, values.length]), Buffer.of(values.length * 2), u16s(values)]);
}

/** FC 16 response PDU: start address and quantity. */
export function mbWriteMultipleResp(addr: number, qty: number): Buffer {
  return Buffer.concat([Buffer.of(0x10), u16s([addr, qty])]);
}

/** Exception response PDU: function code | 0x80, exception code. */
export function mbException(fc: number, code: number): Buffer {
  return Buffer.of(fc | 0x80, code);
}

/** CRC-16/DNP (poly 0x3D65 reflected, init 0, xorout 0xFFFF); check value for "123456789" is 0xEA82. */
export function crcDnp(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa6bc : crc >>> 1;
  }
  return ~crc & 0xffff;
}

/**
 * DNP3 link frame carrying `userData` (transport + application bytes):
 * 0x0564, length, control, destination, source, header CRC, then 16-byte data
 * blocks each followed by its CRC (little-endian).
 */
export function dnp3Frame(control: number, dst: number, src: number, userData: Uint8Array): Buffer {
  if (userData.length > 250) throw new Error('DNP3 link frame carries at most 250 user bytes');
  const hdr = Buffer.alloc(10);
  hdr[0] = 0x05;
  hdr[1] = 0x64;
  hdr[2] = 5 + userData.length;
  hdr[3] = control;
  hdr.writeUInt16LE(dst, 4);
  hdr.writeUInt16LE(src, 6);
  hdr.writeUInt16LE(crcDnp(hdr.subarray(0, 8)), 8);
  const parts: Buffer[] = [hdr];
  for (let o = 0; o < userData.length; o += 16) {
    const block = Buffer.from(userData.subarray(o, o + 16));
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE(crcDnp(block));
    parts.push(block, crc);
  }
  return Buffer.concat(parts);
}

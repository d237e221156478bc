// DNP3 link-layer CRC (IEEE 1815-2012 9.2.5.2): CRC-16 with generator 0x3D65,
// processed LSB first (reflected polynomial 0xA6BC), initial value 0, result
// complemented and sent low byte first. Check value for "123456789": 0xEA82.

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa6bc : c >>> 1;
  TABLE[i] = c;
}

/** CRC of buf[off, off+len). The caller guarantees the range is inside buf. */
export function dnp3Crc(buf: Uint8Array, off: number, len: number): number {
  let crc = 0;
  const end = off + len;
  for (let i = off; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ buf[i]) & 0xff];
  return ~crc & 0xffff;
}

/** True when the two bytes after buf[off, off+len) hold that range's CRC. */
export function dnp3CrcOk(buf: Uint8Array, off: number, len: number): boolean {
  const c = dnp3Crc(buf, off, len);
  return buf[off + len] === (c & 0xff) && buf[off + len + 1] === c >>> 8;
}

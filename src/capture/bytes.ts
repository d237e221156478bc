// Unchecked integer reads for the hot path. Callers bound-check first; these
// inline to a few instructions where Buffer's checked readers do not.

export function u16be(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}
export function u16le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}
export function u32be(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
export function u32le(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}
export function u16(b: Uint8Array, i: number, le: boolean): number {
  return le ? u16le(b, i) : u16be(b, i);
}
export function u32(b: Uint8Array, i: number, le: boolean): number {
  return le ? u32le(b, i) : u32be(b, i);
}

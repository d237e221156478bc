// Community ID of a TCP/UDP flow without allocating: the flow's endpoint A is
// already the spec's canonical first endpoint (lower address, then lower
// port), so the hash input is written straight into a scratch block and
// hashed with a one-block SHA-1 (inputs are at most 40 bytes). The general
// implementation in community-id.ts is the reference; a test checks both
// agree. Measured: node:crypto's createHash per flow was ~5 % of a flow-heavy
// run, most of it object set-up for 40 bytes of input.
import type { Flow } from './flow.js';

const block = new Uint8Array(64);
const w = new Int32Array(80);
const digest = Buffer.alloc(20);

/** A big-endian 32-bit word into `to` at o. */
function put32(to: Uint8Array, o: number, v: number): void {
  to[o] = v >>> 24;
  to[o + 1] = (v >>> 16) & 255;
  to[o + 2] = (v >>> 8) & 255;
  to[o + 3] = v & 255;
}

/** SHA-1 of block[0, len) for len <= 55, into `digest`. */
function sha1OneBlock(len: number): void {
  block[len] = 0x80;
  for (let i = len + 1; i < 56; i++) block[i] = 0;
  const bits = len * 8;
  block[56] = 0;
  block[57] = 0;
  block[58] = 0;
  block[59] = 0;
  block[60] = 0;
  block[61] = 0;
  block[62] = (bits >>> 8) & 255;
  block[63] = bits & 255;
  for (let i = 0; i < 16; i++) w[i] = (block[4 * i] << 24) | (block[4 * i + 1] << 16) | (block[4 * i + 2] << 8) | block[4 * i + 3];
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
    w[i] = (x << 1) | (x >>> 31);
  }
  // Four loops of 20 rounds: no per-round branch on the round number.
  let a = 0x67452301,
    b = 0xefcdab89 | 0,
    c = 0x98badcfe | 0,
    d = 0x10325476,
    e = 0xc3d2e1f0 | 0;
  let i = 0;
  for (; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + w[i]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  put32(digest, 0, (a + 0x67452301) | 0);
  put32(digest, 4, (b + (0xefcdab89 | 0)) | 0);
  put32(digest, 8, (c + (0x98badcfe | 0)) | 0);
  put32(digest, 12, (d + 0x10325476) | 0);
  put32(digest, 16, (e + (0xc3d2e1f0 | 0)) | 0);
}

/** '1:' + base64(sha1(seed 0, A, B, proto, 0, portA, portB)) for a TCP/UDP flow. */
export function flowCommunityId(f: Flow): string {
  return `1:${flowCommunityDigest(f).toString('base64')}`;
}

/** The SHA-1 digest of the flow's Community ID (a shared buffer, valid
 *  until the next call). */
export function flowCommunityDigest(f: Flow): Buffer {
  block[0] = 0;
  block[1] = 0;
  let o = 2;
  if (f.ipVersion === 4) {
    put32(block, 2, f.a0);
    put32(block, 6, f.b0);
    o = 10;
  } else {
    put32(block, 2, f.a0);
    put32(block, 6, f.a1);
    put32(block, 10, f.a2);
    put32(block, 14, f.a3);
    put32(block, 18, f.b0);
    put32(block, 22, f.b1);
    put32(block, 26, f.b2);
    put32(block, 30, f.b3);
    o = 34;
  }
  block[o] = f.proto;
  block[o + 1] = 0;
  block[o + 2] = f.aPort >>> 8;
  block[o + 3] = f.aPort & 255;
  block[o + 4] = f.bPort >>> 8;
  block[o + 5] = f.bPort & 255;
  sha1OneBlock(o + 6);
  return digest;
}

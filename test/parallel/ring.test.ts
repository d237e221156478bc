// The packet ring and chunk pool on one thread: what is written comes back
// in order across the wrap, nothing is visible before publish, the writer
// sees the room the reader gave back.
import { describe, expect, it } from 'vitest';
import { RawPacket } from '../../src/capture/raw-packet.js';
import {
  ChunkPool,
  createRing,
  END_SHUTDOWN,
  REC_END,
  REC_PACKET,
  REC_RELEASE,
  REC_TICK,
  RingReader,
  RingRecord,
  RingWriter,
} from '../../src/parallel/ring.js';

function packet(off: number, caplen: number, linktype: number, origlen = caplen): RawPacket {
  const p = new RawPacket();
  p.off = off;
  p.caplen = caplen;
  p.origlen = origlen;
  p.linktype = linktype;
  return p;
}

describe('RingWriter / RingReader', () => {
  it('delivers records in order, only after publish, across many wraps', () => {
    const sab = createRing(64);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    const rec = new RingRecord();
    expect(w.free()).toBe(64);
    let seq = 0;
    let got = 0;
    for (let round = 0; round < 50; round++) {
      // 40 records a round: the 64-slot ring wraps every other round.
      for (let i = 0; i < 39; i++, seq++)
        w.putPacket(packet(seq * 3, 60 + (seq % 1500), seq % 2 === 0 ? 1 : 276, 1514), seq % 8, 1700000000 + seq / 1000, seq);
      w.putMark(REC_TICK, 0, 1700000000 + seq / 1000, seq);
      expect(r.next(rec)).toBe(false); // nothing published yet
      w.publish();
      expect(w.free()).toBe(64 - 40);
      for (let i = 0; i < 39; i++) {
        expect(r.next(rec)).toBe(true);
        const s = got++;
        expect([rec.type, rec.arg, rec.caplen, rec.origlen, rec.linktype, rec.chunk, rec.ts, rec.seq]).toEqual([
          REC_PACKET,
          s * 3,
          60 + (s % 1500),
          1514,
          s % 2 === 0 ? 1 : 276,
          s % 8,
          1700000000 + s / 1000,
          s,
        ]);
      }
      expect(r.next(rec)).toBe(true);
      expect(rec.type).toBe(REC_TICK);
      expect(rec.seq).toBe(seq);
      expect(r.next(rec)).toBe(false); // empty: everything read is given back
      expect(w.free()).toBe(64);
    }
    w.putRelease(5);
    w.putMark(REC_END, END_SHUTDOWN, 12.5, 99);
    w.publish();
    expect(r.next(rec)).toBe(true);
    expect([rec.type, rec.chunk]).toEqual([REC_RELEASE, 5]);
    expect(r.next(rec)).toBe(true);
    expect([rec.type, rec.arg, rec.ts, rec.seq]).toEqual([REC_END, END_SHUTDOWN, 12.5, 99]);
  });

  it('gives room back in batches while reading, all of it when empty', () => {
    const sab = createRing(4096);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    const rec = new RingRecord();
    for (let i = 0; i < 4096; i++) w.putPacket(packet(0, 60, 1), 0, 0, i);
    w.publish();
    expect(w.free()).toBe(0);
    for (let i = 0; i < 2048; i++) r.next(rec);
    expect(w.free()).toBe(2048); // given back every 2048 records
    for (let i = 0; i < 2047; i++) r.next(rec);
    expect(w.free()).toBe(2048);
    expect(r.next(rec)).toBe(true);
    expect(rec.seq).toBe(4095);
    expect(r.next(rec)).toBe(false);
    expect(w.free()).toBe(4096);
  });

  it('keeps a linktype of 16 bits and a chunk of 8 bits apart', () => {
    const sab = createRing(64);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    const rec = new RingRecord();
    w.putPacket(packet(262143, 262144, 0xffff, 0xffffffff >>> 1), 255, -1, 2 ** 52);
    w.publish();
    r.next(rec);
    expect([rec.type, rec.linktype, rec.chunk, rec.arg, rec.caplen, rec.origlen, rec.ts, rec.seq]).toEqual([
      REC_PACKET,
      0xffff,
      255,
      262143,
      262144,
      0x7fffffff,
      -1,
      2 ** 52,
    ]);
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => createRing(100)).toThrow(/power of two/);
  });
});

describe('ChunkPool', () => {
  it('a chunk is free again once every worker released it', async () => {
    const pool = ChunkPool.create(2, 1024);
    const other = new ChunkPool(pool.sabs, pool.refs.buffer as SharedArrayBuffer); // a worker's view
    expect(pool.isFree(1)).toBe(true);
    pool.hold(1, 3);
    other.release(1);
    other.release(1);
    expect(pool.isFree(1)).toBe(false);
    const waiting = pool.waitFree(1, 5000);
    other.release(1);
    await waiting;
    expect(pool.isFree(1)).toBe(true);
    // The same memory on both sides.
    pool.bufs[0][7] = 42;
    expect(other.bufs[0][7]).toBe(42);
  });
});

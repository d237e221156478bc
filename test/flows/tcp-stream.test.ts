// TcpStream: bytes in sequence order, once; bounded out-of-order queue; gaps
// of the right size. A recorder stands in for the application layer.
import { describe, expect, it } from 'vitest';
import { ReassemblyBudget, TcpStream, type StreamReceiver } from '../../src/flows/tcp-stream.js';

class Recorder implements StreamReceiver {
  out: (string | number)[] = [];
  streamData(_side: number, buf: Buffer, off: number, len: number): void {
    this.out.push(buf.subarray(off, off + len).toString('latin1'));
  }
  streamGap(_side: number, bytes: number): void {
    this.out.push(bytes);
  }
  /** Data joined, gaps as <n>. */
  text(): string {
    return this.out.map((x) => (typeof x === 'number' ? `<${x}>` : x)).join('');
  }
}

function setup(isn = 999, budget = new ReassemblyBudget(64 << 20)) {
  const rx = new Recorder();
  const s = new TcpStream(0, rx, budget);
  s.start(isn); // data starts at 1000
  const seg = (seq: number, text: string, wire = text.length) => s.segment(seq >>> 0, Buffer.from(text, 'latin1'), 0, text.length, wire);
  return { rx, s, seg, budget };
}

describe('TcpStream', () => {
  it('delivers in-order data and trims retransmissions and overlaps', () => {
    const { rx, s, seg } = setup();
    seg(1000, 'hello');
    seg(1000, 'hello'); // full retransmission
    seg(1003, 'loworld'); // overlaps 2 bytes
    expect(rx.text()).toBe('helloworld');
    expect(s.retransmittedBytes).toBe(7);
  });

  it('holds out-of-order segments until the hole fills', () => {
    const { rx, seg } = setup();
    seg(1000, 'aa');
    seg(1004, 'cc');
    seg(1006, 'dd');
    expect(rx.text()).toBe('aa');
    seg(1002, 'bb');
    expect(rx.text()).toBe('aabbccdd');
  });

  it('declares a hole lost when the peer acknowledges past it', () => {
    const { rx, s, seg } = setup();
    seg(1000, 'aa');
    seg(1010, 'zz'); // 8 bytes missing
    s.peerAck(1012);
    expect(rx.text()).toBe('aa<8>zz');
    seg(1002, 'late'); // arrives after the hole was given up: already behind
    expect(rx.text()).toBe('aa<8>zz');
  });

  it('a queued segment already acknowledged by the peer is released at once', () => {
    const { rx, s, seg } = setup();
    seg(1000, 'aa');
    s.peerAck(1020); // the receiver has more than we saw
    seg(1010, 'zz');
    expect(rx.text()).toBe('aa<8>zz');
  });

  it('delivers what waits behind a hole at the end of the flow', () => {
    const { rx, s, seg } = setup();
    seg(1005, 'later');
    s.finish();
    expect(rx.text()).toBe('<5>later');
  });

  it('a capture that starts mid-stream begins with a gap of unknown size', () => {
    const rx = new Recorder();
    const s = new TcpStream(1, rx, new ReassemblyBudget(1 << 20));
    s.segment(123456, Buffer.from('xyz'), 0, 3, 3);
    expect(rx.out).toEqual([-1, 'xyz']);
  });

  it('follows sequence numbers across the 2^32 wrap', () => {
    const { rx, seg } = setup(0xfffffffc); // data starts at 0xfffffffd
    seg(0xfffffffd, 'abc');
    seg(0x00000001, 'ef'); // out of order after the wrap
    seg(0x00000000, 'd');
    seg(0xfffffffe, 'bc'); // retransmission across the wrap
    expect(rx.text()).toBe('abcdef');
  });

  it('a frame cut by snaplen delivers what was captured, then a gap for the rest', () => {
    const { rx, seg } = setup();
    seg(1000, 'abcd', 10);
    seg(1010, 'next');
    expect(rx.text()).toBe('abcd<6>next');
  });

  it('bounds the per-direction queue: a flood of holes costs gaps, not memory', () => {
    const budget = new ReassemblyBudget(64 << 20);
    const { rx, s } = setup(999, budget);
    const payload = Buffer.alloc(1000, 0x41);
    let peak = 0;
    // 10 000 segments, every other one missing: the holes never fill.
    for (let i = 0; i < 10_000; i++) {
      s.segment((1000 + 2 * i * 1000) >>> 0, payload, 0, 1000, 1000);
      if (budget.bytes > peak) peak = budget.bytes;
    }
    expect(peak).toBeLessThanOrEqual(256 * 1024);
    s.finish();
    expect(budget.bytes).toBe(0);
    const gaps = rx.out.filter((x) => typeof x === 'number') as number[];
    // The first segment is in order; each of the other 9 999 follows a 1000-byte hole.
    expect(gaps.length).toBe(9_999);
    expect(gaps.every((g) => g === 1000)).toBe(true);
  });

  it('bounds the bytes queued across all streams', () => {
    const budget = new ReassemblyBudget(4096);
    const streams = Array.from({ length: 50 }, () => setup(999, budget));
    for (const { s } of streams) s.segment(2000, Buffer.alloc(1000), 0, 1000, 1000);
    expect(budget.bytes).toBeLessThanOrEqual(4096);
    // Streams that found no room declared their hole at once and delivered.
    expect(streams.filter(({ rx }) => rx.out.length > 0).length).toBeGreaterThanOrEqual(46);
  });
});

// JsonOut must write exactly the text the template strings gave: it replaced
// them on the PDU hot path, and the record format is a public contract.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonOut, jsonText, lit } from '../../src/output/json-out.js';
import { FdWriter } from '../../src/output/fd-writer.js';
import { tsText } from '../../src/output/flow-record.js';
import { ipv4Text } from '../../src/output/ip-text.js';
import { mulberry32 as rng } from '../../tools/prng.js';

describe('JsonOut', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the title names the template literal it compares with
  it('numbers as `${n}` writes them', () => {
    const r = rng(1);
    const vals = [
      0,
      -0,
      1,
      9,
      10,
      99,
      100,
      255,
      65535,
      0x7fffffff,
      0x80000000,
      0xffffffff,
      2 ** 40,
      999_999_999_999_999,
      1e15,
      2 ** 53,
      1e21,
      -1,
      -2147483648,
      -2147483649,
      0.5,
      1.25,
      -3.75,
      NaN,
      Infinity,
      -Infinity,
      1e-7,
    ];
    for (let i = 0; i < 20000; i++) {
      const mag = 10 ** Math.floor(r() * 16);
      vals.push(Math.floor(r() * mag) * (r() < 0.2 ? -1 : 1));
    }
    for (const v of vals)
      expect(
        jsonText((o, x: number) => o.num(x), v),
        String(v),
      ).toBe(`${v}`);
  });

  it('timestamps as tsText writes them', () => {
    const r = rng(2);
    // biome-ignore lint/correctness/noPrecisionLoss: the literals are the doubles nearest to them, on purpose (rounding edges)
    const vals = [0, 1700000000, 1700000000.000001, 1700000000.9999996, 1699999999.9999999, 0.000001, 1234.5];
    for (let i = 0; i < 20000; i++) vals.push(Math.floor(r() * 2e9) + Math.floor(r() * 1e6) / 1e6);
    for (const v of vals)
      expect(
        jsonText((o, x: number) => o.ts(x), v),
        String(v),
      ).toBe(tsText(v));
  });

  it('strings as JSON.stringify writes them, ASCII and raw text as given', () => {
    const vals = [
      '',
      'plain',
      'with "quotes"',
      'back\\slash',
      'ctl\u0001\n\t',
      'del\u007f',
      'é ü 中文',
      '😀',
      '\ud800 lone',
      'x'.repeat(5000),
      `${'y'.repeat(100)}é`,
      'opc.tcp://10.0.0.1:4840/UA/Server',
    ];
    for (const v of vals) {
      expect(jsonText((o, x: string) => o.str(x), v)).toBe(JSON.stringify(v));
      // raw() is UTF-8 of the text (a lone surrogate becomes U+FFFD, as in any UTF-8 encode).
      expect(jsonText((o, x: string) => o.raw(x), v)).toBe(Buffer.from(v, 'utf8').toString('utf8'));
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, control characters included
      if (!/[^\x00-\x7f]/.test(v)) expect(jsonText((o, x: string) => o.ascii(x), v)).toBe(v);
    }
  });

  it('literals encoded once write their text, and only ASCII is accepted', () => {
    for (const t of ['', ',', '{"type":"flow","ts":', '","handshake":false,"end":"', '}\n']) {
      expect(jsonText((o, x: Uint8Array) => o.lit(x), lit(t))).toBe(t);
    }
    expect(() => lit('é')).toThrow(/not ASCII/);
  });

  it('base64 as Buffer writes it, addresses as ipv4Text', () => {
    const r = rng(4);
    for (let len = 0; len <= 40; len++) {
      const b = Buffer.alloc(len + 3);
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      expect(jsonText((o, x: Buffer) => o.base64(x, 1, len), b)).toBe(b.subarray(1, 1 + len).toString('base64'));
    }
    const words = [0, -1, 0x7fffffff, -0x80000000, 0x0a000001, 0xc0a80101 | 0];
    for (let i = 0; i < 5000; i++) words.push(Math.floor(r() * 2 ** 32) | 0);
    for (const w of words) expect(jsonText((o, x: number) => o.ipv4(x), w)).toBe(ipv4Text(w));
  });

  it('writes into an output that hands over its buffer on every flush (as a worker batch does)', () => {
    const parts: Buffer[] = [];
    const out = {
      buf: Buffer.alloc(64),
      used: 0,
      flush(): void {
        parts.push(this.buf.subarray(0, this.used));
        this.buf = Buffer.alloc(64); // a new buffer: JsonOut must follow it
        this.used = 0;
      },
      write(t: string): void {
        this.flush();
        parts.push(Buffer.from(t, 'utf8'));
      },
      writeBytes(b: Uint8Array): void {
        this.flush();
        parts.push(Buffer.from(b));
      },
    };
    const o = new JsonOut(out);
    let expected = '';
    for (let i = 0; i < 500; i++) {
      const s = i % 50 === 0 ? 'é'.repeat(40) : `n${i}`;
      o.begin();
      o.raw('{"i":');
      o.num(i * 1000003);
      o.raw(',"s":');
      o.str(s);
      o.raw(',"t":');
      o.ts(1700000000 + i / 3);
      o.raw('}\n');
      o.end();
      expected += `{"i":${i * 1000003},"s":${JSON.stringify(s)},"t":${tsText(1700000000 + i / 3)}}\n`;
    }
    out.flush();
    expect(Buffer.concat(parts).toString('utf8')).toBe(expected);
  });

  it('writes records into an FdWriter across many buffer flushes, in order with string lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otwatch-jsonout-'));
    const path = join(dir, 'out.ndjson');
    const w = new FdWriter(openSync(path, 'w'), true);
    const o = new JsonOut(w);
    let expected = '';
    const r = rng(3);
    for (let i = 0; i < 20000; i++) {
      if (i % 7 === 0) {
        const line = `{"type":"flow","n":${i}}\n`;
        w.write(line);
        expected += line;
        continue;
      }
      const s = i % 1000 === 0 ? 'z'.repeat(300_000) : `name ${i} é`;
      const n = Math.floor(r() * 1e12);
      o.begin();
      o.raw('{"i":');
      o.num(i);
      o.raw(',"n":');
      o.num(n);
      o.raw(',"s":');
      o.str(s);
      o.raw(',"ts":');
      o.ts(1700000000 + i / 7);
      o.raw('}\n');
      o.end();
      expected += `{"i":${i},"n":${n},"s":${JSON.stringify(s)},"ts":${tsText(1700000000 + i / 7)}}\n`;
    }
    w.close();
    expect(readFileSync(path, 'utf8') === expected).toBe(true);
  });
});

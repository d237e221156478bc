// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// The fast reader against the reference reader (pcap-parser 0.2.1) on every
// classic microsecond pcap of the shared corpus: same packets, same order,
// same timestamps, lengths and bytes. pcap-parser reads neither pcapng nor
// nanosecond files, so those are left to the format tests.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/file-source.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

const require = createRequire(import.meta.url);
const pcapParser = require('pcap-parser') as { parse(path: string): NodeJS.EventEmitter };

interface Rec {
  sec: number;
  usec: number;
  caplen: number;
  origlen: number;
  digest: number;
}

function fnv(b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ b[i], 16777619);
  return h >>> 0;
}

function reference(path: string): Promise<Rec[]> {
  return new Promise((res, rej) => {
    const out: Rec[] = [];
    const p = pcapParser.parse(path);
    p.on(
      'packet',
      (pk: {
        header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
        data: Buffer;
      }) => {
        out.push({
          sec: pk.header.timestampSeconds,
          usec: pk.header.timestampMicroseconds,
          caplen: pk.header.capturedLength,
          origlen: pk.header.originalLength,
          digest: fnv(pk.data, 0, pk.data.length),
        });
      },
    );
    p.on('error', rej);
    p.on('end', () => res(out));
  });
}

async function ours(path: string): Promise<Rec[]> {
  const out: Rec[] = [];
  await readCapture(path, (pk) => {
    const sec = Math.floor(pk.ts);
    out.push({ sec, usec: Math.floor(pk.tsNsec / 1000), caplen: pk.caplen, origlen: pk.origlen, digest: fnv(pk.buf, pk.off, pk.caplen) });
  });
  return out;
}

withShared(() => {
  const manifest = readFileSync(resolve(SHARED_PCAPS, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const cols = manifest[0].split('\t');
  const rel = cols.indexOf('relpath');
  const fmt = cols.indexOf('file_format');
  const files = manifest
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((c) => c[fmt].startsWith('pcap(') && c[fmt].includes('usec'))
    .map((c) => c[rel]);

  describe('fast reader agrees with pcap-parser on the shared corpus', () => {
    it('finds the classic µs pcaps in the manifest', () => {
      expect(files.length).toBeGreaterThan(50);
    });
    for (const f of files) {
      it(f, async () => {
        const path = resolve(SHARED_PCAPS, f);
        const [a, b] = await Promise.all([ours(path), reference(path)]);
        expect(a.length).toBe(b.length);
        for (let i = 0; i < a.length; i++) {
          if (
            a[i].sec !== b[i].sec ||
            a[i].usec !== b[i].usec ||
            a[i].caplen !== b[i].caplen ||
            a[i].digest !== b[i].digest ||
            a[i].origlen !== Math.max(b[i].origlen, b[i].caplen)
          ) {
            expect({ packet: i + 1, ...a[i] }).toEqual({ packet: i + 1, ...b[i] });
          }
        }
      });
    }
  });
});

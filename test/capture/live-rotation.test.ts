// Output rotation for live runs (src/output/rotating-sink.ts), with a clock
// the test controls: fixed names reopened for logrotate, size and time
// rotation with UTC names, and write failures that never throw.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMulti } from '@msgpack/msgpack';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStamp, RotatingSink } from '../../src/output/rotating-sink.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'otw-rot-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const line = (i: number) => `{"type":"flow","n":${String(i).padStart(19, '0')}}\n`; // 40 bytes
const T = Date.UTC(2024, 0, 31, 23, 59, 59); // 2024-01-31T23:59:59Z

describe('RotatingSink', () => {
  it('names files after the UTC time: 2024-01-31 23:59:59 is 20240131T235959', () => {
    expect(line(1).length).toBe(40);
    expect(fileStamp(T)).toBe('20240131T235959');
    expect(fileStamp(T + 999)).toBe('20240131T235959');
  });

  it('without rotation: fixed names, appended, reopened after a move (logrotate + SIGHUP)', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'flows.ndjson'), 'old\n');
    const s = new RotatingSink({ dir, format: 'ndjson', maxBytes: 0, maxSeconds: 0, now: () => T });
    s.write('flow', line(1));
    s.write('stats', line(2));
    s.flush();
    expect(readFileSync(join(dir, 'flows.ndjson'), 'utf8')).toBe(`old\n${line(1)}`);
    expect(readFileSync(join(dir, 'stats.ndjson'), 'utf8')).toBe(line(2));
    renameSync(join(dir, 'flows.ndjson'), join(dir, 'flows.ndjson.1'));
    s.write('flow', line(3)); // buffered, goes to the moved file at reopen
    s.reopen();
    s.write('flow', line(4));
    s.close();
    expect(readFileSync(join(dir, 'flows.ndjson.1'), 'utf8')).toBe(`old\n${line(1)}${line(3)}`);
    expect(readFileSync(join(dir, 'flows.ndjson'), 'utf8')).toBe(line(4));
  });

  it('by size: a file closes once it holds maxBytes; same-second names get -1, -2', () => {
    const dir = tmp();
    const s = new RotatingSink({ dir, format: 'ndjson', maxBytes: 100, maxSeconds: 0, now: () => T });
    for (let i = 0; i < 7; i++) s.write('flow', line(i));
    s.close();
    // 40-byte lines: 3 make 120 >= 100, so files of 3, 3 and 1 lines.
    expect(readdirSync(dir).sort()).toEqual(['flows-20240131T235959-1.ndjson', 'flows-20240131T235959-2.ndjson', 'flows-20240131T235959.ndjson']);
    expect(readFileSync(join(dir, 'flows-20240131T235959.ndjson'), 'utf8')).toBe(line(0) + line(1) + line(2));
    expect(readFileSync(join(dir, 'flows-20240131T235959-1.ndjson'), 'utf8')).toBe(line(3) + line(4) + line(5));
    expect(readFileSync(join(dir, 'flows-20240131T235959-2.ndjson'), 'utf8')).toBe(line(6));
  });

  it('by time: new files on multiples of the period, also when only flush() runs', () => {
    const dir = tmp();
    let now = Date.UTC(2024, 0, 31, 10, 59, 30);
    const s = new RotatingSink({ dir, format: 'ndjson', maxBytes: 0, maxSeconds: 3600, now: () => now });
    s.write('flow', line(1));
    s.write('pdu', line(2));
    now = Date.UTC(2024, 0, 31, 10, 59, 59, 999);
    s.write('flow', line(3));
    now = Date.UTC(2024, 0, 31, 11, 0, 0); // the hour: everything rotates
    s.flush();
    expect(readdirSync(dir).sort()).toEqual(['flows-20240131T105930.ndjson', 'pdus-20240131T105930.ndjson']);
    now = Date.UTC(2024, 0, 31, 11, 20, 5);
    s.write('flow', line(4));
    s.close();
    expect(readFileSync(join(dir, 'flows-20240131T105930.ndjson'), 'utf8')).toBe(line(1) + line(3));
    expect(readFileSync(join(dir, 'flows-20240131T112005.ndjson'), 'utf8')).toBe(line(4));
    expect(readFileSync(join(dir, 'pdus-20240131T105930.ndjson'), 'utf8')).toBe(line(2));
  });

  it('a directory that goes away: records dropped and counted, one error, no throw; writes resume later', () => {
    const dir = join(tmp(), 'out');
    let now = T;
    const errors: string[] = [];
    const s = new RotatingSink({ dir, format: 'ndjson', maxBytes: 0, maxSeconds: 0, now: () => now, onError: (m) => errors.push(m) });
    expect(() => {
      s.write('flow', line(1));
      s.write('flow', line(2));
    }).not.toThrow();
    expect(s.dropped).toBe(2);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/cannot open .*flows\.ndjson: .*ENOENT/);
    mkdirSync(dir);
    now += 5_000;
    s.write('flow', line(3)); // too soon to try again
    expect(existsSync(join(dir, 'flows.ndjson'))).toBe(false);
    now += 10_000;
    s.write('flow', line(4));
    s.close();
    expect(s.dropped).toBe(3);
    expect(readFileSync(join(dir, 'flows.ndjson'), 'utf8')).toBe(line(4));
  });

  it('msgpack: one object per record', () => {
    const dir = tmp();
    const s = new RotatingSink({ dir, format: 'msgpack', maxBytes: 0, maxSeconds: 0, now: () => T });
    s.write('flow', '{"type":"flow","a":1}\n');
    s.write('flow', '{"type":"flow","b":[1,2]}\n');
    s.close();
    expect([...decodeMulti(readFileSync(join(dir, 'flows.msgpack')))]).toEqual([{ type: 'flow', a: 1 }, { type: 'flow', b: [1, 2] }]);
  });
});

// Output rotation for live runs (src/output/rotating-sink.ts), with a clock
// the test controls: fixed names reopened for logrotate, size and time
// rotation with UTC names, and write failures that never throw.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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
    expect(readdirSync(dir).sort()).toEqual([
      'flows-20240131T235959-1.ndjson',
      'flows-20240131T235959-2.ndjson',
      'flows-20240131T235959.ndjson',
    ]);
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

  it('retention: the oldest rotated files go first, by size and by age; open files and other files stay', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'notes.txt'), 'x'.repeat(1000));
    let now = T;
    const pruned: string[] = [];
    // 40-byte lines, a new file every 3 lines (120 bytes); keep at most 300 bytes.
    const retain = { maxBytes: 300, maxAgeS: 0 };
    const s = new RotatingSink({
      dir,
      format: 'ndjson',
      maxBytes: 100,
      maxSeconds: 0,
      now: () => now,
      retain,
      onPruned: (p) => pruned.push(...p),
    });
    for (let i = 0; i < 12; i++) {
      s.write('flow', line(i));
      now += 1000;
    }
    s.close();
    const names = readdirSync(dir).sort();
    // Files of lines 0-2, 3-5, 6-8, 9-11. When the fourth opened, the three
    // before it held 360 bytes: the oldest went. The file being written is
    // not counted (it comes on top of the limit).
    expect(names).toEqual(['flows-20240201T000002.ndjson', 'flows-20240201T000005.ndjson', 'flows-20240201T000008.ndjson', 'notes.txt']);
    expect(pruned.map((p) => p.slice(dir.length + 1))).toEqual(['flows-20240131T235959.ndjson']);
    expect(readFileSync(join(dir, 'flows-20240201T000008.ndjson'), 'utf8')).toBe(line(9) + line(10) + line(11));

    const aged = tmp();
    let t = T;
    const byAge = { maxBytes: 0, maxAgeS: 1 };
    const a = new RotatingSink({ dir: aged, format: 'ndjson', maxBytes: 0, maxSeconds: 60, now: () => t, retain: byAge });
    a.write('flow', line(1));
    a.flush();
    const first = readdirSync(aged);
    utimesSync(join(aged, first[0]), new Date(T - 10_000), new Date(T - 10_000)); // written 10 s ago
    t += 60_000; // the next period: rotation, then retention
    a.write('flow', line(2));
    a.close();
    expect(readdirSync(aged)).toEqual(['flows-20240201T000059.ndjson']);
  });

  it('a full disk (64 KiB tmpfs): records counted, whole lines kept, one warning a minute, writing resumes with space', () => {
    if (process.getuid?.() !== 0) throw new Error('needs root to mount a tmpfs: run the suite as root, as CI does');
    const dir = tmp();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      let now = T;
      const warnings: string[] = [];
      const s = new RotatingSink({ dir, format: 'ndjson', maxBytes: 0, maxSeconds: 0, now: () => now, onError: (m) => warnings.push(m) });
      const big = (i: number) => `{"type":"pdu","n":${i},"pad":"${'x'.repeat(1000)}"}\n`;
      let i = 0;
      for (; i < 200; i++) {
        s.write('pdu', big(i));
        now += 100;
      }
      s.flush();
      expect(s.dropped).toBeGreaterThan(100);
      expect(warnings.length).toBe(1);
      expect(warnings[0]).toMatch(/write to .*pdus\.ndjson failed: no space left on device \(ENOSPC\)/);
      const text = () => readFileSync(join(dir, 'pdus.ndjson'), 'utf8');
      const lines = text().split('\n');
      expect(lines.pop()).toBe('');
      lines.forEach((l, k) => {
        expect(JSON.parse(l).n).toBe(k);
      });
      // Within the minute: no second warning. After it: one more.
      for (let k = 0; k < 50; k++, i++) {
        s.write('pdu', big(i));
        now += 1000;
      }
      s.flush();
      expect(warnings.length).toBe(1);
      // Space comes back: the next write after the retry delay is written.
      truncateSync(join(dir, 'pdus.ndjson'), 0);
      now += 60_000;
      s.write('pdu', big(1000));
      s.close();
      expect(JSON.parse(text().trim()).n).toBe(1000);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it('msgpack: one object per record', () => {
    const dir = tmp();
    const s = new RotatingSink({ dir, format: 'msgpack', maxBytes: 0, maxSeconds: 0, now: () => T });
    s.write('flow', '{"type":"flow","a":1}\n');
    s.write('flow', '{"type":"flow","b":[1,2]}\n');
    s.close();
    expect([...decodeMulti(readFileSync(join(dir, 'flows.msgpack')))]).toEqual([
      { type: 'flow', a: 1 },
      { type: 'flow', b: [1, 2] },
    ]);
  });
});

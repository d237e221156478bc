// The tcpdump child: its command line and its counters. The counter formats
// are those of tcpdump's info() (tcpdump.c): "%u packet%s captured",
// "%u packet%s received by filter", "%u packet%s dropped by kernel" and, only
// when non-zero, "%u packet%s dropped by interface", joined by ", " after
// SIGUSR1 and one per line at exit. test/capture/live.test.ts checks the
// numbers against a real tcpdump.
import { describe, expect, it } from 'vitest';
import type { LiveOptions } from '../../src/capture/live-source.js';
import { parseInfoLine, tcpdumpArgs, unwrap32 } from '../../src/capture/live-tcpdump.js';

const base: LiveOptions = {
  iface: 'eth1',
  filter: '',
  bufferBytes: 64 << 20,
  snaplen: 262144,
  promisc: true,
  immediate: false,
  batch: false,
  user: null,
};

describe('tcpdump command line', () => {
  it('default: pcap to stdout, flushed per packet, no name lookups, ns timestamps, 64 MiB buffer in KiB', () => {
    expect(tcpdumpArgs(base)).toEqual(['-i', 'eth1', '-w', '-', '-U', '-n', '-s', '262144', '-B', '65536', '--time-stamp-precision=nano']);
  });
  it('options: batch drops -U; no-promisc is -p; user is -Z; the filter is one argument after --', () => {
    const a = tcpdumpArgs({ ...base, batch: true, promisc: false, immediate: true, user: 'nobody', filter: '-x or tcp port 502' });
    expect(a).not.toContain('-U');
    expect(a).toContain('-p');
    expect(a).toContain('--immediate-mode');
    expect(a.slice(a.indexOf('-Z'), a.indexOf('-Z') + 2)).toEqual(['-Z', 'nobody']);
    expect(a.slice(-2)).toEqual(['--', '-x or tcp port 502']);
  });
});

describe('tcpdump counters', () => {
  it('parses the SIGUSR1 line', () => {
    expect(parseInfoLine('tcpdump: 103 packets captured, 106 packets received by filter, 0 packets dropped by kernel')).toEqual({
      captured: 103,
      received: 106,
      droppedKernel: 0,
      droppedIface: 0,
    });
    expect(
      parseInfoLine('tcpdump: 1 packet captured, 1 packet received by filter, 1 packet dropped by kernel, 7 packets dropped by interface'),
    ).toEqual({ captured: 1, received: 1, droppedKernel: 1, droppedIface: 7 });
    expect(parseInfoLine('tcpdump: listening on eth1, link-type EN10MB (Ethernet), snapshot length 262144 bytes')).toBeNull();
    expect(parseInfoLine('212 packets captured')).toBeNull(); // exit report lines are read one by one
  });
  it('carries 32-bit counters across a wrap', () => {
    expect(unwrap32(null, 5)).toBe(5);
    expect(unwrap32(100, 150)).toBe(150);
    expect(unwrap32(4294967290, 5)).toBe(4294967296 + 5);
    // A second wrap, from a total above 2^32.
    expect(unwrap32(4294967296 + 4294967000, 10)).toBe(2 * 4294967296 + 10);
    expect(unwrap32(7, null)).toBe(7);
  });
});

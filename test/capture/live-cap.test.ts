// The in-process capture path must have no way to transmit: `cap`'s native
// object has send() (pcap_sendpacket); the wrapper hides the object and
// removes that method from it before opening. And nothing in src/ transmits
// or opens a socket at all.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CapSource, capLinktype, neuterCap, ReceiveOnlyCap } from '../../src/capture/live-cap.js';
import { REPO } from '../helpers/shared.js';

const require = createRequire(import.meta.url);

/** Every property name reachable on an object, up to Object.prototype. */
function surface(o: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  }
  return [...names].sort();
}

const TRANSMIT = /send|inject|transmit|write|xmit/i;

/** Source text without comments (which may name what the code must not do). */
function code(path: string): string {
  return readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('cap wrapper: receive only', () => {
  it('the real cap object has send(); neuterCap leaves it nothing to call', () => {
    const { Cap } = require('cap') as { Cap: new () => Record<string, unknown> };
    const c = new Cap();
    expect(typeof c.send).toBe('function'); // what is being removed
    neuterCap(c);
    expect(c.send).toBeUndefined();
    expect(() => (c.send as () => void)()).toThrow(TypeError);
    // Neither assignable nor redefinable again.
    expect(() => {
      c.send = () => 0;
    }).toThrow(TypeError);
    expect(() => Object.defineProperty(c, 'send', { value: () => 0 })).toThrow(TypeError);
    expect(c.send).toBeUndefined();
  });

  it('ReceiveOnlyCap and CapSource expose no transmit method', () => {
    const dev = new ReceiveOnlyCap();
    expect(surface(dev).filter((n) => TRANSMIT.test(n))).toEqual([]);
    expect('send' in dev).toBe(false);
    expect(surface(dev)).toEqual(['buffer', 'close', 'constructor', 'isOpen', 'linktype', 'open']);
    const src = new CapSource(
      { iface: 'lo', filter: '', bufferBytes: 1 << 20, snaplen: 65535, promisc: true, immediate: false, batch: false, user: null },
      () => {},
    );
    expect(surface(src).filter((n) => TRANSMIT.test(n))).toEqual([]);
    expect('send' in src).toBe(false);
  });

  it('opening neuters the native object before the device is opened', () => {
    const made: Record<string, unknown>[] = [];
    let sendCallable: boolean | null = null;
    class FakeCap {
      constructor() {
        made.push(this as unknown as Record<string, unknown>);
      }
      send(): void {
        throw new Error('transmit reached');
      }
      open(): string {
        sendCallable = typeof (this as unknown as { send: unknown }).send === 'function';
        return 'ETHERNET';
      }
      on(): void {}
      close(): void {}
      removeAllListeners(): void {}
    }
    const dev = new ReceiveOnlyCap();
    dev.open({ Cap: FakeCap as never }, 'x', '', 1 << 20, () => {});
    expect(made.length).toBe(1);
    expect(sendCallable).toBe(false); // already gone when open() ran
    expect(made[0].send).toBeUndefined();
    expect(dev.linktype).toBe(1);
    dev.close();
  });

  it('maps cap link-type names to DLT numbers (pcap-linktype(7))', () => {
    expect(capLinktype('ETHERNET')).toBe(1);
    expect(capLinktype('NULL')).toBe(0);
    expect(capLinktype('RAW')).toBe(101);
    expect(capLinktype('LINKTYPE_LINUX_SLL')).toBe(113);
    expect(capLinktype('IEEE802_11_RADIO')).toBe(127);
    expect(capLinktype('Unknown linktype 276')).toBe(276);
    expect(capLinktype('nonsense')).toBeNull();
  });
});

describe('src/ never transmits on a capture and never listens', () => {
  const files = sources(join(REPO, 'src'));
  // Export (src/export, `collect`) is the one way out: an outbound TLS client
  // connection to a broker or syslog server, on the management interface.
  const EXPORT = join(REPO, 'src', 'export');
  const OUTBOUND = new Set([join(REPO, 'src', 'cli', 'collect.ts')]);
  const isExport = (f: string) => f.startsWith(EXPORT + sep) || OUTBOUND.has(f);
  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter(isExport).length).toBeGreaterThan(3);
  });
  it('no .send( outside the export client (whose send is an MQTT/syslog publish)', () => {
    const hits = files.filter((f) => !isExport(f) && /\.send\s*\(/.test(readFileSync(f, 'utf8'))); // comments included
    expect(hits).toEqual([]);
  });
  it('the export client never touches a capture: it imports neither cap nor src/capture', () => {
    const hits = files.filter((f) => isExport(f) && /from ['"](cap|[./]+capture\/[^'"]*)['"]|require\(['"]cap['"]\)/.test(code(f)));
    expect(hits).toEqual([]);
  });
  it('no server, listening or raw transmit API anywhere in src/', () => {
    const bad =
      /\.listen\s*\(|createServer|createSocket|\.bind\s*\(\s*\d|sendpacket|pcap_inject|from ['"]node:(dgram|http|https|http2|inspector)['"]|require\(['"](dgram|http|https)['"]\)/;
    const hits = files.filter((f) => bad.test(code(f)));
    expect(hits).toEqual([]);
  });
  it('network client APIs (node:net, node:tls, mqtt) only in the export client', () => {
    const net = /from ['"](node:net|node:tls|net|tls|mqtt)['"]|\(['"](node:net|node:tls|net|tls|mqtt)['"]\)/;
    const hits = files.filter((f) => !isExport(f) && net.test(code(f)));
    expect(hits).toEqual([]);
  });
});

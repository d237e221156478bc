// The human summary of a run: totals, top talkers and services, errors.
// Aggregated per flow as it ends, so keys are numbers where they can be (an
// IPv4 address; address, transport, port and app packed into 52 bits):
// building text per flow cost more than the rest of the flow's record.
import type { Flow } from '../flows/flow.js';
import { clientIp, serverIp, serverPort } from './flow-record.js';
import { ipv4Text } from './ip-text.js';

/** Distinct keys kept per table; beyond it new keys count as "(other)". */
const MAX_KEYS = 100_000;
const APPS = ['', 'modbus', 'dnp3', 'iec104', 'opcua'];

interface Entry {
  flows: number;
  bytes: number;
}

class TopTable {
  readonly m = new Map<number | string, Entry>();
  other = 0;
  add(key: number | string, bytes: number): void {
    let e = this.m.get(key);
    if (e === undefined) {
      if (this.m.size >= MAX_KEYS) {
        this.other++;
        return;
      }
      e = { flows: 0, bytes: 0 };
      this.m.set(key, e);
    }
    e.flows++;
    e.bytes += bytes;
  }
  top(n: number, by: 'flows' | 'bytes', text: (k: number | string) => string): [string, Entry][] {
    return [...this.m]
      .sort((a, b) => b[1][by] - a[1][by] || (String(a[0]) < String(b[0]) ? -1 : 1))
      .slice(0, n)
      .map(([k, e]) => [text(k), e]);
  }
}

function serviceText(k: number | string): string {
  if (typeof k === 'string') return k;
  const app = APPS[k % 8];
  let r = Math.floor(k / 8);
  const port = r % 65536;
  r = Math.floor(r / 65536);
  const tcp = r % 2 === 1;
  const ip = Math.floor(r / 2);
  return `${ipv4Text(ip)} ${tcp ? 'tcp' : 'udp'}/${port}${app ? ` (${app})` : ''}`;
}

function talkerText(k: number | string): string {
  return typeof k === 'string' ? k : ipv4Text(k);
}

export class Summary {
  readonly talkers = new TopTable();
  readonly services = new TopTable();
  readonly apps = new Map<string, number>();

  addFlow(f: Flow): void {
    const bytes = f.bytesC2S + f.bytesS2C;
    const app = f.app?.app ?? null;
    const appIdx = app === null ? 0 : APPS.indexOf(app);
    if (f.ipVersion === 4) {
      const cip = f.clientIsA ? f.a0 : f.b0;
      const sip = f.clientIsA ? f.b0 : f.a0;
      this.talkers.add(cip >>> 0, bytes);
      this.services.add((((sip >>> 0) * 2 + (f.proto === 6 ? 1 : 0)) * 65536 + serverPort(f)) * 8 + appIdx, bytes);
    } else {
      this.talkers.add(clientIp(f), bytes);
      this.services.add(`${serverIp(f)} ${f.proto === 6 ? 'tcp' : 'udp'}/${serverPort(f)}${app ? ` (${app})` : ''}`, bytes);
    }
    const k = app ?? '(none)';
    this.apps.set(k, (this.apps.get(k) ?? 0) + 1);
  }

  topTalkers(n: number): [string, Entry][] {
    return this.talkers.top(n, 'bytes', talkerText);
  }

  topServices(n: number): [string, Entry][] {
    return this.services.top(n, 'flows', serviceText);
  }
}

export function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}



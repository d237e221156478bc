// The human summary of a run: totals, top talkers and services, errors.
import type { Flow } from '../flows/flow.js';
import { clientIp, serverIp, serverPort } from './flow-record.js';

/** Distinct keys kept per table; beyond it new keys count as "(other)". */
const MAX_KEYS = 100_000;

class TopTable {
  readonly m = new Map<string, { flows: number; bytes: number }>();
  other = 0;
  add(key: string, bytes: number): void {
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
  top(n: number, by: 'flows' | 'bytes'): [string, { flows: number; bytes: number }][] {
    return [...this.m].sort((a, b) => b[1][by] - a[1][by] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
  }
}

export class Summary {
  readonly talkers = new TopTable();
  readonly services = new TopTable();
  readonly apps = new Map<string, number>();

  addFlow(f: Flow): void {
    const bytes = f.bytesC2S + f.bytesS2C;
    this.talkers.add(clientIp(f), bytes);
    const app = f.app?.app ?? null;
    this.services.add(`${serverIp(f)} ${f.proto === 6 ? 'tcp' : 'udp'}/${serverPort(f)}${app ? ` (${app})` : ''}`, bytes);
    const k = app ?? '(none)';
    this.apps.set(k, (this.apps.get(k) ?? 0) + 1);
  }
}

export function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

// Diagnostics (never records) go to stderr through pino. Text by default, so
// a person reads "otwatch: error: file.pcap: ...", or pino's JSON lines with
// --log-format json for log collectors.
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

// pino (and its dependencies) take about 50 ms to load, a twentieth of a
// whole run on a big capture; most runs log nothing. It is loaded on the
// first log call instead.
const requireCjs = createRequire(import.meta.url);
type Pino = typeof import('pino');

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

class TextDestination {
  write(s: string): void {
    let line = s;
    try {
      const o = JSON.parse(s) as Record<string, unknown>;
      const { level, msg, time: _t, pid: _p, hostname: _h, ...rest } = o;
      const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
      line = `otwatch: ${LEVEL_NAMES[level as number] ?? level}: ${msg as string}${extra}\n`;
    } catch {
      // not JSON: pass through
    }
    writeSync(2, line);
  }
}

class JsonDestination {
  write(s: string): void {
    writeSync(2, s);
  }
}

export function createLogger(level: string, format: 'text' | 'json'): Logger {
  let real: Logger | null = null;
  const make = (): Logger => {
    const { pino } = requireCjs('pino') as Pino;
    return pino(
      {
        level,
        base: format === 'json' ? { pid: process.pid } : undefined,
        timestamp: format === 'json' ? pino.stdTimeFunctions.isoTime : false,
      },
      format === 'json' ? new JsonDestination() : new TextDestination(),
    );
  };
  const threshold = LEVELS[level] ?? 0;
  const noop = (): void => {};
  return new Proxy({} as Logger, {
    get(_t, k) {
      // A call below the level is dropped here, without loading pino.
      if (real === null && typeof k === 'string' && LEVELS[k] !== undefined && LEVELS[k] < threshold) return noop;
      real ??= make();
      const v = (real as unknown as Record<string | symbol, unknown>)[k];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
    },
  });
}

export type { Logger };

// Diagnostics (never records) go to stderr through pino. Text by default, so
// a person reads "otwatch: error: file.pcap: ...", or pino's JSON lines with
// --log-format json for log collectors.
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';

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
  return pino(
    { level, base: format === 'json' ? { pid: process.pid } : undefined, timestamp: format === 'json' ? pino.stdTimeFunctions.isoTime : false },
    format === 'json' ? new JsonDestination() : new TextDestination(),
  );
}

export type { Logger };

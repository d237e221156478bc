// The option parser: each command declares its options once in a table of
// OptSpecs (src/cli/settings.ts, read.ts, live.ts, baseline.ts), and parsing
// and --help are built from it.
import { UsageError } from '../pipeline/errors.js';

export { UsageError };

export type OptKind = 'flag' | 'string' | 'number' | 'seconds' | 'list';

export interface OptSpec {
  name: string;
  short?: string;
  kind: OptKind;
  arg?: string;
  help: string;
  default?: string | number | boolean;
  choices?: readonly string[];
}

export type Parsed = { opts: Record<string, string | number | boolean | string[]>; rest: string[] };

/** Durations: plain seconds or with a unit (500ms, 30s, 5m, 2h, 1d). */
export function parseSeconds(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v);
  if (m === null) throw new UsageError(`bad duration '${v}' (examples: 30, 30s, 5m, 2h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[unit]!;
}

export function parseArgs(specs: readonly OptSpec[], argv: readonly string[]): Parsed {
  const opts: Parsed['opts'] = {};
  for (const s of specs) if (s.default !== undefined) opts[s.name] = s.default;
  const rest: string[] = [];
  const byName = new Map<string, OptSpec>();
  for (const s of specs) {
    byName.set(`--${s.name}`, s);
    if (s.short) byName.set(`-${s.short}`, s);
  }
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-' || !a.startsWith('-')) {
      rest.push(a);
      continue;
    }
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const s = byName.get(a);
    if (s === undefined) throw new UsageError(`unknown option '${a}'`);
    if (s.kind === 'flag') {
      if (inline !== undefined) throw new UsageError(`option '${a}' takes no value`);
      opts[s.name] = true;
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UsageError(`option '${a}' needs a value (${s.arg ?? 'VALUE'})`);
    if (s.choices && !s.choices.includes(v)) throw new UsageError(`option '${a}' must be one of: ${s.choices.join(', ')}`);
    switch (s.kind) {
      case 'number': {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new UsageError(`option '${a}' needs a non-negative number, not '${v}'`);
        opts[s.name] = n;
        break;
      }
      case 'seconds':
        opts[s.name] = parseSeconds(v);
        break;
      case 'list': {
        const prev = opts[s.name];
        opts[s.name] = [...(Array.isArray(prev) ? prev : []), ...v.split(',').filter((x) => x !== '')];
        break;
      }
      default:
        opts[s.name] = v;
    }
  }
  return { opts, rest };
}

export function helpText(specs: readonly OptSpec[]): string {
  const rows = specs.map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.kind === 'flag' ? '' : ` ${s.arg ?? 'VALUE'}`}`;
    const def = s.default !== undefined && s.kind !== 'flag' ? ` (default ${s.default})` : '';
    return [flag, `${s.help}${def}`] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([f, h]) => `  ${f.padEnd(w)}${h}`).join('\n');
}

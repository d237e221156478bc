// The promise of the protocol modules: no src/ file outside the protocol
// folders (src/dissectors/<name>/) and the registry (src/dissectors/index.ts)
// names a protocol, so adding one is a folder and a registry line. Comments
// do not count; strings and identifiers do.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODULES } from '../../src/dissectors/index.js';
import { REPO } from '../helpers/shared.js';

const SRC = join(REPO, 'src');
const DISSECTORS = join(SRC, 'dissectors');

/** The code of a TypeScript file with comments blanked (strings, template
 *  literals and regular expressions kept as they are). */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    const d = text[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && d === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      out += ' ';
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < n && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Words that name a registered protocol: its name and its title's words
 *  that are not common English ('TCP', 'UA' alone say nothing). */
function protocolPatterns(): RegExp[] {
  return MODULES.flatMap((m) => [
    new RegExp(`\\b${m.name}\\b`, 'i'),
    new RegExp(m.title.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/ /g, '\\s*'), 'i'),
  ]);
}

describe('no src/ file outside the protocol folders and the registry names a protocol', () => {
  it('stripComments keeps code and strings, drops comments', () => {
    expect(stripComments("a // modbus\nb /* dnp3 */ c 'x // y' `/* z */`")).toBe("a \nb   c 'x // y' `/* z */`");
  });

  it('holds for every file', () => {
    const folders = readdirSync(DISSECTORS)
      .map((e) => join(DISSECTORS, e))
      .filter((p) => statSync(p).isDirectory());
    const registry = join(DISSECTORS, 'index.ts');
    const files = tsFiles(SRC).filter((f) => f !== registry && !folders.some((d) => f.startsWith(`${d}/`)));
    expect(files.length).toBeGreaterThan(40);
    const pats = protocolPatterns();
    const hits: string[] = [];
    for (const f of files) {
      const lines = stripComments(readFileSync(f, 'utf8')).split('\n');
      lines.forEach((line, k) => {
        for (const p of pats) if (p.test(line)) hits.push(`${relative(REPO, f)}:${k + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('would catch a protocol named in code', () => {
    const pats = protocolPatterns();
    const code = stripComments("const x = 'modbus'; // dnp3 in a comment is fine");
    expect(pats.some((p) => p.test(code))).toBe(true);
    expect(pats.some((p) => p.test(stripComments('// modbus, dnp3, iec104, opcua')))).toBe(false);
  });
});

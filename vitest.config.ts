import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Test files whose first line is `// corpus-only` define tests only when the
// shared corpus (../shared/pcaps, or OTWATCH_SHARED) is there. Without it
// vitest would fail them as "No test suite found", so they are left out here,
// by name, and the run says so. CI always has the corpus (test/helpers/shared.ts
// fails the run if it is missing there), so nothing is left out in CI.
const root = fileURLToPath(new URL('.', import.meta.url));
const shared = process.env.OTWATCH_SHARED ?? resolve(root, '..', 'shared');
const hasCorpus = existsSync(join(shared, 'pcaps', 'MANIFEST.tsv'));

function corpusOnlyFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...corpusOnlyFiles(p));
    else if (e.name.endsWith('.test.ts') && readFileSync(p, 'utf8').startsWith('// corpus-only')) out.push(p);
  }
  return out;
}

const leftOut = hasCorpus ? [] : corpusOnlyFiles(resolve(root, 'test')).map((p) => p.slice(resolve(root).length + 1));
if (leftOut.length > 0) {
  console.warn(`[otwatch tests] no shared corpus at ${join(shared, 'pcaps')}: these corpus suites are not run:\n  ${leftOut.join('\n  ')}`);
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...leftOut],
    globalSetup: ['test/helpers/build.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

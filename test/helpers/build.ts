// vitest globalSetup: tests that run the CLI need dist/ to match src/.
import { execFileSync } from 'node:child_process';
import { REPO } from './shared.js';

export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { cwd: REPO, stdio: 'inherit' });
}

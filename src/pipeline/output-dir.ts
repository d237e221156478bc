// Making the -w directory. Node's recursive mkdir loops forever on some
// paths (`/proc/x/y`: ENOENT for a parent it cannot create), so each missing
// level is made on its own and the first failure is the answer.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { causeText, errnoCode, SetupError } from './errors.js';

/** Creates `dir` (and missing parents) and checks it can be written; a
 *  SetupError names the directory and the cause. */
export function prepareOutputDir(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    try {
      if (!statSync(p).isDirectory()) throw new SetupError(`cannot use output directory ${dir}: ${p} is not a directory`);
      break;
    } catch (e) {
      if (e instanceof SetupError) throw e;
      if (errnoCode(e) !== 'ENOENT') throw new SetupError(`cannot use output directory ${dir}: ${causeText(errnoCode(e))}`);
      missing.push(p);
      const up = dirname(p);
      if (up === p) break;
      p = up;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') continue;
      throw new SetupError(`cannot create output directory ${dir}: ${missing[i]}: ${causeText(errnoCode(e))}`);
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new SetupError(`cannot write to output directory ${dir}: ${causeText(errnoCode(e))}`);
  }
}

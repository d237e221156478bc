// Reading the CA, certificate and key once, at start, with one clear error
// per missing file and a warning for a key others can read.
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../output/log.js';
import type { TlsFiles } from './options.js';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export class ExportSetupError extends Error {}

export function loadTls(files: TlsFiles, log: Logger): TlsMaterial {
  const read = (what: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ExportSetupError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  if (files.key !== undefined) {
    try {
      const mode = statSync(files.key).mode;
      if ((mode & 0o077) !== 0) {
        log.warn(`export key ${files.key} is readable by group or others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
      }
    } catch {
      // reported by the read below
    }
  }
  return { ca: read('CA file', files.ca), cert: read('certificate', files.cert), key: read('key', files.key) };
}

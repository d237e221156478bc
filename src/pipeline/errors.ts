// Errors the pipeline tells apart by exit code: a bad command line (2), an
// output that cannot be written (1, or 141 for a closed stdout), damaged
// input (1), a bug (3).

/** A bad command line or an unusable option value: exit 2 with "see --help". */
export class UsageError extends Error {}

/** A setting the run cannot start with that is not a usage mistake (an
 *  output directory that cannot be made or written): one line, exit 1. */
export class SetupError extends Error {}

/** An output (file or stdout) that failed: what and why, for one line. */
export interface OutputFault {
  /** The file name, or <stdout>. */
  path: string;
  /** errno code (ENOSPC, EPIPE, EACCES, EIO...) or the message. */
  code: string;
}

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EPIPE: 'the reader closed the pipe',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EFBIG: 'file too large',
};

/** "no space left on device (ENOSPC)". */
export function causeText(code: string): string {
  const cause = CAUSES[code];
  return cause === undefined ? code : `${cause} (${code})`;
}

export function faultText(f: OutputFault): string {
  return `cannot write ${f.path}: ${causeText(f.code)}`;
}

export function errnoCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
}

/** A closed stdout (`| head -1`): the run stops quietly with this status, as
 *  a process killed by SIGPIPE would (128 + 13) under `set -o pipefail`. */
export const EXIT_CLOSED_STDOUT = 141;

// An interface's link going down or coming back, read from /sys (no socket).
import { readFileSync } from 'node:fs';
import type { Logger } from '../../output/log.js';

const down = (s: string) => s === 'down' || s === 'lowerlayerdown' || s === 'notpresent' || s === 'missing';

/** Reads the link state of `name`; logs a change from `prev`. Returns the state. */
export function watchLink(name: string, prev: string | null, log: Logger): string {
  let state: string;
  try {
    state = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
  } catch {
    state = 'missing';
  }
  if (prev === null || prev === state) return state;
  if (down(state) && !down(prev)) log.warn(`${name}: link is ${state}: no packets until it comes back`);
  else if (!down(state) && down(prev)) log.info(`${name}: link is ${state} again`);
  return state;
}

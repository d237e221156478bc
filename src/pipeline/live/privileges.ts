// Dropping root once the capture devices are open (`live --user`).
import { execFileSync } from 'node:child_process';

/** setgid/setuid to `user` (groups first: after setuid they cannot change),
 *  then proof that root cannot come back. */
export function dropPrivileges(user: string): void {
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  let uid: number;
  let gid: number;
  try {
    uid = id('-u');
    gid = id('-g');
  } catch {
    throw new Error(`no such user '${user}'`);
  }
  if (uid === 0) throw new Error(`'${user}' is root`);
  // The user's own supplementary groups (initgroups is in Node, not in @types/node 20).
  const initgroups = (process as unknown as { initgroups?: (u: string, g: number) => void }).initgroups;
  if (initgroups !== undefined) initgroups(user, gid);
  else process.setgroups!([gid]);
  process.setgid!(gid);
  process.setuid!(uid);
  if (process.getuid!() !== uid || process.geteuid!() !== uid || process.getgid!() !== gid || process.getegid!() !== gid) {
    throw new Error('setuid/setgid did not take effect');
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // expected
  }
  if (regained) throw new Error('root could be regained after setuid');
}

// Background threads (the inventory writer, the export connection) yield to
// the packet thread: on a busy sensor they take the idle CPU and catch up,
// their work meanwhile waiting in memory or in the spool. Linux gives each
// thread its own nice value, set through the thread's id.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Lowest priority for the calling thread; false where that cannot be done (not Linux, not allowed). */
export function yieldToPacketThread(): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, 19);
    return true;
  } catch {
    return false;
  }
}

// How busy the packet thread is, for the work beside it that can wait (export
// sending, inventory writes): its event-loop utilisation between two samples.
// A replay of a file or a saturated live capture reads ~1.0; a sensor with
// headroom much less. Background threads that take CPU while it is saturated
// slow capture on a sensor with few cores; their work waits in the spool or
// the writer's tally instead, within bounds each of them sets.
import { performance } from 'node:perf_hooks';

/** Utilisation at or above which capture counts as saturated. */
export const SATURATED = 0.9;

export class CaptureLoad {
  private last = performance.eventLoopUtilization();

  /** The share of time the packet thread was busy since the last sample (0-1). */
  sample(): number {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
    return u;
  }
}

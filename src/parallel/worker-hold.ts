// A background thread keeps the process alive only while the main thread
// waits for one of its answers, as a socket with a request under way would:
// otherwise a run's end that awaits the thread (a final write, a drain)
// could see Node exit before the answer, and an idle thread must not keep a
// finished run alive.
import type { Worker } from 'node:worker_threads';

export class WorkerHold {
  private waits = 0;

  /** Call after adding the worker's listeners: adding a 'message' listener references it again. */
  constructor(private readonly worker: Worker) {
    worker.unref();
  }

  /** Runs `ask` with the thread referenced until the promise it returns settles. */
  async during<T>(ask: () => Promise<T>): Promise<T> {
    if (this.waits++ === 0) this.worker.ref();
    try {
      return await ask();
    } finally {
      if (--this.waits === 0) this.worker.unref();
    }
  }
}

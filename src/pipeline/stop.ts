// SIGINT/SIGTERM for a run. The first signal asks it to stop: readers stop
// at once, even in the middle of a read (the `stopped` promise wins the
// race), and the run ends normally, every open flow flushed ("shutdown").
// A second signal hurries: what is already encoded is written, then exit 130.
import type { Logger } from '../output/log.js';

export const EXIT_SECOND_SIGNAL = 130;

export class StopControl {
  stopping = false;
  /** The signal that asked for the stop; null for a stop from inside. */
  signal: NodeJS.Signals | null = null;
  readonly stopped: Promise<void>;
  private wake: () => void = () => {};

  constructor(
    private readonly log: Logger,
    /** Writes what is buffered, before a second signal ends the process. */
    private readonly hurry: () => void,
  ) {
    this.stopped = new Promise((r) => (this.wake = r));
  }

  /** Stops the run (idempotent): a signal, a failed output, no input left. */
  request(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
  }

  install(): void {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  uninstall(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.signal !== null) {
      this.log.warn(`${sig} again: leaving now; records already decoded are written`);
      try {
        this.hurry();
      } finally {
        process.exit(EXIT_SECOND_SIGNAL);
      }
    }
    this.signal = sig;
    this.log.warn(`${sig}: stopping; flushing open flows`);
    this.request();
  };
}

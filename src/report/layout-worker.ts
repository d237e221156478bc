// Runs one Graphviz layout off the main thread, so that layout.ts can stop a
// layout that runs too long (a WebAssembly loop cannot be interrupted in place).
import { parentPort, workerData } from 'node:worker_threads';
import { instance } from '@viz-js/viz';

const { dot, engine } = workerData as { dot: string; engine: string };
const viz = await instance();
const r = viz.render(dot, { format: 'svg', engine });
const error = r.status === 'success' ? null : r.errors.map((e) => e.message.trim()).join('; ') || 'no output';
parentPort!.postMessage(r.status === 'success' ? { output: r.output } : { error });

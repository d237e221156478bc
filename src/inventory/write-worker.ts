// The inventory's writer thread: one database connection, the batches in order.
import { parentPort, workerData } from 'node:worker_threads';
import { batchFromWire } from './batch.js';
import { BatchQueue, type QueueConfig } from './write-queue.js';

const queue = new BatchQueue(workerData as QueueConfig);

parentPort!.on('message', (m: { id: number; batch?: string | null; final?: boolean; close?: boolean }) => {
  if (m.close === true) {
    parentPort!.postMessage({ id: m.id, closed: queue.close() });
    return;
  }
  const b = typeof m.batch === 'string' ? batchFromWire(m.batch) : null;
  parentPort!.postMessage({ id: m.id, outcome: queue.write(b, m.final === true) });
});

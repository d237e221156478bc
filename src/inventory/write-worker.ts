// The inventory's writer thread: one database connection, the batches in order.
import { parentPort, workerData } from 'node:worker_threads';
import type { Batch } from './batch.js';
import { BatchQueue, revive, type QueueConfig } from './write-queue.js';

const queue = new BatchQueue(workerData as QueueConfig);

parentPort!.on('message', (m: { id: number; batch?: Batch | null; final?: boolean; close?: boolean }) => {
  if (m.close === true) {
    parentPort!.postMessage({ id: m.id, closed: queue.close() });
    return;
  }
  const b = m.batch === undefined || m.batch === null ? null : revive(m.batch);
  parentPort!.postMessage({ id: m.id, outcome: queue.write(b, m.final === true) });
});

// The inventory's writer thread: the flow events aggregated, one database
// connection, the batches in order.
import { parentPort, workerData } from 'node:worker_threads';
import type { EventBatch } from './flow-event.js';
import { BatchQueue, type QueueConfig } from './write-queue.js';

const queue = new BatchQueue(workerData as QueueConfig);

parentPort!.on('message', (m: { id?: number; events?: EventBatch; final?: boolean; close?: boolean }) => {
  if (m.events !== undefined) {
    queue.events(m.events);
    // The buffer goes back to be filled again (no reply otherwise: events are not waited for).
    parentPort!.postMessage({ spare: m.events.events }, [m.events.events.buffer as ArrayBuffer]);
    return;
  }
  if (m.close === true) {
    parentPort!.postMessage({ id: m.id, closed: queue.close() });
    return;
  }
  parentPort!.postMessage({ id: m.id, outcome: queue.write(m.final === true) });
});

// The inventory's writer thread: the flow events aggregated, one database
// connection, the batches in order. While capture is saturated the events are
// only kept (up to MAX_KEPT bytes): aggregating them builds a large heap whose
// collection, on a sensor with two cores, slows the packet thread; they are
// aggregated when capture lets up, and always before a write.
import { parentPort, workerData } from 'node:worker_threads';
import { SATURATED } from '../parallel/capture-load.js';
import type { EventBatch } from './flow-event.js';
import { BatchQueue, type QueueConfig } from './write-queue.js';

const MAX_KEPT = 64 << 20;

const queue = new BatchQueue(workerData as QueueConfig);
const port = parentPort!;
let saturated = false;
let kept: EventBatch[] = [];
let keptBytes = 0;

function apply(b: EventBatch): void {
  queue.events(b);
  // The buffer goes back to be filled again (no reply otherwise: events are not waited for).
  port.postMessage({ spare: b.events }, [b.events.buffer as ArrayBuffer]);
}

function applyKept(): void {
  const all = kept;
  kept = [];
  keptBytes = 0;
  for (const b of all) apply(b);
}

port.on('message', (m: { id?: number; events?: EventBatch; load?: number; final?: boolean; close?: boolean }) => {
  if (m.events !== undefined) {
    if (saturated && keptBytes < MAX_KEPT) {
      kept.push(m.events);
      keptBytes += m.events.events.byteLength;
    } else {
      applyKept();
      apply(m.events);
    }
    return;
  }
  if (m.load !== undefined) {
    saturated = m.load >= SATURATED;
    if (!saturated) applyKept();
    return;
  }
  applyKept();
  if (m.close === true) {
    port.postMessage({ id: m.id, closed: queue.close() });
    return;
  }
  port.postMessage({ id: m.id, outcome: queue.write(m.final === true) });
});

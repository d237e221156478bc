// Lays the map out with Graphviz (compiled to WebAssembly by @viz-js/viz)
// when the report is built, in a worker thread with a time limit, and
// prepares the SVG for embedding in the page: no XML prolog or doctype, and
// each node, edge and cluster gets its hover text as an SVG <title>, escaped
// here. Run from the TypeScript sources (tests), where no compiled worker
// exists, the layout runs in-process without the limit.
import { instance } from '@viz-js/viz';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { html } from './escape.js';
import type { MapGraph } from './graph.js';

export class LayoutError extends Error {}

/** Far above the 1-2 s the bounded graphs take here; a layout this slow is a bug or an attack. */
export const LAYOUT_TIMEOUT_MS = 120_000;

export async function layoutSvg(g: MapGraph, timeoutMs = LAYOUT_TIMEOUT_MS): Promise<string> {
  const worker = new URL('./layout-worker.js', import.meta.url);
  const svg = existsSync(fileURLToPath(worker)) ? await inWorker(worker, g, timeoutMs) : await inProcess(g);
  return embeddable(svg, g.titles);
}

async function inProcess(g: MapGraph): Promise<string> {
  const viz = await instance();
  const r = viz.render(g.dot, { format: 'svg', engine: g.engine });
  if (r.status !== 'success') {
    throw new LayoutError(`graph layout failed: ${r.errors.map((e) => e.message.trim()).join('; ') || 'no output'}`);
  }
  return r.output;
}

function inWorker(file: URL, g: MapGraph, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const w = new Worker(file, { workerData: { dot: g.dot, engine: g.engine } });
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void w.terminate();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new LayoutError(`graph layout (${g.engine}) took longer than ${timeoutMs / 1000} s and was stopped`))),
      timeoutMs,
    );
    w.on('message', (m: { output?: string; error?: string }) =>
      finish(() => (m.output !== undefined ? resolve(m.output) : reject(new LayoutError(`graph layout failed: ${m.error}`)))),
    );
    w.on('error', (e) => finish(() => reject(new LayoutError(`graph layout failed: ${e.message}`))));
    w.on('exit', (code) => finish(() => reject(new LayoutError(`graph layout stopped (exit ${code})`))));
  });
}

/** A node, edge or cluster with a name we gave it, and Graphviz's title of it. */
const TITLE_RE = /(<g id="([a-z]\d+)" class="(?:node|edge|cluster)">\s*<title>)[^<]*(<\/title>)/g;

/** The SVG with our titles in place of Graphviz's (which are element names). */
export function embeddable(svg: string, titles: Map<string, string>): string {
  const start = svg.indexOf('<svg');
  if (start < 0) throw new LayoutError('graph layout gave no SVG');
  return svg
    .slice(start)
    .replace(/<!--[\s\S]*?-->\n?/g, '')
    .replace(TITLE_RE, (m, open: string, id: string, close: string) => {
      const t = titles.get(id);
      return t === undefined ? m : `${open}${html(t)}${close}`;
    });
}

// Lays the map out with Graphviz (dot, compiled to WebAssembly by
// @viz-js/viz) when the report is built, and prepares the SVG for embedding
// in the page: no XML prolog or doctype, and each node, edge and cluster
// gets its hover text as an SVG <title>, escaped here.
import { instance } from '@viz-js/viz';
import { html } from './escape.js';
import type { MapGraph } from './graph.js';

export class LayoutError extends Error {}

export async function layoutSvg(g: MapGraph): Promise<string> {
  const viz = await instance();
  const r = viz.render(g.dot, { format: 'svg', engine: g.engine });
  if (r.status !== 'success') {
    const why = r.errors.map((e) => e.message.trim()).join('; ');
    throw new LayoutError(`graph layout failed: ${why || 'no output'}`);
  }
  return embeddable(r.output, g.titles);
}

/** The SVG with our titles in place of Graphviz's (which are element names). */
export function embeddable(svg: string, titles: Map<string, string>): string {
  const start = svg.indexOf('<svg');
  if (start < 0) throw new LayoutError('graph layout gave no SVG');
  return svg
    .slice(start)
    .replace(/<!--[\s\S]*?-->\n?/g, '')
    .replace(/(<g id="([a-z]\d+)" class="(?:node|edge|cluster)">\s*<title>)[^<]*(<\/title>)/g, (m, open: string, id: string, close: string) => {
      const t = titles.get(id);
      return t === undefined ? m : `${open}${html(t)}${close}`;
    });
}

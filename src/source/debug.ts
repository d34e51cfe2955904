// MapProxy's `debug` source (source/__init__.py DebugSource): no upstream,
// every request is answered with an image that states its own bbox and
// resolution. MapProxy draws "bbox: (...)\nres: %.8f(%.8f)" in black on a
// transparent image; we keep that text and add a 1px border and a faint
// white box behind the text so tile edges and labels read on any basemap.

import type { Bbox } from '../srs/types.ts';
import { createRaster, fillRect, strokeRect, type Raster, type Rgba } from '../image/raster.ts';
import { drawText, GLYPH_HEIGHT, measureText, wrapText } from '../image/font.ts';
import { pyFloat } from '../util/py-format.ts';

/** What the debug source needs of a map query; srs is accepted but, as in MapProxy, not drawn. */
export interface DebugQuery {
  bbox: Bbox | readonly [number, number, number, number];
  size: [number, number] | readonly [number, number];
  srs?: string;
}

const TEXT: Rgba = [0, 0, 0, 255];
const BORDER: Rgba = [255, 0, 0, 160];
const TEXT_BOX: Rgba = [255, 255, 255, 140];
// MapProxy's MessageImage: text placed upper-left with 3px padding.
const PADDING = 3;
const LINE_SPACING = 3;

/** The text lines MapProxy's DebugSource writes for a query, before wrapping. */
export function debugText(bbox: readonly [number, number, number, number], size: readonly [number, number]): string {
  const resX = (bbox[2] - bbox[0]) / size[0];
  const resY = (bbox[3] - bbox[1]) / size[1];
  // Python's "%r" of a tuple of floats and "%.8f".
  return `bbox: (${bbox.map(pyFloat).join(', ')})\nres: ${resX.toFixed(8)}(${resY.toFixed(8)})`;
}

/** The `debug` source: draws the request's bbox and resolution, needs no network (source/debug-adapter.ts makes it a Source). */
export class DebugSource {
  /** Answers any query with a freshly drawn raster of the asked size. */
  async getMap(q: DebugQuery): Promise<Raster> {
    return this.render(q);
  }

  /** Draws the debug image synchronously. */
  render(q: DebugQuery): Raster {
    const [w, h] = q.size;
    const r = createRaster(w, h);
    strokeRect(r, 0, 0, w, h, BORDER, 1);
    const lines = wrapText(debugText(q.bbox, q.size), Math.max(1, w - 2 * PADDING));
    const lineHeight = GLYPH_HEIGHT + LINE_SPACING;
    const boxW = Math.max(...lines.map((l) => measureText(l))) + 2 * PADDING;
    const boxH = lines.length * lineHeight - LINE_SPACING + 2 * PADDING;
    // Inside the border, so the border stays one clean line.
    fillRect(r, 1, 1, Math.min(boxW, w - 2), Math.min(boxH, h - 2), TEXT_BOX);
    lines.forEach((line, i) => drawText(r, 1 + PADDING, 1 + PADDING + i * lineHeight, line, TEXT));
    return r;
  }
}

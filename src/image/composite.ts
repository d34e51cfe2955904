// Layer merging: straight-alpha "source over", the same formula as PIL's
// Image.alpha_composite that MapProxy uses to merge RGBA layers.

import type { Raster } from './raster.ts';

/** Returns a new raster with `top` drawn over `bottom` (both the same size); neither input is changed. */
export function compositeOver(bottom: Raster, top: Raster): Raster {
  if (bottom.width !== top.width || bottom.height !== top.height) {
    throw new RangeError(`cannot composite ${top.width}x${top.height} over ${bottom.width}x${bottom.height}`);
  }
  const out = new Uint8ClampedArray(bottom.data);
  const t = top.data;
  for (let i = 0; i < out.length; i += 4) {
    const sa = t[i + 3];
    if (sa === 0) continue;
    if (sa === 255) {
      out[i] = t[i]; out[i + 1] = t[i + 1]; out[i + 2] = t[i + 2]; out[i + 3] = 255;
      continue;
    }
    const da = out[i + 3];
    // Integer form of oa = sa + da*(1-sa), all in 0..255 units (scaled by 255).
    const oa255 = sa * 255 + da * (255 - sa);
    if (oa255 === 0) continue;
    for (let k = 0; k < 3; k++) {
      out[i + k] = Math.round((t[i + k] * sa * 255 + out[i + k] * da * (255 - sa)) / oa255);
    }
    out[i + 3] = Math.round(oa255 / 255);
  }
  return { width: bottom.width, height: bottom.height, data: out };
}

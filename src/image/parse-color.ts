// Colours as MapProxy configs write them (config/loader.py parse_color).

import type { Rgba } from './raster.ts';

export type { Rgba } from './raster.ts';

/** Parses '#rrggbb', '#rrggbbaa', '0xrrggbb', 'rrggbb' or a [r,g,b(,a)] list; undefined if it is none of these. */
export function parseColor(value: unknown): Rgba | undefined {
  if (Array.isArray(value)) {
    if (value.length < 3 || value.length > 4) return undefined;
    const n = value.map(Number);
    if (n.some((c) => !Number.isInteger(c) || c < 0 || c > 255)) return undefined;
    return [n[0], n[1], n[2], n.length === 4 ? n[3] : 255];
  }
  if (typeof value !== 'string') return undefined;
  let s = value.trim();
  if (s.startsWith('0x')) s = s.slice(2);
  if (s.startsWith('#')) s = s.slice(1);
  if (!/^[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/.test(s)) return undefined;
  const c = (i: number) => parseInt(s.slice(i, i + 2), 16);
  return [c(0), c(2), c(4), s.length === 8 ? c(6) : 255];
}

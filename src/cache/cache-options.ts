/**
 * Cache options that become functions: refresh_before (a moving or fixed
 * timestamp) and watermark (text drawn into each new tile).
 */
import * as fs from 'node:fs';
import { ConfigError } from '../errors.ts';
import { drawText, measureText, GLYPH_HEIGHT } from '../image/font.ts';
import { blendPixel, type Raster, type Rgba } from '../image/raster.ts';
import type { TileCoord } from '../grid/tile-grid.ts';

type Dict = Record<string, unknown>;

/**
 * MapProxy's before_timestamp_from_options: `time` (a fixed local time),
 * `weeks/days/hours/minutes/seconds` (that long before now), or `mtime`
 * (the modification time of a file, read on every check).
 */
export function refreshBefore(conf: unknown, p: string, resolvePath: (f: string) => string): (() => number | undefined) | undefined {
  if (conf == null) return undefined;
  if (typeof conf !== 'object' || Array.isArray(conf)) throw new ConfigError('expected a mapping with time, mtime or weeks/days/hours/minutes/seconds', { file: '', path: p });
  const c = conf as Dict;
  if (c.time != null) {
    const t = parseLocalTime(String(c.time));
    if (t === undefined) throw new ConfigError(`invalid time '${c.time}' (expected YYYY-MM-DDTHH:MM:SS)`, { file: '', path: `${p}.time` });
    return () => t;
  }
  if (c.mtime != null) {
    const file = resolvePath(String(c.mtime));
    return () => {
      try {
        return Math.trunc(fs.statSync(file).mtimeMs / 1000);
      } catch {
        // MapProxy refuses to start without the file; while serving, a missing file refreshes nothing
        return undefined;
      }
    };
  }
  const units: Record<string, number> = { weeks: 604800, days: 86400, hours: 3600, minutes: 60, seconds: 1 };
  let delta = 0;
  let any = false;
  for (const [k, f] of Object.entries(units)) {
    if (c[k] == null) continue;
    const v = Number(c[k]);
    if (!Number.isFinite(v)) throw new ConfigError(`expected a number`, { file: '', path: `${p}.${k}` });
    delta += v * f;
    any = true;
  }
  if (!any) throw new ConfigError('expected time, mtime or weeks/days/hours/minutes/seconds', { file: '', path: p });
  return () => Math.trunc(Date.now() / 1000 - delta);
}

/** '2026-01-01T00:00', '2026-01-01 00:00:00' or a date, as local time in seconds. */
export function parseLocalTime(v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(v.trim());
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  const t = d.getTime();
  return Number.isFinite(t) ? Math.trunc(t / 1000) : undefined;
}

/** The watermark filter: text in the tile centre (and at the sides on odd rows), as MapProxy places it. */
export function watermark(conf: Dict, p: string, parseColor: (v: unknown) => Rgba | undefined): (r: Raster, coord: TileCoord) => void {
  const text = String(conf.text ?? '');
  if (!text) throw new ConfigError('a watermark needs text', { file: '', path: `${p}.text` });
  const opacity = conf.opacity != null ? Number(conf.opacity) : 30;
  if (!(opacity >= 0 && opacity <= 255)) throw new ConfigError('expected 0..255', { file: '', path: `${p}.opacity` });
  const color = conf.color != null ? parseColor(conf.color) : [128, 128, 128, 255] as Rgba;
  if (!color) throw new ConfigError(`invalid colour ${JSON.stringify(conf.color)}`, { file: '', path: `${p}.color` });
  const fontSize = conf.font_size != null ? Number(conf.font_size) : 24;
  // our bitmap font is 7 px high: scale it to about the configured point size
  const scale = Math.max(1, Math.round(fontSize / 9));
  const wide = conf.spacing === 'wide';
  const rgba: Rgba = [color[0], color[1], color[2], Math.round(opacity)];
  return (r, coord) => {
    const placement = wide ? ((coord[1] % 2) !== (coord[0] % 2) ? 'c' : undefined) : coord[1] % 2 === 0 ? 'c' : 'b';
    if (!placement) return;
    const w = measureText(text, scale);
    const y = Math.round((r.height - GLYPH_HEIGHT * scale) / 2);
    const xs = placement === 'c' ? [Math.round((r.width - w) / 2)] : [Math.round(-w / 2), Math.round(r.width - w / 2)];
    for (const x of xs) drawBlended(r, x, y, text, rgba, scale);
  };
}

/** drawText with alpha: glyph pixels are blended, so the tile stays readable under the text. */
function drawBlended(r: Raster, x: number, y: number, text: string, color: Rgba, scale: number): void {
  const mask = { width: r.width, height: r.height, data: new Uint8ClampedArray(r.width * r.height * 4) };
  drawText(mask, x, y, text, [255, 255, 255, 255], scale);
  for (let i = 3, px = 0; i < mask.data.length; i += 4, px++) {
    if (mask.data[i]) blendPixel(r, px % r.width, Math.floor(px / r.width), color);
  }
}

// Image options as MapProxy resolves them (config/loader.py,
// ImageOptionsConfiguration.image_opts): the format, colours, transparency
// and encoding a cache stores, a source delivers or a layer serves.
//
// Precedence, exactly as MapProxy 1.15 has it:
//  1. the named format `globals.image.formats.<format>`, when the format
//     asked for is one of those names (a mime type or any other name);
//  2. the local `image:` block of the cache or source, key by key, over it
//     (`encoding_options` replaces the named one as a whole, it is not merged);
//  3. `format` falls back to the name asked for when that is a mime type;
//  4. `resampling_method`: local, else the named format, else
//     globals.image.resampling_method, else bicubic;
//  5. `colors` is 256 for any format containing 'png' when nothing set it and
//     globals.image.paletted is on (the default) - which is why MapProxy
//     stores paletted PNGs unless told `colors: 0`.
// MapProxy 1.15 ships no built-in named formats (default_image_options is
// empty), so 'image/png; mode=8bit' and 'image/jpeg' get nothing beyond
// these rules; JPEG drops alpha when encoding, whatever the mode.

import { ConfigError } from '../errors.ts';
import { parseColor } from './parse-color.ts';

/** Resampling filters MapProxy knows (image_filter in mapproxy/image/__init__.py). */
export type Resampling = 'nearest' | 'bilinear' | 'bicubic';

/** Image modes of MapProxy's ImageOptions that make sense for RGBA rasters. */
export type ImageMode = 'RGB' | 'RGBA' | 'P' | 'I';

/** The resolved image options of a cache, source or layer. */
export interface ImageOptions {
  /** Mime type ('image/png', 'image/jpeg', 'image/png; mode=8bit'), or 'mixed' for mixed PNG/JPEG caches. */
  format: string;
  mode?: ImageMode;
  /** Palette size for PNG; 0 means full colour, undefined means MapProxy's runtime default. */
  colors?: number;
  transparent?: boolean;
  resampling: Resampling;
  opacity?: number;
  /** From the local image block of WMS/mapserver sources. */
  transparentColor?: [number, number, number];
  /** Set together with transparentColor (local, else globals.image, else 5). */
  transparentColorTolerance?: number;
  encoding: {
    /** encoding_options.jpeg_quality, else globals.image.jpeg_quality, else 90. */
    jpegQuality: number;
    quantizer?: 'fastoctree' | 'mediancut';
    tiffCompression?: string;
  };
}

type Dict = Record<string, unknown>;

const RESAMPLING: readonly string[] = ['nearest', 'bilinear', 'bicubic'];
const MODES: readonly string[] = ['RGB', 'RGBA', 'P', 'I'];
const QUANTIZERS: readonly string[] = ['fastoctree', 'mediancut'];
const TIFF_COMPRESSIONS: readonly string[] = ['raw', 'tiff_lzw', 'jpeg'];
const DEFAULT_JPEG_QUALITY = 90;
const DEFAULT_TOLERANCE = 5;

function fail(path: string, detail: string): never {
  throw new ConfigError(detail, { file: '', path });
}

function asDict(v: unknown, path: string): Dict {
  if (v == null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(path, 'expected a mapping');
  return v as Dict;
}

/** One image block (named format or local) after checking its values; paths name the key of each value. */
interface Block {
  format?: string;
  mode?: ImageMode;
  colors?: number;
  transparent?: boolean;
  resampling?: Resampling;
  opacity?: number;
  encoding?: { value: EncodingOptions };
}

interface EncodingOptions {
  jpegQuality?: number;
  quantizer?: 'fastoctree' | 'mediancut';
  tiffCompression?: string;
}

function readBlock(conf: Dict, path: string): Block {
  const b: Block = {};
  if (conf.format != null) {
    if (typeof conf.format !== 'string' || !conf.format.trim()) fail(`${path}.format`, 'expected an image format like image/png');
    b.format = conf.format;
  }
  if (conf.mode != null) {
    if (typeof conf.mode !== 'string' || !MODES.includes(conf.mode)) {
      fail(`${path}.mode`, `unknown image mode ${JSON.stringify(conf.mode)} (one of ${MODES.join(', ')})`);
    }
    b.mode = conf.mode as ImageMode;
  }
  if (conf.colors != null) {
    const c = conf.colors;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 256) fail(`${path}.colors`, 'expected a number of colours from 0 (full colour) to 256');
    b.colors = c;
  }
  if (conf.transparent != null) {
    if (typeof conf.transparent !== 'boolean') fail(`${path}.transparent`, 'expected true or false');
    b.transparent = conf.transparent;
  }
  // MapProxy uses `or` here: an empty string counts as unset.
  if (conf.resampling_method != null && conf.resampling_method !== '') {
    b.resampling = checkResampling(conf.resampling_method, `${path}.resampling_method`);
  }
  if (conf.opacity != null) {
    const o = conf.opacity;
    if (typeof o !== 'number' || !(o >= 0 && o <= 1)) fail(`${path}.opacity`, 'expected a number from 0.0 to 1.0');
    b.opacity = o;
  }
  if (conf.encoding_options != null) {
    b.encoding = { value: readEncodingOptions(conf.encoding_options, `${path}.encoding_options`) };
  }
  return b;
}

function checkResampling(v: unknown, path: string): Resampling {
  if (typeof v !== 'string' || !RESAMPLING.includes(v)) {
    fail(path, `unknown resampling method ${JSON.stringify(v)} (one of ${RESAMPLING.join(', ')})`);
  }
  return v as Resampling;
}

/** MapProxy's _check_encoding_options, with the offending key in the path. */
function readEncodingOptions(v: unknown, path: string): EncodingOptions {
  const conf = asDict(v, path);
  const out: EncodingOptions = {};
  for (const [key, value] of Object.entries(conf)) {
    const p = `${path}.${key}`;
    if (key === 'jpeg_quality') {
      // Python's `if jpeg_quality and not isinstance(int)`: 0 and None pass unchecked.
      if (value == null || value === 0) {
        if (value === 0) out.jpegQuality = 0;
        continue;
      }
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(p, 'jpeg_quality is not an integer');
      if (value < 0 || value > 100) fail(p, 'jpeg_quality must be from 0 to 100');
      out.jpegQuality = value;
    } else if (key === 'tiff_compression') {
      if (value == null || value === '') continue;
      if (typeof value !== 'string' || !TIFF_COMPRESSIONS.includes(value)) {
        fail(p, `unknown tiff_compression ${JSON.stringify(value)} (one of ${TIFF_COMPRESSIONS.join(', ')})`);
      }
      out.tiffCompression = value;
    } else if (key === 'quantizer') {
      if (value == null || value === '') continue;
      if (typeof value !== 'string' || !QUANTIZERS.includes(value)) {
        fail(p, `unknown quantizer ${JSON.stringify(value)} (one of ${QUANTIZERS.join(', ')})`);
      }
      out.quantizer = value as EncodingOptions['quantizer'];
    } else {
      fail(p, `unknown encoding option '${key}' (jpeg_quality, quantizer, tiff_compression)`);
    }
  }
  return out;
}

/** The named formats of globals.image.formats, checked as MapProxy checks them at load: all of them, used or not. */
function namedFormats(globalsImage: Dict): Map<string, Block> {
  const formats = asDict(globalsImage.formats, 'globals.image.formats');
  const out = new Map<string, Block>();
  for (const [name, conf] of Object.entries(formats)) {
    const path = `globals.image.formats.${name}`;
    const b = readBlock(asDict(conf, path), path);
    if (b.format === undefined && name.startsWith('image/')) b.format = name;
    out.set(name, b);
  }
  return out;
}

/** A format as a mime type, like MapProxy's ImageFormat.mime_type ('png' -> 'image/png'); 'mixed' stays. */
function toMime(format: string): string {
  if (format === 'mixed' || format.startsWith('image/')) return format;
  return `image/${format}`;
}

/** Resolves image options from globals.image, a local `image:` block and the format asked for, as MapProxy does. */
export function resolveImageOptions(globalsImage: object | undefined, local: object | undefined, format: string | undefined, path: string): ImageOptions {
  // `format` is a named format or a mime type (a cache's format/request_format,
  // a source's request format); `path` is the key path of the local block for
  // errors ('caches.osm.image'). Without any format the result is image/png,
  // as MapProxy makes it for caches.
  const g = asDict(globalsImage, 'globals.image');
  const named = namedFormats(g);
  const localConf = asDict(local, path);
  const loc = readBlock(localConf, path);

  const base: Block = format !== undefined && named.has(format) ? { ...named.get(format)! } : {};
  const conf: Block = { ...base };
  for (const key of ['transparent', 'opacity', 'format', 'colors', 'mode', 'encoding'] as const) {
    if (loc[key] !== undefined) (conf as Record<string, unknown>)[key] = loc[key];
  }
  if (conf.format === undefined && format?.startsWith('image/')) conf.format = format;
  // Caches may store PNG and JPEG tiles side by side.
  if (format === 'mixed') conf.format = 'mixed';

  const resampling = loc.resampling ?? base.resampling
    ?? (g.resampling_method != null ? checkResampling(g.resampling_method, 'globals.image.resampling_method') : 'bicubic');

  let paletted = true;
  if (g.paletted != null) {
    if (typeof g.paletted !== 'boolean') fail('globals.image.paletted', 'expected true or false');
    paletted = g.paletted;
  }
  let colors = conf.colors;
  if (colors === undefined && (conf.format ?? '').includes('png') && paletted) colors = 256;

  let globalQuality = DEFAULT_JPEG_QUALITY;
  if (g.jpeg_quality != null) {
    const q = g.jpeg_quality;
    if (typeof q !== 'number' || !Number.isInteger(q) || q < 0 || q > 100) fail('globals.image.jpeg_quality', 'expected an integer from 0 to 100');
    globalQuality = q;
  }
  const enc = conf.encoding?.value ?? {};

  const out: ImageOptions = {
    format: toMime(conf.format ?? (format?.startsWith('image/') ? format : 'image/png')),
    resampling,
    encoding: { jpegQuality: enc.jpegQuality ?? globalQuality },
  };
  if (conf.mode !== undefined) out.mode = conf.mode;
  if (colors !== undefined) out.colors = colors;
  if (conf.transparent !== undefined) out.transparent = conf.transparent;
  if (conf.opacity !== undefined) out.opacity = conf.opacity;
  if (enc.quantizer !== undefined) out.encoding.quantizer = enc.quantizer;
  if (enc.tiffCompression !== undefined) out.encoding.tiffCompression = enc.tiffCompression;

  if (localConf.transparent_color != null) {
    const c = parseColor(localConf.transparent_color);
    if (!c) fail(`${path}.transparent_color`, `expected a colour like '#ffffff' or [255, 255, 255], got ${JSON.stringify(localConf.transparent_color)}`);
    out.transparentColor = [c[0], c[1], c[2]];
    out.transparentColorTolerance = readTolerance(localConf, g, path);
  }
  return out;
}

function readTolerance(local: Dict, g: Dict, path: string): number {
  const [v, p] = local.transparent_color_tolerance != null
    ? [local.transparent_color_tolerance, `${path}.transparent_color_tolerance`]
    : [g.transparent_color_tolerance, 'globals.image.transparent_color_tolerance'];
  if (v == null) return DEFAULT_TOLERANCE;
  if (typeof v !== 'number' || !(v >= 0)) fail(p, 'expected a number >= 0');
  return v;
}

/** A cache's image options, as CacheConfiguration.image_opts resolves them; `path` is the cache's key path ('caches.osm'). */
export function cacheImageOptions(globalsImage: object | undefined, cacheConf: object, path: string): ImageOptions {
  // The cache's format (default image/png) or request_format names the format
  // unless its image block sets one itself.
  const c = cacheConf as Dict;
  const image = asDict(c.image, `${path}.image`);
  const format = image.format != null ? undefined : ((c.format as string | undefined) ?? (c.request_format as string | undefined) ?? 'image/png');
  return resolveImageOptions(globalsImage, image, format, `${path}.image`);
}

/** A source's image options, as SourceConfiguration.image_opts resolves them; `path` is the source's key path. */
export function sourceImageOptions(globalsImage: object | undefined, sourceConf: object, path: string, format?: string): ImageOptions {
  // A top-level `transparent` wins over image.transparent, and a WMS source
  // without image.transparent takes req.transparent ('true'/'false').
  // `format` is the request format a WMS source is asked for (its req.format
  // wins); tile sources pass none, MapProxy resolves them without a format.
  const s = sourceConf as Dict;
  const image: Dict = { ...asDict(s.image, `${path}.image`) };
  const req = s.req && typeof s.req === 'object' ? (s.req as Dict) : undefined;
  if ((s.type === 'wms' || s.type === 'mapserver') && image.transparent == null && req?.transparent != null) {
    image.transparent = String(req.transparent).toLowerCase() === 'true';
  }
  if (s.transparent != null) image.transparent = s.transparent;
  const reqFormat = typeof req?.format === 'string' ? req.format : format;
  return resolveImageOptions(globalsImage, image, reqFormat, `${path}.image`);
}

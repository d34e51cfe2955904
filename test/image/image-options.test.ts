import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import {
  cacheImageOptions, resolveImageOptions, sourceImageOptions, type ImageOptions,
} from '../../src/image/image-options.ts';

// Expected values come from MapProxy 1.15.1 itself:
// ProxyConfiguration({'globals': {'image': g}, 'caches': {'c': cache}}).caches['c'].image_opts()

type Dict = Record<string, unknown>;

function cache(cacheConf: Dict, g?: Dict): ImageOptions {
  return cacheImageOptions(g, cacheConf, 'caches.c');
}

/** The fields MapProxy's ImageOptions has, for comparing with its output. */
function mp(o: ImageOptions) {
  return {
    format: o.format,
    mode: o.mode ?? null,
    colors: o.colors ?? null,
    transparent: o.transparent ?? null,
    resampling: o.resampling,
    opacity: o.opacity ?? null,
  };
}

const base = { mode: null, colors: null, transparent: null, resampling: 'bicubic', opacity: null };

function configError(fn: () => unknown, path: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.location?.path, path);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('resolveImageOptions: MapProxy precedence', () => {
  const cases: [string, Dict, Dict | undefined, Partial<ReturnType<typeof mp>>][] = [
    ['png is paletted by default', { format: 'image/png' }, undefined, { format: 'image/png', colors: 256 }],
    ['a cache without format is image/png', {}, undefined, { format: 'image/png', colors: 256 }],
    ['jpeg has no colours', { format: 'image/jpeg' }, undefined, { format: 'image/jpeg' }],
    ["'image/png; mode=8bit' is paletted", { format: 'image/png; mode=8bit' }, undefined, { format: 'image/png; mode=8bit', colors: 256 }],
    ['globals.image.paletted: false', { format: 'image/png' }, { paletted: false }, { format: 'image/png' }],
    ['a named format under the mime type', { format: 'image/png' }, { formats: { 'image/png': { colors: 16, resampling_method: 'nearest' } } },
      { format: 'image/png', colors: 16, resampling: 'nearest' }],
    ['a custom named format', { format: 'png_rgba' },
      { formats: { png_rgba: { format: 'image/png', mode: 'RGBA', colors: 0, transparent: true } } },
      { format: 'image/png', mode: 'RGBA', colors: 0, transparent: true }],
    ['a named format without a format key', { format: 'foo' }, { formats: { foo: { colors: 32 } } }, { format: 'image/png', colors: 32 }],
    ['a named format without format or colours', { format: 'bar' }, { formats: { bar: { resampling_method: 'bilinear' } } },
      { format: 'image/png', resampling: 'bilinear' }],
    ['a local block that defines the format', { format: 'image/png', image: { format: 'image/jpeg' } }, undefined, { format: 'image/jpeg' }],
    ['a local block that modifies the format', { format: 'image/png', image: { transparent: true, colors: 64 } }, undefined,
      { format: 'image/png', colors: 64, transparent: true }],
    ['local resampling_method wins', { format: 'image/png', image: { resampling_method: 'bicubic' } },
      { resampling_method: 'bilinear', formats: { 'image/png': { resampling_method: 'nearest' } } },
      { format: 'image/png', colors: 256, resampling: 'bicubic' }],
    ['the named format beats globals.image.resampling_method', { format: 'image/png' },
      { resampling_method: 'bilinear', formats: { 'image/png': { resampling_method: 'nearest' } } },
      { format: 'image/png', colors: 256, resampling: 'nearest' }],
    ['globals.image.resampling_method', { format: 'image/jpeg' }, { resampling_method: 'nearest' }, { format: 'image/jpeg', resampling: 'nearest' }],
    ['mixed', { format: 'mixed', request_format: 'image/png' }, undefined, { format: 'mixed' }],
    ['named colors: 0 beats paletted', { format: 'image/png' }, { formats: { 'image/png': { colors: 0 } } }, { format: 'image/png', colors: 0 }],
    ['a local format ignores the named one', { format: 'foo', image: { format: 'image/jpeg' } },
      { formats: { foo: { colors: 8, format: 'image/png' } } }, { format: 'image/jpeg' }],
    ['a local png format is paletted', { format: 'image/jpeg', image: { format: 'image/png' } }, undefined, { format: 'image/png', colors: 256 }],
    ['local mode and opacity', { format: 'image/png', image: { mode: 'RGBA', opacity: 0.5 } }, undefined,
      { format: 'image/png', mode: 'RGBA', colors: 256, opacity: 0.5 }],
    ['a named mime type with another format key', { format: 'image/png' },
      { formats: { 'image/png': { format: 'image/png; mode=8bit', colors: 128 } } }, { format: 'image/png; mode=8bit', colors: 128 }],
    ['paletted: false with a named png format', { format: 'x' }, { paletted: false, formats: { x: { format: 'image/png' } } },
      { format: 'image/png' }],
  ];
  for (const [name, cacheConf, g, want] of cases) {
    it(name, () => assert.deepEqual(mp(cache(cacheConf, g)), { ...base, ...want }));
  }

  it('replaces the named encoding_options with local ones instead of merging', () => {
    const o = cache({ format: 'image/jpeg', image: { encoding_options: { jpeg_quality: 80 } } },
      { formats: { 'image/jpeg': { encoding_options: { jpeg_quality: 70, quantizer: 'mediancut' } } } });
    assert.deepEqual(o.encoding, { jpegQuality: 80 });
  });

  it('keeps the named encoding_options when the local block has none', () => {
    const o = cache({ format: 'image/png', image: { transparent: true } },
      { formats: { 'image/png': { encoding_options: { quantizer: 'mediancut' } } } });
    assert.equal(o.encoding.quantizer, 'mediancut');
    assert.equal(o.transparent, true);
  });

  it('takes jpeg_quality from encoding_options, else globals.image.jpeg_quality, else 90', () => {
    assert.equal(cache({ format: 'image/jpeg' }).encoding.jpegQuality, 90);
    assert.equal(cache({ format: 'image/jpeg' }, { jpeg_quality: 75 }).encoding.jpegQuality, 75);
    assert.equal(cache({ format: 'image/jpeg', image: { encoding_options: { jpeg_quality: 60 } } }, { jpeg_quality: 75 }).encoding.jpegQuality, 60);
  });

  it('reads transparent_color with the tolerance from local, globals or 5', () => {
    const o = resolveImageOptions(undefined, { transparent_color: '#ffffff' }, 'image/png', 'sources.s.image');
    assert.deepEqual(o.transparentColor, [255, 255, 255]);
    assert.equal(o.transparentColorTolerance, 5);
    const g = resolveImageOptions({ transparent_color_tolerance: 12 }, { transparent_color: [1, 2, 3] }, 'image/png', 'sources.s.image');
    assert.equal(g.transparentColorTolerance, 12);
    const l = resolveImageOptions({ transparent_color_tolerance: 12 }, { transparent_color: '0x010203', transparent_color_tolerance: 0 }, 'image/png', 'p');
    assert.equal(l.transparentColorTolerance, 0);
    assert.equal(resolveImageOptions(undefined, {}, 'image/png', 'p').transparentColor, undefined);
  });

  it('resolves a source without format to image/png without forcing colours', () => {
    const o = resolveImageOptions(undefined, undefined, undefined, 'sources.t.image');
    assert.equal(o.format, 'image/png');
    assert.equal(o.colors, undefined);
  });

  it('normalises a short format name to a mime type', () => {
    assert.equal(cache({ format: 'image/png', image: { format: 'jpeg' } }).format, 'image/jpeg');
  });
});

describe('sourceImageOptions', () => {
  it('takes transparent from a WMS req unless the image block sets it', () => {
    const wms = { type: 'wms', req: { url: 'http://x/', layers: 'a', transparent: 'TRUE' } };
    assert.equal(sourceImageOptions(undefined, wms, 'sources.w').transparent, true);
    assert.equal(sourceImageOptions(undefined, { ...wms, image: { transparent: false } }, 'sources.w').transparent, false);
  });

  it('lets a top-level transparent win over image.transparent', () => {
    const tile = { type: 'tile', url: 'http://x/%(z)s', transparent: true, image: { transparent: false } };
    assert.equal(sourceImageOptions(undefined, tile, 'sources.t').transparent, true);
  });

  it('uses req.format of a WMS source before the requested format', () => {
    const wms = { type: 'wms', req: { url: 'http://x/', layers: 'a', format: 'image/jpeg' } };
    assert.equal(sourceImageOptions(undefined, wms, 'sources.w', 'image/png').format, 'image/jpeg');
    const plain = { type: 'wms', req: { url: 'http://x/', layers: 'a' } };
    const o = sourceImageOptions(undefined, plain, 'sources.w', 'image/png');
    assert.equal(o.format, 'image/png');
    assert.equal(o.colors, 256);
  });
});

describe('resolveImageOptions: errors name the key path', () => {
  it('rejects an unknown resampling method', () => {
    configError(() => cache({ image: { resampling_method: 'lanczos' } }), 'caches.c.image.resampling_method', /lanczos/);
    configError(() => cache({}, { resampling_method: 'cubic' }), 'globals.image.resampling_method');
    configError(() => cache({}, { formats: { 'image/png': { resampling_method: 'x' } } }), 'globals.image.formats.image/png.resampling_method');
  });

  it('rejects an unknown quantizer, like MapProxy', () => {
    configError(() => cache({ image: { encoding_options: { quantizer: 'foo' } } }), 'caches.c.image.encoding_options.quantizer', /unknown quantizer/);
  });

  it('rejects a jpeg_quality that is not an integer', () => {
    configError(() => cache({ format: 'image/jpeg', image: { encoding_options: { jpeg_quality: 'high' } } }),
      'caches.c.image.encoding_options.jpeg_quality', /not an integer/);
    configError(() => cache({}, { jpeg_quality: 'x' }), 'globals.image.jpeg_quality');
  });

  it('rejects unknown encoding options', () => {
    configError(() => cache({ image: { encoding_options: { foo: 1 } } }), 'caches.c.image.encoding_options.foo', /unknown encoding option/);
  });

  it('checks every named format, used or not, as MapProxy does at load', () => {
    configError(() => cache({ format: 'image/png' }, { formats: { tif: { format: 'image/tiff', encoding_options: { tiff_compression: 'zip' } } } }),
      'globals.image.formats.tif.encoding_options.tiff_compression', /unknown tiff_compression/);
  });

  it('rejects bad modes, colours, opacity, transparent and transparent_color', () => {
    configError(() => cache({ image: { mode: 'CMYK' } }), 'caches.c.image.mode');
    configError(() => cache({ image: { colors: 300 } }), 'caches.c.image.colors');
    configError(() => cache({ image: { colors: 'many' } }), 'caches.c.image.colors');
    configError(() => cache({ image: { opacity: 2 } }), 'caches.c.image.opacity');
    configError(() => cache({ image: { transparent: 'yes' } }), 'caches.c.image.transparent');
    configError(() => resolveImageOptions(undefined, { transparent_color: 'white' }, 'image/png', 'sources.w.image'), 'sources.w.image.transparent_color');
    configError(() => cache({}, { paletted: 'no' }), 'globals.image.paletted');
  });

  it('rejects an image block that is not a mapping', () => {
    configError(() => cache({ image: ['png'] }), 'caches.c.image');
    configError(() => cache({}, { formats: { x: 5 } }), 'globals.image.formats.x');
  });
});

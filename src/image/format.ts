// Image format names, magic-byte sniffing and MIME types. Kept apart from
// codec.ts so modules that only label bytes (cache hits, HTTP headers) never
// pull in the codecs.

/** A format recognisable from an image's first bytes. */
export type SniffedFormat = 'png' | 'jpeg' | 'gif' | 'tiff' | 'webp' | 'bmp';

/**
 * A format as MapProxy's ImageFormat.ext names it: the file extension of
 * cached tiles and TMS URLs ('png', 'jpeg', 'jpg' as configured, 'mixed').
 * Open-ended because MapProxy passes unknown names through unchanged.
 */
export type ImageFormat = SniffedFormat | 'jpg' | 'mixed' | (string & {});

/** Recognises an image format from its first bytes, as MapProxy's peek_image_format does. */
export function sniffImageFormat(b: Uint8Array): SniffedFormat | undefined {
  if (b.length < 4) return undefined;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'gif';
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00)
    || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a)) return 'tiff';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46
    && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return undefined;
}

const MIME: Record<string, string> = {
  png: 'image/png',
  png8: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  tiff: 'image/tiff',
  tif: 'image/tiff',
  // WMS formats MapProxy names by their mime subtype ('image/' + ext)
  geotiff: 'image/GeoTIFF',
  'vnd.jpeg-png': 'image/vnd.jpeg-png',
  webp: 'image/webp',
  bmp: 'image/bmp',
};

/** The MIME type of a format name; mime types pass through ('image/png; mode=8bit' -> 'image/png'). */
export function mimeFromFormat(format: string): string {
  if (format.startsWith('image/')) return format.split(';')[0].trim();
  return MIME[format.toLowerCase()] ?? 'application/octet-stream';
}

/** Alias of mimeFromFormat under the name codec users expect. */
export const mimeOf: (format: string) => string = mimeFromFormat;

/** MapProxy's ImageFormat(value).ext: 'image/png; mode=8bit' -> 'png', 'image/jpeg' -> 'jpeg', 'jpg' stays 'jpg'. */
export function formatFromMime(value: string): ImageFormat {
  let ext = value;
  if (ext.includes('/')) ext = ext.slice(ext.indexOf('/') + 1);
  if (ext.includes(';')) ext = ext.slice(0, ext.indexOf(';'));
  return ext.trim();
}

/** The format named by a config value or mime type: 'image/jpeg' -> 'jpeg', 'jpg' -> 'jpeg'. */
export function normalizeFormat(value: string): ImageFormat | undefined {
  const v = value.toLowerCase().split(';')[0].trim().replace(/^image\//, '');
  if (v === 'jpg' || v === 'jpeg') return 'jpeg';
  if (v === 'png' || v === 'png8') return 'png';
  if (v === 'tif' || v === 'tiff') return 'tiff';
  if (v === 'gif' || v === 'webp' || v === 'bmp' || v === 'mixed') return v;
  return undefined;
}

/**
 * Whether encoded bytes end the way their format must end, so a response cut
 * off by the network is refused before it is cached (without decoding it).
 */
export function looksComplete(b: Uint8Array): boolean {
  const f = sniffImageFormat(b);
  const n = b.length;
  switch (f) {
    case 'png':
      // the IEND chunk: length 0, type, CRC
      return n >= 20 && b[n - 8] === 0x49 && b[n - 7] === 0x45 && b[n - 6] === 0x4e && b[n - 5] === 0x44;
    case 'jpeg': {
      // EOI marker; some encoders pad after it, so look at the tail only
      for (let i = n - 2; i >= Math.max(2, n - 1024); i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
      return false;
    }
    case 'gif':
      return b[n - 1] === 0x3b;
    case undefined:
      return false;
    default:
      return true;
  }
}

// Bun adapter. Everything that touches the Bun global lives here, so the
// bundle still loads on Deno and Node, where these functions are never called.

import type { NativeTranscoder, TranscodeTarget } from './runtime.ts';

/** True when running on Bun with the native Bun.Image codecs (Bun >= 1.4). */
export function hasBunImage(): boolean {
  return typeof Bun !== 'undefined' && typeof Bun.Image === 'function';
}

/** Re-encodes an encoded image (BMP, PNG, JPEG, ...) with Bun.Image's libspng/libjpeg-turbo. */
export const bunTranscoder: NativeTranscoder = {
  name: 'bun-image',
  async transcode(input: Uint8Array, target: TranscodeTarget): Promise<Uint8Array<ArrayBuffer>> {
    const img = new Bun.Image(input, { autoOrient: false });
    const out = target.format === 'png'
      ? await img.png({ compressionLevel: target.compressionLevel }).bytes()
      : await img.jpeg({ quality: target.quality }).bytes();
    // Bun hands back a fresh, unshared buffer; the type just does not say so.
    return out as Uint8Array<ArrayBuffer>;
  },
};

/** Reads a whole file; used for assets that Bun resolved to a path instead of bytes. */
export async function bunReadFile(path: string): Promise<Uint8Array> {
  return Bun.file(path).bytes();
}

// The one place that decides which runtime we are on and what it offers.
// Other modules ask here instead of probing globals, so an adapter for a new
// runtime is added in this folder only.

import { bunReadFile, bunTranscoder, hasBunImage } from './bun.ts';

export type RuntimeName = 'bun' | 'deno' | 'node';

/** Where encoded output goes when re-encoding natively. */
export type TranscodeTarget =
  | { format: 'png'; compressionLevel: number }
  | { format: 'jpeg'; quality: number };

/** A native image codec that only speaks encoded images (bytes in, bytes out). */
export interface NativeTranscoder {
  readonly name: string;
  transcode(input: Uint8Array, target: TranscodeTarget): Promise<Uint8Array<ArrayBuffer>>;
}

/** Which family of image codecs to use: the runtime's native one or the portable WASM one. */
export type CodecBackend = 'native' | 'wasm';

let cachedName: RuntimeName | undefined;

/** Names the JavaScript runtime we are running on. */
export function runtimeName(): RuntimeName {
  if (cachedName) return cachedName;
  const g = globalThis as Record<string, unknown>;
  // Deno also defines `process` for npm compatibility, so test Bun and Deno first.
  cachedName = g.Bun !== undefined ? 'bun' : g.Deno !== undefined ? 'deno' : 'node';
  return cachedName;
}

/** The runtime's native image transcoder, or undefined where only WASM codecs exist. */
export function nativeTranscoder(): NativeTranscoder | undefined {
  return runtimeName() === 'bun' && hasBunImage() ? bunTranscoder : undefined;
}

/** The codec backend to use by default: native where present, because the WASM JPEG encoder is ~50x slower. */
export function defaultCodecBackend(): CodecBackend {
  return nativeTranscoder() ? 'native' : 'wasm';
}

/** Reads a whole file as bytes on any runtime. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  if (runtimeName() === 'bun') return bunReadFile(path);
  const fs = await import('node:fs/promises');
  return new Uint8Array(await fs.readFile(path));
}

// The bytes every PNG writer and reader here shares.

/** The 8 bytes a PNG starts with. */
export const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Writes a chunk's four-letter type (IHDR, IDAT, ...) at `at`. */
export function writeChunkType(out: Uint8Array, at: number, type: string): void {
  for (let i = 0; i < 4; i++) out[at + i] = type.charCodeAt(i);
}

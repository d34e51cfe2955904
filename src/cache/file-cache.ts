/** The `file` cache backend: one file per tile, atomic writes, reads without decoding. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tileRelPath, type DirectoryLayout } from './file-layout.ts';
import { hotTiles, keepsTilesBelow } from './hot-tiles.ts';
import type { TileCoord } from '../grid/tile-grid.ts';

/** A stored tile: its bytes and modification time in seconds (as Python's st_mtime). */
export interface StoredTile {
  bytes: Uint8Array;
  mtime: number;
}

/** The interface every cache backend implements (file now; sqlite, mbtiles ... later). */
export interface CacheBackend {
  /** Tile bytes and mtime, or undefined when the tile is not cached. */
  load(coord: TileCoord): StoredTile | undefined;
  /** Store atomically: readers see the old tile or the whole new one, never a part. */
  store(coord: TileCoord, bytes: Uint8Array): void;
  /** Store a uniform tile once per colour and link it (link_single_color_images); optional. */
  storeSingleColor?(coord: TileCoord, bytes: Uint8Array, color: readonly number[], mode: 'symlink' | 'hardlink'): void;
  /** Whether a tile is cached (no read of its content). */
  isCached(coord: TileCoord): boolean;
  /** Modification time (seconds) without reading the tile, undefined when not cached; optional. */
  mtime?(coord: TileCoord): number | undefined;
  /** Remove one tile (missing is fine). */
  remove(coord: TileCoord): void;
  /** The same cache below a sub-directory (one per dimension value combination); optional. */
  below?(relDir: string): CacheBackend;
}

let tmpCounter = 0;

/** MapProxy-compatible file cache below one directory. */
export class FileCache implements CacheBackend {
  private prefix: string;
  /** Whether tiles of this cache may be kept in memory (local file system), once known. */
  private keep: boolean | undefined;
  constructor(
    readonly dir: string,
    readonly ext: string,
    readonly layout: DirectoryLayout = 'tc',
  ) {
    // relative tile paths are built from integers only, so plain concatenation is safe (and path.join is not free)
    this.prefix = path.resolve(dir) + path.sep;
  }

  /** Absolute path of a tile file. */
  tilePath(coord: TileCoord): string {
    return this.prefix + tileRelPath(this.layout, coord, this.ext);
  }

  load(coord: TileCoord): StoredTile | undefined {
    const file = this.tilePath(coord);
    // a tile kept in memory (serve --tile-memory) costs one stat instead of four calls
    const hot = this.keep === false ? undefined : hotTiles();
    if (hot?.has(file)) {
      let st: fs.BigIntStats | undefined;
      try {
        st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
      }
      if (!st) {
        hot.drop(file);
        return undefined;
      }
      const kept = hot.current(file, st);
      if (kept) return { bytes: kept.bytes, mtime: kept.mtime };
    }
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw e;
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) return undefined;
      const size = Number(st.size);
      const bytes = new Uint8Array(size);
      let off = 0;
      while (off < size) {
        const n = fs.readSync(fd, bytes, off, size - off, off);
        if (n <= 0) break;
        off += n;
      }
      const mtime = pythonMtime(st.mtimeNs);
      if (off < size) return { bytes: bytes.subarray(0, off), mtime };
      if (hot && (this.keep ??= keepsTilesBelow(this.dir))) hot.add(file, bytes, mtime, st);
      return { bytes, mtime };
    } finally {
      fs.closeSync(fd);
    }
  }

  store(coord: TileCoord, bytes: Uint8Array): void {
    const file = this.tilePath(coord);
    // the next load would see the new file anyway; this frees the memory at once
    hotTiles()?.drop(file);
    // the rename replaces a linked single-colour tile's link, never the file it points to
    writeAtomic(file, bytes);
  }

  /** MapProxy's single_color_tiles/<rrggbb[aa]>.<ext> plus a relative symlink (or a hard link) at the tile's path. */
  storeSingleColor(coord: TileCoord, bytes: Uint8Array, color: readonly number[], mode: 'symlink' | 'hardlink'): void {
    const real = path.join(path.resolve(this.dir), 'single_color_tiles', `${color.map((v) => v.toString(16).padStart(2, '0')).join('')}.${this.ext}`);
    if (!fs.existsSync(real)) writeAtomic(real, bytes);
    const dest = this.tilePath(coord);
    hotTiles()?.drop(dest);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    // link under a temp name, then rename over the tile: readers never see it missing
    renameIntoPlace(dest, (tmp) => {
      if (mode === 'hardlink') fs.linkSync(real, tmp);
      else fs.symlinkSync(path.relative(path.dirname(dest), real), tmp);
    });
  }

  isCached(coord: TileCoord): boolean {
    return fs.existsSync(this.tilePath(coord));
  }

  mtime(coord: TileCoord): number | undefined {
    try {
      return pythonMtime(fs.statSync(this.tilePath(coord), { bigint: true }).mtimeNs);
    } catch {
      return undefined;
    }
  }

  below(relDir: string): FileCache {
    const dir = path.resolve(this.dir, relDir);
    // dimensionsPath() never yields '..', but a backend must not trust its caller with the file system
    if (!dir.startsWith(path.resolve(this.dir) + path.sep)) throw new Error(`cache sub-directory '${relDir}' leaves ${this.dir}`);
    return new FileCache(dir, this.ext, this.layout);
  }

  remove(coord: TileCoord): void {
    const file = this.tilePath(coord);
    hotTiles()?.drop(file);
    try {
      fs.unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/**
 * Write to a temp file beside dest, then rename: readers see the old file or
 * the whole new one. The directory is created only when the temp file cannot
 * be: a meta tile's tiles share a few directories, and each mkdir, like the
 * ftruncate Bun's writeFileSync adds, is a syscall per tile that changes nothing.
 */
function writeAtomic(dest: string, bytes: Uint8Array): void {
  renameIntoPlace(dest, (tmp) => {
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'w');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fd = fs.openSync(tmp, 'w');
    }
    let written = false;
    try {
      for (let done = 0; done < bytes.length; ) {
        const n = fs.writeSync(fd, bytes, done, bytes.length - done);
        if (n <= 0) throw new Error(`cannot write ${tmp}: no progress`);
        done += n;
      }
      written = true;
    } finally {
      try {
        fs.closeSync(fd);
      } catch (e) {
        // after a failed write, that error is the one to report
        if (written) throw e;
      }
    }
  });
}

/** Creates dest under a temp name with `make`, then renames it over dest; the temp file never stays behind. */
function renameIntoPlace(dest: string, make: (tmp: string) => void): void {
  const tmp = `${dest}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    make(tmp);
    fs.renameSync(tmp, dest);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* the temp file may not exist */
    }
    throw e;
  }
}

/** st_mtime as Python computes it from st_mtime_ns, so ETags equal MapProxy's for the same file. */
export function pythonMtime(ns: bigint): number {
  return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) * 1e-9;
}

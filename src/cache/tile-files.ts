/**
 * The tiles on disk of a file cache, for cache-clean and cache-stats: a walk
 * of the cache directory that parses tile coordinates back from the paths of
 * every MapProxy layout (src/cache/file-layout.ts), and the file caches of a
 * built config that the commands work on.
 *
 * The walk never follows a symlinked directory (so it cannot leave the cache
 * directory), skips anything that is not a tile of the layout (temp files of
 * FileCache.store, lock files, notes someone left there), descends into
 * dimension sub-directories (src/layer/dimensions.ts) and knows the
 * single_color_tiles/ files that link_single_color_images tiles link to.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Proxy } from '../core/build-proxy.ts';
import type { TileCoord, TileGrid } from '../grid/tile-grid.ts';
import { FileCache } from './file-cache.ts';
import type { DirectoryLayout } from './file-layout.ts';

/** Bad command input (unknown cache, bad option value ...): the commands exit with 2 and remove nothing. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A file in single_color_tiles/ that uniform tiles link to (symlink or hard link). */
export interface SharedTile {
  path: string;
  size: number;
  /** Disk usage in bytes (st_blocks * 512). */
  disk: number;
  mtime: number;
  atime: number;
  ino: number;
  /** Hard links to the file, itself included, as lstat found them. */
  nlink: number;
  /** Symlinks to the file that the walk has seen so far. */
  refs: number;
}

/** One tile file. Times are seconds of the file or link itself (lstat), as MapProxy's cleanup reads them. */
export interface TileFile {
  coord: TileCoord;
  /** Absolute path. */
  path: string;
  /** Bytes of the file; 0 for a link to a single-colour file, whose bytes belong to that file. */
  size: number;
  /** Disk usage in bytes (st_blocks * 512); 0 for a hard link to a single-colour file. */
  disk: number;
  mtime: number;
  atime: number;
  /** True when the tile is a symlink (to a single-colour file or elsewhere: it is never followed). */
  symlink: boolean;
  /** The single-colour file this tile links to, if any. */
  shared?: SharedTile;
}

/** A set of levels (a Set, or any membership test such as 'all but these'). */
export interface LevelFilter {
  has(level: number): boolean;
}

/** Options of walkTiles. */
export interface WalkOptions {
  /** Only these levels (undefined: all). Layouts with a level directory skip the others without reading them. */
  levels?: LevelFilter;
  /** Decides before any stat whether a tile is wanted (levels are checked first). */
  accept?: (coord: TileCoord) => boolean;
  /** Called after the walk left a directory below the cache directory (post-order), e.g. to remove it when empty. */
  afterDir?: (dir: string) => void;
  /** Single-colour files by path, shared across walks of the same cache (refs keep counting). */
  shared?: Map<string, SharedTile>;
}

/** Deepest nesting of dimension directories followed (MapProxy writes one per dimension). */
const MAX_DIMENSION_DEPTH = 16;
/** Longest number accepted in a path: beyond it the coordinate is no tile of any grid. */
const MAX_DIGITS = 15;
/** Directory of the files linked by link_single_color_images. */
export const SINGLE_COLOR_DIR = 'single_color_tiles';
const DIMENSION_DIR = /^[A-Za-z_][A-Za-z0-9_.]*-./;

type Parse = (name: string) => number | undefined;

const isDigits = (s: string): boolean => {
  if (s.length === 0 || s.length > MAX_DIGITS) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
};

/** A number written with at least `w` digits (zero-padded as pad() writes it), exactly as tileRelPath spells it. */
const padded = (w: number): Parse => (s) => (isDigits(s) && (s.length === w || (s.length > w && s.charCodeAt(0) !== 48)) ? Number(s) : undefined);
/** Exactly `w` digits (the lower parts of tc and mp paths). */
const exact = (w: number): Parse => (s) => (s.length === w && isDigits(s) ? Number(s) : undefined);
/** A plain number without leading zeros. */
const plain: Parse = (s) => (isDigits(s) && (s.length === 1 || s.charCodeAt(0) !== 48) ? Number(s) : undefined);
/** A letter, then hex digits (at least 8 as arcgisPath writes them) or decimal ones (`L09`). */
const prefixed = (letter: string, inner: Parse): Parse => (s) => (s[0] === letter ? inner(s.slice(1)) : undefined);
const hex8: Parse = (s) => {
  if (s.length < 8 || s.length > 13 || (s.length > 8 && s[0] === '0')) return undefined;
  if (!/^[0-9a-f]+$/.test(s)) return undefined;
  return parseInt(s, 16);
};

/** How a layout spells a tile: one parser per directory, one for the file stem, and how the numbers make a coordinate. */
interface LayoutSpec {
  dirs: Parse[];
  file: Parse;
  /** True when the first directory is the level (whole levels can be skipped). */
  levelDir: boolean;
  coord(parts: readonly number[]): TileCoord;
}

const SPECS: Record<Exclude<DirectoryLayout, 'quadkey'>, LayoutSpec> = {
  tc: {
    dirs: [padded(2), padded(3), exact(3), exact(3), padded(3), exact(3)],
    file: exact(3),
    levelDir: true,
    coord: (p) => [p[1] * 1e6 + p[2] * 1000 + p[3], p[4] * 1e6 + p[5] * 1000 + p[6], p[0]],
  },
  mp: {
    dirs: [padded(2), padded(4), exact(4), padded(4)],
    file: exact(4),
    levelDir: true,
    coord: (p) => [p[1] * 10000 + p[2], p[3] * 10000 + p[4], p[0]],
  },
  tms: { dirs: [plain, plain], file: plain, levelDir: true, coord: (p) => [p[1], p[2], p[0]] },
  reverse_tms: { dirs: [plain, plain], file: plain, levelDir: false, coord: (p) => [p[1], p[0], p[2]] },
  arcgis: {
    dirs: [prefixed('L', padded(2)), prefixed('R', hex8)],
    file: prefixed('C', hex8),
    levelDir: true,
    coord: (p) => [p[2], p[1], p[0]],
  },
};

/** Tile coordinate of a Bing quadkey ('' is level 0), or undefined when it is none. */
export function parseQuadkey(key: string): TileCoord | undefined {
  // 31 digits keep x and y below 2^31, where the bit operations of quadkey() still hold
  if (key.length > 31) return undefined;
  let x = 0;
  let y = 0;
  for (let i = 0; i < key.length; i++) {
    const d = key.charCodeAt(i) - 48;
    if (d < 0 || d > 3) return undefined;
    x = x * 2 + (d & 1);
    y = y * 2 + (d >> 1);
  }
  return [x, y, key.length];
}

/**
 * Tile coordinate of a path below a cache directory ('/'-separated, with
 * extension), the inverse of tileRelPath; undefined for anything else.
 */
export function parseTileRelPath(layout: DirectoryLayout, rel: string, ext: string): TileCoord | undefined {
  const suffix = `.${ext}`;
  if (!rel.endsWith(suffix)) return undefined;
  const segs = rel.slice(0, -suffix.length).split('/');
  if (layout === 'quadkey') return segs.length === 1 ? parseQuadkey(segs[0]) : undefined;
  const spec = SPECS[layout];
  if (segs.length !== spec.dirs.length + 1) return undefined;
  const parts: number[] = [];
  for (let i = 0; i < segs.length; i++) {
    const v = (i < spec.dirs.length ? spec.dirs[i] : spec.file)(segs[i]);
    if (v === undefined) return undefined;
    parts.push(v);
  }
  return spec.coord(parts);
}

interface Frame {
  dir: string;
  depth: number;
  parts: number[];
  entries: fs.Dirent[];
  i: number;
  /** Dimension directories nested above (0 at the cache directory). */
  dimDepth: number;
  /** True for the cache directory and dimension directories: they hold levels, dimensions and single_color_tiles. */
  isRoot: boolean;
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // gone meanwhile (a concurrent clean) or a file where a directory was expected: nothing to walk
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

function lstat(p: string): fs.Stats | undefined {
  return fs.lstatSync(p, { throwIfNoEntry: false });
}

const diskBytes = (st: fs.Stats): number => (typeof st.blocks === 'number' && Number.isFinite(st.blocks) ? st.blocks * 512 : st.size);

/** Reads the single_color_tiles/ directory of a cache (or dimension) directory into `shared`. */
function readShared(root: string, ext: string, shared: Map<string, SharedTile>): void {
  const dir = root + path.sep + SINGLE_COLOR_DIR;
  const suffix = `.${ext}`;
  for (const e of readDir(dir)) {
    if (!e.isFile() || !e.name.endsWith(suffix)) continue;
    const p = dir + path.sep + e.name;
    if (shared.has(p)) continue;
    const st = lstat(p);
    if (!st || !st.isFile()) continue;
    shared.set(p, { path: p, size: st.size, disk: diskBytes(st), mtime: st.mtimeMs / 1000, atime: st.atimeMs / 1000, ino: st.ino, nlink: st.nlink, refs: 0 });
  }
}

/**
 * Walks the tiles of a file cache directory (and of its dimension
 * sub-directories) in directory order, one lstat per wanted tile and none for
 * the rest. Symlinked tiles are read as links (readlink), never followed.
 * The caller may remove a yielded tile before asking for the next one.
 */
export function* walkTiles(cacheDir: string, layout: DirectoryLayout, ext: string, opts: WalkOptions = {}): Generator<TileFile> {
  const root = path.resolve(cacheDir);
  const shared = opts.shared ?? new Map<string, SharedTile>();
  const spec = layout === 'quadkey' ? undefined : SPECS[layout];
  const depthOfFiles = spec ? spec.dirs.length : 0;
  const suffix = `.${ext}`;
  const levels = opts.levels;
  const sharedByIno = new Map<number, SharedTile>();
  const indexShared = () => {
    for (const s of shared.values()) if (s.nlink > 1) sharedByIno.set(s.ino, s);
  };

  const enterRoot = (dir: string, dimDepth: number): Frame => {
    readShared(dir, ext, shared);
    indexShared();
    return { dir, depth: 0, parts: [], entries: readDir(dir), i: 0, dimDepth, isRoot: true };
  };
  const stack: Frame[] = [enterRoot(root, 0)];

  while (stack.length) {
    const f = stack[stack.length - 1];
    if (f.i >= f.entries.length) {
      stack.pop();
      if (f.dir !== root) opts.afterDir?.(f.dir);
      continue;
    }
    const e = f.entries[f.i++];
    const name = e.name;
    const p = f.dir + path.sep + name;

    if (f.depth < depthOfFiles) {
      if (e.isDirectory()) {
        const v = spec!.dirs[f.depth](name);
        if (v !== undefined) {
          if (f.depth === 0 && spec!.levelDir && levels && !levels.has(v)) continue;
          stack.push({ dir: p, depth: f.depth + 1, parts: [...f.parts, v], entries: readDir(p), i: 0, dimDepth: f.dimDepth, isRoot: false });
          continue;
        }
      }
      if (f.isRoot && e.isDirectory() && name !== SINGLE_COLOR_DIR && f.dimDepth < MAX_DIMENSION_DEPTH && DIMENSION_DIR.test(name)) {
        const r = enterRoot(p, f.dimDepth + 1);
        stack.push(r);
      }
      continue;
    }

    // depth of tile files (the cache directory itself for quadkey)
    if (f.isRoot && e.isDirectory()) {
      if (name !== SINGLE_COLOR_DIR && f.dimDepth < MAX_DIMENSION_DEPTH && DIMENSION_DIR.test(name)) stack.push(enterRoot(p, f.dimDepth + 1));
      continue;
    }
    const isLink = e.isSymbolicLink();
    if (!isLink && !e.isFile()) continue;
    if (!name.endsWith(suffix)) continue;
    const stem = name.slice(0, name.length - suffix.length);
    let coord: TileCoord | undefined;
    if (spec) {
      const v = spec.file(stem);
      if (v !== undefined) coord = spec.coord([...f.parts, v]);
    } else {
      coord = parseQuadkey(stem);
    }
    let target: SharedTile | undefined;
    if (isLink) {
      // every symlink counts as a reference, wanted or not: its single-colour file must stay
      target = linkTarget(p, shared);
      if (target) target.refs++;
    }
    if (!coord) continue;
    if (levels && !levels.has(coord[2])) continue;
    if (opts.accept && !opts.accept(coord)) continue;
    const st = lstat(p);
    if (!st) continue;
    if (isLink) {
      if (!st.isSymbolicLink()) continue;
      yield { coord, path: p, size: 0, disk: diskBytes(st), mtime: st.mtimeMs / 1000, atime: st.atimeMs / 1000, symlink: true, shared: target };
      continue;
    }
    if (!st.isFile()) continue;
    const hard = st.nlink > 1 ? sharedByIno.get(st.ino) : undefined;
    yield {
      coord,
      path: p,
      size: hard ? 0 : st.size,
      disk: hard ? 0 : diskBytes(st),
      mtime: st.mtimeMs / 1000,
      atime: st.atimeMs / 1000,
      symlink: false,
      shared: hard,
    };
  }
}

/** The single-colour file a symlink points to (resolved by name, never followed), if it is one. */
function linkTarget(link: string, shared: Map<string, SharedTile>): SharedTile | undefined {
  let to: string;
  try {
    to = fs.readlinkSync(link);
  } catch {
    return undefined;
  }
  return shared.get(path.resolve(path.dirname(link), to));
}

/**
 * Counts the symlinks into `shared` in the given levels of a cache (all
 * levels when undefined), without any stat: the references a walk limited to
 * other levels did not see.
 */
export function countLinkRefs(cacheDir: string, layout: DirectoryLayout, ext: string, shared: Map<string, SharedTile>, levels?: LevelFilter): void {
  // accept nothing: the walk then only reads directories and links
  for (const _ of walkTiles(cacheDir, layout, ext, { levels, shared, accept: () => false })) {
    /* never reached */
  }
}

/** One directory of file tiles of a configured cache and the grid(s) stored there. */
export interface CacheTarget {
  cache: string;
  /** Grid names stored in this directory (grids of the same SRS share it unless use_grid_names). */
  grids: string[];
  grid: TileGrid;
  dir: string;
  ext: string;
  layout: DirectoryLayout;
}

/**
 * The file cache directories of a cache (optionally of one grid), for the
 * commands. Unknown names and caches without storage are UsageErrors that
 * list what exists.
 */
export function cacheTargets(proxy: Proxy, cache: string | undefined, grid?: string): CacheTarget[] {
  if (cache !== undefined && !proxy.caches.has(cache)) {
    const known = [...proxy.caches.keys()];
    throw new UsageError(`unknown cache '${cache}' (known: ${known.length ? known.join(', ') : 'none'})`);
  }
  let names = cache === undefined ? [...proxy.caches.keys()] : [cache];
  if (grid !== undefined) {
    const withGrid = names.filter((n) => proxy.caches.get(n)!.has(grid));
    if (!withGrid.length) {
      const grids = [...new Set(names.flatMap((n) => [...proxy.caches.get(n)!.keys()]))];
      throw new UsageError(`unknown grid '${grid}' ${cache !== undefined ? `for cache '${cache}'` : 'in any cache'} (grids: ${grids.join(', ') || 'none'})`);
    }
    names = withGrid;
  }
  const out: CacheTarget[] = [];
  for (const name of names) {
    const byDir = new Map<string, CacheTarget>();
    for (const [gname, tm] of proxy.caches.get(name)!) {
      if (grid !== undefined && gname !== grid) continue;
      if (tm.opts.disableStorage) {
        // asked for by name it is an error; in a list of all caches it has nothing to show
        if (cache === undefined) break;
        throw new UsageError(`cache '${name}' has disable_storage: true, it keeps no tiles`);
      }
      const backend = tm.opts.backend;
      if (!(backend instanceof FileCache)) throw new UsageError(`cache '${name}' is no file cache`);
      const dir = path.resolve(backend.dir);
      const seen = byDir.get(dir);
      if (seen) {
        seen.grids.push(gname);
        continue;
      }
      const t: CacheTarget = { cache: name, grids: [gname], grid: tm.grid, dir, ext: backend.ext, layout: backend.layout };
      byDir.set(dir, t);
      out.push(t);
    }
  }
  return out;
}

/** True when a layout keeps each level in its own directory (tc, mp, tms, arcgis). */
export function hasLevelDirs(layout: DirectoryLayout): boolean {
  return layout !== 'quadkey' && SPECS[layout].levelDir;
}

/** Levels of a levels argument that the grid lacks, as a UsageError message; undefined when all exist. */
export function levelsOutside(levels: ReadonlySet<number>, grid: TileGrid, gridName: string): string | undefined {
  const max = grid.levels - 1;
  const bad = [...levels].filter((l) => l > max).sort((a, b) => a - b);
  if (!bad.length) return undefined;
  return `level${bad.length > 1 ? 's' : ''} ${bad.join(', ')} outside grid '${gridName}' (levels 0-${max})`;
}

/** Parses `0-10`, `5`, `3,5,7` or `0-3,8`; a UsageError otherwise. */
export function parseLevels(v: string): Set<number> {
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$/.exec(part);
    if (!m) throw new UsageError(`invalid --levels '${v}' (expected e.g. 0-10 or 3,5,7)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UsageError(`invalid --levels '${part.trim()}': ${a} is above ${b}`);
    for (let l = a; l <= b; l++) out.add(l);
  }
  return out;
}

/** Bytes as 1.5 MiB (binary units, as du -h). */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * Recently served tile files kept in memory by `mapproxy serve` workers
 * (`--tile-memory`). A kept tile is still checked against its file on every
 * use: one stat() instead of open, fstat, read and close. A tile rewritten,
 * replaced (seeding renames a new file over it) or removed is read again or
 * answered missing at once, so this never serves anything the file cache
 * would not. The budget is per process; tiles are evicted oldest first,
 * with a second chance for those used since they were last looked at. Only
 * local file systems qualify (see keepsTilesBelow).
 */
import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { metrics } from '../util/metrics.ts';

const NO_LABELS: readonly string[] = [];

/** A tile file's content and the identity it was read with. */
export interface HotTile {
  path: string;
  bytes: Uint8Array;
  /** Python's st_mtime of the file (what ETag and Last-Modified use). */
  mtime: number;
  // the file's identity; times as doubles (a BigInt costs memory per kept
  // tile) keep nanoseconds to 256 ns, and ctime changes with any write
  dev: number;
  /** Exact: inode numbers above 2^53 exist (overlayfs xino, some network file ids). */
  ino: bigint;
  mtimeNs: number;
  ctimeNs: number;
  /** Used since the eviction sweep last passed it. */
  used: boolean;
  /** Neighbours in the eviction queue (a list, not Map order: taking a Map's first entry again and again scans the holes deletes leave). */
  older: HotTile | undefined;
  newer: HotTile | undefined;
}

/** Bytes an entry costs besides the tile's own (map entry, record, path key, typed array): about 400 measured under Bun, rounded up. */
const ENTRY_OVERHEAD = 512;

/** What a kept tile counts against the budget. */
const cost = (e: HotTile): number => e.bytes.length + ENTRY_OVERHEAD;

/** Milliseconds a file must be unchanged before it is kept (FAT's timestamps are 2 s apart). */
const SETTLE_MS = 2000;

/** A byte-bounded set of tile files by absolute path. */
export class HotTiles {
  private readonly entries = new Map<string, HotTile>();
  /** The eviction queue: the oldest entry goes first, unless used since. */
  private oldest: HotTile | undefined;
  private newest: HotTile | undefined;
  private used = 0;
  /** Larger tiles are not kept: one of them would push out many small ones. */
  readonly maxTile: number;

  /**
   * settleMs: only files unchanged for this long are kept. The kernel sets a
   * file's ctime on every change, but from a coarse clock (a jiffy on ext4, a
   * second or two elsewhere): a file rewritten in place within one tick, at
   * the same size, would look unchanged. A file kept only once its ctime is
   * older than any tick gets a later ctime from any change.
   */
  constructor(
    readonly budget: number,
    readonly settleMs = SETTLE_MS,
  ) {
    this.maxTile = Math.floor(budget / 16);
  }

  /** Whether a tile is kept for this path (then a stat tells whether it is current). */
  has(path: string): boolean {
    return this.entries.has(path);
  }

  /** The kept tile if the file is still the one it was read from, else undefined (and the stale entry is dropped). */
  current(path: string, st: BigIntStats): HotTile | undefined {
    const e = this.entries.get(path);
    if (!e) return undefined;
    if (e.ino === st.ino && e.mtimeNs === Number(st.mtimeNs) && e.ctimeNs === Number(st.ctimeNs) && e.bytes.length === Number(st.size) && e.dev === Number(st.dev)) {
      e.used = true;
      metrics.tileMemoryHits.inc(NO_LABELS);
      return e;
    }
    this.drop(path);
    return undefined;
  }

  /** Keep a tile just read (st: the fstat of the descriptor it was read from). */
  add(path: string, bytes: Uint8Array, mtime: number, st: BigIntStats): void {
    if (bytes.length > this.maxTile || bytes.length !== Number(st.size)) return;
    if (Number(st.ctimeNs) / 1e6 > Date.now() - this.settleMs) return;
    this.drop(path);
    const e: HotTile = {
      path,
      bytes,
      mtime,
      dev: Number(st.dev),
      ino: st.ino,
      mtimeNs: Number(st.mtimeNs),
      ctimeNs: Number(st.ctimeNs),
      used: false,
      older: undefined,
      newer: undefined,
    };
    this.entries.set(path, e);
    this.enqueue(e);
    this.used += cost(e);
    this.evict();
  }

  drop(path: string): void {
    const e = this.entries.get(path);
    if (!e) return;
    this.entries.delete(path);
    this.dequeue(e);
    this.used -= cost(e);
  }

  /** Bytes held, overhead included. */
  get size(): number {
    return this.used;
  }

  /** Number of tiles held. */
  get count(): number {
    return this.entries.size;
  }

  private enqueue(e: HotTile): void {
    e.older = this.newest;
    e.newer = undefined;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }

  private dequeue(e: HotTile): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = e.newer = undefined;
  }

  private evict(): void {
    // each turn evicts one entry or clears one entry's flag: bounded by twice the entries
    let turns = 2 * this.entries.size;
    while (this.used > this.budget && turns-- > 0) {
      const e = this.oldest;
      if (!e) return;
      this.dequeue(e);
      if (e.used) {
        // second chance: to the back of the queue
        e.used = false;
        this.enqueue(e);
      } else {
        this.entries.delete(e.path);
        this.used -= cost(e);
      }
    }
  }
}

/**
 * statfs f_type of Linux file systems whose stat() always sees a file as it
 * is now. Network file systems (NFS, SMB, FUSE, Ceph, 9p) answer stat() from
 * an attribute cache for seconds to a minute where open() asks the server,
 * so a tile another host replaced would be answered from memory: tiles on
 * them, or on anything not listed, are not kept.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x2fc12fc1, // zfs
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x794c7630, // overlayfs (containers)
  0xf2f52010, // f2fs
  0xca451a4e, // bcachefs
  0x52654973, // reiserfs
  0x3153464a, // jfs
]);

/** Whether tiles below dir may be kept: dir is on a local file system (false when that cannot be told). */
export function keepsTilesBelow(dir: string): boolean {
  try {
    return LOCAL_FILE_SYSTEMS.has(Number(fs.statfsSync(dir).type));
  } catch {
    return false;
  }
}

let hot: HotTiles | undefined;

/** The process's kept tiles, undefined when off (the default: only serve workers turn it on). */
export function hotTiles(): HotTiles | undefined {
  return hot;
}

/** Keep up to `bytes` of recently served tiles in this process (0: off); settleMs as HotTiles takes it. */
export function setTileMemory(bytes: number, settleMs?: number): void {
  hot = bytes > 0 ? new HotTiles(bytes, settleMs) : undefined;
}

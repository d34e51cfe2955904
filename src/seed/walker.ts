/**
 * The pyramid walk of mapproxy-seed (mapproxy/seed/seeder.py TileWalker):
 * depth-first from level 0 through the meta tiles that meet the coverage,
 * skipping sub-trees outside it and testing nothing below a meta tile the
 * coverage contains. The position in the tree is the progress identifier
 * that --continue resumes from.
 */
import { MetaGrid } from '../grid/meta-grid.ts';
import type { TileCoord, TileGrid } from '../grid/tile-grid.ts';
import type { Coverage } from '../geo/coverage.ts';
import type { Bbox } from '../srs/types.ts';

/** A position in the walk: (index of the sub-tile, number of sub-tiles) per level entered. */
export type ProgressId = [number, number][];

const NONE = 0;
const CONTAINS = -1;
const INTERSECTS = 1;

/** Thrown inside the walk to stop it (Ctrl-C, --duration, too many failures). */
export class StopWalk extends Error {}

/** MapProxy's SeedProgress: the fraction done and the tree position, with the position to resume after. */
export class SeedProgress {
  progress = 0;
  private percentages = [1.0];
  levelProgresses: ProgressId | null = null;
  private depth = 0;
  private symbols: string[] = [];

  constructor(private readonly old: ProgressId | null = null) {}

  stepForward(subtiles = 1): void {
    this.progress += this.percentages[this.percentages.length - 1] / subtiles;
  }

  /** ".oO0" per level, as mapproxy-seed shows the position. */
  get progressStr(): string {
    return this.symbols.join('');
  }

  stepDown(i: number, subtiles: number): void {
    this.levelProgresses = (this.levelProgresses ?? []).slice(0, this.depth);
    this.levelProgresses.push([i, subtiles]);
    this.depth++;
    this.symbols.push(statusSymbol(i, subtiles));
    this.percentages.push(this.percentages[this.percentages.length - 1] / subtiles);
  }

  stepUp(): void {
    this.percentages.pop();
    this.symbols.pop();
    this.depth--;
    if (this.depth === 0) this.levelProgresses = [];
  }

  alreadyProcessed(): boolean {
    return canSkip(this.old, this.levelProgresses);
  }

  /** Where to resume: the current position, or the old one while still behind it. */
  currentProgressIdentifier(): ProgressId | null {
    if (this.alreadyProcessed() || this.levelProgresses === null) return this.old;
    return this.levelProgresses.map(([a, b]) => [a, b]);
  }
}

/** True when `current` lies before `old` in walk order (that part was done before). */
export function canSkip(old: ProgressId | null, current: ProgressId | null): boolean {
  if (current === null || old === null) return false;
  if (old.length === 0) return true;
  const n = Math.max(old.length, current.length);
  for (let k = 0; k < n; k++) {
    const o = old[k];
    const c = current[k];
    if (o === undefined || c === undefined) return false;
    const cmp = o[0] !== c[0] ? o[0] - c[0] : o[1] - c[1];
    if (cmp < 0) return false;
    if (cmp > 0) return true;
  }
  return false;
}

/** MapProxy's status_symbol. */
export function statusSymbol(i: number, total: number): string {
  const symbols = ' .oO0';
  i += 1;
  if (i > total) return 'X';
  return symbols[Math.ceil(i / (total / 4))];
}

/** MapProxy's limit_sub_bbox: the part of sub inside bbox. */
export function limitSubBbox(bbox: Bbox, sub: Bbox): Bbox {
  return [Math.max(bbox[0], sub[0]), Math.max(bbox[1], sub[1]), Math.min(bbox[2], sub[2]), Math.min(bbox[3], sub[3])];
}

/** What the walk hands over and asks. */
export interface WalkHandler {
  /** Tiles (a meta tile's main coord, or single tiles) that need work; may wait (back-pressure). */
  process(tiles: TileCoord[]): Promise<void> | void;
  /** Whether a tile needs work (uncached, or stale for refreshes and cleanups). */
  needsWork(coord: TileCoord): boolean;
  /** Called when the walk enters a level it works on (at most down to the second-last level). */
  report?(level: number, bbox: Bbox): void;
  /** False stops the walk at the next level boundary. */
  running(): boolean;
}

/** Options of a walk. */
export interface WalkOptions {
  grid: TileGrid;
  levels: readonly number[];
  coverage: Coverage;
  /** [1, 1] without meta tiles. */
  metaSize: readonly [number, number];
  /** Hand over meta tiles (seeding) or their single tiles (cleanup, rescaling caches). */
  workOnMetatiles: boolean;
  /** -l: no coverage tests on the last N levels (every tile of an intersecting parent). */
  skipGeomsForLastLevels: number;
  progress: SeedProgress;
}

/** Walks the pyramid; resolves when done or stopped (StopWalk is caught here). */
export class TileWalker {
  private readonly metaGrid: MetaGrid;
  private readonly reportTillLevel: number;
  private readonly seen = new Map<number, string[]>();
  /** Meta tiles (or tile groups) handed over. */
  count = 0;
  private lastYield = performance.now();

  constructor(
    private readonly o: WalkOptions,
    private readonly h: WalkHandler,
  ) {
    this.metaGrid = new MetaGrid(o.grid, o.metaSize, 0);
    const n = o.levels.length;
    this.reportTillLevel = n >= 4 ? o.levels[n - 2] : o.levels[n - 1];
    for (const l of o.levels) this.seen.set(l, []);
  }

  async walk(): Promise<void> {
    const cov = this.o.coverage;
    const bbox = cov.srs === this.o.grid.srs || cov.srs.canonical === this.o.grid.srs.canonical ? cov.bbox : cov.srs.transformBbox(cov.bbox, this.o.grid.srs);
    if (this.o.progress.alreadyProcessed()) {
      this.o.progress.stepForward();
    } else {
      try {
        await this.walkLevel(bbox, [...this.o.levels], 0, false);
      } catch (e) {
        if (!(e instanceof StopWalk)) throw e;
        // the position of the stop was reported before the throw; reporting the
        // unwound walk here would store "all done" and a resumed run would skip the rest
        return;
      }
    }
    this.h.report?.(this.o.levels[0], bbox);
  }

  private intersection(bbox: Bbox): number {
    const { coverage, grid } = this.o;
    if (coverage.contains(bbox, grid.srs)) return CONTAINS;
    if (coverage.intersects(bbox, grid.srs)) return INTERSECTS;
    return NONE;
  }

  private async walkLevel(curBbox: Bbox, levels: number[], level: number, allSubtiles: boolean): Promise<void> {
    const affected = this.metaGrid.affectedLevelTiles(curBbox, level);
    const total = affected.gridSize[0] * affected.gridSize[1];
    if (levels.length < this.o.skipGeomsForLastLevels) allSubtiles = true;
    const subtiles: ({ coord: TileCoord; bbox: Bbox; hit: number } | null)[] = [];
    for (const c of affected.tiles) {
      if (!c) {
        subtiles.push(null);
        continue;
      }
      const bbox = this.metaGrid.metaTile(c).bbox;
      const hit = allSubtiles ? CONTAINS : this.intersection(bbox);
      subtiles.push(hit ? { coord: c, bbox, hit } : null);
    }
    const inLevels = levels.includes(level);
    if (inLevels && level <= this.reportTillLevel) this.h.report?.(level, curBbox);
    if (!this.h.running()) {
      if (inLevels) this.h.report?.(level, curBbox);
      throw new StopWalk();
    }
    const process = inLevels;
    if (process) levels = levels.slice(1);
    const progress = this.o.progress;
    for (let i = 0; i < subtiles.length; i++) {
      // a walk over cached tiles, or with a CPU-only source, never waits for I/O: let timers,
      // signals and the requests of a serving process (the seeding API's job runner) in now and then
      if (performance.now() - this.lastYield > 50) {
        await new Promise<void>((r) => setImmediate(r));
        this.lastYield = performance.now();
      }
      const sub = subtiles[i];
      if (!sub) {
        progress.stepForward(total);
        continue;
      }
      if (levels.length) {
        const subBbox = limitSubBbox(curBbox, sub.bbox);
        progress.stepDown(i, total);
        try {
          if (progress.alreadyProcessed()) progress.stepForward();
          else await this.walkLevel(subBbox, levels, level + 1, sub.hit === CONTAINS);
        } finally {
          progress.stepUp();
        }
      }
      if (!process) continue;
      // irregular grids (res_factor, custom res) reach some tiles more than once: a short memory skips most
      const k = `${sub.coord[0]},${sub.coord[1]}`;
      const seen = this.seen.get(level)!;
      if (seen.includes(k)) {
        if (!levels.length) progress.stepForward(total);
        continue;
      }
      seen.unshift(k);
      if (seen.length > 64) seen.pop();
      const candidates = this.o.workOnMetatiles ? [sub.coord] : this.metaGrid.tileList(sub.coord).filter((t): t is TileCoord => t !== null);
      const work = candidates.filter((t) => this.h.needsWork(t));
      if (work.length) {
        this.count++;
        await this.h.process(work);
      }
      if (!levels.length) progress.stepForward(total);
    }
  }
}

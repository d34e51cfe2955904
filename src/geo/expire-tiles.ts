/**
 * expire_tiles coverages (MapProxy's load_expire_tiles): files of `z/x/y`
 * lines, as imposm or osm2pgsql write them, in the web mercator grid with the
 * origin at the top left; a directory is read recursively. A bad line ends the
 * reading of its file with a warning, as in MapProxy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tileGrid } from '../grid/tile-grid.ts';
import type { Bbox } from '../srs/types.ts';
import { bboxPolygon, GeometryError, unionGeometries, type MultiPolygon } from './geometry.ts';

/** A tile as [z, x, y] (y counted from the top). */
export type ExpireTile = [number, number, number];

// Python's int(): surrounding whitespace, a sign and digit groups with underscores
const INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;
const MAX_DIR_DEPTH = 64;

/** Adds the tiles of one file's text to `tiles` (keyed 'z/x/y'); stops at the first bad line with a warning. */
export function parseExpireTileList(text: string, tiles: Map<string, ExpireTile>, warn: (message: string) => void = () => {}, source = '<string>'): void {
  const lines = text.split('\n');
  // a final newline does not start another line
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const parts = line.split('/');
    if (parts.length !== 3 || !parts.every((p) => INT.test(p))) {
      warn(`found error in ${source}, skipping rest of file`);
      return;
    }
    const [z, x, y] = parts.map((p) => Number(p.replace(/_/g, '')));
    tiles.set(`${z}/${x}/${y}`, [z, x, y]);
  }
}

/** The tiles of a file, or of every file below a directory. */
export function readExpireTiles(file: string, warn: (message: string) => void = () => {}): Map<string, ExpireTile> {
  const tiles = new Map<string, ExpireTile>();
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new GeometryError(`can't read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const readFile = (f: string) => {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new GeometryError(`can't read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    parseExpireTileList(text, tiles, warn, f);
  };
  if (!st.isDirectory()) {
    readFile(file);
    return tiles;
  }
  // os.walk without following directory links
  const walk = (dir: string, depth: number) => {
    if (depth > MAX_DIR_DEPTH) throw new GeometryError(`${dir}: directories nested deeper than ${MAX_DIR_DEPTH}`);
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full, depth + 1);
      else if (e.isFile()) readFile(full);
      else if (e.isSymbolicLink()) {
        let target: fs.Stats | undefined;
        try {
          target = fs.statSync(full);
        } catch {
          target = undefined;
        }
        if (target?.isFile()) readFile(full);
      }
    }
  };
  walk(file, 0);
  return tiles;
}

/**
 * The union of the tiles' rectangles in EPSG:3857. Runs of neighbouring tiles
 * are merged into rectangles first, which keeps the union fast for long lists.
 */
export function expireTilesGeometry(tiles: Iterable<ExpireTile>): MultiPolygon {
  const grid = tileGrid({ srs: 'EPSG:3857', origin: 'nw' });
  // z -> y -> xs
  const byRow = new Map<number, Map<number, number[]>>();
  for (const [z, x, y] of tiles) {
    // MapProxy's default web mercator grid has 20 levels; it fails on others too
    if (z < 0 || z >= grid.levels) throw new GeometryError(`tile ${z}/${x}/${y}: level ${z} is not in the web mercator grid (0-${grid.levels - 1})`);
    let rows = byRow.get(z);
    if (!rows) byRow.set(z, (rows = new Map()));
    let xs = rows.get(y);
    if (!xs) rows.set(y, (xs = []));
    xs.push(x);
  }
  const rects: Bbox[] = [];
  for (const [z, rows] of byRow) {
    // horizontal runs, then equal runs in consecutive rows stacked
    const runs = new Map<string, number[]>();
    for (const [y, xs] of rows) {
      xs.sort((a, b) => a - b);
      let s = 0;
      for (let i = 1; i <= xs.length; i++) {
        if (i < xs.length && xs[i] === xs[i - 1] + 1) continue;
        const key = `${xs[s]}/${xs[i - 1]}`;
        let ys = runs.get(key);
        if (!ys) runs.set(key, (ys = []));
        ys.push(y);
        s = i;
      }
    }
    for (const [key, ys] of runs) {
      const [x0, x1] = key.split('/').map(Number);
      ys.sort((a, b) => a - b);
      let s = 0;
      for (let i = 1; i <= ys.length; i++) {
        if (i < ys.length && ys[i] === ys[i - 1] + 1) continue;
        const topLeft = grid.tileBbox([x0, ys[s], z]);
        const bottomRight = grid.tileBbox([x1, ys[i - 1], z]);
        rects.push([topLeft[0], bottomRight[1], bottomRight[2], topLeft[3]]);
        s = i;
      }
    }
  }
  return unionGeometries(rects.map((r) => [bboxPolygon(r)]));
}

/** Shared test helpers for the grid tests: MapProxy reference data and float comparison. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import ref from './fixtures/mapproxy-grids.json' with { type: 'json' };

/** Reference values printed by MapProxy 1.15.1 (fixtures/gen-mapproxy-grids.py over fixtures/mapproxy-grids.yaml). */
export const REF = ref as unknown as Reference;

/** The `grids:` section of the YAML the reference values were computed from. */
export function referenceGridsConf(): Record<string, any> {
  const text = readFileSync(decodeURIComponent(new URL('./fixtures/mapproxy-grids.yaml', import.meta.url).pathname), 'utf8');
  return parse(text).grids;
}

type Coord = [number, number, number];
type B = [number, number, number, number];
type TileSummary = { n: number; head: (Coord | null)[]; tail: (Coord | null)[] };

export interface GridRef {
  name: string;
  srs: string;
  bbox: B;
  origin: 'll' | 'ul';
  tile_size: [number, number];
  res: number[];
  grid_sizes: [number, number][];
  stretch: number;
  shrink: number;
  threshold: number[] | null;
  tile_bbox: [Coord, B, B][];
  closest: [number, number][];
  tile_coord: [[number, number], number, Coord][];
  affected_level: ([B, number, B, [number, number], TileSummary] | [B, number, 'GridError'])[];
  affected: ([B, [number, number], B, [number, number], TileSummary] | [B, [number, number], 'NoTiles'])[];
  tms_profile: string;
  skip_odd: boolean;
  scale_denoms: number[] | null;
  supports_nw: boolean;
  supports_sw: boolean;
  meta: {
    meta_size: [number, number];
    meta_buffer: number;
    tiles: [Coord, Coord, B, [number, number], [number, number], [Coord | null, [number, number]][]][];
    minimal: [Coord[], B, [number, number], [number, number], [Coord | null, [number, number]][]][];
    affected: [B, number, B, [number, number], TileSummary][];
  }[];
}

export interface Reference {
  grids: Record<string, GridRef>;
  subset: [string, string, boolean | string][];
}

/** Asserts |a - b| <= rel * |b| (exact for 0). */
export function assertClose(actual: number, expected: number, msg: string, rel = 1e-9): void {
  const ok = actual === expected || Math.abs(actual - expected) <= rel * Math.abs(expected);
  assert.ok(ok, `${msg}: ${actual} != ${expected}`);
}

/** Element-wise assertClose for number lists. */
export function assertAllClose(actual: readonly number[], expected: readonly number[], msg: string, rel = 1e-9): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  actual.forEach((a, i) => assertClose(a, expected[i], `${msg}[${i}]`, rel));
}

/** First 24 and last 4 entries of a tile list, as the fixture stores them. */
export function summarize(tiles: Iterable<Coord | null>): TileSummary {
  const list = [...tiles].map((t) => (t ? [...t] : null)) as (Coord | null)[];
  return { n: list.length, head: list.slice(0, 24), tail: list.slice(-4) };
}

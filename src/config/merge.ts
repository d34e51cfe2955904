/**
 * MapProxy's `base:` merge rules (config/loader.py merge_dict/merge_layers of
 * MapProxy 7), carrying source positions along. Nothing is mutated: merged
 * containers are new objects, unchanged subtrees are shared.
 */

import type { PositionMap, SourcePos } from './positions.ts';

type Dict = Record<string, unknown>;

/** Lists with these names replace the base list instead of being appended to it. */
export const REPLACED_LISTS: ReadonlySet<string> = new Set(['bbox', 'tile_size', 'max_output_pixels', 'sources', 'grids', 'res']);

/** True for a plain mapping (not a list, not null). */
export function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Returns `base` with `conf` merged in; `conf` (the including file) wins. */
export function mergeDict(conf: Dict, base: Dict, pm: PositionMap): Dict {
  const out: Dict = {};
  const start = pm.nodePos(conf) ?? pm.nodePos(base);
  if (start) pm.add(out, start);
  const keep = (k: string, v: unknown, pos: SourcePos | undefined) => {
    out[k] = v;
    if (pos) pm.setKey(out, k, pos);
  };
  for (const [k, v] of Object.entries(base)) keep(k, v, pm.keyPos(base, k));

  for (const [k, v] of Object.entries(conf)) {
    const cpos = pm.keyPos(conf, k);
    if (!Object.prototype.hasOwnProperty.call(out, k)) {
      keep(k, v, cpos);
      continue;
    }
    const b = out[k];
    if (isDict(b)) {
      if (v === null) continue; // `key:` with nothing keeps the base mapping
      keep(k, isDict(v) ? mergeDict(v, b, pm) : v, cpos);
    } else if (Array.isArray(b)) {
      if (v === null) continue;
      if (!Array.isArray(v) || REPLACED_LISTS.has(k)) keep(k, v, cpos);
      else if (k === 'layers') keep(k, mergeLayers(v, b, pm), cpos);
      else if (v.length === 0) delete out[k]; // an empty list deletes the base value
      else keep(k, concatLists(b, v, pm), cpos);
    } else {
      keep(k, v, cpos);
    }
  }
  return out;
}

function concatLists(base: unknown[], conf: unknown[], pm: PositionMap): unknown[] {
  const out = [...base, ...conf];
  const start = pm.nodePos(base) ?? pm.nodePos(conf);
  if (start) pm.add(out, start);
  base.forEach((_, i) => {
    const p = pm.keyPos(base, i);
    if (p) pm.setKey(out, i, p);
  });
  conf.forEach((_, i) => {
    const p = pm.keyPos(conf, i);
    if (p) pm.setKey(out, base.length + i, p);
  });
  return out;
}

function layerName(layer: unknown): string | undefined {
  return isDict(layer) && typeof layer.name === 'string' ? layer.name : undefined;
}

/** Merges layer lists by `name`: same name -> deep merge in base order, new layers appended. */
export function mergeLayers(conf: unknown[], base: unknown[], pm: PositionMap): unknown[] {
  const out: unknown[] = [];
  const positions: (SourcePos | undefined)[] = [];
  const used = new Set<number>();
  base.forEach((baseLayer, bi) => {
    const name = layerName(baseLayer);
    const ci = name === undefined ? -1 : conf.findIndex((c, i) => !used.has(i) && layerName(c) === name);
    if (ci >= 0) {
      used.add(ci);
      out.push(mergeDict(conf[ci] as Dict, baseLayer as Dict, pm));
      positions.push(pm.keyPos(conf, ci));
    } else {
      out.push(baseLayer);
      positions.push(pm.keyPos(base, bi));
    }
  });
  conf.forEach((c, ci) => {
    if (used.has(ci)) return;
    out.push(c);
    positions.push(pm.keyPos(conf, ci));
  });
  const start = pm.nodePos(conf) ?? pm.nodePos(base);
  if (start) pm.add(out, start);
  positions.forEach((p, i) => p && pm.setKey(out, i, p));
  return out;
}

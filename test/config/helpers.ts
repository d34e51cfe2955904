/** Fixture helpers for the config tests: YAML files in a fresh temp dir. */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';

/** Writes `files` (name -> YAML text) into a new temp dir and returns the dir. */
export function fixture(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-config-'));
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return dir;
}

/** Runs fn with the cwd set to dir, so file names in messages are short. */
export function inDir<T>(dir: string, fn: () => T): T {
  const old = process.cwd();
  process.chdir(dir);
  try {
    return fn();
  } finally {
    process.chdir(old);
  }
}

/** Calls fn and returns the message of what it threw (fails if nothing was thrown). */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, none was thrown');
}

/** A small valid config to extend in tests. */
export const MINIMAL = `services:
  tms:
sources:
  osm:
    type: tile
    url: http://localhost/%(z)s/%(x)s/%(y)s.png
caches:
  osm_cache:
    sources: [osm]
    grids: [GLOBAL_WEBMERCATOR]
layers:
  - name: osm
    title: OSM
    sources: [osm_cache]
`;

/**
 * Validation of a merged mapproxy.yaml: the option spec (unknown keys are
 * warnings, wrong types and missing required keys are errors) and the
 * references between sections (sources, caches, grids, layers).
 */

import { ConfigError } from '../errors.ts';
import { BUILTIN_GRIDS } from './defaults.ts';
import { formatPath, type PathSegment, type SourcePos } from './positions.ts';
import { mapproxySpec, TAGGED_SOURCE_TYPES, type DictSpec, type Spec } from './spec.ts';
import { makeWarning, type ConfigWarning } from './warnings.ts';

type Dict = Record<string, unknown>;

/** Several config errors at once; the message lists them one per line, the first one first. */
export class ConfigErrors extends ConfigError {
  override name = 'ConfigError';
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors[0].detail, errors[0].location);
    if (errors.length > 1) {
      this.message = errors.map((e) => e.message).join('\n');
    }
  }
}

/** Everything validation found; errors are fatal, warnings are for the log. */
export interface ValidationResult {
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/** Maps a key path to its file and line. */
export type Locator = (path: readonly PathSegment[]) => SourcePos | undefined;

function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class Reporter {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigWarning[] = [];
  constructor(
    private readonly locate: Locator,
    private readonly mainFile: string,
  ) {}

  private where(path: readonly PathSegment[]): { file: string; line?: number } {
    const pos = this.locate(path);
    return pos ? { file: pos.file, line: pos.line } : { file: this.mainFile };
  }

  error(path: readonly PathSegment[], detail: string): void {
    const w = this.where(path);
    this.errors.push(new ConfigError(detail, { file: w.file, line: w.line, path: formatPath(path) }));
  }

  warn(path: readonly PathSegment[], message: string): void {
    const w = this.where(path);
    this.warnings.push(makeWarning(w.file, w.line, formatPath(path), message));
  }
}

// ---------------------------------------------------------------- spec check

function describeSpec(spec: Spec): string {
  switch (spec.kind) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
      return 'an integer';
    case 'bool':
      return 'true or false';
    case 'anything':
      return 'anything';
    case 'list':
      return `a list of ${plural(spec.item)}`;
    case 'dict':
    case 'typed':
      return 'a mapping';
    case 'oneOf':
      return spec.options.map(describeSpec).join(' or ');
    case 'lazy':
      return describeSpec(spec.get());
  }
}

function plural(spec: Spec): string {
  switch (spec.kind) {
    case 'string':
      return 'strings';
    case 'number':
      return 'numbers';
    case 'int':
      return 'integers';
    case 'bool':
      return 'booleans';
    case 'dict':
    case 'typed':
      return 'mappings';
    case 'lazy':
      return plural(spec.get());
    default:
      return `(${describeSpec(spec)})`;
  }
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 57)}...` : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

function resolve(spec: Spec): Spec {
  let s = spec;
  while (s.kind === 'lazy') s = s.get();
  return s;
}

// Python's dictspec treats a missing value (None) as an empty mapping, so
// `tms:` enables a service and `cache:` gives an empty backend.
function typeMatches(spec: Spec, v: unknown): boolean {
  const s = resolve(spec);
  switch (s.kind) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number';
    case 'int':
      // Python's isinstance(True, int) holds, and MapProxy accepts it
      return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'boolean';
    case 'bool':
      return typeof v === 'boolean';
    case 'anything':
      return true;
    case 'list':
      return Array.isArray(v);
    case 'dict':
    case 'typed':
      return v === null || isDict(v);
    case 'oneOf':
      return s.options.some((o) => typeMatches(o, v));
    case 'lazy':
      return false; // unreachable, resolved above
  }
}

function checkSpec(spec: Spec, value: unknown, path: PathSegment[], r: Reporter): void {
  const s = resolve(spec);
  if (s.kind === 'anything') return;
  if (s.kind === 'oneOf') {
    const match = s.options.find((o) => typeMatches(o, value));
    if (!match) r.error(path, `expected ${describeSpec(s)}, got ${describeValue(value)}`);
    else checkSpec(match, value, path, r);
    return;
  }
  if (!typeMatches(s, value)) {
    r.error(path, `expected ${describeSpec(s)}, got ${describeValue(value)}`);
    return;
  }
  if (s.kind === 'list') {
    (value as unknown[]).forEach((item, i) => checkSpec(s.item, item, [...path, i], r));
    return;
  }
  if (s.kind === 'typed') {
    const d = (value ?? {}) as Dict;
    const t = d[s.typeKey];
    if (t === undefined || t === null) {
      r.error(path, `missing '${s.typeKey}' (one of: ${Object.keys(s.variants).join(', ')})`);
      return;
    }
    const variant = typeof t === 'string' ? s.variants[t] : undefined;
    if (!variant) {
      r.error([...path, s.typeKey], `unknown ${s.what} ${describeValue(t)} (known: ${Object.keys(s.variants).join(', ')})`);
      return;
    }
    checkSpec(variant, d, path, r);
    return;
  }
  if (s.kind === 'dict') {
    const d = (value ?? {}) as Dict;
    for (const [k, ks] of Object.entries(s.keys)) {
      if (ks.required && !Object.prototype.hasOwnProperty.call(d, k)) r.error(path, `missing required '${k}'`);
    }
    for (const [k, v] of Object.entries(d)) {
      const ks = Object.prototype.hasOwnProperty.call(s.keys, k) ? s.keys[k] : s.anyKey;
      if (!ks) {
        r.warn([...path, k], `unknown '${k}' in ${path.length ? formatPath(path) : 'the top level'}`);
        continue;
      }
      checkSpec(ks, v, [...path, k], r);
    }
  }
}

// ----------------------------------------------------------- reference check

function splitTagged(name: string): { source: string; layers?: string[] } {
  const i = name.indexOf(':');
  if (i < 0) return { source: name };
  return { source: name.slice(0, i), layers: name.slice(i + 1).split(',') };
}

function asList(v: unknown): string[] {
  if (typeof v === 'string') return v.split(',');
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

class References {
  private readonly sources: Dict;
  private readonly caches: Dict;
  private readonly grids: Set<string>;
  private readonly noLayersWarned = new Set<string>();

  constructor(
    private readonly conf: Dict,
    private readonly r: Reporter,
  ) {
    this.sources = isDict(conf.sources) ? conf.sources : {};
    this.caches = isDict(conf.caches) ? conf.caches : {};
    this.grids = new Set([...Object.keys(BUILTIN_GRIDS), ...(isDict(conf.grids) ? Object.keys(conf.grids) : [])]);
  }

  run(): void {
    const { conf, r } = this;
    if (conf.layers === undefined || conf.layers === null) r.warn([], "no 'layers' section, nothing will be published");
    if (conf.services === undefined || conf.services === null) r.warn([], "no 'services' section, no service is switched on");
    this.checkGrids();
    for (const [name, src] of Object.entries(this.sources)) {
      if (isDict(src) && typeof src.grid === 'string') this.checkGrid(src.grid, ['sources', name, 'grid']);
    }
    for (const [name, cache] of Object.entries(this.caches)) this.checkCache(name, cache);
    this.checkCacheCycles();
    if (Array.isArray(conf.layers)) {
      const seen = new Map<string, string>();
      conf.layers.forEach((l, i) => this.checkLayer(l, ['layers', i], seen));
    }
  }

  private checkGrid(name: string, path: PathSegment[]): void {
    if (!this.grids.has(name)) this.r.error(path, `unknown grid '${name}'`);
  }

  private checkGrids(): void {
    const grids = isDict(this.conf.grids) ? this.conf.grids : {};
    for (const [name, g] of Object.entries(grids)) {
      if (!isDict(g)) continue;
      if (typeof g.base === 'string') this.checkGrid(g.base, ['grids', name, 'base']);
      if (typeof g.align_resolutions_with === 'string') {
        this.checkGrid(g.align_resolutions_with, ['grids', name, 'align_resolutions_with']);
      }
    }
    // a grid inheriting from itself would recurse forever when the grid is built
    const reported = new Set<string>();
    for (const start of Object.keys(grids)) {
      const chain = [start];
      let cur = start;
      for (;;) {
        const g = grids[cur];
        const next = isDict(g) && typeof g.base === 'string' ? g.base : undefined;
        if (next === undefined || !Object.prototype.hasOwnProperty.call(grids, next)) break;
        if (next === start) {
          const key = [...chain].sort().join('\0');
          if (!reported.has(key)) {
            reported.add(key);
            this.r.error(['grids', cur, 'base'], `grid '${start}' is its own base (${[...chain, next].join(' -> ')})`);
          }
          break;
        }
        if (chain.includes(next)) break; // a cycle further up, reported from its own start
        chain.push(next);
        cur = next;
      }
    }
  }

  /** A name used in a cache's or layer's sources: a cache, or a (possibly tagged) source. */
  private checkSourceName(name: string, path: PathSegment[], cachesFirst: boolean): void {
    if (cachesFirst && Object.prototype.hasOwnProperty.call(this.caches, name)) return;
    const { source, layers } = splitTagged(name);
    if (Object.prototype.hasOwnProperty.call(this.sources, source)) {
      this.checkTags(source, layers, path);
      return;
    }
    if (Object.prototype.hasOwnProperty.call(this.caches, source)) {
      if (layers) this.r.error(path, `cache '${source}' cannot take layer tags ('${name}')`);
      return;
    }
    this.r.error(path, `unknown source '${source}'`);
  }

  private checkTags(name: string, layers: string[] | undefined, path: PathSegment[]): void {
    const src = this.sources[name];
    if (!isDict(src)) return;
    const type = src.type;
    if (layers && !TAGGED_SOURCE_TYPES.includes(String(type))) {
      this.r.error(
        path,
        `source '${name}' is a '${String(type)}' source; layer tags ('${name}:...') work only with ${TAGGED_SOURCE_TYPES.join(', ')} sources`,
      );
      return;
    }
    const reqConf = isDict(src.req) ? src.req : {};
    const offered = type === 'mapnik' ? src.layers : reqConf.layers;
    if (type === 'wms' && layers === undefined && (offered === undefined || offered === null) && !this.noLayersWarned.has(name)) {
      this.noLayersWarned.add(name); // once per source, however often it is used
      this.r.warn(path, `source '${name}' has no req.layers and is used without layer tags ('${name}:layer1,layer2')`);
    }
    if (layers && offered !== undefined && offered !== null) {
      const supported = asList(offered);
      const missing = layers.filter((l) => !supported.includes(l));
      if (missing.length) {
        this.r.error(
          path,
          `source '${name}' offers the layers '${supported.join(', ')}', not '${missing.join(', ')}'`,
        );
      }
    }
  }

  private checkCache(name: string, cache: unknown): void {
    if (!isDict(cache)) return;
    const srcs = cache.sources;
    if (Array.isArray(srcs)) {
      srcs.forEach((s, i) => {
        if (typeof s === 'string') this.checkSourceName(s, ['caches', name, 'sources', i], false);
      });
    } else if (isDict(srcs)) {
      const bands = Object.keys(srcs);
      if (bands.includes('l') && bands.length > 1) {
        this.r.error(['caches', name, 'sources'], "band 'l' cannot be combined with other bands");
      }
      for (const [band, list] of Object.entries(srcs)) {
        if (!Array.isArray(list)) continue;
        list.forEach((b, i) => {
          if (isDict(b) && typeof b.source === 'string') {
            this.checkSourceName(b.source, ['caches', name, 'sources', band, i, 'source'], false);
          }
        });
      }
    }
    if (Array.isArray(cache.grids)) {
      cache.grids.forEach((g, i) => {
        if (typeof g === 'string') this.checkGrid(g, ['caches', name, 'grids', i]);
      });
    }
  }

  /** Names of caches used by `cache` as sources, each with the key path of its use. */
  private cacheEdges(name: string): { target: string; path: PathSegment[] }[] {
    const cache = this.caches[name];
    if (!isDict(cache)) return [];
    const out: { target: string; path: PathSegment[] }[] = [];
    const add = (s: unknown, path: PathSegment[]) => {
      if (typeof s !== 'string') return;
      const { source } = splitTagged(s);
      // a source of the same name shadows a cache (MapProxy looks up sources first)
      if (Object.prototype.hasOwnProperty.call(this.sources, source)) return;
      if (Object.prototype.hasOwnProperty.call(this.caches, source)) out.push({ target: source, path });
    };
    if (Array.isArray(cache.sources)) cache.sources.forEach((s, i) => add(s, ['caches', name, 'sources', i]));
    else if (isDict(cache.sources)) {
      for (const [band, list] of Object.entries(cache.sources)) {
        if (Array.isArray(list)) {
          list.forEach((b, i) => isDict(b) && add(b.source, ['caches', name, 'sources', band, i, 'source']));
        }
      }
    }
    return out;
  }

  private checkCacheCycles(): void {
    const state = new Map<string, 'active' | 'done'>();
    const stack: string[] = [];
    const visit = (name: string) => {
      state.set(name, 'active');
      stack.push(name);
      for (const edge of this.cacheEdges(name)) {
        const st = state.get(edge.target);
        if (st === 'active') {
          const cycle = [...stack.slice(stack.indexOf(edge.target)), edge.target];
          const detail =
            cycle.length === 2
              ? `cache '${name}' uses itself as a source`
              : `cache '${edge.target}' uses itself as a source (${cycle.join(' -> ')})`;
          this.r.error(edge.path, detail);
        } else if (st === undefined) visit(edge.target);
      }
      stack.pop();
      state.set(name, 'done');
    };
    for (const name of Object.keys(this.caches)) if (!state.has(name)) visit(name);
  }

  private checkLayer(layer: unknown, path: PathSegment[], seen: Map<string, string>): void {
    if (!isDict(layer)) return;
    const label = typeof layer.name === 'string' ? `'${layer.name}'` : `'${String(layer.title ?? '')}'`;
    if (typeof layer.name === 'string') {
      const prev = seen.get(layer.name);
      if (prev) this.r.warn([...path, 'name'], `layer name '${layer.name}' is already used by ${prev}; the later one wins`);
      else seen.set(layer.name, formatPath(path));
    }
    const has = (k: string) => Array.isArray(layer[k]) && (layer[k] as unknown[]).length > 0;
    if (!has('sources') && !has('tile_sources') && !has('layers')) {
      this.r.warn(path, `layer ${label} has no sources, tile_sources or layers`);
    }
    if (Array.isArray(layer.sources)) {
      layer.sources.forEach((s, i) => {
        if (typeof s === 'string') this.checkSourceName(s, [...path, 'sources', i], true);
      });
    }
    if (Array.isArray(layer.tile_sources)) {
      layer.tile_sources.forEach((s, i) => {
        if (typeof s === 'string' && !Object.prototype.hasOwnProperty.call(this.caches, s)) {
          this.r.error([...path, 'tile_sources', i], `unknown cache '${s}'`);
        }
      });
    }
    if (Array.isArray(layer.layers)) layer.layers.forEach((l, i) => this.checkLayer(l, [...path, 'layers', i], seen));
  }
}

/** Checks a merged mapproxy.yaml against the option spec and its cross references. */
export function validateConfig(conf: Record<string, unknown>, locate: Locator, mainFile: string): ValidationResult {
  const r = new Reporter(locate, mainFile);
  checkSpec(mapproxySpec, conf, [], r);
  new References(conf, r).run();
  return { errors: r.errors, warnings: r.warnings };
}

/** Checks a document against an option spec only (seed.yaml: unknown keys are warnings, wrong types errors). */
export function validateSpec(spec: DictSpec, conf: Record<string, unknown>, locate: Locator, mainFile: string): ValidationResult {
  const r = new Reporter(locate, mainFile);
  checkSpec(spec, conf, [], r);
  return { errors: r.errors, warnings: r.warnings };
}

/** Throws one ConfigError listing all errors (first one first), if there are any. */
export function throwIfErrors(errors: readonly ConfigError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new ConfigErrors(errors);
}

/**
 * loadConfig(): mapproxy.yaml plus its `base:` files -> one merged, validated,
 * frozen config that still knows the file and line of every key.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import process from 'node:process';
import { ConfigError } from '../errors.ts';
import { deepFreeze } from './defaults.ts';
import { isDict, mergeDict } from './merge.ts';
import { formatPath, PositionMap, type PathSegment, type SourcePos } from './positions.ts';
import { throwIfErrors, validateConfig } from './validate.ts';
import { makeWarning, type ConfigWarning } from './warnings.ts';
import { parseYamlFile, type ParseContext } from './yaml-file.ts';

export type { ConfigWarning } from './warnings.ts';
export type { SourcePos, PathSegment } from './positions.ts';

/** The merged configuration data, as plain frozen JSON-like values. */
export type ConfigData = Readonly<Record<string, unknown>>;

/** A loaded configuration and where each of its values came from. */
export interface LoadedConfig {
  /** Merged data of the config and all its base files (deep-frozen; `base` removed). */
  readonly conf: ConfigData;
  /** Absolute path of the main config file. */
  readonly configFile: string;
  /** Directory of the main config file: relative paths in the config are relative to it. */
  readonly configDir: string;
  /** Absolute paths of every file read (main file first, bases after), for reloaders. */
  readonly files: string[];
  /** Non-fatal findings, each with file, line and key path. */
  readonly warnings: ConfigWarning[];
  /** File and line of the value at a key path (or of its deepest existing prefix). */
  locate(path: readonly PathSegment[]): SourcePos | undefined;
}

/** Options of loadConfig / loadConfigString. */
export interface LoadOptions {
  /** Variables for $VAR / ${VAR} substitution; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Check the result against the mapproxy.yaml spec and references (default true). Off for seed.yaml. */
  validate?: boolean;
}

/** Name of a file as shown in messages: relative to the cwd when inside it, else absolute. */
export function displayName(absFile: string): string {
  const rel = path.relative(process.cwd(), absFile);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
  return absFile;
}

interface Loader {
  ctx: ParseContext;
  files: string[];
}

function readText(absFile: string, from: { pos?: SourcePos; name: string } | undefined): string {
  try {
    return fs.readFileSync(absFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? String(e)})`;
    if (from) {
      throw new ConfigError(`base file '${from.name}' ${why} (looked at ${absFile})`, {
        file: from.pos?.file ?? displayName(absFile),
        line: from.pos?.line,
        path: 'base',
      });
    }
    throw new ConfigError(`config file ${why}`, { file: displayName(absFile), path: '' });
  }
}

// Old syntax `layers: {name: {...}}` or `layers: [{name: {...}}, ...]`, still accepted by
// MapProxy with a deprecation warning. Converted per file so base merging sees lists.
function convertLegacyLayers(data: Record<string, unknown>, file: string, l: Loader): Record<string, unknown> {
  const layers = data.layers;
  const pm = l.ctx.positions;
  let entries: { name: string; body: unknown; pos: SourcePos | undefined }[] | undefined;
  if (isDict(layers)) {
    entries = Object.entries(layers).map(([name, body]) => ({ name, body, pos: pm.keyPos(layers, name) }));
  } else if (
    Array.isArray(layers) &&
    layers.length > 0 &&
    layers.every((it) => isDict(it) && Object.keys(it).length === 1 && (isDict(Object.values(it)[0]) || Object.values(it)[0] === null))
  ) {
    entries = layers.map((it) => {
      const d = it as Record<string, unknown>;
      const name = Object.keys(d)[0];
      return { name, body: d[name], pos: pm.keyPos(d, name) };
    });
  }
  if (!entries) return data;
  const layersPos = pm.keyPos(data, 'layers');
  l.ctx.warnings.push(
    makeWarning(
      file,
      layersPos?.line,
      'layers',
      "old layer syntax (layer names as keys) is deprecated, write a list of layers with 'name:' instead",
    ),
  );
  const list: unknown[] = [];
  if (layersPos) pm.add(list, layersPos);
  entries.forEach((e, i) => {
    const layer: Record<string, unknown> = { name: e.name };
    const p = e.pos ?? layersPos;
    if (p) {
      pm.add(layer, p);
      pm.setKey(layer, 'name', p);
      pm.setKey(list, i, p);
    }
    if (isDict(e.body)) {
      for (const [k, v] of Object.entries(e.body)) {
        if (k === 'name') continue;
        layer[k] = v;
        const kp = pm.keyPos(e.body, k);
        if (kp) pm.setKey(layer, k, kp);
      }
    }
    list.push(layer);
  });
  const out: Record<string, unknown> = {};
  pm.add(out, pm.nodePos(data) ?? { file, line: 1 });
  for (const [k, v] of Object.entries(data)) {
    out[k] = k === 'layers' ? list : v;
    const kp = pm.keyPos(data, k);
    if (kp) pm.setKey(out, k, kp);
  }
  return out;
}

function baseList(value: unknown, pos: SourcePos | undefined, file: string): string[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string' && v !== '')) {
    throw new ConfigError('expected a file name or a list of file names', { file: pos?.file ?? file, line: pos?.line, path: 'base' });
  }
  return list as string[];
}

// Loads one file and, recursively, its bases. `stack` holds the files that
// include this one, to catch cycles; the same file reached twice by two
// different branches is fine. `text` stands in for the file's content.
function loadTree(
  absFile: string,
  l: Loader,
  stack: readonly string[],
  from?: { pos?: SourcePos; name: string },
  text?: string,
): Record<string, unknown> {
  const file = displayName(absFile);
  if (stack.includes(absFile)) {
    const chain = [...stack.slice(stack.indexOf(absFile)), absFile].map(displayName).join(' -> ');
    throw new ConfigError(`base files include each other in a cycle: ${chain}`, {
      file: from?.pos?.file ?? file,
      line: from?.pos?.line,
      path: 'base',
    });
  }
  const content = text ?? readText(absFile, from);
  if (!l.files.includes(absFile)) l.files.push(absFile);
  const data = convertLegacyLayers(parseYamlFile(content, file, l.ctx), file, l);
  if (!Object.prototype.hasOwnProperty.call(data, 'base')) return data;

  const pm = l.ctx.positions;
  const basePos = pm.keyPos(data, 'base');
  const names = baseList(data.base, basePos, file);
  const own: Record<string, unknown> = {};
  pm.add(own, pm.nodePos(data) ?? { file, line: 1 });
  for (const [k, v] of Object.entries(data)) {
    if (k === 'base') continue;
    own[k] = v;
    const kp = pm.keyPos(data, k);
    if (kp) pm.setKey(own, k, kp);
  }
  if (names.length === 0) return own;

  const dir = path.dirname(absFile);
  const baseItems = data.base;
  let imported: Record<string, unknown> | undefined;
  names.forEach((name, i) => {
    const pos = (Array.isArray(baseItems) ? pm.keyPos(baseItems, i) : undefined) ?? basePos;
    const tree = loadTree(path.resolve(dir, name), l, [...stack, absFile], { pos, name });
    // MapProxy merges the accumulated earlier bases into each later one, so in
    // `base: [a.yaml, b.yaml]` a.yaml wins over b.yaml (and b's list items come first).
    imported = imported === undefined ? tree : mergeDict(imported, tree, pm);
  });
  return mergeDict(own, imported as Record<string, unknown>, pm);
}

function load(absFile: string, text: string | undefined, opts: LoadOptions): LoadedConfig {
  const pm = new PositionMap();
  const l: Loader = {
    ctx: { positions: pm, warnings: [], env: opts.env ?? process.env, warnedEnv: new Set() },
    files: [],
  };
  const data = loadTree(absFile, l, [], undefined, text);
  const locate = (p: readonly PathSegment[]) => pm.locate(data, p);
  const warnings = [...l.ctx.warnings];
  if (opts.validate !== false) {
    const result = validateConfig(data, locate, displayName(absFile));
    warnings.push(...result.warnings);
    throwIfErrors(result.errors);
  }
  deepFreeze(data);
  return {
    conf: data,
    configFile: absFile,
    configDir: path.dirname(absFile),
    files: [...l.files],
    warnings,
    locate,
  };
}

/** Loads, merges and validates a mapproxy.yaml; throws ConfigError naming file, line and key path. */
export function loadConfig(file: string, opts: LoadOptions = {}): LoadedConfig {
  return load(path.resolve(file), undefined, opts);
}

/** Like loadConfig, but the main file's text is given (bases are read relative to `fileName`). */
export function loadConfigString(text: string, fileName = 'mapproxy.yaml', opts: LoadOptions = {}): LoadedConfig {
  return load(path.resolve(fileName), text, opts);
}

/** `file:line: path: message` for the value at a key path of a loaded config. */
export function describeAt(loaded: LoadedConfig, keyPath: readonly PathSegment[], message: string): string {
  const pos = loaded.locate(keyPath);
  const where = pos ? `${pos.file}:${pos.line}` : displayName(loaded.configFile);
  return keyPath.length ? `${where}: ${formatPath(keyPath)}: ${message}` : `${where}: ${message}`;
}

/** A ConfigError for the value at a key path, for modules that find a bad value after loading. */
export function configErrorAt(loaded: LoadedConfig, keyPath: readonly PathSegment[], detail: string): ConfigError {
  const pos = loaded.locate(keyPath);
  return new ConfigError(detail, {
    file: pos?.file ?? displayName(loaded.configFile),
    line: pos?.line,
    path: formatPath(keyPath),
  });
}

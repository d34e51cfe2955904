/**
 * One YAML file -> plain data with positions. We walk the yaml AST ourselves
 * (instead of doc.toJS()) to keep a line for every key, to resolve aliases and
 * merge keys with positions, and to substitute $ENV variables on the way.
 */

import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type Tags,
} from 'yaml';
import { ConfigError } from '../errors.ts';
import { formatPath, type PathSegment, type PositionMap, type SourcePos } from './positions.ts';
import { makeWarning, type ConfigWarning } from './warnings.ts';

/** Shared state of one loadConfig() call. */
export interface ParseContext {
  positions: PositionMap;
  warnings: ConfigWarning[];
  env: Record<string, string | undefined>;
  /** Unset variable names already warned about (one warning per name and load). */
  warnedEnv: Set<string>;
}

type Dict = Record<string, unknown>;

const BOOL_TAG = 'tag:yaml.org,2002:bool';
const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';
// PyYAML's YAML 1.1 booleans: unlike the yaml package it does not treat y/n as
// booleans, which matters for keys like `y:` in coverages and templates.
const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;

// MapProxy reads YAML with PyYAML (YAML 1.1: yes/no/on/off, 0755 octal, 1:30
// sexagesimal, `<<` merge keys). Timestamps stay strings: consumers parse dates
// themselves and a Date object would not survive freezing/serialising cleanly.
function pyYamlTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const t of tags) {
    if (typeof t !== 'object' || !('tag' in t)) {
      out.push(t);
      continue;
    }
    if (t.tag === TIMESTAMP_TAG) continue;
    if (t.tag === BOOL_TAG && 'test' in t && t.test instanceof RegExp) {
      const isTrue = (t as { identify?: (v: unknown) => boolean }).identify?.(true) ?? false;
      out.push({ ...t, test: isTrue ? PY_TRUE : PY_FALSE } as typeof t);
      continue;
    }
    out.push(t);
  }
  return out;
}

const ENV_PATTERN = /\$(\w+)|\$\{([^}]+)\}/g;

/** Replaces $VAR / ${VAR} like MapProxy 6.1+; unset variables stay as written. */
export function substituteEnv(
  value: string,
  ctx: ParseContext,
  where: { file: string; line?: number; path: string },
): string {
  if (!value.includes('$')) return value;
  return value.replace(ENV_PATTERN, (match: string, plain?: string, braced?: string) => {
    const name = (plain ?? braced) as string;
    const v = Object.prototype.hasOwnProperty.call(ctx.env, name) ? ctx.env[name] : undefined;
    if (v !== undefined) return v;
    if (!ctx.warnedEnv.has(name)) {
      ctx.warnedEnv.add(name);
      ctx.warnings.push(
        makeWarning(where.file, where.line, where.path, `environment variable '${name}' is not set, '${match}' is left as it is`),
      );
    }
    return match;
  });
}

function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class FileConverter {
  private readonly lc = new LineCounter();
  private doc!: Document.Parsed;
  private depth = 0;

  constructor(
    private readonly file: string,
    private readonly ctx: ParseContext,
  ) {}

  private pos(offset: number | undefined): SourcePos {
    return { file: this.file, line: offset === undefined ? 1 : this.lc.linePos(offset).line };
  }

  private nodeStart(node: YamlNode | null | undefined, fallback: SourcePos): SourcePos {
    return node?.range ? this.pos(node.range[0]) : fallback;
  }

  parse(text: string): Dict {
    this.doc = parseDocument(text, {
      lineCounter: this.lc,
      version: '1.1',
      customTags: pyYamlTags,
      uniqueKeys: false, // PyYAML keeps the last of duplicate keys; we warn instead of failing
      prettyErrors: false,
      strict: false,
    });
    const err = this.doc.errors[0];
    if (err) {
      const where = this.pos(err.pos?.[0]);
      const detail =
        err.code === 'TAB_AS_INDENT'
          ? 'tab character in indentation, YAML allows only spaces there'
          : `YAML syntax error: ${err.message.split('\n')[0]}`;
      throw new ConfigError(detail, { file: this.file, line: where.line, path: '' });
    }
    const root = this.doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) {
      // an empty (or comments-only) file contributes nothing
      const empty: Dict = {};
      this.ctx.positions.add(empty, { file: this.file, line: 1 });
      return empty;
    }
    if (!isMap(root)) {
      throw new ConfigError('configuration is not a YAML mapping (key: value pairs)', {
        file: this.file,
        line: this.nodeStart(root, { file: this.file, line: 1 }).line,
        path: '',
      });
    }
    return this.convert(root, [], { file: this.file, line: 1 }) as Dict;
  }

  private convert(node: unknown, path: PathSegment[], at: SourcePos): unknown {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) {
        throw new ConfigError(`unknown alias '*${node.source}'`, { file: this.file, line: at.line, path: formatPath(path) });
      }
      if (++this.depth > 200) {
        throw new ConfigError(`alias '*${node.source}' refers to itself`, { file: this.file, line: at.line, path: formatPath(path) });
      }
      try {
        // a fresh copy per use, so merging one use never changes another
        return this.convert(target, path, at);
      } finally {
        this.depth--;
      }
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string') return substituteEnv(v, this.ctx, { file: this.file, line: at.line, path: formatPath(path) });
      if (typeof v === 'bigint') return Number(v);
      if (v instanceof Date) return String(node.source ?? v.toISOString());
      return v ?? null;
    }
    if (isSeq(node)) {
      const out: unknown[] = [];
      this.ctx.positions.add(out, this.nodeStart(node as YamlNode, at));
      node.items.forEach((item, i) => {
        const p = this.nodeStart(item as YamlNode, at);
        out.push(this.convert(item, [...path, i], p));
        this.ctx.positions.setKey(out, i, p);
      });
      return out;
    }
    if (isMap(node)) return this.convertMap(node, path, at);
    throw new ConfigError('unsupported YAML node', { file: this.file, line: at.line, path: formatPath(path) });
  }

  private convertMap(node: YamlNode & { items: unknown[] }, path: PathSegment[], at: SourcePos): Dict {
    const out: Dict = {};
    const positions = this.ctx.positions;
    positions.add(out, this.nodeStart(node, at));
    const explicit: { key: string; value: unknown; pos: SourcePos }[] = [];
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const kpos = this.nodeStart(keyNode, at);
      if (isScalar(keyNode) && typeof keyNode.value === 'symbol' && keyNode.value.description === '<<') {
        this.mergeInto(out, pair.value, path, kpos);
        continue;
      }
      let key: string;
      if (keyNode === null || keyNode === undefined) key = 'null';
      else if (isScalar(keyNode)) key = String(keyNode.value);
      else {
        throw new ConfigError('only plain keys are supported (found a list or mapping as a key)', {
          file: this.file,
          line: kpos.line,
          path: formatPath(path),
        });
      }
      if (seen.has(key)) {
        this.ctx.warnings.push(
          makeWarning(this.file, kpos.line, formatPath([...path, key]), `duplicate key '${key}', this later one wins`),
        );
      }
      seen.add(key);
      explicit.push({ key, value: this.convert(pair.value, [...path, key], kpos), pos: kpos });
    }
    // explicit keys win over merged ones, wherever they stand (YAML merge rules)
    for (const e of explicit) {
      out[e.key] = e.value;
      positions.setKey(out, e.key, e.pos);
    }
    return out;
  }

  private mergeInto(out: Dict, value: unknown, path: PathSegment[], kpos: SourcePos): void {
    const merged = this.convert(value, path, kpos);
    const sources = Array.isArray(merged) ? merged : [merged];
    for (const src of sources) {
      if (!isDict(src)) {
        throw new ConfigError("'<<' merge key needs a mapping or a list of mappings", {
          file: this.file,
          line: kpos.line,
          path: formatPath(path),
        });
      }
      for (const [k, v] of Object.entries(src)) {
        // earlier merge sources win over later ones
        if (Object.prototype.hasOwnProperty.call(out, k)) continue;
        out[k] = v;
        this.ctx.positions.setKey(out, k, this.ctx.positions.keyPos(src, k) ?? kpos);
      }
    }
  }
}

/** Parses one YAML file's text into plain data, recording positions and warnings in ctx. */
export function parseYamlFile(text: string, file: string, ctx: ParseContext): Record<string, unknown> {
  return new FileConverter(file, ctx).parse(text);
}

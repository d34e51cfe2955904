/**
 * applyLogConfig: read a MapProxy log.ini (the format of Python's
 * logging.config.fileConfig) and install it. The subset that logging setups
 * use is read: [loggers]/[handlers]/[formatters] key lists, logger level,
 * handlers, qualname and propagate; StreamHandler, FileHandler,
 * RotatingFileHandler, WatchedFileHandler and NullHandler with Python-literal
 * args/kwargs; %-style formats with datefmt, or JSON lines. %(here)s is the
 * directory of the ini file. Anything else is a ConfigError naming file, line
 * and key, and the running setup stays as it was.
 *
 * Differences from Python, on purpose: existing loggers are not disabled
 * (all of ours exist from the start, so disable_existing_loggers would mute
 * everything); a handler without a formatter uses the default line
 * (setLogFormat) instead of the bare message.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.ts';
import {
  configureLogging,
  fileHandler,
  jsonFormatter,
  LEVEL_NUMBERS,
  nullHandler,
  streamHandler,
  textFormatter,
  type Formatter,
  type LoggerConfig,
  type LogHandler,
} from './logger.ts';

export { setLogFormat } from './logger.ts';

interface Entry {
  value: string;
  line: number;
}

interface Section {
  name: string;
  line: number;
  entries: Map<string, Entry>;
}

/** A parsed ini file: sections in file order, [DEFAULT] apart. */
interface Ini {
  file: string;
  sections: Map<string, Section>;
  defaults: Map<string, Entry>;
}

/** Read the log config file and make it the logging setup (replacing the previous one). */
export function applyLogConfig(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? 'log config file not found' : `log config file cannot be read (${code ?? String(e)})`, { file, path: '' });
  }
  const ini = parseIni(text.replace(/^\uFEFF/, ''), file);
  ini.defaults.set('here', ini.defaults.get('here') ?? { value: path.dirname(path.resolve(file)), line: 0 });
  const created: LogHandler[] = [];
  try {
    configureLogging({ loggers: buildLoggers(ini, created) });
  } catch (e) {
    for (const h of created) h.close();
    throw e;
  }
}

function fail(ini: Ini, line: number | undefined, key: string, msg: string): never {
  throw new ConfigError(msg, { file: ini.file, line: line || undefined, path: key });
}

// ---------------------------------------------------------------- ini syntax (configparser's rules)

function parseIni(text: string, file: string): Ini {
  const ini: Ini = { file, sections: new Map(), defaults: new Map() };
  let current: Map<string, Entry> | undefined;
  let currentName = '';
  let last: Entry | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const lineNo = i + 1;
    const trimmed = raw.trim();
    if (!trimmed) {
      last = undefined;
      continue;
    }
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    if (/^\s/.test(raw) && last) {
      // an indented line continues the value above it
      last.value += `\n${trimmed}`;
      continue;
    }
    const sect = /^\[(.+)\]$/.exec(trimmed);
    if (sect) {
      currentName = sect[1];
      last = undefined;
      if (currentName === 'DEFAULT') {
        current = ini.defaults;
        continue;
      }
      if (ini.sections.has(currentName)) fail(ini, lineNo, `[${currentName}]`, `section [${currentName}] appears twice (first on line ${ini.sections.get(currentName)!.line})`);
      const s: Section = { name: currentName, line: lineNo, entries: new Map() };
      ini.sections.set(currentName, s);
      current = s.entries;
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!kv) fail(ini, lineNo, currentName, `cannot read line '${trimmed}': expected 'key = value', '[section]' or a comment`);
    if (!current) fail(ini, lineNo, kv[1], `'${kv[1]}' stands before the first [section]`);
    const key = kv[1].toLowerCase();
    if (current.has(key)) fail(ini, lineNo, `${currentName}.${key}`, `key '${key}' appears twice in [${currentName}] (first on line ${current.get(key)!.line})`);
    last = { value: kv[2], line: lineNo };
    current.set(key, last);
  }
  if (!ini.sections.size) fail(ini, undefined, '', 'no [sections] found: not a log.ini file');
  return ini;
}

/** A value with %(name)s references filled in from its section, [DEFAULT] and `here` (configparser's BasicInterpolation). */
function interpolated(ini: Ini, sec: Section, key: string, entry: Entry, depth = 0, value = entry.value): string {
  if (depth > 10) fail(ini, entry.line, `${sec.name}.${key}`, 'interpolation nested too deeply (a reference loop?)');
  return value.replace(/%(%|\(([^)]*)\)s|.?)/g, (all, what: string, ref: string | undefined) => {
    if (what === '%') return '%';
    if (ref === undefined) fail(ini, entry.line, `${sec.name}.${key}`, `'%' must be followed by '%' or '(name)s', found '${all}' (write %% for a percent sign)`);
    const name = ref.toLowerCase();
    const target = sec.entries.get(name) ?? ini.defaults.get(name);
    if (!target) {
      const known = [...new Set([...sec.entries.keys(), ...ini.defaults.keys()])].join(', ');
      fail(ini, entry.line, `${sec.name}.${key}`, `unknown reference %(${ref})s (known here: ${known})`);
    }
    return interpolated(ini, sec, key, entry, depth + 1, target.value);
  });
}

function get(ini: Ini, sec: Section, key: string, raw = false): string | undefined {
  const e = sec.entries.get(key);
  if (!e) return undefined;
  return raw ? e.value : interpolated(ini, sec, key, e);
}

function lineOf(sec: Section, key: string): number {
  return sec.entries.get(key)?.line ?? sec.line;
}

function checkKeys(ini: Ini, sec: Section, allowed: string[]): void {
  for (const [k, e] of sec.entries) {
    if (!allowed.includes(k)) fail(ini, e.line, `${sec.name}.${k}`, `unknown key '${k}' in [${sec.name}] (known: ${allowed.join(', ')})`);
  }
}

/** The comma-separated `keys` of [loggers], [handlers] or [formatters]; empty when the section is absent (except loggers). */
function keyList(ini: Ini, name: string): { names: string[]; line: number } {
  const sec = ini.sections.get(name);
  if (!sec) {
    if (name === 'loggers') fail(ini, undefined, '[loggers]', 'no [loggers] section: a log config lists its loggers there (keys=root,...)');
    return { names: [], line: 0 };
  }
  checkKeys(ini, sec, ['keys']);
  const v = get(ini, sec, 'keys') ?? '';
  return { names: splitList(v), line: lineOf(sec, 'keys') };
}

function splitList(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function sectionFor(ini: Ini, kind: string, name: string, listLine: number): Section {
  const sec = ini.sections.get(`${kind}_${name}`);
  if (!sec) fail(ini, listLine, `${kind}s.keys`, `${kind} '${name}' is listed but there is no [${kind}_${name}] section`);
  return sec;
}

// ---------------------------------------------------------------- levels

function parseLevel(ini: Ini, sec: Section): number | undefined {
  const v = get(ini, sec, 'level');
  if (v === undefined) return undefined;
  const name = v.trim().toUpperCase();
  if (name === 'NOTSET') return undefined;
  const alias: Record<string, keyof typeof LEVEL_NUMBERS> = {
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warning',
    WARNING: 'warning',
    ERROR: 'error',
    CRITICAL: 'critical',
    FATAL: 'critical',
  };
  const l = alias[name];
  if (!l) fail(ini, lineOf(sec, 'level'), `${sec.name}.level`, `unknown level '${v}' (use DEBUG, INFO, WARNING, ERROR, CRITICAL or NOTSET)`);
  return LEVEL_NUMBERS[l];
}

// ---------------------------------------------------------------- formatters

function buildFormatters(ini: Ini): Map<string, Formatter> {
  const out = new Map<string, Formatter>();
  const { names, line } = keyList(ini, 'formatters');
  for (const name of names) {
    const sec = sectionFor(ini, 'formatter', name, line);
    checkKeys(ini, sec, ['format', 'datefmt', 'style', 'class', 'validate']);
    const cls = (get(ini, sec, 'class') ?? 'logging.Formatter').trim();
    const style = (get(ini, sec, 'style') ?? '%').trim();
    if (style !== '%') fail(ini, lineOf(sec, 'style'), `${sec.name}.style`, `only style '%' is supported (%(name)s fields), not '${style}'`);
    if (/^(logging\.)?Formatter$/.test(cls)) {
      // format and datefmt are read raw, as fileConfig does: their %(...)s are record fields
      const fmt = get(ini, sec, 'format', true);
      const datefmt = get(ini, sec, 'datefmt', true);
      try {
        out.set(name, textFormatter(fmt ?? '%(message)s', datefmt || undefined));
      } catch (e) {
        const key = /date code/.test((e as Error).message) ? 'datefmt' : 'format';
        fail(ini, lineOf(sec, key), `${sec.name}.${key}`, (e as Error).message);
      }
    } else if (/^(json|pythonjsonlogger\.(jsonlogger|json)\.JsonFormatter)$/.test(cls)) {
      out.set(name, jsonFormatter());
    } else {
      fail(ini, lineOf(sec, 'class'), `${sec.name}.class`, `unsupported formatter class '${cls}' (logging.Formatter, or json / pythonjsonlogger.jsonlogger.JsonFormatter for JSON lines)`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- Python literals in args / kwargs

type PyValue = string | number | boolean | null | { stream: 'stderr' | 'stdout' } | PyValue[] | Map<string, PyValue>;

class LiteralError extends Error {}

/** Evaluate the Python literal subset log configs use: strings, numbers (also 10*1024*1024), None/True/False, sys.stderr/stdout, tuples, dicts. */
function pyLiteral(src: string): PyValue {
  let pos = 0;
  const ws = () => {
    while (pos < src.length && /\s/.test(src[pos])) pos++;
  };
  const peek = () => {
    ws();
    return src[pos];
  };
  const expect = (c: string) => {
    if (peek() !== c) throw new LiteralError(`expected '${c}' at '${src.slice(pos, pos + 12) || 'end'}'`);
    pos++;
  };
  const str = (): string => {
    let raw = false;
    if (/[rRuU]/.test(src[pos])) {
      raw = /[rR]/.test(src[pos]);
      pos++;
    }
    const q = src[pos++];
    let s = '';
    for (;;) {
      if (pos >= src.length) throw new LiteralError('unterminated string');
      const c = src[pos++];
      if (c === q) return s;
      if (c !== '\\') {
        s += c;
        continue;
      }
      const n = src[pos++];
      if (raw) {
        s += `\\${n}`;
        continue;
      }
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
      if (n in simple) s += simple[n];
      else if (n === 'x' || n === 'u') {
        const len = n === 'x' ? 2 : 4;
        const hex = src.slice(pos, pos + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw new LiteralError(`bad \\${n} escape`);
        s += String.fromCharCode(parseInt(hex, 16));
        pos += len;
      } else s += `\\${n}`;
    }
  };
  const atom = (): PyValue => {
    const c = peek();
    if (c === undefined) throw new LiteralError('unexpected end');
    if (c === '(' || c === '[') {
      pos++;
      const close = c === '(' ? ')' : ']';
      const items: PyValue[] = [];
      let comma = false;
      while (peek() !== close) {
        items.push(sum());
        if (peek() === ',') {
          pos++;
          comma = true;
        } else break;
      }
      expect(close);
      // (x) is just x in Python; only (x,) is a tuple
      if (c === '(' && items.length === 1 && !comma) return items[0];
      return items;
    }
    if (c === '{') {
      pos++;
      const m = new Map<string, PyValue>();
      while (peek() !== '}') {
        const k = sum();
        if (typeof k !== 'string') throw new LiteralError('dict keys must be strings');
        expect(':');
        m.set(k, sum());
        if (peek() === ',') pos++;
        else break;
      }
      expect('}');
      return m;
    }
    if (c === "'" || c === '"' || (/[rRuU]/.test(c) && /['"]/.test(src[pos + 1] ?? ''))) return str();
    const num = /^-?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+)/.exec(src.slice(pos));
    if (num) {
      pos += num[0].length;
      return Number(num[0].replace(/_/g, ''));
    }
    const name = /^[A-Za-z_][\w.]*/.exec(src.slice(pos));
    if (name) {
      pos += name[0].length;
      const names: Record<string, PyValue> = {
        None: null,
        True: true,
        False: false,
        'sys.stderr': { stream: 'stderr' },
        'sys.stdout': { stream: 'stdout' },
      };
      if (name[0] in names) return names[name[0]];
      throw new LiteralError(`'${name[0]}' cannot be evaluated here (only literals, None, True, False, sys.stderr, sys.stdout)`);
    }
    throw new LiteralError(`unexpected '${src.slice(pos, pos + 12)}'`);
  };
  const term = (): PyValue => {
    let v = atom();
    while (peek() === '*') {
      pos++;
      const r = atom();
      if (typeof v !== 'number' || typeof r !== 'number') throw new LiteralError("'*' only between numbers");
      v *= r;
    }
    return v;
  };
  const sum = (): PyValue => {
    let v = term();
    while (peek() === '+') {
      pos++;
      const r = term();
      if (typeof v !== 'number' || typeof r !== 'number') throw new LiteralError("'+' only between numbers");
      v += r;
    }
    return v;
  };
  const first = sum();
  // a bare `a, b` is a tuple in Python too
  if (peek() === ',') {
    const items = [first];
    while (peek() === ',') {
      pos++;
      if (peek() === undefined) break;
      items.push(sum());
    }
    if (peek() !== undefined) throw new LiteralError(`unexpected '${src.slice(pos, pos + 12)}'`);
    return items;
  }
  if (peek() !== undefined) throw new LiteralError(`unexpected '${src.slice(pos, pos + 12)}'`);
  return first;
}

// ---------------------------------------------------------------- handlers

const HANDLER_PARAMS: Record<string, string[]> = {
  StreamHandler: ['stream'],
  FileHandler: ['filename', 'mode', 'encoding', 'delay', 'errors'],
  'handlers.WatchedFileHandler': ['filename', 'mode', 'encoding', 'delay', 'errors'],
  'handlers.RotatingFileHandler': ['filename', 'mode', 'maxBytes', 'backupCount', 'encoding', 'delay', 'errors'],
  NullHandler: [],
};

function describe(v: PyValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return 'a tuple';
  if (v instanceof Map) return 'a dict';
  if (typeof v === 'object') return `sys.${v.stream}`;
  return String(v);
}

function buildHandlers(ini: Ini, formatters: Map<string, Formatter>, created: LogHandler[]): Map<string, LogHandler> {
  const out = new Map<string, LogHandler>();
  const { names, line } = keyList(ini, 'handlers');
  for (const name of names) {
    const sec = sectionFor(ini, 'handler', name, line);
    checkKeys(ini, sec, ['class', 'level', 'formatter', 'args', 'kwargs']);
    const where = (key: string) => [lineOf(sec, key), `${sec.name}.${key}`] as const;
    const rawCls = get(ini, sec, 'class');
    if (!rawCls) fail(ini, sec.line, `${sec.name}.class`, 'a handler needs class= (StreamHandler, FileHandler, handlers.RotatingFileHandler, ...)');
    const cls = rawCls.trim().replace(/^logging\./, '');
    const params = HANDLER_PARAMS[cls];
    if (!params) {
      fail(ini, ...where('class'), `unsupported handler class '${rawCls.trim()}' (supported: ${Object.keys(HANDLER_PARAMS).join(', ')})`);
    }
    const fname = get(ini, sec, 'formatter')?.trim();
    let formatter: Formatter | undefined;
    if (fname) {
      formatter = formatters.get(fname);
      if (!formatter) fail(ini, ...where('formatter'), `unknown formatter '${fname}' (listed in [formatters]: ${[...formatters.keys()].join(', ') || 'none'})`);
    }
    const level = parseLevel(ini, sec) ?? 0;

    const evalKey = (key: string, dflt: string): PyValue => {
      const v = get(ini, sec, key) ?? dflt;
      try {
        return pyLiteral(v);
      } catch (e) {
        return fail(ini, ...where(key), `cannot evaluate '${v}': ${(e as Error).message}`);
      }
    };
    const args = evalKey('args', '()');
    if (!Array.isArray(args)) {
      fail(ini, ...where('args'), `args must be a tuple, got ${describe(args)}: write (${describe(args)},) with a trailing comma`);
    }
    const kwargs = evalKey('kwargs', '{}');
    if (!(kwargs instanceof Map)) fail(ini, ...where('kwargs'), `kwargs must be a dict like {'maxBytes': 10485760}, got ${describe(kwargs)}`);
    if (args.length > params.length) fail(ini, ...where('args'), `${cls} takes at most ${params.length} arguments (${params.join(', ') || 'none'}), got ${args.length}`);
    const p: Record<string, PyValue> = {};
    args.forEach((v, i) => (p[params[i]] = v));
    for (const [k, v] of kwargs) {
      if (!params.includes(k)) fail(ini, ...where('kwargs'), `${cls} has no argument '${k}' (${params.join(', ') || 'none'})`);
      if (k in p) fail(ini, ...where('kwargs'), `argument '${k}' is given in args and kwargs`);
      p[k] = v;
    }
    const bad = (key: string, want: string): never => {
      const inArgs = params.indexOf(key) < args.length;
      return fail(ini, ...where(inArgs ? 'args' : 'kwargs'), `${key} must be ${want}, got ${describe(p[key])}`);
    };

    let h: LogHandler;
    if (cls === 'StreamHandler') {
      const s = p.stream ?? null;
      if (s !== null && (typeof s !== 'object' || !('stream' in s))) bad('stream', 'sys.stderr or sys.stdout');
      h = streamHandler(s === null ? 'stderr' : (s as { stream: 'stderr' | 'stdout' }).stream, formatter, level);
    } else if (cls === 'NullHandler') {
      h = nullHandler();
    } else {
      if (typeof p.filename !== 'string' || !p.filename) bad('filename', 'a file name');
      const mode = p.mode ?? 'a';
      if (mode !== 'a' && mode !== 'w') bad('mode', "'a' (append) or 'w' (truncate)");
      const enc = p.encoding ?? null;
      if (enc !== null && !(typeof enc === 'string' && /^utf-?8$/i.test(enc))) bad('encoding', "None or 'utf-8' (files are written as UTF-8)");
      const delay = p.delay ?? false;
      if (typeof delay !== 'boolean' && delay !== 0 && delay !== 1) bad('delay', 'True or False');
      const maxBytes = p.maxBytes ?? 0;
      const backupCount = p.backupCount ?? 0;
      if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 0) bad('maxBytes', 'a whole number of bytes');
      if (typeof backupCount !== 'number' || !Number.isInteger(backupCount) || backupCount < 0) bad('backupCount', 'a whole number');
      try {
        h = fileHandler(
          p.filename as string,
          {
            mode: mode as 'a' | 'w',
            delay: Boolean(delay),
            maxBytes: maxBytes as number,
            backupCount: backupCount as number,
            watch: cls === 'handlers.WatchedFileHandler',
          },
          formatter,
          level,
        );
      } catch (e) {
        const inArgs = args.length > 0;
        return fail(ini, ...where(inArgs ? 'args' : 'kwargs'), `cannot open log file '${path.resolve(p.filename as string)}': ${(e as Error).message}`);
      }
    }
    created.push(h);
    out.set(name, h);
  }
  return out;
}

// ---------------------------------------------------------------- loggers

function buildLoggers(ini: Ini, created: LogHandler[]): Record<string, LoggerConfig> {
  const formatters = buildFormatters(ini);
  const handlers = buildHandlers(ini, formatters, created);
  const { names, line } = keyList(ini, 'loggers');
  const out: Record<string, LoggerConfig> = {};
  const seen = new Map<string, string>();
  for (const name of names) {
    const sec = sectionFor(ini, 'logger', name, line);
    const isRoot = name === 'root';
    checkKeys(ini, sec, ['level', 'handlers', 'qualname', 'propagate']);
    let qualname = '';
    if (!isRoot) {
      qualname = get(ini, sec, 'qualname')?.trim() ?? '';
      if (!qualname) fail(ini, sec.line, `${sec.name}.qualname`, `[${sec.name}] needs qualname= (the logger name, e.g. mapproxy.source.request)`);
      if (qualname === 'root') qualname = '';
    }
    const other = seen.get(qualname);
    if (other) fail(ini, lineOf(sec, 'qualname'), `${sec.name}.qualname`, `logger '${qualname || 'root'}' is already configured by [${other}]`);
    seen.set(qualname, sec.name);
    const hs: LogHandler[] = [];
    for (const hn of splitList(get(ini, sec, 'handlers') ?? '')) {
      const h = handlers.get(hn);
      if (!h) fail(ini, lineOf(sec, 'handlers'), `${sec.name}.handlers`, `unknown handler '${hn}' (listed in [handlers]: ${[...handlers.keys()].join(', ') || 'none'})`);
      hs.push(h);
    }
    let propagate = true;
    const pv = get(ini, sec, 'propagate');
    if (pv !== undefined && !isRoot) {
      const t = pv.trim().toLowerCase();
      if (['0', 'false', 'no', 'off'].includes(t)) propagate = false;
      else if (!['1', 'true', 'yes', 'on'].includes(t)) fail(ini, lineOf(sec, 'propagate'), `${sec.name}.propagate`, `expected 0 or 1, got '${pv}'`);
    }
    // Python's root is always set: NOTSET there means "everything"
    const level = parseLevel(ini, sec) ?? (isRoot && sec.entries.has('level') ? 0 : undefined);
    out[qualname] = { level: isRoot && level === undefined ? LEVEL_NUMBERS.warning : level, handlers: hs, propagate };
  }
  return out;
}

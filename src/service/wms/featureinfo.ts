/**
 * GetFeatureInfo documents: info types and their mime types, merging the answers
 * of several sources into one document (as MapProxy's featureinfo.py), and the
 * pixel math that carries the query point into a source's request.
 *
 * Merging works on the source text instead of a parsed-and-reserialised tree:
 * what a source sent is passed on byte for byte (entities, quoting, whitespace),
 * only the seams are new. MapProxy runs everything through lxml, so it also
 * normalises the markup; the merged structure is the same.
 */
import type { Srs } from '../../srs/srs.ts';
import { isSameSrs } from '../../srs/srs.ts';
import type { Bbox, Point } from '../../srs/types.ts';
import { pyFloat } from '../../util/py-format.ts';

/** The four kinds of feature info MapProxy tells apart. */
export type InfoType = 'text' | 'html' | 'xml' | 'json';

/** One source's answer: the decoded body and the mime type it came with. */
export interface FeatureInfoDoc {
  body: string;
  mime: string;
}

const XML_MIMES = new Set(['text/xml', 'application/xml', 'application/gml+xml', 'application/vnd.ogc.gml']);
// Not in MapProxy's list, but sent by GeoServer/QGIS for the same content; merging them
// structurally beats MapProxy's fallback of gluing two JSON/GML documents with a newline.
const EXTRA_XML_MIMES = new Set(['application/vnd.ogc.gml/3.1.1']);
const EXTRA_JSON_MIMES = new Set(['application/geo+json', 'application/vnd.geo+json']);

/** The info type of a mime type (parameters such as charset ignored), as MapProxy's featureinfo_type; unknown types are text. */
export function infoTypeOf(mime: string): InfoType {
  const m = (mime ?? '').split(';', 1)[0].trim().toLowerCase();
  if (XML_MIMES.has(m) || EXTRA_XML_MIMES.has(m)) return 'xml';
  if (m === 'text/html') return 'html';
  if (m === 'application/json' || EXTRA_JSON_MIMES.has(m)) return 'json';
  return 'text';
}

/** The response mime type for an info type: XML is text/xml for WMS 1.3.0 and application/vnd.ogc.gml before. */
export function infoMimeFor(type: InfoType, version: string | undefined): string {
  switch (type) {
    case 'html': return 'text/html';
    case 'xml': return version === '1.3.0' ? 'text/xml' : 'application/vnd.ogc.gml';
    case 'json': return 'application/json';
    default: return 'text/plain';
  }
}

/** The info type of a requested INFO_FORMAT, exact per version as MapProxy's infotype_from_mimetype; undefined if not one of the four. */
export function requestedInfoType(infoFormat: string, version: string | undefined): InfoType | undefined {
  for (const t of ['text', 'html', 'xml', 'json'] as const) {
    if (infoMimeFor(t, version) === infoFormat) return t;
  }
  return undefined;
}

/**
 * Merges the documents as MapProxy's combine_docs: one type for all of them
 * merges by that type, mixed types are concatenated as text.
 */
export function combineFeatureInfo(docs: readonly FeatureInfoDoc[]): { body: string; type: InfoType } {
  const types = new Set(docs.map((d) => infoTypeOf(d.mime)));
  const type: InfoType = types.size === 1 ? [...types][0] : 'text';
  return { body: mergeFeatureInfo(docs, type), type };
}

/**
 * Merges the bodies as `type` (the mime of each doc is not consulted):
 * text joined by newlines, HTML into the first body, XML under the first root,
 * JSON objects merged. Empty docs are skipped; a doc that cannot be parsed
 * turns the whole result into the plain concatenation instead of an exception.
 */
export function mergeFeatureInfo(docs: readonly FeatureInfoDoc[], type: InfoType): string {
  try {
    switch (type) {
      case 'html': return mergeHtml(docs.map((d) => stripBom(d.body)));
      case 'xml': return mergeXml(docs.map((d) => stripBom(d.body))) ?? concatText(docs);
      case 'json': return mergeJson(docs.map((d) => stripBom(d.body))) ?? concatText(docs);
      default: return concatText(docs);
    }
  } catch {
    // a parser bug must not cost the user the answers the sources gave
    return concatText(docs);
  }
}

function stripBom(s: string): string {
  return (s ?? '').charCodeAt(0) === 0xfeff ? s.slice(1) : (s ?? '');
}

// MapProxy >= 6.1 skips empty answers so that they leave no blank lines behind.
function concatText(docs: readonly FeatureInfoDoc[]): string {
  return docs.map((d) => d.body ?? '').filter((b) => b !== '').join('\n');
}

// ---------------------------------------------------------------- XML

interface XmlAttr {
  name: string;
  value: string;
}

interface XmlElement {
  kind: 'element';
  name: string;
  attrs: XmlAttr[];
  start: number;
  /** Index just after the tag name, where namespace declarations can be inserted. */
  nameEnd: number;
  /** Index just after the start tag's '>'. */
  openEnd: number;
  /** Index of the end tag's '<' (openEnd for a self-closing element). */
  closeStart: number;
  end: number;
  selfClosing: boolean;
  children: XmlNode[];
}

interface XmlOther {
  kind: 'text' | 'cdata' | 'comment' | 'pi';
  start: number;
  end: number;
}

type XmlNode = XmlElement | XmlOther;

interface XmlDoc {
  src: string;
  root: XmlElement;
  /** Where the content after the XML declaration starts. */
  bodyStart: number;
}

const XML_NAME = /[A-Za-z_:\u00C0-\uFFFF][\w.\-:\u00B7\u00C0-\uFFFF]*/y;

function matchAt(re: RegExp, s: string, i: number): string | undefined {
  re.lastIndex = i;
  const m = re.exec(s);
  return m ? m[0] : undefined;
}

function skipWs(s: string, i: number): number {
  let j = i;
  for (let c = s.charCodeAt(j); c === 32 || c === 10 || c === 13 || c === 9; c = s.charCodeAt(++j));
  return j;
}

/** A well-formedness-checking scan (tags, not entities); undefined when the text is no XML document. */
function parseXml(src: string): XmlDoc | undefined {
  const n = src.length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let bodyStart = 0;
  let i = 0;
  const add = (node: XmlNode): boolean => {
    if (stack.length > 0) {
      stack[stack.length - 1].children.push(node);
      return true;
    }
    if (node.kind === 'element') {
      if (root) return false;
      root = node;
      return true;
    }
    if (node.kind === 'text') return src.slice(node.start, node.end).trim() === '';
    return node.kind !== 'cdata';
  };
  while (i < n) {
    if (src[i] !== '<') {
      let j = src.indexOf('<', i);
      if (j < 0) j = n;
      if (!add({ kind: 'text', start: i, end: j })) return undefined;
      i = j;
      continue;
    }
    if (src.startsWith('<!--', i)) {
      const j = src.indexOf('-->', i + 4);
      if (j < 0) return undefined;
      if (!add({ kind: 'comment', start: i, end: j + 3 })) return undefined;
      i = j + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const j = src.indexOf(']]>', i + 9);
      if (j < 0 || !add({ kind: 'cdata', start: i, end: j + 3 })) return undefined;
      i = j + 3;
    } else if (src.startsWith('<!', i)) {
      if (stack.length > 0 || root) return undefined;
      const j = doctypeEnd(src, i);
      if (j < 0) return undefined;
      i = j;
    } else if (src.startsWith('<?', i)) {
      const j = src.indexOf('?>', i + 2);
      if (j < 0) return undefined;
      if (/^<\?xml\s/.test(src.slice(i, i + 6))) {
        if (i !== 0) return undefined;
        bodyStart = skipWs(src, j + 2);
      } else if (!add({ kind: 'pi', start: i, end: j + 2 })) {
        return undefined;
      }
      i = j + 2;
    } else if (src[i + 1] === '/') {
      const name = matchAt(XML_NAME, src, i + 2);
      const open = stack.pop();
      if (!name || !open || open.name !== name) return undefined;
      const j = skipWs(src, i + 2 + name.length);
      if (src[j] !== '>') return undefined;
      open.closeStart = i;
      open.end = j + 1;
      i = j + 1;
    } else {
      const el = parseStartTag(src, i);
      if (!el || !add(el)) return undefined;
      if (!el.selfClosing) stack.push(el);
      i = el.openEnd;
      continue;
    }
  }
  if (stack.length > 0 || !root) return undefined;
  return { src, root, bodyStart };
}

/** End index of a <!DOCTYPE ...> including an internal subset, or -1. */
function doctypeEnd(s: string, i: number): number {
  let depth = 0;
  let quote = '';
  for (let j = i + 2; j < s.length; j++) {
    const c = s[j];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '[') {
      depth++;
    } else if (c === ']') {
      depth--;
    } else if (c === '>' && depth <= 0) {
      return j + 1;
    }
  }
  return -1;
}

function parseStartTag(s: string, i: number): XmlElement | undefined {
  const name = matchAt(XML_NAME, s, i + 1);
  if (!name) return undefined;
  const nameEnd = i + 1 + name.length;
  const attrs: XmlAttr[] = [];
  let j = nameEnd;
  for (;;) {
    const k = skipWs(s, j);
    if (s[k] === '>' || s.startsWith('/>', k)) {
      const selfClosing = s[k] === '/';
      const openEnd = k + (selfClosing ? 2 : 1);
      return {
        kind: 'element', name, attrs, start: i, nameEnd, openEnd,
        closeStart: openEnd, end: openEnd, selfClosing, children: [],
      };
    }
    if (k === j) return undefined; // attributes need separating whitespace
    const an = matchAt(XML_NAME, s, k);
    if (!an) return undefined;
    let p = skipWs(s, k + an.length);
    if (s[p] !== '=') return undefined;
    p = skipWs(s, p + 1);
    const q = s[p];
    if (q !== '"' && q !== "'") return undefined;
    const e = s.indexOf(q, p + 1);
    if (e < 0) return undefined;
    const value = s.slice(p + 1, e);
    if (value.includes('<')) return undefined;
    attrs.push({ name: an, value });
    j = e + 1;
  }
}

function nsDecls(el: XmlElement): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of el.attrs) {
    if (a.name === 'xmlns') m.set('', a.value);
    else if (a.name.startsWith('xmlns:')) m.set(a.name.slice(6), a.value);
  }
  return m;
}

function prefixOf(qname: string): string {
  const c = qname.indexOf(':');
  return c < 0 ? '' : qname.slice(0, c);
}

/** Prefixes ('' = default namespace) that `el` and its subtree use without declaring them. */
function undeclaredPrefixes(el: XmlElement, declared: ReadonlySet<string>, out: Set<string>): void {
  let local = declared;
  if (el.attrs.some((a) => a.name === 'xmlns' || a.name.startsWith('xmlns:'))) {
    const s = new Set(declared);
    for (const p of nsDecls(el).keys()) s.add(p);
    local = s;
  }
  const ep = prefixOf(el.name);
  if (!local.has(ep)) out.add(ep);
  for (const a of el.attrs) {
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    const ap = prefixOf(a.name);
    // unprefixed attributes are in no namespace; xml: is bound by definition
    if (ap !== '' && ap !== 'xml' && !local.has(ap)) out.add(ap);
  }
  for (const c of el.children) if (c.kind === 'element') undeclaredPrefixes(c, local, out);
}

/**
 * The root's child nodes of a later document, to be moved under the first root.
 * Namespaces declared on the old root are redeclared on each moved element where
 * the new root binds the prefix differently, as lxml does when it moves nodes.
 */
function movedChildren(doc: XmlDoc, targetNs: ReadonlyMap<string, string>): string {
  const { src, root } = doc;
  const kids = root.children;
  // lxml moves children with their tails but not the root's leading text
  const first = kids.findIndex((k) => k.kind !== 'text' && k.kind !== 'cdata');
  if (first < 0) return '';
  const ownNs = nsDecls(root);
  let out = '';
  for (const k of kids.slice(first)) {
    if (k.kind !== 'element') {
      out += src.slice(k.start, k.end);
      continue;
    }
    const used = new Set<string>();
    undeclaredPrefixes(k, new Set(), used);
    const decls: string[] = [];
    for (const p of used) {
      const uri = ownNs.get(p) ?? (p === '' ? '' : undefined);
      if (uri === undefined) continue;
      const targetUri = targetNs.get(p) ?? (p === '' ? '' : undefined);
      if (targetUri === uri) continue;
      decls.push(`${p === '' ? 'xmlns' : `xmlns:${p}`}="${uri}"`);
    }
    out += src.slice(k.start, k.nameEnd) + decls.map((d) => ` ${d}`).join('') + src.slice(k.nameEnd, k.end);
  }
  return out;
}

/** Merged XML, or undefined when a non-empty document is not well-formed. */
function mergeXml(bodies: readonly string[]): string | undefined {
  const nonEmpty = bodies.filter((b) => b.trim() !== '');
  if (nonEmpty.length === 0) return '';
  const docs: XmlDoc[] = [];
  for (const b of nonEmpty) {
    const d = parseXml(b);
    if (!d) return undefined;
    docs.push(d);
  }
  const base = docs[0];
  const { src, root } = base;
  const targetNs = nsDecls(root);
  const added = docs.slice(1).map((d) => movedChildren(d, targetNs)).join('');
  // the declaration is dropped as MapProxy does: its encoding no longer describes the text
  const prolog = src.slice(base.bodyStart, root.start).trimStart();
  const epilog = src.slice(root.end).trimEnd();
  let element: string;
  if (root.selfClosing) {
    element = added === ''
      ? src.slice(root.start, root.end)
      : `${src.slice(root.start, root.openEnd).replace(/\s*\/>$/, '>')}${added}</${root.name}>`;
  } else {
    element = src.slice(root.start, root.closeStart) + added + src.slice(root.closeStart, root.end);
  }
  return prolog + element + epilog;
}

// ---------------------------------------------------------------- HTML

interface HtmlTag {
  name: string;
  close: boolean;
  start: number;
  end: number;
}

const HTML_TAG = /<(\/?)([A-Za-z][A-Za-z0-9:-]*)/y;

/** The html/head/body tags of a document, skipping comments, doctype and script/style content. */
function scanHtml(s: string): HtmlTag[] {
  const tags: HtmlTag[] = [];
  const lower = s.toLowerCase();
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    if (lt < 0) break;
    if (s.startsWith('<!--', lt)) {
      const j = s.indexOf('-->', lt + 4);
      i = j < 0 ? s.length : j + 3;
      continue;
    }
    if (s[lt + 1] === '!' || s[lt + 1] === '?') {
      const j = s.indexOf('>', lt);
      i = j < 0 ? s.length : j + 1;
      continue;
    }
    HTML_TAG.lastIndex = lt;
    const m = HTML_TAG.exec(s);
    if (!m) {
      i = lt + 1;
      continue;
    }
    const end = tagEnd(s, lt + m[0].length);
    const name = m[2].toLowerCase();
    const close = m[1] === '/';
    tags.push({ name, close, start: lt, end });
    i = end;
    if (!close && (name === 'script' || name === 'style')) {
      // their content is raw text: a '</body>' inside a script string is no tag
      const j = lower.indexOf(`</${name}`, end);
      i = j < 0 ? s.length : j;
    }
  }
  return tags;
}

function tagEnd(s: string, i: number): number {
  let quote = '';
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return j + 1;
    }
  }
  return s.length;
}

interface HtmlLayout {
  htmlOpen?: HtmlTag;
  htmlClose?: HtmlTag;
  headOpen?: HtmlTag;
  headClose?: HtmlTag;
  bodyOpen?: HtmlTag;
  bodyClose?: HtmlTag;
}

function htmlLayout(s: string): HtmlLayout {
  const l: HtmlLayout = {};
  for (const t of scanHtml(s)) {
    if (t.name === 'html') {
      if (!t.close) l.htmlOpen ??= t;
      else l.htmlClose = t;
    } else if (t.name === 'head') {
      if (!t.close) l.headOpen ??= t;
      else l.headClose ??= t;
    } else if (t.name === 'body') {
      if (!t.close) l.bodyOpen ??= t;
      else l.bodyClose = t;
    }
  }
  if (l.bodyOpen && l.bodyClose && l.bodyClose.start < l.bodyOpen.end) l.bodyClose = undefined;
  if (l.bodyOpen && l.htmlClose && l.htmlClose.start < l.bodyOpen.end) l.htmlClose = undefined;
  return l;
}

/** Length of the leading doctype, XML declaration and whitespace of a fragment. */
function prologLength(s: string): number {
  const m = /^(?:\s*(?:<\?[^>]*>|<!(?!--)[^>]*>))*\s*/.exec(s);
  return m ? m[0].length : 0;
}

/** Where the body's content starts and ends when a document has no <body> tag. */
function implicitBody(s: string, l: HtmlLayout): [number, number] {
  let start: number;
  if (l.headClose) start = l.headClose.end;
  else if (l.htmlOpen) start = l.htmlOpen.end;
  else start = prologLength(s);
  const end = l.htmlClose && l.htmlClose.start >= start ? l.htmlClose.start : s.length;
  return [start, end];
}

/** What a later document contributes: its body content, leading whitespace dropped as lxml drops it. */
function htmlBodyContent(s: string): string {
  const l = htmlLayout(s);
  let content: string;
  if (l.bodyOpen) {
    const end = l.bodyClose?.start ?? l.htmlClose?.start ?? s.length;
    content = s.slice(l.bodyOpen.end, end);
  } else {
    const [start, end] = implicitBody(s, l);
    content = s.slice(start, end);
    if (!l.htmlOpen && l.headOpen && l.headClose && l.headClose.start >= start) {
      content = s.slice(start, l.headOpen.start) + s.slice(l.headClose.end, end);
    }
  }
  return content.trimStart();
}

/** Merged HTML: the first document with the others' body content appended to its body. */
function mergeHtml(bodies: readonly string[]): string {
  const nonEmpty = bodies.filter((b) => b.trim() !== '');
  // MapProxy answers an all-empty set with its skeleton
  if (nonEmpty.length === 0) return '<html><body></body></html>';
  const [first, ...rest] = nonEmpty;
  const added = rest.map(htmlBodyContent).join('');
  const l = htmlLayout(first);
  if (l.bodyOpen) {
    const at = l.bodyClose?.start ?? l.htmlClose?.start ?? first.length;
    return first.slice(0, at) + added + first.slice(at);
  }
  if (l.htmlOpen) {
    const [start, end] = implicitBody(first, l);
    return `${first.slice(0, start)}<body>${first.slice(start, end)}${added}</body>${first.slice(end)}`;
  }
  // a fragment: give it the skeleton MapProxy's parser would build around it
  const p = prologLength(first);
  const prolog = first.slice(0, p).trim();
  let head = '';
  let content = first.slice(p);
  if (l.headOpen && l.headClose && l.headOpen.start >= p && l.headClose.start > l.headOpen.start) {
    head = first.slice(l.headOpen.start, l.headClose.end);
    content = first.slice(p, l.headOpen.start) + first.slice(l.headClose.end);
  }
  return `${prolog}<html>${head}<body>${content.trimStart()}${added}</body></html>`;
}

// ---------------------------------------------------------------- JSON

/** A JSON number kept as Python would print it after json.loads (ints exact, floats as repr). */
class PyNumber {
  constructor(readonly text: string, readonly isZero: boolean) {}
}

type JsonValue = null | boolean | string | PyNumber | JsonValue[] | JsonObject;
// A Map keeps key order as written, where a plain object would move '1', '2' to the front.
type JsonObject = Map<string, JsonValue>;

class JsonParseError extends Error {}

const STRING_STOP = /["\\]/g;
const JSON_NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
// Python's json.loads also takes the non-standard NaN and Infinity that some servers write
const JSON_LITERALS: readonly (readonly [string, JsonValue])[] = [
  ['true', true], ['false', false], ['null', null],
  ['NaN', new PyNumber('NaN', false)], ['Infinity', new PyNumber('Infinity', false)],
  ['-Infinity', new PyNumber('-Infinity', false)],
];

/** A JSON parser that accepts what Python's json.loads accepts (incl. NaN/Infinity) and keeps key order and big ints. */
function parseJson(s: string): JsonValue {
  let i = 0;
  const fail = (): never => {
    throw new JsonParseError(`invalid JSON at ${i}`);
  };
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const value = (): JsonValue => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const obj: JsonObject = new Map();
      ws();
      if (s[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail();
        const k = str();
        ws();
        if (s[i] !== ':') fail();
        i++;
        obj.set(k, value());
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return obj;
        }
        fail();
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (s[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return arr;
        }
        fail();
      }
    }
    if (c === '"') return str();
    const lit = JSON_LITERALS.find(([l]) => s.startsWith(l, i));
    if (lit) {
      i += lit[0].length;
      return lit[1];
    }
    JSON_NUMBER.lastIndex = i;
    const r = JSON_NUMBER.exec(s);
    if (!r) return fail();
    i += r[0].length;
    if (r[1] === undefined && r[2] === undefined) {
      // Python ints are exact; only '-0' changes ('0'), so BigInt is needed for long ones only
      if (r[0].length < 16) {
        const n = Number(r[0]);
        return new PyNumber(n === 0 ? '0' : r[0], n === 0);
      }
      const big = BigInt(r[0]);
      return new PyNumber(big.toString(), big === 0n);
    }
    const f = Number(r[0]);
    const text = f === Infinity ? 'Infinity' : f === -Infinity ? '-Infinity' : pyFloat(f);
    return new PyNumber(text, f === 0);
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      STRING_STOP.lastIndex = i;
      if (!STRING_STOP.test(s)) fail();
      const j = STRING_STOP.lastIndex - 1;
      out += s.slice(i, j);
      i = j;
      if (s[i] === '"') {
        i++;
        return out;
      }
      const e = s[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const h = s.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) fail();
          out += String.fromCharCode(parseInt(h, 16));
          i += 4;
          break;
        }
        default: fail();
      }
    }
  };
  const v = value();
  ws();
  if (i !== s.length) fail();
  return v;
}

function isObject(v: JsonValue): v is JsonObject {
  return v instanceof Map;
}

/** Python truthiness, because MapProxy drops falsy answers ({} [] "" 0 null false). */
function pyTruthy(v: JsonValue): boolean {
  if (v === null || v === false || v === '') return false;
  if (v instanceof PyNumber) return !v.isZero;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return v.size > 0;
  return true;
}

/** MapProxy's merge_dict: new keys added, objects merged, lists extended, anything else replaced. */
function mergeObject(base: JsonObject, other: JsonObject): JsonObject {
  for (const [k, v] of other) {
    const cur = base.get(k);
    if (cur === undefined) {
      base.set(k, v);
    } else if (isObject(cur) && isObject(v)) {
      mergeObject(cur, v);
    } else if (Array.isArray(cur)) {
      // Python would extend with a dict's keys or a string's characters; a value is what was meant
      if (Array.isArray(v)) cur.push(...v);
      else cur.push(v);
    } else {
      base.set(k, v);
    }
  }
  return base;
}

function mergeValues(a: JsonValue, b: JsonValue): JsonValue {
  if (isObject(a) && isObject(b)) return mergeObject(a, b);
  // top-level lists make MapProxy fail; extending them is the evident intent
  if (Array.isArray(a)) return Array.isArray(b) ? [...a, ...b] : [...a, b];
  return b;
}

/** Python json.dumps with its defaults: ', ' and ': ' separators, ASCII-only output. */
function pyJsonDumps(v: JsonValue): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return pyJsonString(v);
  if (v instanceof PyNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map(pyJsonDumps).join(', ')}]`;
  return `{${[...v].map(([k, x]) => `${pyJsonString(k)}: ${pyJsonDumps(x)}`).join(', ')}}`;
}

const JSON_SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t',
};

function pyJsonString(s: string): string {
  return `"${s.replace(/[^ -~]|["\\]/g, (c) => JSON_SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** Merged JSON, or undefined when a non-empty document is no JSON. */
function mergeJson(bodies: readonly string[]): string | undefined {
  const values: JsonValue[] = [];
  for (const b of bodies) {
    if (b.trim() === '') continue;
    let v: JsonValue;
    try {
      v = parseJson(b);
    } catch (e) {
      if (e instanceof JsonParseError) return undefined;
      throw e;
    }
    if (pyTruthy(v)) values.push(v);
  }
  if (values.length === 0) return '{}';
  return pyJsonDumps(values.reduce(mergeValues));
}

// ---------------------------------------------------------------- query point

/** A GetFeatureInfo request's geometry: bbox in east/north order, image size and the queried pixel. */
export interface InfoQueryGeometry {
  bbox: Bbox;
  size: readonly [number, number];
  srs: Srs;
  x: number;
  y: number;
}

/** Map coordinates of an image position (pixel 0,0 is the upper left corner), as MapProxy's make_lin_transf. */
export function pixelToMap(bbox: Bbox, size: readonly [number, number], pos: Point): Point {
  return [
    bbox[0] + (pos[0] - 0) * (bbox[2] - bbox[0]) / size[0],
    bbox[1] + (size[1] - pos[1]) * (bbox[3] - bbox[1]) / size[1],
  ];
}

/** Image position of map coordinates, the inverse of pixelToMap (not rounded). */
export function mapToPixel(bbox: Bbox, size: readonly [number, number], coord: Point): Point {
  return [
    0 + (coord[0] - bbox[0]) * size[0] / (bbox[2] - bbox[0]),
    0 + (bbox[3] - coord[1]) * size[1] / (bbox[3] - bbox[1]),
  ];
}

/** Python's round(): half to even, so pixel positions land where MapProxy puts them. */
function pyRound(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : r;
}

/**
 * The pixel in a source request (its own SRS, bbox and size) that shows the
 * requested pixel's location; rounded to whole pixels unless nothing changes.
 */
export function featureInfoPoint(
  req: InfoQueryGeometry,
  src: { srs: Srs; bbox: Bbox; size: readonly [number, number] },
): { x: number; y: number } {
  const same = isSameSrs(req.srs, src.srs);
  if (same && req.size[0] === src.size[0] && req.size[1] === src.size[1] && req.bbox.every((v, k) => v === src.bbox[k])) {
    // MapProxy forwards X/Y untouched then, fractional ones included
    return { x: req.x, y: req.y };
  }
  let coord = pixelToMap(req.bbox, req.size, [req.x, req.y]);
  if (!same) coord = req.srs.transformPoint(coord, src.srs);
  const [x, y] = mapToPixel(src.bbox, src.size, coord);
  return { x: pyRound(x), y: pyRound(y) };
}

/**
 * The query for a source that does not support the request SRS, as MapProxy's
 * WMSInfoClient._get_transformed_query: bbox transformed, height chosen for
 * square pixels at the same width, the point transformed and rounded.
 */
export function transformInfoQuery(req: InfoQueryGeometry, to: Srs): InfoQueryGeometry {
  if (isSameSrs(req.srs, to)) return { ...req, bbox: [...req.bbox] as Bbox, size: [req.size[0], req.size[1]] };
  const coord = pixelToMap(req.bbox, req.size, [req.x, req.y]);
  const bbox = req.srs.transformBbox(req.bbox, to);
  const ratio = (bbox[3] - bbox[1]) / (bbox[2] - bbox[0]);
  const size: [number, number] = [req.size[0], Math.trunc(ratio * req.size[0])];
  const [x, y] = mapToPixel(bbox, size, req.srs.transformPoint(coord, to));
  return { bbox, size, srs: to, x: pyRound(x), y: pyRound(y) };
}

/** Config metadata (md:) as capabilities documents print it: escaped, with Python's spelling of values. */
import { xmlEscape } from '../util/py-format.ts';

// Config values reach the document verbatim; characters XML 1.0 forbids cannot be escaped,
// so they are replaced rather than producing a document no client can parse.
const XML_INVALID = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** XML-escaped text of a config value. */
export function esc(v: unknown): string {
  return xmlEscape(str(v).replace(XML_INVALID, '\uFFFD'));
}

/** A config value as text, as MapProxy's templates print it. */
export function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  // YAML booleans print as Python does, so a config renders as under MapProxy
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

/** Whether a config value counts as given. */
export function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '' && v !== false;
}

/** The mappings of a config list (keyword_list, metadata ...). */
export function arr(v: unknown): Record<string, any>[] {
  return Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : [];
}

/** MapProxy's {{service.get('fees', 'none')}}: a missing (or null) value reads 'none'. */
export function orNone(v: unknown): string {
  return v === undefined || v === null ? 'none' : esc(v);
}

/** The keywords of one keyword_list entry. */
export function keywords(kw: Record<string, any>): string[] {
  const k = kw.keywords;
  if (Array.isArray(k)) return k.map(str);
  return present(k) ? [str(k)] : [];
}


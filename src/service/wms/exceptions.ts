/**
 * WMS exception reports (the XML flavour of each version) and version
 * negotiation, as MapProxy's request/wms/exception.py and negotiate_version.
 */
import { xmlEscape } from '../../util/py-format.ts';

/** The WMS versions mapproxy-ts speaks. */
export type WmsVersion = '1.0.0' | '1.1.0' | '1.1.1' | '1.3.0';

/** All supported versions, lowest first. */
export const WMS_VERSIONS: readonly WmsVersion[] = ['1.0.0', '1.1.0', '1.1.1', '1.3.0'];

/** A rendered exception document and the Content-Type MapProxy sends with it. */
export interface WmsException {
  body: string;
  contentType: string;
}

// Messages often echo request parameters: control characters in them would make the
// document ill-formed XML, which MapProxy (escaping only &<>"') lets through.
const XML_INVALID = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function text(s: unknown): string {
  return xmlEscape(String(s ?? '').replace(XML_INVALID, '\uFFFD'));
}

/** The XML exception report of `version` for `message` (escaped); `code` is the OGC exceptionCode (ignored by 1.0.0). */
export function wmsExceptionXml(version: WmsVersion, message: string, code?: string): WmsException {
  const msg = text(message);
  const codeAttr = code === undefined || code === null ? '' : ` code="${text(code)}"`;
  switch (version) {
    case '1.0.0':
      // 1.0.0 has no exception DTD; MapProxy sends a bare WMTException as text/xml without charset
      return {
        body: `<?xml version="1.0"?>\n<WMTException version="1.0.0">\n${msg}\n</WMTException>`,
        contentType: 'text/xml',
      };
    case '1.1.0':
    case '1.1.1': {
      const dtd = version === '1.1.0' ? 'exception_1_1_0.dtd' : 'exception_1_1_1.dtd';
      return {
        body:
          `<?xml version="1.0"?>\n` +
          `<!DOCTYPE ServiceExceptionReport SYSTEM "http://schemas.opengis.net/wms/${version}/${dtd}">\n` +
          `<ServiceExceptionReport version="${version}">\n` +
          `    <ServiceException${codeAttr}>${msg}</ServiceException>\n` +
          `</ServiceExceptionReport>`,
        contentType: 'application/vnd.ogc.se_xml',
      };
    }
    case '1.3.0':
      return {
        body:
          `<?xml version="1.0"?>\n` +
          `<ServiceExceptionReport version="1.3.0"\n` +
          `  xmlns="http://www.opengis.net/ogc"\n` +
          `  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n` +
          `  xsi:schemaLocation="http://www.opengis.net/ogc\n` +
          `http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd">\n` +
          `    <ServiceException${codeAttr}>${msg}</ServiceException>\n` +
          `</ServiceExceptionReport>`,
        contentType: 'text/xml; charset=utf-8',
      };
  }
}

/** Version number parts for ordering, or undefined where MapProxy's int() parsing would fail. */
function parseVersion(v: string): number[] | undefined {
  const parts = v.split('.');
  const nums: number[] = [];
  for (const p of parts) {
    // Python's int() tolerates surrounding whitespace and a sign, nothing else
    if (!/^\s*[+-]?\d+\s*$/.test(p)) return undefined;
    nums.push(Number.parseInt(p, 10));
  }
  return nums;
}

/** Python tuple ordering: (1, 1) < (1, 1, 0). */
function compareParts(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * The WMS version to answer with (VERSION/WMTVER as asked; MapProxy's negotiate_version rules).
 * Missing: the highest supported; supported: itself; older than all: the lowest; newer than
 * all: the highest; else the nearest lower one. An unparseable version (a 500 in MapProxy)
 * counts as missing.
 */
export function negotiateWmsVersion<V extends string = WmsVersion>(
  requested: string | undefined | null,
  supported: readonly V[] = WMS_VERSIONS as unknown as readonly V[],
): V {
  const known = (supported.length ? supported : (WMS_VERSIONS as unknown as readonly V[]))
    .map((v) => ({ v, parts: parseVersion(v) }))
    .filter((e): e is { v: V; parts: number[] } => e.parts !== undefined)
    .sort((a, b) => compareParts(a.parts, b.parts));
  if (known.length === 0) throw new Error(`no valid WMS version in ${JSON.stringify(supported)}`);
  const highest = known[known.length - 1].v;
  const parts = requested === undefined || requested === null || requested === '' ? undefined : parseVersion(requested);
  if (!parts) return highest;
  for (let i = known.length - 1; i >= 0; i--) {
    if (compareParts(parts, known[i].parts) >= 0) return known[i].v;
  }
  return known[0].v;
}

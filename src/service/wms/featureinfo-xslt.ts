/**
 * `featureinfo_xslt` as MapProxy's XSLTransformer: an XSLT 1.0 stylesheet applied
 * to a source's feature info (`sources.NAME.wms_opts.featureinfo_xslt`, before the
 * answers are merged) or to the merged document per info type
 * (`services.wms.featureinfo_xslt: {xml: FILE, html: FILE}`).
 *
 * The transformation runs on the pure-JS xslt-processor. Its serialisation differs
 * from lxml's in details (attribute order of mixed `{avt}`/`xsl:attribute`, unused
 * namespace declarations that lxml copies into the result); the content is the same.
 */
import * as fs from 'node:fs';
import type * as XsltProcessor from 'xslt-processor';
import type { InfoQuery, InfoSource } from '../../layer/wms-layer.ts';
import type { MapExtent } from '../../source/source.ts';
import { infoTypeOf, mergeFeatureInfo, type FeatureInfoDoc, type InfoType } from './featureinfo.ts';

const XSL_NS = 'http://www.w3.org/1999/XSL/Transform';

let xsltLib: typeof XsltProcessor | undefined;
/**
 * xslt-processor, loaded when the first stylesheet is: a config without
 * featureinfo_xslt never evaluates its ~600 kB (the bundle keeps a require of
 * a bundled module lazy).
 */
function xsltProcessor(): typeof XsltProcessor {
  return (xsltLib ??= require('xslt-processor') as typeof XsltProcessor);
}

/** A loaded stylesheet and the info type of what it writes. */
export class XsltTransformer {
  private readonly stylesheet: ReturnType<XsltProcessor.XmlParser['xmlParse']>;

  /**
   * Reads and parses the stylesheet; throws an Error (to be reported with the
   * config key) when the file is missing or holds no XSLT stylesheet.
   * `outFormat` is featureinfo_out_format/featureinfo_format: HTML when it is
   * text/html, XML otherwise, as MapProxy.
   */
  constructor(readonly file: string, outFormat?: string) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `XSLT file not found: ${file}` : `cannot read XSLT file ${file}: ${(e as Error).message}`);
    }
    if (!isStylesheet(text)) throw new Error(`${file} is no XSLT 1.0 stylesheet (xsl:stylesheet or xsl:transform in ${XSL_NS})`);
    this.stylesheet = new (xsltProcessor().XmlParser)().xmlParse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    this.outType = infoTypeOf(outFormat ?? 'text/xml') === 'html' ? 'html' : 'xml';
    this.outMime = this.outType === 'html' ? 'text/html' : (outFormat ?? 'text/xml');
  }

  /** 'html' or 'xml', as MapProxy's HTMLFeatureInfoDoc/XMLFeatureInfoDoc result. */
  readonly outType: InfoType;
  /** The mime type a transformed source answer is passed on with. */
  readonly outMime: string;

  /** The transformed document text; an empty input stays empty (MapProxy skips it). */
  async transform(body: string): Promise<string> {
    if (body.trim() === '') return body;
    const { XmlParser, Xslt } = xsltProcessor();
    const input = new XmlParser().xmlParse(stripDeclaration(body));
    const out = await new Xslt().xsltProcess(input, this.stylesheet);
    return stripDeclaration(out);
  }
}

function isStylesheet(text: string): boolean {
  // the root element, after declaration, comments and doctype
  const m = /^(?:\s|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>)*<([\w.-]+:)?(stylesheet|transform)\b([^>]*)>/.exec(text.replace(/^\uFEFF/, ''));
  if (!m) return false;
  const prefix = m[1] ? m[1].slice(0, -1) : '';
  const decl = prefix ? `xmlns:${prefix}` : 'xmlns';
  return new RegExp(`\\s${decl.replace('.', '\\.')}\\s*=\\s*["']${XSL_NS.replace(/[.\\/]/g, '\\$&')}["']`).test(m[3]);
}

// etree.tostring writes no declaration; one left in the input would end up as text in some parsers
function stripDeclaration(s: string): string {
  return s.replace(/^\uFEFF?\s*<\?xml[\s\S]*?\?>\s*/, '');
}

/** A feature info source whose answers pass through a stylesheet (wms_opts.featureinfo_xslt). */
export class XsltInfoSource implements InfoSource {
  readonly name: string;
  readonly extent?: MapExtent;

  constructor(private readonly inner: InfoSource, private readonly xslt: XsltTransformer) {
    this.name = inner.name;
    this.extent = inner.extent;
  }

  async getFeatureInfo(q: InfoQuery): Promise<{ body: Uint8Array; mime: string }> {
    const r = await this.inner.getFeatureInfo(q);
    if (r.body.length === 0) return r;
    const text = await this.xslt.transform(new TextDecoder().decode(r.body));
    return { body: new TextEncoder().encode(text), mime: this.xslt.outMime };
  }
}

/**
 * The GetFeatureInfo body for the requested info type. Without a stylesheet for
 * that type: mergeFeatureInfo as before. With one (services.wms.featureinfo_xslt),
 * as MapProxy's combine_docs with a transformer: the answers are merged by their
 * own type (source stylesheets may have turned GML into XML for an HTML request),
 * then transformed; answers of mixed types are joined as text, untransformed.
 */
export async function featureInfoBody(
  docs: readonly FeatureInfoDoc[],
  type: InfoType,
  transformers: ReadonlyMap<InfoType, XsltTransformer> | undefined,
): Promise<string> {
  const t = transformers?.get(type);
  const answered = docs.filter((d) => d.body.trim() !== '');
  if (!t || answered.length === 0) return mergeFeatureInfo(docs, type);
  const types = new Set(answered.map((d) => infoTypeOf(d.mime)));
  if (types.size > 1) return mergeFeatureInfo(answered, 'text');
  return t.transform(mergeFeatureInfo(answered, [...types][0]));
}

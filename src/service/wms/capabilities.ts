/**
 * WMS GetCapabilities documents for 1.0.0, 1.1.0, 1.1.1 and 1.3.0, with the content
 * and number formatting of MapProxy's wms1*capabilities.xml templates. Where those
 * templates produce documents that fail the OGC DTD/schema, the valid form is written
 * instead (see the notes at the layer renderers).
 */
import { getSrs } from '../../srs/srs.ts';
import { pyFloat, xmlEscape } from '../../util/py-format.ts';
import type { WmsVersion } from './exceptions.ts';

export type { WmsVersion } from './exceptions.ts';
import { arr, esc, keywords, orNone, present, str } from '../md-text.ts';

type Bbox4 = [number, number, number, number];

/** One layer of the capabilities layer tree (group layers have `layers`, named layers a `name`). */
export interface WmsCapLayer {
  name?: string;
  title: string;
  abstract?: string;
  queryable: boolean;
  opaque?: boolean;
  /** extent in EPSG:4326, lon/lat order (clipped to bbox_srs' EPSG:4326 extent by the caller); limited to +-180/89.999999 here */
  llbbox: Bbox4;
  /** per offered SRS: the layer extent in that SRS, east/north order (caller computes, possibly clipped by bbox_srs) */
  bboxes: { srs: string; bbox: Bbox4 }[];
  /**
   * Resolution range in metres per pixel, with MapProxy's naming: minRes is the
   * coarsest (largest) resolution the layer is shown at, maxRes the finest.
   * ScaleHint (1.0.0, 1.1.x) gets the diagonal resolutions, 1.3.0 Min/MaxScaleDenominator.
   */
  minRes?: number;
  maxRes?: number;
  /** A complete GetLegendGraphic (or static legend) URL. */
  legend?: { url: string; width?: number; height?: number; format: string };
  /** layer md: abstract, keyword_list, attribution{title,url,logo}, identifier, metadata[], data, feature_list */
  md?: Record<string, any>;
  dimensions?: { name: string; units?: string; default: string; values: string[] }[];
  layers: WmsCapLayer[];
}

/** Everything a capabilities document shows. */
export interface WmsCapabilitiesInput {
  version: WmsVersion;
  /** online resource base, e.g. 'http://host/service' or 'http://host/service?' ('?' is added for the request URLs) */
  serviceUrl: string;
  /** services.wms.md: title, abstract, online_resource, contact{...}, access_constraints, fees, keyword_list */
  md: Record<string, any>;
  /** offered SRS codes in order */
  srs: string[];
  /** GetMap (and GetLegendGraphic) mime types */
  imageFormats: string[];
  /** GetFeatureInfo mime types for this version; empty leaves GetFeatureInfo out */
  infoFormats: string[];
  /** advertise GetLegendGraphic (1.1.1 and 1.3.0 only; sld:GetLegendGraphic in 1.3.0) */
  legendGraphic: boolean;
  /** services.wms.max_output_pixels as [w, h]; 1.3.0 shows sqrt(w*h) as MaxWidth and MaxHeight, as MapProxy */
  maxOutputPixels?: [number, number];
  /** the single root layer (MapProxy wraps multiple top-level layers in an unnamed root) */
  root: WmsCapLayer;
  /** WMS-C TileSets (1.1.0 and 1.1.1 VendorSpecificCapabilities); MapProxy lists them for tiled=true requests only */
  tileSets?: WmsTileSet[];
  /** services.wms.inspire_md (type linked or embedded): INSPIRE extended capabilities in 1.3.0 */
  inspire?: Record<string, any>;
}

/** One WMS-C TileSet: a cached layer on one of its grids, as MapProxy's TileLayer shows it. */
export interface WmsTileSet {
  /** the grid's SRS code (1.1.1 writes this) */
  srs: string;
  /** the TMS profile's SRS name, OSGEO:41001 for the global mercator grid (1.1.0 writes this) */
  srsName: string;
  /** the grid bbox, in the grid SRS */
  bbox: Bbox4;
  /** public levels' resolutions (global grids skip level 0, as TMS) */
  resolutions: number[];
  tileSize: readonly [number, number];
  /** the cache's format as the capabilities advertise it */
  format: string;
  layer: string;
}

/** The mime type of a capabilities document (MapProxy adds '; charset=utf-8' to the text/xml ones). */
export function wmsCapabilitiesMime(version: WmsVersion): string {
  return version === '1.1.0' || version === '1.1.1' ? 'application/vnd.ogc.wms_xml' : 'text/xml';
}

/** The capabilities XML document for `input.version`. */
export function wmsCapabilities(input: WmsCapabilitiesInput): string {
  const out = new Lines();
  const ctx = context(input);
  switch (input.version) {
    case '1.0.0':
      doc100(out, ctx);
      break;
    case '1.1.0':
    case '1.1.1':
      doc11x(out, ctx);
      break;
    case '1.3.0':
      doc130(out, ctx);
      break;
    default:
      throw new Error(`unsupported WMS version: ${String((input as { version: unknown }).version)}`);
  }
  return out.toString();
}

// ---------------------------------------------------------------------------------------

class Lines {
  private lines: string[] = [];
  add(depth: number, line: string): void {
    this.lines.push('  '.repeat(depth) + line);
  }
  toString(): string {
    return this.lines.join('\n');
  }
}

interface Ctx {
  input: WmsCapabilitiesInput;
  v: WmsVersion;
  /** URL for the DCP Get elements, ending in '?' or '&' */
  requestUrl: string;
  /** URL for the Service OnlineResource */
  serviceOnlineResource: string;
}

function context(input: WmsCapabilitiesInput): Ctx {
  const u = input.serviceUrl;
  const base = u.endsWith('?') ? u.slice(0, -1) : u;
  // a base that already carries a query (http://h/cgi?map=x) must be continued with '&'
  const requestUrl = u.endsWith('?') || u.endsWith('&') ? u : u.includes('?') ? `${u}&` : `${u}?`;
  const online = input.md?.online_resource;
  return { input, v: input.version, requestUrl, serviceOnlineResource: present(online) ? str(online) : base };
}

/**
 * limit_llbbox of MapProxy's wms.py: clients choke on +-90, so latitudes stop at 89.999999.
 * Python's max(-180, x) keeps the int -180 when x <= -180, hence '-180' not '-180.0'.
 */
function llbboxStrings(b: Bbox4): [string, string, string, string] {
  return [
    b[0] <= -180 ? '-180' : pyFloat(b[0]),
    b[1] <= -89.999999 ? '-89.999999' : pyFloat(b[1]),
    b[2] >= 180 ? '180' : pyFloat(b[2]),
    b[3] >= 89.999999 ? '89.999999' : pyFloat(b[3]),
  ];
}

const axisCache = new Map<string, boolean>();

/** Whether 1.3.0 writes this CRS north/east; unknown codes stay east/north, as MapProxy logs and keeps them. */
function axisNE(code: string): boolean {
  let ne = axisCache.get(code);
  if (ne === undefined) {
    try {
      ne = getSrs(code).axisOrderNE;
    } catch {
      ne = false;
    }
    axisCache.set(code, ne);
  }
  return ne;
}

function bboxAttrs(b: readonly number[]): string {
  return `minx="${pyFloat(b[0])}" miny="${pyFloat(b[1])}" maxx="${pyFloat(b[2])}" maxy="${pyFloat(b[3])}"`;
}

/** ResolutionRange.scale_hint: the diagonal of a pixel, sqrt(2 * res^2). */
function diagonal(res: number): number {
  return Math.sqrt(2 * res ** 2);
}

function layerAttrs(l: WmsCapLayer): string {
  return `${l.queryable ? ' queryable="1"' : ''}${l.opaque ? ' opaque="1"' : ''}`;
}

function layerAbstract(l: WmsCapLayer): unknown {
  return present(l.abstract) ? l.abstract : l.md?.abstract;
}

function hasResRange(l: WmsCapLayer): boolean {
  return !!l.minRes || !!l.maxRes;
}

/**
 * ScaleHint min/max are both required by the 1.0.0 and 1.1.x DTDs; MapProxy leaves out
 * the missing one, here an open end reads 0 (min) or Infinity (max).
 */
function scaleHint(l: WmsCapLayer): string {
  const min = l.maxRes ? pyFloat(diagonal(l.maxRes)) : '0.0';
  const max = l.minRes ? pyFloat(diagonal(l.minRes)) : 'Infinity';
  return `<ScaleHint min="${min}" max="${max}" />`;
}

function isTimeDimension(name: string): boolean {
  return name.includes('time');
}

function dimensionUnits(d: { name: string; units?: string }): string {
  return d.units ?? (isTimeDimension(d.name) ? 'ISO8601' : '');
}

function contactInformation(out: Lines, depth: number, contact: unknown): void {
  if (!contact || typeof contact !== 'object' || Object.keys(contact).length === 0) return;
  const c = contact as Record<string, unknown>;
  const addressType = c.address_type === undefined ? 'postal' : c.address_type;
  out.add(depth, '<ContactInformation>');
  out.add(depth + 1, '<ContactPersonPrimary>');
  out.add(depth + 2, `<ContactPerson>${esc(c.person)}</ContactPerson>`);
  out.add(depth + 2, `<ContactOrganization>${esc(c.organization)}</ContactOrganization>`);
  out.add(depth + 1, '</ContactPersonPrimary>');
  out.add(depth + 1, `<ContactPosition>${esc(c.position)}</ContactPosition>`);
  out.add(depth + 1, '<ContactAddress>');
  out.add(depth + 2, `<AddressType>${esc(addressType)}</AddressType>`);
  out.add(depth + 2, `<Address>${esc(c.address)}</Address>`);
  out.add(depth + 2, `<City>${esc(c.city)}</City>`);
  out.add(depth + 2, `<StateOrProvince>${esc(c.state)}</StateOrProvince>`);
  out.add(depth + 2, `<PostCode>${esc(c.postcode)}</PostCode>`);
  out.add(depth + 2, `<Country>${esc(c.country)}</Country>`);
  out.add(depth + 1, '</ContactAddress>');
  out.add(depth + 1, `<ContactVoiceTelephone>${esc(c.phone)}</ContactVoiceTelephone>`);
  out.add(depth + 1, `<ContactFacsimileTelephone>${esc(c.fax)}</ContactFacsimileTelephone>`);
  out.add(depth + 1, `<ContactElectronicMailAddress>${esc(c.email)}</ContactElectronicMailAddress>`);
  out.add(depth, '</ContactInformation>');
}

function keywordList(out: Lines, depth: number, list: unknown, withVocabulary: boolean): void {
  const lists = arr(list);
  if (lists.length === 0) return;
  out.add(depth, '<KeywordList>');
  for (const kw of lists) {
    const vocab = withVocabulary && present(kw.vocabulary) ? ` vocabulary="${esc(kw.vocabulary)}"` : '';
    for (const k of keywords(kw)) out.add(depth + 1, `<Keyword${vocab}>${esc(k)}</Keyword>`);
  }
  out.add(depth, '</KeywordList>');
}

// ---------------------------------------------------------------------------------------
// WMS 1.3.0

const XLINK = 'http://www.w3.org/1999/xlink';

function doc130(out: Lines, ctx: Ctx): void {
  const { input } = ctx;
  const md = input.md ?? {};
  const url = esc(ctx.requestUrl);
  const inspire = inspireMd(input);
  out.add(0, '<?xml version="1.0"?>');
  const inspireNs = inspire ? `xmlns:inspire_common="${INSPIRE_COMMON}" xmlns:inspire_vs="${INSPIRE_VS}" ` : '';
  const inspireLoc = inspire ? ` ${INSPIRE_VS} ${INSPIRE_VS}/inspire_vs.xsd` : '';
  out.add(
    0,
    `<WMS_Capabilities xmlns="http://www.opengis.net/wms" xmlns:sld="http://www.opengis.net/sld" xmlns:xlink="${XLINK}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ${inspireNs}version="1.3.0" xsi:schemaLocation="http://www.opengis.net/wms http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd${inspireLoc}">`,
  );
  out.add(0, '<Service>');
  out.add(1, '<Name>WMS</Name>');
  out.add(1, `<Title>${esc(md.title)}</Title>`);
  out.add(1, `<Abstract>${esc(md.abstract)}</Abstract>`);
  keywordList(out, 1, md.keyword_list, true);
  out.add(1, `<OnlineResource xlink:href="${esc(ctx.serviceOnlineResource)}"/>`);
  contactInformation(out, 1, md.contact);
  out.add(1, `<Fees>${orNone(md.fees)}</Fees>`);
  out.add(1, `<AccessConstraints>${orNone(md.access_constraints)}</AccessConstraints>`);
  if (input.maxOutputPixels) {
    // MapProxy keeps only the pixel count and advertises the square of that size
    const side = Math.floor(Math.sqrt(input.maxOutputPixels[0] * input.maxOutputPixels[1]));
    if (side > 0) {
      out.add(1, `<MaxWidth>${side}</MaxWidth>`);
      out.add(1, `<MaxHeight>${side}</MaxHeight>`);
    }
  }
  out.add(0, '</Service>');
  out.add(0, '<Capability>');
  out.add(1, '<Request>');
  operation130(out, 'GetCapabilities', ['text/xml'], url);
  operation130(out, 'GetMap', input.imageFormats, url);
  if (input.infoFormats.length > 0) operation130(out, 'GetFeatureInfo', input.infoFormats, url);
  if (input.legendGraphic) operation130(out, 'sld:GetLegendGraphic', input.imageFormats, url);
  out.add(1, '</Request>');
  out.add(1, '<Exception>');
  for (const f of ['XML', 'INIMAGE', 'BLANK']) out.add(2, `<Format>${f}</Format>`);
  out.add(1, '</Exception>');
  if (inspire) inspireExtendedCapabilities(out, 1, inspire);
  layer130(out, 1, input.root, ctx, true);
  out.add(0, '</Capability>');
  out.add(0, '</WMS_Capabilities>');
}

function operation130(out: Lines, tag: string, formats: readonly string[], url: string): void {
  out.add(2, `<${tag}>`);
  for (const f of formats) out.add(3, `<Format>${esc(f)}</Format>`);
  out.add(3, '<DCPType>');
  out.add(4, '<HTTP>');
  out.add(5, `<Get><OnlineResource xlink:href="${url}"/></Get>`);
  out.add(4, '</HTTP>');
  out.add(3, '</DCPType>');
  out.add(2, `</${tag}>`);
}

/**
 * Differences to MapProxy's template, for schema validity: Dimension always carries the
 * required units attribute (empty if unknown, as WMS 1.3.0 C.2 says for unitless
 * dimensions; time dimensions are written byte for byte as MapProxy's), DataURL/FeatureListURL
 * carry no type.
 */
function layer130(out: Lines, d: number, l: WmsCapLayer, ctx: Ctx, root: boolean): void {
  const md = l.md ?? {};
  out.add(d, `<Layer${layerAttrs(l)}>`);
  if (present(l.name)) out.add(d + 1, `<Name>${esc(l.name)}</Name>`);
  out.add(d + 1, `<Title>${esc(l.title)}</Title>`);
  const abstract = layerAbstract(l);
  if (present(abstract)) out.add(d + 1, `<Abstract>${esc(abstract)}</Abstract>`);
  keywordList(out, d + 1, md.keyword_list, true);
  if (root) for (const s of ctx.input.srs) out.add(d + 1, `<CRS>${esc(s)}</CRS>`);
  const ll = llbboxStrings(l.llbbox);
  out.add(d + 1, '<EX_GeographicBoundingBox>');
  out.add(d + 2, `<westBoundLongitude>${ll[0]}</westBoundLongitude>`);
  out.add(d + 2, `<eastBoundLongitude>${ll[2]}</eastBoundLongitude>`);
  out.add(d + 2, `<southBoundLatitude>${ll[1]}</southBoundLatitude>`);
  out.add(d + 2, `<northBoundLatitude>${ll[3]}</northBoundLatitude>`);
  out.add(d + 1, '</EX_GeographicBoundingBox>');
  out.add(d + 1, `<BoundingBox CRS="CRS:84" minx="${ll[0]}" miny="${ll[1]}" maxx="${ll[2]}" maxy="${ll[3]}" />`);
  for (const { srs, bbox } of l.bboxes) {
    // WMS 1.3.0 bounding boxes follow the CRS axis order (EPSG:4326 is lat/lon)
    const b = axisNE(srs) ? [bbox[1], bbox[0], bbox[3], bbox[2]] : bbox;
    out.add(d + 1, `<BoundingBox CRS="${esc(srs)}" ${bboxAttrs(b)} />`);
  }
  for (const dim of l.dimensions ?? []) {
    out.add(
      d + 1,
      `<Dimension name="${esc(dim.name)}" default="${esc(dim.default)}" nearestValue="0" units="${esc(dimensionUnits(dim))}" >${esc(dim.values.join(','))}</Dimension>`,
    );
  }
  if (md.attribution && typeof md.attribution === 'object') {
    const a = md.attribution as Record<string, any>;
    out.add(d + 1, '<Attribution>');
    if (present(a.title)) out.add(d + 2, `<Title>${esc(a.title)}</Title>`);
    if (present(a.url)) out.add(d + 2, `<OnlineResource xlink:href="${esc(a.url)}"/>`);
    if (a.logo && typeof a.logo === 'object') {
      const logo = a.logo as Record<string, any>;
      const w = present(logo.width) ? ` width="${esc(logo.width)}"` : '';
      const h = present(logo.height) ? ` height="${esc(logo.height)}"` : '';
      out.add(d + 2, `<LogoURL${w}${h}>`);
      if (present(logo.format)) out.add(d + 3, `<Format>${esc(logo.format)}</Format>`);
      if (present(logo.url)) out.add(d + 3, `<OnlineResource xlink:href="${esc(logo.url)}"/>`);
      out.add(d + 2, '</LogoURL>');
    }
    out.add(d + 1, '</Attribution>');
  }
  const identifiers = arr(md.identifier);
  for (const idf of identifiers) {
    out.add(d + 1, `<AuthorityURL name="${esc(idf.name)}">`);
    if (present(idf.url)) out.add(d + 2, `<OnlineResource xlink:href="${esc(idf.url)}" />`);
    out.add(d + 1, '</AuthorityURL>');
  }
  for (const idf of identifiers) out.add(d + 1, `<Identifier authority="${esc(idf.name)}">${esc(idf.value)}</Identifier>`);
  metaUrls130(out, d + 1, 'MetadataURL', md.metadata, true);
  metaUrls130(out, d + 1, 'DataURL', md.data, false);
  metaUrls130(out, d + 1, 'FeatureListURL', md.feature_list, false);
  if (l.legend) {
    const lg = l.legend;
    out.add(d + 1, '<Style>');
    // INSPIRE view services name the default style inspire_common:DEFAULT (GetMap accepts both)
    out.add(d + 2, `<Name>${inspireMd(ctx.input) ? 'inspire_common:DEFAULT' : 'default'}</Name>`);
    out.add(d + 2, '<Title>default</Title>');
    out.add(d + 2, `<LegendURL${legendSize(lg)}>`);
    out.add(d + 3, `<Format>${esc(lg.format)}</Format>`);
    out.add(d + 3, `<OnlineResource xlink:type="simple" xlink:href="${esc(lg.url)}" />`);
    out.add(d + 2, '</LegendURL>');
    out.add(d + 1, '</Style>');
  }
  // ResolutionRange.scale_denominator: the finest resolution bounds the small denominator
  if (l.maxRes) out.add(d + 1, `<MinScaleDenominator>${pyFloat(l.maxRes / OGC_PIXEL_SIZE)}</MinScaleDenominator>`);
  if (l.minRes) out.add(d + 1, `<MaxScaleDenominator>${pyFloat(l.minRes / OGC_PIXEL_SIZE)}</MaxScaleDenominator>`);
  for (const child of l.layers) layer130(out, d + 1, child, ctx, false);
  out.add(d, '</Layer>');
}

// ---------------------------------------------------------------------------------------
// INSPIRE view service extended capabilities (1.3.0 only, as MapProxy's templates)

const INSPIRE_COMMON = 'http://inspire.ec.europa.eu/schemas/common/1.0';
const INSPIRE_VS = 'http://inspire.ec.europa.eu/schemas/inspire_vs/1.0';

/** The inspire_md mapping when one is configured (MapProxy's {{if inspire_md}}: an empty mapping counts as none). */
function inspireMd(input: WmsCapabilitiesInput): Record<string, any> | undefined {
  const md = input.inspire;
  return md && typeof md === 'object' && Object.keys(md).length > 0 ? md : undefined;
}

/** A child mapping of the config, or an empty one (recursive_bunch reads missing keys as ''). */
function sub(v: unknown): Record<string, any> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : {};
}

/** A list of the config (missing reads as none). */
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function ic(tag: string, value: unknown): string {
  return `<inspire_common:${tag}>${esc(value)}</inspire_common:${tag}>`;
}

/** inspire_dates: each date the mapping has, in this order ('in' tests the key, not the value). */
function inspireDates(out: Lines, d: number, c: Record<string, any>): void {
  if ('date_of_publication' in c) out.add(d, ic('DateOfPublication', c.date_of_publication));
  if ('date_of_creation' in c) out.add(d, ic('DateOfCreation', c.date_of_creation));
  if ('date_of_last_revision' in c) out.add(d, ic('DateOfLastRevision', c.date_of_last_revision));
}

/** ResourceLocator and MetadataUrl share the URL + MediaType form. */
function urlAndType(out: Lines, d: number, tag: string, v: unknown): void {
  const m = sub(v);
  out.add(d, `<inspire_common:${tag}>`);
  out.add(d + 1, ic('URL', m.url));
  out.add(d + 1, ic('MediaType', m.media_type));
  out.add(d, `</inspire_common:${tag}>`);
}

function languages(out: Lines, d: number, md: Record<string, any>): void {
  const lang = sub(md.languages).default;
  out.add(d, '<inspire_common:SupportedLanguages>');
  out.add(d + 1, '<inspire_common:DefaultLanguage>');
  out.add(d + 2, ic('Language', lang));
  out.add(d + 1, '</inspire_common:DefaultLanguage>');
  out.add(d, '</inspire_common:SupportedLanguages>');
  out.add(d, '<inspire_common:ResponseLanguage>');
  out.add(d + 1, ic('Language', lang));
  out.add(d, '</inspire_common:ResponseLanguage>');
}

/** The citation of a conformity specification or a keyword vocabulary: title, dates, URIs and resource locators. */
function inspireCitation(out: Lines, d: number, c: Record<string, any>): void {
  out.add(d, ic('Title', c.title));
  inspireDates(out, d, c);
  for (const uri of list(c.uris)) out.add(d, ic('URI', uri));
  for (const rl of list(c.resource_locators)) urlAndType(out, d, 'ResourceLocator', rl);
}

/**
 * inspire_vs:ExtendedCapabilities from services.wms.inspire_md: `type: linked` points to
 * the service metadata record, anything else is written as `embedded` (the metadata
 * itself), element for element as MapProxy's wms130capabilities.xml.
 */
function inspireExtendedCapabilities(out: Lines, d: number, md: Record<string, any>): void {
  out.add(d, '<inspire_vs:ExtendedCapabilities>');
  const i = d + 1;
  if (md.type === 'linked') {
    urlAndType(out, i, 'MetadataUrl', md.metadata_url);
    languages(out, i, md);
  } else {
    for (const rl of list(md.resource_locators)) urlAndType(out, i, 'ResourceLocator', rl);
    out.add(i, ic('ResourceType', 'service'));
    out.add(i, '<inspire_common:TemporalReference>');
    inspireDates(out, i + 1, sub(md.temporal_reference));
    out.add(i, '</inspire_common:TemporalReference>');
    for (const cv of list(md.conformities)) {
      const c = sub(cv);
      out.add(i, '<inspire_common:Conformity>');
      out.add(i + 1, '<inspire_common:Specification>');
      inspireCitation(out, i + 2, c);
      out.add(i + 1, '</inspire_common:Specification>');
      out.add(i + 1, ic('Degree', c.degree));
      out.add(i, '</inspire_common:Conformity>');
    }
    for (const pv of list(md.metadata_points_of_contact)) {
      const p = sub(pv);
      out.add(i, '<inspire_common:MetadataPointOfContact>');
      out.add(i + 1, ic('OrganisationName', p.organisation_name));
      out.add(i + 1, ic('EmailAddress', p.email));
      out.add(i, '</inspire_common:MetadataPointOfContact>');
    }
    out.add(i, ic('MetadataDate', md.metadata_date));
    out.add(i, ic('SpatialDataServiceType', 'view'));
    for (const k of list(md.mandatory_keywords)) {
      out.add(i, '<inspire_common:MandatoryKeyword>');
      out.add(i + 1, ic('KeywordValue', k));
      out.add(i, '</inspire_common:MandatoryKeyword>');
    }
    for (const kv of list(md.keywords)) {
      const k = sub(kv);
      out.add(i, '<inspire_common:Keyword>');
      out.add(i + 1, '<inspire_common:OriginatingControlledVocabulary>');
      inspireCitation(out, i + 2, k);
      out.add(i + 1, '</inspire_common:OriginatingControlledVocabulary>');
      out.add(i + 1, ic('KeywordValue', k.keyword_value));
      out.add(i, '</inspire_common:Keyword>');
    }
    languages(out, i, md);
    // optional here: an absent or empty mapping is left out, as Python's truthiness decides
    if (Object.keys(sub(md.metadata_url)).length) urlAndType(out, i, 'MetadataUrl', md.metadata_url);
  }
  out.add(d, '</inspire_vs:ExtendedCapabilities>');
}

/** OGC's standardized rendering pixel size in metres, for scale denominators. */
const OGC_PIXEL_SIZE = 0.00028;

function metaUrls130(out: Lines, d: number, tag: string, list: unknown, withType: boolean): void {
  for (const m of arr(list)) {
    const type = withType && present(m.type) ? ` type="${esc(m.type)}"` : '';
    out.add(d, `<${tag}${type}>`);
    if (present(m.format)) out.add(d + 1, `<Format>${esc(m.format)}</Format>`);
    out.add(d + 1, `<OnlineResource xlink:href="${esc(m.url)}"/>`);
    out.add(d, `</${tag}>`);
  }
}

function legendSize(lg: { width?: number; height?: number }): string {
  const w = lg.width !== undefined ? ` width="${esc(lg.width)}"` : '';
  const h = lg.height !== undefined ? ` height="${esc(lg.height)}"` : '';
  return w + h;
}

// ---------------------------------------------------------------------------------------
// WMS 1.1.0 and 1.1.1

const XLINK_NS = `xmlns:xlink="${XLINK}"`;

function doc11x(out: Lines, ctx: Ctx): void {
  const { input, v } = ctx;
  const md = input.md ?? {};
  const url = esc(ctx.requestUrl);
  const dtd = v === '1.1.1' ? 'WMS_MS_Capabilities.dtd' : 'capabilities_1_1_0.dtd';
  out.add(0, '<?xml version="1.0"?>');
  const tileSets = input.tileSets ?? [];
  // the DTD demands that VendorSpecificCapabilities be declared by the server
  out.add(0, `<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://schemas.opengis.net/wms/${v}/${dtd}"`);
  out.add(0, ' [');
  if (tileSets.length) for (const decl of TILESET_DTD) out.add(0, ` ${decl}`);
  else out.add(0, ' <!ELEMENT VendorSpecificCapabilities EMPTY>');
  out.add(0, ' ]>  <!-- end of DOCTYPE declaration -->');
  out.add(0, `<WMT_MS_Capabilities version="${v}">`);
  out.add(0, '<Service>');
  out.add(1, '<Name>OGC:WMS</Name>');
  out.add(1, `<Title>${esc(md.title)}</Title>`);
  out.add(1, `<Abstract>${esc(md.abstract)}</Abstract>`);
  out.add(1, `<OnlineResource ${XLINK_NS} xlink:href="${esc(ctx.serviceOnlineResource)}"/>`);
  contactInformation(out, 1, md.contact);
  out.add(1, `<Fees>${orNone(md.fees)}</Fees>`);
  out.add(1, `<AccessConstraints>${orNone(md.access_constraints)}</AccessConstraints>`);
  out.add(0, '</Service>');
  out.add(0, '<Capability>');
  out.add(1, '<Request>');
  operation11x(out, 'GetCapabilities', ['application/vnd.ogc.wms_xml'], url);
  operation11x(out, 'GetMap', input.imageFormats, url);
  if (input.infoFormats.length > 0) operation11x(out, 'GetFeatureInfo', input.infoFormats, url);
  if (input.legendGraphic && v === '1.1.1') operation11x(out, 'GetLegendGraphic', input.imageFormats, url);
  out.add(1, '</Request>');
  out.add(1, '<Exception>');
  for (const f of ['application/vnd.ogc.se_xml', 'application/vnd.ogc.se_inimage', 'application/vnd.ogc.se_blank']) {
    out.add(2, `<Format>${f}</Format>`);
  }
  out.add(1, '</Exception>');
  if (tileSets.length) vendorTileSets(out, tileSets, v);
  layer11x(out, 1, input.root, ctx, true);
  out.add(0, '</Capability>');
  out.add(0, '</WMT_MS_Capabilities>');
}

/** The WMS-C element declarations of MapProxy's 1.1.x templates (the OGC DTDs leave VendorSpecificCapabilities to the server). */
const TILESET_DTD = [
  '<!ELEMENT VendorSpecificCapabilities (TileSet*) >',
  '<!ELEMENT TileSet (SRS, BoundingBox?, Resolutions, Width, Height, Format, Layers*, Styles*) >',
  '<!ELEMENT Resolutions (#PCDATA) >',
  '<!ELEMENT Width (#PCDATA) >',
  '<!ELEMENT Height (#PCDATA) >',
  '<!ELEMENT Layers (#PCDATA) >',
  '<!ELEMENT Styles (#PCDATA) >',
];

/**
 * WMS-C TileSets. 1.1.1 names the grid's SRS code, 1.1.0 the TMS profile name
 * (OSGEO:41001 for global mercator), as MapProxy's two templates differ; every
 * resolution is followed by a space, trailing one included.
 */
function vendorTileSets(out: Lines, tileSets: readonly WmsTileSet[], v: WmsVersion): void {
  out.add(1, '<VendorSpecificCapabilities>');
  for (const t of tileSets) {
    const srs = esc(v === '1.1.1' ? t.srs : t.srsName);
    out.add(2, '<TileSet>');
    out.add(3, `<SRS>${srs}</SRS>`);
    out.add(3, `<BoundingBox SRS="${srs}" ${bboxAttrs(t.bbox)} />`);
    out.add(3, `<Resolutions>${t.resolutions.map((r) => `${pyFloat(r)} `).join('')}</Resolutions>`);
    out.add(3, `<Width>${t.tileSize[0]}</Width>`);
    out.add(3, `<Height>${t.tileSize[1]}</Height>`);
    out.add(3, `<Format>${esc(t.format)}</Format>`);
    out.add(3, `<Layers>${esc(t.layer)}</Layers>`);
    out.add(3, '<Styles></Styles>');
    out.add(2, '</TileSet>');
  }
  out.add(1, '</VendorSpecificCapabilities>');
}

function operation11x(out: Lines, tag: string, formats: readonly string[], url: string): void {
  out.add(2, `<${tag}>`);
  for (const f of formats) out.add(3, `<Format>${esc(f)}</Format>`);
  out.add(3, '<DCPType>');
  out.add(4, '<HTTP>');
  out.add(5, `<Get><OnlineResource ${XLINK_NS} xlink:href="${url}"/></Get>`);
  out.add(4, '</HTTP>');
  out.add(3, '</DCPType>');
  out.add(2, `</${tag}>`);
}

/** wms111metadatatype: 1.1.x only knows TC211 and FGDC metadata; others are left out. */
function metadataType11x(type: unknown): string | undefined {
  if (type === 'ISO19115:2003') return 'TC211';
  if (type === 'FGDC:1998') return 'FGDC';
  return undefined;
}

/**
 * Differences to MapProxy's templates, for DTD validity: dimensions are written as an
 * empty Dimension (name, units) plus an Extent with default and values, as the 1.1.x
 * DTDs define them, and they come before MetadataURL.
 */
function layer11x(out: Lines, d: number, l: WmsCapLayer, ctx: Ctx, root: boolean): void {
  const v111 = ctx.v === '1.1.1';
  const md = l.md ?? {};
  out.add(d, `<Layer${layerAttrs(l)}>`);
  if (present(l.name)) out.add(d + 1, `<Name>${esc(l.name)}</Name>`);
  out.add(d + 1, `<Title>${esc(l.title)}</Title>`);
  const abstract = layerAbstract(l);
  if (v111 && present(abstract)) out.add(d + 1, `<Abstract>${esc(abstract)}</Abstract>`);
  if (root) {
    if (v111) for (const s of ctx.input.srs) out.add(d + 1, `<SRS>${esc(s)}</SRS>`);
    // 1.1.0 allows one SRS element only, a whitespace separated list
    else out.add(d + 1, `<SRS>${ctx.input.srs.map(esc).join(' ')}</SRS>`);
  }
  const ll = llbboxStrings(l.llbbox);
  out.add(d + 1, `<LatLonBoundingBox minx="${ll[0]}" miny="${ll[1]}" maxx="${ll[2]}" maxy="${ll[3]}" />`);
  for (const { srs, bbox } of l.bboxes) out.add(d + 1, `<BoundingBox SRS="${esc(srs)}" ${bboxAttrs(bbox)} />`);
  const dims = l.dimensions ?? [];
  for (const dim of dims) out.add(d + 1, `<Dimension name="${esc(dim.name)}" units="${esc(dimensionUnits(dim))}" />`);
  for (const dim of dims) {
    const nearest = v111 ? ' nearestValue="0"' : '';
    out.add(d + 1, `<Extent name="${esc(dim.name)}" default="${esc(dim.default)}"${nearest}>${esc(dim.values.join(','))}</Extent>`);
  }
  if (v111) {
    for (const m of arr(md.metadata)) {
      const type = metadataType11x(m.type);
      if (!type) continue;
      out.add(d + 1, `<MetadataURL type="${type}">`);
      if (present(m.format)) out.add(d + 2, `<Format>${esc(m.format)}</Format>`);
      out.add(d + 2, `<OnlineResource ${XLINK_NS} xlink:href="${esc(m.url)}"/>`);
      out.add(d + 1, '</MetadataURL>');
    }
  }
  if (l.legend) {
    const lg = l.legend;
    out.add(d + 1, '<Style>');
    out.add(d + 2, '<Name>default</Name>');
    out.add(d + 2, '<Title>default</Title>');
    out.add(d + 2, `<LegendURL${legendSize(lg)}>`);
    out.add(d + 3, `<Format>${esc(lg.format)}</Format>`);
    out.add(d + 3, `<OnlineResource ${XLINK_NS} xlink:type="simple" xlink:href="${esc(lg.url)}"/>`);
    out.add(d + 2, '</LegendURL>');
    out.add(d + 1, '</Style>');
  }
  if (hasResRange(l)) out.add(d + 1, scaleHint(l));
  for (const child of l.layers) layer11x(out, d + 1, child, ctx, false);
  out.add(d, '</Layer>');
}

// ---------------------------------------------------------------------------------------
// WMS 1.0.0

/** wms100format: 1.0.0 names formats by element, and knows only these raster ones. */
function format100(mime: string): string | undefined {
  const sub = mime.split('/')[1]?.toUpperCase();
  return sub && ['PNG', 'TIFF', 'GIF', 'JPEG'].includes(sub) ? sub : undefined;
}

/** wms100info_format */
function infoFormat100(mime: string): string {
  return mime === 'application/vnd.ogc.gml' || mime === 'text/xml' ? 'GML.1' : 'MIME';
}

function doc100(out: Lines, ctx: Ctx): void {
  const { input } = ctx;
  const md = input.md ?? {};
  const url = esc(ctx.requestUrl);
  out.add(0, '<?xml version="1.0"?>');
  out.add(0, '<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://schemas.opengis.net/wms/1.0.0/WMS_MS_Capabilities.dtd"');
  out.add(0, ' [');
  out.add(0, ' <!ELEMENT VendorSpecificCapabilities EMPTY>');
  out.add(0, ' ]>  <!-- end of DOCTYPE declaration -->');
  out.add(0, '<WMT_MS_Capabilities version="1.0.0">');
  out.add(0, '<Service>');
  out.add(1, '<Name>OGC:WMS</Name>');
  out.add(1, `<Title>${esc(md.title)}</Title>`);
  out.add(1, `<Abstract>${esc(md.abstract)}</Abstract>`);
  out.add(1, `<OnlineResource>${esc(ctx.serviceOnlineResource)}</OnlineResource>`);
  out.add(1, `<Fees>${orNone(md.fees)}</Fees>`);
  out.add(1, `<AccessConstraints>${orNone(md.access_constraints)}</AccessConstraints>`);
  out.add(0, '</Service>');
  out.add(0, '<Capability>');
  out.add(1, '<Request>');
  operation100(out, 'Capabilities', ['WMS_XML'], url);
  operation100(out, 'Map', unique(input.imageFormats.map(format100)), url);
  if (input.infoFormats.length > 0) operation100(out, 'FeatureInfo', unique(input.infoFormats.map(infoFormat100)), url);
  out.add(1, '</Request>');
  out.add(1, '<Exception>');
  out.add(2, '<Format>');
  for (const f of ['INIMAGE', 'BLANK', 'WMS_XML']) out.add(3, `<${f}/>`);
  out.add(2, '</Format>');
  out.add(1, '</Exception>');
  layer100(out, 1, input.root, ctx);
  out.add(0, '</Capability>');
  out.add(0, '</WMT_MS_Capabilities>');
}

function unique(names: (string | undefined)[]): string[] {
  return [...new Set(names.filter((n): n is string => !!n))];
}

function operation100(out: Lines, tag: string, formats: readonly string[], url: string): void {
  out.add(2, `<${tag}>`);
  out.add(3, '<Format>');
  for (const f of formats) out.add(4, `<${f}/>`);
  out.add(3, '</Format>');
  out.add(3, '<DCPType>');
  out.add(4, '<HTTP>');
  out.add(5, `<Get onlineResource="${url}"/>`);
  out.add(4, '</HTTP>');
  out.add(3, '</DCPType>');
  out.add(2, `</${tag}>`);
}

/** 1.0.0 has no Dimension element: MapProxy writes one anyway, here dimensions are left out. */
function layer100(out: Lines, d: number, l: WmsCapLayer, ctx: Ctx): void {
  out.add(d, `<Layer${l.queryable ? ' queryable="1"' : ''}>`);
  if (present(l.name)) out.add(d + 1, `<Name>${esc(l.name)}</Name>`);
  out.add(d + 1, `<Title>${esc(l.title)}</Title>`);
  // MapProxy repeats the full SRS list on every 1.0.0 layer
  out.add(d + 1, `<SRS>${ctx.input.srs.map(esc).join(' ')}</SRS>`);
  const ll = llbboxStrings(l.llbbox);
  out.add(d + 1, `<LatLonBoundingBox minx="${ll[0]}" miny="${ll[1]}" maxx="${ll[2]}" maxy="${ll[3]}" />`);
  for (const { srs, bbox } of l.bboxes) out.add(d + 1, `<BoundingBox SRS="${esc(srs)}" ${bboxAttrs(bbox)} />`);
  if (l.legend) {
    out.add(d + 1, '<Style>');
    out.add(d + 2, '<Name>default</Name>');
    out.add(d + 2, '<Title>default</Title>');
    out.add(d + 2, `<StyleURL>${esc(l.legend.url)}</StyleURL>`);
    out.add(d + 1, '</Style>');
  }
  if (hasResRange(l)) out.add(d + 1, scaleHint(l));
  for (const child of l.layers) layer100(out, d + 1, child, ctx);
  out.add(d, '</Layer>');
}

/**
 * The WMTS 1.0.0 capabilities document (KVP and RESTful), as MapProxy writes
 * it, plus TileMatrixSetLimits per layer and grid (MapProxy has none) and
 * Style LegendURLs.
 */
import type { TileGrid } from '../../grid/tile-grid.ts';
import type { TileLayer } from '../../layer/tile-layer.ts';
import { getSrs, isSameSrs, METERS_PER_DEGREE } from '../../srs/srs.ts';
import type { Bbox } from '../../srs/types.ts';
import { pyFloat } from '../../util/py-format.ts';
import { arr, esc, keywords, orNone, present } from '../md-text.ts';

/** One WMTS layer: the tile layers of one name, one per grid (TileMatrixSet). */
export interface WmtsLayer {
  name: string;
  /** grid name -> tile layer */
  grids: Map<string, TileLayer>;
  /** the first tile layer: title, format, dimensions, extent */
  first: TileLayer;
}

/** What the document is made of. */
export interface WmtsCapabilitiesInput {
  md: Record<string, unknown>;
  /** KVP: the service URL (…/service); RESTful: …/wmts */
  url: string;
  restful: boolean;
  /** RESTful tile and feature info templates (below url) */
  template?: string;
  infoTemplate?: string;
  /** dimension name (lower case) -> casing of the RESTful template */
  dimensionKeys?: Map<string, string>;
  layers: WmtsLayer[];
  grids: Map<string, TileGrid>;
  /** feature info suffix -> mime type */
  infoFormats: Map<string, string>;
  /** LegendURL of a layer, if any */
  legendUrl(layer: TileLayer): string | undefined;
}

/** The capabilities XML. */
export function wmtsCapabilities(input: WmtsCapabilitiesInput): string {
  const md = input.md;
  const o: string[] = [];
  const add = (depth: number, line: string) => o.push('  '.repeat(depth) + line);
  add(0, '<?xml version="1.0"?>');
  add(0, '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">');
  add(1, '<ows:ServiceIdentification>');
  add(2, `<ows:Title>${esc(md.title)}</ows:Title>`);
  add(2, `<ows:Abstract>${esc(md.abstract)}</ows:Abstract>`);
  // one ows:Keywords per keyword_list entry: its vocabulary is the ows:Type (OWS 1.1 has no vocabulary attribute)
  for (const kw of arr(md.keyword_list)) {
    const words = keywords(kw);
    if (!words.length) continue;
    add(2, '<ows:Keywords>');
    for (const k of words) add(3, `<ows:Keyword>${esc(k)}</ows:Keyword>`);
    if (present(kw.vocabulary)) add(3, `<ows:Type>${esc(kw.vocabulary)}</ows:Type>`);
    add(2, '</ows:Keywords>');
  }
  add(2, '<ows:ServiceType>OGC WMTS</ows:ServiceType>');
  add(2, '<ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>');
  add(2, `<ows:Fees>${orNone(md.fees)}</ows:Fees>`);
  add(2, `<ows:AccessConstraints>${orNone(md.access_constraints)}</ows:AccessConstraints>`);
  add(1, '</ows:ServiceIdentification>');
  serviceProvider(add, md);
  if (!input.restful) {
    add(1, '<ows:OperationsMetadata>');
    for (const op of ['GetCapabilities', 'GetTile', 'GetFeatureInfo']) {
      add(2, `<ows:Operation name="${op}">`);
      add(3, '<ows:DCP>');
      add(4, '<ows:HTTP>');
      add(5, `<ows:Get xlink:href="${esc(input.url)}?">`);
      add(6, '<ows:Constraint name="GetEncoding">');
      add(7, '<ows:AllowedValues>');
      add(8, '<ows:Value>KVP</ows:Value>');
      add(7, '</ows:AllowedValues>');
      add(6, '</ows:Constraint>');
      add(5, '</ows:Get>');
      add(4, '</ows:HTTP>');
      add(3, '</ows:DCP>');
      add(2, '</ows:Operation>');
    }
    add(1, '</ows:OperationsMetadata>');
  }
  add(1, '<Contents>');
  for (const layer of input.layers) wmtsLayer(add, layer, input);
  for (const [name, grid] of input.grids) tileMatrixSet(add, name, grid);
  add(1, '</Contents>');
  if (input.restful) add(1, `<ServiceMetadataURL xlink:href="${esc(input.url)}/1.0.0/WMTSCapabilities.xml"/>`);
  add(0, '</Capabilities>');
  return o.join('\n') + '\n';
}

type Add = (depth: number, line: string) => void;

function serviceProvider(add: Add, md: Record<string, unknown>): void {
  const c = md.contact as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object' || !Object.keys(c).length) return;
  add(1, '<ows:ServiceProvider>');
  add(2, `<ows:ProviderName>${esc(c.organization)}</ows:ProviderName>`);
  add(2, `<ows:ProviderSite xlink:href="${esc(md.online_resource)}"/>`);
  add(2, '<ows:ServiceContact>');
  add(3, `<ows:IndividualName>${esc(c.person)}</ows:IndividualName>`);
  add(3, `<ows:PositionName>${esc(c.position)}</ows:PositionName>`);
  add(3, '<ows:ContactInfo>');
  add(4, '<ows:Phone>');
  add(5, `<ows:Voice>${esc(c.phone)}</ows:Voice>`);
  add(5, `<ows:Facsimile>${esc(c.fax)}</ows:Facsimile>`);
  add(4, '</ows:Phone>');
  add(4, '<ows:Address>');
  add(5, `<ows:DeliveryPoint>${esc(c.address ?? c.organization)}</ows:DeliveryPoint>`);
  add(5, `<ows:City>${esc(c.city)}</ows:City>`);
  if (present(c.state)) add(5, `<ows:AdministrativeArea>${esc(c.state)}</ows:AdministrativeArea>`);
  add(5, `<ows:PostalCode>${esc(c.postcode)}</ows:PostalCode>`);
  add(5, `<ows:Country>${esc(c.country)}</ows:Country>`);
  add(5, `<ows:ElectronicMailAddress>${esc(c.email)}</ows:ElectronicMailAddress>`);
  add(4, '</ows:Address>');
  add(3, '</ows:ContactInfo>');
  add(2, '</ows:ServiceContact>');
  add(1, '</ows:ServiceProvider>');
}

/** MapProxy's limit_llbbox: clients choke on exactly +-90. */
function llStrings(b: Bbox): string[] {
  return [Math.max(-180, b[0]), Math.max(-89.999999, b[1]), Math.min(180, b[2]), Math.min(89.999999, b[3])].map(pyFloat);
}

function wmtsLayer(add: Add, layer: WmtsLayer, input: WmtsCapabilitiesInput): void {
  const l = layer.first;
  const wgs = getSrs('EPSG:4326');
  let ll: Bbox | undefined;
  try {
    ll = isSameSrs(l.extent.srs, wgs) ? l.extent.bbox : l.extent.srs.transformBbox(l.extent.bbox, wgs);
  } catch {
    ll = undefined; // an extent that cannot be transformed is left out, as MapProxy skips it
  }
  const fmt = formatExt(l);
  const mime = l.formatMime;
  add(2, '<Layer>');
  add(3, `<ows:Title>${esc(l.title)}</ows:Title>`);
  add(3, '<ows:Abstract></ows:Abstract>');
  if (ll) {
    const s = llStrings(ll);
    add(3, '<ows:WGS84BoundingBox>');
    add(4, `<ows:LowerCorner>${s[0]} ${s[1]}</ows:LowerCorner>`);
    add(4, `<ows:UpperCorner>${s[2]} ${s[3]}</ows:UpperCorner>`);
    add(3, '</ows:WGS84BoundingBox>');
  }
  add(3, `<ows:Identifier>${esc(layer.name)}</ows:Identifier>`);
  add(3, '<Style isDefault="true">');
  add(4, '<ows:Identifier>default</ows:Identifier>');
  const legend = input.legendUrl(l);
  if (legend) add(4, `<LegendURL format="image/png" xlink:href="${esc(legend)}"/>`);
  add(3, '</Style>');
  add(3, `<Format>${esc(mime)}</Format>`);
  const queryable = l.infoSources.length > 0;
  if (queryable) for (const m of input.infoFormats.values()) add(3, `<InfoFormat>${esc(m)}</InfoFormat>`);
  for (const [key, d] of l.dimensions ?? []) {
    add(3, '<Dimension>');
    add(4, `<ows:Identifier>${esc(input.dimensionKeys?.get(key) ?? d.identifier)}</ows:Identifier>`);
    add(4, `<Default>${esc(d.default)}</Default>`);
    for (const v of d.values) add(4, `<Value>${esc(v)}</Value>`);
    add(3, '</Dimension>');
  }
  for (const [gname, tl] of layer.grids) {
    add(3, '<TileMatrixSetLink>');
    add(4, `<TileMatrixSet>${esc(gname)}</TileMatrixSet>`);
    const limits = tileMatrixLimits(tl);
    if (limits.length) {
      add(4, '<TileMatrixSetLimits>');
      for (const [z, minRow, maxRow, minCol, maxCol] of limits) {
        add(5, '<TileMatrixLimits>');
        add(6, `<TileMatrix>${z}</TileMatrix>`);
        add(6, `<MinTileRow>${minRow}</MinTileRow>`);
        add(6, `<MaxTileRow>${maxRow}</MaxTileRow>`);
        add(6, `<MinTileCol>${minCol}</MinTileCol>`);
        add(6, `<MaxTileCol>${maxCol}</MaxTileCol>`);
        add(5, '</TileMatrixLimits>');
      }
      add(4, '</TileMatrixSetLimits>');
    }
    add(3, '</TileMatrixSetLink>');
  }
  if (input.restful && input.template) {
    const t = input.template.replaceAll('{Format}', fmt).replaceAll('{Layer}', layer.name);
    add(3, `<ResourceURL format="${esc(mime)}" resourceType="tile" template="${esc(input.url + t)}"/>`);
    if (queryable && input.infoTemplate) {
      for (const [suffix, m] of input.infoFormats) {
        const ft = input.infoTemplate.replaceAll('{InfoFormat}', suffix).replaceAll('{Layer}', layer.name);
        add(3, `<ResourceURL format="${esc(m)}" resourceType="FeatureInfo" template="${esc(input.url + ft)}"/>`);
      }
    }
  }
  add(2, '</Layer>');
}

/** The URL extension of a layer's tiles ('png' for mixed caches, as MapProxy advertises them). */
export function formatExt(l: TileLayer): string {
  return l.formatMime.split('/')[1]?.split(';')[0] ?? 'png';
}

/** TopLeftCorner and scale denominator of one level, MapProxy's TileMatrixSet values. */
export function tileMatrix(grid: TileGrid, z: number): { topLeft: [number, number]; scaleDenom: number } {
  const b = grid.tileBbox(grid.originTile(z, 'nw'));
  const topLeft: [number, number] = grid.srs.axisOrderNE ? [b[3], b[0]] : [b[0], b[3]];
  // written as MapProxy computes it (0.28 / 1000 is not the double 0.00028), so the digits match
  const scaleDenom = (grid.resolutions[z] / (0.28 / 1000)) * (grid.srs.isLatLong ? METERS_PER_DEGREE : 1);
  return { topLeft, scaleDenom };
}

function tileMatrixSet(add: Add, name: string, grid: TileGrid): void {
  add(2, '<TileMatrixSet>');
  add(3, `<ows:Identifier>${esc(name)}</ows:Identifier>`);
  add(3, `<ows:SupportedCRS>${esc(grid.srs.code)}</ows:SupportedCRS>`);
  for (let z = 0; z < grid.resolutions.length; z++) {
    const { topLeft, scaleDenom } = tileMatrix(grid, z);
    const [cols, rows] = grid.gridSizes[z];
    add(3, '<TileMatrix>');
    add(4, `<ows:Identifier>${z}</ows:Identifier>`);
    add(4, `<ScaleDenominator>${pyFloat(scaleDenom)}</ScaleDenominator>`);
    add(4, `<TopLeftCorner>${pyFloat(topLeft[0])} ${pyFloat(topLeft[1])}</TopLeftCorner>`);
    add(4, `<TileWidth>${grid.tileSize[0]}</TileWidth>`);
    add(4, `<TileHeight>${grid.tileSize[1]}</TileHeight>`);
    add(4, `<MatrixWidth>${cols}</MatrixWidth>`);
    add(4, `<MatrixHeight>${rows}</MatrixHeight>`);
    add(3, '</TileMatrix>');
  }
  add(2, '</TileMatrixSet>');
}

/**
 * Per level: the rows (counted from the top) and columns that hold the
 * layer's extent, so clients do not ask for tiles outside it.
 */
export function tileMatrixLimits(l: TileLayer): [number, number, number, number, number][] {
  const grid = l.grid;
  let ext: Bbox;
  try {
    ext = isSameSrs(l.extent.srs, grid.srs) ? l.extent.bbox : l.extent.srs.transformBbox(l.extent.bbox, grid.srs);
  } catch {
    return [];
  }
  const gb = grid.bbox;
  const b: Bbox = [Math.max(ext[0], gb[0]), Math.max(ext[1], gb[1]), Math.min(ext[2], gb[2]), Math.min(ext[3], gb[3])];
  if (!(b[0] < b[2] && b[1] < b[3])) return [];
  const out: [number, number, number, number, number][] = [];
  for (let z = 0; z < grid.resolutions.length; z++) {
    const res = grid.resolutions[z];
    const [cols, rows] = grid.gridSizes[z];
    const tl = grid.tileBbox(grid.originTile(z, 'nw'));
    const left = tl[0];
    const top = tl[3];
    const tw = res * grid.tileSize[0];
    const th = res * grid.tileSize[1];
    // a tolerance of a millionth of a tile keeps an edge on a tile border from adding a row
    const eps = 1e-6;
    const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
    const minCol = clamp(Math.floor((b[0] - left) / tw + eps), cols);
    const maxCol = clamp(Math.ceil((b[2] - left) / tw - eps) - 1, cols);
    const minRow = clamp(Math.floor((top - b[3]) / th + eps), rows);
    const maxRow = clamp(Math.ceil((top - b[1]) / th - eps) - 1, rows);
    out.push([z, minRow, Math.max(minRow, maxRow), minCol, Math.max(minCol, maxCol)]);
  }
  return out;
}

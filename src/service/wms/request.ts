/**
 * WMS KVP requests: case-insensitive parameters, version negotiation and the
 * checks MapProxy makes (missing parameters, bbox, size, styles), each
 * failure a RequestError with the OGC exception code.
 */
import { RequestError } from '../../errors.ts';
import type { Bbox } from '../../srs/types.ts';
import { negotiateWmsVersion, WMS_VERSIONS, type WmsVersion } from './exceptions.ts';

export type { WmsVersion } from './exceptions.ts';
export type WmsRequestType = 'map' | 'featureinfo' | 'capabilities' | 'legendgraphic';

/** Every WMS version we answer, oldest first. */
export const ALL_VERSIONS: readonly WmsVersion[] = WMS_VERSIONS;

/** Request parameters with lower-cased names; repeated names keep all values. */
export class WmsParams {
  private map = new Map<string, string[]>();
  constructor(search: URLSearchParams) {
    for (const [k, v] of search) {
      const lk = k.toLowerCase();
      const list = this.map.get(lk);
      if (list) list.push(v);
      else this.map.set(lk, [v]);
    }
  }

  /** First value of a parameter. */
  get(name: string): string | undefined {
    return this.map.get(name)?.[0];
  }

  /** All values of a parameter. */
  getAll(name: string): string[] {
    return this.map.get(name) ?? [];
  }

  has(name: string): boolean {
    return this.map.has(name);
  }
}

/** A parsed and version-negotiated WMS request (before checks against the service). */
export interface WmsRequest {
  type: WmsRequestType | string | undefined;
  version: WmsVersion;
  params: WmsParams;
}

/** Reads REQUEST and VERSION/WMTVER as MapProxy's wms_request does. */
export function parseWmsRequest(search: URLSearchParams, versions: readonly WmsVersion[] = ALL_VERSIONS): WmsRequest {
  const params = new WmsParams(search);
  const raw = params.get('request')?.toLowerCase();
  let type: WmsRequest['type'] = raw;
  if (raw === 'getmap' || raw === 'map') type = 'map';
  else if (raw === 'getfeatureinfo' || raw === 'feature_info') type = 'featureinfo';
  else if (raw === 'getcapabilities' || raw === 'capabilities') type = 'capabilities';
  else if (raw === 'getlegendgraphic') type = 'legendgraphic';
  const version = negotiateWmsVersion(params.get('version') ?? params.get('wmtver'), versions);
  return { type, version, params };
}

/** The parsed parts of a GetMap (and the map part of GetFeatureInfo). */
export interface MapParams {
  layers: string[];
  styles: string[];
  srs: string;
  /** east/north order, whatever the version sent */
  bbox: Bbox;
  width: number;
  height: number;
  /** the FORMAT value as sent ('' when missing) */
  format: string;
  transparent: boolean;
  /** '#rrggbb' */
  bgcolor: string;
  exceptions: string;
  tiled: boolean;
}

const MAP_PARAMS = ['layers', 'styles', 'srs', 'bbox', 'width', 'height', 'format'];

/** Checks and parses the map parameters; axis-order swapping is left to the caller (it needs the SRS). */
export function parseMapParams(req: WmsRequest, opts: { forInfo?: boolean; strict?: boolean } = {}): MapParams {
  const p = req.params;
  const srsKey = req.version === '1.3.0' ? 'crs' : 'srs';
  const expected = MAP_PARAMS.map((k) => (k === 'srs' ? srsKey : k));
  const lenient = opts.forInfo && !opts.strict ? new Set(['styles', 'format']) : new Set<string>();
  const missing = expected.filter((k) => !lenient.has(k) && !p.has(k));
  if (missing.length) throw new RequestError(`missing parameters ${pyList(missing)}`, 400, 'MissingParameterValue');
  const layers = p.getAll('layers').flatMap((l) => l.split(',')).filter((l) => l !== '');
  if (!layers.length) throw new RequestError('missing layers', 400, 'LayerNotDefined');
  const styles = (p.get('styles') ?? '').split(',');
  if (!styles.every((s) => s === '' || s === 'default' || s === 'inspire_common:DEFAULT')) {
    throw new RequestError(`unsupported styles: ${p.get('styles')}`, 400, 'StyleNotDefined');
  }
  const bboxStr = p.get('bbox')!;
  const parts = bboxStr.split(',').map((v) => Number(v.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v)) || bboxStr.trim() === '') {
    throw new RequestError(`invalid bbox ${bboxStr}`, 400, 'InvalidParameterValue');
  }
  const bbox = parts as Bbox;
  if (bbox[0] >= bbox[2] || bbox[1] >= bbox[3]) throw new RequestError(`invalid bbox ${bboxStr}`, 400, 'InvalidParameterValue');
  const width = parseSize(p.get('width')!, 'width');
  const height = parseSize(p.get('height')!, 'height');
  const color = p.get('bgcolor') ?? '0xffffff';
  const hex = /^(?:0x|#)?([0-9a-f]{6})$/i.exec(color.trim());
  if (!hex) throw new RequestError(`invalid bgcolor ${color}`, 400, 'InvalidParameterValue');
  return {
    layers,
    styles,
    srs: p.get(srsKey)!,
    bbox,
    width,
    height,
    format: p.get('format') ?? '',
    transparent: (p.get('transparent') ?? 'false').toLowerCase() === 'true',
    bgcolor: `#${hex[1].toLowerCase()}`,
    exceptions: p.get('exceptions') ?? '',
    tiled: (p.get('tiled') ?? 'false').toLowerCase() === 'true',
  };
}

function parseSize(v: string, name: string): number {
  // MapProxy allows '256.0' and truncates
  const n = Math.trunc(Number(v));
  if (!Number.isFinite(Number(v)) || v.trim() === '' || n <= 0) {
    throw new RequestError(`invalid ${name} ${v}: expected a positive integer`, 400, 'InvalidParameterValue');
  }
  return n;
}

/** Python's repr of a list of strings, as MapProxy's messages show them. */
function pyList(items: string[]): string {
  return `[${items.map((i) => `'${i}'`).join(', ')}]`;
}

/** `on_error` of tile (and later wms) sources: substitute tiles for upstream failures. */
import { ConfigError } from '../errors.ts';
import { parseColor, type Rgba } from '../image/parse-color.ts';

/** What to answer for one status code (or `other`). */
export interface ErrorResponse {
  color: Rgba;
  cache: boolean;
  authorizeStale: boolean;
}

/** Status code -> substitute; 'other' covers everything else incl. timeouts and non-images. */
export type OnError = Map<number | 'other', ErrorResponse>;

/** Parse the `on_error` block; `path` is its key path for errors. */
export function parseOnError(conf: unknown, path: string): OnError | undefined {
  if (conf == null) return undefined;
  if (typeof conf !== 'object' || Array.isArray(conf)) throw new ConfigError(`expected a mapping of status codes`, { file: '', path });
  const out: OnError = new Map();
  for (const [key, val] of Object.entries(conf as Record<string, unknown>)) {
    const p = `${path}.${key}`;
    const code = key === 'other' ? 'other' : Number(key);
    if (code !== 'other' && !(Number.isInteger(code) && code >= 100 && code <= 599)) {
      throw new ConfigError(`expected an HTTP status code or 'other'`, { file: '', path: p });
    }
    const v = (val ?? {}) as Record<string, unknown>;
    const resp = v.response;
    const color: Rgba | undefined = resp === 'transparent' ? [255, 255, 255, 0] : parseColor(resp);
    if (!color) throw new ConfigError(`response: expected 'transparent' or a colour like '#ff0000', got ${JSON.stringify(resp)}`, { file: '', path: p });
    out.set(code, { color, cache: v.cache === true, authorizeStale: v.authorize_stale === true });
  }
  return out;
}

/** The substitute for a failure with this HTTP status (undefined status = network error / bad body). */
export function errorResponseFor(onError: OnError | undefined, status: number | undefined): ErrorResponse | undefined {
  if (!onError) return undefined;
  return (status !== undefined ? onError.get(status) : undefined) ?? onError.get('other');
}

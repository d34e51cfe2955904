/**
 * The built-in demo configuration of `mapproxy serve-develop` without a config:
 * a debug source (no network) behind a file cache in a temporary directory,
 * served as TMS, /tiles, WMTS, KML and WMS (GetMap in any of the listed SRS),
 * with the demo page at /demo/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The demo mapproxy.yaml; grids are named so both TMS (EPSG900913) and XYZ (webmercator) URLs work. */
export const DEMO_CONFIG = `# mapproxy-ts built-in demo: a debug source, no network needed.
services:
  tms:
    use_grid_names: true
  wmts:
  kml:
    use_grid_names: true
  wms:
    srs: ['EPSG:3857', 'EPSG:900913', 'EPSG:4326', 'EPSG:25832']
    md:
      title: mapproxy-ts demo WMS
  demo:

layers:
  - name: osm
    title: Debug tiles (built-in demo)
    sources: [osm_cache]

caches:
  osm_cache:
    grids: [EPSG900913, webmercator]
    sources: [debug]

grids:
  EPSG900913:
    base: GLOBAL_MERCATOR
  webmercator:
    base: GLOBAL_WEBMERCATOR

sources:
  debug:
    type: debug

globals:
  cache:
    base_dir: ./cache_data
`;

/** Write the demo config into a new temp dir and return the mapproxy.yaml path. */
export function writeDemoConfig(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-demo-'));
  const file = path.join(dir, 'mapproxy.yaml');
  fs.writeFileSync(file, DEMO_CONFIG);
  return file;
}

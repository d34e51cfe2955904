/**
 * The demo's map viewer, run in the browser: reads the config block the
 * server wrote into the page (viewer-config.ts) and shows one layer with
 * OpenLayers, in the layer's own SRS and tile grid. Bundled by viewer-build.ts.
 */
import 'ol/ol.css';
import './demo.css';
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import TileLayer from 'ol/layer/Tile.js';
import ImageLayer from 'ol/layer/Image.js';
import TileImage from 'ol/source/TileImage.js';
import ImageWMS from 'ol/source/ImageWMS.js';
import TileGrid from 'ol/tilegrid/TileGrid.js';
import Projection from 'ol/proj/Projection.js';
import { addProjection, get as getProjection } from 'ol/proj.js';
import { register } from 'ol/proj/proj4.js';
import { createStringXY } from 'ol/coordinate.js';
import { defaults as defaultControls, MousePosition, ScaleLine } from 'ol/control.js';
import type BaseLayer from 'ol/layer/Base.js';
import proj4 from 'proj4';
import { fillTileUrl, VIEWER_CONFIG_ID, type TileViewerConfig, type ViewerConfig, type ViewerProjection, type WmsViewerConfig } from '../viewer-config.ts';

/** The OpenLayers projection for the config; unknown codes are defined from the server's proj4 string. */
function projection(p: ViewerProjection): Projection {
  const known = getProjection(p.code);
  if (known) return known;
  // OpenLayers takes the axis order from the projection (WMS 1.3.0 BBOX); proj4 keeps east/north
  if (p.axisNE) addProjection(new Projection({ code: p.code, units: p.units, axisOrientation: 'neu' }));
  proj4.defs(p.code, p.def);
  register(proj4);
  const proj = getProjection(p.code);
  if (!proj) throw new Error(`cannot define projection ${p.code}`);
  return proj;
}

function tileLayer(cfg: TileViewerConfig, proj: Projection): BaseLayer {
  const [minx, miny, , maxy] = cfg.grid.extent;
  const tileGrid = new TileGrid({
    extent: cfg.grid.extent,
    origin: cfg.grid.origin === 'sw' ? [minx, miny] : [minx, maxy],
    resolutions: cfg.grid.resolutions,
    tileSize: cfg.grid.tileSize,
  });
  const source = new TileImage({
    projection: proj,
    tileGrid,
    wrapX: false,
    tileUrlFunction: (c) => (c ? fillTileUrl(cfg, c[0], c[1], c[2]) : undefined),
  });
  source.on('tileloadstart', () => count('started'));
  source.on('tileloadend', () => count('loaded'));
  source.on('tileloaderror', () => count('failed'));
  return new TileLayer({ source });
}

function wmsLayer(cfg: WmsViewerConfig, proj: Projection): BaseLayer {
  const source = new ImageWMS({ url: cfg.url, params: cfg.params, projection: proj, ratio: 1 });
  source.on('imageloadstart', () => count('started'));
  source.on('imageloadend', () => count('loaded'));
  source.on('imageloaderror', () => count('failed'));
  return new ImageLayer({ source });
}

const counts = { started: 0, loaded: 0, failed: 0 };

/** Count a load into the status line (and its data attributes: tests and curious users read them). */
function count(what: keyof typeof counts): void {
  counts[what]++;
  showStatus();
}

function showStatus(state?: string): void {
  const el = document.getElementById('map-status');
  if (!el) return;
  if (state) el.dataset.state = state;
  el.dataset.loaded = String(counts.loaded);
  el.dataset.failed = String(counts.failed);
  el.textContent = `${el.dataset.state ?? 'loading'}: ${counts.loaded} of ${counts.started} images loaded${counts.failed ? `, ${counts.failed} failed` : ''}`;
}

/** Selects marked data-autosubmit reload the page on change (no inline handlers: the CSP forbids them). */
function autosubmit(): void {
  for (const s of document.querySelectorAll<HTMLSelectElement>('select[data-autosubmit]')) {
    s.addEventListener('change', () => s.form?.submit());
  }
}

function main(): void {
  autosubmit();
  const block = document.getElementById(VIEWER_CONFIG_ID);
  const target = document.getElementById('map');
  if (!block || !target) return;
  const cfg = JSON.parse(block.textContent ?? '') as ViewerConfig;
  const proj = projection(cfg.projection);
  const layer = cfg.type === 'tile' ? tileLayer(cfg, proj) : wmsLayer(cfg, proj);
  const view =
    cfg.type === 'tile'
      ? new View({ projection: proj, resolutions: cfg.grid.resolutions, constrainResolution: true })
      : new View({ projection: proj });
  const controls = defaultControls().extend([
    new ScaleLine(),
    new MousePosition({ projection: 'EPSG:4326', coordinateFormat: createStringXY(5), placeholder: '' }),
  ]);
  const map = new Map({ target, layers: [layer], view, controls });
  // nearest: a tile viewer starts at the level closest to the extent, not one coarser than needed
  view.fit(cfg.initialExtent, { size: map.getSize(), nearest: true });
  showStatus('loading');
  map.on('rendercomplete', () => showStatus('rendered'));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();

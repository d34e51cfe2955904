/** The map viewer pages: a map of one layer through one service, with the grid facts beside it. */
import type { WmsLayer } from '../../layer/wms-layer.ts';
import type { Srs } from '../../srs/srs.ts';
import { pyFloat } from '../../util/py-format.ts';
import type { WmsService } from '../wms/wms-service.ts';
import { kindSupports, KINDS, type DemoContext } from './context.ts';
import { esc, jsonScript, page } from './html.ts';
import { publishedLevels, tileViewerConfig, type TileEntry, type TileKind } from './tile-urls.ts';
import { VIEWER_CONFIG_ID } from './viewer-config.ts';
import { demoImageFormats, layerSrsChoices, wmsViewerConfig } from './wms-viewer.ts';

const MAP = '<div id="map"></div>\n<p id="map-status" data-state="loading">loading</p>';

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`;
}

/** The page of a tile viewer. */
export function tileViewerPage(ctx: DemoContext, kind: TileKind, e: TileEntry): string {
  const k = KINDS[kind];
  const cfg = tileViewerConfig(kind, e, ctx.urls);
  const g = e.layer.grid;
  const others = ctx.tiles.filter((o) => o.layer.name === e.layer.name && kindSupports(kind, o.layer));
  const options = others
    .map((o) => `<option value="${esc(o.layer.gridName)}"${o === e ? ' selected' : ''}>${esc(o.layer.grid.srs.code)} (${esc(o.layer.gridName)})</option>`)
    .join('');
  const form = `<form class="inline" method="get" action="./">${hidden(k.param, e.layer.name)}${k.encoding ? hidden('encoding', k.encoding) : ''}<label>Grid <select name="grid" data-autosubmit>${options}</select></label><button type="submit">Show</button></form>`;
  const levels = publishedLevels(kind, e.layer)
    .map((z, i) => `<tr><td>${cfg.levels[i].id}</td><td>${esc(pyFloat(g.resolutions[z]))}</td><td>${esc(pyFloat(g.scaleDenominator(z)))}</td><td>${g.gridSizes[z][0]} × ${g.gridSizes[z][1]}</td></tr>`)
    .join('\n');
  const body = `<h2>${esc(k.label)}: ${esc(e.layer.title || e.layer.name)} <span class="muted">(${esc(e.layer.name)})</span></h2>
<p>${form}</p>
${MAP}
<h3>Tiles</h3>
<table class="list">
<tr><th>Tile URL</th><td><code>${esc(cfg.url)}</code> (row counted from the ${cfg.urlOrigin === 'sw' ? 'bottom' : 'top'})</td></tr>
<tr><th>Coordinate system</th><td>${esc(g.srs.code)}</td></tr>
<tr><th>Bounding box</th><td>${g.bbox.map((v) => esc(pyFloat(v))).join(', ')}</td></tr>
<tr><th>Grid origin</th><td>${esc(g.origin)}</td></tr>
<tr><th>Tile size</th><td>${g.tileSize[0]} × ${g.tileSize[1]}</td></tr>
<tr><th>Format</th><td>${esc(e.layer.formatMime)}</td></tr>
</table>
<h3>Levels and resolutions</h3>
<table class="list"><tr><th>Level</th><th>Resolution</th><th>Scale</th><th>Tiles</th></tr>
${levels}
</table>
${jsonScript(VIEWER_CONFIG_ID, cfg)}`;
  return page({ title: `${k.label} ${e.layer.name} ${g.srs.code}`, body, viewer: true });
}

/** The page of a WMS viewer. */
export function wmsViewerPage(wms: WmsService, l: WmsLayer, srs: Srs, format: string): string {
  const cfg = wmsViewerConfig(wms, l, srs, format);
  const srsOptions = layerSrsChoices(wms, l)
    .map((c) => `<option value="${esc(c.code)}"${c.code === srs.code ? ' selected' : ''}>${esc(c.code)}${c.native ? ' *' : ''}</option>`)
    .join('');
  const formatOptions = demoImageFormats(wms)
    .map((f) => `<option value="${esc(f)}"${f === format ? ' selected' : ''}>${esc(f.replace(/^image\//, ''))}</option>`)
    .join('');
  const form = `<form class="inline" method="get" action="./">${hidden('wms_layer', l.name ?? '')}<label>Coordinate system <select name="srs" data-autosubmit>${srsOptions}</select></label><label>Format <select name="format" data-autosubmit>${formatOptions}</select></label><button type="submit">Show</button></form>`;
  const body = `<h2>WMS: ${esc(l.title || l.name)} <span class="muted">(${esc(l.name)})</span></h2>
<p>${form}</p>
${MAP}
<h3>Request</h3>
<table class="list">
<tr><th>GetMap parameters</th><td><code>${esc(new URLSearchParams(cfg.params).toString())}</code></td></tr>
<tr><th>Initial extent</th><td>${cfg.initialExtent.map((v) => esc(pyFloat(v))).join(', ')}</td></tr>
</table>
<p class="muted">Coordinate systems marked with * are served without reprojection.</p>
${jsonScript(VIEWER_CONFIG_ID, cfg)}`;
  return page({ title: `WMS ${l.name ?? ''} ${srs.code}`, body, viewer: true });
}

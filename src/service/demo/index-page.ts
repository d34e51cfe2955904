/** The /demo/ page: every WMS and tile layer with its viewers, and every capabilities document. */
import { VERSION } from '../../version.ts';
import { availableKinds, kindSupports, KINDS, tileViewerHref, type DemoContext } from './context.ts';
import { esc, page, query } from './html.ts';
import type { TileEntry, TileKind } from './tile-urls.ts';
import { demoImageFormats, layerSrsChoices } from './wms-viewer.ts';

/** A capabilities line: download the XML, or view it pretty-printed. */
function capabilitiesLine(label: string, xmlHref: string, viewParam: string): string {
  return `<div class="capabilities">${esc(label)}<a href="${esc(xmlHref)}">download as XML</a><a href="${esc(`./${query({ [viewParam]: '' })}`)}">view as HTML</a></div>`;
}

const UNAVAILABLE = '<p class="muted">This service is not available with the current configuration.</p>';

function wmsSection(ctx: DemoContext): string {
  const wms = ctx.wms;
  if (!wms) return `<h2>WMS</h2>\n${UNAVAILABLE}`;
  const formats = demoImageFormats(wms);
  const rows = [...wms.layers.values()].map((l) => {
    const srsOptions = layerSrsChoices(wms, l)
      .map((c) => `<option value="${esc(c.code)}">${esc(c.code)}${c.native ? ' *' : ''}</option>`)
      .join('');
    const formatOptions = formats.map((f) => `<option value="${esc(f)}">${esc(f.replace(/^image\//, ''))}</option>`).join('');
    const form = `<form class="inline" method="get" action="./"><input type="hidden" name="wms_layer" value="${esc(l.name)}"><select name="srs" aria-label="coordinate system">${srsOptions}</select><select name="format" aria-label="image format">${formatOptions}</select><button type="submit">Open viewer</button></form>`;
    return `<tr><td>${esc(l.name)}</td><td>${esc(l.title)}</td><td>${form}</td></tr>`;
  });
  return `<h2>WMS</h2>
${capabilitiesLine('Capabilities document', '../service?REQUEST=GetCapabilities&SERVICE=WMS', 'wms_capabilities')}
<table class="list"><tr><th>Layer</th><th>Title</th><th>Coordinate system and image format</th></tr>
${rows.join('\n')}
</table>
<p class="muted">Coordinate systems marked with * are served without reprojection.</p>`;
}

/** Layers grouped by name, in config order (one layer may have several grids). */
function byName(entries: TileEntry[]): TileEntry[][] {
  const groups = new Map<string, TileEntry[]>();
  for (const e of entries) {
    const g = groups.get(e.layer.name);
    if (g) g.push(e);
    else groups.set(e.layer.name, [e]);
  }
  return [...groups.values()];
}

function gridLabel(e: TileEntry): string {
  return `${esc(e.layer.grid.srs.code)} <span class="muted">(${esc(e.layer.gridName)})</span>`;
}

/** One table of tile layers with a column of viewer links per kind. */
function tileTable(ctx: DemoContext, kinds: TileKind[], extra?: (e: TileEntry) => string, extraHead?: string): string {
  const head = `<tr><th>Layer</th><th>Title</th><th>Grid</th><th>Format</th>${kinds.map((k) => `<th>${esc(KINDS[k].label)}</th>`).join('')}${extraHead ? `<th>${esc(extraHead)}</th>` : ''}</tr>`;
  const rows: string[] = [];
  for (const group of byName(ctx.tiles)) {
    for (const [i, e] of group.entries()) {
      const name = i === 0 ? `<td rowspan="${group.length}">${esc(e.layer.name)}</td><td rowspan="${group.length}">${esc(e.layer.title)}</td>` : '';
      const links = kinds.map((k) =>
        kindSupports(k, e.layer)
          ? `<td><a class="viewer ${esc(k)}" href="${esc(tileViewerHref(k, e))}">open viewer</a></td>`
          : `<td class="muted">not compatible with ${esc(KINDS[k].label)}</td>`,
      );
      rows.push(`<tr>${name}<td>${gridLabel(e)}</td><td>${esc(e.layer.formatMime)}</td>${links.join('')}${extra ? `<td>${extra(e)}</td>` : ''}</tr>`);
    }
  }
  return `<table class="list">${head}\n${rows.join('\n')}\n</table>`;
}

function wmtsSection(ctx: DemoContext): string {
  if (!ctx.wmts) return `<h2>WMTS</h2>\n${UNAVAILABLE}`;
  const caps: string[] = [];
  if (ctx.wmts.kvp) caps.push(capabilitiesLine('KVP capabilities document', '../service?REQUEST=GetCapabilities&SERVICE=WMTS', 'wmts_capabilities_kvp'));
  if (ctx.wmts.restful) caps.push(capabilitiesLine('RESTful capabilities document', '../wmts/1.0.0/WMTSCapabilities.xml', 'wmts_capabilities'));
  const kinds = availableKinds(ctx).filter((k) => k === 'wmts-rest' || k === 'wmts-kvp');
  return `<h2>WMTS</h2>\n${caps.join('\n')}\n${tileTable(ctx, kinds)}`;
}

function tmsSection(ctx: DemoContext): string {
  if (!ctx.tms) return `<h2>TMS and /tiles</h2>\n${UNAVAILABLE}`;
  const tileMap = (e: TileEntry) => {
    const xml = `../tms/1.0.0/${e.namePath.map(encodeURIComponent).join('/')}`;
    const view = `./${query({ tms_capabilities: '', layer: e.namePath[0], srs: e.namePath[1] })}`;
    return `<a href="${esc(xml)}">XML</a> <a href="${esc(view)}">HTML</a>`;
  };
  return `<h2>TMS and /tiles</h2>
${capabilitiesLine('Capabilities document', '../tms/1.0.0/', 'tms_capabilities')}
${tileTable(ctx, ['tms', 'tiles'], tileMap, 'TileMap')}`;
}

/** The whole index page. */
export function indexPage(ctx: DemoContext): string {
  const body = `<h2>About</h2>
<p>mapproxy-ts ${esc(VERSION)}: the layers of this configuration in a map viewer, per service, in each layer's own grid and coordinate system.</p>
${wmsSection(ctx)}
${wmtsSection(ctx)}
${tmsSection(ctx)}`;
  return page({ title: 'Demos', body });
}

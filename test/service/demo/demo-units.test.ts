import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tileGrid } from '../../../src/grid/tile-grid.ts';
import type { TileLayer } from '../../../src/layer/tile-layer.ts';
import { getSrs, Srs } from '../../../src/srs/srs.ts';
import { esc, jsonScript, query } from '../../../src/service/demo/html.ts';
import { publishedLevels, tileUrlTemplate, type TileEntry } from '../../../src/service/demo/tile-urls.ts';
import { viewerProjection } from '../../../src/service/demo/viewer-srs.ts';
import { prettyXmlHtml } from '../../../src/service/demo/xml-pretty.ts';

function layer(grid: ReturnType<typeof tileGrid>, over: Partial<TileLayer> = {}): TileLayer {
  // the URL helpers read names, grid and format only; no tiles are made here
  const extent = { bbox: [grid.bbox[0], grid.bbox[1], grid.bbox[2], grid.bbox[3]] as [number, number, number, number], srs: grid.srs };
  return { name: 'osm', title: '', cacheName: 'c', grid, gridName: 'g', format: 'png', formatMime: 'image/png', tileManager: undefined as never, infoSources: [], extent, ...over };
}

describe('demo tile URLs', () => {
  const mercator = tileGrid({ srs: 'EPSG:900913', numLevels: 5 });
  const local = tileGrid({ srs: 'EPSG:25832', bbox: [280000, 5200000, 920000, 6100000], numLevels: 4 });
  const sqrt2 = tileGrid({ srs: 'EPSG:25832', bbox: [280000, 5200000, 920000, 6100000], resFactor: 'sqrt2', numLevels: 7 });

  it('publishes the levels each service addresses (TMS skips level 0 of global grids, sqrt2 grids every second level)', () => {
    assert.deepEqual(publishedLevels('tms', layer(mercator)), [1, 2, 3, 4]);
    assert.deepEqual(publishedLevels('tiles', layer(mercator)), [0, 1, 2, 3, 4]);
    assert.deepEqual(publishedLevels('wmts-rest', layer(mercator)), [0, 1, 2, 3, 4]);
    assert.deepEqual(publishedLevels('tms', layer(local)), [0, 1, 2, 3]);
    assert.deepEqual(publishedLevels('tms', layer(sqrt2)), [0, 2, 4, 6]);
    assert.deepEqual(publishedLevels('tiles', layer(sqrt2)), [0, 2, 4, 6]);
    assert.deepEqual(publishedLevels('wmts-kvp', layer(sqrt2)), [0, 1, 2, 3, 4, 5, 6]);
  });

  it('builds each service URL with encoded names and only the placeholders left', () => {
    const e: TileEntry = { layer: layer(local, { name: 'a b&c', gridName: 'utm/32' }), namePath: ['a b&c', 'utm/32'] };
    const opts = { restfulTemplate: '/{Layer}/{{TileMatrixSet}}/{Style}/{Time}/{TileMatrix}/{TileRow}/{TileCol}.{Format}' };
    assert.equal(tileUrlTemplate('tms', e, opts), '../tms/1.0.0/a%20b%26c/utm%2F32/{z}/{x}/{y}.png');
    assert.equal(tileUrlTemplate('tiles', e, opts), '../tiles/a%20b%26c/utm%2F32/{z}/{x}/{y}.png');
    assert.equal(tileUrlTemplate('wmts-rest', e, opts), '../wmts/a%20b%26c/utm%2F32/default/default/{z}/{y}/{x}.png');
    assert.equal(
      tileUrlTemplate('wmts-kvp', e, opts),
      '../service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=a+b%26c&STYLE=default&TILEMATRIXSET=utm%2F32&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&FORMAT=image%2Fpng',
    );
  });
});

describe('demo viewer projections', () => {
  it('gives the browser proj4 definitions it can use without datum grid files', () => {
    assert.equal(viewerProjection(getSrs('EPSG:25832')).def, getSrs('EPSG:25832').proj4def);
    const gk = viewerProjection(getSrs('EPSG:31467'));
    assert.match(gk.def, /\+towgs84=598\.1/);
    assert.doesNotMatch(gk.def, /nadgrids/);
    assert.equal(gk.axisNE, true);
    const unknownGrid = viewerProjection(new Srs('EPSG:990001', 'EPSG:990001', '+proj=tmerc +lon_0=9 +nadgrids=nowhere.gsb +units=m', false));
    assert.equal(unknownGrid.def, '+proj=tmerc +lon_0=9 +units=m');
    assert.equal(viewerProjection(getSrs('EPSG:4326')).units, 'degrees');
  });
});

describe('demo HTML helpers', () => {
  it('escapes text and attributes', () => {
    assert.equal(esc(`<a href="x" onclick='y'>&`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
  });

  it('keeps JSON data blocks closed whatever the values hold', () => {
    const html = jsonScript('cfg', { title: '</script><script>alert(1)</script><!--', sep: '\u2028&' });
    const inner = html.slice(html.indexOf('>') + 1, html.lastIndexOf('</script>'));
    assert.doesNotMatch(inner, /[<>&\u2028]/);
    assert.deepEqual(JSON.parse(inner), { title: '</script><script>alert(1)</script><!--', sep: '\u2028&' });
  });

  it('builds query strings with every part encoded', () => {
    assert.equal(query({ tms_capabilities: '', layer: 'a&b', srs: 'x y', skip: undefined }), '?tms_capabilities&layer=a%26b&srs=x%20y');
  });
});

describe('demo XML pretty-printer', () => {
  it('indents by depth, keeps text elements on one line and escapes everything', () => {
    const html = prettyXmlHtml('<?xml version="1.0"?><a x="1 &amp; &lt;2&gt;"><b>t&lt;</b><c/><!-- n --><d><![CDATA[<raw>]]></d></a>');
    const text = html.replace(/<[^>]+>/g, '');
    assert.equal(
      text,
      [
        '&lt;?xml version=&quot;1.0&quot;?&gt;',
        '&lt;a x="1 &amp;amp; &amp;lt;2&amp;gt;"&gt;',
        '  &lt;b&gt;t&amp;lt;&lt;/b&gt;',
        '  &lt;c/&gt;',
        '  &lt;!-- n --&gt;',
        '  &lt;d&gt;',
        '    &lt;![CDATA[&lt;raw&gt;]]&gt;',
        '  &lt;/d&gt;',
        '&lt;/a&gt;',
      ].join('\n'),
    );
  });

  it('puts the attributes of long tags on lines of their own', () => {
    const attrs = Array.from({ length: 6 }, (_, i) => `xmlns:n${i}="http://example.org/a/long/namespace/${i}"`).join(' ');
    const lines = prettyXmlHtml(`<root ${attrs}><x/></root>`).replace(/<[^>]+>/g, '').split('\n');
    assert.equal(lines[0], '&lt;root');
    assert.equal(lines[1], '    xmlns:n0="http://example.org/a/long/namespace/0"');
    assert.equal(lines.length, 1 + 6 + 2);
  });

  it('shows broken input instead of failing, and never emits its markup', () => {
    for (const bad of ['<a b="x', '<a><b></a>', '</x><y', '<<>>', 'plain & text', '<a x=">"><img src=x onerror=alert(1)></a>']) {
      const html = prettyXmlHtml(bad);
      assert.doesNotMatch(html.replace(/<\/?span[^>]*>/g, ''), /<|>/, bad);
    }
  });
});

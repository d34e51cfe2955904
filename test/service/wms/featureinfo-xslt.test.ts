/**
 * featureinfo_xslt over HTTP. The expected bodies are what MapProxy 1.15.1 (lxml 4.9.2)
 * answered for the same config, stylesheets and upstream GML.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startWmsUpstream, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { loadConfig } from '../../../src/config/loader.ts';
import { buildProxy } from '../../../src/core/build-proxy.ts';

const GML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs" xmlns:gml="http://www.opengis.net/gml" xmlns:app="http://example.com/app">';
const ROADS = `${GML_HEAD}
  <gml:featureMember>
    <app:roads fid="roads.1">
      <app:name>Main  Street</app:name>
      <app:type>primary</app:type>
    </app:roads>
  </gml:featureMember>
  <gml:featureMember>
    <app:roads fid="roads.2">
      <app:name>Side &amp; Co</app:name>
      <app:type>residential</app:type>
    </app:roads>
  </gml:featureMember>
</wfs:FeatureCollection>`;
const PARCELS = `${GML_HEAD}
  <gml:featureMember>
    <app:parcels fid="parcels.7">
      <app:name>Lot 7</app:name>
      <app:type>garden</app:type>
    </app:parcels>
  </gml:featureMember>
</wfs:FeatureCollection>`;

const FI_IN = `<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:gml="http://www.opengis.net/gml" xmlns:app="http://example.com/app"
  exclude-result-prefixes="gml app">
  <xsl:template match="/">
    <features>
      <xsl:for-each select="//gml:featureMember/*">
        <feature>
          <xsl:attribute name="layer"><xsl:value-of select="local-name()"/></xsl:attribute>
          <xsl:attribute name="id"><xsl:value-of select="@fid"/></xsl:attribute>
          <xsl:apply-templates select="app:name"/>
          <kind><xsl:value-of select="app:type"/></kind>
        </feature>
      </xsl:for-each>
    </features>
  </xsl:template>
  <xsl:template match="app:name">
    <name><xsl:value-of select="normalize-space(.)"/></name>
  </xsl:template>
</xsl:stylesheet>`;

const FI_OUT_HTML = `<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/">
    <html>
      <body>
        <h1>Features (<xsl:value-of select="count(/features/feature)"/>)</h1>
        <table>
          <xsl:for-each select="/features/feature">
            <tr class="{@layer}">
              <td><xsl:value-of select="@id"/></td>
              <td><xsl:value-of select="name"/></td>
              <td><xsl:copy-of select="kind"/></td>
            </tr>
          </xsl:for-each>
        </table>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>`;

const FI_OUT = `<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/">
    <list><xsl:apply-templates select="features/feature"/></list>
  </xsl:template>
  <xsl:template match="feature">
    <item id="{@id}"><xsl:value-of select="name"/> (<xsl:value-of select="kind"/>)</item>
  </xsl:template>
</xsl:stylesheet>`;

const FILES = { 'fi_in.xsl': FI_IN, 'fi_out_html.xsl': FI_OUT_HTML, 'fi_out.xsl': FI_OUT };

function config(roads: string, parcels: string, serviceXslt: boolean): string {
  const svc = serviceXslt
    ? '    featureinfo_xslt:\n      html: ./fi_out_html.xsl\n      xml: ./fi_out.xsl\n'
    : '    featureinfo_types: [xml, html]\n';
  return `
services:
  wms:
    srs: ['EPSG:4326']
${svc}layers:
  - name: info
    title: Info
    sources: [roads, parcels]
sources:
  roads:
    type: wms
    req: {url: '${roads}', layers: roads}
    wms_opts: {featureinfo: true, featureinfo_format: application/vnd.ogc.gml, featureinfo_xslt: ./fi_in.xsl}
  parcels:
    type: wms
    req: {url: '${parcels}', layers: parcels}
    wms_opts: {featureinfo: true, featureinfo_format: application/vnd.ogc.gml, featureinfo_xslt: ./fi_in.xsl}
`;
}

const FI_QUERY = 'SERVICE=WMS&REQUEST=GetFeatureInfo&VERSION=1.1.1&LAYERS=info&QUERY_LAYERS=info&SRS=EPSG:4326'
  + '&BBOX=-10,-10,10,10&WIDTH=100&HEIGHT=100&X=50&Y=50&STYLES=&FORMAT=image/png';

// MapProxy 1.15.1's answers (lxml 4.9.2) for this config, stylesheets and GML
const MAPPROXY_SOURCE_ONLY = '<features><feature layer="roads" id="roads.1"><name>Main Street</name><kind>primary</kind></feature><feature layer="roads" id="roads.2"><name>Side &amp; Co</name><kind>residential</kind></feature><feature layer="parcels" id="parcels.7"><name>Lot 7</name><kind>garden</kind></feature></features>';
const MAPPROXY_HTML = '<html><body><h1>Features (3)</h1><table><tr class="roads"><td>roads.1</td><td>Main Street</td><td><kind>primary</kind></td></tr><tr class="roads"><td>roads.2</td><td>Side &amp; Co</td><td><kind>residential</kind></td></tr><tr class="parcels"><td>parcels.7</td><td>Lot 7</td><td><kind>garden</kind></td></tr></table></body></html>';
const MAPPROXY_XML = '<list><item id="roads.1">Main Street (primary)</item><item id="roads.2">Side &amp; Co (residential)</item><item id="parcels.7">Lot 7 (garden)</item></list>';

describe('WMS featureinfo_xslt over HTTP', () => {
  let roads: WmsUpstream;
  let parcels: WmsUpstream;
  let withService: TestProxy;
  let sourceOnly: TestProxy;
  before(async () => {
    roads = await startWmsUpstream();
    roads.featureInfo = ROADS;
    parcels = await startWmsUpstream();
    parcels.featureInfo = PARCELS;
    withService = await startProxy(config(roads.url, parcels.url, true), { files: FILES });
    sourceOnly = await startProxy(config(roads.url, parcels.url, false), { files: FILES });
  });
  after(async () => {
    await withService.stop();
    await sourceOnly.stop();
    await roads.stop();
    await parcels.stop();
  });

  const fi = async (mp: TestProxy, infoFormat: string) => {
    const r = await fetch(`${mp.url}/service?${FI_QUERY}&INFO_FORMAT=${encodeURIComponent(infoFormat)}`);
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
  };

  it('transforms each source answer before merging (wms_opts.featureinfo_xslt)', async () => {
    const r = await fi(sourceOnly, 'application/vnd.ogc.gml');
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/vnd\.ogc\.gml/);
    assert.equal(r.body, MAPPROXY_SOURCE_ONLY);
    assert.equal(roads.requests.at(-1)?.params.info_format, 'application/vnd.ogc.gml');
  });

  it('transforms the merged document with the stylesheet of the requested type (services.wms.featureinfo_xslt)', async () => {
    const html = await fi(withService, 'text/html');
    assert.equal(html.status, 200);
    assert.match(html.type, /^text\/html/);
    assert.equal(html.body, MAPPROXY_HTML);
    const xml = await fi(withService, 'application/vnd.ogc.gml');
    assert.equal(xml.status, 200);
    assert.match(xml.type, /^application\/vnd\.ogc\.gml/);
    assert.equal(xml.body, MAPPROXY_XML);
  });

  it('offers the types that have a stylesheet when featureinfo_types is not set', async () => {
    const caps = await (await fetch(`${withService.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1`)).text();
    const block = /<GetFeatureInfo>([\s\S]*?)<DCPType>/.exec(caps)?.[1] ?? '';
    assert.deepEqual([...block.matchAll(/<Format>([^<]*)<\/Format>/g)].map((m) => m[1]), ['text/html', 'application/vnd.ogc.gml']);
    assert.equal((await fi(withService, 'text/plain')).status, 400);
  });
});

describe('featureinfo_xslt config errors', () => {
  const build = (yaml: string, files: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-xslt-'));
    try {
      for (const [n, t] of Object.entries({ 'mapproxy.yaml': yaml, ...files })) fs.writeFileSync(path.join(dir, n), t);
      return buildProxy(loadConfig(path.join(dir, 'mapproxy.yaml')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('names the source key of a missing stylesheet', () => {
    const { 'fi_in.xsl': _, ...rest } = FILES;
    assert.throws(() => build(config('http://127.0.0.1:9/a', 'http://127.0.0.1:9/b', false), rest),
      (e: Error) => /sources\.roads\.wms_opts\.featureinfo_xslt/.test(e.message) && /not found/.test(e.message));
  });

  it('names the service key of a missing stylesheet', () => {
    const { 'fi_out.xsl': _, ...rest } = FILES;
    assert.throws(() => build(config('http://127.0.0.1:9/a', 'http://127.0.0.1:9/b', true), rest),
      (e: Error) => /services\.wms\.featureinfo_xslt\.xml/.test(e.message) && /not found/.test(e.message));
  });

  it('rejects a file that is no stylesheet', () => {
    assert.throws(() => build(config('http://127.0.0.1:9/a', 'http://127.0.0.1:9/b', true), { ...FILES, 'fi_out_html.xsl': '<html/>' }),
      (e: Error) => /services\.wms\.featureinfo_xslt\.html/.test(e.message) && /no XSLT/.test(e.message));
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { startWmsUpstream, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';
import { loadConfigString } from '../../../src/config/index.ts';
import { ConfigError } from '../../../src/errors.ts';

// INSPIRE view service metadata (services.wms.inspire_md) in WMS 1.3.0 capabilities.
// The expected blocks are MapProxy 1.15.1's answers to the same configs, written out
// by hand (whitespace aside they are identical), so the tests need no MapProxy.

const SCHEMA_DIR = path.resolve(import.meta.dir, '../../fixtures/schemas');
/** The INSPIRE view service schema (imports WMS 1.3.0 and INSPIRE common), shipped with MapProxy's tests. */
const INSPIRE_VS = path.join(SCHEMA_DIR, 'inspire/inspire_vs/1.0/inspire_vs.xsd');
/** Test-only wrapper importing the INSPIRE and SLD schemas, for documents that also advertise sld:GetLegendGraphic. */
const INSPIRE_VS_SLD = path.join(SCHEMA_DIR, 'inspire/wms_inspire_vs_sld.xsd');

/** A one-layer WMS; `inspire` is the indented body of services.wms.inspire_md (none: no inspire_md). */
function config(up: string, inspire: string | undefined, legend: boolean): string {
  return `
services:
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    md:
      title: INSPIRE view service
${inspire === undefined ? '' : `    inspire_md:\n${inspire}`}
layers:
  - name: ortho
    title: Orthoimagery
    sources: [upstream]
sources:
  upstream:
    type: wms
    req:
      url: ${up}
      layers: base
    wms_opts:
      legendgraphic: ${legend}
`;
}

const LINKED = `
      type: linked
      metadata_url:
        url: http://example.org/csw?request=GetRecordById&id=view
        media_type: application/vnd.iso.19139+xml
      languages:
        default: eng`;

const LINKED_EXPECTED = `
  <inspire_vs:ExtendedCapabilities>
    <inspire_common:MetadataUrl>
      <inspire_common:URL>http://example.org/csw?request=GetRecordById&amp;id=view</inspire_common:URL>
      <inspire_common:MediaType>application/vnd.iso.19139+xml</inspire_common:MediaType>
    </inspire_common:MetadataUrl>
    <inspire_common:SupportedLanguages>
      <inspire_common:DefaultLanguage>
        <inspire_common:Language>eng</inspire_common:Language>
      </inspire_common:DefaultLanguage>
    </inspire_common:SupportedLanguages>
    <inspire_common:ResponseLanguage>
      <inspire_common:Language>eng</inspire_common:Language>
    </inspire_common:ResponseLanguage>
  </inspire_vs:ExtendedCapabilities>`;

// dates unquoted (YAML dates for PyYAML) and quoted alike: both print as written
const EMBEDDED = `
      type: embedded
      resource_locators:
        - url: http://example.org/metadata?id=view&lang=ger
          media_type: application/vnd.iso.19139+xml
      temporal_reference:
        date_of_creation: 2015-05-01
      conformities:
        - title: COMMISSION REGULATION (EU) No 1089/2010
          date_of_publication: 2010-12-08
          uris: [OJ:L:2010:323:0011:0102:EN:PDF]
          resource_locators:
            - url: http://eur-lex.europa.eu/LexUriServ/LexUriServ.do?uri=OJ:L:2010:323:0011:0102:EN:PDF
              media_type: application/pdf
          degree: notEvaluated
      metadata_points_of_contact:
        - organisation_name: Example Inc.
          email: inspire@example.org
      mandatory_keywords: [infoMapAccessService]
      keywords:
        - title: GEMET - INSPIRE themes
          date_of_last_revision: 2008-06-01
          keyword_value: Orthoimagery
      metadata_date: "2015-07-23"
      metadata_url:
        url: http://example.org/csw?request=GetRecordById&id=view
        media_type: application/vnd.ogc.csw.GetRecordByIdResponse_xml
      languages:
        default: ger`;

const EMBEDDED_EXPECTED = `
  <inspire_vs:ExtendedCapabilities>
    <inspire_common:ResourceLocator>
      <inspire_common:URL>http://example.org/metadata?id=view&amp;lang=ger</inspire_common:URL>
      <inspire_common:MediaType>application/vnd.iso.19139+xml</inspire_common:MediaType>
    </inspire_common:ResourceLocator>
    <inspire_common:ResourceType>service</inspire_common:ResourceType>
    <inspire_common:TemporalReference>
      <inspire_common:DateOfCreation>2015-05-01</inspire_common:DateOfCreation>
    </inspire_common:TemporalReference>
    <inspire_common:Conformity>
      <inspire_common:Specification>
        <inspire_common:Title>COMMISSION REGULATION (EU) No 1089/2010</inspire_common:Title>
        <inspire_common:DateOfPublication>2010-12-08</inspire_common:DateOfPublication>
        <inspire_common:URI>OJ:L:2010:323:0011:0102:EN:PDF</inspire_common:URI>
        <inspire_common:ResourceLocator>
          <inspire_common:URL>http://eur-lex.europa.eu/LexUriServ/LexUriServ.do?uri=OJ:L:2010:323:0011:0102:EN:PDF</inspire_common:URL>
          <inspire_common:MediaType>application/pdf</inspire_common:MediaType>
        </inspire_common:ResourceLocator>
      </inspire_common:Specification>
      <inspire_common:Degree>notEvaluated</inspire_common:Degree>
    </inspire_common:Conformity>
    <inspire_common:MetadataPointOfContact>
      <inspire_common:OrganisationName>Example Inc.</inspire_common:OrganisationName>
      <inspire_common:EmailAddress>inspire@example.org</inspire_common:EmailAddress>
    </inspire_common:MetadataPointOfContact>
    <inspire_common:MetadataDate>2015-07-23</inspire_common:MetadataDate>
    <inspire_common:SpatialDataServiceType>view</inspire_common:SpatialDataServiceType>
    <inspire_common:MandatoryKeyword>
      <inspire_common:KeywordValue>infoMapAccessService</inspire_common:KeywordValue>
    </inspire_common:MandatoryKeyword>
    <inspire_common:Keyword>
      <inspire_common:OriginatingControlledVocabulary>
        <inspire_common:Title>GEMET - INSPIRE themes</inspire_common:Title>
        <inspire_common:DateOfLastRevision>2008-06-01</inspire_common:DateOfLastRevision>
      </inspire_common:OriginatingControlledVocabulary>
      <inspire_common:KeywordValue>Orthoimagery</inspire_common:KeywordValue>
    </inspire_common:Keyword>
    <inspire_common:SupportedLanguages>
      <inspire_common:DefaultLanguage>
        <inspire_common:Language>ger</inspire_common:Language>
      </inspire_common:DefaultLanguage>
    </inspire_common:SupportedLanguages>
    <inspire_common:ResponseLanguage>
      <inspire_common:Language>ger</inspire_common:Language>
    </inspire_common:ResponseLanguage>
    <inspire_common:MetadataUrl>
      <inspire_common:URL>http://example.org/csw?request=GetRecordById&amp;id=view</inspire_common:URL>
      <inspire_common:MediaType>application/vnd.ogc.csw.GetRecordByIdResponse_xml</inspire_common:MediaType>
    </inspire_common:MetadataUrl>
  </inspire_vs:ExtendedCapabilities>`;

const ROOT_ATTRS =
  'xmlns:inspire_common="http://inspire.ec.europa.eu/schemas/common/1.0" xmlns:inspire_vs="http://inspire.ec.europa.eu/schemas/inspire_vs/1.0" version="1.3.0"';
const SCHEMA_LOCATION =
  'http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd http://inspire.ec.europa.eu/schemas/inspire_vs/1.0 http://inspire.ec.europa.eu/schemas/inspire_vs/1.0/inspire_vs.xsd"';

/** Lines trimmed, blank ones dropped: indentation is not compared. */
function squash(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n');
}

function extended(xml: string): string {
  const end = '</inspire_vs:ExtendedCapabilities>';
  const i = xml.indexOf('<inspire_vs:ExtendedCapabilities>');
  assert.ok(i >= 0, 'has ExtendedCapabilities');
  return xml.slice(i, xml.indexOf(end) + end.length);
}

async function capabilities(mp: TestProxy, version: string): Promise<string> {
  const r = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=${version}`);
  assert.equal(r.status, 200);
  return r.text();
}

describe('INSPIRE view service: inspire_md type linked', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url, LINKED, true));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  it('links the service metadata record in the 1.3.0 capabilities, as MapProxy does', async () => {
    const xml = await capabilities(mp, '1.3.0');
    assert.ok(xml.includes(ROOT_ATTRS), 'INSPIRE namespaces on the root element');
    assert.ok(xml.includes(SCHEMA_LOCATION), 'INSPIRE schema location');
    assert.equal(squash(extended(xml)), squash(LINKED_EXPECTED));
    // after Exception, before the layers (wms:_ExtendedCapabilities' place in Capability)
    assert.ok(xml.indexOf('</Exception>') < xml.indexOf('<inspire_vs:ExtendedCapabilities>'));
    assert.ok(xml.indexOf('</inspire_vs:ExtendedCapabilities>') < xml.indexOf('<Layer'));
  });

  it('validates against the INSPIRE view service schema (with SLD for GetLegendGraphic)', async () => {
    const xml = await capabilities(mp, '1.3.0');
    assert.ok(xml.includes('<sld:GetLegendGraphic>'));
    const r = xmllint(xml, ['--schema', INSPIRE_VS_SLD]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('names the default style inspire_common:DEFAULT, which GetMap accepts', async () => {
    const xml = await capabilities(mp, '1.3.0');
    assert.ok(xml.includes('<Name>inspire_common:DEFAULT</Name>'), xml);
    assert.ok(!xml.includes('<Name>default</Name>'));
    const r = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=ortho&STYLES=inspire_common:DEFAULT&CRS=EPSG:3857&BBOX=0,0,1000000,1000000&WIDTH=64&HEIGHT=64&FORMAT=image/png`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    await r.arrayBuffer();
  });

  it('leaves the 1.1.1 capabilities as they are (INSPIRE extends WMS 1.3.0 only)', async () => {
    const xml = await capabilities(mp, '1.1.1');
    assert.ok(!xml.includes('inspire'));
    const r = xmllint(xml, ['--dtdvalid', SCHEMAS.wms111]);
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('INSPIRE view service: inspire_md type embedded', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url, EMBEDDED, false));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  it('embeds the service metadata in the 1.3.0 capabilities, element for element as MapProxy', async () => {
    const xml = await capabilities(mp, '1.3.0');
    assert.ok(xml.includes(ROOT_ATTRS));
    assert.ok(xml.includes(SCHEMA_LOCATION));
    assert.equal(squash(extended(xml)), squash(EMBEDDED_EXPECTED));
  });

  it('validates against the INSPIRE view service schema', async () => {
    const xml = await capabilities(mp, '1.3.0');
    const r = xmllint(xml, ['--schema', INSPIRE_VS]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('is checked by that schema for real: without its mandatory SpatialDataServiceType it fails', async () => {
    const xml = (await capabilities(mp, '1.3.0')).replace(/\s*<inspire_common:SpatialDataServiceType>view<\/inspire_common:SpatialDataServiceType>/, '');
    const r = xmllint(xml, ['--schema', INSPIRE_VS]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /SpatialDataServiceType/);
  });

  it('has no INSPIRE namespaces when inspire_md is not configured', async () => {
    const plain = await startProxy(config(up.url, undefined, false));
    try {
      const xml = await capabilities(plain, '1.3.0');
      assert.ok(!xml.includes('inspire'));
    } finally {
      await plain.stop();
    }
  });
});

describe('inspire_md config errors', () => {
  /** The config error loading services.wms.inspire_md as given raises. */
  function configError(inspire: string): string {
    const yaml = config('http://127.0.0.1:9/wms', inspire, false);
    try {
      loadConfigString(yaml, path.join(import.meta.dir, 'mapproxy.yaml'));
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message;
    }
    assert.fail('no config error');
  }

  it('names a missing required key of a linked inspire_md', () => {
    const msg = configError('      type: linked\n      languages:\n        default: eng');
    assert.match(msg, /mapproxy\.yaml:\d+: services\.wms\.inspire_md: missing required 'metadata_url'/);
  });

  it('names the type key when the type is unknown', () => {
    const msg = configError('      type: full\n      languages:\n        default: eng');
    assert.match(msg, /services\.wms\.inspire_md\.type: unknown inspire_md type 'full' \(known: linked, embedded\)/);
  });

  it('names the key path inside lists of an embedded inspire_md', () => {
    const msg = configError(EMBEDDED.replace('          degree: notEvaluated\n', ''));
    assert.match(msg, /services\.wms\.inspire_md\.conformities\[0\]: missing required 'degree'/);
  });

  it('names a value of the wrong type', () => {
    const msg = configError(LINKED.replace('media_type: application/vnd.iso.19139+xml', 'media_type: [a, b]'));
    assert.match(msg, /services\.wms\.inspire_md\.metadata_url\.media_type: expected a string/);
  });

  it('lists every missing key of an embedded inspire_md', () => {
    const msg = configError('      type: embedded\n      languages:\n        default: eng');
    for (const key of ['resource_locators', 'temporal_reference', 'conformities', 'metadata_points_of_contact', 'mandatory_keywords', 'metadata_date']) {
      assert.ok(msg.includes(`services.wms.inspire_md: missing required '${key}'`), `${key} in ${msg}`);
    }
  });
});

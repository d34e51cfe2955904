import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  wmsCapabilities,
  wmsCapabilitiesMime,
  type WmsCapabilitiesInput,
  type WmsCapLayer,
} from '../../../src/service/wms/capabilities.ts';
import { getSrs } from '../../../src/srs/srs.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';

const SRS = ['EPSG:4326', 'CRS:84', 'EPSG:3857', 'EPSG:25832', 'EPSG:31468'];
// bbox_srs as a user might list it: CRS:84 comes from the llbbox anyway
const BBOX_SRS = ['EPSG:4326', 'EPSG:3857', 'EPSG:25832', 'EPSG:31468'];

type B = [number, number, number, number];

function bboxesFor(ll: B): WmsCapLayer['bboxes'] {
  const wgs = getSrs('EPSG:4326');
  return BBOX_SRS.map((srs) => ({ srs, bbox: wgs.transformBbox(ll, getSrs(srs)) as B }));
}

function layer(l: Omit<WmsCapLayer, 'bboxes' | 'layers' | 'queryable'> & Partial<WmsCapLayer>): WmsCapLayer {
  return { queryable: false, layers: [], bboxes: bboxesFor(l.llbbox), ...l };
}

const GERMANY: B = [5.5, 47.2, 15.5, 55.1];
const WORLD: B = [-180, -90, 180, 90];

const osm = layer({
  name: 'osm',
  title: 'OpenStreetMap',
  queryable: true,
  llbbox: GERMANY,
  minRes: 2445.98490512564,
  maxRes: 0.5971642834779395,
  legend: { url: 'http://localhost/service?styles=&layer=osm&service=WMS&format=image%2Fpng&sld_version=1.1.0&request=GetLegendGraphic&version=1.1.1', width: 120, height: 40, format: 'image/png' },
  md: {
    abstract: 'Tiles & more <b>',
    keyword_list: [{ vocabulary: 'GEMET', keywords: ['roads', 'streets'] }, { keywords: ['osm'] }],
    attribution: {
      title: '© OpenStreetMap contributors',
      url: 'https://www.openstreetmap.org/copyright?a=1&b=2',
      logo: { url: 'https://example.org/logo.png', width: 100, height: 30, format: 'image/png' },
    },
    identifier: [{ url: 'https://example.org/auth', name: 'example', value: 'osm-1' }],
    metadata: [
      { url: 'https://example.org/md.xml?id=1&f=iso', type: 'ISO19115:2003', format: 'text/xml' },
      { url: 'https://example.org/other', type: 'other', format: 'text/html' },
    ],
    data: [{ url: 'https://example.org/data.zip', format: 'application/zip' }],
    feature_list: [{ url: 'https://example.org/features', format: 'application/json' }],
  },
});

const aerial = layer({ name: 'aerial', title: 'Aerial', llbbox: GERMANY, minRes: 1000, opaque: true });
const detail = layer({ name: 'detail', title: 'Detail', llbbox: GERMANY, maxRes: 10 });

const roads = layer({
  name: 'roads',
  title: 'Roads "quoted"',
  llbbox: WORLD,
  dimensions: [
    { name: 'time', default: '2020-03-01T00:00:00Z', values: ['2020-01-01T00:00:00Z', '2020-02-01T00:00:00Z', '2020-03-01T00:00:00Z'] },
    { name: 'elevation', units: 'EPSG:5030', default: '0', values: ['0', '500', '1000'] },
  ],
});

const ROOT: WmsCapLayer = layer({
  title: 'Demo & <Root>',
  llbbox: WORLD,
  layers: [layer({ name: 'base', title: 'Base maps', llbbox: GERMANY, layers: [osm, aerial, detail] }), roads],
});

const MD = {
  title: 'MapProxy & "friends" <WMS>',
  abstract: "It's a demo",
  online_resource: 'http://example.org/?a=1&b=2',
  fees: 'free & open',
  access_constraints: 'none',
  keyword_list: [{ vocabulary: 'ISO', keywords: ['infoMapAccessService'] }, { keywords: ['maps', 'a<b'] }],
  contact: {
    person: 'Jane <Doe>',
    position: 'Technical Director',
    organization: 'ACME & Co',
    address: 'Fakestreet 123',
    city: 'Somewhere',
    postcode: 12345,
    state: '',
    country: 'Germany',
    phone: '+49(0)000-000000-0',
    fax: '+49(0)000-000000-0',
    email: 'info@example.org',
  },
};

function input(version: WmsCapabilitiesInput['version'], extra: Partial<WmsCapabilitiesInput> = {}): WmsCapabilitiesInput {
  return {
    version,
    serviceUrl: 'http://localhost:8080/service',
    md: MD,
    srs: SRS,
    imageFormats: ['image/png', 'image/jpeg', 'image/png; mode=8bit', 'image/GeoTIFF'],
    infoFormats: version === '1.3.0' ? ['text/plain', 'text/html', 'text/xml'] : ['text/plain', 'text/html', 'application/vnd.ogc.gml'],
    legendGraphic: true,
    maxOutputPixels: [4000, 4000],
    root: ROOT,
    ...extra,
  };
}

/** The attributes of the first element `tag` whose attributes contain `marker`. */
function attrsOf(xml: string, tag: string, marker: string): Record<string, string> {
  const re = new RegExp(`<${tag}\\s([^>]*)>`, 'g');
  for (const m of xml.matchAll(re)) {
    if (!m[1].includes(marker)) continue;
    return Object.fromEntries([...m[1].matchAll(/([\w:]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
  }
  throw new Error(`no <${tag}> with ${marker}`);
}

/** The XML of the <Layer> whose <Name> is `name`, up to its first child layer. */
function layerXml(xml: string, name: string): string {
  const start = xml.indexOf(`<Name>${name}</Name>`);
  assert.ok(start >= 0, `layer ${name} not found`);
  const nextLayer = xml.indexOf('<Layer', start);
  const end = xml.indexOf('</Layer>', start);
  return xml.slice(start, nextLayer >= 0 && nextLayer < end ? nextLayer : end);
}

describe('WMS capabilities: validation with xmllint', () => {
  it('1.0.0 is valid against capabilities_1_0_0.dtd', () => {
    const r = xmllint(wmsCapabilities(input('1.0.0')), ['--dtdvalid', SCHEMAS.wms100]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('1.1.0 is valid against capabilities_1_1_0.dtd', () => {
    const r = xmllint(wmsCapabilities(input('1.1.0')), ['--dtdvalid', SCHEMAS.wms110]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('1.1.1 is valid against WMS_MS_Capabilities.dtd', () => {
    const r = xmllint(wmsCapabilities(input('1.1.1')), ['--dtdvalid', SCHEMAS.wms111]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('1.3.0 with GetLegendGraphic is valid against the SLD 1.1.0 capabilities schema', () => {
    const r = xmllint(wmsCapabilities(input('1.3.0')), ['--schema', SCHEMAS.sld110]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('1.3.0 without legends is valid against capabilities_1_3_0.xsd', () => {
    const r = xmllint(wmsCapabilities(input('1.3.0', { legendGraphic: false })), ['--schema', SCHEMAS.wms130]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('a minimal document (no md, no info formats, one layer) is valid in every version', () => {
    const root = layer({ name: 'only', title: 'Only', llbbox: [-10, -20, 10, 20] });
    for (const version of ['1.0.0', '1.1.0', '1.1.1', '1.3.0'] as const) {
      const xml = wmsCapabilities({ version, serviceUrl: 'http://h/s', md: {}, srs: ['EPSG:4326'], imageFormats: ['image/png'], infoFormats: [], legendGraphic: false, root });
      assert.ok(!xml.includes('FeatureInfo'), version);
      const args = { '1.0.0': ['--dtdvalid', SCHEMAS.wms100], '1.1.0': ['--dtdvalid', SCHEMAS.wms110], '1.1.1': ['--dtdvalid', SCHEMAS.wms111], '1.3.0': ['--schema', SCHEMAS.wms130] }[version];
      const r = xmllint(xml, args);
      assert.equal(r.status, 0, `${version}: ${r.stderr}`);
    }
  });

  it('the validators do reject a broken document', () => {
    const drop = (xml: string) => xml.replace('<Title>Aerial</Title>', '');
    assert.notEqual(xmllint(drop(wmsCapabilities(input('1.1.1'))), ['--dtdvalid', SCHEMAS.wms111]).status, 0);
    assert.notEqual(xmllint(drop(wmsCapabilities(input('1.0.0'))), ['--dtdvalid', SCHEMAS.wms100]).status, 0);
    assert.notEqual(xmllint(drop(wmsCapabilities(input('1.3.0'))), ['--schema', SCHEMAS.sld110]).status, 0);
    // MapProxy's 1.1.1 form of a dimension (values inside Dimension) is not valid
    const mp = wmsCapabilities(input('1.1.1')).replace('<Dimension name="time" units="ISO8601" />', '<Dimension name="time" default="x" nearestValue="0" units="ISO8601" >x</Dimension>');
    assert.notEqual(xmllint(mp, ['--dtdvalid', SCHEMAS.wms111]).status, 0);
  });

  it('characters XML cannot carry do not break the document', () => {
    const bad = { ...MD, title: 'bell\u0007 and nul\u0000' };
    const r = xmllint(wmsCapabilities(input('1.3.0', { md: bad })), ['--schema', SCHEMAS.sld110]);
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('WMS capabilities: content', () => {
  it('answers with the mime type per version', () => {
    assert.equal(wmsCapabilitiesMime('1.0.0'), 'text/xml');
    assert.equal(wmsCapabilitiesMime('1.1.0'), 'application/vnd.ogc.wms_xml');
    assert.equal(wmsCapabilitiesMime('1.1.1'), 'application/vnd.ogc.wms_xml');
    assert.equal(wmsCapabilitiesMime('1.3.0'), 'text/xml');
  });

  it('1.3.0 writes bounding boxes in CRS axis order: EPSG:4326 and EPSG:31468 swapped, CRS:84 and projected E/N not', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    const osmXml = layerXml(xml, 'osm');
    const b4326 = attrsOf(osmXml, 'BoundingBox', 'CRS="EPSG:4326"');
    assert.deepEqual([b4326.minx, b4326.miny, b4326.maxx, b4326.maxy], ['47.2', '5.5', '55.1', '15.5']);
    const b84 = attrsOf(osmXml, 'BoundingBox', 'CRS="CRS:84"');
    assert.deepEqual([b84.minx, b84.miny, b84.maxx, b84.maxy], ['5.5', '47.2', '15.5', '55.1']);
    const merc = getSrs('EPSG:4326').transformBbox(GERMANY, getSrs('EPSG:3857'));
    const b3857 = attrsOf(osmXml, 'BoundingBox', 'CRS="EPSG:3857"');
    assert.equal(Number(b3857.minx), merc[0]);
    assert.equal(Number(b3857.miny), merc[1]);
    const gk = getSrs('EPSG:4326').transformBbox(GERMANY, getSrs('EPSG:31468'));
    const b31468 = attrsOf(osmXml, 'BoundingBox', 'CRS="EPSG:31468"');
    assert.equal(Number(b31468.minx), gk[1]);
    assert.equal(Number(b31468.miny), gk[0]);
    const utm = getSrs('EPSG:4326').transformBbox(GERMANY, getSrs('EPSG:25832'));
    assert.equal(Number(attrsOf(osmXml, 'BoundingBox', 'CRS="EPSG:25832"').minx), utm[0]);
    assert.match(osmXml, /<westBoundLongitude>5\.5<\/westBoundLongitude>\s*<eastBoundLongitude>15\.5<\/eastBoundLongitude>\s*<southBoundLatitude>47\.2<\/southBoundLatitude>\s*<northBoundLatitude>55\.1<\/northBoundLatitude>/);
  });

  it('1.1.1 keeps every bbox east/north and lists each SRS on the root layer only', () => {
    const xml = wmsCapabilities(input('1.1.1'));
    const b4326 = attrsOf(layerXml(xml, 'osm'), 'BoundingBox', 'SRS="EPSG:4326"');
    assert.deepEqual([b4326.minx, b4326.miny, b4326.maxx, b4326.maxy], ['5.5', '47.2', '15.5', '55.1']);
    assert.equal(xml.match(/<SRS>/g)?.length, SRS.length);
    for (const s of SRS) assert.ok(xml.includes(`<SRS>${s}</SRS>`), s);
    assert.ok(xml.includes('<LatLonBoundingBox minx="5.5" miny="47.2" maxx="15.5" maxy="55.1" />'));
  });

  it('1.1.0 lists the SRS in one element, 1.0.0 on every layer', () => {
    assert.equal(wmsCapabilities(input('1.1.0')).match(/<SRS>/g)?.length, 1);
    assert.ok(wmsCapabilities(input('1.1.0')).includes(`<SRS>${SRS.join(' ')}</SRS>`));
    const xml100 = wmsCapabilities(input('1.0.0'));
    assert.equal(xml100.match(/<SRS>/g)?.length, xml100.match(/<Layer[ >]/g)?.length);
  });

  it('limits the lat/lon extent as MapProxy does (+-180 as Python ints, +-89.999999)', () => {
    const xml = wmsCapabilities(input('1.1.1'));
    assert.ok(xml.includes('<LatLonBoundingBox minx="-180" miny="-89.999999" maxx="180" maxy="89.999999" />'));
    const xml130 = wmsCapabilities(input('1.3.0'));
    assert.ok(xml130.includes('<BoundingBox CRS="CRS:84" minx="-180" miny="-89.999999" maxx="180" maxy="89.999999" />'));
    assert.ok(xml130.includes('<northBoundLatitude>89.999999</northBoundLatitude>'));
    // the EPSG:4326 bbox itself is not limited: -90/90, swapped
    const b = attrsOf(layerXml(xml130, 'roads'), 'BoundingBox', 'CRS="EPSG:4326"');
    assert.deepEqual([b.minx, b.miny, b.maxx, b.maxy], ['-90.0', '-180.0', '90.0', '180.0']);
  });

  it('ScaleHint carries the diagonal resolutions MapProxy computes (sqrt(2*res**2))', () => {
    // expected strings as printed by Python: str(math.sqrt(2*r**2))
    for (const version of ['1.0.0', '1.1.0', '1.1.1'] as const) {
      const xml = wmsCapabilities(input(version));
      assert.ok(layerXml(xml, 'osm').includes('<ScaleHint min="0.8445178286593136" max="3459.1450261885484" />'), version);
      assert.equal(Math.sqrt(2 * 0.5971642834779395 ** 2), 0.8445178286593136);
      // open ends: the DTD requires both attributes
      assert.ok(layerXml(xml, 'aerial').includes('<ScaleHint min="0.0" max="1414.213562373095" />'), version);
      assert.ok(layerXml(xml, 'detail').includes('<ScaleHint min="14.142135623730951" max="Infinity" />'), version);
      assert.ok(!layerXml(xml, 'roads').includes('ScaleHint'));
    }
  });

  it('1.3.0 has Min/MaxScaleDenominator = res / 0.00028', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    const osmXml = layerXml(xml, 'osm');
    assert.ok(osmXml.includes('<MinScaleDenominator>2132.729583849784</MinScaleDenominator>'));
    assert.ok(osmXml.includes('<MaxScaleDenominator>8735660.375448715</MaxScaleDenominator>'));
    assert.ok(layerXml(xml, 'aerial').includes('<MaxScaleDenominator>3571428.571428572</MaxScaleDenominator>'));
    assert.ok(!layerXml(xml, 'aerial').includes('MinScaleDenominator'));
    assert.ok(layerXml(xml, 'detail').includes('<MinScaleDenominator>35714.28571428572</MinScaleDenominator>'));
  });

  it('escapes every config value', () => {
    for (const version of ['1.0.0', '1.1.0', '1.1.1', '1.3.0'] as const) {
      const xml = wmsCapabilities(input(version));
      assert.ok(xml.includes('<Title>MapProxy &amp; &quot;friends&quot; &lt;WMS&gt;</Title>'), version);
      assert.ok(xml.includes('<Title>Demo &amp; &lt;Root&gt;</Title>'), version);
      assert.ok(xml.includes('<Title>Roads &quot;quoted&quot;</Title>'), version);
      assert.ok(xml.includes('http://example.org/?a=1&amp;b=2'), version);
      assert.ok(xml.includes('free &amp; open'), version);
      assert.ok(!xml.includes('<WMS>') && !xml.includes('<Root>') && !xml.includes('& '), version);
    }
    const xml = wmsCapabilities(input('1.3.0'));
    assert.ok(xml.includes('<ContactPerson>Jane &lt;Doe&gt;</ContactPerson>'));
    assert.ok(xml.includes('<Keyword>a&lt;b</Keyword>'));
    assert.ok(xml.includes('<Abstract>Tiles &amp; more &lt;b&gt;</Abstract>'));
    assert.ok(xml.includes('xlink:href="https://www.openstreetmap.org/copyright?a=1&amp;b=2"'));
  });

  it('service metadata: contact, keywords (1.3.0 only, as MapProxy), fees, MaxWidth/MaxHeight', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    assert.ok(xml.includes('<Keyword vocabulary="ISO">infoMapAccessService</Keyword>'));
    assert.ok(xml.includes('<AddressType>postal</AddressType>'));
    assert.ok(xml.includes('<PostCode>12345</PostCode>'));
    assert.ok(xml.includes('<OnlineResource xlink:href="http://example.org/?a=1&amp;b=2"/>'));
    assert.ok(xml.includes('<MaxWidth>4000</MaxWidth>') && xml.includes('<MaxHeight>4000</MaxHeight>'));
    // MapProxy advertises the square of the pixel count
    assert.ok(wmsCapabilities(input('1.3.0', { maxOutputPixels: [1000, 4000] })).includes('<MaxWidth>2000</MaxWidth>'));
    const xml111 = wmsCapabilities(input('1.1.1'));
    assert.ok(xml111.includes('<ContactOrganization>ACME &amp; Co</ContactOrganization>'));
    assert.ok(!xml111.includes('KeywordList') && !xml111.includes('MaxWidth'));
    const noMd = wmsCapabilities(input('1.1.1', { md: {} }));
    assert.ok(noMd.includes('<Fees>none</Fees>') && noMd.includes('<AccessConstraints>none</AccessConstraints>'));
    assert.ok(noMd.includes('<OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="http://localhost:8080/service"/>'));
    assert.ok(!noMd.includes('ContactInformation'));
  });

  it('request URLs end in "?" once', () => {
    for (const serviceUrl of ['http://localhost:8080/service', 'http://localhost:8080/service?']) {
      const xml = wmsCapabilities(input('1.3.0', { serviceUrl, md: {} }));
      assert.ok(xml.includes('<Get><OnlineResource xlink:href="http://localhost:8080/service?"/></Get>'));
      assert.ok(xml.includes('<OnlineResource xlink:href="http://localhost:8080/service"/>'));
    }
    const q = wmsCapabilities(input('1.1.1', { serviceUrl: 'http://h/cgi?map=a' }));
    assert.ok(q.includes('xlink:href="http://h/cgi?map=a&amp;"'));
    assert.ok(wmsCapabilities(input('1.0.0')).includes('<Get onlineResource="http://localhost:8080/service?"/>'));
  });

  it('operations: GetLegendGraphic in 1.1.1 and (sld:) 1.3.0 only, formats per version', () => {
    assert.ok(wmsCapabilities(input('1.3.0')).includes('<sld:GetLegendGraphic>'));
    assert.ok(wmsCapabilities(input('1.1.1')).includes('<GetLegendGraphic>'));
    assert.ok(!wmsCapabilities(input('1.1.0')).includes('<GetLegendGraphic>'));
    assert.ok(!wmsCapabilities(input('1.0.0')).includes('<GetLegendGraphic>'));
    assert.ok(!wmsCapabilities(input('1.3.0', { legendGraphic: false })).includes('GetLegendGraphic>'));
    const xml100 = wmsCapabilities(input('1.0.0'));
    // image/png; mode=8bit and GeoTIFF have no 1.0.0 name; text/plain and text/html are both MIME
    assert.match(xml100, /<Map>\s*<Format>\s*<PNG\/>\s*<JPEG\/>\s*<\/Format>/);
    assert.match(xml100, /<FeatureInfo>\s*<Format>\s*<MIME\/>\s*<GML\.1\/>\s*<\/Format>/);
    const xml111 = wmsCapabilities(input('1.1.1'));
    assert.match(xml111, /<GetCapabilities>\s*<Format>application\/vnd\.ogc\.wms_xml<\/Format>/);
    assert.ok(xml111.includes('<Format>image/png; mode=8bit</Format>'));
    assert.ok(xml111.includes('<Format>application/vnd.ogc.se_xml</Format>'));
    assert.match(wmsCapabilities(input('1.3.0')), /<GetFeatureInfo>\s*<Format>text\/plain<\/Format>\s*<Format>text\/html<\/Format>\s*<Format>text\/xml<\/Format>/);
  });

  it('layer tree: nesting, queryable and opaque flags, names only where given', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    const layers = [...xml.matchAll(/<Layer([^>]*)>\s*(?:<Name>([^<]*)<\/Name>\s*)?<Title>([^<]*)<\/Title>/g)].map((m) => [m[2] ?? null, m[3], m[1]]);
    assert.deepEqual(layers, [
      [null, 'Demo &amp; &lt;Root&gt;', ''],
      ['base', 'Base maps', ''],
      ['osm', 'OpenStreetMap', ' queryable="1"'],
      ['aerial', 'Aerial', ' opaque="1"'],
      ['detail', 'Detail', ''],
      ['roads', 'Roads &quot;quoted&quot;', ''],
    ]);
    // base closes after its three children, before roads
    assert.match(xml, /<Name>detail<\/Name>[\s\S]*?<\/Layer>\s*<\/Layer>\s*<Layer>\s*<Name>roads<\/Name>/);
    assert.equal(xml.match(/<CRS>/g)?.length, SRS.length);
  });

  it('legends: LegendURL with size and format, StyleURL in 1.0.0', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    const osmXml = layerXml(xml, 'osm');
    assert.match(osmXml, /<Style>\s*<Name>default<\/Name>\s*<Title>default<\/Title>\s*<LegendURL width="120" height="40">\s*<Format>image\/png<\/Format>\s*<OnlineResource xlink:type="simple" xlink:href="http:\/\/localhost\/service\?styles=&amp;layer=osm&amp;/);
    assert.ok(!layerXml(xml, 'aerial').includes('<Style>'));
    assert.ok(layerXml(wmsCapabilities(input('1.0.0')), 'osm').includes('<StyleURL>http://localhost/service?styles=&amp;layer=osm'));
  });

  it('dimensions: 1.3.0 Dimension with values, 1.1.x Dimension + Extent, none in 1.0.0', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    const r = layerXml(xml, 'roads');
    assert.ok(r.includes('<Dimension name="time" default="2020-03-01T00:00:00Z" nearestValue="0" units="ISO8601" >2020-01-01T00:00:00Z,2020-02-01T00:00:00Z,2020-03-01T00:00:00Z</Dimension>'));
    assert.ok(r.includes('<Dimension name="elevation" default="0" nearestValue="0" units="EPSG:5030" >0,500,1000</Dimension>'));
    const r111 = layerXml(wmsCapabilities(input('1.1.1')), 'roads');
    assert.ok(r111.includes('<Dimension name="time" units="ISO8601" />'));
    assert.ok(r111.includes('<Extent name="time" default="2020-03-01T00:00:00Z" nearestValue="0">2020-01-01T00:00:00Z,2020-02-01T00:00:00Z,2020-03-01T00:00:00Z</Extent>'));
    assert.ok(layerXml(wmsCapabilities(input('1.1.0')), 'roads').includes('<Extent name="elevation" default="0">0,500,1000</Extent>'));
    assert.ok(!wmsCapabilities(input('1.0.0')).includes('Dimension'));
  });

  it('layer md: 1.3.0 renders all of it, 1.1.1 abstract and TC211/FGDC MetadataURLs, 1.1.0 none', () => {
    const osm130 = layerXml(wmsCapabilities(input('1.3.0')), 'osm');
    assert.ok(osm130.includes('<Keyword vocabulary="GEMET">roads</Keyword>'));
    assert.ok(osm130.includes('<Keyword>osm</Keyword>'));
    assert.match(osm130, /<Attribution>\s*<Title>© OpenStreetMap contributors<\/Title>\s*<OnlineResource xlink:href="[^"]+"\/>\s*<LogoURL width="100" height="30">\s*<Format>image\/png<\/Format>/);
    assert.match(osm130, /<AuthorityURL name="example">\s*<OnlineResource xlink:href="https:\/\/example.org\/auth" \/>\s*<\/AuthorityURL>\s*<Identifier authority="example">osm-1<\/Identifier>/);
    assert.match(osm130, /<MetadataURL type="ISO19115:2003">\s*<Format>text\/xml<\/Format>\s*<OnlineResource xlink:href="https:\/\/example.org\/md.xml\?id=1&amp;f=iso"\/>/);
    assert.match(osm130, /<DataURL>\s*<Format>application\/zip<\/Format>/);
    assert.match(osm130, /<FeatureListURL>\s*<Format>application\/json<\/Format>/);
    const osm111 = layerXml(wmsCapabilities(input('1.1.1')), 'osm');
    assert.ok(osm111.includes('<Abstract>Tiles &amp; more &lt;b&gt;</Abstract>'));
    assert.equal(osm111.match(/<MetadataURL/g)?.length, 1);
    assert.ok(osm111.includes('<MetadataURL type="TC211">'));
    assert.ok(!osm111.includes('Attribution') && !osm111.includes('DataURL'));
    const osm110 = layerXml(wmsCapabilities(input('1.1.0')), 'osm');
    assert.ok(!osm110.includes('Abstract') && !osm110.includes('MetadataURL'));
  });

  it('1.3.0 root element declares the WMS, SLD and xlink namespaces', () => {
    const xml = wmsCapabilities(input('1.3.0'));
    assert.match(xml, /^<\?xml version="1.0"\?>\n<WMS_Capabilities xmlns="http:\/\/www.opengis.net\/wms" xmlns:sld="http:\/\/www.opengis.net\/sld" xmlns:xlink="http:\/\/www.w3.org\/1999\/xlink"/);
    assert.match(wmsCapabilities(input('1.1.1')), /<!DOCTYPE WMT_MS_Capabilities SYSTEM "http:\/\/schemas.opengis.net\/wms\/1.1.1\/WMS_MS_Capabilities.dtd"/);
  });
});

/**
 * Expected merge results marked "MapProxy" come from running MapProxy's own
 * featureinfo.combine_docs (6.x from git master and 1.15.1, lxml 4.9.2) on the
 * same inputs; where our text-preserving merge deliberately differs (lxml
 * repairs or renames markup, or MapProxy raises), the case says so.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  combineFeatureInfo, featureInfoPoint, infoMimeFor, infoTypeOf, mapToPixel, mergeFeatureInfo,
  pixelToMap, requestedInfoType, transformInfoQuery, type InfoType,
} from '../../../src/service/wms/featureinfo.ts';
import { getSrs, type Bbox } from '../../../src/srs/srs.ts';

const MIME: Record<InfoType, string> = {
  text: 'text/plain', html: 'text/html', xml: 'text/xml', json: 'application/json',
};

function merge(type: InfoType, bodies: string[]): string {
  return mergeFeatureInfo(bodies.map((body) => ({ body, mime: MIME[type] })), type);
}

describe('info types and mime types', () => {
  it('maps mime types as featureinfo_type, ignoring parameters', () => {
    assert.equal(infoTypeOf('text/xml'), 'xml');
    assert.equal(infoTypeOf('application/xml'), 'xml');
    assert.equal(infoTypeOf('application/gml+xml'), 'xml');
    assert.equal(infoTypeOf('application/vnd.ogc.gml'), 'xml');
    assert.equal(infoTypeOf('text/xml; subtype=gml/3.1.1'), 'xml');
    assert.equal(infoTypeOf('text/html; charset=UTF-8'), 'html');
    assert.equal(infoTypeOf('application/json'), 'json');
    assert.equal(infoTypeOf('text/plain'), 'text');
    assert.equal(infoTypeOf('image/png'), 'text');
    assert.equal(infoTypeOf(''), 'text');
    // our additions for what GeoServer and QGIS send
    assert.equal(infoTypeOf('application/geo+json'), 'json');
    assert.equal(infoTypeOf('application/vnd.ogc.gml/3.1.1'), 'xml');
  });

  it('answers XML as application/vnd.ogc.gml before 1.3.0 and text/xml at 1.3.0', () => {
    assert.equal(infoMimeFor('xml', '1.1.1'), 'application/vnd.ogc.gml');
    assert.equal(infoMimeFor('xml', '1.0.0'), 'application/vnd.ogc.gml');
    assert.equal(infoMimeFor('xml', undefined), 'application/vnd.ogc.gml');
    assert.equal(infoMimeFor('xml', '1.3.0'), 'text/xml');
    assert.equal(infoMimeFor('html', '1.3.0'), 'text/html');
    assert.equal(infoMimeFor('text', '1.1.1'), 'text/plain');
    assert.equal(infoMimeFor('json', '1.1.1'), 'application/json');
  });

  it('recognises requested INFO_FORMATs per version only', () => {
    assert.equal(requestedInfoType('text/xml', '1.3.0'), 'xml');
    assert.equal(requestedInfoType('text/xml', '1.1.1'), undefined);
    assert.equal(requestedInfoType('application/vnd.ogc.gml', '1.1.1'), 'xml');
    assert.equal(requestedInfoType('text/html', '1.1.1'), 'html');
  });
});

describe('text feature info', () => {
  it('joins with newlines (MapProxy)', () => {
    assert.equal(merge('text', ['a', 'b\n', 'c']), 'a\nb\n\nc');
  });

  it('skips empty answers as MapProxy 6 does (1.15 left blank lines)', () => {
    assert.equal(merge('text', ['', 'x', '']), 'x');
    assert.equal(merge('text', ['', '']), '');
    assert.equal(merge('text', []), '');
  });
});

describe('HTML feature info', () => {
  it('appends later bodies to the first body (MapProxy)', () => {
    assert.equal(
      merge('html', [
        '<html><head><title>A</title></head><body><p>a</p></body></html>',
        '<html><body><p>b</p>\n<table><tr><td>1</td></tr></table></body></html>',
      ]),
      '<html><head><title>A</title></head><body><p>a</p><p>b</p>\n<table><tr><td>1</td></tr></table></body></html>',
    );
  });

  it('builds the skeleton around fragments and an empty first doc (MapProxy)', () => {
    assert.equal(merge('html', ['', '<p>b</p>']), '<html><body><p>b</p></body></html>');
    assert.equal(merge('html', ['<p>a</p>\n', '<p>b</p>\n']), '<html><body><p>a</p>\n<p>b</p>\n</body></html>');
    assert.equal(merge('html', ['<p>a</p>']), '<html><body><p>a</p></body></html>');
  });

  it('adds the body a document without one implies (MapProxy)', () => {
    assert.equal(
      merge('html', ['<html><head><title>t</title></head><p>a</p></html>', '<p>b</p>']),
      '<html><head><title>t</title></head><body><p>a</p><p>b</p></body></html>',
    );
  });

  it('finds body tags in any case and not inside scripts (MapProxy)', () => {
    assert.equal(
      merge('html', [
        '<html><body><script>var s = "</body>";</script><p>a</p></body></html>',
        '<HTML><BODY><p>b</p></BODY></HTML>',
      ]),
      '<html><body><script>var s = "</body>";</script><p>a</p><p>b</p></body></html>',
    );
  });

  it('passes broken markup on instead of repairing it', () => {
    // MapProxy (lxml): '...<div><span>c</span></div></body></html>'
    assert.equal(
      merge('html', [
        '<html><body><p>a</p></body></html>',
        '<html>\n<body>\n<p>b</p>\n</body>\n</html>\n',
        '<div><span>c</div>',
      ]),
      '<html><body><p>a</p><p>b</p>\n<div><span>c</div></body></html>',
    );
  });

  it('keeps leading body text that MapProxy loses', () => {
    // MapProxy: '<html><body><p>a</p><b>b</b></body></html>'
    assert.equal(
      merge('html', ['<html><body><p>a</p></body></html>', '<html><body>Hello <b>b</b></body></html>']),
      '<html><body><p>a</p>Hello <b>b</b></body></html>',
    );
  });

  it('answers only empty documents with the empty skeleton (MapProxy raises for whitespace)', () => {
    assert.equal(merge('html', ['', '  ']), '<html><body></body></html>');
  });
});

describe('XML feature info', () => {
  it('moves the children of later roots under the first root, declaration dropped (MapProxy)', () => {
    assert.equal(
      merge('xml', [
        '<?xml version="1.0" encoding="UTF-8"?>\n<root><a>1</a></root>',
        '<root>\n  <b>2</b>\n  <c x="1"/>\n</root>',
      ]),
      '<root><a>1</a><b>2</b>\n  <c x="1"/>\n</root>',
    );
  });

  it('skips empty documents (MapProxy 6; an empty first doc makes MapProxy raise)', () => {
    assert.equal(merge('xml', ['<root><a>1</a></root>', '', '<root><b>2</b></root>']), '<root><a>1</a><b>2</b></root>');
    assert.equal(merge('xml', ['', '<root><b>2</b></root>']), '<root><b>2</b></root>');
    assert.equal(merge('xml', ['', ' ']), '');
  });

  it('redeclares namespaces the first root does not bind (MapProxy)', () => {
    const wfs = 'xmlns:wfs="http://www.opengis.net/wfs" xmlns:gml="http://www.opengis.net/gml"';
    assert.equal(
      merge('xml', [
        `<wfs:FeatureCollection ${wfs}><gml:featureMember><x>1</x></gml:featureMember></wfs:FeatureCollection>`,
        `<wfs:FeatureCollection ${wfs} xmlns:ms="http://ms"><gml:featureMember><ms:x gml:id="1">2</ms:x></gml:featureMember></wfs:FeatureCollection>`,
      ]),
      `<wfs:FeatureCollection ${wfs}><gml:featureMember><x>1</x></gml:featureMember>`
        + '<gml:featureMember xmlns:ms="http://ms"><ms:x gml:id="1">2</ms:x></gml:featureMember></wfs:FeatureCollection>',
    );
  });

  it('keeps each default namespace where lxml invents prefixes or loses it', () => {
    // MapProxy: '<a xmlns="urn:a"><x/><ns0:y xmlns:ns0="urn:b"/><z/></a>' (z moves into urn:a)
    assert.equal(
      merge('xml', ['<a xmlns="urn:a"><x/></a>', '<b xmlns="urn:b"><y/></b>', '<c><z/></c>']),
      '<a xmlns="urn:a"><x/><y xmlns="urn:b"/><z xmlns=""/></a>',
    );
  });

  it('opens a self-closing root and moves comments and tails but not leading text (MapProxy)', () => {
    assert.equal(merge('xml', ['<root/>', '<r><b/></r>']), '<root><b/></root>');
    assert.equal(
      merge('xml', ['<a><x>1</x></a>', '<b>text<!-- c --><y>2</y>tail</b>']),
      '<a><x>1</x><!-- c --><y>2</y>tail</a>',
    );
  });

  it('falls back to concatenation when a document is broken', () => {
    // MapProxy 6 drops the broken one: '<root><a>1</a><c>3</c></root>'; 1.15 raises
    const docs = ['<root><a>1</a></root>', '<root><b>2</b>', '<root><c>3</c></root>'];
    assert.equal(merge('xml', docs), docs.join('\n'));
    assert.equal(merge('xml', ['<a>1</b>', '<a>2</a>']), '<a>1</b>\n<a>2</a>');
    assert.equal(merge('xml', ['<a>1</a><b/>', '<a>2</a>']), '<a>1</a><b/>\n<a>2</a>');
    assert.equal(merge('xml', ['no xml at all']), 'no xml at all');
  });
});

describe('JSON feature info', () => {
  it('merges objects and extends lists, later scalars win (MapProxy)', () => {
    assert.equal(
      merge('json', [
        '{"type":"FeatureCollection","features":[{"id":1}],"n":1}',
        '{}',
        '{"type":"FeatureCollection","features":[{"id":2}],"n":2,"x":{"a":1}}',
      ]),
      '{"type": "FeatureCollection", "features": [{"id": 1}, {"id": 2}], "n": 2, "x": {"a": 1}}',
    );
    assert.equal(
      merge('json', ['{"a":{"b":1,"c":[1]}}', '{"a":{"b":2,"c":[2],"d":null}}', '{"a":{"c":[3,4]}}']),
      '{"a": {"b": 2, "c": [1, 2, 3, 4], "d": null}}',
    );
  });

  it('writes numbers, strings and key order as Python json.dumps (MapProxy)', () => {
    assert.equal(
      merge('json', [
        '{"a": 1.0, "b": "ü€😀\\u0001/\\"\\n", "c": 1e16, "d": 0.00001, "e": 12345678901234567890,'
          + ' "f": 1E5, "g": 1.50, "h": -0.0, "i": 1e22, "j":[]}',
        '{"j": [1], "2": 1, "1": 2}',
      ]),
      '{"a": 1.0, "b": "\\u00fc\\u20ac\\ud83d\\ude00\\u0001/\\"\\n", "c": 1e+16, "d": 1e-05,'
        + ' "e": 12345678901234567890, "f": 100000.0, "g": 1.5, "h": -0.0, "i": 1e+22, "j": [1], "2": 1, "1": 2}',
    );
  });

  it('answers only empty results with {} (MapProxy 6)', () => {
    assert.equal(merge('json', ['{}', '[]']), '{}');
    assert.equal(merge('json', []), '{}');
  });

  it('tolerates empty bodies and top-level lists where MapProxy raises', () => {
    assert.equal(merge('json', ['', '{"a":1}']), '{"a": 1}');
    assert.equal(merge('json', ['[1]', '[2]']), '[1, 2]');
  });

  it('falls back to concatenation when a document is broken (MapProxy raises)', () => {
    assert.equal(merge('json', ['{"a":1}', '{"a":']), '{"a":1}\n{"a":');
    assert.equal(merge('json', ['{"a":1} trailing']), '{"a":1} trailing');
  });
});

describe('combineFeatureInfo', () => {
  it('merges by the common type and concatenates mixed types as text', () => {
    assert.deepEqual(
      combineFeatureInfo([{ body: '<r><a/></r>', mime: 'application/vnd.ogc.gml' }, { body: '<r><b/></r>', mime: 'text/xml' }]),
      { body: '<r><a/><b/></r>', type: 'xml' },
    );
    assert.deepEqual(
      combineFeatureInfo([{ body: '<r><a/></r>', mime: 'text/xml' }, { body: 'plain', mime: 'text/plain' }]),
      { body: '<r><a/></r>\nplain', type: 'text' },
    );
  });
});

describe('feature info point', () => {
  it('converts between pixels and map coordinates as make_lin_transf', () => {
    // MapProxy: make_lin_transf((0, 0, 512, 512), (8, 53, 9, 54))((100, 200)) == (8.1953125, 53.609375)
    assert.deepEqual(pixelToMap([8, 53, 9, 54], [512, 512], [100, 200]), [8.1953125, 53.609375]);
    assert.deepEqual(mapToPixel([7, 50, 8, 51], [500, 400], [7.5, 50.5]), [250, 200]);
    assert.deepEqual(mapToPixel([7, 50, 8, 51], [500, 400], [7, 50]), [0, 400]);
  });

  it('keeps the pixel for the same SRS, bbox and size, fractional ones included', () => {
    const srs = getSrs('EPSG:4326');
    const bbox: Bbox = [8, 53, 9, 54];
    assert.deepEqual(featureInfoPoint({ bbox, size: [512, 512], srs, x: 100, y: 200 }, { srs, bbox, size: [512, 512] }), { x: 100, y: 200 });
    assert.deepEqual(featureInfoPoint({ bbox, size: [512, 512], srs, x: 10.5, y: 2.5 }, { srs, bbox, size: [512, 512] }), { x: 10.5, y: 2.5 });
    // CRS:84 is EPSG:4326 for MapProxy; the source window doubles the resolution
    assert.deepEqual(
      featureInfoPoint({ bbox, size: [256, 256], srs, x: 100, y: 200 }, { srs: getSrs('CRS:84'), bbox, size: [512, 512] }),
      { x: 200, y: 400 },
    );
  });

  it('transforms the point into a reprojected source window', () => {
    // MapProxy: 3857 pixel (17, 250) of 400x300 over (900000, 7000000, 1000000, 7100000) is
    // (8.123015956650772, 53.18163640561392) in EPSG:4326, pixel (31.49, 209.50) of 256x256 over (8, 53, 9, 54)
    const p = featureInfoPoint(
      { bbox: [900000, 7000000, 1000000, 7100000], size: [400, 300], srs: getSrs('EPSG:3857'), x: 17, y: 250 },
      { srs: getSrs('EPSG:4326'), bbox: [8, 53, 9, 54], size: [256, 256] },
    );
    assert.deepEqual(p, { x: 31, y: 210 });
  });

  it('builds the query for a source without the request SRS as _get_transformed_query', () => {
    const close = (a: number[], b: number[], tol: number) =>
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol, `${a} != ${b}`));
    const utm = getSrs('EPSG:25832');
    // MapProxy: bbox (432890.56464132015, 5872270.527540034, 500000.0, 5983984.454668327), size (512, 852), pos (106, 333)
    const q1 = transformInfoQuery({ bbox: [8, 53, 9, 54], size: [512, 512], srs: getSrs('EPSG:4326'), x: 100, y: 200 }, utm);
    close(q1.bbox, [432890.56464132015, 5872270.527540034, 500000.0, 5983984.454668327], 1e-3);
    assert.deepEqual([...q1.size, q1.x, q1.y], [512, 852, 106, 333]);
    assert.equal(q1.srs, utm);
    // MapProxy: bbox (438714.20581963286, 5882484.820574665, 498885.85205794167, 5942513.533907243), size (400, 399), pos (18, 330)
    const q2 = transformInfoQuery(
      { bbox: [900000, 7000000, 1000000, 7100000], size: [400, 300], srs: getSrs('EPSG:3857'), x: 17, y: 250 }, utm,
    );
    close(q2.bbox, [438714.20581963286, 5882484.820574665, 498885.85205794167, 5942513.533907243], 1e-3);
    assert.deepEqual([...q2.size, q2.x, q2.y], [400, 399, 18, 330]);
  });

  it('leaves the query alone when the source has the SRS', () => {
    const srs = getSrs('EPSG:3857');
    const q = transformInfoQuery({ bbox: [0, 0, 10, 10], size: [10, 10], srs, x: 1.5, y: 2 }, getSrs('EPSG:900913'));
    assert.deepEqual({ ...q, srs: q.srs.code }, { bbox: [0, 0, 10, 10], size: [10, 10], srs: 'EPSG:3857', x: 1.5, y: 2 });
  });
});

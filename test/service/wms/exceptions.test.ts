import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { negotiateWmsVersion, wmsExceptionXml, WMS_VERSIONS } from '../../../src/service/wms/exceptions.ts';
import { xmllint } from '../../helpers/xmllint.ts';

const SCHEMA_DIR = path.resolve(import.meta.dir, '../../fixtures/schemas');

const MSG = 'unknown layer: <a&b> "x"';
const ESCAPED = 'unknown layer: &lt;a&amp;b&gt; &quot;x&quot;';

describe('WMS exception reports', () => {
  it('1.0.0: WMTException as MapProxy writes it, text/xml, well-formed', () => {
    const e = wmsExceptionXml('1.0.0', MSG, 'LayerNotDefined');
    assert.equal(e.contentType, 'text/xml');
    assert.equal(e.body, `<?xml version="1.0"?>\n<WMTException version="1.0.0">\n${ESCAPED}\n</WMTException>`);
    // there is no 1.0.0 exception DTD; well-formedness is what can be checked
    const r = xmllint(e.body, []);
    assert.equal(r.status, 0, r.stderr);
  });

  for (const version of ['1.1.0', '1.1.1'] as const) {
    it(`${version}: ServiceExceptionReport with DOCTYPE, application/vnd.ogc.se_xml, valid against its DTD`, () => {
      const e = wmsExceptionXml(version, MSG, 'LayerNotDefined');
      assert.equal(e.contentType, 'application/vnd.ogc.se_xml');
      assert.equal(
        e.body,
        `<?xml version="1.0"?>\n<!DOCTYPE ServiceExceptionReport SYSTEM "http://schemas.opengis.net/wms/${version}/exception_${version.replace(/\./g, '_')}.dtd">\n` +
          `<ServiceExceptionReport version="${version}">\n    <ServiceException code="LayerNotDefined">${ESCAPED}</ServiceException>\n</ServiceExceptionReport>`,
      );
      const dtd = path.join(SCHEMA_DIR, `wms/${version}/exception_${version.replace(/\./g, '_')}.dtd`);
      for (const body of [e.body, wmsExceptionXml(version, 'no code').body]) {
        const r = xmllint(body, ['--dtdvalid', dtd]);
        assert.equal(r.status, 0, r.stderr);
      }
    });
  }

  it('1.3.0: ServiceExceptionReport in the ogc namespace, text/xml, valid against exceptions_1_3_0.xsd', () => {
    const e = wmsExceptionXml('1.3.0', MSG, 'InvalidCRS');
    assert.equal(e.contentType, 'text/xml; charset=utf-8');
    assert.equal(
      e.body,
      '<?xml version="1.0"?>\n<ServiceExceptionReport version="1.3.0"\n  xmlns="http://www.opengis.net/ogc"\n' +
        '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n  xsi:schemaLocation="http://www.opengis.net/ogc\n' +
        'http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd">\n' +
        `    <ServiceException code="InvalidCRS">${ESCAPED}</ServiceException>\n</ServiceExceptionReport>`,
    );
    const xsd = path.join(SCHEMA_DIR, 'wms/1.3.0/exceptions_1_3_0.xsd');
    for (const body of [e.body, wmsExceptionXml('1.3.0', 'no code').body]) {
      const r = xmllint(body, ['--schema', xsd]);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it('leaves the code attribute out when there is none', () => {
    for (const v of WMS_VERSIONS) assert.ok(!wmsExceptionXml(v, 'x').body.includes('code='), v);
    assert.ok(!wmsExceptionXml('1.0.0', 'x', 'Foo').body.includes('code='));
  });

  it('escapes message and code, and keeps control characters from echoed parameters out', () => {
    const e = wmsExceptionXml('1.1.1', "layer 'a'\u0001\u0000 unknown", 'a"b<c');
    assert.ok(e.body.includes('code="a&quot;b&lt;c"'));
    assert.ok(!/[\u0000\u0001]/.test(e.body));
    const r = xmllint(e.body, ['--dtdvalid', path.join(SCHEMA_DIR, 'wms/1.1.1/exception_1_1_1.dtd')]);
    assert.equal(r.status, 0, r.stderr);
    for (const v of WMS_VERSIONS) assert.equal(xmllint(wmsExceptionXml(v, '<\u0007&>').body, []).status, 0, v);
  });

  it('the validators do reject a wrong report', () => {
    const body = wmsExceptionXml('1.3.0', 'x').body.replace('ServiceException>', 'ServiceError>').replace('<ServiceException', '<ServiceError');
    assert.notEqual(xmllint(body, ['--schema', path.join(SCHEMA_DIR, 'wms/1.3.0/exceptions_1_3_0.xsd')]).status, 0);
    const body111 = wmsExceptionXml('1.1.1', 'x').body.replace('<ServiceException>', '<ServiceException locator="l">');
    assert.notEqual(xmllint(body111, ['--dtdvalid', path.join(SCHEMA_DIR, 'wms/1.1.1/exception_1_1_1.dtd')]).status, 0);
  });
});

describe('WMS version negotiation', () => {
  it("follows MapProxy's negotiate_version doctests", () => {
    assert.equal(negotiateWmsVersion('0.9.0'), '1.0.0');
    assert.equal(negotiateWmsVersion('2.0.0'), '1.3.0');
    assert.equal(negotiateWmsVersion('1.1.1'), '1.1.1');
    assert.equal(negotiateWmsVersion('1.1.0'), '1.1.0');
    assert.equal(negotiateWmsVersion('1.1.0', ['1.0.0']), '1.0.0');
    assert.equal(negotiateWmsVersion('1.3.0', ['1.1.0', '1.1.1']), '1.1.1');
  });

  it('answers with the highest supported version when none is given', () => {
    assert.equal(negotiateWmsVersion(undefined), '1.3.0');
    assert.equal(negotiateWmsVersion(''), '1.3.0');
    assert.equal(negotiateWmsVersion(undefined, ['1.1.1', '1.0.0']), '1.1.1');
  });

  it('picks the nearest lower supported version for one in between', () => {
    assert.equal(negotiateWmsVersion('1.2.0'), '1.1.1');
    assert.equal(negotiateWmsVersion('1.1.5'), '1.1.1');
    assert.equal(negotiateWmsVersion('1.0.5'), '1.0.0');
    assert.equal(negotiateWmsVersion('1.1.1', ['1.0.0', '1.3.0']), '1.0.0');
    // unsorted supported lists are fine
    assert.equal(negotiateWmsVersion('1.2', ['1.3.0', '1.1.0', '1.0.0']), '1.1.0');
  });

  it('compares version numbers as numbers, with Python tuple semantics', () => {
    assert.equal(negotiateWmsVersion('1.10.0'), '1.3.0');
    // (1, 1) < (1, 1, 0): MapProxy lands on 1.0.0 too
    assert.equal(negotiateWmsVersion('1.1'), '1.0.0');
    assert.equal(negotiateWmsVersion('1.3.0.1'), '1.3.0');
    assert.equal(negotiateWmsVersion('01.1.1'), '1.1.1');
  });

  it('restricts to the configured versions', () => {
    assert.equal(negotiateWmsVersion('1.3.0', ['1.1.1']), '1.1.1');
    assert.equal(negotiateWmsVersion('1.0.0', ['1.1.1', '1.3.0']), '1.1.1');
    assert.equal(negotiateWmsVersion('1.1.1', []), '1.1.1');
  });

  it('treats an unparseable version as missing', () => {
    assert.equal(negotiateWmsVersion('abc'), '1.3.0');
    assert.equal(negotiateWmsVersion('1.x.0', ['1.1.1', '1.0.0']), '1.1.1');
  });
});

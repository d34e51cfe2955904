/** Validation of XML answers with xmllint (Debian libxml2-utils) against the OGC schemas in test/fixtures/schemas. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SCHEMA_DIR = path.resolve(import.meta.dir, '../fixtures/schemas');

/** Schema and DTD files by document type. */
export const SCHEMAS = {
  wms100: path.join(SCHEMA_DIR, 'wms/1.0.0/capabilities_1_0_0.dtd'),
  wms110: path.join(SCHEMA_DIR, 'wms/1.1.0/capabilities_1_1_0.dtd'),
  wms111: path.join(SCHEMA_DIR, 'wms/1.1.1/WMS_MS_Capabilities.dtd'),
  wms130: path.join(SCHEMA_DIR, 'wms/1.3.0/capabilities_1_3_0.xsd'),
  // imports capabilities_1_3_0.xsd and adds sld:GetLegendGraphic
  sld110: path.join(SCHEMA_DIR, 'sld/1.1.0/sld_capabilities.xsd'),
  kml22: path.join(SCHEMA_DIR, 'kml/2.2.0/ogckml22.xsd'),
};

/** Runs xmllint on the document; --nonet because the DOCTYPEs and schemaLocations name remote URLs. */
export function xmllint(xml: string, args: string[]): { status: number | null; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xmllint-'));
  try {
    const file = path.join(dir, 'doc.xml');
    fs.writeFileSync(file, xml);
    const r = spawnSync('/usr/bin/xmllint', ['--noout', '--nonet', ...args, file], { encoding: 'utf8' });
    if (r.error) throw r.error;
    return { status: r.status, stderr: `${r.stderr}\n${xml}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

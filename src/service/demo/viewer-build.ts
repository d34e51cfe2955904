/**
 * The browser side of the demo (browser/viewer.ts with OpenLayers and proj4,
 * and the stylesheets) bundled by esbuild into one script and one stylesheet.
 * Running from source this bundles at the first request; `npm run build`
 * bundles once and swaps this module for the result (viewer-plugin.ts), so
 * dist/mapproxy.js and the executable carry the viewer and need no esbuild.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

/** The bundled viewer. */
export interface ViewerAssets {
  js: string;
  css: string;
}

/** Bundle the viewer (esbuild must be installed: it is when running from a checkout). */
export async function buildViewerAssets(): Promise<ViewerAssets> {
  const esbuild = await import('esbuild');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'browser', 'viewer.ts')],
    bundle: true,
    write: false,
    outdir: path.join(here, 'browser-out'),
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    banner: { js: licenseBanner(), css: licenseBanner() },
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (!js || !css) throw new Error('demo viewer bundle: esbuild produced no script or stylesheet');
  return { js: js.text, css: css.text };
}

/** The BSD/MIT notices of the bundled libraries: their licenses ask binary copies to carry them. */
function licenseBanner(): string {
  const require = createRequire(import.meta.url);
  const parts: string[] = [];
  for (const pkg of ['ol', 'proj4']) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    const file = fs.readdirSync(dir).find((f) => /^licen[sc]e(\.md|\.txt)?$/i.test(f));
    const version = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    const text = file ? fs.readFileSync(path.join(dir, file), 'utf8').trim() : '';
    parts.push(`${pkg} ${version}\n\n${text}`);
  }
  return `/*!\n * mapproxy-ts demo viewer; includes:\n\n${parts.join('\n\n').replace(/\*\//g, '* /')}\n */`;
}

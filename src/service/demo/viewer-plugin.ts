/**
 * For build.ts: an esbuild plugin that replaces viewer-build.ts in the server
 * bundle with a module returning the viewer bundled at build time, so the
 * bundle and the executable embed it and never load esbuild.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import type { ViewerAssets } from './viewer-build.ts';

const BUILDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'viewer-build.ts');

/** The plugin, given the viewer bundled once by buildViewerAssets(). */
export function prebuiltViewerPlugin(assets: ViewerAssets): Plugin {
  const contents = `export async function buildViewerAssets() { return ${JSON.stringify(assets)}; }\n`;
  return {
    name: 'mapproxy-demo-prebuilt-viewer',
    setup(build) {
      build.onResolve({ filter: /[\\/]viewer-build\.ts$/ }, (args) => {
        const target = path.resolve(args.resolveDir, args.path);
        return target === BUILDER ? { path: target, namespace: 'mapproxy-demo-prebuilt' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'mapproxy-demo-prebuilt' }, () => ({ contents, loader: 'js' }));
    },
  };
}

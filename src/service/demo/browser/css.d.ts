/** Stylesheets imported for their side effect: esbuild collects them into demo.css (viewer-build.ts). */
declare module '*.css';

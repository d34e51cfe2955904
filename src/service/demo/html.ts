/** HTML building blocks of the demo pages: escaping, JSON data blocks, the page frame and responses. */
import { VERSION } from '../../version.ts';
import { xmlEscape } from '../../util/py-format.ts';

/** Escape text for HTML element content and quoted attribute values (the XML escaping covers HTML's five). */
export const esc = xmlEscape;

/**
 * A <script type="application/json"> block: data never runs as code, and
 * with `<`, `>`, `&` and the JS line separators escaped no value can close
 * the element or open a comment.
 */
export function jsonScript(id: string, data: unknown): string {
  const json = JSON.stringify(data)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return `<script type="application/json" id="${esc(id)}">${json}</script>`;
}

/** A query string from pairs, each part percent-encoded (for links built from config values). */
export function query(params: Record<string, string | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    parts.push(v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** What a page consists of. */
export interface PageParts {
  title: string;
  /** trusted HTML */
  body: string;
  /** load the map viewer script (pages with a #map element and a config block) */
  viewer?: boolean;
}

/**
 * The page frame. Every demo page lives at /demo/ (only the query differs),
 * so relative links reach the static files and the services under any
 * script prefix.
 */
export function page(p: PageParts): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(p.title)} - MapProxy demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="static/demo.css">
${p.viewer ? '<script src="static/viewer.js" defer></script>\n' : ''}</head>
<body>
<header class="top"><h1><a href="./">MapProxy</a></h1><span class="where">${esc(p.title)}</span></header>
<main>
${p.body}
</main>
<footer>mapproxy-ts ${esc(VERSION)}</footer>
</body>
</html>
`;
}

/**
 * Scripts only from /demo/static (no inline code runs even if escaping ever
 * failed), images only from this server: the tiles and maps are same-origin.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/** An HTML response with the demo's security headers. */
export function htmlResponse(html: string, status = 200): Response {
  return new Response(html, {
    status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    },
  });
}

/** An error page (message escaped). */
export function errorPage(status: number, message: string): Response {
  return htmlResponse(page({ title: status === 404 ? 'Not found' : 'Bad request', body: `<p class="error">${esc(message)}</p>\n<p><a href="./">Back to the demo</a></p>` }), status);
}

/** Plain-text 404, for static files and paths outside the demo. */
export function notFound(): Response {
  return new Response('not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' } });
}

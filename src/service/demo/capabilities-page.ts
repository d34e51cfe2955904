/** The capabilities viewer: a service's capabilities document, pretty-printed. */
import { esc, page } from './html.ts';
import { prettyXmlHtml } from './xml-pretty.ts';

/** The page for a document fetched from `url` (shown as the link to the raw XML). */
export function capabilitiesPage(service: string, url: string, status: number, xml: string): string {
  const problem = status === 200 ? '' : `<p class="error">The service answered with status ${status}.</p>\n`;
  const body = `<h2>${esc(service)} capabilities</h2>
<p><a href="${esc(url)}">${esc(url)}</a></p>
${problem}<pre class="xml">${prettyXmlHtml(xml)}</pre>`;
  return page({ title: `${service} capabilities`, body });
}

/**
 * Pretty-printing of capabilities documents for the capabilities viewer:
 * one element per line, indented by depth, elements holding only text on
 * one line; the output is HTML, every piece escaped, names and values marked
 * up for colouring. A tolerant tokenizer, not a validator: broken input is
 * still shown, just less neatly.
 */
import { esc } from './html.ts';

type Token =
  | { kind: 'open' | 'selfclose'; name: string; attrs: [string, string][]; raw: string }
  | { kind: 'close'; name: string; raw: string }
  | { kind: 'text' | 'other'; raw: string };

// tags (quoted values may hold '>'), comments, CDATA, processing instructions, declarations, text
const TOKEN = /<!--[\s\S]*?(?:-->|$)|<!\[CDATA\[[\s\S]*?(?:\]\]>|$)|<\?[\s\S]*?(?:\?>|$)|<![^>]*>?|<\/?[^\s/>!?][^\s/>]*(?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*\s*\/?>|[^<]+|</g;
const ATTR = /([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g;

function tokenize(xml: string): Token[] {
  const out: Token[] = [];
  for (const m of xml.matchAll(TOKEN)) {
    const raw = m[0];
    if (raw.startsWith('</') && raw.endsWith('>')) out.push({ kind: 'close', name: raw.slice(2, -1).trim(), raw });
    else if (raw.length > 1 && raw[0] === '<' && /^<[^\s/>!?]/.test(raw) && raw.endsWith('>')) {
      const self = raw.endsWith('/>');
      const inner = raw.slice(1, self ? -2 : -1);
      const name = /^[^\s/>]+/.exec(inner)![0];
      const attrs: [string, string][] = [];
      for (const a of inner.slice(name.length).matchAll(ATTR)) attrs.push([a[1], a[2] === undefined ? '' : unquote(a[2])]);
      out.push({ kind: self ? 'selfclose' : 'open', name, attrs, raw });
    } else if (raw[0] === '<') out.push({ kind: 'other', raw });
    else out.push({ kind: 'text', raw });
  }
  return out;
}

function unquote(v: string): string {
  return (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] ? v.slice(1, -1) : v;
}

/** Tags longer than this put each attribute on a line of its own. */
const WRAP_AT = 100;

function tagHtml(t: Extract<Token, { kind: 'open' | 'selfclose' }>, pad: string): string {
  const plainLength = pad.length + t.name.length + t.attrs.reduce((n, [k, v]) => n + k.length + v.length + 4, 2);
  const sep = t.attrs.length > 1 && plainLength > WRAP_AT ? `\n${pad}    ` : ' ';
  // values stay as written (entities included): this shows the document, it does not decode it
  const attrs = t.attrs.map(([k, v]) => `${sep}<span class="xa">${esc(k)}</span>=<span class="xv">"${esc(v)}"</span>`).join('');
  return `<span class="xt">&lt;${esc(t.name)}</span>${attrs}<span class="xt">${t.kind === 'selfclose' ? '/&gt;' : '&gt;'}</span>`;
}

function closeHtml(name: string): string {
  return `<span class="xt">&lt;/${esc(name)}&gt;</span>`;
}

/** The document as indented, escaped and marked-up HTML for a <pre> block. */
export function prettyXmlHtml(xml: string, indent = '  '): string {
  const tokens = tokenize(xml).filter((t) => !(t.kind === 'text' && !t.raw.trim()));
  const lines: string[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const pad = indent.repeat(Math.max(depth, 0));
    if (t.kind === 'open') {
      const text = tokens[i + 1];
      const close = tokens[i + 2];
      // <a>text</a> and <a></a> stay on one line
      if (text?.kind === 'text' && close?.kind === 'close') {
        lines.push(`${pad}${tagHtml(t, pad)}${esc(text.raw.trim())}${closeHtml(close.name)}`);
        i += 2;
      } else if (text?.kind === 'close') {
        lines.push(`${pad}${tagHtml(t, pad)}${closeHtml(text.name)}`);
        i += 1;
      } else {
        lines.push(`${pad}${tagHtml(t, pad)}`);
        depth++;
      }
    } else if (t.kind === 'close') {
      depth--;
      lines.push(`${indent.repeat(Math.max(depth, 0))}${closeHtml(t.name)}`);
    } else if (t.kind === 'selfclose') lines.push(`${pad}${tagHtml(t, pad)}`);
    else if (t.kind === 'text') lines.push(`${pad}${esc(t.raw.trim())}`);
    else lines.push(`${pad}<span class="xc">${esc(t.raw)}</span>`);
  }
  return lines.join('\n');
}

/**
 * WMTS RESTful URL templates (`/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}`):
 * a template becomes one anchored regular expression; variables other than
 * the WMTS ones are dimensions. The legacy `{{Var}}` form is accepted.
 */

const VARIABLES: Record<string, string> = {
  TileMatrixSet: '[\\w.:-]+',
  TileMatrix: '\\d+',
  TileRow: '-?\\d+',
  TileCol: '-?\\d+',
  I: '\\d+',
  J: '\\d+',
  Style: '[\\w.:-]+',
  Layer: '[\\w.:-]+',
  Format: '\\w+',
  InfoFormat: '\\w+',
};
const DIMENSION_RE = '[\\w.,:-]+';

/** A parsed RESTful template. */
export class WmtsUrlTemplate {
  /** The template with `{{Var}}` written as `{Var}` (capabilities publish it so). */
  readonly template: string;
  /** Dimension variables, as written in the template. */
  readonly dimensions: string[] = [];
  private re: RegExp;
  private names: string[] = [];

  /** Throws Error naming the missing variables (the config builder turns it into a ConfigError). */
  constructor(template: string, required: readonly string[]) {
    this.template = template.replace(/\{\{(\w+)\}\}/g, '{$1}');
    let src = '';
    let last = 0;
    for (const m of this.template.matchAll(/\{(\w+)\}/g)) {
      src += escapeRe(this.template.slice(last, m.index));
      last = m.index! + m[0].length;
      const name = m[1];
      if (this.names.includes(name)) throw new Error(`variable {${name}} appears twice in the WMTS restful template`);
      this.names.push(name);
      if (!(name in VARIABLES)) this.dimensions.push(name);
      src += `(${VARIABLES[name] ?? DIMENSION_RE})`;
    }
    src += escapeRe(this.template.slice(last));
    const missing = required.filter((r) => !this.names.includes(r));
    if (missing.length) throw new Error(`missing required variables in WMTS restful template: ${missing.join(', ')}`);
    this.re = new RegExp(`^${src}$`);
  }

  /** The variables of a path below /wmts, or undefined when it does not match. */
  match(path: string): Map<string, string> | undefined {
    const m = this.re.exec(path);
    if (!m) return undefined;
    const out = new Map<string, string>();
    this.names.forEach((n, i) => out.set(n, m[i + 1]));
    return out;
  }
}

/** Variables every tile template needs. */
export const TILE_REQUIRED = ['TileCol', 'TileRow', 'TileMatrix', 'TileMatrixSet', 'Layer'] as const;
/** Variables every feature info template needs. */
export const INFO_REQUIRED = [...TILE_REQUIRED, 'I', 'J'] as const;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

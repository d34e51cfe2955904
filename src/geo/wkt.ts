/**
 * WKT reading for coverages. MapProxy's polygon files (load_polygons /
 * load_polygon_lines) hold one geometry per line, read with GEOS: blank lines
 * are skipped, text after a geometry on its line is ignored, only Polygon and
 * MultiPolygon are used and every other type (GeometryCollection included) is
 * skipped with a warning. A geometry may here also continue over several
 * lines, which MapProxy rejects.
 */
import { GeometryError, type Polygon, type Ring } from './geometry.ts';

/** Geometry type names as Shapely reports them. */
export type WktType = 'Point' | 'LineString' | 'LinearRing' | 'Polygon' | 'MultiPoint' | 'MultiLineString' | 'MultiPolygon' | 'GeometryCollection';

/** A parsed WKT geometry; only polygon parts keep their coordinates. */
export interface WktGeometry {
  type: WktType;
  /** Polygon: itself; MultiPolygon: its members; other types: none (empty polygons are left out). */
  polygons: Polygon[];
  /** The members of a GeometryCollection. */
  geometries: WktGeometry[];
}

const TYPES: Record<string, WktType> = {
  POINT: 'Point',
  LINESTRING: 'LineString',
  LINEARRING: 'LinearRing',
  POLYGON: 'Polygon',
  MULTIPOINT: 'MultiPoint',
  MULTILINESTRING: 'MultiLineString',
  MULTIPOLYGON: 'MultiPolygon',
  GEOMETRYCOLLECTION: 'GeometryCollection',
};

const TOKEN = /[A-Za-z]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/y;

// GeometryCollections nest; deeper than this is not a coverage
const MAX_DEPTH = 32;

class Parser {
  pos = 0;

  constructor(readonly text: string) {}

  lineAt(pos: number): number {
    let line = 1;
    for (let i = 0; i < pos && i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) line++;
    return line;
  }

  fail(msg: string, pos = this.pos): never {
    throw new GeometryError(`WKT line ${this.lineAt(pos)}: ${msg}`);
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length && /\s/.test(t[this.pos])) this.pos++;
  }

  /** The next token without consuming it ('' at the end). */
  peek(): string {
    this.skipSpace();
    const t = this.text;
    if (this.pos >= t.length) return '';
    const c = t[this.pos];
    if (c === '(' || c === ')' || c === ',') return c;
    TOKEN.lastIndex = this.pos;
    const m = TOKEN.exec(t);
    return m ? m[0] : c;
  }

  next(): string {
    const tok = this.peek();
    this.pos += tok.length;
    return tok;
  }

  expect(tok: string, context: string): void {
    this.skipSpace();
    const at = this.pos;
    const got = this.next();
    if (got !== tok) this.fail(`expected '${tok}' ${context}, found ${describe(got)}`, at);
  }

  number(): number {
    this.skipSpace();
    const at = this.pos;
    const tok = this.next();
    if (!/^[-+]?(?:\d|\.\d)/.test(tok)) this.fail(`expected a number, found ${describe(tok)}`, at);
    return Number(tok);
  }

  /** x y, with an optional z and m that are dropped. */
  coord(): [number, number] {
    const x = this.number();
    const y = this.number();
    for (let i = 0; i < 2 && /^[-+]?(?:\d|\.\d)/.test(this.peek()); i++) this.number();
    return [x, y];
  }

  coordList(context: string): [number, number][] {
    this.expect('(', context);
    const pts: [number, number][] = [this.coord()];
    // every round consumes a coordinate, so the text length bounds it
    while (this.peek() === ',' && pts.length <= this.text.length) {
      this.next();
      pts.push(this.coord());
    }
    this.expect(')', `to close the coordinate list ${context}`);
    return pts;
  }

  /** EMPTY (true) or nothing (false). */
  empty(): boolean {
    if (this.peek().toUpperCase() !== 'EMPTY') return false;
    this.next();
    return true;
  }

  ring(): Ring {
    this.skipSpace();
    const at = this.pos;
    const pts = this.coordList('to start a ring');
    const first = pts[0];
    const last = pts[pts.length - 1];
    if (first[0] !== last[0] || first[1] !== last[1]) this.fail('the points of a polygon ring do not form a closed ring (the last point must repeat the first)', at);
    if (pts.length < 4) this.fail(`a polygon ring has ${pts.length} points; it needs at least 4`, at);
    return pts;
  }

  polygonBody(): Polygon | undefined {
    if (this.empty()) return undefined;
    this.expect('(', 'to start a polygon');
    const rings: Ring[] = [this.ring()];
    while (this.peek() === ',' && rings.length <= this.text.length) {
      this.next();
      rings.push(this.ring());
    }
    this.expect(')', 'to close the polygon');
    return rings;
  }

  /** A list of members: '(' member {',' member} ')' or EMPTY. */
  members(read: () => void, context: string): void {
    if (this.empty()) return;
    this.expect('(', context);
    read();
    let n = 0;
    while (this.peek() === ',' && n++ <= this.text.length) {
      this.next();
      read();
    }
    this.expect(')', `to close ${context.replace(/^to start /, '')}`);
  }

  geometry(depth: number): WktGeometry {
    this.skipSpace();
    const at = this.pos;
    const word = this.next();
    const type = TYPES[word.toUpperCase()];
    if (!type) this.fail(`expected a WKT geometry type (POLYGON, MULTIPOLYGON ...), found ${describe(word)}`, at);
    if (depth > MAX_DEPTH) this.fail(`geometry collections nested deeper than ${MAX_DEPTH}`, at);
    const dim = this.peek().toUpperCase();
    if (dim === 'Z' || dim === 'M' || dim === 'ZM') this.next();
    const geom: WktGeometry = { type, polygons: [], geometries: [] };
    switch (type) {
      case 'Point':
        if (!this.empty()) this.coordList('after POINT');
        break;
      case 'LineString':
      case 'LinearRing':
        if (!this.empty()) this.coordList(`after ${word.toUpperCase()}`);
        break;
      case 'Polygon': {
        const p = this.polygonBody();
        if (p) geom.polygons.push(p);
        break;
      }
      case 'MultiPoint':
        this.members(() => {
          if (this.peek() === '(') this.coordList('for a point');
          else this.coord();
        }, 'to start a MULTIPOINT');
        break;
      case 'MultiLineString':
        this.members(() => {
          if (!this.empty()) this.coordList('for a line');
        }, 'to start a MULTILINESTRING');
        break;
      case 'MultiPolygon':
        this.members(() => {
          const p = this.polygonBody();
          if (p) geom.polygons.push(p);
        }, 'to start a MULTIPOLYGON');
        break;
      case 'GeometryCollection':
        this.members(() => {
          geom.geometries.push(this.geometry(depth + 1));
        }, 'to start a GEOMETRYCOLLECTION');
        break;
    }
    return geom;
  }
}

function describe(tok: string): string {
  return tok === '' ? 'the end of the text' : `'${tok}'`;
}

/** Parses exactly one WKT geometry; throws GeometryError on bad syntax or trailing text. */
export function parseWkt(text: string): WktGeometry {
  const p = new Parser(text);
  const g = p.geometry(0);
  if (p.peek() !== '') p.fail(`unexpected ${describe(p.peek())} after the geometry`);
  return g;
}

/**
 * The polygons of a MapProxy polygon file (one WKT geometry per line), as
 * load_polygon_lines: Polygon and MultiPolygon members in order; other types
 * are reported through `warn` and skipped.
 */
export function readWktPolygons(text: string, warn: (message: string) => void = () => {}, source = '<string>'): Polygon[] {
  // utf-8-sig: Notepad's byte order mark
  const p = new Parser(text.replace(/^\uFEFF/, ''));
  const polygons: Polygon[] = [];
  const len = p.text.length;
  // every round consumes at least one line
  for (let round = 0; round <= len; round++) {
    p.skipSpace();
    if (p.pos >= len) break;
    const g = p.geometry(0);
    if (g.type === 'Polygon' || g.type === 'MultiPolygon') polygons.push(...g.polygons);
    else warn(`ignoring non-polygon geometry (${g.type}) from ${source}`);
    // GEOS reads one geometry per line and ignores what follows it on the line
    const eol = p.text.indexOf('\n', p.pos);
    const end = eol < 0 ? len : eol + 1;
    const rest = p.text.slice(p.pos, end).trim();
    if (rest) warn(`ignoring '${rest.length > 40 ? rest.slice(0, 40) + '...' : rest}' after the geometry on line ${p.lineAt(p.pos)} of ${source}`);
    p.pos = end;
  }
  return polygons;
}

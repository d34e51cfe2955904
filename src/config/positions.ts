/**
 * Source positions of config values. Positions live beside the plain data
 * (keyed by the container object) so the config itself stays plain JSON-like
 * data, and merging base files only has to carry positions per key.
 */

/** A place in a config file: the file name as shown to the user and a 1-based line. */
export interface SourcePos {
  file: string;
  line: number;
}

/** One step of a key path: a mapping key or a list index. */
export type PathSegment = string | number;

interface NodeInfo {
  pos: SourcePos;
  keys: Map<PathSegment, SourcePos>;
}

/** Where each container and each of its keys/items came from. */
export class PositionMap {
  private readonly info = new WeakMap<object, NodeInfo>();

  /** Registers a container (mapping or list) that starts at `pos`. */
  add(node: object, pos: SourcePos): void {
    if (!this.info.has(node)) this.info.set(node, { pos, keys: new Map() });
  }

  /** Records where the key (or list item) `key` of `node` was written. */
  setKey(node: object, key: PathSegment, pos: SourcePos): void {
    let info = this.info.get(node);
    if (!info) {
      info = { pos, keys: new Map() };
      this.info.set(node, info);
    }
    info.keys.set(key, pos);
  }

  /** Position of a key of a container, if known. */
  keyPos(node: object, key: PathSegment): SourcePos | undefined {
    return this.info.get(node)?.keys.get(key);
  }

  /** Position where a container starts, if known. */
  nodePos(node: object): SourcePos | undefined {
    return this.info.get(node)?.pos;
  }

  /**
   * Position of the value at `path` below `root`. When the path does not
   * exist completely, the position of its deepest existing prefix is given,
   * so "missing key" errors point at the mapping that lacks the key.
   */
  locate(root: unknown, path: readonly PathSegment[]): SourcePos | undefined {
    let node: unknown = root;
    let found: SourcePos | undefined =
      node !== null && typeof node === 'object' ? this.nodePos(node) : undefined;
    for (const seg of path) {
      if (node === null || typeof node !== 'object') break;
      const pos = this.keyPos(node, seg);
      if (!pos) break;
      found = pos;
      node = (node as Record<PathSegment, unknown>)[seg];
    }
    return found;
  }
}

/** `['caches', 'osm', 'sources', 0]` -> `caches.osm.sources[0]` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

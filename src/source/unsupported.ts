/** A source type this version cannot talk to yet: loading works, using it gives a clear error. */
import { SourceError } from '../errors.ts';
import type { Source, SourceImage } from './source.ts';

/** Fails every request with a message naming the source and its type. */
export class UnsupportedSource implements Source {
  constructor(
    readonly name: string,
    readonly type: string,
  ) {}

  async getMap(): Promise<SourceImage> {
    throw new SourceError(`source '${this.name}': type '${this.type}' is not supported yet`);
  }
}

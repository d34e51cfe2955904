/** The KML 2.2 super-overlay document of one tile, laid out as MapProxy's KMLRenderer writes it. */
import type { TileCoord } from '../../grid/tile-grid.ts';
import type { Bbox } from '../../srs/types.ts';
import { xmlEscape } from '../../util/py-format.ts';
import type { KmlTile } from './kml-tiles.ts';
import { pyFixed } from './py-fixed.ts';

/** What one document needs: its own region, the next level's tiles and where links point to. */
export interface KmlDocumentParams {
  /** The layer segment of the request URL (MapProxy names the document after it). */
  name: string;
  /** lon/lat bbox of the requested tile (clipped to the grid) */
  bbox: Bbox;
  subtiles: readonly KmlTile[];
  /** `http://host/prefix/kml/layer/EPSGxxxx` without trailing slash */
  baseHref: string;
  /** extension of the image tiles */
  format: string;
  /** grid tile width in pixels, for the Lod thresholds */
  tileSize: number;
}

/** `(x, y, z)`: Python's str() of the coord tuple, as MapProxy names features. */
function coordName([x, y, z]: TileCoord): string {
  return `(${x}, ${y}, ${z})`;
}

function box([west, south, east, north]: Bbox, indent: string): string {
  return `${indent}<north>${pyFixed(north)}</north><south>${pyFixed(south)}</south>
${indent}<east>${pyFixed(east)}</east><west>${pyFixed(west)}</west>`;
}

/**
 * The document: a Region for the tile, then a NetworkLink (to the sub-tile's own
 * document, loaded once its region is 'tileSize / 2' pixels large) and a
 * GroundOverlay (the image, shown between tileSize / 2 and tileSize * 3 pixels,
 * drawn above coarser levels) per sub-tile.
 */
export function renderKmlDocument(p: KmlDocumentParams): string {
  const name = xmlEscape(p.name);
  // MapProxy prints tile_size / 2 (a float in Python 3) with %d
  const minLod = Math.trunc(p.tileSize / 2);
  const maxLod = Math.trunc(p.tileSize * 3);
  const out: string[] = [];
  out.push(`<?xml version="1.0"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
  <Document>
    <name>${name}</name>
    <Region>
      <LatLonAltBox>
${box(p.bbox, '        ')}
      </LatLonAltBox>
    </Region>
    `);
  const href = (c: TileCoord, ext: string) => xmlEscape(`${p.baseHref}/${c[2]}/${c[0]}/${c[1]}.${ext}`);
  for (const t of p.subtiles) {
    out.push(`<NetworkLink>
      <name>${name} - ${coordName(t.coord)}</name>
      <Region>
        <LatLonAltBox>
${box(t.bbox, '          ')}
        </LatLonAltBox>
        <Lod>
          <minLodPixels>${minLod}</minLodPixels>
          <maxLodPixels>-1</maxLodPixels>
        </Lod>
      </Region>
      <Link>
        <href>${href(t.coord, 'kml')}</href>
        <viewRefreshMode>onRegion</viewRefreshMode>
        <viewFormat/>
      </Link>
    </NetworkLink>
    `);
  }
  for (const t of p.subtiles) {
    out.push(`<GroundOverlay>
      <name>${coordName(t.coord)}</name>
      <Region>
        <LatLonAltBox>
${box(t.bbox, '          ')}
        </LatLonAltBox>
        <Lod>
          <minLodPixels>${minLod}</minLodPixels>
          <maxLodPixels>${maxLod}</maxLodPixels>
          <minFadeExtent>8</minFadeExtent>
          <maxFadeExtent>8</maxFadeExtent>
        </Lod>
      </Region>
      <drawOrder>${t.coord[2]}</drawOrder>
      <Icon>
        <href>${href(t.coord, p.format)}</href>
      </Icon>
      <LatLonBox>
${box(t.bbox, '        ')}
      </LatLonBox>
    </GroundOverlay>
    `);
  }
  out.push(`</Document>
</kml>
`);
  return out.join('');
}

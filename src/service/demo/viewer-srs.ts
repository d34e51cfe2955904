/** The SRS of a viewer as the browser's proj4 needs it. */
import { requiredGrids } from '../../srs/grids.ts';
import type { Srs } from '../../srs/srs.ts';
import type { ViewerProjection } from './viewer-config.ts';

/**
 * The projection block of a viewer config. A definition that needs a datum
 * grid gets our Helmert fallback (or loses the grid): the browser has no grid
 * files, and the viewer transforms only for display (mouse position, scale).
 */
export function viewerProjection(srs: Srs): ViewerProjection {
  let def = srs.fallbackDef ?? srs.proj4def;
  if (requiredGrids(def).length) def = def.replace(/\s*\+nadgrids=\S+/, '');
  return { code: srs.code, def, units: srs.isLatLong ? 'degrees' : 'm', axisNE: srs.axisOrderNE };
}

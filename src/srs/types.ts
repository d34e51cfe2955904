/** A bounding box `[minx, miny, maxx, maxy]`, always in east/north (x/y) order. */
export type Bbox = [number, number, number, number];

/** A coordinate `[x, y]` in east/north order (lon/lat for geographic SRS). */
export type Point = [number, number];

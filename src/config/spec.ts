/**
 * The mapproxy.yaml option spec, transcribed from MapProxy 7's
 * mapproxy/config/spec.py as data: which keys exist where and their types.
 * Additions over spec.py are marked; they are keys MapProxy reads but its
 * spec forgot (so they would only cause a spurious warning).
 */

/** A spec node; `required` marks a mapping key that must be present. */
export type Spec =
  | { kind: 'string'; required?: boolean }
  | { kind: 'number'; required?: boolean }
  | { kind: 'int'; required?: boolean }
  | { kind: 'bool'; required?: boolean }
  | { kind: 'anything'; required?: boolean }
  | { kind: 'list'; item: Spec; required?: boolean }
  | DictSpec
  | { kind: 'oneOf'; options: Spec[]; required?: boolean }
  | { kind: 'typed'; typeKey: string; variants: Record<string, DictSpec>; what: string; required?: boolean }
  | { kind: 'lazy'; get: () => Spec; required?: boolean };

/** A mapping with known keys and optionally a spec for any other key. */
export interface DictSpec {
  kind: 'dict';
  keys: Record<string, Spec>;
  anyKey?: Spec;
  required?: boolean;
}

export const str: Spec = { kind: 'string' };
export const num: Spec = { kind: 'number' };
export const int: Spec = { kind: 'int' };
export const bool: Spec = { kind: 'bool' };
export const anything: Spec = { kind: 'anything' };

/** A list whose items all follow `item`. */
export function list(item: Spec): Spec {
  return { kind: 'list', item };
}

/** A mapping with these keys (and, with `anyKey`, any other key following that spec). */
export function dict(keys: Record<string, Spec>, anyKey?: Spec): DictSpec {
  return { kind: 'dict', keys, anyKey };
}

/** A mapping whose keys are free names, each following `value`. */
export function mapOf(value: Spec): DictSpec {
  return { kind: 'dict', keys: {}, anyKey: value };
}

/** The first option whose type matches the value is used to validate it. */
export function oneOf(...options: Spec[]): Spec {
  return { kind: 'oneOf', options };
}

/** Marks a mapping key as required. */
export function req<S extends Spec>(spec: S): S {
  return { ...spec, required: true };
}

/** Mappings that pick their spec by a `type` key (sources, cache backends, inspire_md). */
export function typed(typeKey: string, what: string, variants: Record<string, DictSpec>): Spec {
  const withType: Record<string, DictSpec> = {};
  for (const [name, v] of Object.entries(variants)) withType[name] = combined(v, dict({ [typeKey]: str }));
  return { kind: 'typed', typeKey, variants: withType, what };
}

/** Union of mapping specs (later keys win), like spec.py's combined(). */
export function combined(...specs: DictSpec[]): DictSpec {
  const keys: Record<string, Spec> = {};
  let anyKey: Spec | undefined;
  for (const s of specs) {
    Object.assign(keys, s.keys);
    anyKey = s.anyKey ?? anyKey;
  }
  return { kind: 'dict', keys, anyKey };
}

/** Defers to a spec defined later, for recursive structures (layers, coverages). */
export function lazy(get: () => Spec): Spec {
  return { kind: 'lazy', get };
}

const timeSpec = dict({
  seconds: num,
  minutes: num,
  hours: num,
  days: num,
  weeks: num,
  time: anything,
  mtime: str,
});

/** Coverage definitions (sources, caches, seed tasks): recursive through union/difference/intersection. */
export const coverageSpec: DictSpec = dict({
  polygons: str,
  polygons_srs: str,
  bbox: oneOf(str, list(num)),
  bbox_srs: str,
  ogr_datasource: str,
  ogr_where: str,
  ogr_srs: str,
  datasource: oneOf(str, list(num)),
  where: str,
  srs: str,
  expire_tiles: str,
  union: list(lazy(() => coverageSpec)),
  difference: list(lazy(() => coverageSpec)),
  intersection: list(lazy(() => coverageSpec)),
  clip: bool,
});

const imageOpts = dict({
  mode: str,
  colors: num,
  transparent: bool,
  resampling_method: str,
  format: str,
  encoding_options: mapOf(anything),
  merge_method: str,
  opacity: num, // addition: documented for named formats (configuration.rst)
});

const httpOpts = dict({
  method: str,
  client_timeout: num,
  ssl_no_cert_checks: bool,
  ssl_ca_certs: str,
  hide_error_details: bool,
  headers: mapOf(str),
  manage_cookies: bool,
});

const mapserverOpts = dict({ binary: str, working_dir: str });

const scaleHints = dict({ max_scale: num, min_scale: num, max_res: num, min_res: num });

const sourceCommons = combined(scaleHints, dict({ concurrent_requests: int, coverage: coverageSpec, seed_only: bool }));

const cacheCommons = dict({ coverage: coverageSpec });
const permissions = dict({ directory_permissions: str, file_permissions: str });

const cacheTypes: Record<string, DictSpec> = {
  file: combined(cacheCommons, permissions, dict({ directory_layout: str, use_grid_names: bool, directory: str, tile_lock_dir: str })),
  sqlite: combined(
    cacheCommons,
    permissions,
    dict({ directory: str, sqlite_timeout: num, sqlite_wal: bool, tile_lock_dir: str, ttl: int }),
  ),
  mbtiles: combined(cacheCommons, permissions, dict({ filename: str, sqlite_timeout: num, sqlite_wal: bool, tile_lock_dir: str })),
  geopackage: combined(
    cacheCommons,
    permissions,
    dict({ filename: str, directory: str, tile_lock_dir: str, table_name: str, levels: bool }),
  ),
  couchdb: combined(cacheCommons, dict({ url: str, db_name: str, tile_metadata: mapOf(anything), tile_id: str, tile_lock_dir: str })),
  s3: combined(
    cacheCommons,
    dict({
      bucket_name: str,
      directory_layout: str,
      directory: str,
      profile_name: str,
      region_name: str,
      endpoint_url: str,
      access_control_list: str,
      tile_lock_dir: str,
      use_http_get: bool,
      include_grid_name: bool,
    }),
  ),
  redis: combined(
    cacheCommons,
    dict({
      host: str,
      port: int,
      db: int,
      prefix: str,
      default_ttl: int,
      password: str,
      username: str,
      ssl_certfile: str,
      ssl_keyfile: str,
      ssl_ca_certs: str,
    }),
  ),
  compact: combined(cacheCommons, permissions, dict({ directory: str, version: req(num), tile_lock_dir: str })),
  azureblob: combined(
    cacheCommons,
    dict({ connection_string: str, container_name: str, directory_layout: str, directory: str, tile_lock_dir: str }),
  ),
};

const onError = mapOf(dict({ response: req(oneOf(list(int), str)), cache: bool, authorize_stale: bool }));

const urlAndType = dict({ url: req(str), media_type: req(str) });
const mdDates = dict({ date_of_publication: str, date_of_creation: str, date_of_last_revision: str });

const inspireMd: Record<string, DictSpec> = {
  linked: dict({
    metadata_url: req(urlAndType),
    languages: req(dict({ default: req(str) })),
  }),
  embedded: dict({
    resource_locators: req(list(urlAndType)),
    temporal_reference: req(mdDates),
    conformities: req(
      list(
        combined(
          mdDates,
          dict({ title: str, uris: list(str), resource_locators: req(list(urlAndType)), degree: req(str) }),
        ),
      ),
    ),
    metadata_points_of_contact: req(list(dict({ organisation_name: str, email: str }))),
    mandatory_keywords: req(list(str)),
    keywords: list(
      combined(
        mdDates,
        dict({ title: req(str), uris: list(str), resource_locators: list(urlAndType), keyword_value: req(str) }),
      ),
    ),
    metadata_date: req(str),
    metadata_url: urlAndType,
    languages: req(dict({ default: req(str) })),
  }),
};

const keywordList = list(dict({ vocabulary: str, keywords: list(str) }));

const wms130LayerMd = dict({
  abstract: str,
  keyword_list: keywordList,
  attribution: dict({
    title: str,
    url: str,
    logo: dict({ url: str, width: int, height: int, format: str }),
  }),
  identifier: list(dict({ url: str, name: str, value: str })),
  metadata: list(dict({ url: str, type: str, format: str })),
  data: list(dict({ url: str, format: str })),
  feature_list: list(dict({ url: str, format: str })),
});

/** Options of one entry of `grids:`. */
export const gridSpec: DictSpec = dict({
  base: str,
  name: str,
  srs: str,
  bbox: oneOf(str, list(num)),
  bbox_srs: str,
  num_levels: int,
  res: list(num),
  res_factor: oneOf(num, str),
  max_res: num,
  min_res: num,
  stretch_factor: num,
  max_shrink_factor: num,
  align_resolutions_with: str,
  origin: str,
  tile_size: list(int),
  threshold_res: list(num),
});

const ogcServiceMd = dict({
  title: str,
  abstract: str,
  online_resource: str,
  contact: anything,
  fees: str,
  access_constraints: str,
  keyword_list: keywordList,
});

const bandSource = dict({ source: req(str), band: req(int), factor: num });
const bandSources = dict({
  r: list(bandSource),
  g: list(bandSource),
  b: list(bandSource),
  a: list(bandSource),
  l: list(bandSource),
});

/** stale_while_revalidate / stale_if_error in the long form. */
const staleWindowSpec: DictSpec = dict({ duration: req(oneOf(num, str)), levels: oneOf(list(int), dict({ from: int, to: int })), max_age: num });

/** Options of one entry of `caches:`. */
export const cacheSpec: DictSpec = dict({
  sources: req(oneOf(list(str), bandSources)),
  name: str,
  grids: list(str),
  cache_dir: str,
  meta_size: list(num),
  meta_buffer: num,
  bulk_meta_tiles: bool,
  minimize_meta_requests: bool,
  concurrent_tile_creators: int,
  disable_storage: bool,
  format: str,
  image: imageOpts,
  request_format: str,
  use_direct_from_level: num,
  use_direct_from_res: num,
  link_single_color_images: oneOf(bool, str),
  cache_rescaled_tiles: bool,
  upscale_tiles: int,
  downscale_tiles: int,
  refresh_before: timeSpec,
  watermark: dict({ text: str, font_size: num, color: oneOf(str, list(num)), opacity: num, spacing: str }),
  cache: typed('type', 'cache type', cacheTypes),
  // additions (background rendering): see src/render/render-options.ts
  stale_while_revalidate: oneOf(num, str, staleWindowSpec),
  stale_if_error: oneOf(num, str, staleWindowSpec),
  waiting_image: dict({ after: oneOf(num, str), color: oneOf(str, list(num)), file: str, cache_control: str }),
  prefetch: dict({ levels: int, max_queue: int }),
});

const wmsOpts = dict({
  version: str,
  map: bool,
  featureinfo: bool,
  legendgraphic: bool,
  legendurl: str,
  featureinfo_format: str,
  featureinfo_xslt: str,
  featureinfo_out_format: str,
  query_layers: str,
});

const sourceImage = combined(
  imageOpts,
  dict({ opacity: num, transparent_color: oneOf(str, list(num)), transparent_color_tolerance: num }),
);

/** Source types and their options (each also accepts `type`). */
export const sourceTypes: Record<string, DictSpec> = {
  wms: combined(
    sourceCommons,
    dict({
      wms_opts: wmsOpts,
      image: sourceImage,
      supported_formats: list(str),
      supported_srs: list(str),
      http: httpOpts,
      on_error: onError,
      forward_req_params: list(str),
      req: req(dict({ url: req(str) }, anything)),
    }),
  ),
  mapserver: combined(
    sourceCommons,
    dict({
      wms_opts: wmsOpts,
      image: sourceImage,
      supported_formats: list(str),
      supported_srs: list(str),
      forward_req_params: list(str),
      req: req(dict({ map: req(str) }, anything)),
      mapserver: mapserverOpts,
    }),
  ),
  tile: combined(
    sourceCommons,
    dict({
      url: req(str),
      transparent: bool,
      image: imageOpts,
      grid: str,
      request_format: str,
      origin: str,
      http: httpOpts,
      on_error: onError,
    }),
  ),
  mapnik: combined(
    sourceCommons,
    dict({
      mapfile: req(str),
      transparent: bool,
      image: imageOpts,
      layers: oneOf(str, list(str)),
      use_mapnik2: bool,
      scale_factor: num,
      multithreaded: bool,
    }),
  ),
  arcgis: combined(
    sourceCommons,
    dict({
      req: req(dict({ url: req(str), dpi: int, layers: str, transparent: bool, time: str }, anything)),
      opts: dict({ featureinfo: bool, featureinfo_tolerance: num, featureinfo_return_geometries: bool, map: bool }),
      supported_srs: list(str),
      http: httpOpts,
      on_error: onError,
    }),
  ),
  debug: dict({}),
  ogcapitiles: combined(
    sourceCommons,
    dict({ landingpage_url: req(str), collection: str, tile_matrix_set_id: str, image: imageOpts }),
  ),
  ogcapimaps: combined(
    sourceCommons,
    dict({
      landingpage_url: req(str),
      collection: str,
      supported_srs: list(str),
      transparent: bool,
      image: combined(imageOpts, dict({ transparent_color: oneOf(str, list(num)), transparent_color_tolerance: num })),
      bgcolor: oneOf(str, list(num)),
    }),
  ),
};

/** One layer of the (recursive) layer tree. */
export const layerSpec: DictSpec = combined(
  scaleHints,
  dict({
    sources: list(str),
    tile_sources: list(str),
    name: str,
    title: req(str),
    legendurl: str,
    wmts_rest_legendurl: str,
    wmts_kvp_legendurl: str,
    layers: list(lazy(() => layerSpec)),
    md: wms130LayerMd,
    dimensions: mapOf(dict({ values: req(list(oneOf(str, num))), default: oneOf(str, num) })),
    nominal_res: num,
    nominal_scale: num,
  }),
);

const servicesSpec = dict({
  // addition: the seeding API of `mapproxy serve` (src/service/admin)
  admin: dict({
    token: str,
    token_file: str,
    jobs_dir: str,
    max_jobs: int,
    reseed: list(dict({ seed_conf: req(str), seeds: list(str), cleanups: list(str), interval: req(oneOf(num, str)), concurrency: int })),
  }),
  demo: dict({}),
  kml: dict({ use_grid_names: bool }),
  tms: dict({ use_grid_names: bool, origin: str }),
  wmts: dict({
    kvp: bool,
    restful: bool,
    restful_template: str,
    restful_featureinfo_template: str,
    md: ogcServiceMd,
    featureinfo_formats: list(dict({ mimetype: req(str), suffix: str })),
  }),
  wms: dict({
    srs: list(str),
    bbox_srs: list(oneOf(str, dict({ bbox: list(num), srs: str }))),
    image_formats: list(str),
    attribution: dict({ text: str }),
    featureinfo_types: list(str),
    featureinfo_xslt: mapOf(str),
    on_source_errors: str,
    max_output_pixels: oneOf(num, list(num)),
    strict: bool,
    md: ogcServiceMd,
    inspire_md: typed('type', 'inspire_md type', inspireMd),
    versions: list(str),
    concurrent_layer_renderer: int, // addition: read by MapProxy, missing in spec.py
  }),
  ogcapi: dict({
    enable_tiles: bool,
    enable_maps: bool,
    map_srs: list(str),
    attribution: dict({ text: str }),
    on_source_errors: str,
    max_output_pixels: oneOf(num, list(num)),
    image_formats: list(str),
    concurrent_layer_renderer: num,
    md: dict({
      identification: dict({ title: str, description: str, url: str, terms_of_service: str, keywords: anything }),
      contact: dict({
        name: str,
        email: str,
        address: str,
        city: str,
        stateorprovince: str,
        postalcode: str,
        country: str,
        phone: str,
        fax: str,
        url: str,
        instructions: str,
      }),
      license: dict({ name: req(str), url: str }),
      provider: dict({ name: str, url: str }),
    }),
    default_dataset_layers: list(str),
  }),
});

const globalsSpec = dict({
  image: dict({
    resampling_method: str,
    paletted: bool,
    stretch_factor: num,
    max_shrink_factor: num,
    jpeg_quality: num,
    formats: mapOf(imageOpts),
    font_dir: str,
    merge_method: str,
  }),
  http: combined(
    httpOpts,
    dict({
      access_control_allow_origin: oneOf(str, dict({})),
      concurrent_requests: int, // addition: read by MapProxy, missing in spec.py
    }),
  ),
  cache: dict({
    base_dir: str,
    lock_dir: str,
    tile_lock_dir: str,
    meta_size: list(num),
    meta_buffer: num,
    bulk_meta_tiles: bool,
    max_tile_limit: num,
    minimize_meta_requests: bool,
    concurrent_tile_creators: int,
    link_single_color_images: oneOf(bool, str),
    directory_permissions: str,
    file_permissions: str,
    sqlite_timeout: num, // addition (undocumented, read by MapProxy)
    sqlite_wal: bool, // addition (undocumented, read by MapProxy)
    s3: dict({
      bucket_name: str,
      profile_name: str,
      region_name: str,
      endpoint_url: str,
      access_control_list: str, // additions: documented in caches.rst
      use_http_get: bool,
      include_grid_name: bool,
    }),
    azureblob: dict({ connection_string: str, container_name: str }),
  }),
  grid: dict({ tile_size: list(int) }),
  srs: dict({
    axis_order_ne: list(str),
    axis_order_en: list(str),
    proj_data_dir: str,
    preferred_src_proj: mapOf(list(str)),
  }),
  tiles: dict({ expires_hours: num }),
  mapserver: mapserverOpts,
  renderd: dict({ address: str }),
  // addition: the render queue (src/render/queue.ts)
  render: dict({ concurrency: int, max_seed_share: num, keep_free: int, max_prefetch: int }),
  background: dict({ url: str }), // addition: used by the demo service, missing in spec.py
});

/** The whole mapproxy.yaml (after base merging and legacy layer conversion). */
export const mapproxySpec: DictSpec = dict({
  globals: globalsSpec,
  grids: mapOf(gridSpec),
  caches: mapOf(cacheSpec),
  services: servicesSpec,
  sources: mapOf(typed('type', 'source type', sourceTypes)),
  layers: list(layerSpec),
  parts: anything, // holds YAML anchors, never validated
  base: oneOf(str, list(str)), // removed by the loader; kept so a stray one is not "unknown"
});

/** Source types whose names may carry layer tags (`src:lyr1,lyr2`). */
export const TAGGED_SOURCE_TYPES: readonly string[] = ['wms', 'mapserver', 'mapnik'];

const seedLevels = oneOf(list(int), dict({ from: int, to: int }));
const seedResolutions = oneOf(list(num), dict({ from: num, to: num }));
const seedTaskCommons = dict({
  caches: req(list(str)),
  grids: list(str),
  coverages: list(str),
  levels: seedLevels,
  resolutions: seedResolutions,
});

/** seed.yaml as mapproxy-seed reads it (mapproxy/seed/spec.py). */
export const seedSpec: DictSpec = dict({
  coverages: mapOf(coverageSpec),
  seeds: mapOf(combined(seedTaskCommons, dict({ refresh_before: timeSpec }))),
  cleanups: mapOf(combined(seedTaskCommons, dict({ remove_before: timeSpec, remove_all: bool }))),
});

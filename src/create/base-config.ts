/**
 * The files of `mapproxy create -t base-config`: a minimal mapproxy.yaml with
 * its seed.yaml, and a full_example.yaml with its full_seed_example.yaml
 * showing the options mapproxy-ts implements. Kept as strings so the single
 * executable needs no template files on disk.
 */

/** A small configuration: one WMS source behind a file cache, served as TMS, /tiles and WMS. */
export const MAPPROXY_YAML = `# mapproxy.yaml, written by \`mapproxy create -t base-config\`.
#
# The smallest useful setup: one upstream WMS, cached as tiles, published as
# TMS, as XYZ tiles and as a WMS. full_example.yaml next to this file shows
# many more options; seed.yaml lists what to pre-render for this file.
#
# Try it:  mapproxy serve-develop mapproxy.yaml
#   TMS capabilities  http://localhost:8080/tms/1.0.0/
#   a TMS tile        http://localhost:8080/tms/1.0.0/osm/webmercator/0/0/0.png
#   an XYZ tile       http://localhost:8080/tiles/osm/webmercator/1/0/0.png
#   WMS capabilities  http://localhost:8080/service?SERVICE=WMS&REQUEST=GetCapabilities

services:
  tms:
    # URLs name the grid (webmercator) rather than its SRS code
    use_grid_names: true
    # /tiles counts rows from the top like OSM and most web maps;
    # /tms keeps the bottom-up rows the TMS specification asks for
    origin: 'nw'
  wms:
    srs: ['EPSG:3857', 'EPSG:4326', 'EPSG:25832']
    md:
      title: MapProxy WMS
      abstract: A minimal mapproxy-ts configuration.

layers:
  - name: osm
    title: OpenStreetMap (Omniscale demo WMS)
    sources: [osm_cache]

caches:
  osm_cache:
    grids: [webmercator]
    sources: [osm_wms]

sources:
  osm_wms:
    type: wms
    req:
      # a public demo service for trying MapProxy out: replace it with your own WMS
      url: https://maps.omniscale.net/v2/demo/style.default/service?
      layers: osm

grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR

globals:
  cache:
    # relative to this file
    base_dir: ./cache_data
`;

/** What to pre-render and clean up for mapproxy.yaml, in MapProxy's seed.yaml format. */
export const SEED_YAML = `# seed.yaml for mapproxy.yaml, written by \`mapproxy create -t base-config\`.
#
# MapProxy's seeding format: \`seeds\` pre-render tiles, \`cleanups\` remove
# old ones, \`coverages\` limit both to an area. Caches and grids are the
# names used in mapproxy.yaml. full_seed_example.yaml shows more options.

seeds:
  # the whole world down to level 8: about 87,000 tiles
  world_overview:
    caches: [osm_cache]
    levels:
      to: 8

  # more detail for one country; tiles older than 30 days are rendered again
  germany_detail:
    caches: [osm_cache]
    coverages: [germany]
    levels:
      from: 9
      to: 12
    refresh_before:
      days: 30

cleanups:
  # nobody seeds beyond level 12, so these tiles came from browsing: drop them after two weeks
  browsing_leftovers:
    caches: [osm_cache]
    levels:
      from: 13
    remove_before:
      days: 14

coverages:
  germany:
    bbox: [5.8, 47.2, 15.1, 55.1]
    srs: 'EPSG:4326'
`;

/** Most options mapproxy-ts implements, in combinations that make sense; builds, but its upstreams are examples. */
export const FULL_EXAMPLE_YAML = `# full_example.yaml, written by \`mapproxy create -t base-config\`.
#
# A reference, not a setup to run: it loads, but most upstream URLs below are
# placeholders. It shows the options mapproxy-ts implements, each with a
# comment on what it is for. mapproxy.yaml is the small file to start from.

services:
  tms:
    # name grids in URLs (/tms/1.0.0/osm/webmercator/...) instead of SRS codes
    use_grid_names: true
    # rows counted from the top in /tiles (web-map order); /tms stays bottom-up
    origin: 'nw'

  wms:
    # WMS versions offered; clients negotiate among them
    versions: ['1.1.1', '1.3.0']
    # the SRS clients may request; tiles are reprojected on the fly
    srs: ['EPSG:3857', 'EPSG:4326', 'EPSG:25832', 'EPSG:31467']
    # layer extents in the capabilities are given in these SRS
    bbox_srs:
      - 'EPSG:4326'
      - 'EPSG:3857'
      - srs: 'EPSG:25832'
        bbox: [280000, 5200000, 920000, 6110000]
    image_formats: ['image/png', 'image/jpeg', 'image/gif']
    # text drawn into the lower right corner of every GetMap answer
    attribution:
      text: '(c) OpenStreetMap contributors'
    # an upstream that fails makes the whole request fail (notify: leave it blank)
    on_source_errors: raise
    # refuse GetMap requests larger than this many pixels (width x height)
    max_output_pixels: [4000, 4000]
    # reject feature info requests that miss parameters instead of guessing
    strict: true
    featureinfo_types: ['text', 'html', 'xml', 'json']
    md:
      title: MapProxy WMS
      abstract: The full mapproxy-ts example configuration.
      online_resource: https://maps.example.org/mapproxy/
      contact:
        person: Jane Doe
        position: GIS operations
        organization: Example Org
        address: Example Street 1
        city: Example City
        postcode: 12345
        country: Germany
        phone: +49 000 000000
        email: maps@example.org
      # a longer text continues on indented lines
      access_constraints:
        Map data (c) OpenStreetMap contributors, ODbL.
      fees: 'none'
      keyword_list:
        - vocabulary: GEMET
          keywords: [topography, roads]

layers:
  # the minimum: a name, a title and where the images come from
  - name: osm
    title: OpenStreetMap
    sources: [osm_cache]

  # several sources are drawn bottom to top
  - name: osm_with_roads
    title: OpenStreetMap with road overlay
    sources: [osm_cache, roads_cache]

  # GetLegendGraphic is answered from the source's own legend
  - name: land_use
    title: Land use (legend from the source)
    sources: [legend_wms]

  # a fixed legend image replaces the sources' legends
  - name: land_use_static_legend
    title: Land use (static legend)
    legendurl: https://maps.example.org/legends/land_use.png
    sources: [legend_wms]

  # extended metadata for WMS 1.3.0 capabilities
  - name: osm_described
    title: OpenStreetMap with metadata
    sources: [osm_cache]
    md:
      abstract: OpenStreetMap rendered by the example WMS.
      keyword_list:
        - vocabulary: ISO 19115 topic category
          keywords: [imageryBaseMapsEarthCover]
      attribution:
        title: OpenStreetMap contributors
        url: https://www.openstreetmap.org/copyright
      identifier:
        - url: https://maps.example.org/
          name: EXAMPLE
          value: osm-1
      metadata:
        - url: https://maps.example.org/metadata/osm.xml
          type: ISO19115:2003
          format: text/xml

  # outside this resolution range (m/px) the layer stays blank
  - name: osm_detail_only
    title: OpenStreetMap, close zoom only
    min_res: 100
    max_res: 0.5
    sources: [osm_cache]

  # groups: a layer without name and sources only structures the tree;
  # a named group (roads) can be requested and draws all its children
  - title: Infrastructure
    layers:
      - name: roads
        title: Roads and railways
        layers:
          - name: motorways
            title: Motorways
            sources: ['roads_wms:motorways']
          - name: railways
            title: Railways
            sources: ['roads_wms:railways']
      # several layers of one WMS in one request ("tagged" source)
      - name: buildings_and_parcels
        title: Buildings and parcels
        sources: ['roads_wms:buildings,parcels']

  # a cache in UTM zone 32 filled from the web-mercator tiles of another cache
  - name: osm_utm32
    title: OpenStreetMap in UTM 32N
    sources: [osm_utm32_cache]

  # tiles with transparency stored as PNG, fully opaque tiles as JPEG
  - name: aerial_mixed
    title: Aerial imagery (PNG/JPEG mixed)
    sources: [aerial_mixed_cache]

  # map from the cache, GetFeatureInfo from a WMS that only answers queries
  - name: parcels
    title: Parcels (with feature info)
    sources: [osm_cache, parcel_info]

  # tile boundaries and numbers, rendered locally: checks grids without any upstream
  - name: debug
    title: Tile grid (debug)
    sources: [debug_cache]

caches:
  # the same source cached in two grids (and two projections)
  osm_cache:
    grids: [webmercator, geodetic_sqrt2]
    sources: [osm_wms]

  roads_cache:
    # one upstream request for 4x4 tiles, 80 extra pixels on each side so
    # labels at tile edges are not cut off
    meta_size: [4, 4]
    meta_buffer: 80
    # tiles are stored as PNG, the source is asked for PNG too
    format: image/png
    request_format: image/png
    # a tile of one colour (empty sea) is stored once and linked
    link_single_color_images: true
    # at most two upstream requests for this cache at a time
    concurrent_tile_creators: 2
    # levels 17 and up are not cached but requested from the source directly
    use_direct_from_level: 17
    # tiles older than a week are rendered again when requested
    refresh_before:
      weeks: 1
    grids: [webmercator]
    sources: ['roads_wms:motorways,railways']
    watermark:
      text: 'example.org'
      font_size: 14
      opacity: 40
      color: [255, 255, 255]

  aerial_mixed_cache:
    format: mixed
    request_format: image/png
    grids: [webmercator]
    sources: [aerial_tiles]
    # the tiles on disk follow the TMS layout (z/x/y.png), so other tools can read them
    cache:
      type: file
      directory_layout: tms

  # reprojection: osm_utm32_cache takes its images from osm_tiles_in,
  # which is filled from a tile server but never stored
  osm_utm32_cache:
    grids: [utm32n]
    meta_size: [4, 4]
    sources: [osm_tiles_in]
  osm_tiles_in:
    grids: [osm_grid]
    disable_storage: true
    sources: [osm_tiles]

  # an existing tile directory used as it is (no cache or grid name added)
  imported_cache:
    grids: [webmercator]
    sources: []
    format: custom_png
    cache:
      type: file
      directory: ./imported_tiles/
      directory_layout: tms

  # tiles of missing levels are made by scaling tiles of up to two levels below
  aerial_upscaled:
    grids: [webmercator]
    sources: [aerial_tiles]
    upscale_tiles: 2
    # a different directory than globals.cache.base_dir
    cache_dir: ./cache_aerial

  debug_cache:
    grids: [webmercator, geodetic_sqrt2, utm32n]
    sources: [debug]
    disable_storage: true

sources:
  # the minimum for a WMS source
  osm_wms:
    type: wms
    req:
      url: https://maps.omniscale.net/v2/demo/style.default/service?
      layers: osm

  # a WMS with several layers, used as tagged source ('roads_wms:motorways');
  # the listed layers are all that may be tagged
  roads_wms:
    type: wms
    # this WMS only does these SRS: other requests are reprojected from them
    supported_srs: ['EPSG:3857', 'EPSG:25832']
    supported_formats: ['image/png']
    # at most four requests at a time to this server
    concurrent_requests: 4
    wms_opts:
      version: '1.3.0'
    http:
      # seconds to wait for an answer
      client_timeout: 30
      headers:
        Referer: https://maps.example.org/
    req:
      url: https://wms.example.org/roads?
      layers: motorways,railways,buildings,parcels
      transparent: true
      # any other parameter is passed on as it is
      styles: ''

  # a source that answers GetLegendGraphic
  legend_wms:
    type: wms
    wms_opts:
      legendgraphic: true
    req:
      url: https://wms.example.org/landuse?
      layers: landuse

  # feature info only: never asked for map images
  parcel_info:
    type: wms
    wms_opts:
      map: false
      featureinfo: true
      featureinfo_format: text/html
    req:
      url: https://wms.example.org/parcels?
      layers: parcels

  # a WMS behind HTTP basic authentication; the password never shows up in logs
  protected_wms:
    type: wms
    req:
      url: https://user:secret@wms.example.org/protected?
      layers: base
    # only this area is requested, the rest stays transparent
    coverage:
      bbox: [5.8, 47.2, 15.1, 55.1]
      srs: 'EPSG:4326'
    # and only at these scales
    min_scale: 1000
    max_scale: 5000000

  # a tile server (XYZ); %(z)s %(x)s %(y)s, %(tms_path)s, %(quadkey)s and %(bbox)s can be used
  osm_tiles:
    type: tile
    grid: osm_grid
    url: https://tiles.example.org/osm/%(z)s/%(x)s/%(y)s.png
    http:
      headers:
        User-Agent: 'mapproxy-ts (maps@example.org)'

  aerial_tiles:
    type: tile
    grid: webmercator
    url: https://tiles.example.org/aerial/%(tms_path)s.jpeg
    # a tile the server does not have is an empty (transparent) tile, and cached as such
    on_error:
      404:
        response: transparent
        cache: true

  # draws the tile grid: no upstream needed
  debug:
    type: debug

grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR

  # the geodetic grid with twice as many levels (resolutions a factor sqrt(2) apart)
  geodetic_sqrt2:
    base: GLOBAL_GEODETIC
    res_factor: 'sqrt2'

  # UTM zone 32 over Germany; the bbox is given in WGS 84 and transformed
  utm32n:
    srs: 'EPSG:25832'
    bbox: [5.5, 47, 15.5, 55.5]
    bbox_srs: 'EPSG:4326'
    origin: 'nw'
    # resolution of level 0 (m/px) and number of levels
    min_res: 4000
    num_levels: 14

  # the grid of a typical XYZ tile server
  osm_grid:
    base: GLOBAL_WEBMERCATOR
    origin: 'nw'

  # fixed resolutions, e.g. from scales: \`mapproxy grids\` prints what they give
  gk3_scales:
    srs: 'EPSG:31467'
    bbox: [3280000, 5230000, 3940000, 6110000]
    tile_size: [512, 512]
    res: [1000, 500, 250, 100, 50, 25, 10, 5, 2.5, 1]

globals:
  cache:
    # where tiles go (relative to this file)
    base_dir: ./cache_data
    # lock files: keep them on a local disk even when base_dir is on NFS
    lock_dir: ./cache_data/locks
    tile_lock_dir: ./cache_data/tile_locks
    # defaults for all caches
    meta_size: [4, 4]
    meta_buffer: 80

  image:
    # bicubic suits aerial imagery, nearest keeps thin lines crisp
    resampling_method: bicubic
    # use the next level's tiles scaled down by up to 15% before the level above
    stretch_factor: 1.15
    # show tiles of the first level shrunk up to 4 times before answering blank
    max_shrink_factor: 4.0
    # 24-bit PNG instead of 8-bit paletted PNG tiles
    paletted: false
    formats:
      # a named format to use in a cache's \`format\`
      custom_png:
        format: image/png
        mode: P
        colors: 64
        transparent: true
      # change a built-in format
      image/jpeg:
        encoding_options:
          jpeg_quality: 80

  http:
    client_timeout: 60
    # send upstreams this header (a source's own http.headers override it)
    headers:
      User-Agent: 'mapproxy-ts'
    # Access-Control-Allow-Origin on every answer
    access_control_allow_origin: '*'

  tiles:
    # browsers and proxies may keep tiles for a day
    expires_hours: 24
`;

/** Seeding examples for full_example.yaml. */
export const FULL_SEED_EXAMPLE_YAML = `# full_seed_example.yaml for full_example.yaml, written by \`mapproxy create -t base-config\`.
#
# MapProxy's seeding format with its options. Every cache, grid and coverage
# named here exists in full_example.yaml or further down in this file.

seeds:
  # all grids of a cache, from level 0 to 10
  osm_overview:
    caches: [osm_cache]
    levels:
      to: 10

  # two caches, only their webmercator grid, only over Germany
  germany:
    caches: [osm_cache, roads_cache]
    grids: [webmercator]
    coverages: [germany]
    levels:
      from: 6
      to: 14
    refresh_before:
      # render tiles again that are older than this date
      time: 2025-01-01T00:00:00

  # a list of single levels; refresh tiles older than the file reseed.time
  # (\`touch reseed.time\` after the upstream data changed)
  cities:
    caches: [roads_cache]
    coverages: [berlin, munich]
    levels: [15, 16]
    refresh_before:
      mtime: ./reseed.time

  # the UTM cache, in two areas at once
  utm_north_and_south:
    caches: [osm_utm32_cache]
    coverages: [north_and_south]
    levels:
      to: 8

cleanups:
  # tiles from browsing at close zoom, older than 30 days
  old_detail:
    caches: [osm_cache]
    levels:
      from: 15
    remove_before:
      days: 30

  # whole levels, whatever their age
  drop_levels:
    caches: [roads_cache]
    grids: [webmercator]
    remove_all: true
    levels: [18, 19, 20]

  # one area after the data changed there; cleanups with coverages check
  # every tile of the area, so keep areas and levels small
  changed_area:
    caches: [osm_cache, roads_cache]
    coverages: [munich]
    levels:
      from: 12
      to: 16
    remove_before:
      hours: 1

coverages:
  germany:
    bbox: [5.8, 47.2, 15.1, 55.1]
    srs: 'EPSG:4326'
  berlin:
    bbox: [13.08, 52.33, 13.77, 52.68]
    srs: 'EPSG:4326'
  munich:
    # any SRS works; this one is UTM 32N
    bbox: [674000, 5317000, 706000, 5352000]
    srs: 'EPSG:25832'
  north_and_south:
    union:
      - bbox: [8.0, 53.3, 10.5, 54.9]
        srs: 'EPSG:4326'
      - bbox: [9.5, 47.3, 13.0, 48.6]
        srs: 'EPSG:4326'
`;

/** The base-config files in the order they are written. */
export const BASE_CONFIG_FILES: readonly { name: string; text: string }[] = [
  { name: 'mapproxy.yaml', text: MAPPROXY_YAML },
  { name: 'seed.yaml', text: SEED_YAML },
  { name: 'full_example.yaml', text: FULL_EXAMPLE_YAML },
  { name: 'full_seed_example.yaml', text: FULL_SEED_EXAMPLE_YAML },
];

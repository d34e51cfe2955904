import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCreate, type CreateOptions } from '../../src/create/create.ts';
import { TEMPLATES } from '../../src/create/templates.ts';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy, type Proxy } from '../../src/core/build-proxy.ts';
import { getSrs } from '../../src/srs/srs.ts';
import { resetLogging, setLogSink, type LogRecord } from '../../src/log/logger.ts';

const root = path.resolve(import.meta.dir, '../..');
const cli = path.join(root, 'cli', 'main.ts');

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-create-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** runCreate with captured output. */
function create(o: CreateOptions): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runCreate(o, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** Load and build a config, collecting what buildProxy logs. */
function build(file: string): { proxy: Proxy; logged: LogRecord[] } {
  const logged: LogRecord[] = [];
  const old = setLogSink((r) => logged.push(r));
  try {
    return { proxy: buildProxy(loadConfig(file)), logged };
  } finally {
    setLogSink(old);
  }
}

type Dict = Record<string, any>;

// MapProxy's seed.yaml spec (mapproxy/seed/spec.py)
const SEED_TASK_KEYS = ['caches', 'grids', 'coverages', 'levels', 'resolutions', 'refresh_before'];
const CLEANUP_KEYS = ['caches', 'grids', 'coverages', 'levels', 'resolutions', 'remove_before', 'remove_all'];
const TIME_KEYS = ['seconds', 'minutes', 'hours', 'days', 'weeks', 'time', 'mtime'];

/** Problems of a seed file against its mapproxy.yaml: unknown keys and references that do not resolve. */
function seedProblems(seed: Dict, proxy: Proxy): string[] {
  const problems: string[] = [];
  const coverages: Dict = seed.coverages ?? {};
  for (const k of Object.keys(seed)) if (!['seeds', 'cleanups', 'coverages'].includes(k)) problems.push(`unknown top-level key ${k}`);
  const checkCoverage = (name: string, c: Dict) => {
    if (c.union || c.difference || c.intersection) {
      for (const part of c.union ?? c.difference ?? c.intersection) checkCoverage(name, part);
      return;
    }
    if (!Array.isArray(c.bbox) || c.bbox.length !== 4 || !c.bbox.every((v: unknown) => typeof v === 'number')) problems.push(`coverage ${name}: no bbox of four numbers`);
    else if (!(c.bbox[0] < c.bbox[2] && c.bbox[1] < c.bbox[3])) problems.push(`coverage ${name}: bbox min above max`);
    try {
      getSrs(c.srs);
    } catch {
      problems.push(`coverage ${name}: unknown srs ${c.srs}`);
    }
  };
  for (const [name, c] of Object.entries(coverages)) checkCoverage(name, c as Dict);
  const checkTask = (kind: string, name: string, t: Dict, keys: string[], timeKey: string) => {
    for (const k of Object.keys(t)) if (!keys.includes(k)) problems.push(`${kind} ${name}: unknown key ${k}`);
    if (!Array.isArray(t.caches) || !t.caches.length) problems.push(`${kind} ${name}: no caches`);
    for (const c of t.caches ?? []) {
      const grids = proxy.caches.get(c);
      if (!grids) {
        problems.push(`${kind} ${name}: unknown cache ${c}`);
        continue;
      }
      for (const g of t.grids ?? []) if (!grids.has(g)) problems.push(`${kind} ${name}: cache ${c} has no grid ${g}`);
    }
    for (const cov of t.coverages ?? []) if (!(cov in coverages)) problems.push(`${kind} ${name}: unknown coverage ${cov}`);
    const l = t.levels;
    if (l !== undefined) {
      const ok = Array.isArray(l) ? l.every((v) => Number.isInteger(v)) : Object.keys(l).every((k) => ['from', 'to'].includes(k) && Number.isInteger(l[k]));
      if (!ok) problems.push(`${kind} ${name}: levels must be a list of integers or from/to`);
    }
    const time = t[timeKey];
    if (time !== undefined) for (const k of Object.keys(time)) if (!TIME_KEYS.includes(k)) problems.push(`${kind} ${name}: unknown ${timeKey}.${k}`);
  };
  for (const [name, t] of Object.entries(seed.seeds ?? {})) checkTask('seed', name, t as Dict, SEED_TASK_KEYS, 'refresh_before');
  for (const [name, t] of Object.entries(seed.cleanups ?? {})) checkTask('cleanup', name, t as Dict, CLEANUP_KEYS, 'remove_before');
  return problems;
}

describe('mapproxy create -t base-config', () => {
  it('writes four files; both configs load and build without errors or warnings', () => {
    const dir = path.join(tmpDir(), 'etc');
    const r = create({ template: 'base-config', dest: dir });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['full_example.yaml', 'full_seed_example.yaml', 'mapproxy.yaml', 'seed.yaml']);
    for (const name of ['mapproxy.yaml', 'full_example.yaml']) {
      const { proxy, logged } = build(path.join(dir, name));
      assert.deepEqual(proxy.config.warnings.map(String), [], `${name}: config warnings`);
      assert.deepEqual(proxy.unsupported, [], `${name}: unsupported features`);
      assert.deepEqual(logged.filter((l) => l.level !== 'debug' && l.level !== 'info'), [], `${name}: logged problems`);
      assert.ok(proxy.services.tms && proxy.services.wms, `${name}: tms and wms on`);
    }
    const full = build(path.join(dir, 'full_example.yaml')).proxy;
    assert.ok(full.caches.size >= 7 && full.sources.size >= 8, 'the full example shows many caches and sources');
  });

  it('seed files use MapProxy\'s seed format and refer to caches, grids and coverages that exist', () => {
    const dir = tmpDir();
    assert.equal(create({ template: 'base-config', dest: dir }).code, 0);
    for (const [seedFile, confFile] of [['seed.yaml', 'mapproxy.yaml'], ['full_seed_example.yaml', 'full_example.yaml']]) {
      const seed = parseYaml(fs.readFileSync(path.join(dir, seedFile), 'utf8')) as Dict;
      assert.ok(Object.keys(seed.seeds ?? {}).length && Object.keys(seed.cleanups ?? {}).length, `${seedFile} has seeds and cleanups`);
      assert.deepEqual(seedProblems(seed, build(path.join(dir, confFile)).proxy), [], seedFile);
    }
  });

  it('the seed check finds wrong references', () => {
    const dir = tmpDir();
    assert.equal(create({ template: 'base-config', dest: dir }).code, 0);
    const { proxy } = build(path.join(dir, 'mapproxy.yaml'));
    const bad = { seeds: { s: { caches: ['nope'], coverages: ['x'], levls: 3 } }, cleanups: { c: { caches: ['osm_cache'], grids: ['utm'] } } };
    assert.deepEqual(seedProblems(bad, proxy), ['seed s: unknown key levls', 'seed s: unknown cache nope', 'seed s: unknown coverage x', 'cleanup c: cache osm_cache has no grid utm']);
  });
});

describe('mapproxy create: existing files, templates, options', () => {
  it('never touches an existing file without --force (and writes none of the set)', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'seed.yaml'), 'mine\n');
    const r = create({ template: 'base-config', dest: dir });
    assert.equal(r.code, 1);
    assert.equal(r.err, `error: ${path.join(dir, 'seed.yaml')} already exists, use --force to overwrite\n`);
    assert.deepEqual(fs.readdirSync(dir), ['seed.yaml']);
    assert.equal(fs.readFileSync(path.join(dir, 'seed.yaml'), 'utf8'), 'mine\n');

    const f = create({ template: 'base-config', dest: dir, force: true });
    assert.equal(f.code, 0, f.err);
    assert.match(fs.readFileSync(path.join(dir, 'seed.yaml'), 'utf8'), /^# seed\.yaml for mapproxy\.yaml/);
    assert.match(f.out, /writing .*seed\.yaml/);
  });

  it('single-file templates: default names, directories as DEST, --force, and - for stdout', () => {
    const dir = tmpDir();
    const ini = path.join(dir, 'log.ini');
    fs.writeFileSync(ini, 'keep');
    const r = create({ template: 'log-ini', dest: dir });
    assert.equal(r.code, 1);
    assert.match(r.err, /log\.ini already exists, use --force/);
    assert.equal(fs.readFileSync(ini, 'utf8'), 'keep');
    assert.equal(create({ template: 'log-ini', dest: ini, force: true }).code, 0);
    assert.match(fs.readFileSync(ini, 'utf8'), /^\[loggers\]$/m);

    const s = create({ template: 'systemd', dest: '-' });
    assert.equal(s.code, 0);
    assert.match(s.out, /^\[Service\]$/m);
    assert.equal(create({ template: 'base-config', dest: '-' }).code, 2);

    const n = create({ template: 'nginx', dest: `${dir}/` });
    assert.equal(n.code, 0, n.err);
    assert.ok(fs.existsSync(path.join(dir, 'mapproxy-nginx.conf')));
  });

  it('lists the templates; an unknown one is an error that lists them', () => {
    const l = create({ listTemplates: true });
    assert.equal(l.code, 0);
    for (const t of ['base-config', 'wsgi-app', 'log-ini', 'systemd', 'nginx', 'caddy']) assert.match(l.out, new RegExp(`^  ${t} `, 'm'));
    assert.equal(TEMPLATES.length, 6);
    const u = create({ template: 'apache' });
    assert.equal(u.code, 2);
    assert.equal(u.err, "error: unknown template 'apache' (templates: base-config, wsgi-app, log-ini, systemd, nginx, caddy)\n");
    assert.equal(create({}).code, 2);
  });

  it('refuses options the template does not read, and bad values', () => {
    const e = create({ template: 'nginx', dest: '-', workers: '4' });
    assert.equal(e.code, 2);
    assert.equal(e.err, 'error: --workers is not used by template nginx (it reads --upstream, --path, --server-name)\n');
    assert.match(create({ template: 'wsgi-app', dest: '-' }).err, /needs the configuration: -f mapproxy\.yaml/);
    assert.match(create({ template: 'systemd', dest: '-', bin: 'mapproxy' }).err, /--bin 'mapproxy': give the absolute path/);
    assert.match(create({ template: 'systemd', dest: '-', cacheDir: '/srv/my tiles' }).err, /--cache-dir '\/srv\/my tiles': needs an absolute path without blanks/);
    assert.match(create({ template: 'systemd', dest: '-', user: 'Root User' }).err, /--user 'Root User': not a valid/);
    assert.match(create({ template: 'systemd', dest: '-', workers: 'many' }).err, /--workers 'many': expected a number from 1 to 256/);
    assert.match(create({ template: 'caddy', dest: '-', upstream: 'localhost' }).err, /--upstream 'localhost': expected unix:\/path\/to\.sock or HOST:PORT/);
    assert.match(create({ template: 'nginx', dest: '-', path: 'mapproxy' }).err, /--path 'mapproxy': expected '\/'/);
  });

  it('works from the command line with exit codes 0, 1 and 2', () => {
    const dir = tmpDir();
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'create', ...args], { cwd: dir, encoding: 'utf8', timeout: 20000 });
    const ok = run('-t', 'log-ini');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'writing log.ini\n');
    const again = run('-t', 'log-ini');
    assert.equal(again.status, 1);
    assert.equal(again.stderr, 'error: log.ini already exists, use --force to overwrite\n');
    assert.equal(run('-t', 'log-ini', '--force').status, 0);
    const unknown = run('-t', 'iis');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown template 'iis' \(templates: base-config, wsgi-app, log-ini, systemd, nginx, caddy\)/);
    const list = run('-l');
    assert.equal(list.status, 0);
    assert.match(list.stdout, /^Available templates:/);
    const script = run('-t', 'wsgi-app', '-f', 'mapproxy.yaml', 'app');
    assert.equal(script.status, 0, script.stderr);
    assert.ok(fs.existsSync(path.join(dir, 'app.ts')), 'wsgi-app adds .ts like mapproxy-util adds .py');
    assert.match(fs.readFileSync(path.join(dir, 'app.ts'), 'utf8'), new RegExp(`const CONFIG = ${JSON.stringify(path.join(fs.realpathSync(dir), 'mapproxy.yaml')).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });
});

afterEach(() => resetLogging());

import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  configureLogging,
  fileHandler,
  getLogger,
  jsonFormatter,
  LEVEL_NUMBERS,
  resetLogging,
  setLogFormat,
  setLogLevel,
  setLogSink,
  strftime,
  textFormatter,
  type LogHandler,
  type LogRecord,
} from '../../src/log/logger.ts';

/** A handler that keeps what it gets. */
function collector(level = 0): LogHandler & { recs: LogRecord[]; lines: string[] } {
  const recs: LogRecord[] = [];
  const lines: string[] = [];
  const fmt = textFormatter('%(name)s %(levelname)s %(message)s');
  return { level, recs, lines, handle: (r) => (recs.push(r), lines.push(fmt(r))), close: () => {} };
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-log-'));
}

describe('logger hierarchy', () => {
  afterEach(() => {
    resetLogging();
    setLogFormat('text');
  });

  it('inherits levels from the nearest configured ancestor', () => {
    const root = collector();
    configureLogging({
      loggers: {
        '': { level: LEVEL_NUMBERS.warning, handlers: [root] },
        mapproxy: { level: LEVEL_NUMBERS.info },
        'mapproxy.source': { level: LEVEL_NUMBERS.debug },
      },
    });
    getLogger('mapproxy.source.wms').debug('wms debug');
    getLogger('mapproxy.source').debug('source debug');
    getLogger('mapproxy.config').debug('config debug (dropped)');
    getLogger('mapproxy.config').info('config info');
    getLogger('other').info('other info (dropped)');
    getLogger('other').warn('other warning');
    assert.deepEqual(root.lines, [
      'mapproxy.source.wms DEBUG wms debug',
      'mapproxy.source DEBUG source debug',
      'mapproxy.config INFO config info',
      'other WARNING other warning',
    ]);
    assert.equal(getLogger('mapproxy.source.request').enabled('debug'), true);
    assert.equal(getLogger('mapproxy.cache.file').enabled('debug'), false);
  });

  it('sends records to the handlers of the logger and its ancestors until propagate is off', () => {
    const root = collector();
    const requests = collector();
    const errors = collector(LEVEL_NUMBERS.error);
    configureLogging({
      loggers: {
        '': { level: LEVEL_NUMBERS.info, handlers: [root, errors] },
        'mapproxy.source.request': { handlers: [requests], propagate: false },
        'mapproxy.source': { handlers: [requests] },
      },
    });
    getLogger('mapproxy.source.request').info('GET http://up/ 200 1.0 5');
    getLogger('mapproxy.source.wms').error('upstream down');
    getLogger('mapproxy.system').info('started');
    assert.deepEqual(requests.lines, ['mapproxy.source.request INFO GET http://up/ 200 1.0 5', 'mapproxy.source.wms ERROR upstream down']);
    assert.deepEqual(root.lines, ['mapproxy.source.wms ERROR upstream down', 'mapproxy.system INFO started']);
    assert.deepEqual(errors.lines, ['mapproxy.source.wms ERROR upstream down']);
  });

  it('setLogLevel changes a subtree at run time', () => {
    const root = collector();
    configureLogging({ loggers: { '': { level: LEVEL_NUMBERS.info, handlers: [root] } } });
    const l = getLogger('mapproxy.cache.file');
    assert.equal(l.enabled('debug'), false);
    setLogLevel('mapproxy.cache', 'debug');
    assert.equal(l.enabled('debug'), true);
    l.debug('now visible');
    setLogLevel('mapproxy.cache', 'off');
    l.error('muted');
    assert.deepEqual(root.lines, ['mapproxy.cache.file DEBUG now visible']);
  });

  it('setLogSink takes over the root output and hands back the previous one', () => {
    const first = collector();
    configureLogging({ loggers: { '': { level: LEVEL_NUMBERS.info, handlers: [first] } } });
    const got: LogRecord[] = [];
    const old = setLogSink((r) => got.push(r));
    getLogger('mapproxy.system').info('to the sink');
    setLogSink(old);
    getLogger('mapproxy.system').info('back to the handler');
    assert.deepEqual(got.map((r) => [r.logger, r.level, r.message]), [['mapproxy.system', 'info', 'to the sink']]);
    assert.deepEqual(first.lines, ['mapproxy.system INFO back to the handler']);
  });

  it('closes handlers that a new setup no longer uses', () => {
    let closed = 0;
    const h: LogHandler = { level: 0, handle: () => {}, close: () => closed++ };
    configureLogging({ loggers: { '': { handlers: [h] }, a: { handlers: [h] } } });
    configureLogging({ loggers: { '': { handlers: [h] } } });
    assert.equal(closed, 0);
    resetLogging();
    assert.equal(closed, 1);
  });
});

describe('formats', () => {
  afterEach(() => {
    resetLogging();
    setLogFormat('text');
  });
  const rec: LogRecord = { time: new Date(2024, 0, 2, 3, 4, 5, 67), logger: 'mapproxy.config', level: 'warning', message: "unknown key 'x'" };

  it("writes MapProxy's default line", () => {
    assert.equal(textFormatter()(rec), "[2024-01-02 03:04:05,067] mapproxy.config - WARNING - unknown key 'x'");
  });

  it('supports widths, precision and the usual record fields', () => {
    const f = textFormatter('%(levelname)-8s|%(levelno)03d|%(msecs)03d|%(name).8s|%(message)r|%(process)d|100%%');
    assert.equal(f(rec), `WARNING |030|067|mapproxy|'unknown key \\'x\\''|${process.pid}|100%`);
    assert.equal(textFormatter('%(asctime)s', '%d.%m.%y %H:%M')(rec), '02.01.24 03:04');
    assert.match(textFormatter('%(created)f')(rec), /^\d+\.\d{6}$/);
    assert.equal(strftime('%Y-%m-%dT%H:%M:%S %j %a %b %p', rec.time), '2024-01-02T03:04:05 002 Tue Jan AM');
  });

  it('rejects fields a record does not have, bad conversions and unknown date codes', () => {
    assert.throws(() => textFormatter('%(funcName)s'), /%\(funcName\) is not a record attribute/);
    assert.throws(() => textFormatter('%(message)q'), /unsupported conversion/);
    assert.throws(() => textFormatter('50% done'), /lone '%'/);
    assert.throws(() => textFormatter('%(message)s', '%Q'), /unsupported date code '%Q'/);
  });

  it('JSON lines have time, level, logger and message and parse', () => {
    const line = jsonFormatter()({ ...rec, message: 'two\nlines "quoted"' });
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), { time: rec.time.toISOString(), level: 'WARNING', logger: 'mapproxy.config', message: 'two\nlines "quoted"' });
  });

  it('setLogFormat switches handlers without a formatter of their own', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'out.log');
    const fixed = path.join(dir, 'fixed.log');
    configureLogging({ loggers: { '': { level: LEVEL_NUMBERS.info, handlers: [fileHandler(file), fileHandler(fixed, {}, textFormatter('%(message)s'))] } } });
    getLogger('mapproxy.system').info('as text');
    setLogFormat('json');
    getLogger('mapproxy.system').info('as json');
    resetLogging();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.match(lines[0], /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] mapproxy\.system - INFO - as text$/);
    const obj = JSON.parse(lines[1]);
    assert.equal(obj.message, 'as json');
    assert.equal(obj.level, 'INFO');
    assert.equal(obj.logger, 'mapproxy.system');
    assert.ok(!Number.isNaN(Date.parse(obj.time)));
    assert.equal(fs.readFileSync(fixed, 'utf8'), 'as text\nas json\n');
    assert.throws(() => setLogFormat('xml' as 'json'), /unknown log format/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('file handlers', () => {
  afterEach(() => resetLogging());

  it('rotates at maxBytes and keeps backupCount old files', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'r.log');
    const h = fileHandler(file, { maxBytes: 30, backupCount: 2 }, textFormatter('%(message)s'));
    configureLogging({ loggers: { '': { level: 0, handlers: [h] } } });
    for (let i = 0; i < 10; i++) getLogger('t').info(`line number ${i}`); // 14 bytes each: two per file
    resetLogging();
    assert.deepEqual(fs.readdirSync(dir).sort(), ['r.log', 'r.log.1', 'r.log.2']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'line number 8\nline number 9\n');
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'line number 6\nline number 7\n');
    assert.equal(fs.readFileSync(`${file}.2`, 'utf8'), 'line number 4\nline number 5\n');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a watched file is reopened after logrotate moved it away', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'w.log');
    configureLogging({ loggers: { '': { level: 0, handlers: [fileHandler(file, { watch: true }, textFormatter('%(message)s'))] } } });
    getLogger('t').info('before');
    fs.renameSync(file, `${file}.1`);
    getLogger('t').info('after');
    resetLogging();
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'before\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'after\n');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("mode 'w' truncates once, delay opens on the first record", () => {
    const dir = tmpDir();
    const file = path.join(dir, 'd.log');
    fs.writeFileSync(file, 'old\n');
    const h = fileHandler(file, { mode: 'w', delay: true }, textFormatter('%(message)s'));
    assert.equal(fs.readFileSync(file, 'utf8'), 'old\n');
    configureLogging({ loggers: { '': { level: 0, handlers: [h] } } });
    getLogger('t').info('new');
    getLogger('t').info('more');
    resetLogging();
    assert.equal(fs.readFileSync(file, 'utf8'), 'new\nmore\n');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

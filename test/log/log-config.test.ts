import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyLogConfig } from '../../src/log/log-config.ts';
import { getLogger, resetLogging, setLogFormat } from '../../src/log/logger.ts';
import { ConfigError } from '../../src/errors.ts';
import { HttpClient } from '../../src/source/http-client.ts';
import { serveHttp } from '../../src/runtime/serve.ts';
import { renderLogIni } from '../../src/create/log-ini.ts';

// MapProxy 1.15's config_template/base_config/log.ini, as users have it
const MAPPROXY_LOG_INI = `[loggers]
keys=root,source_requests

[handlers]
keys=mapproxy,source_requests

[formatters]
keys=default,requests

[logger_root]
level=INFO
handlers=mapproxy

[logger_source_requests]
level=INFO
qualname=mapproxy.source.request
# propagate=0 -> do not show up in logger_root
propagate=0
handlers=source_requests

[handler_mapproxy]
class=FileHandler
formatter=default
args=(r"%(here)s/mapproxy.log", "a")

[handler_source_requests]
class=FileHandler
formatter=requests
args=(r"%(here)s/source-requests.log", "a")

[formatter_default]
format=%(asctime)s - %(levelname)s - %(name)s - %(message)s

[formatter_requests]
format=[%(asctime)s] %(message)s
`;

const dirs: string[] = [];
function writeIni(text: string, name = 'log.ini'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-logini-'));
  dirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function read(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n').filter(Boolean) : [];
}

/** The ConfigError applyLogConfig throws for this ini text. */
function errorFor(text: string): ConfigError {
  const file = writeIni(text);
  try {
    applyLogConfig(file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.ok(e.message.startsWith(file), `message names the file: ${e.message}`);
    return e;
  }
  assert.fail('no error for a bad log config');
}

afterEach(() => {
  resetLogging();
  setLogFormat('text');
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe('applyLogConfig', () => {
  it("reads MapProxy's log.ini: files in %(here)s, the request logger apart", () => {
    const file = writeIni(MAPPROXY_LOG_INI);
    const here = path.dirname(file);
    applyLogConfig(file);
    getLogger('mapproxy.system').info('started');
    getLogger('mapproxy.config').debug('not at INFO');
    getLogger('mapproxy.source.request').info('GET http://upstream/x.png 200 3.1 25');
    getLogger('mapproxy.source.wms').warn('slow upstream');
    resetLogging();
    const main = read(path.join(here, 'mapproxy.log'));
    assert.equal(main.length, 2);
    assert.match(main[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - INFO - mapproxy\.system - started$/);
    assert.match(main[1], / - WARNING - mapproxy\.source\.wms - slow upstream$/);
    assert.deepEqual(
      read(path.join(here, 'source-requests.log')).map((l) => l.replace(/^\[[^\]]+\] /, '')),
      ['GET http://upstream/x.png 200 3.1 25'],
    );
  });

  it('routes by logger and handler level, to stdout/stderr streams and JSON files', () => {
    const dir = path.dirname(writeIni(''));
    const file = writeIni(`[loggers]
keys = root, cache, requests

[handlers]
keys = console, errors, json

[formatters]
keys = json, short

[logger_root]
level = WARNING
handlers = console, errors

[logger_cache]
level = DEBUG
handlers =
qualname = mapproxy.cache

[logger_requests]
level = INFO
handlers = json
qualname = mapproxy.source.request
propagate = 0

[handler_console]
class = logging.StreamHandler
args = (sys.stdout,)
formatter = short

[handler_errors]
class = logging.FileHandler
level = ERROR
formatter = short
args = ('${dir}/errors.log',)

[handler_json]
class = handlers.RotatingFileHandler
formatter = json
args = ('${dir}/requests.jsonl',)
kwargs = {'maxBytes': 10*1024*1024, 'backupCount': 3}

[formatter_json]
class = pythonjsonlogger.jsonlogger.JsonFormatter

[formatter_short]
format = %(levelname)s:%(name)s:%(message)s
`);
    applyLogConfig(file);
    const stdout: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => stdout.push(String(chunk)) > 0) as typeof process.stdout.write;
    try {
      getLogger('mapproxy.cache.file').debug('tile 1/2/3 stored');
      getLogger('mapproxy.system').info('below WARNING');
      getLogger('mapproxy.source.wms').error('upstream failed');
      getLogger('mapproxy.source.request').info('GET http://u/ 200 1.0 3');
      getLogger('mapproxy.source.request').debug('below INFO');
    } finally {
      process.stdout.write = write;
    }
    resetLogging();
    // mapproxy.cache has no handler of its own but a level: its DEBUG records reach the root's handlers
    assert.deepEqual(stdout, ['DEBUG:mapproxy.cache.file:tile 1/2/3 stored\n', 'ERROR:mapproxy.source.wms:upstream failed\n']);
    assert.deepEqual(read(path.join(dir, 'errors.log')), ['ERROR:mapproxy.source.wms:upstream failed']);
    const json = read(path.join(dir, 'requests.jsonl')).map((l) => JSON.parse(l));
    assert.equal(json.length, 1);
    assert.deepEqual({ ...json[0], time: undefined }, { time: undefined, level: 'INFO', logger: 'mapproxy.source.request', message: 'GET http://u/ 200 1.0 3' });
  });

  it('logs one line per upstream request on mapproxy.source.request', async () => {
    const dir = path.dirname(writeIni(''));
    applyLogConfig(writeIni(`[loggers]
keys=root,req
[handlers]
keys=req
[formatters]
keys=
[logger_root]
level=ERROR
handlers=
[logger_req]
level=INFO
qualname=mapproxy.source.request
handlers=req
[handler_req]
class=FileHandler
args=('${dir}/req.log', 'w')
`));
    const server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(new Uint8Array(2048), { headers: { 'Content-Type': 'image/png' } }) });
    try {
      const client = new HttpClient({ clientTimeout: 5, headers: {}, hideErrorDetails: true });
      await client.get(`http://user:secret@127.0.0.1:${server.port}/tile/1/2/3.png`);
    } finally {
      await server.stop();
    }
    resetLogging();
    const lines = read(path.join(dir, 'req.log'));
    assert.equal(lines.length, 1);
    assert.match(lines[0], new RegExp(`mapproxy\\.source\\.request - INFO - GET http://127\\.0\\.0\\.1:${server.port}/tile/1/2/3\\.png 200 2\\.0 \\d+$`));
    assert.ok(!lines[0].includes('secret'), 'credentials stay out of the log');
  });

  it('accepts the example of mapproxy create -t log-ini', () => {
    const file = writeIni(renderLogIni());
    applyLogConfig(file);
    getLogger('mapproxy.source.request').info('GET http://u/ 200 1.0 3');
    resetLogging();
    assert.equal(read(path.join(path.dirname(file), 'source-requests.log')).length, 1);
    const logDir = path.dirname(writeIni(''));
    applyLogConfig(writeIni(renderLogIni({ logDir })));
    getLogger('mapproxy.source.request').info('GET http://u/ 200 1.0 3');
    resetLogging();
    assert.equal(read(path.join(logDir, 'source-requests.log')).length, 1);
    // its JSON formatter is one line away
    applyLogConfig(writeIni(renderLogIni({ logDir }).replace('formatter=requests', 'formatter=json')));
    getLogger('mapproxy.source.request').info('as json');
    resetLogging();
    assert.equal(JSON.parse(read(path.join(logDir, 'source-requests.log'))[1]).message, 'as json');
  });

  it('reads [DEFAULT], %% and continuation lines, and needs no root section', () => {
    const dir = path.dirname(writeIni(''));
    const file = writeIni(`; comment
[DEFAULT]
logdir=${dir}

[loggers]
keys=cfg

[handlers]
keys=f

[formatters]
keys=pct

[logger_cfg]
level=DEBUG
qualname=mapproxy.config
handlers=f
propagate=0

[handler_f]
class=FileHandler
args=('%(logdir)s/cfg.log',
  'a')
formatter=pct

[formatter_pct]
format=100%% %(message)s
`);
    applyLogConfig(file);
    getLogger('mapproxy.config').debug('loaded');
    resetLogging();
    assert.deepEqual(read(path.join(dir, 'cfg.log')), ['100% loaded']);
  });
});

describe('applyLogConfig errors name file, line and key', () => {
  const base = (handler: string, extra = '') => `[loggers]
keys=root
[handlers]
keys=h
[formatters]
keys=f
[logger_root]
level=INFO
handlers=h
[handler_h]
${handler}
[formatter_f]
format=%(message)s
${extra}`;

  const cases: [string, string, RegExp][] = [
    ['unsupported handler class', base('class=handlers.SysLogHandler\nargs=()'), /:11: handler_h\.class: unsupported handler class 'handlers\.SysLogHandler' \(supported: StreamHandler, FileHandler/],
    ['code in args', base("class=FileHandler\nargs=(os.path.join('a', 'b'),)"), /:12: handler_h\.args: cannot evaluate .*'os\.path\.join' cannot be evaluated here/],
    ['args not a tuple', base("class=FileHandler\nargs=('x.log')"), /:12: handler_h\.args: args must be a tuple, got 'x\.log': write \('x\.log',\) with a trailing comma/],
    ['too many args', base("class=StreamHandler\nargs=(sys.stderr, 1)"), /:12: handler_h\.args: StreamHandler takes at most 1 arguments/],
    ['unknown kwarg', base("class=FileHandler\nargs=('x.log',)\nkwargs={'maxBytes': 1}"), /:13: handler_h\.kwargs: FileHandler has no argument 'maxBytes'/],
    ['bad stream', base("class=StreamHandler\nargs=('stderr',)"), /:12: handler_h\.args: stream must be sys\.stderr or sys\.stdout, got 'stderr'/],
    ['bad mode', base("class=FileHandler\nargs=('x.log', 'r')"), /:12: handler_h\.args: mode must be 'a' \(append\) or 'w'/],
    ['unopenable file', base("class=FileHandler\nargs=('/nonexistent-dir/x/y.log',)"), /:12: handler_h\.args: cannot open log file '\/nonexistent-dir\/x\/y\.log'/],
    ['bad level', base('class=StreamHandler\nlevel=VERBOSE'), /:12: handler_h\.level: unknown level 'VERBOSE' \(use DEBUG, INFO, WARNING, ERROR, CRITICAL or NOTSET\)/],
    ['unknown formatter', base('class=StreamHandler\nformatter=fancy'), /:12: handler_h\.formatter: unknown formatter 'fancy' \(listed in \[formatters\]: f\)/],
    ['typo in a key', base('class=StreamHandler\nformater=f'), /:12: handler_h\.formater: unknown key 'formater' in \[handler_h\]/],
    ['missing class', base('args=()'), /:10: handler_h\.class: a handler needs class=/],
    ['unsupported format field', base('class=StreamHandler', '').replace('format=%(message)s', 'format=%(funcName)s: %(message)s'), /:13: formatter_f\.format: %\(funcName\) is not a record attribute/],
    ['unsupported date code', base('class=StreamHandler').replace('format=%(message)s', 'format=%(asctime)s\ndatefmt=%c'), /:14: formatter_f\.datefmt: unsupported date code '%c'/],
    ['brace style', base('class=StreamHandler').replace('format=%(message)s', 'format={message}\nstyle={'), /:14: formatter_f\.style: only style '%' is supported/],
    ['unknown formatter class', base('class=StreamHandler').replace('format=%(message)s', 'class=colorlog.ColoredFormatter'), /:13: formatter_f\.class: unsupported formatter class 'colorlog\.ColoredFormatter'/],
    ['lone percent in args', base("class=FileHandler\nargs=('50%.log',)"), /:12: handler_h\.args: '%' must be followed by '%' or '\(name\)s'/],
    ['unknown reference', base("class=FileHandler\nargs=('%(logdir)s/x.log',)"), /:12: handler_h\.args: unknown reference %\(logdir\)s \(known here: class, args, here\)/],
    ['listed section missing', base('class=StreamHandler').replace('keys=h', 'keys=h,other'), /:4: handlers\.keys: handler 'other' is listed but there is no \[handler_other\] section/],
    ['unknown handler on a logger', base('class=StreamHandler').replace('handlers=h', 'handlers=h,nope'), /:9: logger_root\.handlers: unknown handler 'nope' \(listed in \[handlers\]: h\)/],
    ['logger without qualname', base('class=StreamHandler').replace('keys=root', 'keys=root,x') + '[logger_x]\nlevel=INFO\n', /:14: logger_x\.qualname: \[logger_x\] needs qualname=/],
    ['bad propagate', base('class=StreamHandler').replace('keys=root', 'keys=root,x') + '[logger_x]\nqualname=mapproxy\npropagate=maybe\n', /:16: logger_x\.propagate: expected 0 or 1, got 'maybe'/],
    ['duplicate key', base('class=StreamHandler\nclass=FileHandler'), /:12: handler_h\.class: key 'class' appears twice in \[handler_h\] \(first on line 11\)/],
    ['duplicate section', base('class=StreamHandler') + '[handler_h]\nclass=StreamHandler\n', /:14: \[handler_h\]: section \[handler_h\] appears twice \(first on line 10\)/],
    ['key before any section', 'level=INFO\n[loggers]\nkeys=root\n', /:1: level: 'level' stands before the first \[section\]/],
    ['garbage line', base('class=StreamHandler\nthis is not ini'), /:12: handler_h: cannot read line 'this is not ini'/],
    ['no loggers section', '[handlers]\nkeys=\n', /\[loggers\]: no \[loggers\] section/],
    ['not an ini file', '{"version": 1}\n', /:1: \{"version": '\{"version"' stands before the first \[section\]/],
  ];
  for (const [name, text, re] of cases) {
    it(name, () => {
      assert.match(errorFor(text).message, re);
    });
  }

  it('a missing file', () => {
    assert.throws(() => applyLogConfig('/nonexistent/log.ini'), /\/nonexistent\/log\.ini: log config file not found/);
  });

  it('keeps the running setup when the new file is broken', () => {
    const dir = path.dirname(writeIni(''));
    applyLogConfig(writeIni(base(`class=FileHandler\nargs=('${dir}/keep.log',)`)));
    errorFor(base(`class=FileHandler\nargs=('${dir}/other.log',)\nlevel=LOUD`));
    getLogger('mapproxy.system').info('still here');
    resetLogging();
    assert.match(read(path.join(dir, 'keep.log')).join('\n'), /^\[[^\]]+\] mapproxy\.system - INFO - still here$/);
    assert.deepEqual(read(path.join(dir, 'other.log')), []);
  });
});

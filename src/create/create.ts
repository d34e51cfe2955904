/**
 * `mapproxy create`: write example configurations and deployment files, like
 * `mapproxy-util create`. An existing file is never changed without --force,
 * and then nothing at all is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findTemplate, OPTION_FLAGS, TEMPLATES, type CreateOptions, type OutputFile, type Template } from './templates.ts';

export type { CreateOptions } from './templates.ts';

/** Where messages go (tests capture them). */
export interface CreateIo {
  out(text: string): void;
  err(text: string): void;
}

const stdio: CreateIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** The `create -l` listing. */
export function listTemplates(): string {
  const w = Math.max(...TEMPLATES.map((t) => t.name.length));
  return `Available templates:\n${TEMPLATES.map((t) => `  ${t.name.padEnd(w)}  ${t.description} [DEST: ${t.defaultDest}]`).join('\n')}\n`;
}

/** Run `mapproxy create`; returns the exit code: 0 done, 1 a file exists or cannot be written, 2 a usage error. */
export function runCreate(o: CreateOptions, io: CreateIo = stdio): number {
  if (o.listTemplates) {
    io.out(listTemplates());
    return 0;
  }
  if (!o.template) {
    io.err(`error: no template given: mapproxy create -t TEMPLATE [DEST]\n${listTemplates()}`);
    return 2;
  }
  const t = findTemplate(o.template);
  if (!t) {
    io.err(`error: unknown template '${o.template}' (templates: ${TEMPLATES.map((x) => x.name).join(', ')})\n`);
    return 2;
  }
  for (const [key, flag] of Object.entries(OPTION_FLAGS)) {
    if (o[key as keyof CreateOptions] !== undefined && !t.options.includes(key as keyof CreateOptions)) {
      io.err(`error: ${flag} is not used by template ${t.name}${t.options.length ? ` (it reads ${t.options.map((k) => OPTION_FLAGS[k]).join(', ')})` : ''}\n`);
      return 2;
    }
  }
  const toStdout = o.dest === '-';
  if (toStdout && t.writesDirectory) {
    io.err(`error: template ${t.name} writes several files and needs a directory, not '-'\n`);
    return 2;
  }
  const dest = toStdout ? '-' : destination(t, o.dest);
  if (!t.writesDirectory && !toStdout && isDirectory(dest)) {
    io.err(`error: ${dest} is a directory\n`);
    return 1;
  }
  const r = t.render(o, dest);
  if ('error' in r) {
    io.err(`error: ${r.error}\n`);
    return 2;
  }
  if (toStdout) {
    for (const f of r.files) io.out(f.text);
    for (const n of r.notes) io.err(`note: ${n}\n`);
    return 0;
  }
  const code = writeAll(r.files, o.force === true, io);
  if (code === 0) for (const n of r.notes) io.err(`note: ${n}\n`);
  return code;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** DEST as given, the default, or the default file name inside a given directory. */
function destination(t: Template, given: string | undefined): string {
  if (t.writesDirectory) return given ?? t.defaultDest;
  let dest = given ?? t.defaultDest;
  if (given !== undefined && (isDirectory(given) || /[\\/]$/.test(given))) dest = path.join(given, t.defaultDest);
  // like mapproxy-util, which adds .py: a script name without extension gets .ts
  if (t.name === 'wsgi-app' && !path.basename(dest).includes('.')) dest += '.ts';
  return dest;
}

function writeAll(files: OutputFile[], force: boolean, io: CreateIo): number {
  if (!force) {
    const existing = files.filter((f) => fs.existsSync(f.path));
    if (existing.length) {
      for (const f of existing) io.err(`error: ${f.path} already exists, use --force to overwrite\n`);
      return 1;
    }
  }
  for (const f of files) {
    try {
      fs.mkdirSync(path.dirname(f.path), { recursive: true });
      // 'wx' fails if the file appeared since the check above: still never overwritten without --force
      fs.writeFileSync(f.path, f.text, { flag: force ? 'w' : 'wx' });
      io.out(`writing ${f.path}\n`);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      io.err(`error: cannot write ${f.path}: ${err.code === 'EEXIST' ? 'it already exists, use --force to overwrite' : err.message}\n`);
      return 1;
    }
  }
  return 0;
}

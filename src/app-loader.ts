// Finding the application named on the command line or in an ini file:
// "MODULE:EXPORT" where MODULE is a file path or a package name loaded with
// import() (so ESM and CommonJS both work) and EXPORT a dotted name inside it
// (Waitress's pkgutil.resolve_name, mapped to JavaScript modules).

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppResolutionError, ConfigFileError, InvalidOptionError } from './errors.js';
import { readIni, where, type IniFile } from './ini.js';

/** A module specifier is a file path when it is absolute or starts with ./ or ../ (or ends with a JS extension). */
function isFilePath(specifier: string): boolean {
  return path.isAbsolute(specifier) || /^\.\.?[\\/]/.test(specifier) || /\.[cm]?[jt]s$/.test(specifier);
}

/** The URL import() should load for `specifier`, resolved from `baseDir`. */
function moduleUrl(specifier: string, baseDir: string): string {
  if (isFilePath(specifier)) return pathToFileURL(path.resolve(baseDir, specifier)).href;
  // Packages are looked up from baseDir's node_modules, as `node` run there would.
  const requireFrom = createRequire(path.join(baseDir, 'noop.js'));
  return pathToFileURL(requireFrom.resolve(specifier)).href;
}

/** import() a module by file path or package name; errors say which and why. */
async function importModule(specifier: string, baseDir: string, what: string): Promise<Record<string, unknown>> {
  if (specifier === '') throw new AppResolutionError(`Cannot import ${what}: no module named`);
  let url: string;
  try {
    url = moduleUrl(specifier, baseDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AppResolutionError(`Cannot import ${what}: ${code === 'MODULE_NOT_FOUND' ? `cannot find module "${specifier}"` : (err as Error).message}`);
  }
  if (isFilePath(specifier) && !fs.existsSync(fileURLToPath(url))) {
    throw new AppResolutionError(`Cannot import ${what}: cannot find module "${specifier}"`);
  }
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    // The module was found: what failed is inside it (a syntax error, a throw, one of
    // its own imports missing), and its message and stack say where.
    const reason = err instanceof Error ? err.message : `it threw ${String(err)}`;
    throw new AppResolutionError(`Cannot import ${what}: ${reason}`, err);
  }
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

const ownProperty = (holder: unknown, key: string): holder is Record<string, unknown> =>
  holder !== null && (typeof holder === 'object' || typeof holder === 'function') && Object.prototype.hasOwnProperty.call(holder, key);

/**
 * Walk a dotted export path from a module namespace (own properties only, so
 * "constructor" or "__proto__" never resolve). A CommonJS module's properties may
 * only be reachable through `default` (module.exports), so the first step falls back to it.
 */
function walkExport(namespace: Record<string, unknown>, dotted: string, what: string): unknown {
  const parts = dotted === '' ? ['default'] : dotted.split('.');
  // ES modules compiled to CommonJS (TypeScript, Babel) mark their exports object with
  // __esModule; their default export is that object's `default`, not the object itself.
  const compiled = namespace.default;
  let current: unknown = ownProperty(compiled, '__esModule') && compiled.__esModule === true ? compiled : namespace;
  parts.forEach((part, index) => {
    if (ownProperty(current, part)) current = current[part];
    else if (index === 0 && ownProperty(compiled, part)) current = compiled[part];
    else throw new AppResolutionError(`Cannot import ${what}: module has no export "${parts.slice(0, index + 1).join('.')}"`);
  });
  return current;
}

/** Split "MODULE:EXPORT" at the last colon that is not part of a Windows drive letter. */
function splitTarget(target: string): { module: string; exportPath: string } {
  const colon = target.lastIndexOf(':');
  if (colon <= 1 && /^[A-Za-z]:[\\/]/.test(target)) return { module: target, exportPath: '' };
  if (colon === -1) return { module: target, exportPath: '' };
  return { module: target.slice(0, colon), exportPath: target.slice(colon + 1) };
}

export interface LoadOptions {
  /** Directory relative paths and package names are resolved from (default: cwd). */
  baseDir?: string;
  /** Call the export with no arguments (awaiting a Promise) and use what it returns. */
  call?: boolean;
}

/**
 * Load the application `MODULE:EXPORT` (EXPORT defaults to the default export).
 * Throws AppResolutionError naming the target for a missing module, a missing
 * export, or an export (or factory result) that is not a function.
 */
export async function loadAppTarget(target: string, options: LoadOptions = {}): Promise<(...args: never[]) => unknown> {
  const what = `application '${target}'`;
  const { module, exportPath } = splitTarget(target);
  const namespace = await importModule(module, options.baseDir ?? process.cwd(), what);
  let found = walkExport(namespace, exportPath, what);
  if (options.call) {
    if (typeof found !== 'function') throw new AppResolutionError(`Cannot call ${what}: it is ${typeName(found)}, not a function`);
    found = await (found as () => unknown)();
    if (typeof found !== 'function') {
      throw new AppResolutionError(`The factory ${what} returned ${typeName(found)}, not an application function`);
    }
  } else if (typeof found !== 'function') {
    throw new AppResolutionError(`Cannot use ${what}: it is ${typeName(found)}, not a function (environ, startResponse)`);
  }
  return found as (...args: never[]) => unknown;
}

// ---- PasteDeploy-style composition from ini files -------------------------------------------

type AnyApp = (...args: never[]) => unknown;
type Filter = (app: AnyApp) => AnyApp;
type Conf = Record<string, string>;

/** Keys of an app or filter section that are instructions rather than settings. */
const DIRECTIVES = new Set(['use', 'filter-with', 'next']);

/** Settings of a section (PasteDeploy `set`/`get` rules applied), and the global conf they see. */
function confOf(ini: IniFile, section: string): { local: Conf; global: Conf } {
  const global: Conf = Object.fromEntries(ini.defaults);
  const local: Conf = {};
  for (const [key, value] of ini.section(section)) {
    if (key.startsWith('set ')) global[key.slice(4).trim()] = value;
    else if (key.startsWith('get ')) {
      if (!(value in global)) throw new ConfigFileError(`${where(ini.file, section, key)}: [DEFAULT] has no "${value}"`);
      local[key.slice(4).trim()] = global[value] as string;
    } else if (!DIRECTIVES.has(key)) local[key] = value;
  }
  return { local, global };
}

/** The section that defines NAME: [app:NAME], [pipeline:NAME] or [filter-app:NAME]. */
function appSection(ini: IniFile, name: string, from: string): string {
  const found = ['app', 'application', 'pipeline', 'filter-app', 'composite'].map((kind) => `${kind}:${name}`).filter((s) => ini.has(s));
  if (found.length === 0) throw new ConfigFileError(`${from}: ${ini.file} has no [app:${name}] or [pipeline:${name}] section`);
  if (found.length > 1) throw new ConfigFileError(`${ini.file}: "${name}" is defined twice (${found.map((s) => `[${s}]`).join(', ')})`);
  return found[0] as string;
}

/** Split "scheme:rest#fragment" of a `use` value. */
function parseUse(ini: IniFile, section: string, use: string | undefined): { scheme: string; target: string; fragment: string } {
  if (use === undefined) {
    // PasteDeploy's long form names the factory by its entry-point group instead.
    const longForm = [...ini.section(section).keys()].find((key) => key.startsWith('paste.'));
    if (longForm !== undefined) {
      throw new ConfigFileError(`${where(ini.file, section, longForm)}: not supported; write use = call:MODULE:FACTORY`);
    }
    throw new ConfigFileError(`${where(ini.file, section)}: missing "use" (file:, package:, call: or config:)`);
  }
  const colon = use.indexOf(':');
  const hash = use.lastIndexOf('#');
  const scheme = colon === -1 ? '' : use.slice(0, colon);
  if (!['file', 'package', 'egg', 'call', 'config'].includes(scheme)) {
    throw new ConfigFileError(`${where(ini.file, section, 'use')}: ${JSON.stringify(use)} is not file:PATH#EXPORT, package:NAME#EXPORT, call:MODULE:EXPORT or config:FILE#NAME`);
  }
  const rest = use.slice(colon + 1);
  return hash > colon ? { scheme, target: rest.slice(0, hash - colon - 1), fragment: use.slice(hash + 1) } : { scheme, target: rest, fragment: '' };
}

/** Import the object a `use` line names (relative paths from the ini's directory). */
async function importUse(ini: IniFile, section: string, scheme: string, target: string, fragment: string): Promise<unknown> {
  const what = `${where(ini.file, section, 'use')} target '${scheme}:${target}'`;
  const { module, exportPath } = scheme === 'call' ? splitTarget(target) : { module: target, exportPath: fragment };
  // As in PasteDeploy, call: names the factory; a module's default export is not one by accident.
  if (scheme === 'call' && exportPath === '') throw new ConfigFileError(`${what}: call: needs MODULE:FACTORY, the function to call`);
  const specifier = scheme === 'file' && !isFilePath(module) ? `./${module}` : module;
  try {
    return walkExport(await importModule(specifier, ini.here, what), exportPath, what);
  } catch (err) {
    // Inside an ini file the problem is the file's: report it as a configuration error.
    if (err instanceof AppResolutionError) throw new ConfigFileError(err.message, err.cause);
    throw err;
  }
}

function mustBeFunction(ini: IniFile, section: string, value: unknown, role: string): AnyApp {
  if (typeof value !== 'function') throw new ConfigFileError(`${where(ini.file, section, 'use')}: ${role} is ${typeName(value)}, not a function`);
  return value as AnyApp;
}

/** The built-in filters, by name, and the factory in garcon/middleware that makes each. */
const BUILTIN_FILTERS: Readonly<Record<string, string>> = { prefix: 'prefixFilterFactory', translogger: 'transLoggerFilterFactory' };
/** The eggs whose filters garcon has built in: its own, PasteDeploy's prefix and Paste's translogger (lower-cased: distribution names are case-insensitive). */
const BUILTIN_EGGS: ReadonlySet<string> = new Set(['garcon', 'pastedeploy', 'paste']);

/** A built-in filter (`egg:garcon#prefix`, `egg:Paste#translogger`...) made from its section's settings. */
async function builtinFilter(ini: IniFile, section: string, name: string, global: Conf, local: Conf): Promise<Filter> {
  const factoryName = Object.hasOwn(BUILTIN_FILTERS, name) ? BUILTIN_FILTERS[name]! : null;
  if (factoryName === null) {
    const names = Object.keys(BUILTIN_FILTERS).map((n) => `"${n}"`).join(', ');
    throw new ConfigFileError(`${where(ini.file, section, 'use')}: garcon has no built-in filter "${name}" (it has ${names})`);
  }
  // Loaded at run time: middleware/ is its own entry point (garcon/middleware).
  const file = path.join(__dirname, '..', 'middleware', 'index.js');
  let factory: unknown;
  try {
    factory = ((await import(pathToFileURL(file).href)) as Record<string, unknown>)[factoryName];
  } catch (err) {
    throw new ConfigFileError(`${where(ini.file, section, 'use')}: cannot load garcon's middleware (${(err as Error).message})`);
  }
  if (typeof factory !== 'function') throw new ConfigFileError(`${where(ini.file, section, 'use')}: ${file} has no ${factoryName}`);
  try {
    return (factory as (g: Conf, l: Conf) => Filter)(global, local);
  } catch (err) {
    // The factory names the setting at fault: say where it is in the file.
    if (err instanceof InvalidOptionError) {
      const message = err.message.startsWith(`${err.option}: `) ? err.message.slice(err.option.length + 2) : err.message;
      throw new ConfigFileError(`${where(ini.file, section, err.option)}: ${message}`);
    }
    throw err;
  }
}

/** A [filter:NAME] section as a function from app to app. */
function loadFilter(ini: IniFile, name: string, from: string): Promise<Filter> {
  const section = `filter:${name}`;
  if (!ini.has(section)) throw new ConfigFileError(`${from}: ${ini.file} has no [${section}] section`);
  return filterOfSection(ini, section);
}

/** The filter a [filter:NAME] or [filter-app:NAME] section's `use` names. */
async function filterOfSection(ini: IniFile, section: string): Promise<Filter> {
  const { local, global } = confOf(ini, section);
  const { scheme, target, fragment } = parseUse(ini, section, ini.section(section).get('use'));
  if (scheme === 'egg' && BUILTIN_EGGS.has(target.toLowerCase())) return builtinFilter(ini, section, fragment, global, local);
  if (scheme === 'config') {
    const other = readIni(path.resolve(ini.here, target));
    return loadFilter(other, fragment || 'main', where(ini.file, section, 'use'));
  }
  const found = await importUse(ini, section, scheme, target, fragment);
  if (scheme === 'call') {
    // A filter factory (PasteDeploy's paste.filter_factory): settings in, middleware out.
    const filter = await (mustBeFunction(ini, section, found, 'the filter factory') as (g: Conf, l: Conf) => unknown)(global, local);
    return mustBeFunction(ini, section, filter, 'what the filter factory returned') as Filter;
  }
  noSettings(ini, section, local);
  return mustBeFunction(ini, section, found, 'the middleware') as Filter;
}

// Settings with nothing to receive them would be silently ignored; say so instead.
function noSettings(ini: IniFile, section: string, local: Conf): void {
  const first = Object.keys(local)[0];
  if (first !== undefined) {
    throw new ConfigFileError(`${where(ini.file, section, first)}: settings need a factory to receive them (use = call:MODULE:EXPORT)`);
  }
}

/** Build the app a section defines, filters included. */
async function loadSectionApp(ini: IniFile, name: string, from: string): Promise<AnyApp> {
  const section = appSection(ini, name, from);
  const keys = ini.section(section);
  const kind = section.slice(0, section.indexOf(':'));
  if (kind === 'composite') throw new ConfigFileError(`${where(ini.file, section)}: composite applications are not supported; use a pipeline or mount apps in code`);
  if (kind === 'pipeline') {
    for (const key of keys.keys()) {
      if (key !== 'pipeline') throw new ConfigFileError(`${where(ini.file, section, key)}: a pipeline section takes only "pipeline"`);
    }
    const names = (keys.get('pipeline') ?? '').split(/\s+/).filter((n) => n !== '');
    if (names.length === 0) throw new ConfigFileError(`${where(ini.file, section, 'pipeline')}: names no application`);
    const here = where(ini.file, section, 'pipeline');
    let app = await loadSectionApp(ini, names[names.length - 1] as string, here);
    // The first filter listed is the outermost, so wrap from the app outwards.
    for (const filterName of names.slice(0, -1).reverse()) app = (await loadFilter(ini, filterName, here))(app);
    return app;
  }
  if (kind === 'filter-app') {
    const next = keys.get('next');
    if (next === undefined) throw new ConfigFileError(`${where(ini.file, section)}: missing "next" (the app to wrap)`);
    const app = await loadSectionApp(ini, next, where(ini.file, section, 'next'));
    return (await filterOfSection(ini, section))(app);
  }
  const { local, global } = confOf(ini, section);
  const { scheme, target, fragment } = parseUse(ini, section, keys.get('use'));
  let app: AnyApp;
  if (scheme === 'config') {
    noSettings(ini, section, local);
    app = await loadSectionApp(readIni(path.resolve(ini.here, target)), fragment || 'main', where(ini.file, section, 'use'));
  } else if (scheme === 'call') {
    // An app factory (PasteDeploy's paste.app_factory): settings in, app out.
    const factory = mustBeFunction(ini, section, await importUse(ini, section, scheme, target, fragment), 'the app factory');
    app = mustBeFunction(ini, section, await (factory as (g: Conf, l: Conf) => unknown)(global, local), 'what the app factory returned');
  } else {
    noSettings(ini, section, local);
    app = mustBeFunction(ini, section, await importUse(ini, section, scheme, target, fragment), 'the application');
  }
  const filterWith = keys.get('filter-with');
  if (filterWith !== undefined) app = (await loadFilter(ini, filterWith, where(ini.file, section, 'filter-with')))(app);
  return app;
}

/**
 * Load an application from a PasteDeploy-style URI: `config:FILE.ini` or
 * `config:FILE.ini#NAME` (NAME defaults to main). Relative files are resolved
 * from `relativeTo` (default: cwd).
 * @example
 * const app = await loadApp('config:production.ini#api');
 */
export async function loadApp(uri: string, options: { relativeTo?: string; name?: string } = {}): Promise<AnyApp> {
  if (!uri.startsWith('config:')) throw new ConfigFileError(`loadApp: ${JSON.stringify(uri)} is not a config:FILE.ini[#NAME] URI`);
  const { file, name } = splitConfigSpec(uri.slice('config:'.length));
  const ini = readIni(path.resolve(options.relativeTo ?? process.cwd(), file));
  return loadSectionApp(ini, options.name ?? name, ini.file);
}

/** The app of an already-read ini file. */
export function loadIniApp(ini: IniFile, name = 'main'): Promise<AnyApp> {
  return loadSectionApp(ini, name, ini.file);
}

/** "app.ini#name" -> file and name (default main). */
export function splitConfigSpec(spec: string): { file: string; name: string } {
  const hash = spec.lastIndexOf('#');
  return hash === -1 ? { file: spec, name: 'main' } : { file: spec.slice(0, hash), name: spec.slice(hash + 1) || 'main' };
}

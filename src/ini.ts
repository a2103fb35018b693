// PasteDeploy-style ini files: Python ConfigParser syntax (sections, `key = value`
// or `key: value`, indented continuation lines, # and ; comments, %(name)s
// interpolation with `here` and `__file__`), and the [server:NAME] and
// [logger_garcon] sections garcon-serve reads. Errors name the file, section and key.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { OPTIONS, castOption, findOption } from './adjustments.js';
import { ConfigFileError, InvalidOptionError } from './errors.js';
import { splitPercentFormat } from './percent-format.js';

interface Entry {
  value: string;
  line: number;
}

/** Where a value came from, for messages: `app.ini [server:main] port`. */
export function where(file: string, section: string, key?: string): string {
  return `${file} [${section}]${key === undefined ? '' : ` ${key}`}`;
}

const MAX_INTERPOLATION_DEPTH = 10;

export class IniFile {
  /** Absolute path of the file. */
  readonly file: string;
  /** `[DEFAULT]` plus `here` and `__file__`: PasteDeploy's global conf. */
  readonly defaults: ReadonlyMap<string, string>;
  readonly #raw: Map<string, Map<string, Entry>>;
  readonly #rawDefaults: Map<string, Entry>;

  constructor(file: string, sections: Map<string, Map<string, Entry>>, defaults: Map<string, Entry>) {
    this.file = file;
    this.#raw = sections;
    this.#rawDefaults = defaults;
    defaults.set('here', { value: path.dirname(file), line: 0 });
    defaults.set('__file__', { value: file, line: 0 });
    const resolved = new Map<string, string>();
    for (const key of defaults.keys()) resolved.set(key, this.#interpolate('DEFAULT', key, new Map(), 0));
    this.defaults = resolved;
  }

  /** Directory of the file, the base for relative paths inside it. */
  get here(): string {
    return path.dirname(this.file);
  }

  get sectionNames(): string[] {
    return [...this.#raw.keys()];
  }

  has(section: string): boolean {
    return this.#raw.has(section);
  }

  /**
   * The section's own keys with interpolated values. Keys that also appear in
   * [DEFAULT] are left out: PasteDeploy treats them as global conf only.
   */
  section(section: string): Map<string, string> {
    const entries = this.#raw.get(section);
    if (entries === undefined) throw new ConfigFileError(`${this.file}: no section [${section}]`);
    const out = new Map<string, string>();
    for (const key of entries.keys()) {
      if (this.#rawDefaults.has(key)) continue;
      out.set(key, this.#interpolate(section, key, entries, 0));
    }
    return out;
  }

  /** Keys `section` sets that [DEFAULT] sets too: section() leaves them out. */
  shadowedKeys(section: string): string[] {
    return [...(this.#raw.get(section)?.keys() ?? [])].filter((key) => this.#rawDefaults.has(key));
  }

  /** Resolve %(name)s references (section keys first, then defaults); %% is a literal %. */
  #interpolate(section: string, key: string, entries: Map<string, Entry>, depth: number): string {
    const entry = entries.get(key) ?? this.#rawDefaults.get(key);
    if (entry === undefined) throw new ConfigFileError(`${where(this.file, section, key)}: no such key`);
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw new ConfigFileError(`${where(this.file, section, key)}: interpolation is nested too deeply (a reference loop?)`);
    }
    const text = entry.value;
    const parts = splitPercentFormat(text);
    if (typeof parts === 'number') {
      throw new ConfigFileError(`${where(this.file, section, key)}: bad interpolation at "${text.slice(parts)}" (use %(name)s, or %% for a %)`);
    }
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) {
      const name = parts[i]!;
      if (!entries.has(name) && !this.#rawDefaults.has(name)) {
        throw new ConfigFileError(`${where(this.file, section, key)}: %(${name})s names no key of [${section}] or [DEFAULT]`);
      }
      out += this.#interpolate(section, name, entries, depth + 1) + parts[i + 1]!;
    }
    return out;
  }
}

/** Parse ini text. `file` is used for relative paths (here) and in messages. */
export function parseIni(text: string, file: string): IniFile {
  const sections = new Map<string, Map<string, Entry>>();
  const defaults = new Map<string, Entry>();
  let current: Map<string, Entry> | null = null;
  let currentName = '';
  let lastEntry: Entry | null = null;
  /** The key whose value a blank line just ended (an indented line next would be a mistake). */
  let endedKey: string | null = null;
  let lastKey = '';
  /** How far the last key's line was indented: only a line indented further continues its value (ConfigParser's rule). */
  let lastIndent = 0;
  const lines = text.split('\n');
  lines.forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const trimmed = line.trim();
    const fail = (why: string) => new ConfigFileError(`${file}:${lineNo}: ${why}`);
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      if (trimmed === '' && lastEntry !== null) {
        // A blank line ends a value; an indented line after it is only a mistake when that value had continuation lines.
        endedKey = lastEntry.value.includes('\n') || lastEntry.value === '' ? lastKey : null;
        lastEntry = null;
      }
      return;
    }
    const indent = /^[ \t]*/.exec(line)![0].length;
    if (indent > lastIndent && lastEntry !== null) {
      lastEntry.value += `\n${trimmed}`; // continuation line
      return;
    }
    if (indent > lastIndent && endedKey !== null) {
      throw fail(`a blank line inside the multi-line value of "${endedKey}" in [${currentName}] (a blank line ends a value: remove it)`);
    }
    endedKey = null;
    if (trimmed.startsWith('[')) {
      // A comment may follow the header, as ConfigParser allows.
      const header = /^\[([^\]]*)\][ \t]*(?:[#;].*)?$/.exec(trimmed);
      if (header === null) throw fail(`bad section header ${JSON.stringify(trimmed)}`);
      currentName = header[1]!.trim();
      if (currentName === 'DEFAULT') {
        current = defaults;
      } else {
        if (sections.has(currentName)) throw fail(`section [${currentName}] appears twice`);
        current = new Map();
        sections.set(currentName, current);
      }
      lastEntry = null;
      return;
    }
    if (current === null) throw fail('a key outside any [section]');
    const eq = line.indexOf('=');
    const colon = line.indexOf(':');
    const split = eq === -1 ? colon : colon === -1 ? eq : Math.min(eq, colon);
    if (split === -1) throw fail(`expected "key = value" in [${currentName}], got ${JSON.stringify(trimmed)}`);
    const key = line.slice(0, split).trim();
    if (key === '') throw fail(`empty key in [${currentName}]`);
    if (current.has(key)) throw fail(`key "${key}" appears twice in [${currentName}]`);
    lastEntry = { value: line.slice(split + 1).trim(), line: lineNo };
    lastKey = key;
    lastIndent = indent;
    current.set(key, lastEntry);
  });
  return new IniFile(file, sections, defaults);
}

/** Read and parse an ini file; a missing or unreadable file is a ConfigFileError. */
export function readIni(file: string): IniFile {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`Cannot read config file ${absolute}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseIni(text, absolute);
}

/**
 * `use` values in a server section that mean "this server" (Waitress's and garcon's
 * own), lower-cased: distribution names are case-insensitive, and an egg's entry
 * point defaults to main, as in PasteDeploy.
 */
const SERVER_USES = new Set(['egg:waitress#main', 'egg:garcon#main', 'egg:waitress', 'egg:garcon', 'garcon', 'waitress']);

/** The `[server:...]` section that configures the server named `name`, or null when there is none. */
export function serverSection(ini: IniFile, name = 'main'): string | null {
  return ini.has(`server:${name}`) ? `server:${name}` : ini.has('server:main') ? 'server:main' : null;
}

/**
 * The options of [server:NAME] (falling back to [server:main]) as camelCase text
 * values, each checked against the options table so that a bad value is reported
 * with its file, section and key. [logger_garcon] `level` becomes logLevel.
 * Without a server section the file says nothing of where to listen: unless
 * `listenerGiven` (the command line says it), that is an error, as in PasteDeploy,
 * not a silent default of every address.
 */
export function serverOptionsFromIni(ini: IniFile, name = 'main', listenerGiven = false): Record<string, string> {
  const options: Record<string, string> = {};
  const sectionName = serverSection(ini, name);
  if (sectionName === null) {
    // Section names are case-sensitive (PasteDeploy's are): [Server:main] is no server section.
    const miscased = ini.sectionNames.find((section) => /^server:/i.test(section) && !section.startsWith('server:'));
    if (miscased !== undefined) {
      throw new ConfigFileError(`${ini.file} [${miscased}]: section names are case-sensitive; write [server:${miscased.slice('server:'.length)}]`);
    }
    if (!listenerGiven) {
      const wanted = name === 'main' ? '[server:main]' : `[server:${name}] or [server:main]`;
      throw new ConfigFileError(`${ini.file} has no ${wanted} section: add one (with listen = HOST:PORT), or give --listen on the command line`);
    }
  } else {
    // The server reads no global conf (nor did Waitress's paste entry point): a key that
    // [DEFAULT] also sets would be dropped, and a dropped listen binds every address.
    const shadowed = ini.shadowedKeys(sectionName)[0];
    if (shadowed !== undefined) {
      throw new ConfigFileError(
        `${where(ini.file, sectionName, shadowed)}: [DEFAULT] sets ${shadowed} too, and PasteDeploy's rule drops a section's key that [DEFAULT] has, ` +
        `so neither value would reach the server: rename it in [DEFAULT] (and write ${shadowed} = %(its_new_name)s here), or remove it there`,
      );
    }
    for (const [key, value] of ini.section(sectionName)) {
      if (key === 'use') {
        if (!SERVER_USES.has(value.toLowerCase())) {
          throw new ConfigFileError(`${where(ini.file, sectionName, key)}: garcon serves with "egg:garcon#main", not ${JSON.stringify(value)}`);
        }
        continue;
      }
      if (key.startsWith('set ') || key.startsWith('get ')) {
        throw new ConfigFileError(`${where(ini.file, sectionName, key)}: get and set are not supported in a server section; write the value, or %(name)s from [DEFAULT]`);
      }
      const spec = OPTIONS.find((o) => o.snake === key);
      if (spec === undefined) {
        const camel = findOption(key);
        const hint = camel ? ` (ini keys use underscores: ${camel.snake})` : '';
        throw new ConfigFileError(`${where(ini.file, sectionName, key)}: unknown option${hint}`);
      }
      if (spec.flag === null) throw new ConfigFileError(`${where(ini.file, sectionName, key)}: "${spec.name}" can only be given in code`);
      options[spec.name] = checked(ini, sectionName, key, spec.name, value);
    }
  }
  if (ini.has('logger_garcon')) {
    const level = ini.section('logger_garcon').get('level');
    if (level !== undefined) options.logLevel = checked(ini, 'logger_garcon', 'level', 'logLevel', level);
  }
  return options;
}

function checked(ini: IniFile, section: string, key: string, option: string, value: string): string {
  try {
    castOption(findOption(option)!, value);
  } catch (err) {
    if (err instanceof InvalidOptionError) throw new ConfigFileError(`${where(ini.file, section, key)}: ${err.message}`);
    throw err;
  }
  return value;
}

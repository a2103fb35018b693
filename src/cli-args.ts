// garcon-serve's command line: Waitress's getopt rules (options before the app,
// `--` ends them, unique prefixes of long names, a value flag swallows the next
// argument) over flags generated from the options table, and the --help text.

import { OPTIONS, type OptionSpec } from './adjustments.js';
import { CommandLineError } from './errors.js';

export interface CommandLine {
  help: boolean;
  /** MODULE:EXPORT, or null when none was given. */
  app: string | null;
  /** Call the export with no arguments and serve what it returns (a factory). */
  call: boolean;
  /** An ini file, optionally with `#name` (default "main"). */
  config: string | null;
  /** Option values as text, under their camelCase names; conversion happens in makeAdjustments. */
  options: Record<string, string>;
}

/** How a flag takes its value. */
type Arity = 'value' | 'switch' | 'optional';

interface Flag {
  long: string;
  arity: Arity;
  /** camelCase option it sets, or a runner-only action. */
  target: string;
  /** Value a switch stores. */
  stores?: string;
}

// Runner flags that are not adjustments.
const RUNNER_FLAGS: readonly Flag[] = [
  { long: 'help', arity: 'switch', target: ':help' },
  { long: 'app', arity: 'value', target: ':app' },
  { long: 'call', arity: 'switch', target: ':call' },
  { long: 'config', arity: 'value', target: ':config' },
];

function flagsOf(spec: OptionSpec): Flag[] {
  if (spec.flag === null) return [];
  const long = spec.flag.slice(2);
  if (spec.kind === 'bool') {
    return [
      { long, arity: 'switch', target: spec.name, stores: 'true' },
      { long: `no-${long}`, arity: 'switch', target: spec.name, stores: 'false' },
    ];
  }
  // --access-log alone turns it on; --access-log=FILE names a file (never the next argument,
  // which would make `--access-log app.js:app` swallow the app).
  if (spec.kind === 'access-log') {
    return [
      { long, arity: 'optional', target: spec.name, stores: 'true' },
      { long: `no-${long}`, arity: 'switch', target: spec.name, stores: 'false' },
    ];
  }
  return [{ long, arity: 'value', target: spec.name }];
}

/** Defaults garcon-serve uses in place of serve()'s: a server run from a shell says what it does. */
export const CLI_DEFAULTS: Readonly<Record<string, string>> & { readonly logLevel: string } = { logLevel: 'info' };

const FLAGS: readonly Flag[] = [...RUNNER_FLAGS, ...OPTIONS.flatMap(flagsOf)];

/** The flag `--name` means: an exact name, else the only flag it is a prefix of (getopt). */
function findFlag(name: string): Flag {
  const exact = FLAGS.find((f) => f.long === name);
  if (exact) return exact;
  const candidates = FLAGS.filter((f) => f.long.startsWith(name));
  if (candidates.length === 1 && name !== '') return candidates[0] as Flag;
  if (candidates.length > 1 && name !== '') {
    throw new CommandLineError(`option --${name} is ambiguous (${candidates.map((f) => `--${f.long}`).join(', ')})`);
  }
  throw new CommandLineError(`option --${name} not recognized`);
}

/** Parse argv (without node and the script). Throws CommandLineError. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const result: CommandLine = { help: false, app: null, call: false, config: null, options: {} };
  const listen: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-') throw new CommandLineError(`option ${arg} not recognized (options are long: --name)`);
      break; // first positional: options end here (getopt)
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const flag = findFlag(name);
    let value: string;
    if (flag.arity === 'value') {
      if (eq !== -1) {
        value = arg.slice(eq + 1);
      } else {
        if (i + 1 >= argv.length) throw new CommandLineError(`option --${flag.long} requires argument`);
        value = argv[++i] as string;
      }
    } else if (flag.arity === 'optional') {
      value = eq === -1 ? (flag.stores as string) : arg.slice(eq + 1);
    } else {
      if (eq !== -1) throw new CommandLineError(`option --${flag.long} must not have an argument`);
      value = flag.stores ?? 'true';
    }
    switch (flag.target) {
      case ':help':
        result.help = true;
        break;
      case ':call':
        result.call = true;
        break;
      case ':app':
        if (result.app !== null) throw new CommandLineError('Provide only one application');
        result.app = value;
        break;
      case ':config':
        result.config = value;
        break;
      case 'listen':
        listen.push(value); // repeatable; the entries add up
        break;
      default:
        result.options[flag.target] = value;
    }
  }
  if (listen.length > 0) result.options.listen = listen.join(' ');
  const positional = argv.slice(i);
  const late = positional.slice(1).find((arg) => arg.startsWith('-') && arg !== '-');
  if (late !== undefined && argv[i - 1] !== '--') {
    throw new CommandLineError(`Options must come before MODULE:EXPORT: ${late} came after ${positional[0]}`);
  }
  if (positional.length > 1 || (positional.length === 1 && result.app !== null)) {
    throw new CommandLineError('Provide only one application');
  }
  if (positional.length === 1) result.app = positional[0] as string;
  return result;
}

function describeDefault(spec: OptionSpec): string {
  const value = spec.default;
  if (spec.kind === 'octal' && typeof value === 'number') return value.toString(8);
  if (Array.isArray(value)) return value.join(' ');
  if (value === null || value === '' || value === false) return '';
  return String(value);
}

function flagUsage(spec: OptionSpec): string {
  const flag = spec.flag as string;
  if (spec.kind === 'bool') return `${flag}, --no-${flag.slice(2)}`;
  if (spec.kind === 'access-log') return `${flag}[=FILE], --no-${flag.slice(2)}`;
  return `${flag}=${spec.snake.toUpperCase()}`;
}

/** The --help text, generated from the options table. */
export function usage(prog = 'garcon-serve'): string {
  const lines = [
    'Usage:',
    '',
    `    ${prog} [OPTIONS] MODULE:EXPORT`,
    `    ${prog} [OPTIONS] --config FILE.ini[#NAME]`,
    '',
    'MODULE is a file path (./app.js) or a package name; EXPORT is a dotted name inside it',
    '(default: the default export). Options must come before MODULE:EXPORT.',
    '',
    'Runner options:',
    '',
    '  --help',
    '      Show this message and exit.',
    '  --app=MODULE:EXPORT',
    '      The application (instead of the positional argument).',
    '  --call',
    '      Call EXPORT with no arguments and serve the application it returns.',
    '  --config=FILE.ini[#NAME]',
    '      Read [server:NAME] options and the [app/pipeline:NAME] application from a PasteDeploy-style ini',
    '      file (NAME defaults to main). Command-line options override the file.',
    '',
    'Server options (ini keys are the same names with underscores):',
    '',
  ];
  for (const spec of OPTIONS) {
    if (spec.flag === null) continue;
    lines.push(`  ${flagUsage(spec)}`);
    const def = CLI_DEFAULTS[spec.name] ?? describeDefault(spec);
    lines.push(`      ${spec.help}${spec.kind === 'bool' ? ` Default: ${spec.default ? 'on' : 'off'}.` : def ? ` Default: ${def}.` : ''}`);
  }
  return lines.join('\n') + '\n';
}

// The default `garcon` logger: plain lines on stderr at a chosen level.
// Users pass their own (pino, console, ...) through the `logger` option.

import { format, inspect } from 'node:util';
import type { Logger } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * The line for `args`. The first is never a format string (garcon's messages hold
 * client text, such as a request target, in which '%c' or '%s' would swallow the
 * error after it), and an argument that cannot be printed (a throwing toString,
 * stack or inspect hook, from an app's thrown value) is named, not thrown.
 */
function line(args: unknown[]): string {
  try {
    return format('%s', ...args);
  } catch {
    return args.map((arg) => {
      try {
        return typeof arg === 'string' ? arg : inspect(arg);
      } catch {
        return '[unprintable value]';
      }
    }).join(' ');
  }
}

/** `logger` with its four methods guarded: a logger that throws must not take a request, or the server, down. */
export function guardLogger(logger: Logger): Logger {
  const guard = (method: keyof Logger) => (...args: unknown[]): void => {
    try {
      logger[method](...args);
    } catch (err) {
      try {
        process.stderr.write(`ERROR:garcon:the logger's ${method}() failed: ${line([err])}; the message was: ${line(args)}\n`);
      } catch {
        // stderr is gone too: nothing left to tell
      }
    }
  };
  return { debug: guard('debug'), info: guard('info'), warn: guard('warn'), error: guard('error') };
}

/**
 * A logger printing `LEVEL:garcon:message` lines (Python logging's default shape,
 * which Waitress users know) to `stream`, dropping messages below `level`.
 */
export function createLogger(level: LogLevel = 'warn', stream: NodeJS.WritableStream = process.stderr, name = 'garcon'): Logger {
  const threshold = RANK[level];
  const emit = (lvl: Exclude<LogLevel, 'silent'>, label: string) =>
    RANK[lvl] < threshold
      ? () => undefined
      : (...args: unknown[]) => {
          stream.write(`${label}:${name}:${line(args)}\n`);
        };
  return {
    debug: emit('debug', 'DEBUG'),
    info: emit('info', 'INFO'),
    warn: emit('warn', 'WARNING'),
    error: emit('error', 'ERROR'),
  };
}

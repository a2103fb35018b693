// The default `garcon` logger: plain lines on stderr at a chosen level.
// Users pass their own (pino, console, ...) through the `logger` option.

import { format } from 'node:util';
import type { Logger } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

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
          stream.write(`${label}:${name}:${format(...args)}\n`);
        };
  return {
    debug: emit('debug', 'DEBUG'),
    info: emit('info', 'INFO'),
    warn: emit('warn', 'WARNING'),
    error: emit('error', 'ERROR'),
  };
}

// garcon/middleware: opt-in WSGI-style middleware to put between garcon and an app.

/**
 * PrefixMiddleware (PasteDeploy's `prefix` filter) for an app served below a path
 * on a reverse proxy.
 *
 * @example
 * ```ts
 * import { serve } from 'garcon';
 * import { prefixMiddleware } from 'garcon/middleware';
 *
 * // nginx: location /blog/ { proxy_pass http://127.0.0.1:8080; proxy_set_header X-Forwarded-Host $host; ... }
 * // The proxy headers come through garcon's trusted-proxy stage; the middleware only moves the path.
 * const app = prefixMiddleware(blogApp, { prefix: '/blog', scheme: 'https' });
 * await serve(app, { listen: '127.0.0.1:8080', trustedProxy: '127.0.0.1', trustedProxyHeaders: 'x-forwarded-for x-forwarded-host' });
 * ```
 *
 * From an ini file, a `[filter:...]` section's keys (`prefix`, `scheme`, `force_port`,
 * `translate_forwarded_server`) go through `prefixFilterFactory(globalConf, localConf)`,
 * which returns the middleware.
 */
export { prefixFilterFactory, prefixMiddleware, type PrefixOptions } from './prefix.js';

/**
 * TransLogger (Paste's `translogger` filter, the access log Waitress's documentation
 * points to): one Apache combined line per response, to stderr or a logger.
 *
 * @example
 * ```ts
 * const app = transLogger(myApp, { logger: (line) => myLog.info(line) });
 * ```
 *
 * From an ini file: `[filter:translogger] use = egg:Paste#translogger` (or `egg:garcon#translogger`),
 * with an optional `format`; `transLoggerFilterFactory(globalConf, localConf)` returns the middleware.
 */
export { TRANSLOGGER_FIELDS, transLogger, transLoggerFilterFactory, type TransLoggerOptions } from './translogger.js';

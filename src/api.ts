// garcon's public surface: serve()/createServer(), the option table, the error
// classes and the application types (index.ts adds them as a default export).

export { serve, createServer, GarconServer } from './server.js';
export { makeAdjustments, OPTIONS, type Adjustments, type ServeOptions, type OptionSpec } from './adjustments.js';
export { FileWrapper } from './file-wrapper.js';
export { clearStaleSocket as clearStaleUnixSocket } from './unix-socket-file.js';
export { loadApp } from './app-loader.js';
export { createLogger, type LogLevel } from './logger.js';
export {
  HttpError,
  BadRequest,
  RequestEntityTooLarge,
  RequestHeaderFieldsTooLarge,
  UriTooLong,
  InternalServerError,
  NotImplemented,
  ServiceUnavailable,
  HttpVersionNotSupported,
  GarconError,
  InvalidOptionError,
  AppContractError,
  ClientDisconnected,
  InputClosedError,
  ListenError,
  ServerClosedError,
  AppResolutionError,
  ConfigFileError,
} from './errors.js';
export type {
  App,
  AppIterable,
  Chunk,
  Environ,
  ErrorStream,
  FileLike,
  Logger,
  Middleware,
  StartResponse,
  WriteCallable,
  WsgiInput,
} from './types.js';

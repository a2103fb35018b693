// The package's entry point: every export of api.ts, also as one default export,
// so that `import garcon from 'garcon'` works both in Node's ES modules and in
// TypeScript compiled to CommonJS (whose default import of an __esModule module
// reads its `default` property).

import * as garcon from './api.js';

export * from './api.js';
export default garcon;

// The package is usable from ES modules (import) and CommonJS (require), with
// named exports for both entry points.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

describe('package entry points', () => {
  it('import gives named exports of "garcon" and "garcon/middleware"', () => {
    const out = run(['--input-type=module', '-e',
      "import { serve, createServer, InvalidOptionError } from 'garcon'; import { prefixMiddleware } from 'garcon/middleware';" +
      'console.log([serve, createServer, InvalidOptionError, prefixMiddleware].map((f) => typeof f).join())']);
    expect(out).to.equal('function,function,function,function');
  });

  it('require gives the same exports', () => {
    const out = run(['-e',
      "const g = require('garcon'); const m = require('garcon/middleware');" +
      'console.log([g.serve, g.createServer, g.InvalidOptionError, m.prefixMiddleware].map((f) => typeof f).join())']);
    expect(out).to.equal('function,function,function,function');
  });
});

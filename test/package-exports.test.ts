// The package is usable from ES modules (import) and CommonJS (require), with
// named exports for both entry points.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
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

  it('a default import gives them all too, from ES modules and from TypeScript compiled to CommonJS', () => {
    const esm = run(['--input-type=module', '-e', "import garcon from 'garcon'; console.log(typeof garcon.serve, typeof garcon.ListenError)"]);
    expect(esm).to.equal('function function');
    // tsc's CommonJS output of `import garcon from 'garcon'` reads require('garcon').default.
    const cjs = run(['-e', "const g = require('garcon'); console.log(typeof g.default.serve, g.default.serve === g.serve)"]);
    expect(cjs).to.equal('function true');
  });

  it('require gives the same exports', () => {
    const out = run(['-e',
      "const g = require('garcon'); const m = require('garcon/middleware');" +
      'console.log([g.serve, g.createServer, g.InvalidOptionError, m.prefixMiddleware].map((f) => typeof f).join())']);
    expect(out).to.equal('function,function,function,function');
  });
});

describe('the published file list (npm pack)', () => {
  const packed = (): string[] => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path);
  };

  it('ships every file README.md links to, and no Docker file (they build from a checkout of the repository)', function () {
    this.timeout(30_000);
    const files = packed();
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    for (const name of ['SECURITY.md', 'nginx/apache/garcon.conf', 'nginx/proxy-headers.conf']) {
      expect(readme, name).to.include(name);
      expect(files, name).to.include(name);
    }
    expect(files.filter((file) => /Dockerfile|docker-compose/.test(file))).to.deep.equal([]);
  });
});

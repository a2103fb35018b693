// `npx garcon-serve` works from a project that depends on garcon: the package's
// `bin` is linked into the dependent project and runs from there.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

describe('npx garcon-serve from a dependent project', function () {
  this.timeout(60000);
  let project: string;
  before(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'garcon-dependent-'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'dependent', version: '1.0.0', private: true }));
    // A directory dependency is linked, so this needs no registry.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', root], { cwd: project, stdio: 'pipe' });
  });
  after(() => fs.rmSync(project, { recursive: true, force: true }));

  it('links garcon-serve into node_modules/.bin and runs it', () => {
    expect(fs.readlinkSync(path.join(project, 'node_modules', '.bin', 'garcon-serve'))).to.match(/garcon[/\\]dist[/\\]src[/\\]cli\.js$/);
    const help = execFileSync('npx', ['--no-install', 'garcon-serve', '--help'], { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(help).to.match(/^Usage:/);
    expect(help).to.contain('garcon-serve [OPTIONS] MODULE:EXPORT');
  });
});

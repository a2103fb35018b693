// Docker cannot run here, so nginx/docker-compose.yml is checked for what can
// be checked without it: it mounts the shipped nginx files, fills in every
// placeholder of the template it mounts, and garcon trusts exactly nginx.

import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NGINX_DIR, ROOT } from './harness.js';

const compose = fs.readFileSync(path.join(NGINX_DIR, 'docker-compose.yml'), 'utf8');

/** `- ./host/path:/container/path[:ro]` volume lines, as [host, container]. */
function volumes(): [string, string][] {
  return [...compose.matchAll(/^\s+- (\.\/[^:\s]+):([^:\s]+)(?::ro)?$/gm)].map((m) => [m[1]!, m[2]!]);
}

describe('nginx/docker-compose.yml', () => {
  it('mounts the shipped template and header file, where the nginx image and the template expect them', () => {
    const mounted = volumes();
    expect(mounted).to.deep.include(['./templates/garcon-tcp.conf.template', '/etc/nginx/templates/default.conf.template']);
    // The template includes garcon/proxy-headers.conf relative to /etc/nginx/.
    expect(mounted).to.deep.include(['./proxy-headers.conf', '/etc/nginx/garcon/proxy-headers.conf']);
    for (const [source] of mounted) expect(fs.existsSync(path.join(NGINX_DIR, source)), source).to.equal(true);
  });

  it('gives every placeholder of the mounted template a value', () => {
    const template = fs.readFileSync(path.join(NGINX_DIR, 'templates', 'garcon-tcp.conf.template'), 'utf8');
    const placeholders = new Set([...template.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((m) => m[1]!));
    expect(placeholders.size).to.be.greaterThan(0);
    for (const name of placeholders) expect(compose, name).to.match(new RegExp(`^\\s+${name}: \\S`, 'm'));
  });

  it("has garcon trust nginx's fixed address for the four headers nginx sets", () => {
    const nginxAddress = /ipv4_address: (\S+)/.exec(compose)?.[1];
    expect(nginxAddress).to.be.a('string');
    expect(compose).to.include(`--trusted-proxy=${nginxAddress}`);
    expect(compose).to.include('--trusted-proxy-headers="x-forwarded-for x-forwarded-proto x-forwarded-host x-forwarded-port"');
  });

  it('publishes nginx on the port it listens on (nginx reports that port as X-Forwarded-Port)', () => {
    const listen = /NGINX_LISTEN: "(\d+)"/.exec(compose)?.[1];
    expect(listen).to.be.a('string');
    expect(compose).to.include(`- "${listen}:${listen}"`);
  });

  it('serves an app the image builds', () => {
    const app = /(dist\/fixtures\/[a-z-]+)\.js:app/.exec(compose)?.[1];
    expect(app).to.be.a('string');
    expect(fs.existsSync(path.join(ROOT, `${app!.replace('dist/', '')}.ts`))).to.equal(true);
  });
});

// Listeners: listen lists (IPv4 and IPv6), unix sockets with permissions,
// already-open sockets, the "Serving on" lines, and errors at start-up.

import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as sinon from 'sinon';
import { app as echo } from '../../fixtures/echo.js';
import { InvalidOptionError, ListenError, ServerClosedError } from '../../src/errors.js';
import { createServer, serve } from '../../src/server.js';
import { get, recordingLogger, send } from '../helpers/http.js';

const envOf = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;

function hasIpv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.internal));
}

function tmpPath(name: string): string {
  return path.join(os.tmpdir(), `garcon-test-${process.pid}-${name}`);
}

describe('listeners', () => {
  afterEach(() => sinon.restore());

  it('serve() prints one "Serving on" line per listener, IPv6 in brackets', async function () {
    if (!hasIpv6Loopback()) this.skip();
    const out = sinon.stub(process.stdout, 'write').returns(true);
    const server = await serve(echo, { listen: '127.0.0.1:0 [::1]:0', logger: recordingLogger() });
    const lines = out.getCalls().map((c) => String(c.args[0]));
    out.restore();
    try {
      const [v4, v6] = server.addresses as net.AddressInfo[];
      expect(lines).to.deep.equal([`Serving on http://127.0.0.1:${v4!.port}\n`, `Serving on http://[::1]:${v6!.port}\n`]);
      const ex4 = await send(v4!.port, get('/'), { responses: 1 });
      const ex6 = await send(v6!.port, get('/'), { responses: 1, host: '::1' });
      expect(envOf(ex4.responses[0]!.body).SERVER_PORT).to.equal(String(v4!.port));
      expect(envOf(ex6.responses[0]!.body).REMOTE_ADDR).to.equal('::1');
    } finally {
      await server.close();
    }
  });

  it('host and port options bind one TCP listener', async () => {
    const server = await createServer(echo, { host: '127.0.0.1', port: 0, logger: recordingLogger() }).listen();
    try {
      expect(server.addresses).to.have.length(1);
      expect((server.addresses[0] as net.AddressInfo).address).to.equal('127.0.0.1');
    } finally {
      await server.close();
    }
  });

  it('a port in use is an error from listen(), and nothing stays bound', async () => {
    const first = await createServer(echo, { listen: '127.0.0.1:0', logger: recordingLogger() }).listen();
    const port = (first.addresses[0] as net.AddressInfo).port;
    try {
      const second = createServer(echo, { listen: `127.0.0.1:${port}`, logger: recordingLogger() });
      let error: unknown;
      await second.listen().catch((err: unknown) => {
        error = err;
      });
      expect(error).to.be.instanceOf(ListenError).with.property('code', 'GARCON_ERR_LISTEN');
      expect((error as ListenError).message).to.match(new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      expect(((error as ListenError).cause as NodeJS.ErrnoException).code).to.equal('EADDRINUSE');
      expect(second.addresses).to.deep.equal([]);
    } finally {
      await first.close();
    }
  });

  it('bad options fail at creation with the option named', () => {
    expect(() => createServer(echo, { threads: 0 })).to.throw(InvalidOptionError, /threads/);
    expect(() => createServer(echo, { listen: '127.0.0.1:1', port: 2 })).to.throw(InvalidOptionError, /listen/);
    expect(() => createServer(null as never, {})).to.throw(InvalidOptionError, /application/);
  });

  describe('unix sockets', () => {
    const sock = tmpPath('unix.sock');
    afterEach(() => fs.rmSync(sock, { force: true }));

    it('serves on a unix socket with the requested permissions and removes it on close', async () => {
      const logger = recordingLogger();
      const server = await createServer(echo, { unixSocket: sock, unixSocketPerms: '660', logger }).listen();
      try {
        expect(fs.statSync(sock).mode & 0o777).to.equal(0o660);
        expect(logger.messages('info')).to.include(`unix socket ${sock}: mode 660 (rw-rw----)`);
        expect(server.addresses).to.deep.equal([sock]);
        const ex = await send(0, get('/'), { responses: 1, path: sock });
        const env = envOf(ex.responses[0]!.body);
        expect(env.REMOTE_ADDR).to.equal('localhost');
        expect(env.REMOTE_PORT).to.equal('');
        expect(env.SERVER_PORT).to.equal(sock);
      } finally {
        await server.close();
      }
      expect(fs.existsSync(sock)).to.equal(false);
    });

    it('replaces a stale socket file', async () => {
      // A crashed previous run: killed while listening, so the file stays and nobody listens.
      spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      expect(fs.lstatSync(sock).isSocket()).to.equal(true);
      const server = await createServer(echo, { unixSocket: sock, logger: recordingLogger() }).listen();
      try {
        const ex = await send(0, get('/'), { responses: 1, path: sock });
        expect(ex.responses[0]!.status).to.equal(200);
      } finally {
        await server.close();
      }
    });

    it('refuses a socket a running server answers on, which keeps serving', async () => {
      const first = await createServer(echo, { unixSocket: sock, logger: recordingLogger() }).listen();
      try {
        let error: unknown;
        await createServer(echo, { unixSocket: sock, logger: recordingLogger() }).listen().catch((err: unknown) => {
          error = err;
        });
        expect(error).to.be.instanceOf(ListenError).with.property('code', 'GARCON_ERR_LISTEN');
        expect(String(error)).to.contain(`a running server answers on ${sock}`);
        const ex = await send(0, get('/'), { responses: 1, path: sock });
        expect(ex.responses[0]!.status).to.equal(200);
      } finally {
        await first.close();
      }
    });

    it('refuses a path longer than a unix socket path may be, naming the option, and leaves nothing behind', async () => {
      const long = path.join(os.tmpdir(), `${'x'.repeat(120)}.sock`);
      let error: unknown;
      await createServer(echo, { unixSocket: long, logger: recordingLogger() }).listen().catch((err: unknown) => {
        error = err;
      });
      expect(error).to.be.instanceOf(InvalidOptionError).with.property('option', 'unixSocket');
      expect(String(error)).to.match(/is longer than the 10[37] bytes/);
      expect(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('xxxxxxxxxx'))).to.deep.equal([]);
    });

    it('adopts one from a descriptor (systemd style): its path is printed and its peers are unix peers', async function () {
      if (!fs.existsSync('/proc/net/unix')) this.skip(); // the path of an adopted descriptor comes from Linux's /proc
      this.timeout(20000);
      // A parent binds the socket, hands it to the server as descriptor 3, and dies
      // without closing it (a clean close would remove the file).
      const child = path.join(__dirname, 'adopted-unix-server.js');
      const code = `const net = require('net'); const { spawn } = require('child_process');
        const s = net.createServer().listen(${JSON.stringify(sock)}, () => {
          spawn(process.execPath, [${JSON.stringify(child)}], { stdio: ['ignore', 'inherit', 'inherit', s._handle.fd] });
          process.kill(process.pid, 'SIGKILL');
        });`;
      const parent = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      const pid = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ready line: ${lines.join(' | ')}`)), 10000);
        readline.createInterface({ input: parent.stdout! }).on('line', (line) => {
          lines.push(line);
          if (line.startsWith('ready ')) {
            clearTimeout(timer);
            resolve(Number(line.slice(6)));
          }
        });
      });
      try {
        expect(lines).to.include(`Serving on http://unix:${sock}`);
        // Trusted as a proxy by trustedProxy 'unix' (contract 14): the forwarded client wins.
        const ex = await send(0, get('/', 'X-Forwarded-For: 203.0.113.7\r\n'), { responses: 1, path: sock });
        const env = envOf(ex.responses[0]!.body);
        expect([env.REMOTE_ADDR, env.SERVER_PORT]).to.deep.equal(['203.0.113.7', sock]);
      } finally {
        process.kill(pid, 'SIGTERM');
      }
    });

    it('garcon-serve --workers adopts one from a descriptor too: its path is printed and is SERVER_PORT', async function () {
      if (!fs.existsSync('/proc/net/unix')) this.skip(); // the path of an adopted descriptor comes from Linux's /proc
      this.timeout(30000);
      const cli = path.join(__dirname, '..', '..', 'src', 'cli.js');
      const app = `${path.join(__dirname, '..', '..', 'fixtures', 'echo.js')}:app`;
      // As systemd does: bind, then hand the socket over as descriptor 3 (the binder dies without closing it).
      const code = `const net = require('net'); const { spawn } = require('child_process');
        const s = net.createServer().listen(${JSON.stringify(sock)}, () => {
          const c = spawn(process.execPath, [${JSON.stringify(cli)}, '--sockets=3', '--workers=2', ${JSON.stringify(app)}],
            { stdio: ['ignore', 'inherit', 'inherit', s._handle.fd] });
          console.log('primary ' + c.pid);
          process.kill(process.pid, 'SIGKILL');
        });`;
      const binder = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      const serving = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no Serving on line: ${lines.join(' | ')}`)), 20000);
        readline.createInterface({ input: binder.stdout! }).on('line', (line) => {
          lines.push(line);
          if (line.startsWith('Serving on')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      try {
        await serving;
        expect(lines).to.include(`Serving on http://unix:${sock}`);
        const ex = await send(0, get('/'), { responses: 1, path: sock });
        expect(envOf(ex.responses[0]!.body).SERVER_PORT).to.equal(sock);
      } finally {
        const primary = lines.find((line) => line.startsWith('primary '));
        if (primary !== undefined) process.kill(Number(primary.slice(8)), 'SIGTERM');
      }
    });

    it('says so when the socket\'s directory does not exist (libuv reports EACCES)', async () => {
      const missing = path.join(os.tmpdir(), `garcon-no-such-dir-${process.pid}`, 'x.sock');
      let error: unknown;
      await createServer(echo, { unixSocket: missing, logger: recordingLogger() }).listen().catch((err: unknown) => {
        error = err;
      });
      expect(error).to.be.instanceOf(ListenError);
      expect(String(error)).to.contain(`the directory ${path.dirname(missing)} does not exist`);
    });

    it('in a node:cluster worker, a stale socket file is an error saying to clear it in the primary; clearStaleUnixSocket() there does', async function () {
      this.timeout(20000);
      spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      const script = path.join(__dirname, '..', 'helpers', 'cluster-unix-worker.js');
      const bare = spawnSync(process.execPath, [script, sock, 'bare'], { encoding: 'utf8', timeout: 15000 });
      expect(bare.stdout).to.contain('in a node:cluster worker a socket file left behind is not replaced');
      expect(bare.stdout).to.contain('clearStaleUnixSocket(path)');
      const cleared = spawnSync(process.execPath, [script, sock, 'clear'], { encoding: 'utf8', timeout: 15000 });
      expect(cleared.stdout).to.contain('served 200');
      expect(fs.existsSync(sock)).to.equal(false);
    });

    it('refuses to replace a file that is not a socket', async () => {
      fs.writeFileSync(sock, 'precious');
      let error: unknown;
      await createServer(echo, { unixSocket: sock, logger: recordingLogger() }).listen().catch((err: unknown) => {
        error = err;
      });
      expect(error).to.be.instanceOf(InvalidOptionError);
      expect(String(error)).to.contain('is not a socket');
      expect(fs.readFileSync(sock, 'utf8')).to.equal('precious');
    });
  });

  it('a closed server cannot listen again, and leaves nothing bound', async () => {
    const server = createServer(echo, { listen: '127.0.0.1:0', logger: recordingLogger() });
    await server.listen();
    await server.close();
    let error: unknown;
    await server.listen().catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(ServerClosedError).with.property('code', 'GARCON_ERR_SERVER_CLOSED');
    expect(server.addresses).to.deep.equal([]);
  });

  it('workers > 1 from serve() outside a cluster worker: a clear InvalidOptionError, not one process claiming to be several', async () => {
    for (const make of [() => createServer(echo, { workers: 2 }), () => serve(echo, { listen: '127.0.0.1:0', workers: '3' })]) {
      let error: unknown;
      try {
        await make();
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(InvalidOptionError).with.property('option', 'workers');
      expect((error as Error).message).to.match(/only from garcon-serve .* node:cluster/);
    }
    const single = await serve(echo, { listen: '127.0.0.1:0', workers: 1 });
    try {
      const port = (single.addresses[0] as net.AddressInfo).port;
      const ex = await send(port, get('/'), { responses: 1 });
      expect(envOf(ex.responses[0]!.body)['wsgi.multiprocess']).to.equal(false);
    } finally {
      await single.close();
    }
  });

  it('close() while listen() is binding: listen() rejects with ServerClosedError and nothing stays bound', async () => {
    const server = createServer(echo, { listen: 'localhost:0', logger: recordingLogger() });
    const listening = server.listen(); // resolves the name first: close() comes in meanwhile
    await server.close();
    let error: unknown;
    await listening.catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(ServerClosedError);
    expect(server.addresses).to.deep.equal([]);
  });

  it('listen() called again while binding returns the same promise: one set of listeners', async () => {
    const server = createServer(echo, { listen: '127.0.0.1:0', logger: recordingLogger() });
    try {
      const [a, b] = await Promise.all([server.listen(), server.listen()]);
      expect(a).to.equal(server);
      expect(b).to.equal(server);
      expect(server.addresses).to.have.length(1);
      expect(await server.listen()).to.equal(server);
      expect(server.addresses).to.have.length(1);
    } finally {
      await server.close();
    }
  });

  it('a failed listen() may be tried again', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const server = createServer(echo, { listen: `127.0.0.1:${port}`, logger: recordingLogger() });
    try {
      const errors = await Promise.allSettled([server.listen(), server.listen()]);
      expect(errors.map((e) => e.status)).to.deep.equal(['rejected', 'rejected']);
      await new Promise((resolve) => blocker.close(resolve));
      await server.listen();
      const ex = await send(port, get('/'), { responses: 1 });
      expect(ex.responses[0]!.status).to.equal(200);
    } finally {
      await server.close();
      blocker.close();
    }
  });

  it('a net.Server in "sockets" that is not listening is a ListenError saying so, not a TypeError', async () => {
    let error: unknown;
    await createServer(echo, { sockets: [net.createServer()], logger: recordingLogger() }).listen().catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(ListenError);
    expect(String(error)).to.contain('Cannot listen on the server given in "sockets": it has no bound socket to adopt');
  });

  it('a descriptor that cannot listen is a ListenError naming it', async () => {
    let error: unknown;
    await createServer(echo, { sockets: [99999], logger: recordingLogger() }).listen().catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(ListenError);
    expect(String(error)).to.contain('Cannot listen on descriptor 99999 (given in "sockets")');
  });

  it('adopts an already-open listening socket (socket activation)', async () => {
    const handle = net.createServer();
    await new Promise<void>((resolve) => handle.listen(0, '127.0.0.1', resolve));
    const port = (handle.address() as net.AddressInfo).port;
    const server = await createServer(echo, { sockets: [handle], logger: recordingLogger() }).listen();
    try {
      const ex = await send(port, get('/'), { responses: 1 });
      expect(envOf(ex.responses[0]!.body).SERVER_PORT).to.equal(String(port));
    } finally {
      await server.close();
      handle.close();
    }
  });
});

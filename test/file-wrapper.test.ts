import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppContractError } from '../src/errors.js';
import { FileWrapper, fileWrapper } from '../src/file-wrapper.js';

describe('FileWrapper', () => {
  const file = path.join(os.tmpdir(), `garcon-unit-${process.pid}.txt`);
  before(() => fs.writeFileSync(file, '0123456789'));
  after(() => fs.rmSync(file, { force: true }));

  it('refuses what it cannot read and bad block sizes', () => {
    expect(() => fileWrapper({} as never)).to.throw(AppContractError);
    expect(() => fileWrapper(-1)).to.throw(AppContractError);
    expect(() => fileWrapper({ read: () => new Uint8Array() }, 0)).to.throw(AppContractError);
  });

  it('a numeric fd is seekable, sized from fstat, iterated in blocks, and closed', async () => {
    const fd = fs.openSync(file, 'r');
    const w = fileWrapper(fd, 4);
    expect(w.seekable()).to.equal(true);
    expect(w.extent()).to.deep.equal({ start: 0, available: 10 });
    expect([...w].map((b) => Buffer.from(b).toString())).to.deep.equal(['0123', '4567', '89']);
    w.close();
    expect(() => fs.fstatSync(fd)).to.throw();
  });

  it('a descriptor already read into is sized and iterated from its offset', function () {
    if (!fs.existsSync('/proc/self/fdinfo')) this.skip(); // the offset is read from Linux's /proc
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, Buffer.alloc(3), 0, 3, null);
      const w = fileWrapper(fd, 4);
      expect(w.extent()).to.deep.equal({ start: 3, available: 7 });
      expect(Buffer.concat([...w]).toString()).to.equal('3456789');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a descriptor of an empty or size-less file (a /proc file) is not seekable: it is read until it ends', function () {
    const empty = `${file}.empty`;
    fs.writeFileSync(empty, '');
    const fd = fs.openSync(empty, 'r');
    try {
      const w = fileWrapper(fd);
      expect(w.seekable()).to.equal(false);
      expect([...w]).to.deep.equal([]);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(empty);
    }
    if (!fs.existsSync('/proc/self/status')) return;
    const proc = fs.openSync('/proc/self/status', 'r');
    try {
      const w = fileWrapper(proc, 64);
      expect(w.seekable()).to.equal(false);
      expect(Buffer.concat([...w]).toString()).to.match(/^Name:\t[\s\S]*\nPid:\t/);
    } finally {
      fs.closeSync(proc);
    }
  });

  it('a FileHandle is seekable and sized', async () => {
    const handle = await fs.promises.open(file, 'r');
    const w = new FileWrapper(handle);
    expect(w.fd).to.equal(handle.fd);
    expect(w.extent()).to.deep.equal({ start: 0, available: 10 });
    w.close();
  });

  it('a file-like object: seekable() wins, else seek+tell; extent() keeps the position', () => {
    let position = 2;
    const like = {
      read: (n: number) => Buffer.from('0123456789'.slice(position, (position += n))),
      seek: (offset: number, whence = 0) => (position = (whence === 2 ? 10 : whence === 1 ? position : 0) + offset),
      tell: () => position,
    };
    const w = fileWrapper(like, 3);
    expect(w.seekable()).to.equal(true);
    expect(w.extent()).to.deep.equal({ start: 2, available: 8 });
    expect(w.tell()).to.equal(2);
    expect(w.seek(1)).to.equal(1);
    expect(fileWrapper({ ...like, seekable: () => false }).seekable()).to.equal(false);
  });

  it('close() hands back what a file-like object\'s close() returns, so a rejection reaches the task', async () => {
    const failing = fileWrapper({ read: () => Buffer.alloc(0), close: async () => Promise.reject(new Error('late')) });
    let caught: unknown;
    await (failing.close() as Promise<unknown>).catch((err: unknown) => {
      caught = err;
    });
    expect(String(caught)).to.contain('late');
  });

  it('a read-only object is not seekable, iterates until an empty read, and close() reaches it', () => {
    let left = ['ab', 'c'];
    let closed = false;
    const w = fileWrapper({ read: () => Buffer.from(left.shift() ?? ''), close: () => { closed = true; } });
    expect(w.seekable()).to.equal(false);
    expect(() => w.seek(0)).to.throw(AppContractError);
    expect(() => w.tell()).to.throw(AppContractError);
    expect([...w].map((b) => Buffer.from(b).toString())).to.deep.equal(['ab', 'c']);
    w.close();
    expect(closed).to.equal(true);
    left = [];
  });
});

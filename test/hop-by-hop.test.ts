import { expect } from 'chai';
import { HOP_BY_HOP_KEYS } from '../src/header-names.js';
import { stripHopByHopHeaders } from '../src/hop-by-hop.js';
import type { Environ } from '../src/types.js';

function strip(headers: Record<string, string>): Record<string, unknown> {
  const environ = { PATH_INFO: '/', ...headers } as unknown as Environ;
  stripHopByHopHeaders(environ);
  return environ;
}

describe('hop-by-hop stripping', () => {
  it('removes every fixed hop-by-hop header', () => {
    const all = Object.fromEntries(HOP_BY_HOP_KEYS.map((key) => [key, 'x']));
    expect(HOP_BY_HOP_KEYS).to.have.length(8);
    expect(strip({ ...all, HTTP_ACCEPT: '*/*' })).to.deep.equal({ PATH_INFO: '/', HTTP_ACCEPT: '*/*' });
  });

  it('removes the headers the Connection field names, whatever their case and spacing', () => {
    const env = strip({
      HTTP_CONNECTION: 'keep-alive, X-Private-Hop ,\tx-other\t,, close',
      HTTP_X_PRIVATE_HOP: 'a',
      HTTP_X_OTHER: 'b',
      HTTP_X_KEPT: 'c',
    });
    expect(env).to.deep.equal({ PATH_INFO: '/', HTTP_X_KEPT: 'c' });
  });

  it('never removes Host, Content-Length or Content-Type through Connection', () => {
    const env = strip({
      HTTP_CONNECTION: 'host, content-length, content-type',
      HTTP_HOST: 'example.com',
      CONTENT_LENGTH: '3',
      CONTENT_TYPE: 'text/plain',
    });
    expect(env).to.deep.equal({ PATH_INFO: '/', HTTP_HOST: 'example.com', CONTENT_LENGTH: '3', CONTENT_TYPE: 'text/plain' });
  });

  it('ignores an option spelled with an underscore', () => {
    expect(strip({ HTTP_CONNECTION: 'x_kept', HTTP_X_KEPT: 'c' })).to.deep.equal({ PATH_INFO: '/', HTTP_X_KEPT: 'c' });
  });

  it('leaves a request without hop-by-hop headers alone', () => {
    expect(strip({ HTTP_ACCEPT: '*/*' })).to.deep.equal({ PATH_INFO: '/', HTTP_ACCEPT: '*/*' });
  });
});

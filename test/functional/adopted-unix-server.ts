// Child process for listeners.test.ts: serves the echo app on a unix socket it
// inherited as descriptor 3 (systemd socket activation), trusting unix peers as
// proxies. Prints the "Serving on" lines, then `ready PID`.

import { app as echo } from '../../fixtures/echo.js';
import { serve } from '../../src/server.js';

serve(echo, { sockets: '3', trustedProxy: 'unix', trustedProxyHeaders: 'x-forwarded-for', logLevel: 'error' }).then((server) => {
  process.stdout.write(`ready ${process.pid}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
});

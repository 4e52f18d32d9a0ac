// A second loopback server on another port, to catch a token the task must never send there.
import * as http from 'http';
import { AddressInfo } from 'net';

export /** A second loopback server on another port: records whether a request carried a credential. */
async function otherHost(): Promise<{ origin: string; hostPort: string; sawAuthorization: () => boolean; hits: () => number; close: () => Promise<void> }> {
  let auth = false;
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.headers.authorization) auth = true;
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"count":0,"value":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    sawAuthorization: () => auth,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// An HTTP proxy on 127.0.0.1 that records every request the browser sends through it and
// forwards plain-http requests to 127.0.0.1 only (nothing leaves the machine). Chromium is
// pointed at it with --proxy-server and "<-loopback>" in the bypass list, so even loopback
// requests (the test pages) go through it: what the browser asks for, from any context
// (pages, the extension's service worker and offscreen document), is in `log`.

import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** The absolute URL (for CONNECT: host:port). */
  url: string;
  host: string;
  cookie: string | undefined;
  referer: string | undefined;
  /** Sec-Fetch-Dest: "empty" for fetch() (the page's scripts or the extension), "image" for <img>. */
  dest: string | undefined;
}

export interface RecordingProxy {
  /** The --proxy-server value. */
  address: string;
  log: ProxiedRequest[];
  /** Browser flags that send everything, loopback included, through this proxy. */
  flags: string[];
  close(): Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const log: ProxiedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    log.push({
      method: req.method ?? 'GET',
      url: target.href,
      host: target.host,
      cookie: req.headers.cookie,
      referer: req.headers.referer,
      dest: req.headers['sec-fetch-dest'] as string | undefined,
    });
    if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1') {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('the test proxy forwards to 127.0.0.1 only');
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  // https and anything tunnelled: recorded and refused.
  server.on('connect', (req: IncomingMessage, socket) => {
    log.push({ method: 'CONNECT', url: req.url ?? '', host: req.url ?? '', cookie: undefined, referer: undefined, dest: undefined });
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const address = `http://127.0.0.1:${port}`;
  return {
    address,
    log,
    flags: [`--proxy-server=${address}`, '--proxy-bypass-list=<-loopback>'],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

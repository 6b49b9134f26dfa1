// A small HTTP server on 127.0.0.1 for test pages and images, with routes for bad input
// and a log of what was requested (and with which cookies).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.json': 'application/json',
};

export interface RequestLogEntry {
  path: string;
  /** Path and query string, as requested. */
  url: string;
  cookie: string | undefined;
  referer: string | undefined;
  /** Sec-Fetch-Dest: "image" for the page's <img>, "empty" for the extension's fetch(). */
  dest: string | undefined;
}

export interface TestServer {
  origin: string;
  log: RequestLogEntry[];
  /** Serves `html` at `path`. */
  page(path: string, html: string): void;
  route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  /** Holds static responses for `ms(entry)` milliseconds first (0: none), to slow a scan down. */
  delayStatic(ms: (entry: RequestLogEntry) => number): void;
  /** The same server under the host name "localhost": another site for per-site switches. */
  otherSiteOrigin: string;
  close(): Promise<void>;
}

/** Serves files under `staticDir` at /static/…, plus pages and routes added by the test. */
export async function startServer(staticDir: string): Promise<TestServer> {
  const pages = new Map<string, string>();
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const log: RequestLogEntry[] = [];
  let delay: (entry: RequestLogEntry) => number = () => 0;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entry: RequestLogEntry = {
      path,
      url: req.url ?? path,
      cookie: req.headers.cookie,
      referer: req.headers.referer,
      dest: req.headers['sec-fetch-dest'] as string | undefined,
    };
    log.push(entry);
    const html = pages.get(path);
    if (html !== undefined) {
      res.writeHead(200, { 'content-type': TYPES['.html'] ?? 'text/html', 'cache-control': 'no-store' });
      res.end(html);
      return;
    }
    const handler = routes.get(path);
    if (handler) return handler(req, res);
    if (path.startsWith('/static/')) {
      const rel = normalize(decodeURIComponent(path.slice('/static/'.length)));
      if (rel.startsWith('..')) {
        res.writeHead(403).end();
        return;
      }
      const wait = delay(entry);
      void new Promise((r) => setTimeout(r, wait))
        .then(() => readFile(join(staticDir, rel)))
        .then(
          (body) => {
            res.writeHead(200, { 'content-type': TYPES[extname(rel).toLowerCase()] ?? 'application/octet-stream' });
            res.end(body);
          },
          () => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'),
        );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    page: (path, html) => pages.set(path, html),
    route: (path, handler) => routes.set(path, handler),
    delayStatic: (ms) => {
      delay = ms;
    },
    otherSiteOrigin: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// A route of the test server that serves a picture only to requests a predicate lets through (a
// hotlink check: a Referer, a cookie, fetch metadata, a CORS origin), refusing the rest with 403,
// and records every request with the headers that decide.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestServer } from './server';

export interface GuardedRequest {
  path: string;
  referer: string | undefined;
  cookie: string | undefined;
  dest: string | undefined;
  site: string | undefined;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  status: number;
}

/** Serves `body` (a PNG) at `path` when `allow(req)`, else 403; appends each request to `seen`. */
export function guardedRoute(
  server: TestServer,
  seen: GuardedRequest[],
  path: string,
  allow: (req: IncomingMessage) => boolean,
  body: Buffer,
  headers: Record<string, string> = {},
): void {
  server.route(path, (req: IncomingMessage, res: ServerResponse): void => {
    const ok = allow(req);
    seen.push({
      path,
      referer: req.headers.referer,
      cookie: req.headers.cookie,
      dest: req.headers['sec-fetch-dest'] as string | undefined,
      site: req.headers['sec-fetch-site'] as string | undefined,
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
      status: ok ? 200 : 403,
    });
    if (!ok) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('hotlinking not allowed');
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store', ...headers }).end(body);
  });
}

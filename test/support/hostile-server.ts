// Image routes that misbehave, for test/e2e/hostile-images.test.ts: each is one way a server
// (or a page's author) can try to make the extension hang, read too much, decode a bomb, leak
// cookies or reach a private address. They are mounted on the ordinary test server
// (support/server.ts), which logs every request with its cookies.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestServer } from './server';
import { pngHeader } from './header-bytes';

export interface HostileCounters {
  /** Bytes the 100 MB route managed to send before the client hung up. */
  bigBytesSent: number;
  bigClosedEarly: boolean;
  /** Requests the SVG's script would have made, had it run. */
  beacons: number;
  /** Hops the redirect loop served. */
  loopHops: number;
  /** Connections held open by the never-answering route, closed at the end. */
  held: Set<ServerResponse>;
  /** Requests that reached /h/private-target.png (the "private" image), with their query. */
  privateHits: string[];
  /** Every request for /h/cookie.png: its query, Cookie and Referer headers. */
  cookieRequests: Array<{ url: string; cookie: string | undefined; referer: string | undefined }>;
}

const HUNDRED_MB = 100 * 1024 * 1024;

/** A 1x1 frame (LZW min code 2: clear, index 0, end), after a 10 ms graphic control extension. */
const TINY_FRAME = [0x21, 0xf9, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x02, 0x44, 0x01, 0x00];

/** `base` (a one-frame GIF) followed by `extra` more 1x1 frames. */
export function manyFrameGif(base: Uint8Array, extra: number): Uint8Array {
  if (base[base.length - 1] !== 0x3b) throw new Error('base GIF has no trailer');
  const out = new Uint8Array(base.length - 1 + extra * TINY_FRAME.length + 1);
  out.set(base.subarray(0, base.length - 1));
  for (let i = 0; i < extra; i++) out.set(TINY_FRAME, base.length - 1 + i * TINY_FRAME.length);
  out[out.length - 1] = 0x3b;
  return out;
}

/**
 * Mounts the hostile routes under /h/. `dir` holds real images (a JPEG to truncate, a one-frame
 * GIF to multiply); `privateOrigin` is where the private-address redirect points.
 */
export function mountHostileRoutes(server: TestServer, dir: string, files: { jpeg: string; gif: string; png: string }, privateOrigin: string): HostileCounters {
  const counters: HostileCounters = { bigBytesSent: 0, bigClosedEarly: false, beacons: 0, loopHops: 0, held: new Set(), privateHits: [], cookieRequests: [] };
  const jpeg = readFileSync(join(dir, files.jpeg));
  const png = readFileSync(join(dir, files.png));
  const gif = manyFrameGif(new Uint8Array(readFileSync(join(dir, files.gif))), 9_999);
  const send = (res: ServerResponse, type: string, body: Uint8Array | string, extra: Record<string, string> = {}): void => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...extra });
    res.end(body);
  };
  const route = (path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void => server.route(path, handler);

  // A 30000x30000 RGBA PNG announced in its first 33 bytes (3.6 GB decoded); the rest is junk.
  route('/h/huge-header.png', (_q, res) => send(res, 'image/png', new Uint8Array([...pngHeader(30000, 30000), ...new Array<number>(2000).fill(7)])));

  // 100 MB, streamed without a Content-Length, starting like a real 200x200 PNG, written as
  // fast as the client reads; the count shows where the client hung up.
  route('/h/100mb.png', (req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
    const chunk = new Uint8Array(64 * 1024).fill(0x55);
    const first = new Uint8Array(chunk);
    first.set(pngHeader(200, 200));
    let sent = 0;
    const pump = (): void => {
      while (sent < HUNDRED_MB) {
        const ok = res.write(sent === 0 ? first : chunk);
        sent += chunk.length;
        counters.bigBytesSent = sent;
        if (!ok) return void res.once('drain', pump);
      }
      res.end();
    };
    req.socket.on('close', () => {
      if (sent < HUNDRED_MB) counters.bigClosedEarly = true;
    });
    pump();
  });

  // The same size declared up front: refused from the header, hardly anything read.
  route('/h/100mb-declared.png', (_q, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(HUNDRED_MB) });
    res.write(pngHeader(200, 200));
    // Never finishes; the client's refusal closes the connection.
  });

  // One byte a second of a real PNG.
  route('/h/drip.png', (req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
    let at = 0;
    const timer = setInterval(() => {
      if (at >= png.length) return void clearInterval(timer);
      res.write(png.subarray(at, at + 1));
      at++;
    }, 1000);
    req.socket.on('close', () => clearInterval(timer));
  });

  // Accepts the request and never answers.
  route('/h/never.png', (_q, res) => {
    counters.held.add(res);
  });

  route('/h/html-as.jpg', (_q, res) => send(res, 'image/jpeg', '<!doctype html><html><body><h1>Not found</h1></body></html>'));
  route('/h/truncated.jpg', (_q, res) => send(res, 'image/jpeg', jpeg.subarray(0, Math.floor(jpeg.length * 0.6))));
  route('/h/empty.png', (_q, res) => send(res, 'image/png', new Uint8Array(0)));

  // Declares more than it sends, then hangs up.
  route('/h/wrong-length.jpg', (req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length * 2) });
    res.write(jpeg, () => setTimeout(() => req.socket.destroy(), 50));
  });

  route('/h/loop.png', (req, res) => {
    counters.loopHops++;
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 0);
    res.writeHead(302, { location: `/h/loop.png?n=${n + 1}`, 'cache-control': 'no-store' }).end();
  });

  route('/h/to-private.png', (_q, res) => {
    res.writeHead(302, { location: `${privateOrigin}/h/private-target.png?via-redirect`, 'cache-control': 'no-store' }).end();
  });
  // The "private" image: tests address it on the private origin, and count what reaches it.
  route('/h/private-target.png', (req, res) => {
    counters.privateHits.push(req.url ?? '');
    send(res, 'image/png', png);
  });

  // An image only for visitors with the page's cookie: the extension must not have it.
  route('/h/cookie.png', (req, res) => {
    counters.cookieRequests.push({ url: req.url ?? '', cookie: req.headers.cookie, referer: req.headers.referer });
    if (/(^|;\s*)session=s3cret/.test(req.headers.cookie ?? '')) send(res, 'image/png', png);
    else res.writeHead(403, { 'content-type': 'text/plain' }).end('login first');
  });

  route('/h/many-frames.gif', (_q, res) => send(res, 'image/gif', gif));

  route('/h/script.svg', (_q, res) =>
    send(
      res,
      'image/svg+xml',
      `<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"><script>fetch('/h/beacon')</script>` +
        `<image href="/h/beacon" width="10" height="10"/><rect width="400" height="400" fill="red"/></svg>`,
    ),
  );
  route('/h/beacon', (_q, res) => {
    counters.beacons++;
    res.writeHead(204).end();
  });
  return counters;
}

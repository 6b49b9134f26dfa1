// Which image URLs the extension may fetch with its own privileges (docs/ARCHITECTURE.md,
// "Security rules"): only http(s) and data: (blob: images are read by the content script), and
// never a loopback, private or link-local host unless the page that shows the image is itself
// on such a host.

export type UrlDecision = { ok: true; url: URL } | { ok: false; reason: 'unsupported-url' | 'blocked-address'; detail: string };

/** Dotted-quad IPv4, as the URL parser writes every form (decimal, octal, hex, short). */
function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** This machine, private and shared networks, link-local, multicast and reserved ranges. */
function isLocalIpv4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && c === 0) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

/** The eight 16-bit groups of an IPv6 address (with or without an embedded dotted quad). */
function ipv6Groups(host: string): number[] | null {
  let text = host;
  const quad = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (quad) {
    const v4 = ipv4(quad[1] as string);
    if (!v4) return null;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    return groups.every((g) => /^[0-9a-f]{1,4}$/.test(g)) ? groups.map((g) => parseInt(g, 16)) : null;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function isLocalIpv6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = (hi: number, lo: number): boolean => isLocalIpv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  const zeroUpTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(5) && (g5 === 0xffff || g5 === 0)) {
    // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible; :: and ::1 fall in here too).
    return (g5 === 0 && g6 === 0 && g7 <= 1) || embedded(g6, g7);
  }
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embedded(g6, g7); // NAT64
  if (g0 === 0x2002) return embedded(g1, g[2] ?? 0); // 6to4
  return (
    (g0 & 0xfe00) === 0xfc00 || // unique local
    (g0 & 0xffc0) === 0xfe80 || // link-local
    (g0 & 0xffc0) === 0xfec0 || // site-local (deprecated)
    (g0 & 0xff00) === 0xff00 // multicast
  );
}

/** Names that only mean something on this machine or a local network. */
const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.lan'];

/**
 * True for hosts that name this machine or a private network. Expects a hostname as the URL
 * parser gives it (IPv4 in every spelling is normalised to a dotted quad by it); a DNS name
 * that resolves to a private address cannot be seen here (see fetch-image.ts).
 */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.+$/, '');
  if (host === '') return true;
  const v4 = ipv4(host);
  if (v4) return isLocalIpv4(v4);
  if (host.includes(':')) {
    const groups = ipv6Groups(host.replace(/%.*$/, ''));
    return groups === null || isLocalIpv6(groups);
  }
  // A single label ("router", "intranet") is resolved on the local network.
  if (!host.includes('.') || host === 'localhost') return true;
  return LOCAL_SUFFIXES.some((s) => host.endsWith(s));
}

/** A web page (http or https) on a local or private host: its own local images may be fetched. */
function isLocalPage(pageUrl: string | undefined): boolean {
  if (pageUrl === undefined) return false;
  try {
    const page = new URL(pageUrl);
    return (page.protocol === 'http:' || page.protocol === 'https:') && isLocalHost(page.hostname);
  } catch {
    return false;
  }
}

export function checkImageUrl(raw: string, pageUrl: string | undefined): UrlDecision {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'unsupported-url', detail: 'not a valid URL' };
  }
  if (url.protocol === 'data:') {
    return /^data:image\//i.test(raw)
      ? { ok: true, url }
      : { ok: false, reason: 'unsupported-url', detail: 'data: URL is not an image' };
  }
  if (url.protocol === 'blob:') {
    // Only the page's own origin can read its blob: URLs; the content script sends their bytes.
    return { ok: false, reason: 'unsupported-url', detail: 'blob: URLs are read by the page, not fetched' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: 'unsupported-url', detail: `${url.protocol} URLs are not fetched` };
  }
  if (url.username || url.password) {
    return { ok: false, reason: 'unsupported-url', detail: 'URLs with credentials are not fetched' };
  }
  if (isLocalHost(url.hostname) && !isLocalPage(pageUrl)) {
    return { ok: false, reason: 'blocked-address', detail: 'image on a local or private address, page is not' };
  }
  return { ok: true, url };
}

/** Whether a stored URL may become a link in the extension's pages (never javascript: or data:). */
export function isWebLink(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

// Which image URLs the extension may fetch with its own privileges (DESIGN.md, security rules):
// only http(s) and data:, and never a loopback, private or link-local host unless the page
// that shows the image is itself on such a host.

export type UrlDecision = { ok: true; url: URL } | { ok: false; reason: 'unsupported-url' | 'blocked-address'; detail: string };

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** True for hosts that name this machine or a private network. */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local')) return true;
  const v4 = ipv4(host);
  if (v4) {
    const [a = 0, b = 0] = v4;
    return (
      a === 127 || a === 10 || a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (host.includes(':')) {
    return host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith('::ffff:');
  }
  return false;
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: 'unsupported-url', detail: `${url.protocol} URLs are not fetched` };
  }
  if (url.username || url.password) {
    return { ok: false, reason: 'unsupported-url', detail: 'URLs with credentials are not fetched' };
  }
  if (isLocalHost(url.hostname)) {
    let pageIsLocal = false;
    try {
      pageIsLocal = pageUrl !== undefined && isLocalHost(new URL(pageUrl).hostname);
    } catch {
      pageIsLocal = false;
    }
    if (!pageIsLocal) {
      return { ok: false, reason: 'blocked-address', detail: 'image on a local or private address, page is not' };
    }
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

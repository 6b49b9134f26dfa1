import { describe, expect, it } from 'vitest';
import { checkImageUrl, isLocalHost } from '../../src/shared/url-policy';

describe('isLocalHost', () => {
  it.each(['localhost', '127.0.0.1', '127.8.9.1', '10.0.0.5', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '[::1]', 'fd00::1', 'fe80::1', 'printer.local', '0.0.0.0'])(
    '%s is local',
    (h) => expect(isLocalHost(h)).toBe(true),
  );
  it.each(['example.com', '8.8.8.8', '172.32.0.1', '172.15.0.1', '192.169.0.1', '2001:db8::1', '11.0.0.1'])('%s is public', (h) =>
    expect(isLocalHost(h)).toBe(false),
  );
});

describe('checkImageUrl', () => {
  const publicPage = 'https://news.example/article';
  it('allows http(s) and data:image URLs', () => {
    expect(checkImageUrl('https://cdn.example/a.jpg', publicPage).ok).toBe(true);
    expect(checkImageUrl('http://cdn.example/a.jpg', publicPage).ok).toBe(true);
    expect(checkImageUrl('data:image/png;base64,iVBORw0KGgo=', publicPage).ok).toBe(true);
  });
  it('refuses other schemes and credentials in URLs', () => {
    for (const u of ['file:///etc/passwd', 'javascript:alert(1)', 'ftp://x/y.jpg', 'data:text/html,hi', 'chrome://settings', 'https://user:pw@x.example/a.jpg', 'not a url']) {
      const d = checkImageUrl(u, publicPage);
      expect(d.ok, u).toBe(false);
      if (!d.ok) expect(d.reason).toBe('unsupported-url');
    }
  });
  it('refuses local and private hosts unless the page is on one too', () => {
    for (const u of ['http://127.0.0.1:8080/a.png', 'http://192.168.0.1/cam.jpg', 'http://169.254.169.254/latest', 'http://[::1]/x.png', 'http://localhost/x.png']) {
      const d = checkImageUrl(u, publicPage);
      expect(d.ok, u).toBe(false);
      if (!d.ok) expect(d.reason).toBe('blocked-address');
      expect(checkImageUrl(u, 'http://127.0.0.1:3000/page').ok, u).toBe(true);
    }
  });
});

describe('local addresses in every spelling the URL parser accepts', () => {
  const publicPage = 'https://news.example/article';
  const blocked = (u: string): boolean => {
    const d = checkImageUrl(u, publicPage);
    return !d.ok && d.reason === 'blocked-address';
  };

  it('normalises decimal, octal, hex and short IPv4 forms to the address they mean', () => {
    // WHATWG URL parsing (as in browsers): each of these is 127.0.0.1 or 10.0.0.1.
    for (const u of ['http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://127.1/', 'http://0x7f.1/', 'http://127.0.0.1./', 'http://012.0.0.1/', 'http://167772161/']) {
      expect(new URL(u).hostname, u).toMatch(/^(127\.0\.0\.1|10\.0\.0\.1)$/);
      expect(blocked(u), u).toBe(true);
    }
    expect(blocked('http://0/')).toBe(true); // 0.0.0.0
    expect(blocked('http://134744072/')).toBe(false); // 8.8.8.8
  });

  it('refuses IPv6 loopback, unique-local, link-local and multicast, and IPv4 hidden in IPv6', () => {
    for (const u of [
      'http://[::1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[::]/', 'http://[fc00::1]/', 'http://[fdff:1::2]/', 'http://[fe80::1]/', 'http://[febf::1]/', 'http://[ff02::1]/',
      'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::ffff:192.168.1.1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[::127.0.0.1]/',
      'http://[64:ff9b::10.0.0.1]/', 'http://[2002:c0a8:101::1]/',
    ]) {
      expect(blocked(u), `${u} -> ${new URL(u).hostname}`).toBe(true);
    }
    for (const u of ['http://[2001:db8::1]/', 'http://[2606:4700::1111]/', 'http://[::ffff:8.8.8.8]/', 'http://[64:ff9b::8.8.8.8]/', 'http://[2002:808:808::1]/']) {
      expect(blocked(u), `${u} -> ${new URL(u).hostname}`).toBe(false);
    }
  });

  it('refuses local names, shared and reserved IPv4 ranges', () => {
    for (const u of ['http://localhost./', 'http://LOCALHOST/', 'http://a.b.localhost/', 'http://nas.local/', 'http://router/', 'http://db.internal/', 'http://tv.home.arpa/', 'http://100.64.0.1/', 'http://198.18.0.1/', 'http://224.0.0.1/', 'http://255.255.255.255/', 'http://192.0.0.8/']) {
      expect(blocked(u), u).toBe(true);
    }
    for (const u of ['http://localhost.example.com/', 'http://local.example/', 'http://100.128.0.1/', 'http://198.20.0.1/', 'http://192.0.2.1/']) {
      expect(blocked(u), u).toBe(false);
    }
  });

  it('exempts only http(s) pages that are themselves on a local host', () => {
    const img = 'http://127.0.0.1:9/a.png';
    expect(checkImageUrl(img, 'http://localhost:3000/').ok).toBe(true);
    expect(checkImageUrl(img, 'http://[::1]:3000/').ok).toBe(true);
    for (const page of ['about:blank', 'file:///home/me/page.html', 'data:text/html,hi', 'not a url', 'https://127.0.0.1.nip.io/']) {
      expect(checkImageUrl(img, page).ok, page).toBe(false);
    }
    expect(checkImageUrl(img, undefined).ok).toBe(false);
  });

  it('refuses blob: URLs (the page reads those) and keeps non-image data: URLs out', () => {
    const d = checkImageUrl('blob:https://news.example/0b8c6a3e-5f0e-4d5e-9a0e-1c2d3e4f5a6b', publicPage);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toBe('unsupported-url');
    expect(checkImageUrl('data:image/svg+xml,<svg/>', publicPage).ok).toBe(true); // sniffing refuses it later
    expect(checkImageUrl('DATA:text/html;base64,PGI+', publicPage).ok).toBe(false);
  });
});

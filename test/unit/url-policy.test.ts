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

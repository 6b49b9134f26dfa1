// The Referer of the one retry after a refusal: what a browser sends by default
// (Referrer Policy, strict-origin-when-cross-origin; the e2e test compares with Chromium's own).

import { describe, expect, it } from 'vitest';
import { referrerFor } from '../../src/background/hotlink';

describe('referrerFor', () => {
  it("sends the page's address to its own origin, without the fragment or credentials", () => {
    expect(referrerFor('https://news.example/img/a.jpg', 'https://news.example/story?id=4#top')).toBe('https://news.example/story?id=4');
    expect(referrerFor('https://news.example/a.jpg', 'https://u:p@news.example/s')).toBe('https://news.example/s');
  });
  it('sends only the origin to another origin (another host, port or scheme)', () => {
    expect(referrerFor('https://cdn.example/a.jpg', 'https://news.example/story?id=4')).toBe('https://news.example/');
    expect(referrerFor('https://news.example:8443/a.jpg', 'https://news.example/s')).toBe('https://news.example/');
    expect(referrerFor('https://news.example/a.jpg', 'http://news.example/s')).toBe('http://news.example/');
  });
  it('sends nothing from https to http, or for addresses that are not web pages', () => {
    expect(referrerFor('http://cdn.example/a.jpg', 'https://news.example/s')).toBeNull();
    expect(referrerFor('http://news.example/a.jpg', 'https://news.example/s')).toBeNull();
    expect(referrerFor('https://cdn.example/a.jpg', 'file:///home/me/page.html')).toBeNull();
    expect(referrerFor('data:image/png;base64,AAAA', 'https://news.example/s')).toBeNull();
    expect(referrerFor('not a url', 'https://news.example/s')).toBeNull();
  });
});

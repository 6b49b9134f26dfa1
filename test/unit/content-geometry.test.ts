import { describe, expect, it } from 'vitest';
import { badgeSpot, intersect, objectFitRect, positionOffset } from '../../src/content/geometry';
import { backgroundUrl, judgeableUrl } from '../../src/content/sources';

const box = { left: 100, top: 50, width: 400, height: 200 };

describe('badge geometry (worked by hand)', () => {
  it('intersects rectangles, and gives null when they only touch', () => {
    expect(intersect(box, { left: 450, top: 0, width: 100, height: 100 })).toEqual({ left: 450, top: 50, width: 50, height: 50 });
    expect(intersect(box, { left: 500, top: 50, width: 10, height: 10 })).toBeNull();
  });

  it('letterboxes object-fit: contain (300x480 in 400x200: 125 wide, 137.5 px in)', () => {
    expect(objectFitRect(box, { width: 300, height: 480 }, 'contain', '50% 50%')).toEqual({ left: 237.5, top: 50, width: 125, height: 200 });
    // object-position 0% puts it at the left edge; 100% at the right.
    expect(objectFitRect(box, { width: 300, height: 480 }, 'contain', '0% 50%').left).toBe(100);
    expect(objectFitRect(box, { width: 300, height: 480 }, 'contain', '100% 50%').left).toBe(375);
    expect(objectFitRect(box, { width: 300, height: 480 }, 'contain', '20px 0px').left).toBe(120);
  });

  it('clips cover and none to the box, leaves fill (and unknown sizes) alone', () => {
    expect(objectFitRect(box, { width: 300, height: 480 }, 'cover', '50% 50%')).toEqual(box);
    // none: 100x50 natural, centred.
    expect(objectFitRect(box, { width: 100, height: 50 }, 'none', '50% 50%')).toEqual({ left: 250, top: 125, width: 100, height: 50 });
    // scale-down never enlarges.
    expect(objectFitRect(box, { width: 100, height: 50 }, 'scale-down', '50% 50%')).toEqual({ left: 250, top: 125, width: 100, height: 50 });
    expect(objectFitRect(box, { width: 100, height: 50 }, 'fill', '50% 50%')).toEqual(box);
    expect(objectFitRect(box, null, 'contain', '50% 50%')).toEqual(box);
  });

  it('reads object-position values, falling back to the centre', () => {
    expect(positionOffset('25%', 200)).toBe(50);
    expect(positionOffset('-10px', 200)).toBe(-10);
    expect(positionOffset('calc(50% + 3px)', 200)).toBe(100);
    expect(positionOffset(undefined, 200)).toBe(100);
  });

  it('puts a badge inside the visible corner, or nowhere when too little shows', () => {
    expect(badgeSpot({ left: 10, top: 20, width: 100, height: 100 }, { width: 28, height: 22 })).toEqual({ left: 16, top: 26 });
    expect(badgeSpot({ left: 10, top: 20, width: 30, height: 100 }, { width: 28, height: 22 })).toBeNull();
    expect(badgeSpot(null, { width: 28, height: 22 })).toBeNull();
  });
});

describe('picture sources', () => {
  const style = (backgroundImage: string, backgroundPosition = '0% 0%', backgroundRepeat = 'no-repeat', backgroundSize = 'cover') => ({
    backgroundImage,
    backgroundPosition,
    backgroundRepeat,
    backgroundSize,
  });

  it('takes the first url() of a computed background, with quotes and escapes', () => {
    expect(backgroundUrl(style('url("https://a.example/x.jpg"), linear-gradient(red, blue)'))).toBe('https://a.example/x.jpg');
    expect(backgroundUrl(style('linear-gradient(red, blue), url("https://a.example/y.png")'))).toBe('https://a.example/y.png');
    expect(backgroundUrl(style('url("https://a.example/a\\"b.png")'))).toBe('https://a.example/a"b.png');
    expect(backgroundUrl(style('none'))).toBeNull();
    expect(backgroundUrl(style('linear-gradient(red, blue)'))).toBeNull();
  });

  it('skips sprites (negative offsets) and repeating tiles of natural size', () => {
    expect(backgroundUrl(style('url("https://a.example/s.png")', '-120px -40px', 'no-repeat', 'auto'))).toBeNull();
    expect(backgroundUrl(style('url("https://a.example/t.png")', '0% 0%', 'repeat', 'auto'))).toBeNull();
    expect(backgroundUrl(style('url("https://a.example/h.png")', '50% 50%', 'repeat', 'cover'))).toBe('https://a.example/h.png');
  });

  it('judges web, data: and blob: raster images, not vector images or other schemes', () => {
    expect(judgeableUrl('https://a.example/p.jpg?x=1')).toBe(true);
    expect(judgeableUrl('data:image/png;base64,AAAA')).toBe(true);
    expect(judgeableUrl('blob:https://a.example/1b4e28ba-2fa1-11d2-883f-0016d3cca427')).toBe(true);
    expect(judgeableUrl('https://a.example/logo.svg')).toBe(false);
    expect(judgeableUrl('data:image/svg+xml;utf8,<svg/>')).toBe(false);
    expect(judgeableUrl('javascript:alert(1)')).toBe(false);
    expect(judgeableUrl('file:///etc/passwd')).toBe(false);
    expect(judgeableUrl('')).toBe(false);
  });
});

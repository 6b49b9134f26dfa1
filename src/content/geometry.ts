// Where on screen an image's picture really is: pure rectangle arithmetic for the badge layer,
// kept apart from the DOM so the tests can check it by hand.

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export function intersect(a: Rect, b: Rect): Rect | null {
  const left = Math.max(a.left, b.left);
  const top = Math.max(a.top, b.top);
  const right = Math.min(a.left + a.width, b.left + b.width);
  const bottom = Math.min(a.top + a.height, b.top + b.height);
  if (right <= left || bottom <= top) return null;
  return { left, top, width: right - left, height: bottom - top };
}

/** One axis of a computed `object-position` ("50%", "12px", "calc(…)" → centre). */
export function positionOffset(value: string | undefined, free: number): number {
  const v = (value ?? '').trim();
  const pct = /^(-?[\d.]+)%$/.exec(v);
  if (pct) return (free * Number(pct[1])) / 100;
  const px = /^(-?[\d.]+)px$/.exec(v);
  if (px) return Number(px[1]);
  if (v === 'left' || v === 'top') return 0;
  if (v === 'right' || v === 'bottom') return free;
  return free / 2;
}

/**
 * The part of an element's box that an `<img>`'s picture covers, for a computed `object-fit`
 * and `object-position` (e.g. "contain" letterboxes the picture inside the box).
 */
export function objectFitRect(
  box: Rect,
  natural: { width: number; height: number } | null,
  fit: string,
  position: string,
): Rect {
  if (!natural || natural.width <= 0 || natural.height <= 0 || fit === 'fill' || fit === '') return box;
  const sx = box.width / natural.width;
  const sy = box.height / natural.height;
  let scale: number;
  if (fit === 'contain') scale = Math.min(sx, sy);
  else if (fit === 'cover') scale = Math.max(sx, sy);
  else if (fit === 'none') scale = 1;
  else if (fit === 'scale-down') scale = Math.min(1, Math.min(sx, sy));
  else return box;
  const width = natural.width * scale;
  const height = natural.height * scale;
  const [px, py] = position.trim().split(/\s+/);
  const picture = {
    left: box.left + positionOffset(px, box.width - width),
    top: box.top + positionOffset(py, box.height - height),
    width,
    height,
  };
  // "cover" and "none" overflow the box, which clips them.
  return intersect(picture, box) ?? { ...box, width: 0, height: 0 };
}

/** Where a badge of `size` goes: inside the top-left corner of what is visible, or nowhere. */
export function badgeSpot(visible: Rect | null, size: { width: number; height: number }, inset = 6): { left: number; top: number } | null {
  if (!visible) return null;
  if (visible.width < size.width + inset || visible.height < size.height + inset) return null;
  return { left: visible.left + inset, top: visible.top + inset };
}

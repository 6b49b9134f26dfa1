#!/usr/bin/python3
"""Draws the toolbar icons (a lens over a sparkle) at each size Chrome asks for.

Run: /usr/bin/python3 tools/make_icons.py  (writes public/icons/icon-{16,32,48,128}.png)
"""
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "public" / "icons"
SCALE = 8  # draw large, then downsample for smooth edges


def draw(size: int) -> Image.Image:
    s = size * SCALE
    im = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([0, 0, s - 1, s - 1], radius=s // 5, fill=(49, 46, 129, 255))
    r = s * 0.28
    cx, cy = s * 0.43, s * 0.43
    w = max(int(s * 0.08), 1)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 255, 255, 255), width=w)
    d.line([cx + r * 0.7, cy + r * 0.7, s * 0.82, s * 0.82], fill=(255, 255, 255, 255), width=int(w * 1.4))
    k = r * 0.45  # four-point sparkle inside the lens: "generated"
    d.polygon(
        [(cx, cy - k), (cx + k * 0.25, cy - k * 0.25), (cx + k, cy), (cx + k * 0.25, cy + k * 0.25),
         (cx, cy + k), (cx - k * 0.25, cy + k * 0.25), (cx - k, cy), (cx - k * 0.25, cy - k * 0.25)],
        fill=(251, 191, 36, 255),
    )
    return im.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (16, 32, 48, 128):
        draw(size).save(OUT / f"icon-{size}.png", optimize=True)
        print(OUT / f"icon-{size}.png")

#!/usr/bin/env python3
"""Writes one picture per decoding case into OUTDIR, with writers independent of the code under
test: PIL (JPEG, PNG, GIF, WebP) and OpenCV (16-bit RGB and RGBA PNG, which PIL cannot write).
Each is made from a committed photograph (test/fixtures/photos/), cropped or flipped so that the
cases score differently, and at least 128 px on a side so that the extension judges it.

  /usr/bin/python3 test/support/decoding_cases.py OUTDIR

prints JSON: {"cases": [{"file", "case", "mode"}]} (mode: the PIL mode Image.open reports).
EXIF orientations are written by test/support/oriented.ts (exiftool), not here.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps

PHOTOS = Path(__file__).resolve().parent.parent / 'fixtures' / 'photos'


def photo(name: str, mode: str = 'RGB') -> Image.Image:
    with Image.open(PHOTOS / name) as im:
        return im.convert(mode)


def translucent(rgb: Image.Image) -> Image.Image:
    """RGBA: alpha a diagonal ramp 0..255, so some pixels are fully transparent over real colour."""
    w, h = rgb.size
    y, x = np.mgrid[0:h, 0:w]
    alpha = ((x + y) * 255 // (w + h - 2)).astype(np.uint8)
    out = rgb.convert('RGBA')
    out.putalpha(Image.fromarray(alpha, 'L'))
    return out


def sixteen_bit(a8: np.ndarray, seed: int) -> np.ndarray:
    """uint16 levels whose low byte is not a copy of the high byte, so that keeping the high byte
    (v >> 8) and rounding (v * 255 / 65535) give different 8-bit pictures."""
    low = np.random.default_rng(seed).integers(0, 256, size=a8.shape, dtype=np.uint16)
    return (a8.astype(np.uint16) << 8) | low


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, str]] = []

    def add(file: str, case: str) -> None:
        cases.append((file, case))

    chelsea = photo('chelsea.png')
    rocket = photo('rocket.jpg')
    astronaut = photo('astronaut-portrait.jpg')
    coffee = photo('coffee-alpha.png', 'RGBA')

    chelsea.save(out / 'progressive.jpg', quality=85, progressive=True)
    add('progressive.jpg', 'progressive JPEG')
    rocket.crop((0, 0, 400, 400)).convert('CMYK').save(out / 'cmyk.jpg', quality=90)
    add('cmyk.jpg', 'CMYK JPEG (Adobe)')
    photo('camera.png', 'L').save(out / 'grey.jpg', quality=85)
    add('grey.jpg', 'greyscale JPEG')
    # A colour profile far from sRGB (CIE XYZ): a decoder applying it would change most pixels a lot.
    xyz = ImageCms.ImageCmsProfile(ImageCms.createProfile('XYZ')).tobytes()
    ImageOps.mirror(chelsea).save(out / 'icc-xyz.jpg', quality=90, icc_profile=xyz)
    add('icc-xyz.jpg', 'JPEG with an XYZ ICC profile')
    ImageOps.mirror(rocket).save(out / 'icc-xyz.png', icc_profile=xyz)
    add('icc-xyz.png', 'PNG with an XYZ ICC profile (iCCP)')

    rocket.convert('P', palette=Image.ADAPTIVE, colors=200).save(out / 'palette.png')
    add('palette.png', 'PNG palette')
    # Palette + tRNS: the alpha of each palette entry; index 0..63 get alpha 0..252, the rest opaque.
    pal = ImageOps.flip(chelsea).convert('P', palette=Image.ADAPTIVE, colors=256)
    pal.save(out / 'palette-trns.png', transparency=bytes(range(0, 256, 4)))
    add('palette-trns.png', 'PNG palette with tRNS')
    la = translucent(photo('coins.png', 'RGB')).convert('LA')
    la.save(out / 'grey-alpha.png')
    add('grey-alpha.png', 'PNG grey + alpha (LA)')
    translucent(ImageOps.mirror(astronaut)).save(out / 'rgba-translucent.png')
    add('rgba-translucent.png', 'PNG RGBA, translucent and transparent pixels')
    coffee.save(out / 'rgba-coffee.png')
    add('rgba-coffee.png', 'PNG RGBA (photo with an alpha channel)')

    # 16-bit: OpenCV writes RGB(A) (from BGR(A)) as 16-bit PNG; PIL writes mode I;16 as 16-bit grey.
    rgb16 = sixteen_bit(np.asarray(ImageOps.flip(astronaut)), 1)
    if not cv2.imwrite(str(out / 'rgb16.png'), np.ascontiguousarray(rgb16[:, :, ::-1])):
        raise SystemExit('cv2.imwrite failed for rgb16.png')
    add('rgb16.png', 'PNG 16-bit RGB')
    rgba16 = sixteen_bit(np.asarray(translucent(ImageOps.flip(photo('chelsea.png')))), 3)
    if not cv2.imwrite(str(out / 'rgba16.png'), np.ascontiguousarray(rgba16[:, :, [2, 1, 0, 3]])):
        raise SystemExit('cv2.imwrite failed for rgba16.png')
    add('rgba16.png', 'PNG 16-bit RGBA, translucent')
    grey16 = sixteen_bit(np.asarray(ImageOps.mirror(photo('coins.png', 'L'))), 2)
    Image.fromarray(grey16, 'I;16').save(out / 'grey16.png')
    add('grey16.png', 'PNG 16-bit grey')

    ImageOps.flip(rocket).convert('P', palette=Image.ADAPTIVE).save(out / 'palette.gif')
    add('palette.gif', 'GIF (palette)')
    astronaut.crop((0, 100, 300, 400)).save(out / 'lossy.webp', quality=80)
    add('lossy.webp', 'WebP lossy')
    chelsea.crop((50, 0, 350, 300)).save(out / 'lossless.webp', lossless=True)
    add('lossless.webp', 'WebP lossless')

    entries = []
    for file, case in cases:
        with Image.open(out / file) as im:
            entries.append({'file': file, 'case': case, 'mode': im.mode})
    print(json.dumps({'cases': entries}))


if __name__ == '__main__':
    main()

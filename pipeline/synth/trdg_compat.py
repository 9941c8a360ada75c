"""trdg 1.8.0 (its last release) under today's Pillow, NumPy and OpenCV.

What this module absorbs, so the rest of ocrpipe can use trdg's rendering code as it is:

* Pillow 10 removed `FreeTypeFont.getsize`, which trdg calls; `_getsize` restores it from
  `getbbox`, installed at import time (module level), so pool workers have it too.
* trdg opens the font file for every line (`ImageFont.truetype(path, size)`) and draws each
  character twice (image and mask). `FontCache` hands it one font object per worker whose
  glyph bitmaps and metrics are memoized, with Pillow's basic layout engine for text that
  needs no shaping (about 5x faster per character than raqm; raqm stays for scripts that
  need it). The pixels are the same as trdg's own.
* OpenCV's random generator (noise backgrounds) is never seeded by trdg, so every forked
  worker would draw the same noise: `seed_all` seeds Python, NumPy and OpenCV per line.
* Image backgrounds are decoded once per worker instead of once per line.
"""

from __future__ import annotations

import functools
import random
import types
import unicodedata
from typing import Any

import numpy as np
from PIL import Image, ImageFont

from pipeline.errors import OcrpipeError

INSTALL_HINT = ("install it with `pip install --no-deps trdg==1.8.0` (its own version pins cannot be "
                "resolved by pip >= 24.1; ocrpipe already depends on what trdg really needs)")


def _getsize(self: ImageFont.FreeTypeFont, text: str, *args: Any, **kwargs: Any) -> tuple[int, int]:
    """Pillow < 10 `getsize`: the text's extent from the drawing origin, offset included."""
    left, top, right, bottom = self.getbbox(text, *args, **kwargs)
    return right, bottom


if not hasattr(ImageFont.FreeTypeFont, "getsize"):
    ImageFont.FreeTypeFont.getsize = _getsize  # type: ignore[attr-defined]


# Scripts whose rendering needs a shaping engine (joining, reordering, combining marks).
_SHAPED_RANGES = ((0x0590, 0x08FF), (0x0900, 0x0DFF), (0x0E00, 0x0EFF), (0x0F00, 0x109F),
                  (0x1100, 0x11FF), (0x1780, 0x18AF), (0xA8E0, 0xA8FF), (0xFB1D, 0xFEFF))


def needs_shaping(text: str) -> bool:
    for ch in text:
        code = ord(ch)
        if unicodedata.combining(ch) or any(lo <= code <= hi for lo, hi in _SHAPED_RANGES):
            return True
    return False


class CachedFont(ImageFont.FreeTypeFont):
    """A FreeTypeFont that remembers rasterized glyphs and metrics.

    trdg draws one character per `ImageDraw.text` call, so a line re-rasterizes the same few
    dozen glyphs again and again; cached, drawing a glyph is a bitmap blit. The cached masks
    are only read (`draw_bitmap`), never modified. Colour fonts (mode "RGBA") depend on the
    ink, so the ink is part of their key.
    """

    MAX_ENTRIES = 50_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[tuple, Any] = {}

    def _remember(self, key: tuple, compute: Any) -> Any:
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= self.MAX_ENTRIES:
                self._memo.clear()
            hit = self._memo[key] = compute()
        return hit

    def getmask2(self, text, mode="", direction=None, features=None, language=None,  # type: ignore[override]
                 stroke_width=0, anchor=None, ink=0, start=None, *args, **kwargs):
        key = ("mask", text, mode, direction, tuple(features or ()), language, stroke_width, anchor,
               ink if mode == "RGBA" else 0, start, tuple(sorted(kwargs.items())))
        return self._remember(key, lambda: super(CachedFont, self).getmask2(
            text, mode, direction, features, language, stroke_width, anchor, ink, start, *args, **kwargs))

    def getlength(self, text, mode="", direction=None, features=None, language=None):  # type: ignore[override]
        key = ("length", text, mode, direction, tuple(features or ()), language)
        return self._remember(key, lambda: super(CachedFont, self).getlength(
            text, mode, direction, features, language))

    def getbbox(self, text, mode="", direction=None, features=None, language=None,  # type: ignore[override]
                stroke_width=0, anchor=None):
        key = ("bbox", text, mode, direction, tuple(features or ()), language, stroke_width, anchor)
        return self._remember(key, lambda: super(CachedFont, self).getbbox(
            text, mode, direction, features, language, stroke_width, anchor))


class FontCache:
    """Stands in for `PIL.ImageFont` inside trdg's text module: one font object per
    (file, size, layout engine) for the life of the worker process."""

    def __init__(self) -> None:
        self.shaping = False   # set per line by `use_layout_for`

    def use_layout_for(self, text: str) -> None:
        self.shaping = needs_shaping(text)

    def truetype(self, font: str, size: int, *args: Any, **kwargs: Any) -> ImageFont.FreeTypeFont:
        engine = ImageFont.Layout.RAQM if self.shaping else ImageFont.Layout.BASIC
        return _load_font(str(font), int(size), engine)

    def __getattr__(self, name: str) -> Any:   # everything else: the real module
        return getattr(ImageFont, name)


def cached_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A font with remembered glyphs, laid out as Pillow's own default does (raqm where this
    Pillow has it): the same object for the life of the worker process."""
    return _load_font(str(path), int(size), ImageFont.Layout.RAQM)


@functools.lru_cache(maxsize=256)
def _load_font(path: str, size: int, engine: int) -> ImageFont.FreeTypeFont:
    try:
        return CachedFont(path, size, layout_engine=engine)
    except OSError:
        if engine == ImageFont.Layout.RAQM:    # no libraqm in this Pillow: basic layout
            return CachedFont(path, size, layout_engine=ImageFont.Layout.BASIC)
        raise


class _ImageModule(types.SimpleNamespace):
    """Stands in for `PIL.Image` inside trdg's background module: decoded background
    pictures are kept per worker (trdg only reads, resizes and crops them)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(Image, name)

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def open(path: str) -> Image.Image:  # noqa: A003 - mirrors PIL.Image.open
        with Image.open(path) as im:
            return im.convert("RGB")


FONTS = FontCache()


@functools.lru_cache(maxsize=1)
def trdg_modules() -> types.SimpleNamespace:
    """trdg's text, background and distortion modules, patched as described above."""
    try:
        import cv2  # noqa: F401  (trdg's backgrounds and distortions need it)
    except ImportError:
        raise OcrpipeError("OpenCV is missing; install it with `pip install opencv-python-headless`") from None
    try:
        from trdg import background_generator, computer_text_generator, distorsion_generator
    except ImportError:
        raise OcrpipeError(f"trdg is not installed; {INSTALL_HINT}") from None
    computer_text_generator.ImageFont = FONTS
    background_generator.Image = _ImageModule()
    return types.SimpleNamespace(text=computer_text_generator, background=background_generator,
                                 distortion=distorsion_generator)


def trdg_images_dir() -> str:
    """The background pictures shipped inside the trdg package."""
    import trdg
    from pathlib import Path

    return str(Path(trdg.__file__).parent / "images")


def seed_all(seed: int) -> None:
    """Seed every generator trdg draws from: Python's `random`, NumPy's and OpenCV's."""
    import cv2

    random.seed(seed)
    np.random.seed(seed % 2**32)
    cv2.setRNGSeed(seed % 2**31)

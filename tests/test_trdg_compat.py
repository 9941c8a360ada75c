"""The Pillow >= 10 shim, the glyph-caching font and per-line seeding of trdg's generators."""

from __future__ import annotations

import numpy as np
from PIL import ImageFont

from conftest import FONTS
from pipeline.synth import trdg_compat

SERIF = str(FONTS / "LiberationSerif-Regular.ttf")


def test_getsize_shim_gives_an_extent_that_holds_the_drawn_ink():
    """Measured against pixels, not against the shim's own formula: text drawn at the origin
    has all its ink inside (0, 0, width, height), and reaches the right and bottom edges
    (Pillow 9's getsize: the extent trdg sizes its canvas by)."""
    from PIL import Image, ImageDraw

    font = ImageFont.truetype(SERIF, 32)
    for text in ("Hygiene", "Ag,j", "W"):
        width, height = font.getsize(text)
        canvas = Image.new("L", (width + 40, height + 40), 0)
        ImageDraw.Draw(canvas).text((0, 0), text, font=font, fill=255)
        ink = np.argwhere(np.asarray(canvas) > 0)
        assert ink[:, 1].max() < width and ink[:, 0].max() < height, text       # nothing outside
        assert ink[:, 1].max() >= width - 3 and ink[:, 0].max() >= height - 3, text   # and nothing spare
    assert font.getsize("") == (0, 0) or font.getsize("")[0] == 0


def test_trdg_text_height_works_with_the_shim():
    from trdg.utils import get_text_height

    assert get_text_height(ImageFont.truetype(SERIF, 32), "Ag") > 20


def test_cached_font_draws_the_same_pixels_as_pillow():
    t = trdg_compat.trdg_modules()
    text = "Quick brown fox, 12 jumps!"
    trdg_compat.seed_all(1)
    cached, _ = t.text.generate(text, SERIF, "#000000", 32, 0, 1.0, 0, False, False)
    t.text.ImageFont = ImageFont             # plain Pillow, as trdg itself uses it
    try:
        trdg_compat.seed_all(1)
        plain, _ = t.text.generate(text, SERIF, "#000000", 32, 0, 1.0, 0, False, False)
    finally:
        t.text.ImageFont = trdg_compat.FONTS
    assert np.array_equal(np.asarray(cached), np.asarray(plain))


def test_fonts_are_loaded_once_per_process():
    fonts = trdg_compat.FONTS
    assert fonts.truetype(SERIF, 30) is fonts.truetype(SERIF, 30)


def test_seed_all_makes_opencv_noise_repeatable_and_distinct():
    bg = trdg_compat.trdg_modules().background

    def noise(seed: int) -> np.ndarray:
        trdg_compat.seed_all(seed)
        return np.asarray(bg.gaussian_noise(16, 64))

    assert np.array_equal(noise(5), noise(5))
    assert not np.array_equal(noise(5), noise(6))


def test_shaping_is_kept_for_scripts_that_need_it():
    assert not trdg_compat.needs_shaping("Invoice 42, “quoted” café")
    assert trdg_compat.needs_shaping("مرحبا")
    assert trdg_compat.needs_shaping("e\u0301")      # a combining accent

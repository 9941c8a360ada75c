"""The Pillow >= 10 shim, the glyph-caching font and per-line seeding of trdg's generators."""

from __future__ import annotations

import numpy as np
from PIL import ImageFont

from conftest import FONTS
from pipeline.synth import trdg_compat

SERIF = str(FONTS / "LiberationSerif-Regular.ttf")


def test_getsize_shim_restores_the_pillow9_extent():
    font = ImageFont.truetype(SERIF, 32)
    left, top, right, bottom = font.getbbox("Hygiene")
    assert font.getsize("Hygiene") == (right, bottom)
    assert font.getsize("") == font.getbbox("")[2:]


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

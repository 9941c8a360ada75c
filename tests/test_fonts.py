"""Glyph coverage on real fonts, caps detection, and font errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FONTS
from pipeline.synth import fonts
from pipeline.errors import OcrpipeError


def trdg_font(name: str) -> Path:
    import trdg

    return Path(trdg.__file__).parent / "fonts" / "latin" / name


def test_coverage_of_a_font_with_known_gaps():
    # Courier Prime covers Latin but not Greek, Cyrillic or arrows; DejaVu Sans covers
    # those, but not CJK.
    universe = set("Az09€éŁ") | set("αЖ→中")
    courier = fonts.load_font(FONTS / "CourierPrime-Regular.otf", universe)
    dejavu = fonts.load_font(FONTS / "DejaVuSans.ttf", universe)
    assert courier.missing("Az09€éŁαЖ→中") == {"α", "Ж", "→", "中"}
    assert dejavu.missing("Az09€éŁαЖ→中") == {"中"}
    assert courier.family == "Courier Prime"


def test_space_counts_as_drawable_though_it_has_no_ink():
    font = fonts.load_font(FONTS / "LiberationSans-Regular.ttf", {" ", "a"})
    assert font.can_draw("a a")


def test_capitals_only_fonts_are_detected():
    universe = {chr(c) for c in range(32, 127)}
    assert fonts.load_font(trdg_font("BEBAS___.ttf"), universe).caps_only          # all caps
    assert fonts.load_font(trdg_font("AmaticSC-Regular.ttf"), universe).caps_only  # small caps
    for ordinary in ("LiberationSerif-Italic.ttf", "RobotoCondensed-Regular.ttf", "texgyrecursor-bold.otf"):
        assert not fonts.load_font(FONTS / ordinary, universe).caps_only


def test_discover_finds_fonts_in_folders_sorted_and_once():
    found = fonts.discover([FONTS, FONTS / "Lato-Regular.ttf"])
    assert found == sorted(found) and len(found) == len(set(found))
    assert all(p.suffix in (".ttf", ".otf") for p in found)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.ttf", "no such file"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no .ttf/.otf/.ttc files"),
])
def test_missing_fonts_are_named(tmp_path, make, message):
    with pytest.raises(OcrpipeError, match=message):
        fonts.discover([make(tmp_path)])


def test_a_missing_font_path_names_every_set_that_can_be_given_by_name(tmp_path):
    from pipeline.resources import FONT_SETS, MORE_SETS

    with pytest.raises(OcrpipeError) as error:
        fonts.discover([tmp_path / "missing.ttf"])
    assert all(name in str(error.value) for name in (*FONT_SETS, *MORE_SETS)), str(error.value)


def test_a_file_that_is_not_a_font_is_named(tmp_path):
    bogus = tmp_path / "bogus.ttf"
    bogus.write_text("this is not a font")
    with pytest.raises(OcrpipeError, match=r"bogus\.ttf: not a usable font file"):
        fonts.load_fonts([bogus], {"a"})

"""The `scanned` style: a pure function of its seed, honest labels, bounded crops."""

from __future__ import annotations

import dataclasses
import random

import cv2
import numpy as np
import pytest

from conftest import FONTS, generate_args
from pipeline.synth import scanned
from pipeline.synth.render import RenderFailure, render
from pipeline.synth.styles import Overrides, draw_effects
from test_generate import read_labels, snapshot

SERIF = str(FONTS / "LiberationSerif-Regular.ttf")
MONO = str(FONTS / "texgyrecursor-regular.otf")   # thin strokes: the first to break


def effects(seed: int, **changes: float):
    fx = draw_effects("scanned", Overrides(), random.Random(seed))[1]
    return dataclasses.replace(fx, scan=dataclasses.replace(fx.scan, **changes)) if changes else fx


def test_same_lines_for_1_and_2_workers(tmp_path, small_corpus, run_cli):
    one, two = tmp_path / "one", tmp_path / "two"
    for run, workers in ((one, "1"), (two, "2")):
        result = run_cli(*generate_args(run, small_corpus, "--style", "scanned", "--workers", workers, count=220))
        assert result.exit_code == 0, result.output
    assert snapshot(one) == snapshot(two) and len(snapshot(one)) > 200


def test_degradation_leaves_the_labels_as_they_were(tmp_path, small_corpus, run_cli):
    """Text and font are drawn before the effects: the scanned lines say what plain ones say."""
    plain, scan = tmp_path / "plain", tmp_path / "scan"
    assert run_cli(*generate_args(plain, small_corpus, "--style", "plain", count=120)).exit_code == 0
    assert run_cli(*generate_args(scan, small_corpus, "--style", "scanned", count=120)).exit_code == 0
    for split in ("train", "val", "test"):
        before, after = read_labels(plain, split), read_labels(scan, split)
        kept = {r["filename"]: r["text"] for r in after}
        assert kept and all(kept[r["filename"]] == r["text"] for r in before if r["filename"] in kept)
        assert all(r["style"] == "scanned" for r in after)


@pytest.mark.parametrize("font", [SERIF, MONO])
def test_harsh_scans_come_back_with_ink_across_the_line_or_are_refused(font):
    """Over many draws, the harshest included, a line comes back with ink across it, or is
    refused with a reason. (This checks the line as a whole; that no glyph's piece is lost is
    the component check's work, tested on its own below.)"""
    text = "i, j; e.g. (Crouse, et al., 1988). ' \" ` a-b"
    kept, refused = 0, 0
    for seed in range(60):
        harsh = {"ink_level": 0.7, "threshold": 0.55} if seed % 2 else {}
        try:
            image = render(text, font, 32, effects(seed, **harsh), seed).image
        except RenderFailure as e:
            assert e.reason in ("ink_lost", "ink_spread")
            refused += 1
            continue
        kept += 1
        ink = np.asarray(image) < 128
        assert ink.mean() > 0.02                       # a line, not a blank
        assert ink.any(axis=0).sum() > image.width / 5  # ink across the line, not a smudge
    assert kept >= 20 and refused >= 1


def test_a_vanished_comma_is_refused():
    """The component check itself: clean ink with a small separate piece, scanned without it."""
    clean = np.zeros((40, 60), np.float32)
    clean[10:30, 5:20] = 1          # a glyph
    clean[26:32, 30:33] = 1         # a comma
    scan = (cv2.resize(clean, (60, 40)) > 0.5).astype(np.float32)
    scanned._check(clean, scan, (40, 60), (0, 40), (0, 40))      # all there: accepted
    scan[24:34, 28:35] = 0
    with pytest.raises(scanned.ScanFailure, match="ink_lost"):
        scanned._check(clean, scan, (40, 60), (0, 40), (0, 40))


@pytest.mark.parametrize("font", [SERIF, MONO])
@pytest.mark.parametrize("text", ["Hobbled boggy kobold", "amuse or wave", "Table 5 of the U.S."])   # no dots
def test_the_crop_never_enters_the_x_height_band(font, text):
    """Asked to cut far more than allowed, the crop still stops at MAX_CUT of the ascender zone
    (and of the descender zone), and it follows the font's lines, not the ink: a line without
    ascenders or descenders is framed exactly like one with them (the text keeps its scale)."""
    size = scanned.HI_RES * 32
    p = effects(0, cut_top=1.0, cut_bottom=1.0, shear=0.0, wave=0.0).scan
    ink, zones = scanned._typeset(text, font, size, p)
    top, bottom, _, _ = scanned._window(ink, zones, p, size, bent=False)
    top_limit = zones["ascender"] + int(scanned.MAX_CUT * (zones["x_height"] - zones["ascender"]))
    bottom_limit = zones["descender"] - int(scanned.MAX_CUT * (zones["descender"] - zones["baseline"]))
    assert top_limit < zones["x_height"] and bottom_limit > zones["baseline"]
    assert (top, bottom) == (top_limit, bottom_limit)
    reference, _ = scanned._typeset("Hobbled kobold", font, size, p)    # ascenders, no dots to spare
    assert scanned._window(reference, zones, p, size, bent=False)[:2] == (top, bottom)


def test_a_rotated_or_waved_line_is_not_cut():
    size = scanned.HI_RES * 32
    p = effects(0, cut_top=0.4, cut_bottom=0.4, shear=0.003).scan
    ink, zones = scanned._typeset("Higgledy piggledy", SERIF, size, p)
    rows = np.flatnonzero(ink.max(axis=1) > 0.5)
    top, bottom, _, _ = scanned._window(ink, zones, p, size, bent=True)
    assert top <= rows[0] and bottom >= rows[-1] + 1


@pytest.mark.parametrize("font", [SERIF, MONO])
def test_the_crop_spares_commas_and_marks(font):
    """Asked to cut all it may: a comma's tail crossing the cut moves the cut below it; a line
    with a cedilla (one piece with its c in many faces) or an accented capital is not cut on
    that side at all."""
    size = scanned.HI_RES * 32
    p = effects(0, cut_top=1.0, cut_bottom=1.0, shear=0.0, wave=0.0).scan
    ink, zones = scanned._typeset("one, two; three", font, size, p)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((ink > 0.5).astype(np.uint8), connectivity=8)
    small = [(y, y + h) for y, h in zip(stats[1:, 1], stats[1:, 3]) if h < zones["baseline"] - zones["x_height"]]
    top, bottom, _, _ = scanned._window(ink, zones, p, size, bent=False, text="one, two; three")
    assert all(not (y0 < bottom < y1) and not (y0 < top < y1) for y0, y1 in small)
    assert any(y1 > zones["baseline"] for _, y1 in small)               # the comma's tail hangs below
    rows = np.flatnonzero(ink.max(axis=1) > 0.5)
    for text, side in (("Façade", "bottom"), ("ÉCOLE", "top")):
        ink, zones = scanned._typeset(text, font, size, p)
        rows = np.flatnonzero(ink.max(axis=1) > 0.5)
        top, bottom, _, _ = scanned._window(ink, zones, p, size, bent=False, text=text)
        assert (bottom >= rows[-1] + 1) if side == "bottom" else (top <= rows[0]), (text, top, bottom, rows[[0, -1]])

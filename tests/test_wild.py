"""The `wild` style (words on signs, covers and cards) and the bundled display fonts."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from conftest import FONTS, generate_args
from pipeline.errors import OcrpipeError
from pipeline.resources import bundled, expand_fonts
from pipeline.synth import wild
from pipeline.synth.render import MIN_CONTRAST, RenderFailure, render
from pipeline.synth.styles import Overrides, draw_effects
from test_generate import read_labels, snapshot

DISPLAY = sorted((FONTS / "display").glob("*.[ot]tf"))
PHOTOS = str(bundled("backgrounds"))


def _params(seed: int, neighbours: str = "apart") -> wild.WildParams:
    style, fx = draw_effects("wild", Overrides(wild_neighbours=neighbours), random.Random(seed))
    assert style == "wild" and fx.wild is not None
    return fx.wild


@pytest.mark.parametrize("seed", range(40))
def test_no_geometry_pushes_ink_of_the_word_out_of_its_crop(seed):
    font = str(DISPLAY[seed % len(DISPLAY)])
    p = _params(seed)
    masks = wild._geometry(wild._masks("Quickly 42", font, p, random.Random(seed)), p)
    word = np.asarray(masks[0]) >= 64                     # a quarter coverage or more
    x0, y0, x1, y1 = wild._crop_box(masks[0], p)
    assert word.sum() > 0 and word[y0:y1, x0:x1].sum() == word.sum()


def test_wild_words_are_the_same_for_1_and_2_workers(tmp_path, small_corpus, run_cli):
    fonts = [a for f in DISPLAY[:6] for a in ("--fonts", str(f))]
    args = ("--text", "words", "--max-words", "1", "--style", "wild", *fonts)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli(*generate_args(one, small_corpus, *args, "--workers", "1", count=120)).exit_code == 0
    assert run_cli(*generate_args(two, small_corpus, *args, "--workers", "2", count=120)).exit_code == 0
    assert snapshot(one) == snapshot(two)
    rows = read_labels(one, "train")
    assert rows and {r["style"] for r in rows} == {"wild"}
    assert len({r["family"] for r in rows}) >= 4          # the display families, named in the labels


def test_a_word_without_contrast_is_rejected_not_labelled(monkeypatch):
    grey = (128, 128, 128)
    monkeypatch.setattr(wild, "_far_color", lambda under, rng, lo, hi: grey)
    monkeypatch.setattr(wild, "_random_rgb", lambda rng: grey)
    _, fx = draw_effects("wild", Overrides(), random.Random(3))
    fx = dataclasses.replace(fx, wild=dataclasses.replace(fx.wild, background="flat", outline=0.0, shadow=0.0))
    with pytest.raises(RenderFailure, match="low_contrast"):
        render("CAFE", str(DISPLAY[0]), 32, fx, 1, photo_dir=PHOTOS)


def test_rendered_words_keep_their_ink_above_the_contrast_bound():
    kept = 0
    for seed in range(30):
        _, fx = draw_effects("wild", Overrides(), random.Random(seed))
        try:
            out = render("Motel", str(DISPLAY[seed % len(DISPLAY)]), 32, fx, seed, photo_dir=PHOTOS)
        except RenderFailure as e:
            assert e.reason in ("low_contrast", "empty_render")
            continue
        kept += 1
        assert out.image.height == 32 and out.image.mode == "RGB"
    assert kept >= 25                                     # rejections are the exception
    assert MIN_CONTRAST == 40.0                           # the bound README and wild.py state


def test_wild_takes_no_effect_overrides_and_no_vertical(tmp_path, small_corpus, run_cli):
    result = run_cli(*generate_args(tmp_path / "a", small_corpus, "--style", "wild", "--skew", "2"))
    assert result.exit_code == 2 and "the wild style draws its own geometry" in result.output
    result = run_cli(*generate_args(tmp_path / "b", small_corpus, "--style", "wild", "--orientation", "vertical"))
    assert result.exit_code == 2 and "wild style draws horizontal lines only" in result.output


def test_bundled_font_sets_are_named_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = expand_fonts(("display", "en"))
    assert any("/display/" in f for f in files) and any(f.endswith("DejaVuSans.ttf") for f in files)
    assert len([f for f in files if "/display/" in f]) == len(DISPLAY) >= 100
    (tmp_path / "display").mkdir()                        # a folder of that name wins over the set
    assert expand_fonts(("display",)) == ("display",)


def test_display_fonts_and_photographs_are_recorded_with_their_licenses():
    readme = (FONTS / "display" / "README.md").read_text(encoding="utf-8")
    for font in DISPLAY:
        assert f"`{font.name}`" in readme
    for package in {line.split("|")[3].split(" (")[0].strip() for line in readme.splitlines()
                    if line.startswith("| `")}:
        assert (FONTS / "LICENSES" / f"{package}.copyright").is_file()
    photos = bundled("backgrounds")
    notes = (photos / "README.md").read_text(encoding="utf-8")
    pictures = sorted(photos.glob("*.jpg"))
    assert pictures and all(f"`{p.name}`" in notes for p in pictures)
    assert (photos / "mate-backgrounds.copyright").is_file()


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_grow_is_pillows_max_filter_pixel_for_pixel(radius):
    from PIL import Image, ImageFilter

    mask = Image.fromarray((np.random.default_rng(radius).random((37, 61)) > 0.93).astype(np.uint8) * 200)
    assert np.array_equal(np.asarray(wild._grow(mask, radius)),
                          np.asarray(mask.filter(ImageFilter.MaxFilter(2 * radius + 1))))


def test_geometry_warps_shared_and_empty_masks_as_it_warps_the_others():
    """An outline of width 0 is the fill object itself and a word without shadow has an empty
    shadow: both are taken over instead of warped again, with the pixels a warp would give."""
    p = dataclasses.replace(_params(5), rotate=4.0, perspective=0.1, curve=0.2, stretch=1.2, outline=0.0, shadow=0.0)
    word, fill, outline, shadow = wild._masks("Sale 24", str(DISPLAY[0]), p, random.Random(5))
    assert outline is fill and shadow.getbbox() is None
    fast = wild._geometry((word, fill, outline, shadow), p)
    slow = [wild._geometry((m.copy(),), p)[0] for m in (word, fill, shadow)]   # each alone: warped for real
    assert np.array_equal(np.asarray(fast[1]), np.asarray(slow[1]))
    assert np.array_equal(np.asarray(fast[2]), np.asarray(slow[1]))
    assert np.array_equal(np.asarray(fast[3]), np.asarray(slow[2])) and fast[3].getbbox() is None


def test_wild_parts_leave_out_what_they_name_and_keep_the_words(tmp_path, small_corpus, run_cli):
    from pipeline.synth.styles import limit_wild

    plain = limit_wild(_params(2), frozenset())
    assert (plain.background, plain.fill, plain.outline, plain.shadow) == ("flat", "solid", 0.0, 0.0)
    assert (plain.rotate, plain.curve, plain.perspective, plain.stretch) == (0.0, 0.0, 0.0, 1.0)
    assert (plain.low_res, plain.blur, plain.jpeg, plain.neighbours) == (1.0, 0.0, 0, False)
    only = limit_wild(_params(2), frozenset({"geometry"}))
    assert only.rotate == _params(2).rotate and only.background == "flat"

    fonts = [a for f in DISPLAY[:4] for a in ("--fonts", str(f))]
    args = ("--text", "words", "--max-words", "1", "--style", "wild", *fonts)
    every, none = tmp_path / "every", tmp_path / "none"
    assert run_cli(*generate_args(every, small_corpus, *args, count=40)).exit_code == 0
    assert run_cli(*generate_args(none, small_corpus, *args, "--wild-parts", "none", count=40)).exit_code == 0
    texts = [(r["text"], r["font"]) for r in read_labels(every, "train")]
    assert texts == [(r["text"], r["font"]) for r in read_labels(none, "train")]   # the same words, drawn plainly
    assert {r["background"] for r in read_labels(none, "train")} == {"flat"}

    result = run_cli(*generate_args(tmp_path / "c", small_corpus, "--wild-parts", "geometry"))
    assert result.exit_code == 2 and "only the wild style draws these parts" in result.output
    result = run_cli(*generate_args(tmp_path / "d", small_corpus, *args, "--wild-parts", "shadows"))
    assert result.exit_code == 2 and "unknown part shadows" in result.output


def _neighbour_columns(p: wild.WildParams, seed: int, font: str) -> tuple[int, int, int]:
    """(word ink pixels lost, neighbour columns in the crop, widest share of a neighbour shown)."""
    masks = wild._geometry(wild._masks("Quickly", font, p, random.Random(seed ^ 0x3A1D)), p)
    box = wild._crop_box(masks[0], p)
    if p.near:
        box = wild._neighbour_edges(masks[0], masks[1], box, wild._cuts(seed))
    word, fill = (np.asarray(m) >= 64 for m in masks[:2])
    x0, y0, x1, y1 = box
    lost = int(word.sum() - word[y0:y1, x0:x1].sum())
    others = (fill & ~word).any(axis=0)
    columns = np.flatnonzero(word.any(axis=0))
    shares = []
    for side in (np.flatnonzero(others[:columns[0]]), np.flatnonzero(others[columns[-1] + 1:]) + columns[-1] + 1):
        if side.size:
            shown = int(((side >= x0) & (side < x1)).sum())
            shares.append(shown / (side[-1] - side[0] + 1))
    return lost, int(others[x0:x1].sum()), max(shares, default=0.0)


def test_near_neighbours_show_a_sliver_at_the_edge_and_never_a_whole_letter():
    """--wild-neighbours near: some crops hold a sliver of the next word's letter (real crops
    do), none more than NEIGHBOUR_SHARE of it, none loses a column of the word; apart (the
    drawing before the option) shows none at all."""
    font = str(DISPLAY[0])
    near = apart = 0
    for seed in range(200):
        p = _params(seed, "near")
        if not p.neighbours:
            continue
        lost, shown, share = _neighbour_columns(dataclasses.replace(p, near=True), seed, font)
        assert lost == 0 and share <= wild.NEIGHBOUR_SHARE + 0.05
        near += shown > 0
        lost, shown, _ = _neighbour_columns(dataclasses.replace(p, near=False), seed, font)
        assert lost == 0
        apart += shown > 0
    assert near >= 20 and apart == 0


def test_wild_neighbours_count_in_the_fingerprint_of_near_wild_runs_only():
    from pipeline.config import GenerateConfig
    assert GenerateConfig(style="wild", wild_neighbours="near").output_fields()["wild_neighbours"] == "near"
    assert "wild_neighbours" not in GenerateConfig(style="wild").output_fields()     # runs made before it
    assert "wild_neighbours" not in GenerateConfig(style="print", wild_neighbours="near").output_fields()
    _, fx = draw_effects("wild", Overrides(), random.Random(1))
    assert fx.wild is not None and not fx.wild.near
    with pytest.raises(OcrpipeError, match="--wild-neighbours"):
        GenerateConfig(style="wild", wild_neighbours="close").validate()


def test_a_wild_run_is_not_resumed_with_other_neighbours(tmp_path, small_corpus, run_cli):
    args = ("--text", "words", "--max-words", "1", "--style", "wild", "--fonts", str(DISPLAY[0]))
    run = tmp_path / "run"
    assert run_cli(*generate_args(run, small_corpus, *args, count=20)).exit_code == 0
    before = snapshot(run)
    result = run_cli(*generate_args(run, small_corpus, *args, "--wild-neighbours", "near", count=20))
    assert result.exit_code == 2 and "--force" in result.output
    assert snapshot(run) == before
    assert run_cli(*generate_args(run, small_corpus, *args, "--wild-neighbours", "apart", count=20)).exit_code == 0

"""The looks of the one-model recipe: shares of styles and texts, the receipt and screen
styles, receipt text."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from conftest import FONTS, generate_args
from pipeline.config import parse_weighted, STYLES
from pipeline.synth.render import render
from pipeline.synth.styles import Effects, Finish, Overrides, draw_effects
from pipeline.text import corpus, receipts
from test_generate import read_labels

MONO = str(FONTS / "DejaVuSansMono.ttf")


@pytest.mark.parametrize("value, message", [
    ("print:0", "a share must be a positive number"),
    ("print:x", "the share after ':' must be a number"),
    ("print:nan", "a share must be a positive number"),
    ("print,print:2", "name each one once"),
    ("print,glossy", "unknown style glossy"),
])
def test_bad_shares_are_named(value, message):
    with pytest.raises(ValueError, match=message):
        parse_weighted(value, STYLES, "style")


def test_styles_are_drawn_at_their_shares_and_equal_mixtures_as_before():
    rng = random.Random(0)
    drawn = Counter(draw_effects("scanned:3,print:1", Overrides(), rng)[0] for _ in range(4000))
    assert 0.71 < drawn["scanned"] / 4000 < 0.79
    # Without shares a mixture draws as it always has (rng.choice), so earlier runs stay byte-identical.
    a = random.Random(5)
    drawn = [draw_effects("print,binarized", Overrides(), a)[0] for _ in range(50)]
    b = random.Random(5)
    expected = []
    for _ in range(50):
        style = b.choice(("print", "binarized"))
        draw_effects(style, Overrides(), b)                     # the preset's own draws
        expected.append(style)
    assert drawn == expected


def _receipt_effects(**finish: object) -> Effects:
    return Effects("#202020", "paper", 0.0, 0.0, "none", 0, (3, 3, 3, 3), 0, 0, 0.0, 0.0, False,
                   finish=Finish(**finish))


def test_an_inverted_line_is_light_text_on_a_dark_ground():
    plain = np.asarray(render("TOTAL 12.50", MONO, 32, _receipt_effects(), 1).image, dtype=np.float32)
    negative = np.asarray(render("TOTAL 12.50", MONO, 32, _receipt_effects(invert=True), 1).image, dtype=np.float32)
    assert np.median(plain) > 180 and np.median(negative) < 75
    assert np.allclose(negative, 255 - plain)


def test_lost_resolution_and_jpeg_soften_the_line_but_keep_its_size():
    sharp = render("CASH 9.99", MONO, 32, _receipt_effects(), 2).image
    soft = render("CASH 9.99", MONO, 32, _receipt_effects(scale=0.4, jpeg=30), 2).image
    assert soft.size == sharp.size
    edges = lambda im: float(np.abs(np.diff(np.asarray(im, dtype=np.float32), axis=1)).mean())   # noqa: E731
    assert edges(soft) < 0.8 * edges(sharp)


def test_faded_ink_fades_along_the_line_and_dots_thin_it():
    solid = np.asarray(render("GRAND TOTAL 100.00", MONO, 32, _receipt_effects(), 3).image, dtype=np.float32)
    worn = np.asarray(render("GRAND TOTAL 100.00", MONO, 32, _receipt_effects(fade=0.5, dots=3), 3).image,
                      dtype=np.float32)
    ink = solid < 128
    assert worn[ink].mean() > solid[ink].mean() + 20            # the same strokes, lighter


def test_receipt_and_screen_lines_are_generated_with_their_looks(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, "--style", "receipt,screen", "--text", "receipt",
                                    count=80))
    assert result.exit_code == 0, result.output
    rows = read_labels(run, "train")
    assert {r["style"] for r in rows} == {"receipt", "screen"}
    assert all(r["background"].startswith("#") for r in rows if r["style"] == "screen")
    upper = sum(r["text"] == r["text"].upper() for r in rows) / len(rows)
    assert upper > 0.7


def test_receipt_lines_hold_only_their_alphabet_and_mostly_capitals(small_corpus):
    words = small_corpus[1].read_text(encoding="utf-8").split()
    rng = random.Random(1)
    texts = [receipts.line(rng, words) for _ in range(3000)]
    assert all(t and t == " ".join(t.split()) for t in texts)
    assert set("".join(texts)) <= receipts.ALPHABET | set("".join(words).upper()) | set("".join(words))
    assert sum(t == t.upper() for t in texts) / len(texts) > 0.8
    assert sum(any(ch.isdigit() for ch in t) for t in texts) / len(texts) > 0.4     # prices, dates, codes
    assert any(t.startswith("TOTAL") for t in texts) and any(t.count("/") == 2 for t in texts)


def test_a_mixture_of_texts_draws_each_kind_at_its_share(small_corpus):
    c = corpus.Corpus.load(small_corpus, codes_fraction=0.2, text="lines:2,words:1,receipt:1")
    rng = random.Random(2)
    texts = [c.sample(rng, 3, 8) for _ in range(2000)]
    assert set("".join(texts)) <= c.characters()
    one_token = sum(" " not in t for t in texts) / len(texts)
    assert 0.25 < one_token < 0.6                               # the words (a quarter) and lone receipt boxes
    again = random.Random(2)
    assert texts[:50] == [c.sample(again, 3, 8) for _ in range(50)]

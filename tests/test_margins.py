"""`train --jitter-margins`: each side of a share of the training lines cut to the ink or
widened with its own background, on real generated lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import build_run, copy_run, train_lines
from pipeline.datasets.loader import Collate
from pipeline.models import checkpoint
from pipeline.run.manifest import Manifest
from pipeline.text.charset import Charset
from pipeline.training.margins import TIGHT_MAX, MarginCollate, ink_columns, redraw_margins, row_background

TINY = ("--arch", "crnn-small", "--batch-size", "8", "--no-progress", "--device", "cpu", "--steps", "4",
        "--val-every", "2", "--seed", "3")


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("margins"), "--max-words", "2", "--val-fraction", "0.15",
                     "--test-fraction", "0.1", count=60)


def test_each_side_is_cut_to_the_ink_or_widened_and_the_ink_is_kept(packed):
    tight = loose = 0
    for k, (_, image, text) in enumerate(train_lines(packed)):
        background = row_background(image)
        first, last = ink_columns(image, background)
        out = redraw_margins(image, text, np.random.default_rng(k))
        height = image.shape[0]
        found = ink_columns(out, background)          # the line's own background, as drawn
        assert found is not None
        new_first, new_last = found
        # the ink itself is untouched, only shifted
        assert np.array_equal(out[:, new_first:new_last + 1], image[:, first:last + 1])
        for before, after in ((first, new_first), (image.shape[1] - 1 - last, out.shape[1] - 1 - new_last)):
            if after <= min(before, TIGHT_MAX):
                tight += 1
            else:
                assert before <= after <= before + height // 2
                loose += 1
    assert tight > 10 and loose > 10


def test_added_margin_is_the_rows_own_background():
    image = np.full((32, 40, 1), 200, dtype=np.uint8)
    image[:, :, 0] += np.arange(32, dtype=np.uint8)[:, None] // 4       # a background shading down the line
    image[8:24, 10:30] = 20                                            # the ink
    for seed in range(20):
        out = redraw_margins(image, "ab", np.random.default_rng(seed))
        first, last = ink_columns(out, row_background(image))
        assert np.array_equal(out[:, first:last + 1], image[:, 10:30])
        for side in (out[:, :first], out[:, last + 1:]):
            assert np.array_equal(side, np.broadcast_to(image[:, :1], (32, side.shape[1], 1)))


def test_a_line_without_ink_or_too_narrow_for_its_text_is_kept():
    blank = np.full((32, 50, 1), 255, dtype=np.uint8)
    assert redraw_margins(blank, "abc", np.random.default_rng(0)) is blank
    narrow = blank.copy()
    narrow[10:20, 20:24] = 0
    long_text = "x" * 30                     # 4 px of ink cannot hold 30 characters once cut
    for seed in range(10):
        out = redraw_margins(narrow, long_text, np.random.default_rng(seed))
        assert out.shape[1] >= 4 * 31 or out is narrow


def test_the_collate_is_deterministic_and_a_share_of_0_changes_nothing(packed):
    charset = Charset.load(packed / "charset.json")
    items = train_lines(packed)[:16]
    plain = Collate(charset).arrays(items)
    none = MarginCollate(charset, 0.0, seed=1).arrays(items)
    assert np.array_equal(plain.images, none.images) and np.array_equal(plain.widths, none.widths)
    a, b = MarginCollate(charset, 1.0, seed=1).arrays(items), MarginCollate(charset, 1.0, seed=1).arrays(items)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.widths, b.widths)
    other = MarginCollate(charset, 1.0, seed=2).arrays(items)
    assert not np.array_equal(a.widths, other.widths)
    assert (a.widths != plain.widths).sum() >= 8 and a.texts == plain.texts


def test_train_with_jitter_margins_is_recorded_reproducible_and_checked(packed, tmp_path, run_cli):
    first, second = copy_run(packed, tmp_path / "a"), copy_run(packed, tmp_path / "b")
    for run in (first, second):
        result = run_cli("train", "--run", run, *TINY, "--jitter-margins", "0.5")
        assert result.exit_code == 0, result.output
    assert Manifest(first).stage("train").config["jitter_margins"] == 0.5
    x, y = checkpoint.load(first / "train" / "last.pt"), checkpoint.load(second / "train" / "last.pt")
    for name, tensor in x["model"]["state_dict"].items():
        assert torch.equal(tensor, y["model"]["state_dict"][name]), name
    changed = run_cli("train", "--run", first, *TINY, "--jitter-margins", "0.2", "--resume")
    assert changed.exit_code == 2 and "jitter_margins" in changed.output, changed.output
    bad = run_cli("train", "--run", first, *TINY, "--jitter-margins", "1.5")
    assert bad.exit_code == 2 and "--jitter-margins" in bad.output and "Traceback" not in bad.output

"""`train --ink-rows`: lines cut to their ink rows and scaled back to the model's height, in
training and in every reading after (eval, predict, an export's preparation), on real
generated lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import build_run, copy_run, train_dataset, train_lines
from pipeline.datasets.images import crop_to_ink_rows, ink_row_span, load_line
from pipeline.datasets.loader import Collate, ink_row_widths
from pipeline.models import checkpoint
from pipeline.text.charset import Charset

TINY = ("--arch", "crnn-small", "--batch-size", "8", "--steps", "2", "--val-every", "2", "--no-progress",
        "--device", "cpu")


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("ink-rows"), "--max-words", "3", "--test-fraction", "0.1", count=40)


def lines(run: Path) -> list[np.ndarray]:
    return [pixels for _, pixels, _ in train_lines(run)]


def test_a_line_with_wide_bands_above_and_below_is_read_at_the_size_of_a_tight_one(packed):
    for line in lines(packed)[:10]:
        height = line.shape[0]
        tight = crop_to_ink_rows(line)
        assert tight.shape[0] == height and tight.shape[1] >= line.shape[1] and tight.dtype == np.uint8
        band = height // 4                            # a loose crop: half the height more of paper
        loose = np.pad(line, ((band, band), (0, 0), (0, 0)), constant_values=255)
        small = Image.fromarray(loose[:, :, 0]).resize((line.shape[1] * 2 // 3, height), Image.Resampling.BILINEAR)
        cut = crop_to_ink_rows(np.asarray(small)[:, :, None])       # as normalized to the height, then cut
        assert abs(cut.shape[1] - tight.shape[1]) <= 0.1 * tight.shape[1]     # the glyphs back at one size
        first, last = ink_row_span(cut)
        assert first <= 3 and last >= height - 4


def test_lines_are_batched_by_the_widths_they_are_read_at(packed):
    dataset = train_dataset(packed)
    widths = ink_row_widths(dataset)
    assert widths.tolist() == [crop_to_ink_rows(pixels).shape[1] for pixels in lines(packed)]
    assert (widths >= dataset.widths).all() and (widths > dataset.widths).any()


def test_lines_without_ink_or_filled_with_it_and_dashes_keep_their_shape():
    blank = np.full((32, 50, 1), 255, dtype=np.uint8)
    assert crop_to_ink_rows(blank) is blank
    full = np.full((32, 50, 1), 255, dtype=np.uint8)
    full[:, 10:12] = 0                                # a stroke from top to bottom: nothing to cut
    assert crop_to_ink_rows(full) is full
    dash = np.full((32, 50, 1), 255, dtype=np.uint8)
    dash[15:17, 10:40] = 0                            # two rows of ink: at least a quarter of the height is kept
    cut = crop_to_ink_rows(dash)
    assert cut.shape == (32, 200, 1)
    first, last = ink_row_span(cut)
    assert 10 <= first and last <= 21                  # a dash in the middle, not a block filling the line


def test_light_text_on_dark_is_cut_as_dark_on_light(packed):
    for line in lines(packed)[:5]:
        light, dark = crop_to_ink_rows(255 - line).astype(int), 255 - crop_to_ink_rows(line).astype(int)
        assert light.shape == dark.shape and np.abs(light - dark).max() <= 1      # the same band, rounded alike


def test_the_model_records_it_inherits_it_through_init_and_every_reading_applies_it(packed, run_cli, tmp_path):
    run = copy_run(packed, tmp_path / "run")
    assert run_cli("train", "--run", run, *TINY, "--ink-rows").exit_code == 0
    best = run / "train" / "best.pt"
    assert checkpoint.load(best)["model"]["config"]["ink_rows"] is True
    other = copy_run(packed, tmp_path / "other")
    assert run_cli("train", "--run", other, *TINY, "--init", best).exit_code == 0
    assert checkpoint.load(other / "train" / "best.pt")["model"]["config"]["ink_rows"] is True
    assert run_cli("train", "--run", other, *TINY, "--init", best, "--all-rows", "--force").exit_code == 0
    assert checkpoint.load(other / "train" / "best.pt")["model"]["config"]["ink_rows"] is False

    folder = tmp_path / "lines"                       # eval and predict read the same images the same way
    folder.mkdir()
    labels = (run / "labels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:4]
    rows = []
    for k, row in enumerate(labels):
        source, text = row.split("\t")[:2]
        image = Image.open(run / source)
        padded = Image.new("L", (image.width, image.height * 2), 255)         # a loose crop
        padded.paste(image.convert("L"), (0, image.height // 2))
        padded.save(folder / f"line{k}.png")
        rows.append(f"line{k}.png\t{text}")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    evaluated = run_cli("eval", "--run", run, "--data", folder, "--checkpoint", best, "--no-progress",
                        "--device", "cpu")
    assert evaluated.exit_code == 0, evaluated.output
    predictions = (run / "eval" / "lines" / "predictions.tsv").read_text(encoding="utf-8").splitlines()[1:]
    by_eval = {line.split("\t")[0]: line.split("\t")[2] for line in predictions}
    predicted = run_cli("predict", "--checkpoint", best, *sorted(folder.glob("*.png")), "--device", "cpu")
    assert predicted.exit_code == 0, predicted.output
    by_predict = {Path(line.split("\t")[0]).name: line.split("\t")[1]
                  for line in predicted.output.strip().splitlines() if line.startswith(str(folder))}
    assert by_predict == by_eval and len(by_eval) == 3

    charset = Charset(checkpoint.load(best)["charset"])
    pixels = load_line(folder / "line0.png", 32, 1)
    batch = Collate(charset, encode=False, ink_rows=True).arrays([(0, pixels, "")])
    cut = load_line(folder / "line0.png", 32, 1, ink_rows=True)
    assert batch.widths.tolist() == [cut.shape[1]]
    assert (batch.images[0, :, :, :cut.shape[1]] == cut.transpose(2, 0, 1)).all()


def test_an_export_says_how_to_prepare_the_lines(packed, run_cli, tmp_path):
    run = copy_run(packed, tmp_path / "run")
    assert run_cli("train", "--run", run, *TINY, "--ink-rows").exit_code == 0
    output = tmp_path / "model.pt"
    result = run_cli("export", "--checkpoint", run / "train" / "best.pt", "--format", "torchscript",
                     "--output", output)
    assert result.exit_code == 0, result.output
    sidecar = json.loads(output.with_name(output.name + ".json").read_text())
    assert sidecar["ink_rows"] is True and "ink_rows=True" in sidecar["preparation_in_python"]
    assert any("--ink-rows" in step for step in sidecar["preparation"])

"""Fine-tuning (`--init`), training on several splits at chosen shares, folder imports."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import at_augment_call, build_run, copy_run
from pipeline.models import checkpoint
from pipeline.training import init as finetune
from pipeline.text.charset import Charset
from pipeline.config import TrainConfig
from pipeline.datasets.loader import BucketBatchSampler, Collate
from pipeline.models.inference import ctc_loss
from pipeline.run.manifest import Manifest
from pipeline.datasets.mixing import BLOCK, MixedBatchSampler, train_data
from pipeline.models.crnn import ModelConfig, build, to_ink
from pipeline.run.results import PackResult
from pipeline.models.runtime import setup
from pipeline.datasets.sources import from_folder

TINY = ("--batch-size", "8", "--no-progress", "--device", "cpu")


@pytest.fixture(scope="module")
def parent(tmp_path_factory) -> Path:
    """A tiny trained run whose best.pt is the parent checkpoint of the fine-tunings below."""
    return build_run(tmp_path_factory.mktemp("parent"), "--max-words", "2", "--val-fraction", "0.15",
                     "--test-fraction", "0.1", "--style", "plain", count=120,
                     train=["--arch", "crnn-small", *TINY, "--steps", "4", "--val-every", "4"])


def write_named_folder(folder: Path, run: Path, split: str = "test", extra_char: str = "") -> list[str]:
    """Images of a run's split saved under their own text, as users keep labelled crops."""
    folder.mkdir()
    with open(run / "labels" / f"{split}.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    names = []
    for i, row in enumerate(rows):
        text = (row["text"] + extra_char if i == 0 else row["text"]).replace("/", "%2F")
        name = f"{text}.png" if not (folder / f"{text}.png").exists() else f"{text} (2).png"
        shutil.copy(run / row["filename"], folder / name)
        names.append(name)
    return names


def test_a_folder_of_images_named_by_their_text(tmp_path):
    from PIL import Image

    folder = tmp_path / "cards"
    folder.mkdir()
    for name in ("Fireball", "Fireball (2)", "Arcane Intellect", "AC%2FDC", "50%25 off", "Frost_2", "x (y)"):
        Image.new("L", (40, 16), 255).save(folder / f"{name}.png")
    labels = sorted(s.label for s in from_folder(folder))
    assert labels == ["50% off", "AC/DC", "Arcane Intellect", "Fireball", "Fireball", "Frost_2", "x (y)"]


def test_a_grown_charset_keeps_the_old_rows_bit_for_bit():
    old, new = Charset(list("abc ")), Charset(list("b xd"))
    grown = checkpoint.grow_charset(old, new)
    assert grown.chars[:4] == old.chars and list(grown.chars[4:]) == ["x", "d"]
    assert all(grown.index[c] == old.index[c] for c in old.chars)
    torch.manual_seed(0)
    parent = build(ModelConfig("crnn-small", len(old), 32, 1)).state_dict()
    torch.manual_seed(1)
    fresh = build(ModelConfig("crnn-small", len(grown), 32, 1)).state_dict()
    out = checkpoint.grown_state_dict(parent, fresh)
    for name, value in parent.items():
        if name in checkpoint.HEAD:
            assert torch.equal(out[name][: len(old)], value) and torch.equal(out[name][len(old):], fresh[name][len(old):])
        else:
            assert torch.equal(out[name], value), name


def test_the_prior_bias_is_each_class_share_of_the_frames():
    bias = finetune.prior_bias(["ab", "a"], np.array([40, 20]), Charset(list("abc")))   # 10 + 5 frames
    shares = torch.exp(bias).double()
    assert torch.allclose(shares, torch.tensor([11.5, 2, 1, 0.5], dtype=torch.float64) / 15)
    assert abs(float(shares.sum()) - 1) < 1e-6          # a distribution: softmax leaves it as it is


def test_the_prior_counts_each_line_as_often_as_the_mix_draws_it():
    from pipeline.training.build import line_weights

    # The second line drawn 3 times as often: 10 x 0.5 + 5 x 1.5 = 12.5 frames, `a` 2, `b` 0.5.
    bias = finetune.prior_bias(["ab", "a"], np.array([40, 20]), Charset(list("abc")), np.array([1.0, 3.0]))
    assert torch.allclose(torch.exp(bias).double(), torch.tensor([9.5, 2, 0.5, 0.5], dtype=torch.float64) / 12.5)
    data = types.SimpleNamespace(offsets=[0, 3], sizes=[3, 1])
    weights = line_weights(data, TrainConfig(train_splits=("train", "real"), mix=(0.5, 0.5)))
    assert weights.tolist() == [0.5 / 3] * 3 + [0.5]                  # the 1-line split counts as much as 3
    assert line_weights(data, TrainConfig(train_splits=("train", "real"))).tolist() == [0.25] * 4


def test_a_fresh_model_starts_at_the_prior_and_a_lower_loss(parent):
    pack = Manifest(parent).require("pack", PackResult)
    config = TrainConfig(arch="crnn-small")
    data = train_data(pack, parent, config)
    batch = Collate(data.charset)([data.train[i] for i in range(len(data.train))])
    losses = []
    for use_prior in (False, True):
        _, model, charset, _ = finetune.build_model(config, pack, data.charset)
        if use_prior:
            finetune.start_at_prior(model, data.train.labels, data.train.widths, charset)
        with torch.no_grad():
            model.eval()
            log_probs, lengths = model(to_ink(batch.images), batch.widths)
            losses.append(float(ctc_loss(log_probs, lengths, batch, setup("cpu", False))))
    assert losses[1] < 0.5 * losses[0], losses


def test_init_starts_from_the_parent_weights_and_grows_the_charset(parent, tmp_path, run_cli):
    run, folder = tmp_path / "fresh", tmp_path / "real"
    write_named_folder(folder, parent, extra_char="~")       # one label with a character the parent lacks
    result = run_cli("pack", "--run", run, "--from-folder", folder, "--split", "real", "--no-progress")
    assert result.exit_code == 0, result.output
    pack = Manifest(run).require("pack", PackResult)
    state = checkpoint.load(parent / "train" / "best.pt")
    config = TrainConfig(init=str(parent / "train" / "best.pt"), train_splits=("real",))
    _, model, charset, info = finetune.build_model(config, pack, Charset.load(run / "charset.json"))
    assert list(charset.chars[: len(state["charset"])]) == list(state["charset"]) and "~" in info["new_characters"]
    for name, value in state["model"]["state_dict"].items():
        mine = model.state_dict()[name]
        assert torch.equal(mine[: value.shape[0]] if name in checkpoint.HEAD else mine, value), name


def test_init_with_a_wider_arch_grows_the_parent_and_trains(parent, tmp_path, run_cli):
    run = copy_run(parent, tmp_path / "run")
    result = run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2", "--force",
                     "--init", parent / "train" / "best.pt", "--arch", "crnn-medium")
    assert result.exit_code == 0, result.output
    state = checkpoint.load(run / "train" / "best.pt")
    assert state["model"]["config"]["arch"] == "crnn-medium"
    assert Manifest(run).stage("train").result["init"]["widened_to"] == "crnn-medium"


def test_mixed_batches_hold_their_shares_and_resume_exactly():
    rng = np.random.default_rng(0)
    small = BucketBatchSampler(rng.integers(40, 200, 100), 8, seed=1)
    large = BucketBatchSampler(rng.integers(40, 200, 5000), 8, seed=2)
    mixed = MixedBatchSampler([small, large], [0, 100], [0.3, 0.7], seed=3)
    batches = []
    for epoch in range(3):
        mixed.set_epoch(epoch)
        batches += list(mixed)
    from_small = np.mean([max(b) < 100 for b in batches])
    assert len(batches) == 3 * BLOCK and abs(from_small - 0.3) < 0.03
    assert all(min(b) >= 100 for b in batches if max(b) >= 100)      # a batch comes whole from one split
    small_lines = [i for b in batches if max(b) < 100 for i in b]
    assert len(set(small_lines)) == 100                               # the small split is repeated, all of it
    again = MixedBatchSampler([small, large], [0, 100], [0.3, 0.7], seed=3)
    again.set_epoch(2, start=100)
    assert list(again) == batches[2 * BLOCK + 100:]


def test_resume_of_a_mixed_fine_tuning_is_exact(parent, tmp_path, run_cli, monkeypatch):
    run = copy_run(parent, tmp_path / "run")
    write_named_folder(tmp_path / "real", run)
    assert run_cli("pack", "--run", run, "--from-folder", tmp_path / "real", "--split", "real",
                   "--no-progress").exit_code == 0
    other = copy_run(run, tmp_path / "other")
    options = ("--init", parent / "train" / "best.pt", "--train-split", "train", "--train-split", "real",
               "--mix", "0.5,0.5", "--val-split", "real", "--freeze-cnn", "2", *TINY, "--steps", "6",
               "--val-every", "3", "--force")
    whole = run_cli("train", "--run", run, *options)
    assert whole.exit_code == 0, whole.output
    assert "lines per split: train" in whole.output and "started from" in whole.output
    chars = torch.load(parent / "train" / "best.pt", weights_only=False)["charset"]
    assert f"({len(chars)} characters" in whole.output     # the parent's characters, the blank aside

    at_augment_call(monkeypatch, 4, lambda: os.kill(os.getpid(), signal.SIGINT))
    assert run_cli("train", "--run", other, *options).exit_code == 130
    monkeypatch.undo()
    resumed = run_cli("train", "--run", other, *[o for o in options if o != "--force"], "--resume")
    assert resumed.exit_code == 0 and "resumed at step 4" in resumed.output, resumed.output
    a, b = checkpoint.load(run / "train" / "last.pt"), checkpoint.load(other / "train" / "last.pt")
    assert a["lines_by_source"] == b["lines_by_source"] and min(a["lines_by_source"]) > 0
    for name, tensor in a["model"]["state_dict"].items():
        assert torch.equal(tensor, b["model"]["state_dict"][name]), name
    record = Manifest(run).stage("train")
    assert record.inputs["init"]["sha256"] and set(record.result["lines_by_source"]) == {"train", "real"}


def test_bad_init_and_mix_are_one_line_errors(parent, tmp_path, run_cli):
    run = copy_run(parent, tmp_path / "run")
    not_a_checkpoint = tmp_path / "notes.txt"
    not_a_checkpoint.write_text("hello")
    taller = tmp_path / "tall.pt"
    model = build(ModelConfig("crnn-small", 5, 48, 1))
    checkpoint.save(taller, {"model": {"config": model.config.to_dict(), "state_dict": model.state_dict()},
                             "charset": list("abcd"), "height": 48, "channels": 1})
    cases = [(("--init", tmp_path / "missing.pt"), "no such checkpoint file"),
             (("--init", not_a_checkpoint), "not a readable checkpoint"),
             (("--init", taller), "height 48"),
             (("--init", parent / "train" / "best.pt", "--arch", "crnn-resnet"), "conflicts with --init"),
             (("--train-split", "train", "--train-split", "val", "--mix", "1"), "one share per --train-split"),
             (("--mix", "a,b"), "--mix"),
             (("--val-split", "nope"), "--val-split nope")]
    for args, message in cases:
        result = run_cli("train", "--run", run, *TINY, "--steps", "2", "--force", *args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output

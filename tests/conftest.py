"""Shared fixtures: small real inputs (bundled fonts, tiny corpora) and a CLI runner."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.datasets.loader import ShardDataset

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "fonts"
SMALL_FONTS = [FONTS / "LiberationSerif-Regular.ttf", FONTS / "DejaVuSans-Bold.ttf",
               FONTS / "texgyrecursor-regular.otf"]

PROSE = """It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.
The interpreter prints an error message and a stack trace; in interactive mode, it then returns to the primary prompt.
Typing the interrupt character (usually Control-C or Delete) cancels the input and returns to the prompt.
"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"
Version 3.11 added 42 new functions, 7 modules and about 1,250 tests in 2022.
"""
WORDS = "\n".join("apple banana cherry delta echo foxtrot golf hotel india juliet kilo lima mike november "
                  "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu".split())


@pytest.fixture
def small_corpus(tmp_path: Path) -> list[Path]:
    prose, words = tmp_path / "prose.txt", tmp_path / "words.txt"
    prose.write_text(PROSE, encoding="utf-8")
    words.write_text(WORDS + "\n", encoding="utf-8")
    return [prose, words]


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke `ocrpipe ARGS...`; returns click's Result (exit_code, output)."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def generate_args(run: Path, corpus: list[Path], *extra: str, count: int = 40) -> list[str]:
    args = ["generate", "--run", str(run), "--count", str(count), "--max-words", "4", "--no-progress"]
    for font in SMALL_FONTS:
        args += ["--fonts", str(font)]
    for c in corpus:
        args += ["--corpus", str(c)]
    return args + list(extra)


def build_run(base: Path, *generate_extra: str, count: int, train: list[str] | None = None) -> Path:
    """A small real run in base/run, made through the CLI: generate on the small corpus,
    pack, and train when `train` options are given."""
    corpus = [base / "prose.txt", base / "words.txt"]
    corpus[0].write_text(PROSE, encoding="utf-8")
    corpus[1].write_text(WORDS, encoding="utf-8")
    run = base / "run"
    steps = [generate_args(run, corpus, *generate_extra, count=count), ["pack", "--run", str(run), "--no-progress"]]
    if train is not None:
        steps.append(["train", "--run", str(run), *train])
    for args in steps:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return run


def train_dataset(run: Path) -> ShardDataset:
    """The packed training split of a run."""
    return ShardDataset(sorted((run / "shards" / "train").glob("shard-*.lmdb")))


def train_lines(run: Path) -> list[tuple[int, np.ndarray, str]]:
    """The packed training lines of a run: (index, pixels (H, W, C), text)."""
    dataset = train_dataset(run)
    return [dataset[i] for i in range(len(dataset))]


def copy_run(source: Path, target: Path) -> Path:
    """A private copy of a shared run, for a test that writes into it."""
    import shutil

    shutil.copytree(source, target)
    return target


def at_augment_call(monkeypatch, call: int, action: Callable[[], None]) -> None:
    """Run `action` (send a signal, raise an error) during the training step that makes the
    `call`-th augmentation call, then augment as usual."""
    from pipeline.training import loop

    calls = {"n": 0}
    real_augment = loop.augment

    def augment_then_act(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            action()
        return real_augment(*args, **kwargs)

    monkeypatch.setattr(loop, "augment", augment_then_act)

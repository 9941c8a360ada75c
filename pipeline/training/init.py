"""Where a training starts: fresh weights, or another model's (`--init`), and a CNN that
can be held fixed for the first steps (`--freeze-cnn`).

A fresh model's classifier starts at the classes' prior: its bias is the log of each class's
share of the training frames (the blank fills most of them). CTC otherwise spends its first
steps learning that prior from uniform scores, emitting nothing but blanks, and the more
classes, the longer (3,870 Chinese classes, 1,500 steps at lr 2e-3: validation CER 27.4%
from the prior, 89.4% from PyTorch's default small random bias, measured at commit 99566ec).

A fine-tuning keeps the parent's height and channels, and its architecture unless `--arch`
names a wider one of the same design, which the parent grows into (pipeline.models.widen). Its charset is the
parent's, then the characters of this run's pack the parent lacks: appended, so every known
character keeps its class index and its output row carries over bit for bit. Where the run
reads Hangul otherwise than the parent (letters, `pack --hangul jamo`, against syllables, or
the reverse), the charset is the run's: the rows of the characters both share carry over,
the others start fresh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pipeline.models import checkpoint
from pipeline.text.charset import Charset, ctc_frames
from pipeline.config import TrainConfig
from pipeline.errors import OcrpipeError
from pipeline.utils.files import sha256_file
from pipeline.models.crnn import ModelConfig, build
from pipeline.models.widen import can_widen, widen
from pipeline.resources import resolve_checkpoint
from pipeline.run.results import PackResult


def build_model(config: TrainConfig, pack: PackResult, charset: Charset
                ) -> tuple[ModelConfig, torch.nn.Module, Charset, dict[str, Any]]:
    """A fresh model, or one grown from the --init checkpoint: its charset plus the new
    characters of this pack (known characters keep their output rows, bit for bit)."""
    torch.manual_seed(config.seed)
    if not config.init:
        model_config = ModelConfig(config.arch or TrainConfig.DEFAULT_ARCH, len(charset), pack.height, pack.channels,
                                   whole_width=bool(config.whole_width), stretch=config.stretch or 1.0,
                                   ink_rows=bool(config.ink_rows))
        return model_config, build(model_config), charset, {}
    path = resolve_checkpoint(config.init, "--init")
    state = checkpoint.load(path)
    parent = state["model"]["config"]
    arch = config.arch or parent["arch"]
    grows = arch != parent["arch"]                 # a wider network the parent grows into
    if grows and not can_widen(parent["arch"], arch):
        raise OcrpipeError(f"--arch {config.arch} conflicts with --init {config.init}, a {parent['arch']}; "
                           "leave out --arch (the checkpoint decides it), name a wider one of the same design "
                           "(crnn-small -> crnn-medium -> crnn) or train from scratch")
    if (parent["height"], parent["channels"]) != (pack.height, pack.channels):
        raise OcrpipeError(f"--init {config.init} reads lines of height {parent['height']} with {parent['channels']} "
                           f"channel(s), the run is packed at {pack.height} and {pack.channels}; re-run `ocrpipe pack "
                           f"--height {parent['height']} --channels {parent['channels']}`")
    known = Charset(state["charset"])
    remap = known.jamo != charset.jamo
    grown = charset if remap else checkpoint.grow_charset(known, charset)
    whole_width = parent.get("whole_width", False) if config.whole_width is None else config.whole_width
    stretch = parent.get("stretch", 1.0) if config.stretch is None else config.stretch
    ink_rows = parent.get("ink_rows", False) if config.ink_rows is None else config.ink_rows
    model_config = ModelConfig(arch, len(grown), pack.height, pack.channels, whole_width=whole_width, stretch=stretch,
                               ink_rows=ink_rows)
    model = build(model_config)
    weights = checkpoint.weights(state, path)
    if grows:
        weights = widen(weights, parent["arch"], arch, seed=config.seed)
    model.load_state_dict(checkpoint.mapped_state_dict(weights, model.state_dict(), known, grown) if remap
                          else checkpoint.grown_state_dict(weights, model.state_dict()))
    info = {"path": str(path), "sha256": sha256_file(path), "arch": parent["arch"],
            "charset_size": len(state["charset"]),
            "new_characters": "".join(c for c in grown.chars if c not in known.index)}
    if grows:
        info["widened_to"] = arch
    if remap:
        info["charset_remapped"] = "hangul as letters" if charset.jamo else "hangul as syllables"
    return model_config, model, grown, info


def prior_bias(labels: Sequence[str], widths: np.ndarray, charset: Charset,
               weights: np.ndarray | None = None) -> torch.Tensor:
    """(classes,) log of each class's share of the CTC frames of lines `labels` `widths`
    pixels wide: a character's count over all frames (half a count for a class no line
    has), the blank the rest. `weights` (one per line) count each line as often as the
    training draws it (`--mix`); without them every line counts once."""
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w * (len(labels) / max(float(w.sum()), 1e-12))          # the same total: half counts stay small
    counts: Counter[str] = Counter()
    for label, weight in zip(labels, w):
        for c, n in Counter(charset.units(label)).items():
            counts[c] += n * weight
    frames = max(float((ctc_frames(np.asarray(widths, dtype=np.int64)) * w).sum()), 1.0)
    chars = np.array([max(counts[c], 0.5) for c in charset.chars], dtype=np.float64)
    blank = max(frames - chars.sum(), 0.5)
    return torch.from_numpy(np.log(np.concatenate([[blank], chars]) / frames)).float()


def start_at_prior(model: torch.nn.Module, labels: Sequence[str], widths: np.ndarray, charset: Charset,
                   weights: np.ndarray | None = None) -> None:
    """Set a fresh model's classifier bias to `prior_bias` of its training lines."""
    with torch.no_grad():
        model.head.bias.copy_(prior_bias(labels, widths, charset, weights))


def set_cnn_frozen(model: torch.nn.Module, frozen: bool) -> None:
    """Fix the CNN (no gradients, batch-norm statistics as they are) or release it."""
    for p in model.cnn.parameters():
        p.requires_grad_(not frozen)
    model.cnn.train(not frozen)

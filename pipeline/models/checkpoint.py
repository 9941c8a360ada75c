"""Checkpoints that describe themselves: plain types only, so `torch.load(weights_only=True)`
loads them, and a checkpoint alone is enough to evaluate or predict.

    {"format": "ocrpipe.checkpoint/1", "version": ..., "created": ...,
     "model": {"config": {"arch", "num_classes", "height", "channels"}, "state_dict": {...}},
     "charset": [...], "step", "epoch", "micro_batch", "lines_seen", "seconds",
     "train_config": {...}, "metrics": {...}, "best": {...},
     "optimizer": {...}, "scheduler": {...}, "rng": {...}, "data_digest", "manifest_sha256",
     "decoding": {"lm_weight", "lm_bonus"}}   (the last in an export that records them)

With `train --ema`, "model" holds the moving average of the weights (what is validated, exported
and used by --init) and "trained_weights" and "ema_updates" what a resume needs besides it.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline import __version__
from pipeline.text.charset import Charset
from pipeline.errors import OcrpipeError
from pipeline.utils.files import atomic_write_bytes
from pipeline.utils.provenance import now
from pipeline.models.crnn import CRNN, ModelConfig, build

FORMAT = "ocrpipe.checkpoint/1"


def rng_state() -> dict[str, Any]:
    """Every generator's state, as plain types and tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _plain(random.getstate())}
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state["numpy"] = [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)]
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def save(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    state = {"format": FORMAT, "version": __version__, "created": now(), **state}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue(), durable=True)


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`, or raise a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise OcrpipeError(f"{path}: no such checkpoint; train one with `ocrpipe train` or check --checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a foreign or damaged file
        raise OcrpipeError(f"{path} is not a readable checkpoint ({type(e).__name__}); "
                           "give a best.pt or last.pt written by `ocrpipe train`") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise OcrpipeError(f"{path} is not an ocrpipe checkpoint (format {FORMAT}); "
                           "give a best.pt or last.pt written by `ocrpipe train`")
    model = state.get("model")
    if not (isinstance(model, dict) and isinstance(model.get("config"), dict) and isinstance(model.get("state_dict"),
                                                                                           dict)
            and isinstance(state.get("charset"), list) and state["charset"]
            and isinstance(state.get("height"), int) and isinstance(state.get("channels"), int)):
        raise OcrpipeError(f"{path} is a damaged ocrpipe checkpoint (its model, charset, height or channels are "
                           "missing); use another best.pt or last.pt, or train again")
    return state


def model_from(state: dict[str, Any], path: Path | str = "the checkpoint") -> tuple[CRNN, Charset]:
    """The trained model (eval mode, on CPU) and its charset; `path` names it in errors."""
    try:
        model = build(ModelConfig(**state["model"]["config"]))
        model.load_state_dict(weights(state, path))
    except (TypeError, KeyError, ValueError, RuntimeError) as e:     # a config that does not fit its weights
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise OcrpipeError(f"{path}: its model config does not fit its weights "
                           f"({first}); use another best.pt or last.pt, or train again") from None
    if model.head.out_features != len(state["charset"]) + 1:
        raise OcrpipeError(f"{path}: {model.head.out_features} outputs for "
                           f"{len(state['charset'])} characters and the blank; use another checkpoint")
    model.eval()
    return model, Charset(state["charset"])


INT8, SCALE = ":int8", ":scale"     # a weight stored in int8: its values, and one scale per output row


def stored(weights: dict[str, torch.Tensor], how: str) -> dict[str, torch.Tensor]:
    """Weights to ship: every float tensor in float16 (`how` "float16"), or (`how` "int8") each
    matrix (the recurrent layers and the output layer, most of a model's weights) in int8 with
    one float32 scale per output row (symmetric, the row's largest magnitude at 127) and the
    rest in float16: the convolutions are few weights, and int8 filters moved class
    probabilities by up to 0.4 where the matrices moved them by 0.1. The int8 ones are stored
    under other names, so a reader that does not know them fails on missing weights instead of
    loading integers as floats."""
    out: dict[str, torch.Tensor] = {}
    for name, value in weights.items():
        if not value.is_floating_point():
            out[name] = value
        elif how == "int8" and value.dim() == 2:
            rows = value.detach().float()
            scale = rows.abs().amax(dim=1).clamp_min(1e-12) / 127.0
            out[name + INT8] = torch.round(rows / scale[:, None]).to(torch.int8)
            out[name + SCALE] = scale
        else:
            out[name] = value.half()
    return out


def weights(state: dict[str, Any], path: Path | str = "the checkpoint") -> dict[str, torch.Tensor]:
    """The model's weights as stored, with int8 ones expanded to float32 (float16 ones are
    widened by `load_state_dict`); `path` names the checkpoint in errors."""
    saved = state["model"]["state_dict"]
    out = {name: value for name, value in saved.items() if not name.endswith((INT8, SCALE))}
    for name in saved:
        if name.endswith(INT8):
            base = name[: -len(INT8)]
            values, scale = saved[name], saved.get(base + SCALE)
            if scale is None or scale.shape != values.shape[:1]:
                raise OcrpipeError(f"{path} is a damaged ocrpipe checkpoint ({base} has int8 values without their "
                                   "scales); export it again")
            out[base] = (values.float().reshape(values.shape[0], -1) * scale.float()[:, None]).reshape(values.shape)
    return out


RELEASE_KEYS = ("model", "charset", "height", "channels", "step", "lines_seen", "seconds", "train_config",
                "metrics", "best", "lines_by_source", "data_digest", "decoding", "averaged_with")


def release(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint to ship: the model, its charset and its record, without the optimizer,
    schedule and random states that only resuming needs (about a third of the size)."""
    return {k: state[k] for k in RELEASE_KEYS if k in state} | {"released_from": state.get("created", "")}


HEAD = ("head.weight", "head.bias")    # the output layer: one row per class


def grow_charset(known: Charset, wanted: Charset) -> Charset:
    """`known`'s characters in their order, then those of `wanted` it lacks: every known
    character keeps its class index, so its output row carries over unchanged."""
    return Charset(list(known.chars) + [c for c in wanted.chars if c not in known])


def mapped_state_dict(parent: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor], known: Charset,
                      wanted: Charset) -> dict[str, torch.Tensor]:
    """The parent's weights in a model of another charset (`wanted`, e.g. Korean letters where
    the parent knew syllables): every layer but the output copied, the output rows of the blank
    and of the characters both know copied exactly, the others as `fresh` initialized them."""
    out = grown_state_dict({k: v for k, v in parent.items() if k not in HEAD}
                           | {k: fresh[k] for k in HEAD}, fresh)
    rows = [(0, 0)] + [(i + 1, known.index[c]) for i, c in enumerate(wanted.chars) if c in known.index]
    for name in HEAD:
        for new, old in rows:
            out[name][new] = parent[name][old]
    return out


def grown_state_dict(parent: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The parent's weights in a model with more classes: the head's first rows (blank and the
    parent's characters) copied exactly, the new rows as `fresh` initialized them."""
    out = {}
    for name, value in fresh.items():
        old = parent.get(name)
        if old is None or (old.shape != value.shape and name not in HEAD):
            raise OcrpipeError(f"--init: the checkpoint has no matching {name!r}; it is not a model of this architecture")
        if name in HEAD:
            grown = value.clone()
            grown[: old.shape[0]] = old
            out[name] = grown
        else:
            out[name] = old.clone()
    return out

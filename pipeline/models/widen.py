"""Growing a trained CRNN into a wider one of the same design that computes the same function
(Net2WiderNet, Chen, Goodfellow and Shlens 2016), so a longer training can use the extra
units without starting over (`ocrpipe train --init en --arch crnn-medium`).

Every unit of a layer (a convolution's channel, an LSTM's hidden unit) is copied as often as
the wider layer has room: new unit j is a copy of old unit j mod n. A copy has its original's
incoming weights, batch-norm statistics and biases, so it computes the same value. Where a
layer reads copies, the weight on each original is split among its copies by random positive
shares that sum to one (per weight, seeded), so every sum is what it was: the grown model's
outputs equal the parent's up to float rounding, in eval and in train mode (a copy's batch
statistics are its original's). The shares differ between copies, so their gradients differ
and the copies do not stay twins while training, which equal halves would leave them.

An LSTM's four gates are four blocks of rows (input, forget, cell, output), each copied the
same way; a bidirectional layer's output is the forward units then the backward ones.
"""

from __future__ import annotations

import torch

from pipeline.errors import OcrpipeError
from pipeline.models.crnn import VGG_WIDTHS

GATES = 4   # rows of an LSTM's weights: input, forget, cell and output gates, one block each


def can_widen(parent: str, arch: str) -> bool:
    """Whether a model of arch `parent` grows into `arch`: both of the paper's design, and no
    width of `arch` narrower than `parent`'s."""
    if parent not in VGG_WIDTHS or arch not in VGG_WIDTHS:
        return False
    (old_c, old_h), (new_c, new_h) = VGG_WIDTHS[parent], VGG_WIDTHS[arch]
    return all(n >= o for o, n in zip(old_c + (old_h,), new_c + (new_h,)))


def copies(old: int, new: int) -> torch.Tensor:
    """(new,) the old unit each new unit copies: j mod old."""
    return torch.arange(new) % old


def _split(weight: torch.Tensor, source: torch.Tensor, old: int, generator: torch.Generator) -> torch.Tensor:
    """`weight` with its columns (dim 1) gathered by `source` (old column of each new one),
    each scaled by a random share; the shares of one old column's copies sum to one."""
    gathered = weight[:, source]
    shares = torch.rand(gathered.shape, generator=generator, dtype=torch.float64) + 0.5
    totals = torch.zeros((gathered.shape[0], old, *gathered.shape[2:]), dtype=torch.float64)
    totals.index_add_(1, source, shares)
    return (gathered.double() * shares / totals[:, source]).to(weight.dtype)


def _bidirectional(old: int, new: int) -> torch.Tensor:
    """The source of each unit of a bidirectional output [forward, backward]."""
    return torch.cat([copies(old, new), old + copies(old, new)])


def _gate_rows(old: int, new: int) -> torch.Tensor:
    return torch.cat([gate * old + copies(old, new) for gate in range(GATES)])


def widen(state: dict[str, torch.Tensor], parent: str, arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """The weights `state` of a `parent` model (any charset) as weights of an `arch` one that
    computes the same function."""
    if not can_widen(parent, arch):
        raise OcrpipeError(f"--arch {arch}: a {parent} model cannot grow into it (only crnn-small -> crnn-medium "
                           "-> crnn); leave out --arch or train from scratch")
    generator = torch.Generator().manual_seed(seed)
    (old_c, old_h), (new_c, new_h) = VGG_WIDTHS[parent], VGG_WIDTHS[arch]
    state = {name: value.float() if value.is_floating_point() else value for name, value in state.items()}
    out = dict(state)
    reads: tuple[torch.Tensor, int] | None = None          # what the next layer reads: (sources, old width)
    for k, (old, new) in enumerate(zip(old_c, new_c)):
        rows, prefix = copies(old, new), f"cnn.{k}."
        weight = state[prefix + "conv.weight"][rows]
        out[prefix + "conv.weight"] = weight if reads is None else _split(weight, *reads, generator)
        for name in ("weight", "bias", "running_mean", "running_var"):
            out[prefix + "bn." + name] = state[prefix + "bn." + name][rows]
        reads = (rows, old)
    gate_rows, hidden = _gate_rows(old_h, new_h), (copies(old_h, new_h), old_h)
    for layer in range(2):
        for direction in ("forwards", "backwards"):
            prefix = f"rnn.{direction}.{layer}."
            out[prefix + "weight_ih_l0"] = _split(state[prefix + "weight_ih_l0"][gate_rows], *reads, generator)
            out[prefix + "weight_hh_l0"] = _split(state[prefix + "weight_hh_l0"][gate_rows], *hidden, generator)
            for name in ("bias_ih_l0", "bias_hh_l0"):
                out[prefix + name] = state[prefix + name][gate_rows]
        reads = (_bidirectional(old_h, new_h), 2 * old_h)
    out["head.weight"] = _split(state["head.weight"], *reads, generator)
    return out

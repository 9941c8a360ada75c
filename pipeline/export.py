"""`ocrpipe export`: a checkpoint as an ONNX or TorchScript model with dynamic batch and width,
or as a release checkpoint (`--format checkpoint`: weights, charset and record, no optimizer).

The exported model takes `pixels` (uint8, N x C x H x W, lines resized to height H keeping
their aspect ratio, padded on the right with white, 255) and `widths` (int64, N, each line's
width before padding), and returns `log_probs` (float32, T x N x classes) and `lengths`
(int64, N, the frames that belong to each line). `<output>.json` beside it holds the charset
and the preprocessing and decoding conventions. Before it returns, the export is checked
against the checkpoint on lines of several widths in one padded batch.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.models import checkpoint as ckpt
from pipeline.config import check_stretch
from pipeline.errors import OcrpipeError
from pipeline.utils.files import atomic_write_text, ensure_writable_dir
from pipeline.models.crnn import ModelConfig, to_ink
from pipeline.datasets.images import PAPER, STEPS
from pipeline.text.charset import FRAME_STRIDE

FORMATS = ("onnx", "torchscript", "checkpoint", "checkpoint-half", "checkpoint-int8")
STORED_AS = {"checkpoint-half": "float16", "checkpoint-int8": "int8"}
STORED_NOTE = {"checkpoint-half": " (float16 weights)",           # what the export command says it wrote
               "checkpoint-int8": " (int8 matrices, a float32 scale per row)"}
# The largest change of a class probability accepted from compact weights, on the check batch of
# noise: a check for wrong weights. What they change on real lines is measured: models/*.md.
TOLERANCE = {"checkpoint": 1e-6, "checkpoint-half": 0.05, "checkpoint-int8": 0.15}


class PixelModel(nn.Module):
    """The recognizer with its input conversion: uint8 pixels in, log-probabilities out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(to_ink(pixels), widths)


@dataclass
class ExportOutcome:
    path: Path
    sidecar: Path
    max_difference: float | None       # against the checkpoint; None when it could not be run


def example_batch(height: int, channels: int, widths: tuple[int, ...] = (203, 64, 37), seed: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lines of several widths padded into one batch (noise: every weight takes part)."""
    rng = np.random.default_rng(seed)
    pixels = np.full((len(widths), channels, height, max(widths)), PAPER, dtype=np.uint8)
    for k, w in enumerate(widths):
        pixels[k, :, :, :w] = rng.integers(0, 256, (channels, height, w), dtype=np.uint8)
    return torch.from_numpy(pixels), torch.tensor(widths, dtype=torch.int64)


def check_batch(height: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch every export is checked on: other widths and pixels than the traced example."""
    return example_batch(height, channels, widths=(150, 333, 48, 97), seed=2)


def largest_difference(reference: tuple[torch.Tensor, torch.Tensor], other: tuple[np.ndarray, np.ndarray]) -> float:
    """Largest |log-prob difference| over each line's own frames (lengths must agree)."""
    log_probs, lengths = reference
    other_probs, other_lengths = (np.asarray(x) for x in other)
    if not np.array_equal(lengths.numpy(), other_lengths):
        return float("inf")
    return max(float(np.abs(log_probs[:n, k].numpy() - other_probs[:n, k]).max())
               for k, n in enumerate(lengths.tolist()))


def _export_onnx(module: nn.Module, example: tuple[torch.Tensor, torch.Tensor], path: Path) -> None:
    """The TorchScript-based exporter: it maps the LSTMs to ONNX LSTM nodes, so the width stays
    dynamic. (torch.export's exporter, the default since torch 2.9, unrolls them over a fixed
    number of frames.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), dynamo=False, opset_version=17,
                          input_names=["pixels", "widths"], output_names=["log_probs", "lengths"],
                          dynamic_axes={"pixels": {0: "batch", 3: "width"}, "widths": {0: "batch"},
                                        "log_probs": {0: "frames", 1: "batch"}, "lengths": {0: "batch"}})


def _run_onnx(path: Path, example: tuple[torch.Tensor, torch.Tensor]) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    log_probs, lengths = session.run(None, {"pixels": example[0].numpy(), "widths": example[1].numpy()})
    return log_probs, lengths


def _check_output(fmt: str, output: Path) -> None:
    """Everything that can be known before the model is built: fail before writing anything."""
    if fmt not in FORMATS:
        raise OcrpipeError(f"--format {fmt}: use onnx, torchscript, checkpoint, checkpoint-half or checkpoint-int8")
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401  (the exporter writes through it)
        except ImportError:
            raise OcrpipeError("--format onnx needs the onnx package: pip install onnx (and onnxruntime, to "
                               "check and run the result), or pip install -e '.[onnx]'") from None
    if output.is_dir():
        raise OcrpipeError(f"--output {output} is a folder; name the file to write, e.g. {output / ('model.' + fmt)}")
    sidecar = output.with_name(output.name + ".json")
    if not fmt.startswith("checkpoint") and sidecar.is_dir():
        raise OcrpipeError(f"--output {output}: {sidecar}, where its charset and preprocessing go, is a folder; "
                           "move it away or choose another --output")
    ensure_writable_dir(output.parent, "--output folder")


def _export_checkpoint(model: nn.Module, state: dict, output: Path, fmt: str,
                       decoding: dict[str, float]) -> ExportOutcome:
    """A release checkpoint (weights, charset and record, and `decoding`'s LM settings), its
    weights in float16 (checkpoint-half: half the file) or mostly int8 (checkpoint-int8: up to
    40% smaller again; both read back into float32), checked on a padded batch against the
    original: the largest difference of a class probability in a frame."""
    released = ckpt.release(state)
    if decoding:
        released["decoding"] = {**released.get("decoding", {}), **decoding}
    if fmt in STORED_AS:
        weights = ckpt.weights(state)
        released["model"] = {**released["model"], "state_dict": ckpt.stored(weights, STORED_AS[fmt])}
        released["stored_as"] = STORED_AS[fmt]
    example = check_batch(model.config.height, model.config.channels)
    partial = output.with_name(output.name + ".partial")
    try:
        ckpt.save(partial, released)
        again, _ = ckpt.model_from(ckpt.load(partial), output)     # it loads, with weights_only
        with torch.no_grad():
            expected = PixelModel(model).eval()(*example)
            got = PixelModel(again).eval()(*example)
        # Probabilities, not log-probabilities: float16 moves log(1e-9) by more than it moves
        # any choice the decoder makes.
        difference = largest_difference((expected[0].exp(), expected[1]), (got[0].exp().numpy(), got[1].numpy()))
        if difference > TOLERANCE[fmt]:
            raise OcrpipeError(f"the exported checkpoint disagrees with the original (|difference| "
                               f"{difference:.2g}); nothing was written")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return ExportOutcome(output, output, difference)


def check_decoding(fmt: str, decoding: dict[str, float], stretch: float | None = None) -> None:
    """LM settings and a stretch to record: finite, and only in a checkpoint format (the others
    carry no record)."""
    if decoding and not fmt.startswith("checkpoint"):
        raise OcrpipeError(f"--lm-weight and --lm-bonus are recorded in checkpoint formats only, not --format {fmt}; "
                           "pass them to the program that decodes the exported model")
    if stretch is not None:
        if not fmt.startswith("checkpoint"):
            raise OcrpipeError(f"--stretch is recorded in checkpoint formats only, not --format {fmt}; export a "
                               f"checkpoint with it first, then that checkpoint as {fmt}")
        check_stretch(stretch)
    for name, value in decoding.items():
        if not math.isfinite(value):
            raise OcrpipeError(f"--{name.replace('_', '-')} {value}: not a finite number; give an ordinary number")


@dataclass(frozen=True)
class Average:
    """--average-with: the weights moved toward another checkpoint's, by `weight`."""

    other: Path
    weight: float = 0.5


def averaged(model: nn.Module, state: dict, average: Average) -> tuple[nn.Module, dict]:
    """The model whose every weight and batch-norm statistic is (1 - w) x the checkpoint's +
    w x `average.other`'s, and its state, recording where it came from. Both must be one
    network with one charset: typically a fine-tuned model and the model it started from
    (--init), whose average keeps much of what the tuning taught and of what it forgot."""
    other_state = ckpt.load(average.other)
    theirs_config, ours_config = ModelConfig(**other_state["model"]["config"]), ModelConfig(**state["model"]["config"])
    if theirs_config != ours_config or list(other_state["charset"]) != list(state["charset"]):
        def describe(config: ModelConfig, chars: int) -> str:
            return (f"{config.arch}, {chars} characters" + (", whole width" if config.whole_width else "")
                    + (f", stretch {config.stretch:g}" if config.stretch != 1 else "")
                    + (", ink rows" if config.ink_rows else ""))
        raise OcrpipeError(f"--average-with {average.other}: another network or charset than the checkpoint's "
                           f"({describe(theirs_config, len(other_state['charset']))} against "
                           f"{describe(ours_config, len(state['charset']))}); average a model "
                           "with one of its own lineage, e.g. a fine-tuned model with the one it started from")
    other, _ = ckpt.model_from(other_state, average.other)
    theirs = other.state_dict()
    mixed = {name: torch.lerp(value, theirs[name], average.weight) if value.is_floating_point() else value
             for name, value in model.state_dict().items()}
    model.load_state_dict(mixed)
    record = {"checkpoint": str(average.other), "weight": average.weight, "step": other_state.get("step")}
    return model, {**state, "model": {**state["model"], "state_dict": mixed}, "averaged_with": record}


def run(checkpoint: Path, fmt: str, output: Path, decoding: dict[str, float] | None = None,
        average: Average | None = None, stretch: float | None = None) -> ExportOutcome:
    """Export `checkpoint` as `fmt`; `decoding` (lm_weight, lm_bonus) is recorded in a
    checkpoint format as the model's own LM settings, `stretch` as the stretch it reads lines
    with; with `average`, the weights exported are the average of the checkpoint's and
    another's (`averaged`)."""
    _check_output(fmt, output)
    check_decoding(fmt, decoding or {}, stretch)
    state = ckpt.load(checkpoint)
    model, charset = ckpt.model_from(state, checkpoint)     # a damaged checkpoint is refused before any write
    if average is not None:
        model, state = averaged(model, state, average)
    if stretch is not None:
        state = {**state, "model": {**state["model"], "config": {**state["model"]["config"], "stretch": stretch},
                                    "state_dict": model.state_dict()}}
        model, charset = ckpt.model_from(state, checkpoint)
    if fmt.startswith("checkpoint"):
        return _export_checkpoint(model, state, output, fmt, decoding or {})
    module = PixelModel(model).eval()
    height, channels = model.config.height, model.config.channels
    trace_example = example_batch(height, channels, seed=1)
    check_example = check_batch(height, channels)
    partial = output.with_name(output.name + ".partial")      # renamed into place once checked
    try:
        with torch.no_grad():
            expected = module(*check_example)
            if fmt == "torchscript":
                with warnings.catch_warnings():     # torch deprecates TorchScript; it still works
                    warnings.simplefilter("ignore")
                    scripted = torch.jit.trace(module, trace_example, check_trace=False)
                    scripted.save(str(partial))
                    got = torch.jit.load(str(partial))(*check_example)
                difference: float | None = largest_difference(expected, (got[0].numpy(), got[1].numpy()))
            else:
                _export_onnx(module, trace_example, partial)
                ran = _run_onnx(partial, check_example)
                difference = largest_difference(expected, ran) if ran is not None else None
        if difference is not None and difference > 1e-3:
            raise OcrpipeError(f"the exported {fmt} model disagrees with the checkpoint (|difference| "
                               f"{difference:.2g}); nothing was written")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    sidecar = output.with_name(output.name + ".json")
    atomic_write_text(sidecar, json.dumps({
        "format": "ocrpipe.export/1", "model": output.name, "model_format": fmt,
        "checkpoint": {"path": str(checkpoint), "step": state["step"], "arch": state["model"]["config"]["arch"],
                       **({"averaged_with": state["averaged_with"]} if "averaged_with" in state else {})},
        "inputs": {"pixels": f"uint8 (N, {channels}, {height}, W): the lines prepared as `preparation` says, "
                             "padded on the right with 255",
                   "widths": "int64 (N,): each line's width in pixels before padding"},
        "preparation": list(STEPS),
        "preparation_in_python": f"pipeline.preprocess.load_line(path, height={height}, channels={channels}"
                                 + (", ink_rows=True" if model.config.ink_rows else "")
                                 + ") -> uint8 (H, W, C); transpose to (C, H, W)",
        "ink_rows": model.config.ink_rows,
        "outputs": _outputs(model.config.whole_width, model.config.stretch),
        "height": height, "channels": channels, "blank": 0, "charset": charset.chars,
        "decoding": "greedy CTC: per line, the best class of each of its first `lengths` frames; merge runs of "
                    "the same class; drop the blank (0); class k > 0 is charset[k - 1]"
                    + ("; the charset holds Korean letters (conjoining jamo): compose the text read (Unicode "
                       "NFC) into Hangul syllables" if charset.jamo else "")},
        indent=2, ensure_ascii=False) + "\n")
    return ExportOutcome(output, sidecar, difference)


def _outputs(whole_width: bool, stretch: float = 1.0) -> dict[str, str]:
    """The sidecar's description of the outputs: a `whole_width` model gives a line's last
    1-3 columns a frame (its width rounded up to a multiple of the stride), others cut them; a
    stretched model reads W' = floor(W x stretch) columns (and the batch up to two more)."""
    columns = "W" if stretch == 1 else f"floor({stretch:g} (W + 1))"
    frames = f"ceil({columns} / {FRAME_STRIDE})" if whole_width else f"{columns} // {FRAME_STRIDE}"
    line = "its width" if stretch == 1 else f"floor({stretch:g} x its width)"
    width = f"{line} rounded up to a multiple of {FRAME_STRIDE}, / {FRAME_STRIDE}" if whole_width \
        else f"{line} // {FRAME_STRIDE}"
    return {"log_probs": f"float32 (T, N, classes): log-probabilities per frame, T = {frames}",
            "lengths": f"int64 (N,): how many frames belong to each line ({width})"}

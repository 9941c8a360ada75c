"""`ocrpipe predict`: read text lines from image files with a checkpoint.

Any size or mode is accepted: each image is normalized as pack does (grayscale or RGB on
white, the model's height, aspect ratio kept), batched by width within a window of inputs,
read, and returned in the order given, so output starts after the first window.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

import numpy as np

from pipeline.models import checkpoint as ckpt
from pipeline.datasets.loader import Collate
from pipeline.config import DecodeConfig
from pipeline.models.ctc_decode import from_config
from pipeline.errors import OcrpipeError
from pipeline.models.inference import Views, predictions
from pipeline.datasets.images import BadImage, decode_image, load_line
from pipeline.models.runtime import setup, teardown
from pipeline.datasets.sources import IMAGE_SUFFIXES
from pipeline.text.charset import FRAME_STRIDE


@dataclass
class Prediction:
    file: str
    text: str = ""
    confidence: float = 0.0
    error: str = ""


MIN_WIDTH = FRAME_STRIDE   # px at the model's height: one CTC frame; a narrower line cannot be read
WINDOW = 16        # batches read ahead: lines are sorted by width within a window of inputs


def collect(inputs: Iterable[str], stdin: TextIO | None = None) -> Iterator[Path]:
    """Files as given, images inside folders (sorted), and paths read from stdin for `-`, one
    at a time (a million paths on stdin start at once and are never all held)."""
    given = 0
    for raw in inputs:
        if raw == "-":
            for line in stdin or sys.stdin:
                if line.strip():
                    given += 1
                    yield Path(line.strip())
            continue
        path = Path(raw)
        found = (sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
                 if path.is_dir() else [path])
        given += len(found)
        yield from found
    if not given:
        raise OcrpipeError("no images given; name image files or folders, or `-` to read paths from stdin")


def run(checkpoint: Path, paths: Iterable[Path], batch_size: int = 64, device: str = "auto",
        decoding: DecodeConfig = DecodeConfig(), vertical: bool = False) -> Iterator[Prediction]:
    """A Prediction per path, in order, streamed: images are decoded a window of batches at a
    time. Images that cannot be read get an `error` instead of text. With `vertical`, every
    image is a column read top to bottom."""
    state = ckpt.load(checkpoint)
    model, charset = ckpt.model_from(state, checkpoint)
    decoding = decoding.for_model(state)
    to_text = from_config(charset, decoding)
    views = Views.of(decoding, charset)
    runtime = setup(device, amp=True)
    try:
        model = model.to(runtime.device)
        collate = Collate(charset, encode=False, ink_rows=model.config.ink_rows)
        window: list[Path] = []
        for path in paths:
            window.append(path)
            if len(window) == batch_size * WINDOW:
                yield from _read(model, collate, to_text, window, batch_size, runtime, vertical, views)
                window = []
        yield from _read(model, collate, to_text, window, batch_size, runtime, vertical, views)
    finally:
        teardown(runtime)


def _load(path: Path, height: int, channels: int, vertical: bool) -> np.ndarray | str:
    """The normalized line, or why it cannot be read."""
    if not path.is_file():
        return "no such file"
    try:
        image = decode_image(path)
        pixels = load_line(image, height, channels, vertical)
    except (BadImage, OSError) as e:
        return f"not a readable image ({e})"
    if pixels.shape[1] < MIN_WIDTH:
        return (f"{image.width}x{image.height} px is {pixels.shape[1]} px {'long' if vertical else 'wide'} at the "
                f"model's height {height}, too {'short' if vertical else 'narrow'} to hold text; crop one "
                f"{'column' if vertical else 'horizontal line'} of text")
    return pixels


def _read(model: Any, collate: Collate, to_text: Any, paths: list[Path], batch_size: int, runtime: Any,
          vertical: bool, views: Views | None) -> Iterator[Prediction]:
    height, channels = model.config.height, model.config.channels
    results: dict[int, Prediction] = {}
    lines: list[tuple[int, np.ndarray, str]] = []
    for i, path in enumerate(paths):
        pixels = _load(path, height, channels, vertical)
        if isinstance(pixels, str):
            results[i] = Prediction(str(path), error=pixels)
        else:
            lines.append((i, pixels, ""))
    lines.sort(key=lambda line: line[1].shape[1])                  # batch lines of similar width
    batches = (collate(lines[k:k + batch_size]) for k in range(0, len(lines), batch_size))
    for batch, _, _, decoded in predictions(model, batches, runtime, to_text, views):
        for i, (text, confidence) in zip(batch.indices, decoded):
            results[i] = Prediction(str(paths[i]), text, float(f"{confidence:.4g}"))
    for i in range(len(paths)):
        yield results[i]

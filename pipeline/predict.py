"""`ocrpipe predict`: read text lines from image files with a checkpoint.

Any size or mode is accepted: each image is normalized as pack does (grayscale or RGB on
white, the model's height, aspect ratio kept), batched by width, read, and returned in the
order given.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import numpy as np

from pipeline import checkpoint as ckpt
from pipeline.data import Collate
from pipeline.decode import Lexicon, decoder
from pipeline.errors import OcrpipeError
from pipeline.inference import predictions
from pipeline.preprocess import BadImage, decode, normalize
from pipeline.runtime import setup, teardown
from pipeline.sources import IMAGE_SUFFIXES


@dataclass
class Prediction:
    file: str
    text: str = ""
    confidence: float = 0.0
    error: str = ""


def collect(inputs: Iterable[str], stdin: TextIO | None = None) -> list[Path]:
    """Files as given, images inside folders (sorted), and paths read from stdin for `-`."""
    paths: list[Path] = []
    for raw in inputs:
        if raw == "-":
            paths.extend(Path(line.strip()) for line in (stdin or sys.stdin) if line.strip())
            continue
        path = Path(raw)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        else:
            paths.append(path)
    if not paths:
        raise OcrpipeError("no images given; name image files or folders, or `-` to read paths from stdin")
    return paths


def run(checkpoint: Path, paths: list[Path], batch_size: int = 64, device: str = "auto", beam_width: int = 0,
        lexicon: Path | None = None, oov_cost: float = 4.0) -> Iterator[Prediction]:
    """A Prediction per path, in order; unreadable images get an `error` instead of text."""
    model, charset = ckpt.model_from(ckpt.load(checkpoint))
    to_text = decoder(charset, beam_width, Lexicon.load(lexicon) if lexicon else None, oov_cost)
    height, channels = model.config.height, model.config.channels
    runtime = setup(device, amp=True)
    try:
        model = model.to(runtime.device)
        results: dict[int, Prediction] = {}
        lines: list[tuple[int, np.ndarray, str]] = []
        for i, path in enumerate(paths):
            if not path.is_file():
                results[i] = Prediction(str(path), error="no such file")
                continue
            try:
                lines.append((i, normalize(decode(path), height, channels), ""))
            except (BadImage, OSError) as e:
                results[i] = Prediction(str(path), error=f"not a readable image ({e})")
        lines.sort(key=lambda line: line[1].shape[1])                  # batch lines of similar width
        collate = Collate(charset, encode=False)
        batches = (collate(lines[k:k + batch_size]) for k in range(0, len(lines), batch_size))
        for batch, _, _, decoded in predictions(model, batches, runtime, to_text):
            for i, (text, confidence) in zip(batch.indices, decoded):
                results[i] = Prediction(str(paths[i]), text, round(confidence, 4))
        for i in range(len(paths)):
            yield results[i]
    finally:
        teardown(runtime)

"""Line i of split s as a pure function of (seed, s, i): its text, font, effects and image.

Nothing here depends on which process, worker or machine makes the line, so any slice of
the indices can be made alone (`--shard K/N`) and a rerun gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import GenerateConfig
from pipeline.text.corpus import Corpus
from pipeline.errors import OcrpipeError
from pipeline.synth.fonts import Font
from pipeline.utils.files import atomic_write_bytes, short_hash
from pipeline.synth.render import RenderFailure, render
from pipeline.synth.styles import Overrides, draw_effects
from pipeline.utils.seeding import derive_seed

SPLITS = ("train", "val", "test")
TEXT_TRIES = 2000      # draws of text before a split is declared impossible to fill
RENDER_TRIES = 4       # effect draws before a line is given up (and counted)
PNG_COMPRESS_LEVEL = 3  # zlib level: 6 (Pillow's default) is ~1.5x slower for ~10% smaller files
LABEL_COLUMNS = ("filename", "text", "font", "family", "style", "skew", "blur", "background", "distortion",
                 "text_color", "stroke_width", "binarize", "width", "height", "hash")


def split_of(text: str, val_fraction: float, test_fraction: float) -> str:
    """The split a text belongs to, from a hash of the text alone: a test or validation
    line's text can never be a training line's text, whatever the seed."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    u = int.from_bytes(digest, "little") / 2**64
    if u < test_fraction:
        return "test"
    return "val" if u < test_fraction + val_fraction else "train"


class LineSkipped(Exception):
    def __init__(self, reason: str, example: str) -> None:
        super().__init__(f"{reason}: {example}")
        self.reason = reason
        self.example = example


@dataclass
class LineMaker:
    """Everything needed to make any line of a run; shared with worker processes."""

    config: GenerateConfig
    corpus: Corpus
    fonts_by_split: dict[str, list[Font]]
    run_dir: Path
    photo_dir: str | None = None     # the wild style's pictures when --background-dir is not given

    def __post_init__(self) -> None:
        c = self.config
        self.overrides = Overrides(c.skew, c.blur, c.background, c.distortion, c.text_color,
                                   c.wild_part_set(), c.word_spacing, c.wild_neighbours)

    def text_and_font(self, split: str, index: int) -> tuple[str, Font]:
        """The line's text and the font that draws it (a pure function of seed, split, index)."""
        c = self.config
        eligible = self.fonts_by_split[split]
        for attempt in range(TEXT_TRIES):
            rng = random.Random(derive_seed(c.seed, "text", split, index, attempt))
            text = self.corpus.sample(rng, c.min_words, c.max_words)
            if not text or split_of(text, c.val_fraction, c.test_fraction) != split:
                continue
            candidates = []
            for font in eligible:
                label = text.upper() if font.caps_only else text   # caps fonts show capitals
                if font.can_draw(label) and (label == text or split_of(label, c.val_fraction,
                                                                        c.test_fraction) == split):
                    candidates.append((label, font))
            if candidates:
                return rng.choice(candidates)
        raise OcrpipeError(f"no {split} line could be drawn after {TEXT_TRIES} tries (line {index}): the corpus "
                           f"has too few distinct texts for this split, or no {split} font draws them; add text "
                           "or fonts, or lower --val-fraction/--test-fraction")

    def make(self, split: str, index: int) -> dict[str, str]:
        """Render line `index` of `split`, write its image, return its label row."""
        c = self.config
        text, font = self.text_and_font(split, index)
        failure: RenderFailure | None = None
        for attempt in range(RENDER_TRIES):
            style, fx = draw_effects(c.style, self.overrides,
                                     random.Random(derive_seed(c.seed, "fx", split, index, attempt)))
            try:
                out = render(text, str(font.path), c.height, fx, derive_seed(c.seed, "rng", split, index, attempt),
                             c.background_dir, vertical=c.orientation == "vertical", photo_dir=self.photo_dir)
                break
            except RenderFailure as e:
                failure = e
        else:
            assert failure is not None
            raise LineSkipped(failure.reason, f"{split} {index}: {text[:60]!r} in {font.name} ({failure})")

        buffer = io.BytesIO()
        out.image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        data = buffer.getvalue()
        filename = f"images/{split}/{index:08d}.png"
        atomic_write_bytes(self.run_dir / filename, data)
        columns = fx.columns() | {"skew": f"{out.skew:.2f}", "text_color": out.text_color}
        return {"filename": filename, "text": text, "font": font.name, "family": font.family, "style": style, **columns,
                "width": str(out.image.width), "height": str(out.image.height), "hash": short_hash(data)}

    def make_range(self, split: str, start: int, stop: int) -> dict[str, Any]:
        """Lines [start, stop) of a split: their label rows and what was skipped, and why."""
        os.makedirs(self.run_dir / "images" / split, exist_ok=True)
        rows: list[dict[str, str]] = []
        skipped: dict[str, int] = {}
        examples: dict[str, list[str]] = {}
        for index in range(start, stop):
            try:
                rows.append(self.make(split, index))
            except LineSkipped as e:
                skipped[e.reason] = skipped.get(e.reason, 0) + 1
                examples.setdefault(e.reason, []).append(e.example)
        return {"rows": rows, "skipped": skipped, "examples": {k: v[:3] for k, v in examples.items()}}

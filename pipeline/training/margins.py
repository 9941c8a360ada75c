"""Redrawn line margins (`ocrpipe train --jitter-margins SHARE`).

A line segmenter crops real lines anywhere from the ink's edge to well beyond it: scanned
lines whose last comma or hyphen sits two pixels from the border, words with a wide band of
their background. Generated lines carry the margins their style draws. For a share of the
training lines, each side's margin is drawn again: half the time tight (the crop cut to the
ink, 0 to 2 pixels beyond it), half the time loose (0 to half the line's height of its own
background added). Done on the host, in the loader, before the batch is padded, so the
widths the model and CTC read stay the host's own and the step still never waits on the
device.

Each line's draw comes from the training seed and the line's index: deterministic, the same
on a resumed run, in any loader worker. The batch sampler buckets lines by their packed widths,
so a batch under `--max-pixels` may come out up to a line height wider than its cap.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.datasets.images import ink_mask, row_background
from pipeline.datasets.loader import Collate, HostBatch
from pipeline.text.charset import Charset, ctc_frames, ctc_min_frames
from pipeline.utils.seeding import derive_seed

TIGHT_MAX = 2          # a tight side keeps 0..TIGHT_MAX pixels beyond the ink
SPARE_FRAMES = 1       # a cut line keeps this many CTC frames beyond what its label needs


def ink_columns(image: np.ndarray, background: np.ndarray) -> tuple[int, int] | None:
    """First and last column holding ink, or None for a line without any."""
    cols = np.flatnonzero(ink_mask(image, background).any(axis=0))
    return (int(cols[0]), int(cols[-1])) if len(cols) else None


def redraw_margins(image: np.ndarray, text: str, rng: np.random.Generator) -> np.ndarray:
    """`image` (H, W, C) uint8 with each side's margin drawn again, tight or loose; `text` is
    the label as the charset's units (`Charset.units`)."""
    height, width, channels = image.shape
    background = row_background(image)
    ink = ink_columns(image, background)
    if ink is None:
        return image
    tight_left, tight_right = rng.random(2) < 0.5
    left = max(0, ink[0] - int(rng.integers(0, TIGHT_MAX + 1))) if tight_left else 0
    right = min(width, ink[1] + 1 + int(rng.integers(0, TIGHT_MAX + 1))) if tight_right else width
    add_left = 0 if tight_left else int(rng.integers(0, height // 2 + 1))
    add_right = 0 if tight_right else int(rng.integers(0, height // 2 + 1))
    if ctc_frames(add_left + (right - left) + add_right) < ctc_min_frames(text) + SPARE_FRAMES:
        return image            # pack's own test of a label against its width, with a frame to spare
    fill = np.broadcast_to(background.round().astype(np.uint8)[:, None, None], (height, 1, channels))
    return np.concatenate([np.repeat(fill, add_left, axis=1), image[:, left:right],
                           np.repeat(fill, add_right, axis=1)], axis=1)


class MarginCollate(Collate):
    """`Collate` that first redraws the margins of a `share` of the lines (see the module)."""

    def __init__(self, charset: Charset, share: float, seed: int, ink_rows: bool = False) -> None:
        super().__init__(charset, ink_rows=ink_rows)
        self.share, self.seed = share, seed

    def arrays(self, items: Sequence[tuple[int, np.ndarray, str]]) -> HostBatch:
        redrawn = []
        for index, image, text in items:
            rng = np.random.default_rng(derive_seed(self.seed, "margins", index))
            if rng.random() < self.share:
                image = redraw_margins(image, self.charset.units(text), rng)
            redrawn.append((index, image, text))
        return super().arrays(redrawn)

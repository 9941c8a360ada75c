"""Binarization and speckle, the two pixel effects of the `binarized` and `scanned` styles, in
one place: render applies them to 8-bit images (ink dark, 0..255), the scan simulation to ink
coverage (ink bright, 0..1)."""

from __future__ import annotations

import numpy as np


def binarize(values: np.ndarray, level: float, full: float, dark_ink: bool) -> np.ndarray:
    """Every value to 0 or `full` at `level` (a share of `full`): ink below it when `dark_ink`
    (paper is `full`), above it otherwise (paper is 0)."""
    cut = level * full
    ink = values < cut if dark_ink else values > cut
    on = 0 if dark_ink else full
    return np.where(ink, on, full - on).astype(values.dtype)


def speckle(values: np.ndarray, share: float, rng: np.random.Generator, full: float) -> np.ndarray:
    """`share` of the pixels, drawn from `rng`, flipped to their opposite (`full - value`)."""
    flip = rng.random(values.shape) < share
    return np.where(flip, full - values, values).astype(values.dtype)

"""Pixel effects shared by the styles, in one place: binarization and speckle (the `binarized`
and `scanned` styles; render applies them to 8-bit images, ink dark, 0..255, the scan
simulation to ink coverage, ink bright, 0..1), a JPEG round trip (`receipt`, `screen`, `wild`)
and a colour brought to a luminance (the colours picked against a background)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

LUMA = np.array([0.299, 0.587, 0.114])   # ITU-R 601, as Pillow's convert("L")


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


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """The image stored as JPEG at `quality` and read back (RGB): blocks and ringing."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def with_luminance(rgb: np.ndarray, target: float) -> tuple[int, int, int]:
    """The colour `rgb` (0..255, float) darkened or lightened to luminance `target`, rounded."""
    lum = float(rgb @ LUMA)
    if target < lum:
        rgb = rgb * (target / max(lum, 1e-6))
    else:
        rgb = rgb + (255 - rgb) * ((target - lum) / max(1e-6, 255 - lum))
    r, g, b = (int(v) for v in np.clip(np.round(rgb), 0, 255))
    return r, g, b

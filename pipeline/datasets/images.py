"""Line images to model input: one function used by pack, eval and predict alike."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

PAPER = 255   # padding value: white paper, which the models see as 0


class BadImage(Exception):
    """The bytes are not an image Pillow can decode."""


def decode_image(data: bytes | Path) -> Image.Image:
    """Decode image bytes (or a file), honouring EXIF orientation; raises BadImage."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            im.load()
            return ImageOps.exif_transpose(im) or im
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read (an unknown format, or not an image at all)") from None
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        raise BadImage(str(e) or type(e).__name__) from None


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Grayscale (`channels=1`) or RGB (3) on white: transparency is composited over paper,
    16-bit and float images are scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        if not np.isfinite(pixels).all():
            raise BadImage(f"{int((~np.isfinite(pixels)).sum())} pixels are NaN or infinite (a float image with "
                           "missing values); fill them and save again")
        top = pixels.max() or 1.0
        image = Image.fromarray((pixels * (255.0 / top)).clip(0, 255).astype(np.uint8))
    if image.mode == "LAB":         # Pillow converts LAB to nothing else: its L band is the lightness
        lightness = image.getchannel("L")
        return lightness if channels == 1 else Image.merge("RGB", (lightness,) * 3)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (PAPER, PAPER, PAPER, 255))
        image = Image.alpha_composite(paper, rgba)
    try:
        return image.convert("L" if channels == 1 else "RGB")
    except ValueError as e:            # a mode Pillow cannot convert
        raise BadImage(f"{image.mode} images cannot be read ({e}); save it as RGB or grayscale") from None


def normalize(image: Image.Image, height: int, channels: int = 1) -> np.ndarray:
    """The line at `height` pixels, aspect ratio kept: uint8 array (height, width, channels)."""
    image = to_mode(image, channels)
    width = max(1, round(image.width * height / max(1, image.height)))
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels.reshape(height, width, channels)


# The steps of load_line in words, for people who feed an exported model without Python's ocrpipe
# (written into the export's JSON sidecar).
STEPS = ("decode the file, applying its EXIF orientation",
         "16-bit, 32-bit and float images: scale so the largest value is 255, as 8-bit",
         "transparency (RGBA, LA, palette with a transparent colour): composite over white (255)",
         "LAB images: their L (lightness) band, as grayscale (repeated in R, G and B for 3 channels)",
         "convert to grayscale (Pillow mode L) for 1 channel, RGB for 3",
         "vertical lines (pack, eval, predict --vertical): rotate 90 degrees counter-clockwise, so the "
         "column's top character comes first (left)",
         "resize to the model height H, width round(w * H / h) and at least 1, bilinear",
         "batch: pad each line on the right with 255 to the widest line; pass the true widths")


def load_line(source: bytes | Path | Image.Image, height: int, channels: int = 1, vertical: bool = False
              ) -> np.ndarray:
    """A line image as every ocrpipe model reads it (pack, eval and predict call this too):
    uint8 (height, width, channels). A vertical line (a column read top to bottom) is turned
    90 degrees counter-clockwise first. Use it to feed an exported model; `STEPS` says the
    same in words. Raises BadImage for bytes or files Pillow cannot decode."""
    image = source if isinstance(source, Image.Image) else decode_image(source)
    if vertical:
        image = image.transpose(Image.Transpose.ROTATE_90)
    return normalize(image, height, channels)

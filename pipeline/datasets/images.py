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


INK_STEP = 64      # a pixel is ink where it differs this much from its row's background
INK_MARGIN = 1 / 10   # kept above and below the ink by `crop_to_ink_rows`, of the ink's height
INK_LEAST = 1 / 4     # the least share of the height `crop_to_ink_rows` keeps (a dash stays a dash)


def row_background(pixels: np.ndarray) -> np.ndarray:
    """(H,) the background grey of each row of (H, W, C) pixels: the median of the two outermost
    columns of each side (a crop's edges are its background in nearly every line)."""
    grey = pixels.mean(axis=2)
    edges = np.concatenate([grey[:, :2], grey[:, -2:]], axis=1)
    return np.median(edges, axis=1)


def ink_mask(pixels: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: the pixels of (H, W, C) that differ from their row's background (given, or
    `row_background`) by more than INK_STEP."""
    background = row_background(pixels) if background is None else background
    return np.abs(pixels.mean(axis=2) - background[:, None]) > INK_STEP


def ink_row_span(pixels: np.ndarray) -> tuple[int, int] | None:
    """First and last row of (H, W, C) pixels holding ink, or None for a line without any."""
    rows = np.flatnonzero(ink_mask(pixels).any(axis=1))
    return (int(rows[0]), int(rows[-1])) if len(rows) else None


def ink_band(pixels: np.ndarray) -> tuple[float, float] | None:
    """The rows (top, bottom; edges may fall between rows) `crop_to_ink_rows` keeps of (H, W, C)
    pixels, or None where it keeps the line as it is."""
    height = pixels.shape[0]
    found = ink_row_span(pixels)
    if found is None:
        return None
    ink = found[1] + 1 - found[0]
    centre, half = (found[0] + found[1] + 1) / 2, max(ink * (1 + 2 * INK_MARGIN), height * INK_LEAST) / 2
    top, bottom = max(0.0, centre - half), min(float(height), centre + half)
    return None if (top, bottom) == (0.0, float(height)) else (top, bottom)


def cut_width(width: int, height: int, band: tuple[float, float] | None) -> int:
    """A line's width once `crop_to_ink_rows` has cut it to `band` and scaled it back to `height`."""
    return width if band is None else max(width, round(width * height / (band[1] - band[0])))


def crop_to_ink_rows(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 pixels cut to the rows holding ink, with a tenth of the ink's height more
    above and below (at least a quarter of the line's height in all, centred on the ink), and
    scaled back to height H, aspect ratio kept: the glyphs of a face drawn small in its line, or
    of a crop with wide bands above and below, come out at one size. The band's edges may fall
    between rows (it is resampled, bilinear), so a line cut loosely reads as one cut tightly.
    Lines without ink, or whose ink fills them, come back as they were. Widths only grow, so a
    label that fitted a line's frames still fits."""
    height, width, channels = pixels.shape
    band = ink_band(pixels)
    if band is None:
        return pixels
    top, bottom = band
    new_width = cut_width(width, height, band)
    image = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels)
    scaled = image.resize((new_width, height), Image.Resampling.BILINEAR, box=(0, top, width, bottom))
    return np.asarray(scaled, dtype=np.uint8).reshape(height, new_width, channels)


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
         "models trained with --ink-rows only (the export's `ink_rows`): the band from the first to the last "
         f"row holding ink (a pixel more than {INK_STEP} from its row's background, the median of the row's two "
         f"outermost pixels on each side), widened by {INK_MARGIN:g} of its height above and below (at least "
         f"{INK_LEAST:g} x H in all, centred), clipped to the line, resized back to height H and width "
         "max(W, round(W * H / band)), bilinear (the band's edges may fall between rows)",
         "batch: pad each line on the right with 255 to the widest line; pass the true widths")


def load_line(source: bytes | Path | Image.Image, height: int, channels: int = 1, vertical: bool = False,
              ink_rows: bool = False) -> np.ndarray:
    """A line image as every ocrpipe model reads it (pack, eval and predict call this too):
    uint8 (height, width, channels). A vertical line (a column read top to bottom) is turned
    90 degrees counter-clockwise first. `ink_rows` (for a model trained with `train
    --ink-rows`, whose export says so) then cuts it to its ink rows, as eval and predict do
    for such a model (`crop_to_ink_rows`). Use it to feed an exported model; `STEPS` says the
    same in words. Raises BadImage for bytes or files Pillow cannot decode."""
    image = source if isinstance(source, Image.Image) else decode_image(source)
    if vertical:
        image = image.transpose(Image.Transpose.ROTATE_90)
    pixels = normalize(image, height, channels)
    return crop_to_ink_rows(pixels) if ink_rows else pixels

"""The `scanned` style: a line printed on paper and scanned, simulated step by step.

1. Typeset at a high resolution (the font at HI_RES times the output height) with trdg's text
   code, with the line's word spacing (wide on justified lines) and letter spacing.
2. Print: the glyphs' ink spreads or erodes (a blur, then a threshold: below 0.5 strokes grow
   and counters fill, above it they thin and break); on some lines a slight rotation (a shear
   of the rows) or a slow baseline wave.
3. Crop as a line segmenter does: by the line's layout (the font's ascender and descender
   lines, with a margin), so the text keeps its scale whatever letters the line has;
   sometimes cutting into the ascenders or descenders, sometimes with fragments of the
   neighbouring lines in the margin above or below.
4. Scan: resample to the scanner's resolution (`scan_height` pixels for the crop), optics blur,
   paper texture and sensor noise, binarization at a random level (or a grey scan), speckle.
5. Resize to the output height exactly as `pack` resizes a real line (Pillow, bilinear).

Bounds that keep the label true to the image:

* The crop never enters the band between the x-height line and the baseline, and cuts at most
  MAX_CUT of the ascender zone (font ascender top to x-height line) and of the descender zone
  (baseline to font descender bottom). Lines with a rotation or wave are never cut, nor is a
  line on the side where one of its letters has a mark (an accent above, a cedilla below), and
  a cut never goes through a piece of ink smaller than the x-height (a comma's tail, a dot).
* Every connected piece of ink of the clean line (a glyph, the dot of an i, a comma), at scan
  resolution, keeps at least MIN_KEPT of its pixels through print, crop and scan, and the
  line's ink grows at most MAX_GROWTH times; otherwise `RenderFailure` ("ink_lost",
  "ink_spread"): the line is drawn again with other effects, then skipped and counted.

Every random number comes from the seed passed in, so the image is a pure function of the
arguments.
"""

from __future__ import annotations

import math
import unicodedata

import cv2
import numpy as np
from PIL import Image

from pipeline.synth.ink import binarize, speckle
from pipeline.synth.styles import Effects, ScanParams
from pipeline.synth.trdg_compat import FONTS, seed_all, trdg_modules

HI_RES = 3            # typeset and print at 3x the output height
MAX_CUT = 0.4         # share of the ascender / descender zone a crop may remove
MIN_KEPT = 0.3        # share of each clean ink component that must survive
MAX_GROWTH = 2.5      # the line's ink may grow at most this much (spread, speckle)
CLEAN_LEVEL = 0.35    # coverage at scan resolution that counts as ink of the clean line


class ScanFailure(Exception):
    """Raised with a reason key; `render` turns it into its RenderFailure."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def _typeset(text: str, font_path: str, size: int, p: ScanParams) -> tuple[np.ndarray, dict[str, int]]:
    """Ink coverage in [0, 1] (rows from the font's ascender line) and the font's zones in rows."""
    FONTS.use_layout_for(text)
    spacing = round(p.letter_spacing * size)
    image, _ = trdg_modules().text.generate(text, font_path, "#000000", size, 0, p.space_width, spacing,
                                            False, False, 0, "#000000")
    ink = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    font = FONTS.truetype(font_path, size)
    ascent, _ = font.getmetrics()
    zones = {"ascender": font.getbbox("d")[1], "x_height": font.getbbox("x")[1], "baseline": ascent,
             "descender": font.getbbox("p")[3]}
    return ink, zones


def _bend(ink: np.ndarray, p: ScanParams, size: int, rng: np.random.Generator) -> np.ndarray:
    """Shear (a slight rotation) and a slow baseline wave, as row displacements per column."""
    if not (p.shear or p.wave):
        return ink
    h, w = ink.shape
    x = np.arange(w, dtype=np.float32)
    period = rng.uniform(3.0, 12.0) * size
    shift = p.shear * (x - w / 2) + p.wave * size * np.sin(2 * np.pi * x / period + rng.uniform(0, 2 * np.pi))
    pad = int(math.ceil(float(np.abs(shift).max()))) + 1
    ink = np.pad(ink, ((pad, pad), (0, 0)))
    map_x = np.broadcast_to(x, ink.shape).astype(np.float32)
    map_y = (np.arange(ink.shape[0], dtype=np.float32)[:, None] - shift[None, :]).astype(np.float32)
    return cv2.remap(ink, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)


def _print(ink: np.ndarray, p: ScanParams, size: int) -> np.ndarray:
    """Ink spread (level < 0.5) or erosion (> 0.5): blur the glyphs, then threshold."""
    sigma = max(0.3, p.ink_sigma * size)
    return (cv2.GaussianBlur(ink, (0, 0), sigma) > p.ink_level).astype(np.float32)


def _window(clean: np.ndarray, zones: dict[str, int], p: ScanParams, size: int, bent: bool, text: str = ""
            ) -> tuple[int, int, int, int]:
    """Rows [top, bottom) and columns [left, right) of the crop on the high-resolution line.

    As a line segmenter crops a printed line: by the line's layout (the font's ascender and
    descender lines), not by its ink, so the text keeps its scale whatever letters the line
    has; a margin beyond those lines, or a cut into the ascender (descender) zone of at most
    MAX_CUT of it."""
    rows = np.flatnonzero(clean.max(axis=1) > 0.5)
    cols = np.flatnonzero(clean.max(axis=0) > 0.5)
    if not len(rows):
        raise ScanFailure("empty_render", "no ink")
    ascender, descender = min(zones["ascender"], int(rows[0])), max(zones["descender"], int(rows[-1]) + 1)
    above, below = _marked(text)
    if p.cut_top > 0 and not bent and not above:
        top = zones["ascender"] + int(min(p.cut_top, MAX_CUT) * (zones["x_height"] - zones["ascender"]))
    else:
        top = ascender - round(max(0.0, -p.cut_top) * size)
    if p.cut_bottom > 0 and not bent and not below:
        bottom = zones["descender"] - int(min(p.cut_bottom, MAX_CUT) * (zones["descender"] - zones["baseline"]))
    else:
        bottom = descender + round(max(0.0, -p.cut_bottom) * size)
    top, bottom = _spare_small_pieces(clean, top, bottom, zones["baseline"] - zones["x_height"])
    margin = round(0.12 * size)
    return top, bottom, max(0, int(cols[0]) - margin), int(cols[-1]) + 1 + margin


# Combining marks drawn below the letter (cedilla, ogonek, comma and dot below): often one piece
# of ink with it, so the piece check cannot see them cut.
MARKS_BELOW = frozenset("\u0323\u0326\u0327\u0328\u032e\u0331")


def _marked(text: str) -> tuple[bool, bool]:
    """Whether `text` has letters with a mark above / below them: a cut on that side could take
    the mark (an accent on a capital, a cedilla) and leave another letter, so none is made."""
    above = below = False
    for ch in set(text):
        marks = unicodedata.normalize("NFD", ch)[1:]
        below |= any(m in MARKS_BELOW for m in marks)
        above |= any(unicodedata.combining(m) and m not in MARKS_BELOW for m in marks)
    return above, below


def _spare_small_pieces(clean: np.ndarray, top: int, bottom: int, x_height: int) -> tuple[int, int]:
    """Move a cut past any small piece of ink it would go through (a comma's tail, an accent,
    the dot of an i): such a piece cut in part reads as another mark (a comma as a period)
    and keeps enough of itself to pass the piece check."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((clean > 0.5).astype(np.uint8), connectivity=8)
    for y, h in zip(stats[1:count, cv2.CC_STAT_TOP], stats[1:count, cv2.CC_STAT_HEIGHT]):
        if h >= x_height:
            continue
        if y < top < y + h:
            top = int(y)
        if y < bottom < y + h:
            bottom = int(y + h)
    return top, bottom


def _fragments(line: np.ndarray, p: ScanParams, size: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of the lines above (their lowest rows) and below (their top rows), shifted."""
    rows = np.flatnonzero(line.max(axis=1) > 0.5)
    above = below = np.zeros((0, line.shape[1]), np.float32)
    if p.fragment_top > 0:
        k = max(1, round(p.fragment_top * size))
        above = np.roll(line[rows[-1] + 1 - k: rows[-1] + 1], int(rng.integers(line.shape[1])), axis=1)
    if p.fragment_bottom > 0:
        k = max(1, round(p.fragment_bottom * size))
        below = np.roll(line[rows[0]: rows[0] + k], int(rng.integers(line.shape[1])), axis=1)
    return above, below


def _scan(printed: np.ndarray, p: ScanParams, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The printed line as the scanner sees it, ink in [0, 1] (binary when binarized)."""
    h, w = shape
    ink = cv2.resize(printed, (w, h), interpolation=cv2.INTER_AREA)
    if p.optics > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), p.optics)
    ink = ink * rng.uniform(0.85, 1.0)
    if p.texture > 0:        # paper grain: smooth noise at 1/6 of the resolution
        coarse = rng.standard_normal((max(2, h // 6), max(2, w // 6))).astype(np.float32)
        ink = ink + p.texture * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    if p.noise > 0:
        ink = ink + p.noise * rng.standard_normal((h, w)).astype(np.float32)
    if p.threshold:
        ink = binarize(ink.astype(np.float32), p.threshold, 1.0, dark_ink=False)
        if p.speckle:
            ink = speckle(ink, p.speckle, rng, 1.0)
    return np.clip(ink, 0.0, 1.0)


def render_scanned(text: str, font_path: str, height: int, fx: Effects, seed: int) -> Image.Image:
    """The line `text` printed in `font_path`, scanned, and resized to `height` pixels (mode L)."""
    assert fx.scan is not None
    p = fx.scan
    seed_all(seed)
    rng = np.random.default_rng(seed)
    size = HI_RES * height
    typeset, zones = _typeset(text, font_path, size, p)
    clean = _bend(typeset, p, size, rng)
    bent = clean is not typeset
    if bent:   # rows moved: the zones are no longer rows, and no cut is made
        zones = {k: v + (clean.shape[0] - typeset.shape[0]) // 2 for k, v in zones.items()}
    printed = _print(clean, p, size)
    top, bottom, left, right = _window(clean, zones, p, size, bent, text)
    above, below = _fragments(printed, p, size, rng)

    # Fragments of the neighbouring lines show in the margins only, a gap away from this
    # line's ink; where the margin has no room for them, they are left out.
    rows = np.flatnonzero(clean.max(axis=1) > 0.5)
    gap = max(2, round(0.04 * size))
    above = above[len(above) - max(0, min(len(above), int(rows[0]) - gap - top)):]
    below = below[: max(0, min(len(below), bottom - gap - int(rows[-1]) - 1))]
    # One canvas holds the whole clean line and the crop: the check below compares the clean
    # line and the scan on the same pixel grid.
    first, last = min(top, int(rows[0])), max(bottom, int(rows[-1]) + 1)
    offset = -first
    canvas_h = last - first
    full_clean = np.zeros((canvas_h, right - left), np.float32)
    canvas = np.zeros_like(full_clean)
    src = clean[:, left:right]
    lo, hi = max(0, first), min(clean.shape[0], last)
    full_clean[lo + offset: hi + offset, : src.shape[1]] = src[lo:hi]
    lo, hi = max(0, top), min(clean.shape[0], bottom)
    canvas[lo + offset: hi + offset, : src.shape[1]] = printed[lo:hi, left:right]
    if len(above):
        canvas[top + offset: top + offset + len(above), : src.shape[1]] = above[:, left:right]
    if len(below):
        canvas[bottom + offset - len(below): bottom + offset, : src.shape[1]] = below[:, left:right]

    scale = p.scan_height / (bottom - top)
    shape = (max(1, round(canvas_h * scale)), max(1, round(canvas.shape[1] * scale)))
    scanned = _scan(canvas, p, shape, rng)
    r0 = round((top + offset) * scale)
    r1 = min(shape[0], r0 + p.scan_height)
    # The growth check reads the rows between the fragments: their ink is not this line's.
    line_rows = (round((top + len(above) + offset) * scale), round((bottom - len(below) + offset) * scale))
    _check(full_clean, scanned, shape, (r0, r1), line_rows)

    pixels = np.round(255.0 * (1.0 - scanned[r0:r1])).astype(np.uint8)
    out = Image.fromarray(pixels, mode="L")
    width = max(1, round(out.width * height / out.height))
    return out.resize((width, height), Image.Resampling.BILINEAR)


def _check(full_clean: np.ndarray, scanned: np.ndarray, shape: tuple[int, int], crop: tuple[int, int],
           text_rows: tuple[int, int]) -> None:
    """Every clean ink component keeps MIN_KEPT of its pixels inside the crop; the ink of the
    rows `text_rows` (the crop without its fragments) grows at most MAX_GROWTH times."""
    clean = cv2.resize(full_clean, (shape[1], shape[0]), interpolation=cv2.INTER_AREA) > CLEAN_LEVEL
    seen = np.zeros_like(scanned)
    seen[crop[0]: crop[1]] = scanned[crop[0]: crop[1]] > 0.5
    count, labels = cv2.connectedComponents(clean.astype(np.uint8), connectivity=8)
    if count < 2:
        raise ScanFailure("empty_render", "no ink at scan resolution")
    flat = labels.ravel()
    size = np.bincount(flat, minlength=count)[1:]
    kept = np.bincount(flat, weights=seen.ravel(), minlength=count)[1:]
    real = size >= 2                 # single pixels are resampling dust, not glyphs
    if real.any() and float((kept[real] / size[real]).min()) < MIN_KEPT:
        raise ScanFailure("ink_lost", f"a piece of ink kept {float((kept[real] / size[real]).min()):.0%}")
    band = slice(max(crop[0], text_rows[0]), min(crop[1], text_rows[1]))
    grown = float(seen[band].sum()) / max(1.0, float(clean[band].sum()))
    if grown > MAX_GROWTH:
        raise ScanFailure("ink_spread", f"ink grew {grown:.1f}x")

"""Words in the wild (`--style wild`): a word as signs, covers, cards and labels show it.

The word is drawn with Pillow at a working size as three masks: its fill, its outline (the
fill grown by a stroke) and its shadow or extrusion (the outline moved down and aside). The
masks go through the same geometry (horizontal stretch, a curved baseline, rotation,
perspective), are cropped around the word's fill with a loose or tight margin (never into
it), and are coloured over a background: a photograph (`backgrounds/`), a gradient, a flat
colour or a texture. Fills are solid, two-colour gradients, or a texture. Then the crop
shrinks to the output height through a lower resolution (a small crop enlarged), with blur and
JPEG. A sliver of a neighbouring word's letter may show at an edge, as in real crops (at most
NEIGHBOUR_SHARE of its width: never a letter the label lacks).

Bounds, checked on every word (a word that fails is rejected and counted, never labelled):
* no pixel of the word's fill lies outside the crop (margins are >= 0, measured on the mask
  after all geometry);
* the mean luminance under the fill differs from the background's (outside the grown mask)
  by at least MIN_CONTRAST grey levels on the final image (render.MIN_CONTRAST).
"""

from __future__ import annotations

import random
import string
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pipeline.synth.ink import LUMA, jpeg, with_luminance
from pipeline.synth.styles import WildParams
from pipeline.synth.trdg_compat import cached_font

WORK_SIZE = 48          # font size the masks are drawn at (pixels); the output is resized from it
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
NEIGHBOURS = string.ascii_lowercase + string.ascii_uppercase + string.digits   # letters at a loose crop's edges
NEIGHBOUR_SHARE = 0.3   # most of a neighbouring letter's width a crop may show


class WildFailure(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@lru_cache(maxsize=4)
def _photos(folder: str) -> tuple[Image.Image, ...]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not files:
        raise WildFailure("no_backgrounds", f"no JPEG or PNG pictures in {folder}")
    return tuple(Image.open(p).convert("RGB") for p in files)


def _masks(text: str, font_path: str, p: WildParams, rng: random.Random) -> tuple[Image.Image, ...]:
    """(word, fill, outline, shadow) masks at the working size; `fill` adds neighbour letters."""
    font = cached_font(font_path, WORK_SIZE)
    stroke = round(p.outline * WORK_SIZE)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    gap = round(WORK_SIZE * rng.uniform(0.35, 0.8))
    pad = WORK_SIZE + gap
    size = (right - left + 2 * pad, bottom - top + 2 * pad)
    origin = (pad - left, pad - top)
    word = Image.new("L", size, 0)
    ImageDraw.Draw(word).text(origin, text, fill=255, font=font)
    fill = word                        # the same pixels unless neighbours join it
    if p.neighbours:
        fill = word.copy()
        draw = ImageDraw.Draw(fill)
        before, after = rng.choice(NEIGHBOURS), rng.choice(NEIGHBOURS)
        if p.near:                     # ink to ink, 0.05-0.35 of the size: about a word space
            ink_gap = WORK_SIZE * (0.05 + (gap / WORK_SIZE - 0.35) * 2 / 3)
            ink = font.getbbox(text)
            ink_left, ink_right = origin[0] + ink[0], origin[0] + ink[2]
            draw.text((ink_left - ink_gap - font.getbbox(before)[2], origin[1]), before, fill=255, font=font)
            draw.text((ink_right + ink_gap - font.getbbox(after)[0], origin[1]), after, fill=255, font=font)
        else:
            draw.text((origin[0] - gap - font.getlength(before), origin[1]), before, fill=255, font=font)
            draw.text((origin[0] + font.getlength(text) + gap, origin[1]), after, fill=255, font=font)
    outline = _grow(fill, stroke) if stroke else fill
    shadow = Image.new("L", size, 0)
    if p.shadow:
        dx, dy = round(p.shadow * WORK_SIZE * p.shadow_dir), round(p.shadow * WORK_SIZE)
        steps = max(1, abs(dy)) if p.extrude else 1
        for k in range(1, steps + 1):
            shadow.paste(255, (round(dx * k / steps), round(dy * k / steps)), outline)
        if not p.extrude:
            shadow = shadow.filter(ImageFilter.GaussianBlur(WORK_SIZE * 0.04))
    return word, fill, outline, shadow


def _curve(mask: np.ndarray, amount: float) -> np.ndarray:
    """Columns moved up or down along an arc: `amount` is the rise at the ends, in pixels."""
    if not amount:
        return mask
    height, width = mask.shape
    x = np.linspace(-1.0, 1.0, width)
    shifts = np.round(amount * (x ** 2)).astype(int)
    out = np.zeros_like(mask)
    for shift in np.unique(shifts):
        cols = shifts == shift
        out[:, cols] = np.roll(mask[:, cols], -shift, axis=0)
    return out


def _perspective_coeffs(size: tuple[int, int], p: WildParams) -> tuple[float, ...]:
    """Coefficients for Image.transform(PERSPECTIVE): one side of the word nearer than the other."""
    w, h = size
    d = p.perspective * h
    if p.perspective_side:             # the right side farther away: drawn shorter
        dst = [(0, 0), (w, d), (w, h - d), (0, h)]
    else:
        dst = [(0, d), (w, 0), (w, h), (0, h - d)]
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    matrix = []
    for (x, y), (u, v) in zip(dst, src):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    rhs = np.array([c for pair in src for c in pair], dtype=np.float64)
    return tuple(np.linalg.solve(np.array(matrix, dtype=np.float64), rhs))


def _grow(mask: Image.Image, radius: int) -> Image.Image:
    """Every pixel the largest of its (2 radius + 1)-square neighbourhood: Pillow's
    MaxFilter(2 radius + 1), pixel for pixel, several times faster (OpenCV's dilation)."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return Image.fromarray(cv2.dilate(np.asarray(mask), kernel, borderType=cv2.BORDER_REPLICATE))


def _geometry(masks: tuple[Image.Image, ...], p: WildParams) -> list[Image.Image]:
    """The same stretch, curve, rotation and perspective applied to every mask. A mask that is
    another one (an outline of width 0 is the fill) or empty (no shadow) is not warped again:
    the warp of the same pixels is the same, that of zeros is zeros."""
    out: list[Image.Image] = []
    coeffs = None
    for index, mask in enumerate(masks):
        same = next((out[j] for j in range(index) if masks[j] is mask), None)
        if same is not None:
            out.append(same)
            continue
        if out and mask.getbbox() is None:
            out.append(Image.new("L", out[0].size, 0))
            continue
        if p.stretch != 1.0:
            mask = mask.resize((max(1, round(mask.width * p.stretch)), mask.height), Image.Resampling.BILINEAR)
        if p.curve:
            mask = Image.fromarray(_curve(np.asarray(mask), p.curve * WORK_SIZE))
        if p.rotate:
            mask = mask.rotate(p.rotate, resample=Image.Resampling.BILINEAR, expand=True)
        if p.perspective:
            coeffs = coeffs or _perspective_coeffs(mask.size, p)
            mask = mask.transform(mask.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
        out.append(mask)
    return out


def _crop_box(word: Image.Image, p: WildParams) -> tuple[int, int, int, int]:
    box = word.point(lambda a: 255 if a >= 64 else 0).getbbox()
    if box is None:
        raise WildFailure("empty_render", "no text pixels")
    x0, y0, x1, y1 = box
    h = y1 - y0
    box = (x0 - round(p.margin_left * h), y0 - round(p.margin_top * h),
           x1 + round(p.margin_right * h), y1 + round(p.margin_bottom * h))
    return (max(0, box[0]), max(0, box[1]), min(word.width, box[2]), min(word.height, box[3]))


def _neighbour_edges(word: Image.Image, fill: Image.Image, box: tuple[int, int, int, int],
                     cuts: tuple[float | None, float | None] = (None, None)) -> tuple[int, int, int, int]:
    """The crop's left and right edges where a neighbouring letter lies beside the word: cut
    through it at the share of its width `cuts` gives for that side (left, right), else kept
    where the margin put it but narrowed to show at most NEIGHBOUR_SHARE of it: a sliver at the
    edge, never a letter the label lacks, and never a column of the word lost."""
    ink = np.asarray(word) >= 64
    beside = ((np.asarray(fill) >= 64) & ~ink).any(axis=0)
    columns = np.flatnonzero(ink.any(axis=0))
    if not columns.size:
        return box
    x0, x1 = int(columns[0]), int(columns[-1]) + 1
    left, right = box[0], box[2]
    after = np.flatnonzero(beside[x1:]) + x1
    if after.size:
        width = int(after[-1] - after[0] + 1)
        edge = int(after[0]) + int((cuts[1] if cuts[1] is not None else NEIGHBOUR_SHARE) * width)
        right = max(x1, edge if cuts[1] is not None else min(right, edge))
    before = np.flatnonzero(beside[:x0])
    if before.size:
        width = int(before[-1] - before[0] + 1)
        edge = int(before[-1]) + 1 - int((cuts[0] if cuts[0] is not None else NEIGHBOUR_SHARE) * width)
        left = min(x0, edge if cuts[0] is not None else max(left, edge))
    return max(0, left), box[1], min(word.width, right), box[3]


def _cuts(seed: int) -> tuple[float | None, float | None]:
    """For a word drawn with near neighbours: on each side, half the time, the share of the
    neighbouring letter the crop cuts through (drawn apart from the word's other choices)."""
    rng = random.Random(seed ^ 0x51F7)
    return tuple(rng.uniform(0.05, NEIGHBOUR_SHARE) if rng.random() < 0.5 else None  # type: ignore[return-value]
                 for _ in range(2))


def _background(kind: str, size: tuple[int, int], rng: random.Random, photo_dir: str) -> Image.Image:
    """A photograph's crop, a texture, a flat colour or a gradient, `size` pixels."""
    w, h = size
    if kind == "photo":
        photo = rng.choice(_photos(photo_dir))
        scale = rng.uniform(0.3, 1.0)
        cw, ch = max(8, round(photo.width * scale)), max(8, round(photo.width * scale * h / w))
        ch = min(ch, photo.height)
        x, y = rng.randint(0, photo.width - cw), rng.randint(0, photo.height - ch)
        return photo.crop((x, y, x + cw, y + ch)).resize(size, Image.Resampling.BILINEAR)
    if kind == "texture":
        g = np.random.default_rng(rng.getrandbits(32))
        small = g.uniform(0, 255, size=(max(2, h // 8), max(2, w // 8), 3)).astype(np.uint8)
        base = np.array(_random_rgb(rng), dtype=np.float32)
        noise = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
        mix = rng.uniform(0.15, 0.6)
        return Image.fromarray(np.clip(base * (1 - mix) + noise * mix, 0, 255).astype(np.uint8))
    first = _random_rgb(rng)
    if kind == "flat":
        return Image.new("RGB", size, first)
    return _gradient(size, first, _random_rgb(rng), rng.random() < 0.5)


def _random_rgb(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)


def _gradient(size: tuple[int, int], a: tuple[int, ...], b: tuple[int, ...], vertical: bool) -> Image.Image:
    w, h = size
    t = np.linspace(0, 1, h if vertical else w, dtype=np.float32)
    line = np.asarray(a, np.float32)[None, :] * (1 - t[:, None]) + np.asarray(b, np.float32)[None, :] * t[:, None]
    pixels = np.broadcast_to(line[:, None, :], (h, w, 3)) if vertical else np.broadcast_to(line[None], (h, w, 3))
    return Image.fromarray(np.ascontiguousarray(pixels).astype(np.uint8))


def _luma(rgb: tuple[int, ...]) -> float:
    return float(np.asarray(rgb, dtype=np.float64) @ LUMA)


def _far_color(under: float, rng: random.Random, lo: float, hi: float) -> tuple[int, int, int]:
    """A random colour whose luminance is lo..hi grey levels away from `under` (darker or
    lighter, whichever fits)."""
    gap = rng.uniform(lo, hi)
    target = under - gap if (under - gap >= 0 and (under + gap > 255 or rng.random() < 0.5)) else under + gap
    target = min(255.0, max(0.0, target))
    return with_luminance(np.array(_random_rgb(rng), dtype=np.float64), target)


def _paint(bg: Image.Image, masks: list[Image.Image], p: WildParams, rng: random.Random,
           photo_dir: str) -> Image.Image:
    """Shadow, outline and fill coloured over the background."""
    word, fill, outline, shadow = masks
    ink = np.asarray(word) >= 128
    if not ink.any():
        raise WildFailure("empty_render", "no text pixels")
    under = float(np.asarray(bg.convert("L"), dtype=np.float32)[ink].mean())
    fill_rgb = _far_color(under, rng, p.contrast, p.contrast + 90)
    out = bg.copy()
    if p.shadow:
        out.paste(_far_color(under, rng, 40, 120) if rng.random() < 0.4 else (20, 20, 20), (0, 0), shadow)
    if p.outline:
        out.paste(_far_color(_luma(fill_rgb), rng, 70, 160), (0, 0), outline)
    if p.fill == "gradient":
        second = _far_color(under, rng, p.contrast, p.contrast + 90)
        out.paste(_gradient(out.size, fill_rgb, second, rng.random() < 0.7), (0, 0), fill)
    elif p.fill == "texture":
        texture = _background("texture", out.size, rng, photo_dir)
        shift = np.asarray(fill_rgb, np.float32) - np.asarray(texture, np.float32).mean(axis=(0, 1))
        textured = np.clip(np.asarray(texture, np.float32) * 0.5 + np.asarray(fill_rgb, np.float32) * 0.5
                           + shift * 0.5, 0, 255).astype(np.uint8)
        out.paste(Image.fromarray(textured), (0, 0), fill)
    else:
        out.paste(fill_rgb, (0, 0), fill)
    return out


def _finish(image: Image.Image, height: int, p: WildParams) -> Image.Image:
    """To the output height through a lower resolution, with blur and JPEG."""
    width = max(1, round(image.width * height / image.height))
    if p.low_res < 1.0:
        small_h = max(6, round(height * p.low_res))
        image = image.resize((max(1, round(width * small_h / height)), small_h), Image.Resampling.BOX)
    image = image.resize((width, height), Image.Resampling.BICUBIC if p.low_res < 1.0 else Image.Resampling.LANCZOS)
    if p.blur:
        image = image.filter(ImageFilter.GaussianBlur(p.blur))
    return jpeg(image, p.jpeg) if p.jpeg else image


def render_wild(text: str, font_path: str, height: int, p: WildParams, seed: int,
                photo_dir: str) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """One word in the wild, `height` pixels high, RGB, with the masks its contrast is measured
    on (render checks it): the word's fill, and the ground outside its grown outline. Raises
    WildFailure when there is nothing to draw."""
    rng = random.Random(seed ^ 0x3A1D)
    if not text.strip():
        raise WildFailure("empty_render", "no text")
    masks = _geometry(_masks(text, font_path, p, rng), p)
    box = _crop_box(masks[0], p)
    if p.near:                         # (apart: the crop as the margins give it, as before)
        box = _neighbour_edges(masks[0], masks[1], box, _cuts(seed))
    masks = [m.crop(box) for m in masks]
    image = _paint(_background(p.background, masks[0].size, rng, photo_dir), masks, p, rng, photo_dir)
    out = _finish(image, height, p)
    word = masks[0].resize(out.size, Image.Resampling.BILINEAR)
    grown = _grow(masks[2], 1).resize(out.size, Image.Resampling.BILINEAR)
    return out, np.asarray(word) >= 128, ~(np.asarray(grown) >= 16)


"""One text line to one image, with trdg's text, background and distortion code.

trdg's own driver (`FakeTextDataGenerator`) is not used: it returns None on a failed
render while its CLI still writes the label, and its contrast check compares the wrong
channels, so near-invisible text passes. Here a failure raises `RenderFailure` with a
reason, and the contrast between the text and its background is measured on the final
image, under the text's own pixels (the alpha channel of trdg's text image).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from pipeline.synth.ink import binarize, jpeg, speckle, with_luminance
from pipeline.synth.scanned import ScanFailure, render_scanned
from pipeline.synth.styles import AUTO_COLOR, Effects, Finish
from pipeline.synth.trdg_compat import FONTS, seed_all, trdg_images_dir, trdg_modules
from pipeline.synth.wild import WildFailure, render_wild

MIN_CONTRAST = 40.0   # grey levels between mean text and mean background luminance
MAX_SKEW_GROWTH = 0.5   # rotation may add at most half the text height
TRDG_ERRORS = (ValueError, OSError, ZeroDivisionError, IndexError)   # how trdg's rendering fails


class RenderFailure(Exception):
    """A line that produced no usable image; `reason` is a short stable key for counts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _paper(height: int, width: int, seed: int) -> Image.Image:
    """Receipt paper: a light tint, uneven along the roll (a slow ramp and a gentle wave)."""
    rng = np.random.default_rng(seed ^ 0x9A9E)
    base = rng.uniform(205, 250)
    tint = rng.uniform(-8, 8, size=3)
    x = np.linspace(0, 1, width)
    shade = base + rng.uniform(-12, 12) * x + rng.uniform(0, 8) * np.sin(2 * np.pi * (rng.uniform(0.5, 3) * x
                                                                                     + rng.uniform(0, 1)))
    pixels = shade[None, :, None] + tint[None, None, :] + rng.normal(0, 2.5, size=(height, width, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _background(kind: str, height: int, width: int, image_dir: str | None, seed: int = 0) -> Image.Image:
    if kind.startswith("#"):
        return Image.new("RGB", (width, height), kind)
    if kind == "paper":
        return _paper(height, width, seed)
    bg = trdg_modules().background
    if kind == "white":
        return bg.plain_white(height, width)
    if kind == "noise":
        return bg.gaussian_noise(height, width)
    if kind == "quasicrystal":
        return bg.quasicrystal(height, width)
    return bg.image(height, width, image_dir or trdg_images_dir()).convert("RGBA")


def _distort(fx: Effects, image: Image.Image) -> Image.Image:
    if fx.distortion == "none":
        return image
    distort = getattr(trdg_modules().distortion, fx.distortion)
    vertical, horizontal = fx.distortion_orientation in (0, 2), fx.distortion_orientation in (1, 2)
    # trdg distorts a mask alongside; the image's own alpha channel is the mask used here.
    return distort(image, image, vertical=vertical, horizontal=horizontal)[0]


def _contrasting_color(background: Image.Image, box: tuple[int, int, int, int], seed: int) -> str:
    """A random colour whose luminance is far from the background's under the text."""
    rng = random.Random(seed ^ 0x5EED)
    under = float(np.asarray(background.convert("L").crop(box), dtype=np.float32).mean())
    target = rng.uniform(0, max(0.0, under - 110)) if under > 128 else rng.uniform(min(255.0, under + 110), 255)
    return "#{:02x}{:02x}{:02x}".format(*with_luminance(np.array([rng.uniform(0, 255) for _ in range(3)]), target))


def _recolor(image: Image.Image, color: str) -> Image.Image:
    """The RGBA text image in another colour, same coverage (alpha)."""
    solid = Image.new("RGB", image.size, color)
    return Image.merge("RGBA", (*solid.split(), image.getchannel("A")))


@dataclass(frozen=True)
class Rendered:
    image: Image.Image
    text_color: str     # the colour drawn (picked against the background when "auto")
    skew: float         # the rotation applied (limited for long lines, see MAX_SKEW_GROWTH)


def _vertical_text(text: str, font_path: str, color: str, size: int, spacing: int, stroke_width: int
                   ) -> Image.Image:
    """A column of upright characters, top to bottom, each centred in a `size` x `size` cell
    (as CJK is set vertically; Latin letters and digits stay upright, as on signs), turned
    90 degrees counter-clockwise: a horizontal strip whose left end is the column's top."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, size)
    cell = size + spacing
    image = Image.new("RGBA", (size + 2 * stroke_width, cell * len(text)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    rgb = color.split(",")[0]
    for i, ch in enumerate(text):
        if not ch.isspace():
            draw.text((image.width / 2, cell * i + size / 2), ch, fill=rgb, font=font, anchor="mm",
                      stroke_width=stroke_width, stroke_fill=rgb)
    box = image.getbbox()
    if box is None:
        raise RenderFailure("empty_render", "no text pixels")
    return image.crop((0, box[1], image.width, box[3])).transpose(Image.Transpose.ROTATE_90)


def render(text: str, font_path: str, height: int, fx: Effects, seed: int,
           image_dir: str | None = None, vertical: bool = False, photo_dir: str | None = None) -> Rendered:
    """Render `text` in `font_path` at `height` pixels with effects `fx`; with `vertical`, a
    column `height` pixels wide (characters top to bottom), as an upright image.

    Every random number drawn here (trdg's and ours) comes from `seed`, so the image is a
    pure function of the arguments. Raises RenderFailure when the result is unusable. The
    wild style draws on the pictures of `image_dir`, else of `photo_dir` (backgrounds/).
    """
    if vertical:
        if fx.scan is not None:
            raise RenderFailure("not_vertical", "the scanned style draws horizontal lines only")
        out = _render(text, font_path, height, fx, seed, image_dir, vertical=True)
        return Rendered(out.image.transpose(Image.Transpose.ROTATE_270), out.text_color, out.skew)
    return _render(text, font_path, height, fx, seed, image_dir, photo_dir=photo_dir)


def _render(text: str, font_path: str, height: int, fx: Effects, seed: int, image_dir: str | None = None,
            vertical: bool = False, photo_dir: str | None = None) -> Rendered:
    if fx.scan is not None:
        try:
            return Rendered(render_scanned(text, font_path, height, fx, seed), "#000000", 0.0)
        except ScanFailure as e:
            raise RenderFailure(e.reason, e.detail) from None
        except TRDG_ERRORS as e:
            raise RenderFailure("render_error", f"{type(e).__name__}: {e}") from None
    if fx.wild is not None:
        try:
            image, ink, ground = render_wild(text, font_path, height, fx.wild, seed,
                                             image_dir or photo_dir or trdg_images_dir())
        except WildFailure as e:
            raise RenderFailure(e.reason, e.detail) from None
        except TRDG_ERRORS as e:
            raise RenderFailure("render_error", f"{type(e).__name__}: {e}") from None
        _check_contrast(image, ink, ground)
        return Rendered(image, AUTO_COLOR, fx.wild.rotate)
    seed_all(seed)
    FONTS.use_layout_for(text)
    top, left, bottom, right = fx.margins
    inner = height - top - bottom
    if inner < 4:
        raise RenderFailure("too_small", f"height {height} leaves {inner} px for text")
    try:
        color = "#000000" if fx.text_color == AUTO_COLOR else fx.text_color
        if vertical:
            image = _vertical_text(text, font_path, color, height, fx.character_spacing, fx.stroke_width)
        else:
            image, _ = trdg_modules().text.generate(
                text, font_path, color, height, 0, fx.word_spacing, fx.character_spacing,
                False, False, fx.stroke_width, color.split(",")[0])
        # A rotated long line grows tall and would shrink to a sliver at the output height.
        limit = math.degrees(math.atan(MAX_SKEW_GROWTH * image.height / max(1, image.width)))
        skew = max(-limit, min(limit, fx.skew))
        if skew:
            image = image.rotate(skew, resample=Image.Resampling.BILINEAR, expand=True)
        image = _distort(fx, image)
    except TRDG_ERRORS as e:
        raise RenderFailure("render_error", f"{type(e).__name__}: {e}") from None
    if image.width < 1 or image.height < 1:
        raise RenderFailure("empty_render")

    width = max(1, round(image.width * inner / image.height))
    image = image.resize((width, inner), Image.Resampling.LANCZOS)
    mask = image.getchannel("A").point(lambda a: 255 if a >= 128 else 0)   # the text's own pixels

    if fx.finish is not None:
        image = _wear(image, fx.finish, seed)
    canvas = _background(fx.background, height, width + left + right, image_dir, seed).convert("RGBA")
    if fx.text_color == AUTO_COLOR:
        color = _contrasting_color(canvas, (left, top, left + width, top + inner), seed)
        image = _recolor(image, color)
    canvas.paste(image, (left, top), image)
    text_mask = Image.new("L", canvas.size, 0)
    text_mask.paste(mask, (left, top))
    if fx.blur > 0:
        canvas = canvas.filter(ImageFilter.GaussianBlur(fx.blur))
    if fx.finish is not None:
        canvas = _degrade(canvas.convert("RGB"), fx.finish)
    out = canvas.convert("RGB" if fx.color else "L")

    if fx.binarize or fx.speckle:
        out = _scan_effects(out, fx, seed)
    if fx.finish is not None and fx.finish.invert:
        out = ImageOps.invert(out)
    ink = np.asarray(text_mask) > 0
    _check_contrast(out, ink, ~ink)
    return Rendered(out, color, skew)


def _wear(text: Image.Image, finish: Finish, seed: int) -> Image.Image:
    """Worn ink on the RGBA text image: coverage faded by a slow wave along the line, and
    dot-matrix print (ink only near the points of a grid)."""
    if not (finish.fade or finish.dots):
        return text
    alpha = np.asarray(text.getchannel("A"), dtype=np.float32)
    height, width = alpha.shape
    if finish.fade:
        rng = np.random.default_rng(seed ^ 0xFADE)
        x = np.linspace(0, 1, width)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(0.3, 2.0) * x + rng.uniform(0, 1)))
        alpha = alpha * (1 - finish.fade * wave)[None, :]
    if finish.dots:
        p = finish.dots
        yy, xx = np.mgrid[0:height, 0:width]
        near = ((yy % p) - p / 2 + 0.5) ** 2 + ((xx % p) - p / 2 + 0.5) ** 2 <= (0.45 * p) ** 2
        alpha = alpha * np.where(near, 1.0, 0.35)
    return Image.merge("RGBA", (*text.split()[:3], Image.fromarray(np.clip(alpha, 0, 255).astype(np.uint8))))


def _degrade(image: Image.Image, finish: Finish) -> Image.Image:
    """Resolution lost (drawn small, enlarged back), subpixel colour fringes, JPEG."""
    if finish.scale < 1:
        size = image.size
        small = image.resize((max(1, round(size[0] * finish.scale)), max(4, round(size[1] * finish.scale))),
                             Image.Resampling.BOX)
        if finish.fringe:
            r, g, b = small.split()
            small = Image.merge("RGB", (ImageChops.offset(r, 1, 0), g, ImageChops.offset(b, -1, 0)))
        image = small.resize(size, Image.Resampling.BICUBIC)
    return jpeg(image, finish.jpeg) if finish.jpeg else image


def _scan_effects(image: Image.Image, fx: Effects, seed: int) -> Image.Image:
    pixels = np.asarray(image, dtype=np.uint8)
    if fx.binarize:
        pixels = binarize(pixels, fx.binarize, 255, dark_ink=True)
    if fx.speckle:
        pixels = speckle(pixels, fx.speckle, np.random.default_rng(seed), 255)
    return Image.fromarray(pixels)


def _check_contrast(image: Image.Image, ink: np.ndarray, ground: np.ndarray) -> None:
    """The mean luminance under the text's pixels (`ink`) and under the ground around them at
    least MIN_CONTRAST apart on the final image, else RenderFailure."""
    luminance = np.asarray(image.convert("L"), dtype=np.float32)
    if not ink.any():
        raise RenderFailure("empty_render", "no text pixels")
    if not ground.any():
        return
    contrast = abs(float(luminance[ink].mean()) - float(luminance[ground].mean()))
    if contrast < MIN_CONTRAST:
        raise RenderFailure("low_contrast", f"{contrast:.0f} grey levels")

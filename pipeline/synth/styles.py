"""Effect presets (`--style`) and the per-line effect parameters drawn from them.

* plain  dark text on a white background, no effects (the fastest; the benchmark baseline)
* print  the default: mild noise, skew and blur, like a printed or photographed page
* binarized  thresholded strokes (thin or bold), speckle, slight skew: a binarized page
         rendered straight (`scan` is its old name and still accepted)
* scene  coloured text on pictures, noise or patterns, with distortion and stronger skew
* scanned  a simulated print-and-scan: ink spread or erosion, justified word spacing, tight crops
         with fragments of the neighbouring lines, paper texture, resolution loss, binarization
         (`pipeline/synth/scanned.py`)
* receipt  till-roll print: grey, blue or violet ink on tinted paper, faded unevenly along the line,
         dot-matrix dots, now and then a light-on-dark header; low resolution and JPEG, like a
         scanned or photographed receipt
* wild  words in the wild: display typefaces (add `--fonts display`), photographs, gradients and
         textures, outlines, shadows and extrusions, gradient and textured fills, stretch, curve,
         rotation and perspective, loose or tight crops with neighbouring letters, resolution loss,
         blur and JPEG (`pipeline/synth/wild.py`)
* screen  text on a display: flat colours, light on dark as often as dark on light, drawn small
         and anti-aliased then enlarged, colour fringes of subpixel rendering, JPEG of a screenshot

A mixture draws one style per line: `scanned,print` equally often, `scanned:3,print:1` by shares.

Command-line overrides (`--skew`, `--blur`, `--background`, `--distortion`,
`--text-color`, `--word-spacing`) replace one effect of the preset and keep the rest; the `scanned` and `wild`
styles have their own geometry and ink and take none of them (a mixture applies them to its other styles).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from pipeline.config import OLD_STYLE_NAMES, STYLES, WILD_PARTS, parse_weighted

AUTO_COLOR = "auto"   # a colour picked against the background under the text
BACKGROUNDS = ("white", "noise", "quasicrystal", "image", "paper")   # paper: tinted, uneven
DISTORTIONS = ("none", "sin", "cos", "random")


@dataclass(frozen=True)
class ScanParams:
    """How one line of the `scanned` style is printed and scanned (see pipeline/synth/scanned.py).

    Lengths are shares of the line's own geometry, so they hold at any output height."""

    space_width: float        # word spacing, times the font's space (> 1: a justified line)
    letter_spacing: float     # extra space between characters, share of the font size
    shear: float              # vertical drift along the line (rotation), rows per column
    wave: float               # amplitude of a slow baseline wave, share of the font size
    ink_sigma: float          # ink spread/erosion: blur of the printed glyphs, share of the font size
    ink_level: float          # threshold after that blur: < 0.5 spreads ink (bold, filled), > 0.5 erodes it
    cut_top: float            # share of the ascender zone cut off by the crop (< 0: a margin instead)
    cut_bottom: float         # share of the descender zone cut off (< 0: a margin)
    fragment_top: float       # height of a fragment of the line above, share of the font size (0: none)
    fragment_bottom: float    # the same for the line below
    scan_height: int          # pixels of the crop at scan resolution, before the output resize
    optics: float             # scanner blur at scan resolution, pixels
    texture: float            # paper texture amplitude (low-frequency), ink units
    noise: float              # sensor noise, ink units
    threshold: float          # binarization level in ink units (0: a grey scan, not binarized)
    speckle: float            # share of pixels flipped after binarization (dust, toner)


@dataclass(frozen=True)
class Finish:
    """What happens to a line once drawn (the `receipt` and `screen` styles): its ink worn, its
    pixels lost, its colours turned."""

    fade: float = 0.0         # uneven ink: the most a slow wave along the line takes of its coverage
    dots: int = 0             # dot-matrix print: ink only on a grid of this pitch in pixels (0: solid)
    scale: float = 1.0        # drawn at this share of its size, then enlarged back (< 1: resolution lost)
    fringe: bool = False      # red and blue shifted a pixel apart at the small size (subpixel text)
    jpeg: int = 0             # JPEG quality it is stored at and read back (0: not)
    invert: bool = False      # a negative: light text on a dark ground


@dataclass(frozen=True)
class WildParams:
    """How one word of the `wild` style looks (see pipeline/synth/wild.py). Lengths are shares
    of the font size (or, for margins, of the word's height after geometry)."""

    stretch: float            # horizontal scale: < 1 condensed, > 1 extended
    outline: float            # stroke around the glyphs in another colour (0: none)
    shadow: float             # drop shadow or extrusion depth (0: none)
    shadow_dir: float         # its sideways share (-1 left .. 1 right of its depth)
    extrude: bool             # a solid extrusion instead of a soft shadow
    fill: str                 # solid, gradient or texture
    contrast: float           # least grey levels between fill and the ground under it
    background: str           # photo, texture, gradient or flat
    rotate: float             # degrees
    curve: float              # baseline arc: rise at the ends (negative: a smile)
    perspective: float        # how much shorter the far side is (0: none)
    perspective_side: bool    # the right side is the far one
    margin_top: float
    margin_bottom: float
    margin_left: float
    margin_right: float
    neighbours: bool          # letters of the neighbouring words at the edges
    low_res: float            # the crop's height before enlarging, share of the output (1: none)
    blur: float               # output pixels
    jpeg: int                 # JPEG quality (0: not)
    near: bool = False        # neighbours a word space from the ink, so a crop's edge may hold a sliver
                              # of them (else beyond every margin, and none shows: --wild-neighbours)


@dataclass(frozen=True)
class Effects:
    """Everything that decides how one line looks, besides its text, font and seed."""

    text_color: str                       # "#rrggbb"; "#a,#b": trdg draws one between; or AUTO_COLOR
    background: str                       # one of BACKGROUNDS, or a flat colour "#rrggbb"
    skew: float                           # rotation in degrees
    blur: float                           # Gaussian blur radius in pixels
    distortion: str                       # one of DISTORTIONS
    distortion_orientation: int           # 0 vertical, 1 horizontal, 2 both
    margins: tuple[int, int, int, int]    # top, left, bottom, right, in output pixels
    character_spacing: int                # extra pixels between characters
    stroke_width: int                     # > 0 thickens strokes (bold)
    binarize: float                       # 0: off; else the ink threshold in (0, 1)
    speckle: float                        # share of pixels flipped to salt and pepper
    color: bool                           # keep RGB (scene) instead of grayscale
    scan: ScanParams | None = None        # the print-and-scan simulation of the `scanned` style
    finish: Finish | None = None          # wear and loss after drawing (receipt, screen)
    wild: WildParams | None = None        # the words-in-the-wild drawing of the `wild` style
    word_spacing: float = 1.0             # the word space, times the font's own (--word-spacing)

    def columns(self) -> dict[str, str]:
        """The effect parameters written beside each label."""
        return {"skew": f"{self.skew:.2f}", "blur": f"{self.blur:.2f}", "background": self.background,
                "distortion": self.distortion, "text_color": self.text_color,
                "stroke_width": str(self.stroke_width), "binarize": f"{self.binarize:.2f}"}


@dataclass(frozen=True)
class Overrides:
    """Single effects fixed on the command line (None keeps the preset's choice)."""

    skew: float | None = None         # largest rotation, degrees; 0 disables
    blur: float | None = None         # largest blur radius; 0 disables
    background: str | None = None
    distortion: str | None = None
    text_color: str | None = None
    wild_parts: frozenset[str] = frozenset(WILD_PARTS)    # what the wild style may draw (--wild-parts)
    word_spacing: tuple[float, float] | None = None        # range of the word space, times the font's
    wild_neighbours: str = "apart"    # near: a crop may show a sliver of a neighbouring word; apart: none


def _gray(rng: random.Random, lo: int, hi: int) -> str:
    v = rng.randint(lo, hi)
    return f"#{v:02x}{v:02x}{v:02x}"


def _pick(rng: random.Random, weighted: dict[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _plain(rng: random.Random) -> Effects:
    return Effects("#000000", "white", 0.0, 0.0, "none", 0, (2, 3, 2, 3), 0, 0, 0.0, 0.0, False)


def _print(rng: random.Random) -> Effects:
    return Effects(
        text_color=_gray(rng, 0, 60),
        background=_pick(rng, {"white": 0.4, "noise": 0.6}),
        skew=rng.uniform(-1.5, 1.5) if rng.random() < 0.6 else 0.0,
        blur=rng.uniform(0.0, 0.9),
        distortion="none", distortion_orientation=0,
        margins=(rng.randint(1, 4), rng.randint(1, 8), rng.randint(1, 4), rng.randint(1, 8)),
        character_spacing=rng.choice((0, 0, 0, 1)),
        stroke_width=0, binarize=0.0, speckle=0.0, color=False)


def _binarized(rng: random.Random) -> Effects:
    return Effects(
        text_color="#000000", background="white",
        skew=rng.uniform(-1.0, 1.0) if rng.random() < 0.5 else 0.0,
        blur=rng.uniform(0.3, 1.0),
        distortion="none", distortion_orientation=0,
        margins=(rng.randint(1, 4), rng.randint(1, 8), rng.randint(1, 4), rng.randint(1, 8)),
        character_spacing=0,
        stroke_width=1 if rng.random() < 0.1 else 0,
        binarize=rng.uniform(0.45, 0.75),      # low: thin strokes; high: bold, filled ones
        speckle=rng.uniform(0.0, 0.003) if rng.random() < 0.5 else 0.0,
        color=False)


def _scene(rng: random.Random) -> Effects:
    return Effects(
        text_color=AUTO_COLOR,
        background=_pick(rng, {"image": 0.45, "noise": 0.25, "quasicrystal": 0.1, "white": 0.2}),
        skew=rng.uniform(-4.0, 4.0),
        blur=rng.uniform(0.0, 1.5),
        distortion=_pick(rng, {"none": 0.5, "sin": 0.15, "cos": 0.15, "random": 0.2}),
        distortion_orientation=rng.choice((0, 0, 1, 2)),
        margins=(rng.randint(1, 5), rng.randint(1, 10), rng.randint(1, 5), rng.randint(1, 10)),
        character_spacing=rng.choice((0, 0, 1, 2)),
        stroke_width=1 if rng.random() < 0.15 else 0,
        binarize=0.0, speckle=0.0, color=True)


def _scanned(rng: random.Random) -> Effects:
    """Print-and-scan. Ranges chosen by looking at binarized journal scans: most lines are
    clean, a minority heavy (counters filled) or thin (strokes broken), many justified."""
    heavy_or_thin = rng.random()
    if heavy_or_thin < 0.15:
        ink_level = rng.uniform(0.22, 0.38)          # spread: bold, blobby, counters closing
    elif heavy_or_thin < 0.3:
        ink_level = rng.uniform(0.58, 0.7)           # eroded: thin, broken strokes
    else:
        ink_level = rng.uniform(0.38, 0.58)
    scan = ScanParams(
        space_width=rng.uniform(1.15, 2.6) if rng.random() < 0.35 else rng.uniform(0.85, 1.1),
        letter_spacing=rng.uniform(0.04, 0.22) if rng.random() < 0.05 else 0.0,
        shear=rng.uniform(-0.004, 0.004) if rng.random() < 0.3 else 0.0,
        wave=rng.uniform(0.0, 0.015) if rng.random() < 0.2 else 0.0,
        ink_sigma=rng.uniform(0.01, 0.03),
        ink_level=ink_level,
        cut_top=rng.uniform(0.0, 0.4) if rng.random() < 0.2 else -rng.uniform(0.02, 0.24),
        cut_bottom=rng.uniform(0.0, 0.4) if rng.random() < 0.15 else -rng.uniform(0.02, 0.24),
        fragment_top=rng.uniform(0.03, 0.12) if rng.random() < 0.3 else 0.0,
        fragment_bottom=rng.uniform(0.03, 0.12) if rng.random() < 0.3 else 0.0,
        scan_height=rng.randint(30, 56),
        optics=rng.uniform(0.2, 0.8),
        texture=rng.uniform(0.0, 0.08),
        noise=rng.uniform(0.0, 0.08),
        threshold=rng.uniform(0.38, 0.58) if rng.random() < 0.85 else 0.0,
        speckle=rng.uniform(0.0, 0.002) if rng.random() < 0.3 else 0.0)
    return Effects(
        text_color="#000000", background="white", skew=0.0, blur=scan.optics, distortion="none",
        distortion_orientation=0, margins=(0, 0, 0, 0), character_spacing=0, stroke_width=0,
        binarize=scan.threshold, speckle=scan.speckle, color=False, scan=scan)


def _flat(rng: random.Random, lo: int, hi: int, tint: int) -> str:
    """A flat colour of luminance about lo..hi, each channel moved by up to `tint`."""
    v = rng.randint(lo, hi)
    return "#" + "".join(f"{max(0, min(255, v + rng.randint(-tint, tint))):02x}" for _ in range(3))


def _receipt(rng: random.Random) -> Effects:
    """Till rolls as they reach a scanner or a phone: thermal or dot-matrix print, worn."""
    ink = rng.random()
    if ink < 0.12:
        color = rng.choice(("#2a3a9a", "#3b2f8f", "#5a3fa0", "#1f4fa8"))     # blue and violet ribbons
    else:
        color = _gray(rng, 0, 95)
    invert = rng.random() < 0.05
    finish = Finish(
        fade=rng.uniform(0.1, 0.55) if rng.random() < 0.45 else 0.0,
        dots=rng.choice((2, 3)) if rng.random() < 0.2 else 0,
        scale=rng.uniform(0.4, 0.9) if rng.random() < 0.5 else 1.0,
        jpeg=rng.randint(25, 80) if rng.random() < 0.5 else 0,
        invert=invert)
    return Effects(
        text_color=color,
        background=_pick(rng, {"paper": 0.55, "noise": 0.35, "white": 0.1}),
        skew=rng.uniform(-1.5, 1.5) if rng.random() < 0.5 else 0.0,
        blur=rng.uniform(0.0, 1.0),
        distortion="none", distortion_orientation=0,
        margins=(rng.randint(1, 6), rng.randint(1, 10), rng.randint(1, 6), rng.randint(1, 10)),
        character_spacing=rng.choice((0, 0, 1, 2)),
        stroke_width=1 if rng.random() < 0.1 else 0,
        binarize=0.0, speckle=rng.uniform(0.0, 0.004) if rng.random() < 0.2 else 0.0,
        color=False, finish=finish)


def _screen(rng: random.Random) -> Effects:
    """UI text: flat colours of either polarity, small anti-aliased glyphs enlarged."""
    dark_ground = rng.random() < 0.45
    ground = _flat(rng, 10, 70, 30) if dark_ground else _flat(rng, 200, 255, 25)
    finish = Finish(
        scale=rng.uniform(0.35, 0.75) if rng.random() < 0.7 else 1.0,
        fringe=rng.random() < 0.3,
        jpeg=rng.randint(40, 90) if rng.random() < 0.3 else 0)
    return Effects(
        text_color=AUTO_COLOR, background=ground, skew=0.0,
        blur=rng.uniform(0.0, 0.4) if rng.random() < 0.3 else 0.0,
        distortion="none", distortion_orientation=0,
        margins=(rng.randint(1, 6), rng.randint(1, 10), rng.randint(1, 6), rng.randint(1, 10)),
        character_spacing=0, stroke_width=0, binarize=0.0, speckle=0.0, color=False, finish=finish)


def _wild(rng: random.Random) -> Effects:
    """Words on signs, covers, cards and labels. Ranges chosen by looking at cropped words:
    most crops are plain and near-level, a minority carry each effect."""
    neighbours = rng.random() < 0.2
    wild = WildParams(
        stretch=rng.uniform(0.7, 1.35) if rng.random() < 0.4 else 1.0,
        outline=rng.uniform(0.03, 0.08) if rng.random() < 0.15 else 0.0,
        shadow=rng.uniform(0.04, 0.12) if rng.random() < 0.15 else 0.0,
        shadow_dir=rng.uniform(-1.0, 1.0),
        extrude=rng.random() < 0.4,
        fill=_pick(rng, {"solid": 0.8, "gradient": 0.12, "texture": 0.08}),
        contrast=rng.uniform(45, 150),
        background=_pick(rng, {"photo": 0.4, "texture": 0.15, "gradient": 0.2, "flat": 0.25}),
        rotate=rng.uniform(-6.0, 6.0) if rng.random() < 0.5 else 0.0,
        curve=rng.uniform(-0.35, 0.35) if rng.random() < 0.12 else 0.0,
        perspective=rng.uniform(0.03, 0.2) if rng.random() < 0.25 else 0.0,
        perspective_side=rng.random() < 0.5,
        margin_top=rng.uniform(0.0, 0.35), margin_bottom=rng.uniform(0.0, 0.35),
        margin_left=rng.uniform(0.0, 0.3) if neighbours else rng.uniform(0.0, 0.6),
        margin_right=rng.uniform(0.0, 0.3) if neighbours else rng.uniform(0.0, 0.6),
        neighbours=neighbours,
        low_res=rng.uniform(0.3, 0.9) if rng.random() < 0.45 else 1.0,
        blur=rng.uniform(0.0, 1.2) if rng.random() < 0.4 else 0.0,
        jpeg=rng.randint(20, 85) if rng.random() < 0.4 else 0)
    return _wild_effects(wild)


def _wild_effects(wild: WildParams) -> Effects:
    """The effects of a word of the wild style: its own drawing, the label columns from it."""
    return Effects(
        text_color=AUTO_COLOR, background=wild.background, skew=wild.rotate, blur=wild.blur, distortion="none",
        distortion_orientation=0, margins=(0, 0, 0, 0), character_spacing=0, stroke_width=0,
        binarize=0.0, speckle=0.0, color=True, wild=wild)


PLAIN_MARGIN = 0.08     # the margin of a word whose crop is not varied (--wild-parts without crops)


def limit_wild(wild: WildParams, parts: frozenset[str]) -> WildParams:
    """The word as drawn, less the parts of the wild style that are left out (config.WILD_PARTS).
    The draw itself is unchanged, so a word keeps its text, font and the parts it keeps."""
    changes: dict[str, object] = {}
    if "grounds" not in parts:
        changes |= {"background": "flat"}
    if "effects" not in parts:
        changes |= {"outline": 0.0, "shadow": 0.0, "fill": "solid"}
    if "geometry" not in parts:
        changes |= {"stretch": 1.0, "rotate": 0.0, "curve": 0.0, "perspective": 0.0}
    if "degrade" not in parts:
        changes |= {"low_res": 1.0, "blur": 0.0, "jpeg": 0}
    if "crops" not in parts:
        changes |= {"neighbours": False, "margin_top": PLAIN_MARGIN, "margin_bottom": PLAIN_MARGIN,
                    "margin_left": PLAIN_MARGIN, "margin_right": PLAIN_MARGIN}
    return dataclasses.replace(wild, **changes) if changes else wild


_PRESETS = {"plain": _plain, "print": _print, "binarized": _binarized, "scene": _scene, "scanned": _scanned,
            "receipt": _receipt, "screen": _screen, "wild": _wild}


def draw_effects(style: str, overrides: Overrides, rng: random.Random) -> tuple[str, Effects]:
    """The style and effects of one line: one of the styles given (comma-separated), the
    preset's draw, then the command-line overrides."""
    pairs = parse_weighted(style, STYLES, "style", OLD_STYLE_NAMES)
    styles = [name for name, _ in pairs]
    if len(styles) == 1:
        style = styles[0]
    elif all(w == 1.0 for _, w in pairs):
        style = rng.choice(styles)            # as before shares existed: runs made then stay the same
    else:
        style = rng.choices(styles, weights=[w for _, w in pairs])[0]
    fx = _PRESETS[style](rng)
    if fx.wild is not None and overrides.wild_parts != frozenset(WILD_PARTS):
        fx = _wild_effects(limit_wild(fx.wild, overrides.wild_parts))
    if fx.wild is not None and fx.wild.neighbours and overrides.wild_neighbours == "near":
        fx = _wild_effects(dataclasses.replace(fx.wild, near=True))
    if fx.scan is not None or fx.wild is not None:    # these draw their own geometry and ink
        return style, fx
    changes: dict[str, object] = {}
    if overrides.skew is not None:
        changes["skew"] = rng.uniform(-overrides.skew, overrides.skew) if overrides.skew else 0.0
    if overrides.blur is not None:
        changes["blur"] = rng.uniform(0.0, overrides.blur) if overrides.blur else 0.0
    if overrides.background is not None:
        changes["background"] = overrides.background
    if overrides.distortion is not None:
        changes["distortion"] = overrides.distortion
    if overrides.text_color is not None:
        changes["text_color"] = overrides.text_color
    if overrides.word_spacing is not None:      # drawn last: without it, every other draw is as before
        changes["word_spacing"] = rng.uniform(*overrides.word_spacing)
    return style, (dataclasses.replace(fx, **changes) if changes else fx)


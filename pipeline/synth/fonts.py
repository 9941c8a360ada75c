"""Font discovery and glyph coverage: which characters a font can really draw.

trdg renders whatever it is given: a character missing from the font comes out as an empty
box or nothing at all while the label still says it is there. ocrpipe therefore checks
every line against the font's character map (with fontTools) and renders a line only with
a font that draws all of its characters. A glyph that exists but is empty (no outline) does
not count, except for spaces. Fonts that draw lowercase letters as capitals (all-caps and
small-caps display faces) are detected by comparing the letter shapes.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from PIL import ImageFont

from pipeline.errors import OcrpipeError

logging.getLogger("fontTools").setLevel(logging.ERROR)   # it warns about odd 'created' dates

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
_X_HEIGHT, _ASCENDERS, _DESCENDERS = "acemnorsuvwxz", "bdfhklt", "gjpqy"


@dataclass(frozen=True)
class Font:
    path: Path
    family: str          # typographic family ("DejaVu Sans"), for --holdout-fonts and reports
    style: str           # subfamily ("Bold Italic")
    caps_only: bool      # lowercase letters are drawn as capitals
    drawable: frozenset[str]  # characters of the asked-for universe this font really draws

    @property
    def name(self) -> str:
        return self.path.name

    def can_draw(self, text: str) -> bool:
        return set(text) <= self.drawable

    def missing(self, text: str) -> set[str]:
        return set(text) - self.drawable


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Font files named directly or found (recursively) in folders, sorted, no duplicates."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
            if not inside:
                raise OcrpipeError(f"--fonts {path}: no .ttf/.otf/.ttc files in this folder; "
                                   "point --fonts at font files or a folder that has some")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise OcrpipeError(f"--fonts {path}: no such file or folder; check the path, or name a bundled "
                               "set (en, ko, zh, zh-Hant, display) or an installed one (en-more, ko-more, zh-more, "
                               "zh-Hant-more: `ocrpipe fonts install LANG`)")
    return sorted(dict.fromkeys(p.resolve() for p in found))


def _names(tt: object) -> tuple[str, str]:
    name_table = tt["name"]  # type: ignore[index]
    family = name_table.getDebugName(16) or name_table.getDebugName(1) or "unknown"
    style = name_table.getDebugName(2) or "Regular"
    return family, style


def _drawable(tt: object, path: Path, universe: Iterable[str]) -> frozenset[str]:
    """The characters of `universe` that the font maps (cmap) and draws with some ink;
    spaces only need to be mapped. Rasterized by FreeType through Pillow, in C."""
    cmap = tt.getBestCmap() or {}  # type: ignore[attr-defined]
    font = ImageFont.truetype(str(path), 24, layout_engine=ImageFont.Layout.BASIC)
    return frozenset(ch for ch in universe if len(ch) == 1 and ord(ch) in cmap
                     and (unicodedata.category(ch) == "Zs" or font.getmask(ch).getbbox() is not None))


def is_caps_only(path: Path, drawable: frozenset[str]) -> bool:
    """True when the font draws lowercase letters as capitals (all-caps or small-caps faces).

    In ordinary fonts the ascenders (b d h k l) stand well above the x-height and the
    descenders (g j p q y) hang below the baseline; drawn as capitals, neither does.
    """
    groups = [[c for c in letters if c in drawable] for letters in (_X_HEIGHT, _ASCENDERS, _DESCENDERS)]
    if min(len(g) for g in groups) < 3:
        return False
    font = ImageFont.truetype(str(path), 64, layout_engine=ImageFont.Layout.BASIC)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    x_height = mean([-font.getbbox(c, anchor="ls")[1] for c in groups[0]])
    ascender = mean([-font.getbbox(c, anchor="ls")[1] for c in groups[1]])
    descender = mean([font.getbbox(c, anchor="ls")[3] for c in groups[2]])
    if x_height <= 0:
        return False
    return ascender / x_height < 1.15 and descender / x_height < 0.2


def load_font(path: Path, universe: Iterable[str]) -> Font:
    """Read one font file, or raise a one-line error naming it."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        tt = TTFont(str(path), fontNumber=0, lazy=True)
        family, style = _names(tt)
        drawable = _drawable(tt, path, universe)
    except (TTLibError, OSError, KeyError, AssertionError, ValueError) as e:
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise OcrpipeError(f"--fonts {path}: not a usable font file ({reason}); "
                           "remove it or replace it with a .ttf/.otf font") from None
    return Font(path=path, family=family, style=style,
                caps_only=is_caps_only(path, drawable), drawable=drawable)


def load_fonts(paths: Sequence[str | Path], universe: Iterable[str]) -> list[Font]:
    """All fonts under `paths`, each with its coverage of `universe` (the corpus characters)."""
    universe = frozenset(universe)
    return [load_font(p, universe) for p in discover(paths)]

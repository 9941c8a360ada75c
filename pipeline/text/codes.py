"""Code lines by language: `line` and `alphabet` pick the forms of each language's
generator (`codes_en` for the Latin forms, `codes_cjk` for Korean and Chinese)."""

from __future__ import annotations

import random

from pipeline.config import LANGS
from pipeline.text import codes_cjk, codes_en

__all__ = ["LANGS", "alphabet", "line"]


def alphabet(langs: tuple[str, ...] = ("en",)) -> frozenset[str]:
    """Every character the code lines of these languages can contain."""
    return codes_en.ALPHABET.union(*(codes_cjk.alphabet(lang) for lang in langs if lang != "en"))


def line(rng: random.Random, words: list[str], n_words: int, lang: str = "en") -> str:
    """A document-like line of `n_words` pieces: labels, values and a few ordinary words, in
    the forms of `lang`."""
    if lang == "en":
        return codes_en.line(rng, words, n_words)
    return codes_cjk.line(rng, words, n_words, lang)

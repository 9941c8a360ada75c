"""Which script a character belongs to.

Used for per-script breakdowns in eval reports (Hangul / Han / Latin / digits / other) and to
tell text written without spaces (Chinese) from text with them.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

# Every class `script_of` returns, with the name reports show for it.
SCRIPTS = {"hangul": "Hangul", "han": "Han (Hanzi, Hanja)", "kana": "kana", "latin": "Latin letters",
           "digit": "digits", "punctuation": "punctuation and symbols", "space": "spaces", "other": "other"}


def script_of(ch: str) -> str:
    """The script class of one character."""
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F or 0xA960 <= o <= 0xA97F \
            or 0xD7B0 <= o <= 0xD7FF:
        return "hangul"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3134F:
        return "han"
    if 0x3040 <= o <= 0x30FF:
        return "kana"
    if ch.isspace():
        return "space"
    if ch.isdigit():
        return "digit"
    category = unicodedata.category(ch)
    if category.startswith("L") and ("LATIN" in unicodedata.name(ch, "") or ch.isascii()):
        return "latin"
    if category[0] in "PS":
        return "punctuation"
    return "other"


def script_counts(text: str) -> Counter[str]:
    return Counter(script_of(ch) for ch in text)


def is_unspaced(text: str) -> bool:
    """True for text written without spaces between words (Chinese, Japanese): most of its
    letters are Han or kana (spaces there only set off Latin words and numbers)."""
    return script_share(text, "han", "kana") > 0.5


def script_share(text: str, *scripts: str) -> float:
    """Share of the given scripts among the letters (Hangul, Han, kana, Latin) of `text`."""
    counts = script_counts(text)
    letters = counts["han"] + counts["kana"] + counts["hangul"] + counts["latin"]
    return sum(counts[s] for s in scripts) / letters if letters else 0.0

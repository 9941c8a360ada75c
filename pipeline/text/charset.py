"""The alphabet: index 0 is the CTC blank, every other index one character.

Labels are NFC-normalized before they are encoded; the space is a class like any other
(several public trainers drop multi-word labels or strip spaces, and then cannot read a line).

A charset of Korean letters (`Charset.build(..., jamo=True)`, `pack --hangul jamo`) holds the
conjoining jamo (U+1100-U+11FF: 19 initial consonants, 21 vowels, 27 final consonants) in
place of Hangul syllables: a syllable is encoded as its two or three letters and decoded
text is composed again (NFC). A charset is such when it holds conjoining jamo, so checkpoints
and exports keep storing a plain list of characters.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Sequence

from pipeline.errors import OcrpipeError
from pipeline.utils.files import read_text_file

BLANK = 0
FORMAT = "ocrpipe.charset/1"
SYLLABLES = (0xAC00, 0xD7A3)        # the precomposed Hangul syllables
JAMO = ("\u1100", "\u11ff")        # the conjoining jamo a syllable decomposes into


def holds_jamo(chars: Iterable[str]) -> bool:
    """Whether an alphabet holds conjoining jamo: a charset that reads Hangul letter by letter."""
    return any(JAMO[0] <= c <= JAMO[1] for c in chars)


def decompose_hangul(text: str) -> str:
    """Every precomposed Hangul syllable of `text` as its conjoining jamo; the rest unchanged."""
    return "".join(unicodedata.normalize("NFD", c) if SYLLABLES[0] <= ord(c) <= SYLLABLES[1] else c
                   for c in text)


class Charset:
    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("a charset is a sequence of distinct single characters")
        self.chars = list(chars)
        self.index = {c: i + 1 for i, c in enumerate(self.chars)}   # character -> class
        self.jamo = holds_jamo(self.chars)                             # Hangul read letter by letter

    @classmethod
    def build(cls, texts: Iterable[str], jamo: bool = False) -> Charset:
        """Every character of `texts` (NFC), in code-point order; with `jamo`, Hangul
        syllables stand for their letters (conjoining jamo)."""
        seen: set[str] = set()
        for text in texts:
            text = unicodedata.normalize("NFC", text)
            seen.update(decompose_hangul(text) if jamo else text)
        return cls(sorted(seen))

    def units(self, text: str) -> str:
        """What the classes of `text` stand for: its NFC characters, or with a jamo charset
        its Hangul syllables as their letters. CTC's labels are sequences of these."""
        text = unicodedata.normalize("NFC", text)
        return decompose_hangul(text) if self.jamo else text

    def __len__(self) -> int:
        """Number of classes, the blank included."""
        return len(self.chars) + 1

    def __contains__(self, ch: str) -> bool:
        """Whether a character can be encoded (with a jamo charset, a syllable whose letters are)."""
        return ch in self.index or (self.jamo and all(u in self.index for u in decompose_hangul(ch)))

    def missing(self, text: str) -> set[str]:
        """The characters of `text` that cannot be encoded."""
        return {c for c in text if c not in self}

    def encode(self, text: str) -> list[int]:
        """Class indices of an NFC-normalized text; raises KeyError on unknown characters."""
        return [self.index[c] for c in self.units(text)]

    def spell(self, indices: Iterable[int]) -> str:
        """The units of class indices, as they are (blanks skipped): what a language model over
        the classes reads."""
        return "".join(self.chars[i - 1] for i in indices if i != BLANK)

    def decode(self, indices: Iterable[int]) -> str:
        """Text of class indices (blanks skipped; no CTC collapsing here): with a jamo charset,
        letters composed into syllables (NFC)."""
        text = self.spell(indices)
        return unicodedata.normalize("NFC", text) if self.jamo else text

    def sha256(self) -> str:
        return hashlib.sha256("\n".join(self.chars).encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        return {"format": FORMAT, "blank": BLANK, "chars": self.chars}

    @classmethod
    def from_dict(cls, d: dict, where: str = "charset") -> Charset:
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("blank") != BLANK:
            raise OcrpipeError(f"{where} is not an ocrpipe charset (format {FORMAT}); "
                               "write one with `ocrpipe pack` or give a plain text file of characters")
        return cls(d["chars"])

    @classmethod
    def load(cls, path: Path, option: str = "--charset", jamo: bool = False) -> Charset:
        """An ocrpipe charset.json, or a UTF-8 text file whose characters (newlines aside) are the
        charset (with `jamo`, its Hangul syllables as their letters)."""
        raw = read_text_file(path, option)
        if path.suffix == ".json":
            try:
                return cls.from_dict(json.loads(raw), where=f"{option} {path}")
            except json.JSONDecodeError as e:
                raise OcrpipeError(f"{option} {path}: not valid JSON ({e})") from None
        chars = Charset.build([raw.replace("\n", "").replace("\r", "")], jamo=jamo)
        if not chars.chars:
            raise OcrpipeError(f"{option} {path}: has no characters")
        return chars


FRAME_STRIDE = 4    # pixels of line width per CTC output frame: the CNN halves the width twice


def ctc_frames(width: Any) -> Any:
    """Output frames the models give a line `width` pixels wide (an int or an array of them):
    pack checks labels against this, and `pipeline.models.crnn` computes its lengths with it."""
    return width // FRAME_STRIDE


def ctc_min_frames(label: str) -> int:
    """Frames CTC needs for `label` (a string of class units: `Charset.units`): one per unit,
    plus a blank between repeats."""
    return len(label) + sum(1 for a, b in zip(label, label[1:]) if a == b)

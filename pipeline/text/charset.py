"""The alphabet: index 0 is the CTC blank, every other index one character.

Labels are NFC-normalized before they are encoded; the space is a class like any other
(several public trainers drop multi-word labels or strip spaces, and then cannot read a line).
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


class Charset:
    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("a charset is a sequence of distinct single characters")
        self.chars = list(chars)
        self.index = {c: i + 1 for i, c in enumerate(self.chars)}   # character -> class

    @classmethod
    def build(cls, texts: Iterable[str]) -> Charset:
        """Every character of `texts` (NFC), in code-point order."""
        seen: set[str] = set()
        for text in texts:
            seen.update(unicodedata.normalize("NFC", text))
        return cls(sorted(seen))

    def __len__(self) -> int:
        """Number of classes, the blank included."""
        return len(self.chars) + 1

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    def missing(self, text: str) -> set[str]:
        return {c for c in text if c not in self.index}

    def encode(self, text: str) -> list[int]:
        """Class indices of an NFC-normalized text; raises KeyError on unknown characters."""
        return [self.index[c] for c in unicodedata.normalize("NFC", text)]

    def decode(self, indices: Iterable[int]) -> str:
        """Characters of class indices (blanks skipped; no CTC collapsing here)."""
        return "".join(self.chars[i - 1] for i in indices if i != BLANK)

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
    def load(cls, path: Path, option: str = "--charset") -> Charset:
        """An ocrpipe charset.json, or a UTF-8 text file whose characters (newlines aside) are the charset."""
        raw = read_text_file(path, option)
        if path.suffix == ".json":
            try:
                return cls.from_dict(json.loads(raw), where=f"{option} {path}")
            except json.JSONDecodeError as e:
                raise OcrpipeError(f"{option} {path}: not valid JSON ({e})") from None
        chars = Charset.build([raw.replace("\n", "").replace("\r", "")])
        if not chars.chars:
            raise OcrpipeError(f"{option} {path}: has no characters")
        return chars


FRAME_STRIDE = 4    # pixels of line width per CTC output frame: the CNN halves the width twice


def ctc_frames(width: Any) -> Any:
    """Output frames the models give a line `width` pixels wide (an int or an array of them):
    pack checks labels against this, and `pipeline.models.crnn` computes its lengths with it."""
    return width // FRAME_STRIDE


def ctc_min_frames(label: str) -> int:
    """Frames CTC needs for `label`: one per character, plus a blank between repeats."""
    return len(label) + sum(1 for a, b in zip(label, label[1:]) if a == b)

"""The one rule for what a label is, for generated and imported lines alike: what the image can
show. NFC; control and format characters (Cc, Cf: zero-width spaces, joiners, soft hyphens,
direction marks) dropped, since no image shows them and a class for them could only be
guessed; every run of whitespace (tabs, newlines) a single space, none at the ends."""

from __future__ import annotations

import unicodedata


def clean_label(text: str) -> str:
    if not (text.isascii() and text.isprintable()):
        text = unicodedata.normalize("NFC", text)
        text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))
    return " ".join(text.split())

"""Build corpora/carryover/: Korean, simplified and Traditional Chinese text from a source the
training corpora do not contain, to measure how a model carries over to other text.

The source: the translated messages of the programs of a Debian 12 system (the .mo files
under /usr/share/locale/{ko,zh_CN,zh_TW}/LC_MESSAGES of the packages listed in
corpora/README.md): short interface sentences and labels, the text of screens and dialogs,
unlike the constitution, manuals and word lists the models are trained on. Each message is
split at line breaks; a piece is kept when it has no format codes or markup, is 4 to 40
characters long, and at least half of its characters are of the language's script. 1,500
distinct pieces per language are kept (a fixed random draw, seed 0), NFC, one per line.

Rerun (on Debian 12 with the packages installed):
    python corpora/build_carryover.py
"""

from __future__ import annotations

import gettext
import random
import re
import unicodedata
from pathlib import Path

LOCALES = {"ko": "ko", "zh": "zh_CN", "zh-Hant": "zh_TW"}
KEEP = 1500
UNWANTED = re.compile(r"[%$\\{}<>_&|`\t@#*=]|\.\.\.|https?:")


def _script_share(text: str, lang: str) -> float:
    if lang == "ko":
        own = sum("\uac00" <= ch <= "\ud7a3" for ch in text)
    else:
        own = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    return own / max(1, len(text.replace(" ", "")))


def pieces(mo: Path, lang: str) -> set[str]:
    with mo.open("rb") as handle:
        try:
            catalog = gettext.GNUTranslations(handle)
        except (OSError, UnicodeDecodeError, ValueError):
            return set()
    out = set()
    for key, value in catalog._catalog.items():          # the translated messages
        if not key or not isinstance(value, str):
            continue
        for piece in value.splitlines():
            piece = unicodedata.normalize("NFC", " ".join(piece.split()))
            if 4 <= len(piece) <= 40 and not UNWANTED.search(piece) and _script_share(piece, lang) >= 0.5:
                out.add(piece)
    return out


def main() -> None:
    out_dir = Path(__file__).resolve().parent / "carryover"
    out_dir.mkdir(exist_ok=True)
    for lang, locale in LOCALES.items():
        found: set[str] = set()
        for mo in sorted(Path("/usr/share/locale", locale, "LC_MESSAGES").glob("*.mo")):
            found |= pieces(mo, lang)
        chosen = random.Random(0).sample(sorted(found), min(KEEP, len(found)))
        (out_dir / f"{lang}-messages.txt").write_text("\n".join(sorted(chosen)) + "\n", encoding="utf-8")
        print(f"{lang}: {len(found)} pieces, kept {len(chosen)}")


if __name__ == "__main__":
    main()

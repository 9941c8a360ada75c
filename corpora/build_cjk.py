"""Rebuild the Korean (corpora/ko), Chinese (corpora/zh) and Traditional Chinese
(corpora/zh-Hant) corpora from their packages.

Maintainers only: users get the built files with the repository. Needs the built fonts of
fonts/ko, fonts/zh and fonts/zh-Hant (a paragraph is kept only when every font of its language
draws all of it), `msgpack` (`pip install msgpack`) and the packages unpacked under one folder:

    apt-get download debian-faq-ko debian-faq-zh-cn debian-reference-zh-cn debian-reference-zh-tw
    for p in *.deb; do dpkg-deb -x $p DIR; done
    pip download --no-deps konlpy==0.6.0 wordfreq==3.1.1 opencc-python-reimplemented==0.1.7
    # then unzip the three wheels into DIR
    python corpora/build_cjk.py DIR

wordfreq keeps Chinese in simplified characters; the Traditional word list is its Chinese list
converted by OpenCC's `s2twp` (simplified to Taiwan's Traditional characters and phrasing).

Also writes the charset files (`ko/ksx1001.chars`: the 2,350 Hangul syllables of KS X 1001;
`zh/gb2312-level1.chars`: the 3,755 characters of GB2312 level 1; `zh-Hant/big5-level1.chars`:
the 5,401 frequently used characters of Big5), for `ocrpipe pack --add-chars`.
"""

from __future__ import annotations

import gzip
import html.parser
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
FONTS = HERE.parent / "fonts"
sys.path.insert(0, str(HERE.parent))
from pipeline.text.codes_cjk import BIG5_LEVEL1, GB2312_LEVEL1, KSX1001_HANGUL  # noqa: E402
from pipeline.text.labels import clean_label as normalize  # noqa: E402
from pipeline.text.scripts import script_of  # noqa: E402


class Paragraphs(html.parser.HTMLParser):
    """The text of every <p>; code blocks and tables left out (inline code names kept)."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self._depth = 0
        self._skip = 0
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("pre", "table", "script", "style", "screen"):
            self._skip += 1
        elif tag == "p":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("pre", "table", "script", "style", "screen"):
            self._skip = max(0, self._skip - 1)
        elif tag == "p" and self._depth:
            self._depth -= 1
            self.out.append("".join(self._buf))
            self._buf = []

    def handle_data(self, data: str) -> None:
        if self._depth and not self._skip:
            self._buf.append(data)


def paragraphs_of(files: list[Path]) -> list[str]:
    out = []
    for path in files:
        parser = Paragraphs()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        out.extend(parser.out)
    return out


def drawable_by_all(folder: Path) -> set[str]:
    """Characters every font of the folder maps (the fonts are subsets: mapped means drawn)."""
    from fontTools.ttLib import TTFont

    sets = [set(map(chr, TTFont(p, lazy=True).getBestCmap())) for p in sorted(folder.iterdir())
            if p.suffix in (".ttf", ".otf")]
    return set.intersection(*sets)


def keep(paragraphs: list[str], allowed: set[str], script: str, min_share: float = 0.5) -> list[str]:
    """Normalized paragraphs of at least 8 characters, mostly in `script`, all drawable; unique."""
    out = []
    for text in paragraphs:
        text = normalize(text)
        letters = [script_of(ch) for ch in text if ch.isalpha()]
        if (len(text) >= 8 and set(text) <= allowed and letters
                and letters.count(script) / len(letters) >= min_share):
            out.append(text)
    return list(dict.fromkeys(out))


def wordfreq_words(root: Path, name: str, allowed: set[str], script: str, count: int,
                   convert: object = None) -> list[str]:
    """The `count` most frequent words of a wordfreq list written wholly in `script` (after
    `convert`, when given: a function of one word)."""
    import msgpack

    data = msgpack.unpackb(gzip.decompress((root / "wordfreq" / "data" / name).read_bytes()), raw=False)
    words: list[str] = []
    for bucket in data[1:]:            # data[0] is the format header; buckets go from frequent to rare
        for word in bucket:
            word = unicodedata.normalize("NFC", convert(word) if convert else word)  # type: ignore[operator]
            if (set(word) <= allowed and all(script_of(ch) == script for ch in word)
                    and len(word) >= (2 if script == "hangul" else 1)):    # lone Korean particles are no words
                words.append(word)
        if len(words) >= count:
            break
    return list(dict.fromkeys(words))[:count]


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{path.relative_to(HERE)}: {len(lines)} lines, {sum(map(len, lines))} characters")


def main(root: Path) -> None:
    ko, zh = drawable_by_all(FONTS / "ko"), drawable_by_all(FONTS / "zh")
    (HERE / "ko").mkdir(exist_ok=True)
    (HERE / "zh").mkdir(exist_ok=True)

    law = (root / "konlpy" / "data" / "corpus" / "kolaw" / "constitution.txt").read_text(encoding="utf-8")
    write(HERE / "ko" / "constitution.txt", keep(law.splitlines(), ko, "hangul"))
    faq_ko = sorted((root / "usr/share/doc/debian/FAQ/ko").glob("*.html"))
    write(HERE / "ko" / "debian-faq.txt", keep(paragraphs_of(faq_ko), ko, "hangul"))
    write(HERE / "ko" / "words.txt", wordfreq_words(root, "small_ko.msgpack.gz", ko, "hangul", 20000))

    faq_zh = sorted((root / "usr/share/doc/debian/FAQ/zh-cn").glob("*.html"))
    write(HERE / "zh" / "debian-faq.txt", keep(paragraphs_of(faq_zh), zh, "han"))
    reference = sorted((root / "usr/share/debian-reference").glob("*.zh-cn.html"))
    write(HERE / "zh" / "debian-reference.txt", keep(paragraphs_of(reference), zh, "han"))
    write(HERE / "zh" / "words.txt", wordfreq_words(root, "large_zh.msgpack.gz", zh, "han", 30000))

    write(HERE / "ko" / "ksx1001.chars", [KSX1001_HANGUL])
    write(HERE / "zh" / "gb2312-level1.chars", [GB2312_LEVEL1])
    traditional(root)


def traditional(root: Path) -> None:
    """corpora/zh-Hant: the Debian Reference in Taiwan's Traditional Chinese and a word list."""
    sys.path.insert(0, str(root))
    from opencc import OpenCC

    hant = drawable_by_all(FONTS / "zh-Hant")
    (HERE / "zh-Hant").mkdir(exist_ok=True)
    reference = sorted((root / "usr/share/debian-reference").glob("*.zh-tw.html"))
    write(HERE / "zh-Hant" / "debian-reference.txt", keep(paragraphs_of(reference), hant, "han"))
    write(HERE / "zh-Hant" / "words.txt", wordfreq_words(root, "large_zh.msgpack.gz", hant, "han", 30000,
                                                         OpenCC("s2twp").convert))
    write(HERE / "zh-Hant" / "big5-level1.chars", [BIG5_LEVEL1])


if __name__ == "__main__":
    if sys.argv[2:] == ["--zh-Hant"]:      # only the Traditional Chinese files
        traditional(Path(sys.argv[1]))
    else:
        main(Path(sys.argv[1]))

"""Rebuild the bundled corpora from the Debian packages they come from.

This is how corpora/*.txt were made; it is kept so the provenance can be checked and
repeated. It is not needed to use ocrpipe. On a Debian 12 machine:

    mkdir /tmp/src && cd /tmp/src
    apt-get download wamerican python3.11-doc r-cran-janeaustenr
    pip download --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
        scipy==1.17.1 numpy==2.4.6 scikit-learn==1.9.1
    for f in *.deb; do dpkg -x "$f" root; done
    R_LIBS=root/usr/lib/R/site-library Rscript -e 'library(janeaustenr);
        for (n in c("prideprejudice", "persuasion", "northangerabbey"))
            writeLines(get(n), paste0(n, ".txt"))'
    python corpora/build_corpora.py /tmp/src corpora/

Every output line is NFC-normalized, has no tabs and no control characters.
"""

from __future__ import annotations

import ast
import html.parser
import inspect
import re
import sys
import unicodedata
import zipfile
from pathlib import Path

AUSTEN = ("prideprejudice", "persuasion", "northangerabbey")
DOC_DIRS = ("tutorial", "howto", "faq")
DOC_PAGES = ("library/datetime.html", "library/decimal.html", "library/csv.html",
             "library/time.html", "library/string.html", "library/os.html")


# Printable ASCII, Latin-1, and the typographic marks of printed English: a line with any
# other character (a chess piece, a long s) is left out rather than taught from a handful.
ALLOWED = (set(map(chr, range(0x20, 0x7F))) | set(map(chr, range(0xA1, 0x100)))
           | set("\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u20ac"))


def allowed(text: str) -> bool:
    return set(text) <= ALLOWED


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return re.sub(r" {2,}", " ", text).strip()


def words(dict_file: Path) -> list[str]:
    """SCOWL words without the possessive forms ("dog's"), which only double the list."""
    out = []
    for line in dict_file.read_text(encoding="utf-8").splitlines():
        w = clean(line)
        if w and not w.endswith("'s") and allowed(w):
            out.append(w)
    return sorted(set(out))


def austen(book: Path) -> list[str]:
    """One paragraph per line; `_emphasis_` markers dropped (they are not printed)."""
    paragraphs, current = [], []
    for line in book.read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            text = clean(" ".join(current).replace("_", ""))
            if len(text.split()) >= 3 and allowed(text):
                paragraphs.append(text)
            current = []
    return paragraphs


class _Paragraphs(html.parser.HTMLParser):
    """Collects the text of <p> elements inside the page body, skipping code blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.buffer: list[str] = []
        self.paragraphs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "p":
            self.depth += 1
        elif tag in ("pre", "script", "style"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.depth:
            self.depth -= 1
            text = clean("".join(self.buffer))
            self.buffer = []
            if len(text.split()) >= 4 and allowed(text):
                self.paragraphs.append(text)
        elif tag in ("pre", "script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.buffer.append(data)


def python_docs(html_root: Path) -> list[str]:
    pages = [p for d in DOC_DIRS for p in sorted((html_root / d).glob("*.html"))]
    pages += [html_root / p for p in DOC_PAGES]
    out: list[str] = []
    for page in pages:
        parser = _Paragraphs()
        parser.feed(page.read_text(encoding="utf-8"))
        out.extend(parser.paragraphs)
    return list(dict.fromkeys(out))


# numpydoc sections worth reading as prose; the others are parameter lists and code.
PROSE_SECTIONS = ("", "notes", "references")
_ROLE = re.compile(r":[a-z:]+:`~?([^`<]*?)(?: <[^>]*>)?`")      # :func:`name` -> name
_LINK = re.compile(r"`([^`<]+?)(?: <[^>]*>)?`_+")                 # `text <url>`_ -> text
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`")                  # ``code``, `x` -> code, x
_CITATION = re.compile(r"\[[A-Za-z0-9]+\]_")                      # [1]_ -> [1]
_REFERENCE = re.compile(r"^\.\. \[([A-Za-z0-9]+)\]\s*")            # .. [1] Author -> [1] Author


def _docstrings(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return [d for d in (ast.get_docstring(n, clean=True) for n in nodes) if d]


def _sections(doc: str) -> dict[str, list[str]]:
    """A numpydoc docstring by section (the untitled opening under ""), as lines."""
    lines = doc.splitlines()
    out: dict[str, list[str]] = {"": []}
    current, i = "", 0
    while i < len(lines):
        if i + 1 < len(lines) and lines[i].strip() and set(lines[i + 1].strip()) == {"-"} \
                and len(lines[i + 1].strip()) >= 3:
            current, i = lines[i].strip().lower(), i + 2
            out.setdefault(current, [])
            continue
        out[current].append(lines[i])
        i += 1
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated paragraphs, references each their own, reST markup removed."""
    paragraphs, current = [], []
    for line in lines + [""]:
        if _REFERENCE.match(line.strip()) and current:
            paragraphs.append(current)
            current = []
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(current)
            current = []
    out = []
    for words in paragraphs:
        text = " ".join(words)
        text = _REFERENCE.sub(r"[\1] ", text)
        if text.startswith("..") or any(m in text for m in ("::", ">>>", "http", "\\", "|", "$", "*", "<", ">")):
            continue
        text = _ROLE.sub(r"\1", text)
        text = _LINK.sub(r"\1", text)
        text = _CITATION.sub(lambda m: m.group(0)[:-1], text)
        text = _LITERAL.sub(lambda m: m.group(1) or m.group(2) or "", text)
        text = clean(text)
        words = text.split()
        wordy = sum(1 for w in words if sum(c.isalpha() for c in w) >= 2) >= 0.6 * len(words)
        if ("`" not in text and "_" not in text and not re.search(r":[A-Za-z]+:", text) and len(words) >= 6
                and wordy and allowed(text)):
            out.append(text)
    return out


def science(wheels: list[Path]) -> list[str]:
    """The prose of numpydoc docstrings (summaries, Notes, References) of scientific Python
    packages: technical English with formulas in words, author names with initials,
    journal citations and numbered references."""
    out: list[str] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in sorted(n for n in archive.namelist() if n.endswith(".py") and "/tests/" not in n):
                source = archive.read(name).decode("utf-8", errors="replace")
                for doc in _docstrings(source):
                    sections = _sections(inspect.cleandoc(doc))
                    for section in PROSE_SECTIONS:
                        out.extend(_paragraphs(sections.get(section, [])))
    return list(dict.fromkeys(out))


def main(src: Path, dest: Path) -> None:
    root = src / "root"
    outputs = {
        "words.txt": words(root / "usr/share/dict/american-english"),
        "austen.txt": [p for name in AUSTEN for p in austen(src / f"{name}.txt")],
        "python-docs.txt": python_docs(root / "usr/share/doc/python3.11/html"),
        "science.txt": science(sorted(src.glob("*.whl"))),
    }
    for name, lines in outputs.items():
        (dest / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {len(lines)} lines")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

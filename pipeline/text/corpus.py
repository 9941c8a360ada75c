"""Text sources and line sampling.

A corpus file is one of two kinds, told apart by its content:

* a word list (every non-empty line is a single token): a line is `n` words drawn
  independently, sometimes capitalized or upper-cased as on signs and headings;
* prose (anything else; one paragraph per line is best): a line is a run of `n`
  consecutive words from one paragraph, punctuation and digits as written; sometimes
  typeset with curly quotes and dashes, or ending (beginning) with a word hyphenated
  across lines, as printed text is, and sometimes with a citation in it ("(Smith et al.,
  1988)", "[9,15]", "Fig. 3", author lists with initials), as scientific text is.

Besides the files, a share of the lines (`codes_fraction`) comes from `pipeline.text.codes`:
numbers, dates, prices, codes and identifiers. Every sample is drawn from the
`random.Random` passed in, so a line is a pure function of its seed.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from pipeline.config import TEXTS, parse_weighted
from pipeline.text import codes, codes_en, receipts, signs
from pipeline.errors import OcrpipeError
from pipeline.utils.files import read_text_file
from pipeline.text.labels import clean_label
from pipeline.text.scripts import is_unspaced, script_of, script_share

TYPOGRAPHIC = frozenset("\u2018\u2019\u201c\u201d\u2013\u2014")
HYPHENATE = 0.08     # share of prose lines that end (or begin) with a word broken across lines
CITE = 0.12          # share of prose lines with a citation or reference in place of a word
CHARS_PER_WORD = 2   # text written without spaces (Chinese): a "word" of --max-words is 2 characters
# --conventions mixed: shares of Chinese prose lines set in print's other conventions. Chinese
# print spaces Latin words off from Han, or does not (software and web text often not); it
# uses full-width punctuation, or ASCII in technical text.
UNSPACED_LATIN = 0.3
ASCII_PUNCTUATION = 0.2
# --conventions mixed, Latin prose: share of lines typeset with double quotes that set each as a
# pair of single quotes (‘‘ ’’), as typewritten pages and LaTeX's `` '' in many faces print them.
PAIRED_QUOTES = 0.5
PAIRED = str.maketrans({"\u201c": "\u2018\u2018", "\u201d": "\u2019\u2019"})
TO_ASCII = str.maketrans("：，；（）！？", ":,;()!?")
HAN_LATIN_SPACE = re.compile(r"(?<=[\u3400-\u9fff]) (?=[A-Za-z0-9])|(?<=[A-Za-z0-9]) (?=[\u3400-\u9fff])")


def other_conventions(text: str, rng: random.Random) -> str:
    """A Chinese line as print also sets it: at times without the spaces between Han and Latin
    words or digits, at times with ASCII punctuation for full-width (both drawn per line)."""
    if rng.random() < UNSPACED_LATIN:
        text = HAN_LATIN_SPACE.sub("", text)
    if rng.random() < ASCII_PUNCTUATION:
        text = text.translate(TO_ASCII)
    return text


def paired_quotes(text: str, rng: random.Random) -> str:
    """A Latin line as print also sets it: at times (drawn only where the line has a curly
    double quote) each double quote as two single ones."""
    if ("\u201c" in text or "\u201d" in text) and rng.random() < PAIRED_QUOTES:
        return text.translate(PAIRED)
    return text


def typeset(text: str) -> str:
    """Straight quotes to curly ones and ASCII dashes to typographic ones, as print has them."""
    out = []
    for i, ch in enumerate(text):
        before = text[i - 1] if i else " "
        opening = before.isspace() or before in "([{\u2014"
        if ch == '"':
            ch = "\u201c" if opening else "\u201d"
        elif ch == "'":
            ch = "\u2018" if opening and i + 1 < len(text) and not text[i + 1].isspace() else "\u2019"
        out.append(ch)
    return "".join(out).replace("--", "\u2014").replace(" - ", " \u2013 ")


@dataclass
class WordList:
    name: str
    words: list[str]
    joiner: str = " "           # "" for words of a language written without spaces (Chinese)

    def sample(self, rng: random.Random, n: int) -> str:
        text = self.joiner.join(rng.choice(self.words) for _ in range(n))
        case = rng.random()
        if case < 0.08:
            return text.upper()
        if case < 0.2:
            return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
        return text

    def entries(self) -> list[str]:
        return self.words

    def keep(self, entries: list[str]) -> None:
        self.words = entries


@dataclass
class Prose:
    name: str
    paragraphs: list[str]
    typeset_fraction: float = 0.3
    _ends: list[int] = field(default_factory=list, repr=False)   # cumulative word counts

    def __post_init__(self) -> None:
        self.keep(self.paragraphs)

    def sample(self, rng: random.Random, n: int) -> str:
        if self.unspaced:
            return self._sample_unspaced(rng, n)
        position = rng.randrange(self._ends[-1])      # every word equally likely to start a line
        p = bisect.bisect_right(self._ends, position)
        words = self.paragraphs[p].split(" ")
        start = min(position - (self._ends[p - 1] if p else 0), max(0, len(words) - n))
        words = words[start:start + n]
        # Printed columns break words across lines: "...a conduct-" / "duction heating ...".
        if len(words) > 1 and rng.random() < HYPHENATE and len(words[-1]) >= 6 and _latin_word(words[-1]):
            words[-1] = words[-1][:rng.randint(2, len(words[-1]) - 3)] + "-"
        elif len(words) > 1 and rng.random() < HYPHENATE and len(words[0]) >= 6 and _latin_word(words[0]):
            words[0] = words[0][rng.randint(2, len(words[0]) - 3):]
        text = " ".join(words)
        return typeset(text) if rng.random() < self.typeset_fraction else text

    def _sample_unspaced(self, rng: random.Random, n: int) -> str:
        """A run of CHARS_PER_WORD * n consecutive characters of one paragraph, every character
        equally likely to start it, stripped of spaces at its ends."""
        position = rng.randrange(self._ends[-1])
        p = bisect.bisect_right(self._ends, position)
        paragraph = self.paragraphs[p]
        size = CHARS_PER_WORD * n
        start = min(position - (self._ends[p - 1] if p else 0), max(0, len(paragraph) - size))
        stop = start + size
        while 0 < start < len(paragraph) and _inside_word(paragraph, start):     # never cut a Latin word
            start -= 1
        while stop < len(paragraph) and _inside_word(paragraph, stop):
            stop += 1
        return paragraph[start:stop].strip()

    def entries(self) -> list[str]:
        return self.paragraphs

    def keep(self, entries: list[str]) -> None:
        self.paragraphs = entries
        sample = "".join(entries[:200])
        self.unspaced = is_unspaced(sample)
        self.latin = not self.unspaced and script_share(sample, "latin") > 0.5   # citations, hyphens: Latin only
        total, self._ends = 0, []
        for paragraph in entries:
            total += len(paragraph) if self.unspaced else paragraph.count(" ") + 1
            self._ends.append(total)


Source = WordList | Prose


def read_source(path: Path) -> Source:
    """Load one corpus file as a word list or prose (see the module docstring)."""
    raw = read_text_file(path, "--corpus")
    lines = [t for t in (clean_label(line) for line in raw.splitlines()) if t]
    if not lines:
        raise OcrpipeError(f"--corpus {path}: has no text; give a file with words or sentences")
    if all(" " not in t for t in lines):
        words = sorted(set(lines))
        return WordList(path.name, words, joiner="" if is_unspaced("".join(words[:2000])) else " ")
    return Prose(path.name, lines)


def _inside_word(text: str, i: int) -> bool:
    """True when position i falls between two ASCII letters or digits (inside a Latin word)."""
    return text[i - 1].isascii() and text[i - 1].isalnum() and text[i].isascii() and text[i].isalnum()


def _latin_word(word: str) -> bool:
    return word.isalpha() and all(script_of(ch) == "latin" for ch in word)


class Corpus:
    """All text sources of a run and the mixture they are sampled in."""

    def __init__(self, sources: Sequence[Source], codes_fraction: float, langs: Sequence[str] = ("en",),
                 text: str = "lines", conventions: str = "corpus") -> None:
        self.sources = list(sources)
        self.conventions = conventions
        self.codes_fraction = codes_fraction
        self.langs = tuple(langs)
        self.text = text              # "lines", "words" (sign tokens), "receipt", or a mixture of them
        self.kinds = parse_weighted(text, TEXTS, "text")
        self._codes_words = next((s.words for s in self.sources if isinstance(s, WordList)), [])
        self._names = _surnames(self._codes_words)

    @classmethod
    def load(cls, paths: Sequence[str | Path], codes_fraction: float, langs: Sequence[str] = ("en",),
             text: str = "lines", conventions: str = "corpus") -> Corpus:
        if not paths:
            raise OcrpipeError("no --corpus given; name at least one text file")
        corpus = cls([read_source(Path(p)) for p in paths], codes_fraction, langs, text, conventions)
        if corpus.draws("words") and not (corpus._codes_words or corpus.running_words()):
            raise OcrpipeError("--text words draws its words from the corpus, which has none; add a word list "
                               "(one word per line, like corpora/words.txt) or prose with --corpus")
        return corpus

    def _ascii_pool(self, lists: bool) -> list[str]:
        key = "_ascii_lists" if lists else "_ascii_running"
        if not hasattr(self, key):
            setattr(self, key, signs.ascii_words(self._codes_words if lists else self.running_words()))
        return getattr(self, key)

    def running_words(self) -> list[str]:
        """The words of the prose sources as they run (frequent words often), letters only."""
        if not hasattr(self, "_running"):
            self._running = [w for s in self.sources if isinstance(s, Prose) for p in s.paragraphs
                             for w in (t.strip(".,;:!?()[]\"'‘’“”") for t in p.split())
                             if len(w) > 1 and w.isalpha()]
        return self._running

    def characters(self) -> set[str]:
        """Every character a sampled line can contain (capitals included, for caps fonts)."""
        chars = (set(codes.alphabet(self.langs)) | (signs.ALPHABET if self.draws("words") else set())
                 | (receipts.ALPHABET if self.draws("receipt") else set()))
        for source in self.sources:
            for entry in source.entries():
                chars.update(entry)
            if isinstance(source, Prose):
                chars |= TYPOGRAPHIC
            if isinstance(source, Prose) and source.unspaced and self.conventions == "mixed":
                chars |= set(":,;()!?")
        return chars | {c.upper() for c in chars if len(c.upper()) == 1}

    def entries_with(self, chars: Iterable[str]) -> dict[str, int]:
        """Per source, how many entries (words or paragraphs) contain any of `chars`."""
        bad = set(chars)
        return {s.name: sum(1 for e in s.entries() if not bad.isdisjoint(e)) for s in self.sources}

    def drop_entries_with(self, chars: Iterable[str]) -> None:
        """Remove every word or paragraph containing any of `chars`."""
        bad = set(chars)
        for source in self.sources:
            source.keep([e for e in source.entries() if bad.isdisjoint(e)])
        empty = [s.name for s in self.sources if not s.entries()]
        if empty:
            raise OcrpipeError(f"--corpus {empty[0]}: no text is left once lines with characters no font "
                               "draws are dropped; add fonts that cover it")
        self._codes_words = next((s.words for s in self.sources if isinstance(s, WordList)), [])
        self._names = _surnames(self._codes_words)
        for cached in ("_running", "_ascii_lists", "_ascii_running"):     # drawn from the entries kept
            self.__dict__.pop(cached, None)

    def disable_typesetting(self) -> None:
        for source in self.sources:
            if isinstance(source, Prose):
                source.typeset_fraction = 0.0

    def draws(self, kind: str) -> bool:
        """Whether lines of this kind (lines, words, receipt) are among those sampled."""
        return any(name == kind for name, _ in self.kinds)

    def sample(self, rng: random.Random, min_words: int, max_words: int) -> str:
        """One line of text: NFC, single spaces, never empty. Of a mixture of kinds, one is
        drawn per line; a words line of a mixture is one token (a cropped word)."""
        mixed = len(self.kinds) > 1
        kind = rng.choices([k for k, _ in self.kinds], weights=[w for _, w in self.kinds])[0] if mixed \
            else self.kinds[0][0]
        if kind == "receipt":
            return self._receipt(rng)
        if kind == "words" and mixed:
            return self._words(rng, 1)
        n = rng.randint(min_words, max_words)
        if kind == "words":                   # numbers are among the sign tokens: no code lines
            return self._words(rng, n)
        if not self.sources or rng.random() < self.codes_fraction:
            lang = self.langs[0] if len(self.langs) == 1 else rng.choice(self.langs)
            text = codes.line(rng, self._codes_words, n, lang)
        else:
            source = rng.choice(self.sources)
            text = source.sample(rng, n)
            if isinstance(source, Prose) and source.latin and rng.random() < CITE:
                text = _cite(text, codes_en.citation(rng, self._names), rng)
            elif isinstance(source, Prose) and source.unspaced and self.conventions == "mixed":
                text = other_conventions(text, rng)
            if isinstance(source, Prose) and source.latin and self.conventions == "mixed":
                text = paired_quotes(text, rng)
        return clean_label(text)


    def _words(self, rng: random.Random, n: int) -> str:
        # Half the words from the word lists (every word alike), half from running prose (as often
        # as text uses them): signs hold both rare names and the commonest words.
        lists = bool(self._codes_words) and (rng.random() < 0.5 or not self.running_words())
        pool = self._codes_words if lists else self.running_words()
        return clean_label(signs.line(rng, pool, n, self._ascii_pool(lists)))

    def _receipt(self, rng: random.Random) -> str:
        return clean_label(receipts.line(rng, self._ascii_pool(bool(self._codes_words))))


def _surnames(words: list[str]) -> list[str]:
    """Capitalized words of a word list (SCOWL's proper nouns): stand-ins for author names."""
    return [w for w in words if len(w) > 2 and w[0].isupper() and w[1:].islower() and w.isalpha()]


def _cite(text: str, citation: str, rng: random.Random) -> str:
    """`citation` in place of one word after the first, keeping that word's punctuation."""
    words = text.split(" ")
    if len(words) < 2:
        return f"{text} {citation}"
    k = rng.randrange(1, len(words))
    trail = words[k][len(words[k].rstrip(".,;:")):]
    words[k] = citation + trail
    return " ".join(words)

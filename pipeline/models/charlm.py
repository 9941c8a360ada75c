"""A character n-gram language model for beam search (shallow fusion).

Interpolated Witten-Bell smoothing: the probability of a character after a context mixes the
context's own counts with the probability after the context one character shorter, weighted
by how many different characters the context has been seen followed by; the shortest level
is uniform over the characters the model may emit. Every level is a proper distribution, so
scores of different lines compare. Trained on plain text (the bundled corpora, say): a page
of print is mostly words of the language, and a model that knows which letter sequences
occur can tell `is` from `1s` where the pixels alone cannot.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from pipeline.errors import OcrpipeError
from pipeline.text.charset import decompose_hangul, holds_jamo
from pipeline.utils.files import read_text_file

ORDER = 6          # characters of context + 1; on uw3-dev with the bundled corpora and en-print 6 read best
                   # (raw CER 0.52%), 5 and 7 worse (0.53%, 0.56%; benchmarks/lm_grid.py): longer contexts
                   # are too rare in 4.5 MB of text
START = "\n"       # what a line's first character is conditioned on


class CharLM:
    def __init__(self, counts: Counter, contexts: dict[str, tuple[int, int]], alphabet: Sequence[str],
                 order: int) -> None:
        self.counts, self.contexts, self.order = counts, contexts, order
        self.alphabet = sorted(set(alphabet))
        self.uniform = 1.0 / len(self.alphabet)
        self._cache = functools.lru_cache(maxsize=1 << 20)(self._log_prob)

    @classmethod
    def train(cls, texts: Iterable[str], alphabet: Sequence[str], order: int = ORDER) -> CharLM:
        """Count every n-gram up to `order` of each line (with a start symbol) in `texts`;
        characters outside `alphabet` break the text there. An alphabet of Korean letters
        (conjoining jamo: a jamo charset's) reads Hangul syllables as their letters."""
        allowed = set(alphabet)
        jamo = holds_jamo(allowed)
        counts: Counter = Counter()
        for text in texts:
            text = decompose_hangul(text) if jamo else text
            for line in text.splitlines():
                line = " ".join(line.split())
                if not line:
                    continue
                padded = START + "".join(c if c in allowed else START for c in line)
                for n in range(1, order + 1):
                    counts.update(padded[i:i + n] for i in range(len(padded) - n + 1))
        followers: dict[str, set] = {}
        totals: Counter = Counter()
        for gram, count in counts.items():
            if gram[-1] == START:
                continue
            totals[gram[:-1]] += count
            followers.setdefault(gram[:-1], set()).add(gram[-1])
        contexts = {h: (totals[h], len(followers[h])) for h in totals}
        return cls(counts, contexts, alphabet, order)

    @classmethod
    def from_files(cls, paths: Sequence[Path], alphabet: Sequence[str], order: int = ORDER) -> CharLM:
        if not paths:
            raise OcrpipeError("--lm: name one or more text files (e.g. corpora/*.txt)")
        texts = [read_text_file(Path(p), "--lm") for p in paths]
        if not any(t.strip() for t in texts):
            raise OcrpipeError(f"--lm {', '.join(map(str, paths))}: no text to learn from (empty files); "
                               "name text files with sentences of the kind the lines hold")
        return cls.train(texts, alphabet, order)

    def log_prob(self, context: str, char: str) -> float:
        """log P(char | the last order-1 characters of `context`); `context` "" is a line start."""
        return self._cache((START + context)[-(self.order - 1):], char)

    def _log_prob(self, context: str, char: str) -> float:
        p = self.uniform
        for k in range(len(context) + 1):       # from no context up to the whole context
            h = context[len(context) - k:]
            seen = self.contexts.get(h)
            if seen is None:
                break                            # longer contexts were never seen either
            total, distinct = seen
            p = (self.counts.get(h + char, 0) + distinct * p) / (total + distinct)
        return math.log(p)

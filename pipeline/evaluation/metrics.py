"""Recognition metrics, each named for exactly what it is (edit distances by rapidfuzz).

* mean_edit_distance  mean over lines of the Levenshtein distance (the headline)
* cer                 sum of distances / sum of reference characters
* wer                 the same over words (whitespace-separated); None (not meaningful) when
                      most reference lines are written without spaces (Chinese)
* exact_match         share of lines recognized exactly

`script_errors` breaks the character errors down by script (Hangul, Han, Latin, digits...).

Both texts are NFC-normalized before comparing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

from rapidfuzz.distance import Levenshtein

from pipeline.text.scripts import is_unspaced, script_of


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def edit_distance(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(nfc(reference), nfc(hypothesis))


def word_distance(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(nfc(reference).split(), nfc(hypothesis).split())


@dataclass
class Tally:
    """Sums from which every metric follows; adds up across batches and processes."""

    lines: int = 0
    distance: int = 0
    ref_chars: int = 0
    word_distance: int = 0
    ref_words: int = 0
    exact: int = 0
    unspaced_lines: int = 0     # references written without spaces between words (Chinese)

    def add(self, reference: str, hypothesis: str) -> int:
        d = edit_distance(reference, hypothesis)
        self.lines += 1
        self.distance += d
        self.ref_chars += len(nfc(reference))
        self.word_distance += word_distance(reference, hypothesis)
        self.ref_words += len(reference.split())
        self.exact += int(d == 0)
        self.unspaced_lines += int(not reference.isascii() and is_unspaced(reference))
        return d

    def add_all(self, pairs: Iterable[tuple[str, str]]) -> Tally:
        for reference, hypothesis in pairs:
            self.add(reference, hypothesis)
        return self

    def as_list(self) -> list[int]:
        return [self.lines, self.distance, self.ref_chars, self.word_distance, self.ref_words, self.exact,
                self.unspaced_lines]

    @classmethod
    def from_list(cls, values: Iterable[float]) -> Tally:
        return cls(*(int(v) for v in values))

    def metrics(self) -> dict[str, float | None]:
        def ratio(a: int, b: int) -> float | None:
            return a / b if b else None         # no lines (or no reference characters): no rate at all

        words_mean_something = 2 * self.unspaced_lines <= self.lines
        return {"lines": self.lines,
                "mean_edit_distance": ratio(self.distance, self.lines),
                "cer": ratio(self.distance, self.ref_chars),
                "wer": ratio(self.word_distance, self.ref_words) if words_mean_something else None,
                "exact_match": ratio(self.exact, self.lines)}

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def score(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Metrics of (reference, hypothesis) pairs."""
    return Tally().add_all(pairs).metrics()


# -- normalizations, so results on data with other transcription conventions compare fairly --
QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
          "\u2033": '"', "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
          "\u00b4": "'", "`": "'"}
DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-"}
_TYPOGRAPHY = str.maketrans({**QUOTES, **DASHES, "\u2026": "..."})


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def fold_typography(text: str) -> str:
    """Curly and LaTeX-style quotes (`` and '') to ASCII quotes; dashes, and LaTeX's -- and ---,
    to '-'; … to '...'."""
    text = text.replace("``", '"').replace("''", '"').replace("---", "-").replace("--", "-")
    return text.translate(_TYPOGRAPHY).replace("''", '"')


def casefold(text: str) -> str:
    return text.casefold()


def fold_all(text: str) -> str:
    return casefold(fold_typography(collapse_whitespace(text)))


def letters_and_digits(text: str) -> str:
    """The protocol of the cropped-word sets (IIIT5K, SVT, ICDAR): case-insensitive, letters and
    digits only (punctuation and spaces dropped: `www.NonStop.com` reads `wwwnonstopcom`)."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


NORMALIZATIONS = {"raw": nfc, "whitespace": collapse_whitespace, "typography": fold_typography,
                  "case": casefold, "all": fold_all, "alnum": letters_and_digits}


def mostly_words(references: Sequence[str]) -> bool:
    """Whether a set is one of cropped words (4 in 5 references without a space): its headline
    is then words right under the word protocol, and Tesseract reads each as a word. Chinese
    and Japanese are written without spaces, so a line with Han or kana is never one word."""
    def one_word(text: str) -> bool:
        return " " not in text.strip() and not any(script_of(ch) in ("han", "kana") for ch in text)

    return bool(references) and sum(one_word(r) for r in references) >= 0.8 * len(references)


def score_normalized(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """The metrics of the same pairs under each normalization, side by side."""
    return {name: score((norm(nfc(r)), norm(nfc(h))) for r, h in pairs) for name, norm in NORMALIZATIONS.items()}


def confusions(pairs: list[tuple[str, str]], top: int = 20) -> list[dict[str, object]]:
    """The most frequent character errors: (reference, prediction) with '' for a missing one."""
    from collections import Counter

    counts: Counter[tuple[str, str]] = Counter()
    for reference, hypothesis in pairs:
        reference, hypothesis = nfc(reference), nfc(hypothesis)
        for op in Levenshtein.editops(reference, hypothesis):
            ref = reference[op.src_pos] if op.tag in ("replace", "delete") else ""
            hyp = hypothesis[op.dest_pos] if op.tag in ("replace", "insert") else ""
            counts[(ref, hyp)] += 1
    return [{"reference": r, "prediction": h, "count": n} for (r, h), n in counts.most_common(top)]


def script_errors(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Per script of the reference characters: how many there are, how many were misread
    (substituted or dropped), and their CER; characters the prediction adds where the reference
    has none count against the script of the added character."""
    from collections import Counter

    chars: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for reference, hypothesis in pairs:
        reference, hypothesis = nfc(reference), nfc(hypothesis)
        chars.update(script_of(ch) for ch in reference)
        for op in Levenshtein.editops(reference, hypothesis):
            errors[script_of(reference[op.src_pos] if op.tag != "insert" else hypothesis[op.dest_pos])] += 1
    return {s: {"chars": chars[s], "errors": errors[s], "cer": errors[s] / chars[s] if chars[s] else None}
            for s in sorted(set(chars) | set(errors), key=lambda s: -chars[s])}


def bucket(value: int, edges: tuple[int, ...]) -> str:
    """The label of `value`'s bucket: edges (1, 6, 11) give '1-5', '6-10', '11+'."""
    for lo, hi in zip(edges, edges[1:]):
        if lo <= value < hi:
            return f"{lo}-{hi - 1}"
    return f"{edges[-1]}+" if value >= edges[-1] else f"<{edges[0]}"


def confidence_ranking(lines: Sequence[tuple[str, str, float]], normalization: str,
                       share: float = 0.1) -> dict[str, float | int | None]:
    """How well the confidence finds the wrong lines of (reference, prediction, confidence)
    triples, "wrong" meaning not equal under `normalization`: the share of the wrong lines
    among the `share` least confident lines (`caught`, the recall of flagging that many), and
    the AUROC, the chance that a wrong line is less confident than a right one (0.5: no
    better than a coin; ties count half). None where a set has no wrong or no right line."""
    norm = NORMALIZATIONS[normalization]
    wrong = [norm(nfc(r)) != norm(nfc(h)) for r, h, _ in lines]
    n_wrong = sum(wrong)
    result: dict[str, float | int | None] = {"normalization": normalization, "lines": len(lines),
                                             "wrong": n_wrong, "share": share, "caught": None, "auroc": None}
    if not n_wrong:
        return result
    order = sorted(range(len(lines)), key=lambda i: (lines[i][2], i))
    flagged = order[:max(1, round(share * len(lines)))]
    result["caught"] = round(sum(wrong[i] for i in flagged) / n_wrong, 4)
    n_right = len(lines) - n_wrong
    if n_right:
        # Mann-Whitney: average ranks over ties, then the wrong lines' rank sum.
        ranks = [0.0] * len(lines)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and lines[order[j + 1]][2] == lines[order[i]][2]:
                j += 1
            for k in range(i, j + 1):
                ranks[order[k]] = (i + j) / 2 + 1
            i = j + 1
        above = sum(r for r, w in zip(ranks, wrong) if w) - n_wrong * (n_wrong + 1) / 2
        result["auroc"] = round(1 - above / (n_wrong * n_right), 4)
    return result


def describe_ranking(rank: dict[str, float | int | None]) -> str | None:
    """`confidence_ranking`'s result in words (for the command and report.html), or None when
    the set has no wrong line to rank."""
    if rank.get("caught") is None:
        return None
    auroc = f", AUROC {rank['auroc']:.3f}" if rank.get("auroc") is not None else ""
    return (f"the {100 * float(rank['share']):.0f}% least confident lines hold {100 * float(rank['caught']):.1f}% "
            f"of the {rank['wrong']} wrong ones ({rank['normalization']}-normalized){auroc}")

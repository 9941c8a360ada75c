"""Text sources, sampling and normalization."""

from __future__ import annotations

import random

import pytest

from pipeline.text import codes, codes_en
from pipeline.text.labels import clean_label
from pipeline.text import corpus
from pipeline.errors import OcrpipeError


def test_word_lists_and_prose_are_told_apart(small_corpus):
    prose, words = (corpus.read_source(p) for p in small_corpus)
    assert isinstance(prose, corpus.Prose) and isinstance(words, corpus.WordList)


def test_prose_lines_are_runs_of_consecutive_words(small_corpus):
    prose = corpus.read_source(small_corpus[0])
    prose.typeset_fraction = 0.0
    rng = random.Random(3)
    broken = 0
    for _ in range(400):
        line = prose.sample(rng, rng.randint(2, 6))
        if line.endswith("-"):                   # a word hyphenated across lines
            broken += 1
            line = line[:-1]
        assert any(line in p for p in prose.paragraphs)
    assert 0 < broken < 40


def test_sampling_is_a_pure_function_of_the_seed(small_corpus):
    c = corpus.Corpus.load(small_corpus, codes_fraction=0.3)
    first = [c.sample(random.Random(s), 1, 5) for s in range(50)]
    again = [c.sample(random.Random(s), 1, 5) for s in range(50)]
    assert first == again and len(set(first)) > 40


@pytest.mark.parametrize("raw, clean", [
    ("  two\tspaces \n here ", "two spaces here"),
    ("cafe\u0301", "café"),                  # NFC
    ("zero\u200bwidth", "zerowidth"),        # format characters dropped
    ("non\u00a0breaking", "non breaking"),
])
def test_normalize(raw, clean):
    assert clean_label(raw) == clean


def test_typeset_curls_quotes_and_dashes():
    assert corpus.typeset('"Yes," she said -- it\'s \'fine\'') == "“Yes,” she said — it’s ‘fine’"


def test_codes_emit_only_their_declared_alphabet():
    rng = random.Random(0)
    seen = set()
    for _ in range(5000):
        seen |= set(codes.line(rng, ["word"], rng.randint(1, 6)))
    assert seen - set("word") <= codes_en.ALPHABET
    assert any(ch.isdigit() for ch in seen) and "$" in seen


def test_characters_include_capitals_for_caps_fonts(small_corpus):
    chars = corpus.Corpus.load(small_corpus, 0.0).characters()
    assert {"q", "Q", "“"} <= chars


@pytest.mark.parametrize("content, message", [
    ("", "has no text"),
    ("\n  \n", "has no text"),
    (b"\xff\xfe bad", "not UTF-8"),
])
def test_bad_corpus_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(OcrpipeError, match=message):
        corpus.read_source(path)


def test_sign_words_are_single_tokens_in_the_casing_mix_of_signs(small_corpus):
    import random

    from pipeline.text import signs

    c = corpus.Corpus.load(small_corpus, codes_fraction=0.2, text="words")
    rng = random.Random(4)
    words = [c.sample(rng, 1, 1) for _ in range(2000)]
    assert all(w and " " not in w for w in words)
    assert set("".join(words)) <= c.characters() and set("".join(words)) - set("".join(small_corpus[0].read_text(
        encoding="utf-8"))) <= signs.ALPHABET | {ch.upper() for ch in "".join(words)}
    share = lambda test: sum(map(test, words)) / len(words)          # noqa: E731
    assert 0.25 < share(lambda w: w.isupper()) < 0.6                  # capitals, as signs have them
    assert 0.05 < share(lambda w: any(ch.isdigit() for ch in w)) < 0.35
    assert share(lambda w: w[:1].isupper() and w[1:].islower()) > 0.15
    assert any("." in w and w.count(".") >= 1 and w.split(".")[-1] in signs.TLDS for w in words)


def test_words_mode_needs_words_to_draw_from(tmp_path):
    empty = tmp_path / "numbers.txt"
    empty.write_text("12 34 56\n78 90 11\n", encoding="utf-8")        # prose without a word of letters
    with pytest.raises(OcrpipeError, match="--text words draws its words"):
        corpus.Corpus.load([empty], codes_fraction=0.2, text="words")

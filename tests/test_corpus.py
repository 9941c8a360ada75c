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

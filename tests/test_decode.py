"""CTC decoding against brute-force enumeration of every alignment."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
import torch

from pipeline.models import ctc_decode as decode
from pipeline.text.charset import Charset


def random_log_probs(t: int, c: int, seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(t, c)) * 2
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def brute_force(log_probs: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(label) for every label, summing every alignment (C^T paths)."""
    totals: dict[tuple[int, ...], float] = defaultdict(lambda: -np.inf)
    t, c = log_probs.shape
    for path in itertools.product(range(c), repeat=t):
        label = tuple(decode.greedy_indices(np.asarray(path)))
        totals[label] = np.logaddexp(totals[label], sum(log_probs[i, k] for i, k in enumerate(path)))
    return dict(totals)


@pytest.mark.parametrize("best, label", [
    ([0, 0, 0], []),                   # all blanks
    ([1, 1, 1], [1]),                  # repeats merge
    ([1, 0, 1], [1, 1]),               # a blank separates a real repeat
    ([2, 1, 1, 0, 0, 3, 3], [2, 1, 3]),
    ([0, 1, 0, 2, 2, 0, 2], [1, 2, 2]),
])
def test_greedy_collapses_repeats_and_drops_blanks(best, label):
    assert decode.greedy_indices(np.asarray(best)) == label


def test_greedy_batch_respects_each_lines_length():
    charset = Charset(list("ab"))
    best = torch.tensor([[1, 2], [1, 2], [0, 0], [2, 1]])            # (T=4, N=2)
    log_probs = torch.log(torch.nn.functional.one_hot(best, 3).float() * 0.98 + 0.01)
    out = decode.greedy(log_probs, torch.tensor([4, 2]), charset)
    assert [text for text, _ in out] == ["ab", "b"]
    assert all(0.9 < conf <= 1.0 for _, conf in out)


@pytest.mark.parametrize("seed", range(6))
def test_forward_algorithm_equals_brute_force(seed):
    lp = random_log_probs(5, 3, seed)
    for label, expected in brute_force(lp).items():
        assert decode.label_log_prob(lp, label) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_unbounded_beam_search_scores_every_label_exactly(seed):
    lp = random_log_probs(5, 3, seed)
    exact = brute_force(lp)
    found = dict(decode.prefix_beam_search(lp, beam=10_000, prune=-np.inf))
    assert set(found) == set(exact)
    for label, score in found.items():
        assert score == pytest.approx(exact[label], abs=1e-9)
    best = max(exact, key=exact.get)
    assert decode.prefix_beam_search(lp, beam=10_000, prune=-np.inf)[0][0] == best


@pytest.mark.parametrize("seed", range(20))
def test_beam_is_never_less_probable_than_greedy(seed):
    charset = Charset(list("abcd"))
    lp = random_log_probs(8, 5, seed)
    greedy_text = decode.greedy(torch.from_numpy(lp)[:, None], torch.tensor([8]), charset)[0][0]
    beam_text = decode.beam(torch.from_numpy(lp)[:, None], torch.tensor([8]), charset, width=3)[0][0]
    assert decode.label_log_prob(lp, charset.encode(beam_text)) >= \
        decode.label_log_prob(lp, charset.encode(greedy_text)) - 1e-12


def line_log_probs(charset: Charset, path: str, noise: float = 0.05) -> np.ndarray:
    """Frames that spell `path` (`_` is a blank), with a little probability elsewhere."""
    c = len(charset)
    lp = np.full((len(path), c), np.log(noise / (c - 1)))
    for t, ch in enumerate(path):
        lp[t, 0 if ch == "_" else charset.encode(ch)[0]] = np.log(1 - noise)
    return lp


def test_lexicon_corrects_a_word_when_the_model_agrees():
    charset = Charset(list("acdeghlnoprstuw "))
    path = "t_h_e_ _s_t_r_e_e_t"                            # "the street"
    lp = line_log_probs(charset, path)
    unsure = path.index("s_t") + 2                          # the frame of street's 't'
    lp[unsure] = np.log(np.full(len(charset), 0.1 / (len(charset) - 2)))
    lp[unsure, charset.encode("c")[0]] = np.log(0.50)       # greedy reads 'c', the model half agrees on 't'
    lp[unsure, charset.encode("t")[0]] = np.log(0.40)
    text, _ = decode.greedy(torch.from_numpy(lp)[:, None], torch.tensor([len(lp)]), charset)[0]
    assert text == "the screet"
    lexicon = decode.Lexicon(["the", "street", "streets"])
    fixed, score = decode.correct(text, lp, charset, lexicon)
    assert fixed == "the street" and score == decode.label_log_prob(lp, charset.encode("the street"))
    # A bit less probable than what greedy read, but well within the cost of an unknown word.
    assert decode.label_log_prob(lp, charset.encode(text)) - decode.OOV_COST < score


def test_lexicon_keeps_a_word_the_model_is_sure_of():
    charset = Charset(list("acdeghlnoprstuw "))
    lp = line_log_probs(charset, "s_c_r_e_e_n", noise=0.001)  # clearly "screen"
    fixed, _ = decode.correct("screen", lp, charset, decode.Lexicon(["street", "scream"]))
    assert fixed == "screen"


def test_lexicon_keeps_case():
    assert decode._same_case("Scr", "street") == "Street"
    assert decode._same_case("SCREET", "street") == "STREET"


# -- character language model and shallow fusion --------------------------------------------
def test_the_character_model_is_a_distribution_in_every_context():
    from pipeline.models.charlm import CharLM

    alphabet = sorted(set("the cat sat on this mat; is it 1?"))
    lm = CharLM.train(["the cat sat on the mat", "this is it", "is 1 it?"], alphabet, order=4)
    for context in ("", "th", "the c", "zzz", "is 1", "xq"):
        total = sum(np.exp(lm.log_prob(context, c)) for c in alphabet)
        assert abs(total - 1.0) < 1e-9, context
    assert lm.log_prob("th", "i") > lm.log_prob("th", "1")        # "thi" was seen, "th1" never


def ambiguous_line(charset: Charset) -> np.ndarray:
    """Frames for "1s"/"is": the first character is '1' by a hair, then a clear 's'."""
    frames = np.full((4, len(charset)), -12.0)
    frames[0, charset.index["1"]], frames[0, charset.index["i"]] = np.log(0.52), np.log(0.46)
    frames[1, 0] = frames[3, 0] = np.log(0.98)
    frames[2, charset.index["s"]] = np.log(0.98)
    return frames - np.logaddexp.reduce(frames, axis=1, keepdims=True)


def test_a_language_model_turns_1s_into_is():
    from pipeline.models.charlm import CharLM

    charset = Charset(list(" 1is"))
    lm = CharLM.train(["this is it is his", "is is"], charset.chars, order=3)
    log_probs = torch.from_numpy(ambiguous_line(charset))[:, None, :]
    length = torch.tensor([4])
    assert decode.beam(log_probs, length, charset, 5)[0][0] == "1s"
    assert decode.beam(log_probs, length, charset, 5, fusion=decode.Fusion(lm, 0.0, 0.0))[0][0] == "1s"
    fused, confidence = decode.beam(log_probs, length, charset, 5, fusion=decode.Fusion(lm, 0.3, 0.5))[0]
    assert fused == "is"
    expected = decode.label_log_prob(ambiguous_line(charset), charset.encode("is"))
    assert confidence == pytest.approx(np.exp(expected))     # the model's own probability, not the fused score


def test_greedy_confidence_is_the_probability_of_the_text_over_all_its_alignments():
    """Not the greedy path's own probability: every alignment of the text read counts. Two
    frames of 'a' at 0.6 against blank 0.4 read "a" by the paths a-a, a-blank and blank-a:
    0.36 + 0.24 + 0.24."""
    charset = Charset(list("ab"))
    frames = np.full((2, len(charset)), -30.0)
    frames[:, 0], frames[:, charset.index["a"]] = np.log(0.4), np.log(0.6)
    frames -= np.logaddexp.reduce(frames, axis=1, keepdims=True)
    text, confidence = decode.greedy(torch.from_numpy(frames).float()[:, None, :], torch.tensor([2]), charset)[0]
    assert text == "a" and confidence == pytest.approx(0.84, rel=1e-4)
    assert confidence == pytest.approx(np.exp(decode.label_log_prob(frames, charset.encode("a"))), rel=1e-4)


def test_label_probabilities_match_the_forward_algorithm_in_a_batch():
    rng = np.random.default_rng(3)
    frames = rng.normal(size=(12, 3, 5))
    frames -= np.logaddexp.reduce(frames, axis=2, keepdims=True)
    labels, lengths = [[1, 2, 2], [], [3, 1, 4]], [12, 5, 9]
    got = decode.label_probabilities(torch.from_numpy(frames).float(), torch.tensor(lengths), labels)
    for n, (label, length) in enumerate(zip(labels, lengths)):
        assert got[n] == pytest.approx(np.exp(decode.label_log_prob(frames[:length, n], label)), rel=1e-4)
    assert decode.label_probabilities(torch.from_numpy(frames).float(), torch.tensor([0, 5, 9]), labels)[0] == 0.0

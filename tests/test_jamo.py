"""Korean read letter by letter (`pack --hangul jamo`): the charset, CTC's labels, the language
model, a start from a syllable model, and a tiny run end to end."""

from __future__ import annotations

import json
import math
import unicodedata

import numpy as np
import torch

from conftest import ROOT
from pipeline.datasets.loader import Collate
from pipeline.models import checkpoint
from pipeline.models.charlm import CharLM
from pipeline.models.crnn import ModelConfig, build
from pipeline.models.ctc_decode import greedy
from pipeline.text.charset import Charset, ctc_min_frames
from test_cjk import labels

KSX1001 = (ROOT / "corpora" / "ko" / "ksx1001.chars").read_text(encoding="utf-8").replace("\n", "")


def test_every_ks_x_1001_syllable_is_two_or_three_letters_and_comes_back_whole():
    charset = Charset.build([KSX1001, "OCR 2024."], jamo=True)
    assert charset.jamo and len(charset) < 80                   # 67 letters at most, not 2,350 syllables
    assert all(0x1100 <= ord(c) <= 0x11FF for c in charset.chars if ord(c) > 0x7F)
    for syllable in KSX1001:
        units = charset.encode(syllable)
        assert len(units) in (2, 3) and charset.decode(units) == syllable
    line = "국회는 OCR 2024. 읽기"
    assert charset.decode(charset.encode(line)) == line and unicodedata.is_normalized("NFC", charset.decode(charset.encode(line)))


def test_a_jamo_charset_is_known_by_its_letters_and_a_syllable_one_is_not():
    syllables = Charset.build(["한국어"])
    letters = Charset(Charset.build(["한국어"], jamo=True).chars)   # as a checkpoint stores it: a list
    assert not syllables.jamo and letters.jamo
    assert "국" in letters and "구" in letters and "국" in syllables and "구" not in syllables
    assert letters.missing("한글") == {"글"} and letters.missing("한국") == set()
    assert letters.units("한국") == unicodedata.normalize("NFD", "한국") and syllables.units("한국") == "한국"


def test_ctc_labels_are_the_letters():
    charset = Charset.build(["한국어 읽기"], jamo=True)
    image = np.full((32, 64, 1), 255, np.uint8)
    batch = Collate(charset).arrays([(0, image, "한국"), (1, image, "읽기")])
    assert batch.target_lengths.tolist() == [6, 5]                    # ㅎㅏㄴ ㄱㅜㄱ, ㅇㅣㄺ ㄱㅣ
    assert batch.targets.tolist() == charset.encode("한국") + charset.encode("읽기")
    assert ctc_min_frames(charset.units("한국")) == 6 and ctc_min_frames("한국") == 2


def test_greedy_reading_composes_the_letters_into_syllables():
    charset = Charset.build(["한국"], jamo=True)
    frames = charset.encode("한국")
    log_probs = torch.full((len(frames) * 2, 1, len(charset)), -20.0)
    for t, k in enumerate(frames):
        log_probs[2 * t, 0, k] = 0.0                             # the letter, then a blank
        log_probs[2 * t + 1, 0, 0] = 0.0
    (text, confidence), = greedy(log_probs, torch.tensor([len(frames) * 2]), charset)
    assert text == "한국" and confidence > 0.99


def test_the_language_model_reads_hangul_as_letters_for_a_jamo_alphabet():
    charset = Charset.build(["한국어 국회"], jamo=True)
    lm = CharLM.train(["한국어 국회는 국민의 대표", "국회 국어"], charset.chars, order=4)
    after_gu = charset.units("국")[:2]                             # ㄱㅜ: the final ㄱ is likely next
    likely = lm.log_prob(after_gu, charset.units("국")[2])
    unlikely = lm.log_prob(after_gu, charset.units("한")[2])
    assert math.isfinite(likely) and likely > unlikely


def test_a_syllable_model_starts_a_letter_model_with_the_rows_both_know():
    known = Charset.build(["한국 OCR"])
    wanted = Charset.build(["한국 OCR 2"], jamo=True)
    parent = build(ModelConfig("crnn-small", len(known), 32, 1)).state_dict()
    fresh = build(ModelConfig("crnn-small", len(wanted), 32, 1)).state_dict()
    mapped = checkpoint.mapped_state_dict(parent, fresh, known, wanted)
    assert mapped["head.weight"].shape[0] == len(wanted)
    for name in ("head.weight", "head.bias"):
        assert torch.equal(mapped[name][0], parent[name][0])                         # the blank
        for c in "OCR ":
            assert torch.equal(mapped[name][wanted.index[c]], parent[name][known.index[c]])
        assert torch.equal(mapped[name][wanted.index["2"]], fresh[name][wanted.index["2"]])
    assert all(torch.equal(mapped[k], parent[k]) for k in parent if not k.startswith("head."))


def test_a_tiny_korean_letter_run_end_to_end(tmp_path, run_cli):
    run = tmp_path / "ko"
    init = tmp_path / "syllables"
    for target, hangul in ((init, "syllables"), (run, "jamo")):
        assert run_cli("generate", "--run", target, "--lang", "ko", "--count", "80", "--seed", "2", "--max-words",
                       "3", "--workers", "1", "--no-progress").exit_code == 0
        result = run_cli("pack", "--run", target, "--hangul", hangul, "--add-chars", ROOT / "corpora" / "ko" /
                         "ksx1001.chars", "--workers", "1", "--no-progress")
        assert result.exit_code == 0, result.output
    assert run_cli("train", "--run", init, "--arch", "crnn-small", "--steps", "2", "--batch-size", "8",
                   "--val-every", "2", "--device", "cpu", "--no-progress").exit_code == 0
    result = run_cli("train", "--run", run, "--init", init / "train" / "best.pt", "--steps", "4", "--batch-size", "8",
                     "--val-every", "4", "--device", "cpu", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "hangul as letters: the rows of shared characters carried over" in result.output
    charset = json.loads((run / "charset.json").read_text(encoding="utf-8"))["chars"]
    assert len(charset) < 120 and any(0x1100 <= ord(c) <= 0x11FF for c in charset)
    state = checkpoint.load(run / "train" / "best.pt")
    assert state["charset"] == charset
    assert run_cli("eval", "--run", run, "--device", "cpu", "--no-progress").exit_code == 0
    report = json.loads((run / "eval" / "test" / "report.json").read_text())
    assert report["lines"] == len(labels(run, "test"))

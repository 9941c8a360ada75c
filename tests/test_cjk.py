"""Korean and Chinese lines: fonts, text, charsets of thousands of classes, vertical lines,
per-script scores, and a tiny Korean run end to end (with the bundled CJK fonts and corpora)."""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import FONTS, ROOT
from pipeline.text import codes
from pipeline.text.corpus import Prose, read_source
from pipeline.text.labels import clean_label
from pipeline.synth.fonts import load_font
from pipeline.evaluation.metrics import Tally, script_errors
from pipeline.datasets.images import load_line
from pipeline.synth.render import render
from pipeline.text.scripts import script_of
from pipeline.synth.styles import Overrides, draw_effects

KO_FONT = FONTS / "ko" / "NotoSansCJKkr-Regular.otf"
ZH_FONT = FONTS / "zh" / "NotoSansCJKsc-Regular.otf"
LATIN_FONT = FONTS / "DejaVuSans.ttf"


def labels(run: Path, split: str = "train") -> list[str]:
    with open(run / "labels" / f"{split}.tsv", encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def test_coverage_is_checked_against_real_cjk_fonts():
    universe = set("한국어中文abc ")
    korean, chinese, latin = (load_font(p, universe) for p in (KO_FONT, ZH_FONT, LATIN_FONT))
    assert korean.can_draw("한국어 abc") and not korean.can_draw("中文")
    assert chinese.can_draw("中文 abc") and not chinese.can_draw("한국어")
    assert latin.missing("한국어 abc") == set("한국어")


def test_a_latin_only_font_never_gets_a_hangul_line(tmp_path, run_cli):
    result = run_cli("generate", "--run", tmp_path / "run", "--lang", "ko", "--fonts", LATIN_FONT, "--count", "20",
                     "--no-progress")
    assert result.exit_code == 2
    assert "no font given draws" in result.output and "--skip-uncovered" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_hangul_labels_are_composed_syllables(tmp_path):
    decomposed = unicodedata.normalize("NFD", "한국어 텍스트")
    assert len(decomposed) > len("한국어 텍스트")
    assert clean_label(decomposed) == "한국어 텍스트"
    source = tmp_path / "ko.txt"
    source.write_text(f"{decomposed} 입니다\n다른 문장 하나\n", encoding="utf-8")
    assert read_source(source).entries()[0] == "한국어 텍스트 입니다"


def test_local_codes_stay_inside_their_alphabet():
    """Generate checks font coverage against codes.alphabet: a code line may hold nothing else."""
    for lang in ("ko", "zh"):
        rng = random.Random(7)
        allowed = codes.alphabet((lang,))
        text = "".join(codes.line(rng, ["사과" if lang == "ko" else "苹果"], 4, lang) for _ in range(3000))
        assert set(text) <= allowed | set("사과苹果")
    rng = random.Random(1)
    korean = " ".join(codes.line(rng, [], 3, "ko") for _ in range(400))
    assert "원" in korean and "년" in korean and "010-" in korean
    chinese = " ".join(codes.line(rng, [], 3, "zh") for _ in range(400))
    assert "元" in chinese and "年" in chinese and "号" in chinese


def test_chinese_prose_is_cut_by_characters_never_inside_a_latin_word(tmp_path):
    paragraph = "使用非 PostScript 的打印机配置 LPR 打印机队列，就是个好例子。自从使用新 CUPS 系统的新的安装系统出现后"
    source = tmp_path / "zh.txt"
    source.write_text(paragraph + "\n", encoding="utf-8")
    prose = read_source(source)
    assert isinstance(prose, Prose) and prose.unspaced and not prose.latin
    rng = random.Random(3)
    for _ in range(300):
        line = prose.sample(rng, 4)
        assert line and line in paragraph
        start, stop = paragraph.index(line), paragraph.index(line) + len(line)
        if start:                                   # no line begins or ends inside a Latin word
            assert not (paragraph[start - 1].isascii() and paragraph[start - 1].isalnum() and line[0].isascii())
        if stop < len(paragraph):
            assert not (paragraph[stop].isascii() and paragraph[stop].isalnum() and line[-1].isascii())


def test_wer_is_not_given_for_text_without_spaces():
    chinese = Tally().add_all([("我们今天去北京", "我们今天去北京"), ("价格是十元", "价格是千元")]).metrics()
    assert chinese["wer"] is None and chinese["cer"] > 0
    korean = Tally().add_all([("오늘 서울에 갑니다", "오늘 서울에 감니다")]).metrics()
    assert korean["wer"] == 1 / 3


def test_errors_are_broken_down_by_script():
    by_script = script_errors([("삼성 Galaxy S24", "삼송 Galaxy S24"), ("价格 15元", "价格 16元")])
    assert by_script["hangul"] == {"chars": 2, "errors": 1, "cer": 0.5}
    assert by_script["digit"]["errors"] == 1 and by_script["digit"]["chars"] == 4
    assert by_script["latin"]["errors"] == 0 and by_script["han"]["chars"] == 3
    assert script_of("한") == "hangul" and script_of("中") == "han" and script_of("a") == "latin"


def test_a_vertical_line_reads_top_first_after_rotation():
    """口 has far more ink than 一: in the column 口一一一 turned for the model, the left
    quarter holds the 口."""
    _, fx = draw_effects("plain", Overrides(), random.Random(0))
    column = render("口一一一", str(ZH_FONT), 32, fx, seed=1, vertical=True).image
    assert column.width == 32 and column.height > 3 * column.width
    pixels = load_line(column, 32, vertical=True)[:, :, 0]
    ink = (255 - pixels.astype(np.int64)).sum(axis=0)
    quarter = pixels.shape[1] // 4
    assert ink[:quarter].sum() > 2 * ink[quarter:2 * quarter].sum()


def test_vertical_lines_and_their_horizontal_twins_have_the_same_labels(tmp_path, run_cli):
    runs = {}
    for orientation in ("horizontal", "vertical"):
        run = tmp_path / orientation
        result = run_cli("generate", "--run", run, "--lang", "zh", "--orientation", orientation, "--count", "30",
                         "--seed", "5", "--workers", "1", "--no-progress")
        assert result.exit_code == 0, result.output
        runs[orientation] = run
    assert labels(runs["horizontal"]) == labels(runs["vertical"])
    upright = Image.open(next((runs["vertical"] / "images" / "train").glob("*.png")))
    assert upright.width == 32 and upright.height > upright.width
    result = run_cli("pack", "--run", runs["vertical"], "--no-progress")
    assert result.exit_code == 0, result.output
    manifest = json.loads((runs["vertical"] / "manifest.json").read_text())
    assert manifest["stages"]["pack"]["result"]["splits"]["train"]["vertical"] is True
    assert manifest["stages"]["pack"]["result"]["splits"]["train"]["mean_width"] > 32
    column = next((runs["vertical"] / "images" / "test").glob("*.png"))
    read = run_cli("predict", "--checkpoint", "en-print", "--vertical", "--json", column)
    assert read.exit_code == 0 and json.loads(read.output.splitlines()[-1])["file"] == str(column)


def test_vertical_is_refused_with_the_scanned_style(tmp_path, run_cli):
    result = run_cli("generate", "--run", tmp_path / "run", "--lang", "zh", "--orientation", "vertical",
                     "--style", "scanned", "--count", "10", "--no-progress")
    assert result.exit_code == 2 and "horizontal lines only" in result.output


def test_a_tiny_korean_run_end_to_end_with_a_charset_of_thousands(tmp_path, run_cli):
    run = tmp_path / "ko"
    steps = [("generate", "--lang", "ko", "--count", "160", "--seed", "2", "--max-words", "4", "--workers", "1"),
             ("pack", "--add-chars", ROOT / "corpora" / "ko" / "ksx1001.chars"),
             ("train", "--arch", "crnn-small", "--steps", "6", "--batch-size", "8", "--val-every", "6",
              "--device", "cpu"),
             ("eval", "--device", "cpu")]
    outputs = {}
    for command, *args in steps:
        result = run_cli(command, "--run", run, *args, "--no-progress")
        assert result.exit_code == 0, result.output
        outputs[command] = result.output
    train_labels = labels(run)
    assert all(unicodedata.is_normalized("NFC", t) for t in train_labels)
    assert not any(0x1100 <= ord(ch) <= 0x11FF for t in train_labels for ch in t)     # no loose jamo
    assert sum(script_of(ch) == "hangul" for t in train_labels for ch in t) > 500

    pack = json.loads((run / "manifest.json").read_text())["stages"]["pack"]["result"]
    charset = pack["charset"]["chars"]
    seen = set("".join(" ".join(t.split()) for t in train_labels))
    assert len(charset) >= 2350
    assert pack["charset"]["unseen_in_train"] == sum(1 for c in charset if c not in seen) > 1000
    assert f"{pack['charset']['unseen_in_train']} of them appear in no training line" in outputs["pack"]

    report = json.loads((run / "eval" / "test" / "report.json").read_text())
    assert report["breakdowns"]["by_script"]["hangul"]["chars"] > 0
    assert report["metrics"]["raw"]["wer"] is not None      # Korean is written with spaces
    assert "CER by script: hangul" in outputs["eval"]
    assert "Noto Sans CJK KR" in (run / "eval" / "test" / "report.html").read_text(encoding="utf-8")


def test_mixed_conventions_set_chinese_prose_unspaced_and_with_ascii_punctuation(tmp_path):
    from pipeline.text.corpus import Corpus

    zh = tmp_path / "zh.txt"
    zh.write_text("使用非 PostScript 的打印机配置 LPR 打印机队列，就是个好例子（见 CUPS 文档）。\n", encoding="utf-8")
    en = tmp_path / "en.txt"
    en.write_text("Use a printer that is not PostScript, (see the CUPS manual).\n", encoding="utf-8")
    as_written = Corpus.load([zh], 0.0, ["zh"], "lines")
    mixed = Corpus.load([zh], 0.0, ["zh"], "lines", "mixed")
    lines = [mixed.sample(random.Random(i), 30, 30) for i in range(200)]
    assert all(as_written.sample(random.Random(i), 30, 30) == clean_label(
        "使用非 PostScript 的打印机配置 LPR 打印机队列，就是个好例子（见 CUPS 文档）。") for i in range(20))
    assert any("非PostScript的" in line for line in lines) and any("非 PostScript 的" in line for line in lines)
    assert any("队列,就" in line and "(见" in line for line in lines) and any("队列，就" in line for line in lines)
    assert {ch for line in lines for ch in line} <= mixed.characters()
    english, plain = (Corpus.load([en], 0.0, ["en"], "lines", c) for c in ("mixed", "corpus"))
    assert all(english.sample(random.Random(i), 12, 12) == plain.sample(random.Random(i), 12, 12)
               for i in range(50))


def test_mixed_conventions_set_latin_double_quotes_as_pairs_of_single_ones(tmp_path):
    from pipeline.evaluation.metrics import fold_typography
    from pipeline.text.corpus import Corpus

    en = tmp_path / "en.txt"
    en.write_text('She said "no" to him, and "yes" to her, as was her way.\n', encoding="utf-8")
    mixed, plain = (Corpus.load([en], 0.0, ["en"], "lines", c) for c in ("mixed", "corpus"))
    lines = [mixed.sample(random.Random(i), 12, 12) for i in range(300)]
    paired = [line for line in lines if "\u2018\u2018no\u2019\u2019" in line]
    assert paired and any("\u201cno\u201d" in line for line in lines) and any('"no"' in line for line in lines)
    assert all("\u201c" not in line and "\u201d" not in line for line in paired)    # the whole line, not one pair
    assert all('"no"' in fold_typography(line) for line in paired)
    assert any("\u2018\u2018yes\u2019\u2019" in line for line in paired)
    assert {ch for line in lines for ch in line} <= mixed.characters()
    assert not any("\u2018\u2018" in plain.sample(random.Random(i), 12, 12) for i in range(300))

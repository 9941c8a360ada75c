"""Traditional Chinese (`--lang zh-Hant`): its fonts, corpus, local codes and charset."""

from __future__ import annotations

import csv
import json
import random
import unicodedata

from conftest import FONTS, ROOT
from pipeline.evaluation.tesseract import _traditional
from pipeline.resources import default_corpus, default_fonts
from pipeline.synth.fonts import load_font
from pipeline.text import codes
from pipeline.text.codes_cjk import BIG5_LEVEL1, GB2312_LEVEL1

HANT = FONTS / "zh-Hant"
CORPUS = ROOT / "corpora" / "zh-Hant"
TAIWAN = "臺灣資料辨識"


def test_every_bundled_traditional_font_draws_big5_level1_latin_and_punctuation():
    universe = set(BIG5_LEVEL1) | set("ABCxyz0123456789 NT$：，。（）「」")
    fonts = [load_font(p, universe) for p in sorted(HANT.glob("*.ttf"))]
    assert len({f.family for f in fonts}) == len(fonts) >= 3
    for font in fonts:
        assert font.missing("".join(universe)) == set(), font.name
        assert font.can_draw(TAIWAN)


def test_simplified_fonts_cannot_draw_a_traditional_line():
    """The coverage check is what keeps a Traditional line away from a GB2312-only font."""
    simplified = [load_font(p, set(TAIWAN)) for p in sorted((FONTS / "zh").glob("*.[ot]tf"))]
    assert simplified and not any(f.can_draw(TAIWAN) for f in simplified)
    assert len(set(BIG5_LEVEL1)) == 5401 and "臺" in BIG5_LEVEL1 and "台" in BIG5_LEVEL1


def test_the_traditional_corpus_is_nfc_drawable_and_traditional():
    files = default_corpus(("zh-Hant",))
    assert [p.rsplit("/", 1)[1] for p in files] == ["debian-reference.txt", "words.txt"]
    drawable = set.intersection(*(set(load_font(p, set(BIG5_LEVEL1) | set(map(chr, range(32, 127)))).drawable)
                                  for p in default_fonts(("zh-Hant",))))
    for path in files:
        text = open(path, encoding="utf-8").read()
        assert unicodedata.normalize("NFC", text) == text
        han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
        assert set(han) <= drawable
        assert _traditional([text])                      # more Traditional-only than simplified-only
    words = (CORPUS / "words.txt").read_text(encoding="utf-8").split()
    assert "資料" in words and "资料" not in words
    assert (CORPUS / "big5-level1.chars").read_text(encoding="utf-8").strip() == BIG5_LEVEL1


def test_taiwanese_codes_stay_inside_their_alphabet_and_use_local_forms():
    rng = random.Random(3)
    allowed = codes.alphabet(("zh-Hant",))
    lines = [codes.line(rng, ["資料"], 4, "zh-Hant") for _ in range(3000)]
    assert set("".join(lines)) <= allowed | set("資料")
    text = " ".join(lines)
    for form in ("民國", "NT$", "號", "+886 9", "上午"):
        assert form in text, form
    assert not set(text) & (set(GB2312_LEVEL1) - set(BIG5_LEVEL1))    # no simplified-only character


def test_a_zh_hant_run_draws_only_traditional_fonts(tmp_path, run_cli):
    run = tmp_path / "run"
    result = run_cli("generate", "--run", run, "--lang", "zh-Hant", "--count", "60", "--no-progress",
                     "--style", "print", "--workers", "1")
    assert result.exit_code == 0, result.output
    with open(run / "labels" / "train.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows and {r["font"] for r in rows} <= {p.name for p in HANT.glob("*.ttf")}
    assert _traditional([r["text"] for r in rows])
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stages"]["generate"]["config"]["lang"] == "zh-Hant"

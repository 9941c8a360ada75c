"""`ocrpipe eval`, `predict` and `export` with a small model trained by the project itself."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import build_run, copy_run
from pipeline.errors import OcrpipeError
from pipeline.models import checkpoint
from pipeline.evaluation import metrics
from pipeline.export import PixelModel
from pipeline.run.manifest import Manifest
from pipeline.datasets.images import STEPS


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """generate -> pack -> train a tiny crnn-small: a real run to evaluate (its accuracy is poor)."""
    return build_run(tmp_path_factory.mktemp("trained"), "--max-words", "2", "--style", "plain",
                     "--val-fraction", "0.15", "--test-fraction", "0.15", count=120,
                     train=["--arch", "crnn-small", "--steps", "30", "--batch-size", "8", "--val-every", "30",
                            "--lr", "3e-3", "--no-augment", "--device", "cpu", "--no-progress"])


@pytest.fixture
def run(trained, tmp_path) -> Path:
    return copy_run(trained, tmp_path / "run")


def folder_of_lines(run: Path, target: Path, count: int = 6) -> Path:
    """A labelled folder (labels.tsv) made of the run's own test images."""
    target.mkdir()
    rows = generated_test(run)[:count]
    lines = []
    for k, row in enumerate(rows):
        shutil.copy(run / row["filename"], target / f"line{k}.png")
        lines.append(f"line{k}.png\t{row['text']}\n")
    (target / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    return target


def generated_test(run: Path) -> list[dict[str, str]]:
    with open(run / "labels" / "test.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


# -- metrics ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reference, hypothesis, distance", [
    ("", "", 0),
    ("abc", "", 3),                      # all deletions
    ("", "xyz", 3),                      # all insertions
    ("kitten", "sitting", 3),            # the textbook case
    ("café", "cafe\u0301", 0),           # NFC before comparing
    ("a b", "a  b", 1),                  # raw: the extra space counts
])
def test_edit_distance(reference, hypothesis, distance):
    assert metrics.edit_distance(reference, hypothesis) == distance


def test_metric_table_by_hand():
    pairs = [("abcd", "abcd"), ("abcd", "abxd"), ("ab", ""), ("", "x")]
    m = metrics.score(pairs)
    assert m["lines"] == 4
    assert m["mean_edit_distance"] == pytest.approx((0 + 1 + 2 + 1) / 4)
    assert m["cer"] == pytest.approx(4 / 10)              # distances over reference characters
    assert m["exact_match"] == pytest.approx(1 / 4)
    assert m["wer"] == pytest.approx((0 + 1 + 1 + 1) / 3)  # over reference words
    # an empty set has no error rate (not a perfect one): None, shown as n/a
    assert metrics.score([]) == {"lines": 0, "mean_edit_distance": None, "cer": None, "wer": None, "exact_match": None}


def test_normalizations_side_by_side():
    pairs = [("``Well,'' he said -- fine.", "“Well,” he said — fine."),   # LaTeX quotes against curly ones
             ("Two  spaces", "Two spaces"), ("CASE", "case")]
    table = metrics.score_normalized(pairs)
    assert table["raw"]["exact_match"] == 0
    assert table["whitespace"]["exact_match"] == pytest.approx(1 / 3)
    assert table["typography"]["exact_match"] == pytest.approx(1 / 3)
    assert table["case"]["exact_match"] == pytest.approx(1 / 3)
    assert table["all"]["mean_edit_distance"] < table["raw"]["mean_edit_distance"]


@pytest.mark.parametrize("text, folded", [
    ("www.NonStopSigns.com", "wwwnonstopsignscom"),   # punctuation goes, case folds
    ("PUBLIC", "public"),
    ("Café 2024!", "café2024"),                       # letters beyond ASCII are letters
    ("--", ""),                                       # nothing but punctuation: nothing left
    ("한국어", "한국어"),                               # other scripts' letters stay
])
def test_the_word_protocol_keeps_letters_and_digits_case_insensitively(text, folded):
    assert metrics.letters_and_digits(text) == folded


@pytest.mark.parametrize("references, words", [
    (["PUBLIC", "house", "2024", "a b", "x"], True),  # 4 of 5 without a space
    (["PUBLIC", "house", "a b", "c d", "x"], False),
    (["找出归档和文件系统的差异", "正在移除", "提醒间隔每", "2024年", "x"], False),   # Chinese lines have no spaces
    ([], False),
])
def test_a_set_is_one_of_words_when_four_in_five_have_no_space(references, words):
    assert metrics.mostly_words(references) is words


def test_typography_folds_to_ascii():
    assert metrics.fold_typography("‘a’ “b” c–d e—f …") == "'a' \"b\" c-d e-f ..."
    assert metrics.fold_typography("``quoted'' -- x --- y") == '"quoted" - x - y'


def test_confusions_count_substitutions_insertions_and_deletions():
    found = {(c["reference"], c["prediction"]): c["count"] for c in
             metrics.confusions([("hello", "he1lo"), ("hello", "helo"), ("cat", "cats")])}
    assert found == {("l", "1"): 1, ("l", ""): 1, ("", "s"): 1}


# -- eval ------------------------------------------------------------------------------------
def test_eval_on_the_test_split_writes_every_output(run, run_cli):
    result = run_cli("eval", "--run", run, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "mean_edit_distance" in result.output and "report:" in result.output
    folder = run / "eval" / "test"
    report = json.loads((folder / "report.json").read_text())
    # Every line generate made for the test split is scored, also those pack kept out of the
    # training shards (too wide, characters outside the charset): scoring only the kept ones
    # would measure an easier set than was generated.
    packed = Manifest(run).stage("pack").result["splits"]["test"]
    assert packed["skipped"], "the shared run should have test lines that pack left out"
    assert report["restored"] == packed["skipped"] and not report["skipped"]
    assert report["lines"] == packed["count"] + sum(packed["skipped"].values()) == len(generated_test(run))
    assert "scored too:" in result.output
    assert set(report["metrics"]) == {"raw", "whitespace", "typography", "case", "all", "alnum"}
    assert {"by_length", "by_width", "by_font"} <= set(report["breakdowns"])
    assert report["checkpoint"]["sha256"] and report["data"]["sha256"] and report["lines_per_s"] > 0
    with open(folder / "predictions.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0]) == ["file", "reference", "prediction", "distance", "confidence"]
    distances = [int(r["distance"]) for r in rows]
    assert distances == sorted(distances, reverse=True) and len(rows) == report["lines"]
    page = (folder / "report.html").read_text()
    assert page.count("<img src='data:image/png;base64,") == min(50, len(rows))
    assert rows[0]["file"] in page and ("<del>" in page or "<ins>" in page)
    evaluations = Manifest(run).stage("eval").result["evaluations"]
    assert evaluations["test"]["report"] == "eval/test/report.html"


def test_eval_on_a_folder_and_on_a_scene_text_lmdb(run, run_cli, tmp_path):
    folder = folder_of_lines(run, tmp_path / "lines")
    with open(folder / "labels.tsv", "a", encoding="utf-8") as f:
        f.write("broken.png\tunreadable\n")
    (folder / "broken.png").write_bytes(b"not an image")
    by_folder = run_cli("eval", "--run", run, "--data", folder, "--no-progress")
    assert by_folder.exit_code == 0, by_folder.output
    assert "6 lines from folder" in by_folder.output and "left out of the scores: 1 unreadable image" in by_folder.output
    assert "headline: " in by_folder.output

    source = tmp_path / "scene"
    env = lmdb.open(str(source), map_size=32 << 20)
    with env.begin(write=True) as txn:
        for i, line in enumerate(sorted(folder.glob("line*.png")), 1):
            txn.put(b"image-%09d" % i, line.read_bytes())
            txn.put(b"label-%09d" % i, b"a label")
        txn.put(b"num-samples", b"6")
    env.close()
    by_lmdb = run_cli("eval", "--run", run, "--from-lmdb", source, "--name", "scene-lmdb", "--no-progress")
    assert by_lmdb.exit_code == 0, by_lmdb.output
    report = json.loads((run / "eval" / "scene-lmdb" / "report.json").read_text())
    assert report["lines"] == 6 and report["metrics"]["alnum"]["lines"] == 6
    assert set(Manifest(run).stage("eval").result["evaluations"]) == {"lines", "scene-lmdb"}


def test_eval_with_beam_search_and_a_lexicon(run, run_cli, tmp_path):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("apple banana cherry delta\n")
    result = run_cli("eval", "--run", run, "--beam", "4", "--lexicon", lexicon, "--name", "beam", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "beam search, width 4, lexicon" in json.loads((run / "eval" / "beam" / "report.json").read_text())["decoding"]
    alone = run_cli("eval", "--run", run, "--lexicon", lexicon)
    assert alone.exit_code == 2 and "add --beam" in alone.output


def test_eval_with_a_character_language_model(run, run_cli, small_corpus):
    result = run_cli("eval", "--run", run, "--beam", "4", "--lm", small_corpus[0].parent, "--no-progress")
    assert result.exit_code == 0, result.output
    report = json.loads((run / "eval" / "test-beam4-lm" / "report.json").read_text())
    assert "character LM of" in report["decoding"] and "weight 0.3, bonus 0.5" in report["decoding"]
    assert report["config"]["lm"] == [str(small_corpus[0].parent)]
    alone = run_cli("eval", "--run", run, "--lm", small_corpus[0])
    assert alone.exit_code == 2 and "--lm works on beam search results; add --beam" in alone.output
    missing = run_cli("eval", "--run", run, "--beam", "2", "--lm", run / "nothing.txt")
    assert missing.exit_code == 2 and "no such text file" in missing.output


def test_a_model_records_its_lm_settings_and_eval_uses_them(run, run_cli, small_corpus, tmp_path):
    trained, model = run, tmp_path / "tuned.pt"
    exported = run_cli("export", "--run", trained, "--format", "checkpoint", "--output", model,
                       "--lm-weight", "0.1", "--lm-bonus", "0")
    assert exported.exit_code == 0, exported.output
    assert checkpoint.load(model)["decoding"] == {"lm_weight": 0.1, "lm_bonus": 0.0}
    lm = ["--beam", "4", "--lm", small_corpus[0].parent, "--no-progress", "--checkpoint", model]
    own = run_cli("eval", "--run", trained, *lm, "--name", "own")
    given = run_cli("eval", "--run", trained, *lm, "--name", "given", "--lm-weight", "0.4")
    assert own.exit_code == given.exit_code == 0, own.output + given.output
    decoding = [json.loads((trained / "eval" / name / "report.json").read_text())["decoding"]
                for name in ("own", "given")]
    assert "weight 0.1, bonus 0.0" in decoding[0] and "weight 0.4, bonus 0.0" in decoding[1]
    again = run_cli("export", "--checkpoint", model, "--format", "checkpoint-half", "--output", tmp_path / "h.pt")
    assert again.exit_code == 0 and checkpoint.load(tmp_path / "h.pt")["decoding"]["lm_weight"] == 0.1
    onnx = run_cli("export", "--run", trained, "--format", "onnx", "--output", tmp_path / "m.onnx",
                   "--lm-weight", "0.1")
    assert onnx.exit_code == 2 and "checkpoint formats only" in onnx.output
    for args, message in ((("--format", "onnx", "--stretch", "1.25"), "checkpoint formats only"),
                          (("--format", "checkpoint", "--stretch", "1.1"), "multiple of 1/8")):
        refused = run_cli("export", "--run", trained, "--output", tmp_path / "s.pt", *args)
        assert refused.exit_code == 2 and message in refused.output and not (tmp_path / "s.pt").exists()


def test_export_averages_the_weights_of_two_checkpoints_of_one_network(run, run_cli, tmp_path):
    best = run / "train" / "best.pt"
    state = checkpoint.load(best)
    other = dict(state)          # the same network moved by a known step, as a fine-tuning would
    moved = {k: v + 1.0 if v.is_floating_point() else v for k, v in state["model"]["state_dict"].items()}
    older = {k: v for k, v in state["model"]["config"].items() if k != "whole_width"}   # as written before it
    other["model"] = {**state["model"], "config": older, "state_dict": moved}
    checkpoint.save(tmp_path / "other.pt", other)
    out = tmp_path / "avg.pt"
    result = run_cli("export", "--checkpoint", best, "--format", "checkpoint", "--output", out,
                     "--average-with", tmp_path / "other.pt", "--average-weight", "0.25")
    assert result.exit_code == 0 and "averaged with" in result.output, result.output
    mixed = checkpoint.load(out)
    assert mixed["averaged_with"]["weight"] == 0.25 and Path(mixed["averaged_with"]["checkpoint"]).name == "other.pt"
    for name, value in state["model"]["state_dict"].items():
        if value.is_floating_point():
            assert torch.allclose(mixed["model"]["state_dict"][name], value + 0.25, atol=1e-6), name
    # another charset (the bundled en's) is refused, and nothing is written
    refused = run_cli("export", "--checkpoint", best, "--format", "checkpoint", "--output", tmp_path / "x.pt",
                      "--average-with", "en")
    assert refused.exit_code == 2 and "another network or charset" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "x.pt").exists()
    reads_otherwise = dict(other, model={**other["model"], "config": {**older, "whole_width": True}})
    checkpoint.save(tmp_path / "whole.pt", reads_otherwise)        # same weights, another reading of a line
    refused = run_cli("export", "--checkpoint", best, "--format", "checkpoint", "--output", tmp_path / "x.pt",
                      "--average-with", tmp_path / "whole.pt")
    assert refused.exit_code == 2 and "another network" in refused.output
    alone = run_cli("export", "--checkpoint", best, "--format", "checkpoint", "--output", tmp_path / "y.pt",
                    "--average-weight", "0.3")
    assert alone.exit_code == 2 and "--average-weight needs --average-with" in alone.output


def test_lm_settings_left_to_the_model_fall_back_to_the_defaults():
    from pipeline.config import LM_DEFAULTS, DecodeConfig

    assert DecodeConfig().for_model({}) == DecodeConfig(lm_weight=LM_DEFAULTS["lm_weight"],
                                                        lm_bonus=LM_DEFAULTS["lm_bonus"])
    recorded = {"decoding": {"lm_weight": 0.1, "lm_bonus": 0.0}}
    assert DecodeConfig(lm_bonus=1.0).for_model(recorded) == DecodeConfig(lm_weight=0.1, lm_bonus=1.0)


def test_a_beam_search_eval_keeps_the_greedy_report(run, run_cli):
    assert run_cli("eval", "--run", run, "--no-progress").exit_code == 0
    greedy = (run / "eval" / "test" / "report.json").read_bytes()
    assert run_cli("eval", "--run", run, "--beam", "3", "--no-progress").exit_code == 0
    assert (run / "eval" / "test" / "report.json").read_bytes() == greedy
    assert "beam search, width 3" in json.loads((run / "eval" / "test-beam3" / "report.json").read_text())["decoding"]
    assert set(Manifest(run).stage("eval").result["evaluations"]) == {"test", "test-beam3"}


def test_eval_refuses_what_it_cannot_read(run, run_cli, tmp_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint")
    cases = [(["--checkpoint", bogus], "is not a readable checkpoint"),
             (["--checkpoint", tmp_path / "none.pt"], "no such checkpoint"),
             (["--split", "nope"], "has no split 'nope'"),
             (["--data", tmp_path / "missing"], f"--data {tmp_path / 'missing'}: no such folder"),
             (["--split", "test", "--data", tmp_path], "give one set")]
    for extra, message in cases:
        result = run_cli("eval", "--run", run, *extra, "--no-progress")
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_compare_with_tesseract_on_a_few_lines(run, run_cli, tmp_path):
    folder = folder_of_lines(run, tmp_path / "lines", count=4)
    result = run_cli("eval", "--run", run, "--data", folder, "--compare", "tesseract", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "tesseract raw" in result.output
    report = json.loads((run / "eval" / "lines" / "report.json").read_text())
    assert report["compare"]["name"] == "tesseract" and report["compare"]["version"].startswith("tesseract")
    assert set(report["compare"]["metrics"]) == set(report["metrics"])
    assert "read from the original image files" in report["compare"]["description"]
    with open(run / "eval" / "lines" / "predictions.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    # Clean printed words: Tesseract reads most of them.
    assert sum(int(r["compare_distance"]) for r in rows) < sum(len(r["reference"]) for r in rows) / 2


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_a_set_of_words_is_read_by_tesseract_as_words_and_headlined_by_words_right(run, run_cli, tmp_path):
    from test_pack import line_image

    folder = tmp_path / "words"
    folder.mkdir()
    words = ["PUBLIC", "house", "Garden", "2024", "STOP"]
    for k, word in enumerate(words):
        (folder / f"w{k}.png").write_bytes(line_image(word, 160))
    (folder / "labels.tsv").write_text("".join(f"w{k}.png\t{w}\n" for k, w in enumerate(words)), encoding="utf-8")
    result = run_cli("eval", "--run", run, "--data", folder, "--compare", "tesseract", "--no-progress")
    assert result.exit_code == 0, result.output
    report = json.loads((run / "eval" / "words" / "report.json").read_text())
    assert "--psm 8 (a single word)" in report["compare"]["description"]
    head = report["headline"]
    assert head["normalization"] == "alnum" and head["metric"] == "exact_match"
    assert head["tesseract"] == report["compare"]["metrics"]["alnum"]["exact_match"] >= 0.6
    assert "headline: words right, case-insensitive letters and digits" in result.output
    assert "tesseract alnum" in result.output


def test_compare_without_tesseract_says_how_to_install_it(run, run_cli, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_cli("eval", "--run", run, "--compare", "tesseract", "--no-progress")
    assert result.exit_code == 2
    assert "tesseract command is not installed" in result.output and "apt-get install tesseract-ocr" in result.output


# -- predict ---------------------------------------------------------------------------------
def test_predict_reads_images_of_odd_sizes_and_modes(trained, run_cli, tmp_path):
    source = Image.open(next((trained / "images" / "test").glob("*.png"))).convert("L")
    big = source.resize((source.width * 3, source.height * 3))
    odd = {"gray.png": source, "rgb.jpg": source.convert("RGB"), "rgba.png": source.convert("RGBA"),
           "palette.gif": source.convert("P"), "bilevel.png": source.convert("1"), "la.png": source.convert("LA"),
           "big.tiff": big, "wide16.png": Image.fromarray((np.asarray(source, dtype=np.uint16) * 257)),
           "speck.png": Image.new("L", (3, 1), 0)}
    for name, image in odd.items():
        image.save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image, ignored in folders")
    result = run_cli("predict", "--checkpoint", trained / "train" / "best.pt", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == len(odd)
    for line in lines:
        file, text, confidence = line.split("\t")
        assert Path(file).name in odd and 0.0 <= float(confidence) <= 1.0

    as_json = run_cli("predict", "--checkpoint", trained / "train" / "best.pt", "--json",
                      tmp_path / "gray.png", tmp_path / "missing.png")
    assert as_json.exit_code == 2 and "missing.png: no such file" in as_json.output
    record = json.loads(as_json.output.splitlines()[0])
    assert set(record) == {"file", "text", "confidence"}


def test_predict_reads_paths_from_stdin(trained, run_cli, tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import cli

    images = sorted((trained / "images" / "test").glob("*.png"))[:3]
    result = CliRunner().invoke(cli, ["predict", "--checkpoint", str(trained / "train" / "best.pt"), "-"],
                                input="\n".join(map(str, images)) + "\n")
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()] == list(map(str, images))


def test_predict_streams_in_order_across_windows(trained, run_cli):
    from click.testing import CliRunner

    from pipeline.cli import cli

    images = sorted((trained / "images" / "test").glob("*.png"))[:18]
    result = CliRunner().invoke(cli, ["predict", "--checkpoint", str(trained / "train" / "best.pt"),
                                      "--batch-size", "1", "-"], input="\n".join(map(str, images)) + "\n")
    assert result.exit_code == 0, result.output                       # windows of 16 lines at batch size 1
    assert [line.split("\t")[0] for line in result.output.splitlines()] == list(map(str, images))


def test_predict_says_why_a_very_tall_image_gives_no_text(trained, run_cli, tmp_path):
    Image.new("L", (40, 20000), 255).save(tmp_path / "tall.png")
    result = run_cli("predict", "--checkpoint", trained / "train" / "best.pt", tmp_path / "tall.png")
    assert result.exit_code == 2
    assert "tall.png: 40x20000 px is 1 px wide at the model's height 32, too narrow to hold text" in result.output


def test_predict_and_export_read_the_runs_model_by_default(trained, run_cli, tmp_path):
    image = next((trained / "images" / "test").glob("*.png"))
    result = run_cli("predict", "--run", trained, image)
    assert result.exit_code == 0, result.output
    assert f"model: {trained / 'train' / 'best.pt'}" in result.output
    exported = run_cli("export", "--run", trained, "--format", "checkpoint", "--output", tmp_path / "m.pt")
    assert exported.exit_code == 0 and (tmp_path / "m.pt").is_file()


def test_half_and_int8_checkpoints_are_smaller_and_read_the_same(trained, run_cli, tmp_path):
    full = run_cli("export", "--run", trained, "--format", "checkpoint", "--output", tmp_path / "full.pt")
    half = run_cli("export", "--run", trained, "--format", "checkpoint-half", "--output", tmp_path / "half.pt")
    int8 = run_cli("export", "--run", trained, "--format", "checkpoint-int8", "--output", tmp_path / "int8.pt")
    assert full.exit_code == half.exit_code == int8.exit_code == 0, full.output + half.output + int8.output
    assert "largest difference of a class probability 0.0e+00" in full.output and "(float16 weights)" in half.output
    assert "(int8 matrices" in int8.output
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size
    assert (tmp_path / "int8.pt").stat().st_size < 0.8 * (tmp_path / "half.pt").stat().st_size
    images = sorted((trained / "images" / "test").glob("*.png"))[:6]
    read = [run_cli("predict", "--checkpoint", tmp_path / name, *images).output.splitlines()[1:]
            for name in ("full.pt", "half.pt", "int8.pt")]
    texts = [[line.split("\t")[:2] for line in lines] for lines in read]
    assert texts[0] == texts[1] == texts[2]


def test_int8_weights_are_stored_apart_and_expand_back(trained, tmp_path):
    state = checkpoint.load(trained / "train" / "best.pt")
    weights = checkpoint.weights(state)
    stored = checkpoint.stored(weights, "int8")
    assert stored["head.weight:int8"].dtype == torch.int8 and "head.weight" not in stored
    assert all(stored[name].dtype == torch.float16 for name in weights if name.startswith("cnn.")
               and weights[name].is_floating_point())
    back = checkpoint.weights({"model": {"state_dict": stored}})
    assert back.keys() == weights.keys()
    step = weights["head.weight"].abs().amax(dim=1, keepdim=True) / 127
    assert bool(((back["head.weight"] - weights["head.weight"]).abs() <= step / 2 + 1e-7).all())
    del stored["head.weight:scale"]
    with pytest.raises(OcrpipeError, match="damaged.*head.weight.*export it again"):
        checkpoint.weights({"model": {"state_dict": stored}}, tmp_path / "m.pt")


# -- export ----------------------------------------------------------------------------------
def shard_batch(run: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from pipeline.text.charset import Charset
    from pipeline.datasets.loader import Collate, ShardDataset

    data = ShardDataset(sorted((run / "shards" / "test").glob("*.lmdb")))
    batch = Collate(Charset.load(run / "charset.json"), encode=False)([data[i] for i in range(min(8, len(data)))])
    return batch.images, batch.widths


@pytest.mark.parametrize("fmt,whole_width,stretch", [("torchscript", False, 1), ("onnx", False, 1), ("onnx", True, 1),
                                                    ("onnx", False, 1.25), ("torchscript", True, 1.5)])
def test_export_round_trip_on_test_lines(trained, run_cli, tmp_path, fmt, whole_width, stretch):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    source = trained / "train" / "best.pt"
    if whole_width:                           # the same weights, read with every column
        state = checkpoint.load(source)
        state["model"]["config"]["whole_width"] = True
        source = tmp_path / "whole.pt"
        torch.save(state, source)
    if stretch != 1:                          # the same weights, reading lines stretched
        stretched = tmp_path / "stretched.pt"
        made = run_cli("export", "--checkpoint", source, "--format", "checkpoint", "--output", stretched,
                       "--stretch", stretch)
        assert made.exit_code == 0, made.output
        source = stretched
    output = tmp_path / f"model.{'pt' if fmt == 'torchscript' else 'onnx'}"
    result = run_cli("export", "--checkpoint", source, "--format", fmt, "--output", output)
    assert result.exit_code == 0, result.output
    assert "matches the checkpoint" in result.output
    sidecar = json.loads(output.with_name(output.name + ".json").read_text())
    assert sidecar["height"] == 32 and sidecar["blank"] == 0 and sidecar["charset"]
    assert sidecar["preparation"] == list(STEPS) and "load_line" in sidecar["preparation_in_python"]
    assert ("ceil(" in sidecar["outputs"]["log_probs"]) == whole_width
    assert (f"floor({stretch:g} x its width)" in sidecar["outputs"]["lengths"]) == (stretch != 1)
    pixels, widths = shard_batch(trained)
    model, _ = checkpoint.model_from(checkpoint.load(source))
    assert model.config.whole_width == whole_width and model.config.stretch == stretch
    with torch.no_grad():
        expected, lengths = PixelModel(model)(pixels, widths)
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():    # newer torch deprecates TorchScript; it works
            warnings.simplefilter("ignore")
            got, got_lengths = torch.jit.load(str(output))(pixels, widths)
        got, got_lengths = got.numpy(), got_lengths.numpy()
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
        got, got_lengths = session.run(None, {"pixels": pixels.numpy(), "widths": widths.numpy()})
    assert np.array_equal(got_lengths, lengths.numpy())
    for k, n in enumerate(lengths.tolist()):
        assert np.allclose(got[:n, k], expected[:n, k].numpy(), atol=1e-4)


def test_export_refuses_a_file_that_is_not_a_checkpoint(run_cli, tmp_path):
    bogus = tmp_path / "x.pt"
    bogus.write_text("nope")
    result = run_cli("export", "--checkpoint", bogus, "--format", "torchscript", "--output", tmp_path / "m.pt")
    assert result.exit_code == 2 and "is not a readable checkpoint" in result.output


@pytest.mark.parametrize("where", ["below-a-file", "proc"])
def test_export_to_an_impossible_place_is_a_one_line_error(trained, run_cli, tmp_path, where):
    if where == "below-a-file":
        (tmp_path / "plain").write_text("a file, not a folder")
        output = tmp_path / "plain" / "model.pt"
    else:
        output = Path("/proc/ocrpipe-test/model.pt")
    result = run_cli("export", "--checkpoint", trained / "train" / "best.pt", "--format", "torchscript",
                     "--output", output)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "--output folder" in result.output and "not writable" in result.output


def test_onnx_export_without_onnx_says_what_to_install(trained, run_cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)          # as if it were not installed
    result = run_cli("export", "--checkpoint", trained / "train" / "best.pt", "--format", "onnx",
                     "--output", tmp_path / "m.onnx")
    assert result.exit_code == 2 and "pip install onnx" in result.output
    assert not (tmp_path / "m.onnx").exists()
    nested = run_cli("export", "--checkpoint", trained / "train" / "best.pt", "--format", "onnx",
                     "--output", tmp_path / "new" / "folder" / "m.onnx")
    assert nested.exit_code == 2 and not (tmp_path / "new").exists()      # nothing made before failing


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_reads_in_the_language_of_the_lines_or_says_what_to_install():
    from pipeline.evaluation import tesseract

    assert tesseract.language_for(["PUBLIC house", "2024"]) == "eng"
    installed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    for lines, language in ((["한국어 텍스트", "서울특별시"], "kor"), (["人民出版社", "数据线"], "chi_sim")):
        if language in installed:
            assert tesseract.language_for(lines) == language
        else:
            with pytest.raises(OcrpipeError, match=f"no {language} data; install it"):
                tesseract.language_for(lines)


def test_eval_of_shard_files_never_takes_a_splits_report_name(run, run_cli):
    result = run_cli("eval", "--run", run, "--shards", run / "shards" / "test", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (run / "eval" / "shards-test" / "report.json").is_file() and not (run / "eval" / "test").exists()


def test_confidence_ranking_counts_the_wrong_lines_among_the_least_confident():
    lines = [("a", "a", 0.9), ("b", "x", 0.1), ("c", "c", 0.8), ("d", "y", 0.95)]
    rank = metrics.confidence_ranking(lines, "raw", share=0.25)
    assert rank["wrong"] == 2 and rank["caught"] == 0.5          # the least confident line is wrong
    assert rank["auroc"] == 0.5                                   # 0.1 below both right ones, 0.95 above both
    perfect = metrics.confidence_ranking([("a", "b", 0.1), ("c", "c", 0.5), ("d", "d", 0.5)], "raw", 0.34)
    assert perfect["caught"] == 1.0 and perfect["auroc"] == 1.0
    assert metrics.confidence_ranking([("A", "a", 0.2)], "case")["caught"] is None   # nothing wrong


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_a_missing_tesseract_language_is_an_error_before_the_model_reads_a_line(tmp_path, run_cli, monkeypatch):
    installed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    if "kor" in installed:
        pytest.skip("tesseract has Korean data here")
    from pipeline import evaluate
    from test_pack import line_image

    folder = tmp_path / "ko"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(line_image("line", 200))
    (folder / "labels.tsv").write_text("a.png\t서울특별시\nb.png\t한국어 텍스트\n", encoding="utf-8")
    monkeypatch.setattr(evaluate, "_predict", lambda *a, **k: pytest.fail("the model read the lines first"))
    result = run_cli("eval", "--run", tmp_path / "run", "--checkpoint", "en-print", "--data", folder,
                     "--compare", "tesseract", "--no-progress")
    assert result.exit_code == 2 and "no kor data; install it" in result.output, result.output


def test_a_mistyped_set_leaves_no_run_folder_behind(run_cli, tmp_path):
    """The path is checked before eval takes the run's locks, which would make the folder."""
    for option in ("--data", "--shards", "--from-lmdb"):
        result = run_cli("eval", "--run", tmp_path / "new-run", "--checkpoint", "en", option, tmp_path / "typo")
        assert result.exit_code == 2 and f"{option} {tmp_path / 'typo'}: no such" in result.output, result.output
        assert not (tmp_path / "new-run").exists()


def test_a_refused_eval_removes_the_run_folder_it_made_and_keeps_one_that_was_there(run_cli, tmp_path):
    new = tmp_path / "new-run"
    missing = run_cli("eval", "--run", new, "--checkpoint", tmp_path / "missing.pt", "--split", "test")
    assert missing.exit_code == 2 and "missing.pt: no such checkpoint" in missing.output
    no_pack = run_cli("eval", "--run", new, "--checkpoint", "en", "--split", "test")
    assert no_pack.exit_code == 2 and "has no pack result" in no_pack.output
    assert not new.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    assert run_cli("eval", "--run", kept, "--checkpoint", "en", "--split", "test").exit_code == 2
    assert kept.is_dir()


def test_a_new_run_folder_another_command_holds_is_not_removed(tmp_path):
    from pipeline.run import locks
    from pipeline.utils.files import flocked

    run = tmp_path / "run"
    (run / locks.FOLDER).mkdir(parents=True)
    with flocked(run / locks.FOLDER / "train"):            # another command's lock, held now
        locks._remove_if_untouched(run)
        assert (run / locks.FOLDER / "train").exists()
    (run / "manifest.json").write_text("{}")
    locks._remove_if_untouched(run)
    assert (run / "manifest.json").exists()
    (run / "manifest.json").unlink()
    locks._remove_if_untouched(run)                        # free locks only: removed
    assert not run.exists()

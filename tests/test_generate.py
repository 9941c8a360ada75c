"""`ocrpipe generate` through the real CLI on a few dozen lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import SMALL_FONTS, generate_args
from pipeline.synth import lines
from pipeline.run.manifest import Manifest


def read_labels(run: Path, split: str) -> list[dict[str, str]]:
    with open(run / "labels" / f"{split}.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def snapshot(run: Path) -> dict[str, bytes]:
    """Every label file and image of a run, by relative path."""
    files = sorted(p for p in (run / "images").rglob("*.png")) + sorted((run / "labels").glob("*.tsv"))
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


def test_end_to_end_on_a_few_dozen_lines(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, "--val-fraction", "0.1", "--test-fraction", "0.1"))
    assert result.exit_code == 0, result.output
    assert "made 40 lines" in result.output

    rows = {split: read_labels(run, split) for split in lines.SPLITS}
    assert [len(rows[s]) for s in lines.SPLITS] == [32, 4, 4]
    for split, split_rows in rows.items():
        for row in split_rows:
            image = run / row["filename"]
            assert image.is_file() and row["filename"].startswith(f"images/{split}/")
            assert row["text"] and row["text"] == row["text"].strip() and "\t" not in row["text"]
            assert row["font"] in {f.name for f in SMALL_FONTS}
            assert int(row["height"]) == 32

    record = Manifest(run).stage("generate")
    assert record.status == "done" and record.config["count"] == 40 and record.config["style"] == "print"
    assert {Path(f["path"]).name for f in record.inputs["fonts"]} == {f.name for f in SMALL_FONTS}
    assert all(len(f["sha256"]) == 64 for f in record.inputs["fonts"] + record.inputs["corpus"])
    assert record.result["splits"]["train"]["count"] == 32 and record.started and record.finished

    status = run_cli("status", "--run", run)
    assert status.exit_code == 0 and "generate  done" in status.output and "32 train" in status.output


def test_no_text_is_shared_between_splits(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    assert run_cli(*generate_args(run, small_corpus, "--val-fraction", "0.2", "--test-fraction", "0.2",
                                  count=120)).exit_code == 0
    texts = {split: {r["text"] for r in read_labels(run, split)} for split in lines.SPLITS}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["val"]
    assert texts["val"] and texts["test"]


def test_output_is_identical_for_1_and_2_workers_and_for_shards(tmp_path, small_corpus, run_cli):
    args = ("--val-fraction", "0.2", "--style", "scene")
    one, two, sharded = tmp_path / "one", tmp_path / "two", tmp_path / "sharded"
    assert run_cli(*generate_args(one, small_corpus, *args, "--workers", "1", count=250)).exit_code == 0
    assert run_cli(*generate_args(two, small_corpus, *args, "--workers", "2", count=250)).exit_code == 0
    first = run_cli(*generate_args(sharded, small_corpus, *args, "--shard", "2/2", count=250))
    assert first.exit_code == 0 and "shard 2/2 done" in first.output
    assert Manifest(sharded).stage("generate").status == "partial"
    assert run_cli(*generate_args(sharded, small_corpus, *args, "--shard", "1/2", count=250)).exit_code == 0
    assert Manifest(sharded).stage("generate").status == "done"
    reference = snapshot(one)
    assert len(reference) > 200
    assert snapshot(two) == reference and snapshot(sharded) == reference


def test_the_shards_of_a_forced_generate_keep_each_others_lines(tmp_path, small_corpus, run_cli):
    """`--shard K/N --force` on every machine: the first shard clears the old run, the others
    (of the same settings) keep what it made."""
    run, reference = tmp_path / "run", tmp_path / "reference"
    assert run_cli(*generate_args(reference, small_corpus, count=120)).exit_code == 0
    assert run_cli(*generate_args(run, small_corpus, "--style", "plain", count=60)).exit_code == 0    # an old run
    for k in ("1/2", "2/2"):
        result = run_cli(*generate_args(run, small_corpus, "--shard", k, "--force", count=120))
        assert result.exit_code == 0, result.output
    assert Manifest(run).stage("generate").status == "done"
    assert snapshot(run) == snapshot(reference)


def test_styles_mix_line_by_line(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    assert run_cli(*generate_args(run, small_corpus, "--style", "plain,scene", count=60)).exit_code == 0
    rows = read_labels(run, "train")
    assert {r["style"] for r in rows} == {"plain", "scene"}
    assert all(r["background"] == "white" and r["text_color"] == "#000000" for r in rows if r["style"] == "plain")


def test_scanned_lines_of_a_mixture_record_what_was_drawn_not_the_overrides(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, "--style", "scanned,print", "--skew", "5",
                                    "--background", "noise", count=60))
    assert result.exit_code == 0, result.output
    rows = read_labels(run, "train")
    scanned = [r for r in rows if r["style"] == "scanned"]
    assert scanned and all(r["skew"] == "0.00" and r["background"] == "white" for r in scanned)
    assert all(r["background"] == "noise" for r in rows if r["style"] == "print")


def test_word_spacing_narrows_the_spaces_and_changes_nothing_else(tmp_path, small_corpus, run_cli):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(*generate_args(a, small_corpus, "--style", "plain", count=30)).exit_code == 0
    result = run_cli(*generate_args(b, small_corpus, "--style", "plain", "--word-spacing", "0.4,0.5", count=30))
    assert result.exit_code == 0, result.output
    before, after = read_labels(a, "train"), read_labels(b, "train")
    assert [(r["text"], r["font"]) for r in before] == [(r["text"], r["font"]) for r in after]
    spaced = [(int(x["width"]), int(y["width"])) for x, y in zip(before, after) if " " in x["text"]]
    single = [(x["width"], y["width"]) for x, y in zip(before, after) if " " not in x["text"]]
    assert spaced and all(narrow < wide for wide, narrow in spaced)
    assert single and all(w == v for w, v in single)
    bad = run_cli(*generate_args(tmp_path / "c", small_corpus, "--word-spacing", "1.2,0.5"))
    assert bad.exit_code == 2 and "--word-spacing 1.2,0.5" in bad.output and not (tmp_path / "c").exists()
    scanned = run_cli(*generate_args(tmp_path / "d", small_corpus, "--style", "scanned", "--word-spacing", "0.8"))
    assert scanned.exit_code == 2 and "--word-spacing" in scanned.output


def test_different_seeds_give_different_lines(tmp_path, small_corpus, run_cli):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(*generate_args(a, small_corpus, "--seed", "1")).exit_code == 0
    assert run_cli(*generate_args(b, small_corpus, "--seed", "2")).exit_code == 0
    assert read_labels(a, "train") != read_labels(b, "train")


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, small_corpus, run_cli, monkeypatch):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    args = ("--workers", "1", "--test-fraction", "0")
    assert run_cli(*generate_args(whole, small_corpus, *args, count=300)).exit_code == 0

    real_make = lines.LineMaker.make
    calls = {"n": 0}

    def make_then_interrupt(self, split, index):
        calls["n"] += 1
        if calls["n"] == 150:
            raise KeyboardInterrupt
        return real_make(self, split, index)

    monkeypatch.setattr(lines.LineMaker, "make", make_then_interrupt)
    stopped = run_cli(*generate_args(broken, small_corpus, *args, count=300))
    assert stopped.exit_code == 130 and "rerun the same command to resume" in stopped.output
    assert Manifest(broken).stage("generate").status == "failed"
    monkeypatch.setattr(lines.LineMaker, "make", real_make)

    resumed = run_cli(*generate_args(broken, small_corpus, *args, count=300))
    assert resumed.exit_code == 0, resumed.output
    assert "made 200 lines" in resumed.output          # chunks 0 (100 lines) was already finished
    assert snapshot(broken) == snapshot(whole)


def test_a_finished_run_is_kept_unless_forced(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    assert run_cli(*generate_args(run, small_corpus)).exit_code == 0
    before = snapshot(run)
    again = run_cli(*generate_args(run, small_corpus))
    assert again.exit_code == 0 and "up to date" in again.output
    other = run_cli(*generate_args(run, small_corpus, "--seed", "9"))
    assert other.exit_code == 2 and "pass --force" in other.output
    assert snapshot(run) == before                    # nothing lost
    forced = run_cli(*generate_args(run, small_corpus, "--seed", "9", "--force"))
    assert forced.exit_code == 0 and snapshot(run) != before


def test_holdout_fonts_are_used_for_the_test_split_only(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    assert run_cli(*generate_args(run, small_corpus, "--holdout-fonts", "1", "--test-fraction", "0.3",
                                  count=100)).exit_code == 0
    held = set(Manifest(run).stage("generate").inputs["holdout_families"])
    assert len(held) == 1
    assert {r["family"] for r in read_labels(run, "test")} == held
    assert not {r["family"] for r in read_labels(run, "train")} & held


def test_a_named_holdout_family_draws_the_test_split_only(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, "--holdout-family", "DejaVu Sans", "--test-fraction", "0.3",
                                    count=100))
    assert result.exit_code == 0, result.output
    assert Manifest(run).stage("generate").inputs["holdout_families"] == ["DejaVu Sans"]
    assert {r["family"] for r in read_labels(run, "test")} == {"DejaVu Sans"}
    assert "DejaVu Sans" not in {r["family"] for r in read_labels(run, "train") + read_labels(run, "val")}


def test_caps_only_fonts_get_upper_case_labels(tmp_path, small_corpus, run_cli):
    import trdg

    bebas = Path(trdg.__file__).parent / "fonts" / "latin" / "BEBAS___.ttf"
    run = tmp_path / "run"
    result = run_cli("generate", "--run", run, "--count", "30", "--fonts", bebas, "--corpus", small_corpus[1],
                     "--codes-fraction", "0", "--no-progress")
    assert result.exit_code == 0, result.output
    assert all(r["text"] == r["text"].upper() for r in read_labels(run, "train"))
    skipped = run_cli("generate", "--run", tmp_path / "r2", "--count", "30", "--fonts", bebas,
                      "--corpus", small_corpus[1], "--caps-fonts", "skip", "--no-progress")
    assert skipped.exit_code == 2 and "draws only capitals" in skipped.output


def test_invisible_text_is_skipped_and_counted_not_labelled(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, "--style", "plain", "--text-color", "#fefefe",
                                    "--test-fraction", "0", "--val-fraction", "0"))
    assert result.exit_code == 0, result.output
    assert "skipped 40 train lines: low_contrast" in result.output
    assert read_labels(run, "train") == [] and not list((run / "images" / "train").glob("*.png"))
    assert Manifest(run).stage("generate").result["skipped"]["train"] == {"low_contrast": 40}


@pytest.mark.parametrize("extra, message", [
    (["--fonts", "/no/such/font.ttf"], "--fonts /no/such/font.ttf: no such file"),
    (["--shard", "3/2"], "--shard 3/2: out of range"),
    (["--shard", "x"], "expected K/N"),
    (["--min-words", "5", "--max-words", "2"], "need 1 <= min-words <= max-words"),
    (["--holdout-fonts", "3"], "only 3 font families"),
    (["--holdout-family", "Comic Sans"], "--holdout-family Comic Sans: no font given has this family"),
    (["--text-color", "blurple"], "is not a colour"),
    (["--style", "print,fancy"], "unknown style fancy"),
    (["--style", "scanned", "--skew", "3"], "--skew: the scanned style draws its own geometry and ink"),
    (["--style", "print:2,scene:x"], "the share after ':' must be a number"),
    (["--text", "lines,poems"], "unknown text poems"),
])
def test_bad_options_get_one_line_and_exit_2(tmp_path, small_corpus, run_cli, extra, message):
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, *extra))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (run / "manifest.json").exists()


def test_a_background_folder_without_pictures_is_refused_before_any_line(tmp_path, small_corpus, run_cli):
    empty, mixed = tmp_path / "empty", tmp_path / "mixed"
    empty.mkdir()
    mixed.mkdir()
    (mixed / "README.txt").write_text("not a picture")
    for folder, message in ((empty, "no pictures there"), (mixed, "README.txt is not a picture")):
        run = tmp_path / f"run-{folder.name}"
        result = run_cli(*generate_args(run, small_corpus, "--background", "image", "--background-dir", folder))
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
        assert not (run / "manifest.json").exists()


def test_a_crash_inside_a_stage_is_recorded_as_failed(tmp_path, small_corpus, run_cli, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a library failed")

    monkeypatch.setattr(lines, "render", broken)
    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_cli(*generate_args(run, small_corpus, "--workers", "1"))
    record = Manifest(run).stage("generate")
    assert record.status == "failed" and "a library failed" in record.error


def test_bad_inputs_get_one_line_and_leave_no_manifest_section(tmp_path, small_corpus, run_cli):
    not_a_font = tmp_path / "notes.ttf"
    not_a_font.write_text("hello")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    cyrillic = tmp_path / "cyrillic.txt"
    cyrillic.write_text("Жизнь hello world\nplain words here\n", encoding="utf-8")
    courier = Path(SMALL_FONTS[2])
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases = [
        (["generate", "--fonts", not_a_font, "--corpus", small_corpus[0]], "notes.ttf: not a usable font file"),
        (["generate", "--fonts", courier, "--corpus", empty], "empty.txt: has no text"),
        (["generate", "--fonts", courier, "--corpus", cyrillic], "no font given draws 'Жзинь' used by 1 corpus entries"),
        (["generate", "--fonts", courier, "--corpus", small_corpus[0], "--run", blocker / "run"], "not writable"),
    ]
    for args, message in cases:
        run = ["--run", tmp_path / "run"] if "--run" not in args else []
        result = run_cli(*args, *run, "--count", "5", "--no-progress")
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_a_missing_trdg_is_named_with_how_to_install_it(tmp_path, small_corpus, run_cli, monkeypatch):
    import sys

    from pipeline.synth import trdg_compat

    trdg_compat.trdg_modules.cache_clear()
    monkeypatch.setitem(sys.modules, "trdg", None)                # as if it were not installed
    try:
        result = run_cli(*generate_args(tmp_path / "run", small_corpus))
    finally:
        trdg_compat.trdg_modules.cache_clear()
    assert result.exit_code == 2
    assert "trdg is not installed" in result.output and "pip install --no-deps trdg==1.8.0" in result.output
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_skip_uncovered_drops_those_lines_and_says_so(tmp_path, run_cli):
    cyrillic = tmp_path / "mixed.txt"
    cyrillic.write_text("Жизнь hello world\nplain words here today\n", encoding="utf-8")
    result = run_cli("generate", "--run", tmp_path / "run", "--fonts", SMALL_FONTS[2], "--corpus", cyrillic,
                     "--count", "10", "--skip-uncovered", "--codes-fraction", "0", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "dropped 1 entries of mixed.txt" in result.output
    assert all("Ж" not in r["text"] for r in read_labels(tmp_path / "run", "train"))


def test_manifest_schema_is_checked(tmp_path, small_corpus, run_cli):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"schema_version": 99, "stages": {}}))
    result = run_cli("status", "--run", run)
    assert result.exit_code == 2 and "schema_version 99" in result.output


def test_sign_words_are_the_same_for_1_and_2_workers(tmp_path, small_corpus, run_cli):
    args = ("--text", "words", "--max-words", "1", "--style", "scene")
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli(*generate_args(one, small_corpus, *args, "--workers", "1", count=150)).exit_code == 0
    assert run_cli(*generate_args(two, small_corpus, *args, "--workers", "2", count=150)).exit_code == 0
    assert snapshot(one) == snapshot(two)
    texts = [r["text"] for r in read_labels(one, "train")]
    assert texts and all(" " not in t for t in texts)

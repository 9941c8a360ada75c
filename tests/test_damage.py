"""Damaged files and state: each gets one line that says what to do, and the command it
suggests repairs it. (Lines cut short: a partial copy or download, a full disk.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import build_run, copy_run
from pipeline.run.manifest import Manifest
from test_pack import line_image, shard_dataset, write_scene_text_lmdb

TRAIN = ("--arch", "crnn-small", "--batch-size", "8", "--steps", "2", "--val-every", "2", "--no-progress",
         "--device", "cpu")


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("packed"), "--max-words", "2", "--val-fraction", "0.15",
                     "--test-fraction", "0.15", "--style", "plain", count=80)


def truncate_to_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output, result.output
    return result.output


def test_a_truncated_shard_is_refused_and_the_suggested_pack_repairs_it(packed, tmp_path, run_cli):
    run = copy_run(packed, tmp_path / "run")
    shard = run / "shards" / "train" / "shard-00000.lmdb"
    before = shard_dataset(run, "train")
    intact = (before.labels, [before[i][1].tobytes() for i in range(len(before))])
    truncate_to_half(shard)
    for args in (["train", *TRAIN], ["train", *TRAIN, "--force"],
                 ["eval", "--checkpoint", "en-print", "--split", "train", "--no-progress"],
                 ["eval", "--checkpoint", "en-print", "--shards", shard, "--no-progress"]):
        output = one_line_error(run_cli(*args, "--run", run))
        assert "truncated" in output or "changed" in output, (args, output)
        assert "ocrpipe pack" in output, (args, output)
    repaired = run_cli("pack", "--run", run, "--no-progress")
    assert repaired.exit_code == 0, repaired.output
    after = shard_dataset(run, "train")
    assert (after.labels, [after[i][1].tobytes() for i in range(len(after))]) == intact    # the same lines again
    assert run_cli("train", "--run", run, *TRAIN).exit_code == 0


def test_a_truncated_scene_text_lmdb_is_refused_in_one_line(tmp_path, run_cli):
    source = tmp_path / "download"
    write_scene_text_lmdb(source, [(line_image(w, 160), w) for w in ("PUBLIC", "house", "2024") * 40])
    truncate_to_half(source / "data.mdb")
    for args in (["pack", "--from-lmdb", source, "--split", "real", "--no-progress"],
                 ["eval", "--checkpoint", "en-print", "--from-lmdb", source, "--no-progress"]):
        output = one_line_error(run_cli(*args, "--run", tmp_path / "run"))
        assert "truncated" in output and "again" in output, output
    assert not (tmp_path / "run" / "shards").exists() or not any((tmp_path / "run" / "shards").rglob("*.lmdb"))
    record = Manifest(tmp_path / "run").stage("pack")
    assert record is None or record.status != "running"


def words_folder(folder: Path, rows: list[tuple[str, str]], encoding: str = "utf-8", header: str = "") -> Path:
    folder.mkdir()
    for name, text in rows:
        (folder / name).write_bytes(line_image(text, 200))
    (folder / "labels.tsv").write_bytes((header + "".join(f"{n}\t{t}\n" for n, t in rows)).encode(encoding))
    return folder


ROWS = [("a.png", "Café"), ("b.png", "house"), ("c.png", "2024")]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_labels_in_utf8_with_a_bom_or_utf16_are_read(tmp_path, run_cli, encoding):
    folder = words_folder(tmp_path / "words", ROWS, encoding)
    run = tmp_path / "run"
    result = run_cli("pack", "--run", run, "--from-folder", folder, "--split", "real", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(shard_dataset(run, "real").labels) == ["2024", "Café", "house"]


def test_labels_in_latin1_are_refused_with_the_line(tmp_path, run_cli):
    folder = words_folder(tmp_path / "words", ROWS, "latin-1")
    for args in (["pack", "--from-folder", folder], ["eval", "--checkpoint", "en-print", "--data", folder]):
        output = one_line_error(run_cli(*args, "--run", tmp_path / "run", "--no-progress"))
        assert "labels.tsv:1: not UTF-8" in output and "save the file as UTF-8" in output


def test_a_tab_inside_a_label_is_an_error_unless_a_header_names_the_columns(tmp_path, run_cli):
    folder = words_folder(tmp_path / "words", [("a.png", "Café\tBar"), ("b.png", "house")])
    output = one_line_error(run_cli("pack", "--run", tmp_path / "run", "--from-folder", folder, "--no-progress"))
    assert "labels.tsv:1: 3 tab-separated fields" in output
    named = words_folder(tmp_path / "named", [("a.png", "Café\tshop"), ("b.png", "house\tsign")],
                         header="filename\ttext\tsource\n")
    result = run_cli("pack", "--run", tmp_path / "run2", "--from-folder", named, "--split", "real", "--no-progress")
    assert result.exit_code == 0 and sorted(shard_dataset(tmp_path / "run2", "real").labels) == ["Café", "house"]


def test_images_pillow_cannot_convert_or_with_nan_pixels_are_counted_not_crashed(tmp_path, run_cli):
    import numpy as np
    from PIL import Image

    folder = words_folder(tmp_path / "words", ROWS)
    Image.new("RGB", (90, 30), (250, 250, 250)).convert("LAB").save(folder / "lab.tif")
    Image.new("RGB", (90, 30), (250, 250, 250)).convert("CMYK").save(folder / "cmyk.tif")
    nan = np.full((30, 90), 200.0, dtype=np.float32)
    nan[5, 5] = np.nan
    Image.fromarray(nan, mode="F").save(folder / "nan.tif")
    with open(folder / "labels.tsv", "a", encoding="utf-8") as f:
        f.write("lab.tif\tlab\ncmyk.tif\tcmyk\nnan.tif\tnan\n")
    run = tmp_path / "run"
    result = run_cli("pack", "--run", run, "--from-folder", folder, "--split", "real", "--no-progress")
    assert result.exit_code == 0, result.output
    skipped = Manifest(run).stage("pack").result["splits"]["real"]["skipped"]
    assert skipped == {"unreadable_image": 1}                  # the NaN one; LAB and CMYK are read
    assert len(shard_dataset(run, "real")) == 5
    predicted = run_cli("predict", "--checkpoint", "en-print", folder / "lab.tif", folder / "nan.tif",
                        "--run", run)
    assert "Traceback" not in predicted.output and "NaN or infinite" in predicted.output

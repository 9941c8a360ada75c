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


def test_sigterm_stops_generate_cleanly_and_the_same_command_finishes_it(tmp_path, small_corpus):
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, generate_args
    from test_generate import snapshot

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    reference, run = tmp_path / "reference", tmp_path / "run"

    def generate(folder: Path) -> subprocess.Popen:
        args = generate_args(folder, small_corpus, "--workers", "2", count=3000)
        return subprocess.Popen([sys.executable, "-m", "pipeline", *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    assert generate(reference).wait() == 0
    proc = generate(run)
    parts = run / "labels" / ".parts"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and len(list(parts.glob("*.json"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("generate finished before the signal arrived")
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert "interrupted; rerun the same command to resume" in err
    assert Manifest(run).stage("generate").status == "failed"
    assert generate(run).wait() == 0
    assert snapshot(run) == snapshot(reference)


def test_ctrl_c_in_eval_is_exit_130_in_one_line(packed, tmp_path, run_cli, monkeypatch):
    from pipeline.models import inference

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(inference, "forward", interrupted)
    result = run_cli("eval", "--run", packed, "--checkpoint", "en-print", "--no-progress")
    assert result.exit_code == 130 and result.output.strip() == "Error: eval interrupted; run it again"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB file system (tmpfs), where the machine lets the tests mount one."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (not root, or no mount in this container)")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], capture_output=True)     # lazy: a file a test left open


def test_a_full_disk_is_one_line_that_names_it_for_every_stage(small_disk, packed, small_corpus, run_cli):
    import shutil

    from conftest import generate_args

    full = run_cli(*generate_args(small_disk / "run", small_corpus, count=2000))
    assert "no space left on the device holding" in one_line_error(full)
    record = Manifest(small_disk / "run").stage("generate")
    assert record is None or record.status != "running" or "interrupted" in run_cli("status", "--run",
                                                                                  small_disk / "run").output
    shutil.rmtree(small_disk / "run")
    run = small_disk / "packed"
    run.mkdir()
    for name in ("manifest.json", "charset.json"):
        shutil.copy(packed / name, run / name)
    shutil.copytree(packed / "labels", run / "labels")
    os.symlink(packed / "images", run / "images")        # the images elsewhere; the shards must land here
    filler = small_disk / "filler"
    with open(filler, "wb") as f:                        # leave ~40 kB: the shards need more
        f.write(b"0" * max(0, shutil.disk_usage(small_disk).free - 40_000))
    output = one_line_error(run_cli("pack", "--run", run, "--force", "--no-progress"))
    assert "no space left on the device holding" in output


def test_a_full_disk_during_training_is_one_line_and_marks_nothing_running(small_disk, packed, run_cli):
    import shutil

    run = small_disk / "run"
    run.mkdir()
    for name in ("manifest.json", "charset.json"):
        shutil.copy(packed / name, run / name)
    for name in ("labels", "images", "shards"):
        os.symlink(packed / name, run / name)
    with open(small_disk / "filler", "wb") as f:         # room for the manifest, not for a checkpoint
        f.write(b"0" * max(0, shutil.disk_usage(small_disk).free - 60_000))
    output = one_line_error(run_cli("train", "--run", run, *TRAIN))
    assert "no space left on the device holding" in output
    assert Manifest(run).stage("train").status != "running" or "interrupted" in run_cli("status", "--run",
                                                                                      run).output
    assert not list((run / "train").glob(".*.tmp")) if (run / "train").exists() else True


@pytest.mark.parametrize("edit, message", [
    (lambda doc: doc.update(stages=[]), "'stages' is a list"),
    (lambda doc: doc["stages"].update(pack="done"), "stage 'pack' is a str"),
    (lambda doc: doc["stages"]["pack"]["result"].pop("charset"), "pack result is damaged (no 'charset')"),
    (lambda doc: doc["stages"]["pack"]["result"].update(splits=None), "'splits' is a NoneType"),
    (lambda doc: doc["stages"]["pack"].update(status="finished"), "status 'finished'"),
])
def test_a_hand_edited_manifest_is_one_line_naming_what_broke(packed, tmp_path, run_cli, edit, message):
    import json

    run = copy_run(packed, tmp_path / "run")
    doc = json.loads((run / "manifest.json").read_text())
    edit(doc)
    (run / "manifest.json").write_text(json.dumps(doc))
    for args in (["status"], ["train", *TRAIN], ["pack", "--no-progress"]):
        output = one_line_error(run_cli(*args, "--run", run))
        assert message in output and ("restore" in output or "--force" in output), (args, output)


def test_a_checkpoint_whose_config_does_not_fit_its_weights_is_refused(tmp_path, run_cli):
    from pipeline.models import checkpoint
    from pipeline.resources import bundled_models

    state = checkpoint.load(bundled_models()["en-print"])
    wrong = dict(state, model={**state["model"], "config": {**state["model"]["config"], "arch": "crnn"}})
    checkpoint.save(tmp_path / "wrong.pt", wrong)
    no_charset = {k: v for k, v in state.items() if k != "charset"}
    checkpoint.save(tmp_path / "nocharset.pt", no_charset)
    image = tmp_path / "line.png"
    image.write_bytes(line_image("house", 160))
    for name, message in (("wrong.pt", "does not fit its weights"), ("nocharset.pt", "damaged ocrpipe checkpoint")):
        for args in (["predict", "--checkpoint", tmp_path / name, image],
                     ["export", "--checkpoint", tmp_path / name, "--format", "checkpoint", "--output",
                      tmp_path / "out.pt"]):
            output = one_line_error(run_cli(*args, "--run", tmp_path / "run"))
            assert message in output, output
    assert not (tmp_path / "out.pt").exists()


def test_export_refuses_a_folder_where_its_sidecar_goes_before_writing(tmp_path, run_cli):
    (tmp_path / "model.onnx.json").mkdir()
    output = one_line_error(run_cli("export", "--checkpoint", "en-print", "--format", "torchscript", "--output",
                                    tmp_path / "model.onnx", "--run", tmp_path / "run"))
    assert "is a folder" in output and not (tmp_path / "model.onnx").exists()


def test_limits_that_protect_the_machine_are_one_line_each(tmp_path, run_cli):
    run = tmp_path / "run"
    for args, message in ((["pack", "--height", "4096"], "at most 128 px"),
                          (["generate", "--count", "1000000000"], "at most 100,000,000 lines"),
                          (["pack", "--workers", "1000"], "at most 256"),
                          (["generate", "--workers", "1000"], "at most 256")):
        assert message in one_line_error(run_cli(*args, "--run", run)), args
    assert not run.exists() or not any(run.iterdir())


def test_a_pack_that_keeps_no_line_is_an_error_not_done(packed, tmp_path, run_cli):
    run = copy_run(packed, tmp_path / "run")
    output = one_line_error(run_cli("pack", "--run", run, "--max-width", "8", "--force", "--no-progress"))
    assert "kept none of the" in output and "too wide" in output and "--max-width" in output
    assert Manifest(run).stage("pack").status == "failed"


def test_an_empty_language_model_and_odd_folder_entries(packed, tmp_path, run_cli):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    output = one_line_error(run_cli("eval", "--run", packed, "--checkpoint", "en-print", "--beam", "2", "--lm", empty,
                                    "--no-progress"))
    assert "no text to learn from" in output
    folder = words_folder(tmp_path / "words", ROWS)
    (folder / "labels.tsv").unlink()
    for name, text in ROWS:
        (folder / name).rename(folder / f"{text}.png")
    (folder / "._house.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")        # a macOS copy's shadow file
    result = run_cli("pack", "--run", tmp_path / "run", "--from-folder", folder, "--split", "real", "--no-progress")
    assert result.exit_code == 0 and sorted(shard_dataset(tmp_path / "run", "real").labels) == ["2024", "Café", "house"]
    nul = words_folder(tmp_path / "nul", [("a.png", "ok"), ("b.png", "bad\x00")])
    assert "labels.tsv:2: a NUL character" in one_line_error(run_cli("pack", "--run", tmp_path / "run2",
                                                                     "--from-folder", nul, "--no-progress"))


def test_scratch_folders_of_killed_processes_are_removed_by_the_next_one(tmp_path):
    import subprocess
    import sys

    from pipeline.utils.files import scratch_dir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / ".scratch" / f"eval-{dead.pid}"           # what an eval killed with -9 leaves
    left.mkdir(parents=True)
    (left / "restored.lmdb").write_bytes(b"x" * 100)
    with scratch_dir(tmp_path, "eval") as folder:
        assert folder.is_dir() and not left.exists()
    assert not folder.exists()


def test_bit_rot_in_a_shard_is_caught_on_read_even_with_its_size_and_time_unchanged(packed, tmp_path, run_cli):
    run = copy_run(packed, tmp_path / "run")
    shard = run / "shards" / "train" / "shard-00000.lmdb"
    line = shard_dataset(run, "train")[0][1].tobytes()
    data = bytearray(shard.read_bytes())
    at = data.find(line) + len(line) // 2
    assert at > len(line) // 2
    data[at] ^= 0xFF                                              # one byte of one line's pixels
    stat = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    for args in (["train", *TRAIN], ["eval", "--checkpoint", "en-print", "--split", "train", "--no-progress"]):
        output = one_line_error(run_cli(*args, "--run", run))
        assert "line 0 is damaged" in output and "ocrpipe pack --force" in output, (args, output)
    assert run_cli("pack", "--run", run, "--force", "--no-progress").exit_code == 0
    assert shard_dataset(run, "train")[0][1].tobytes() == line
    assert run_cli("train", "--run", run, *TRAIN).exit_code == 0


def test_a_changed_label_in_a_shard_is_caught_when_it_is_opened(packed, tmp_path, run_cli):
    run = copy_run(packed, tmp_path / "run")
    shard = run / "shards" / "train" / "shard-00000.lmdb"
    label = shard_dataset(run, "train").labels[0]
    data = bytearray(shard.read_bytes())
    quoted = ('"' + label + '"').encode()
    # Every copy: LMDB may keep an older copy of the index in a freed page, and the first copy
    # found is then not the one read.
    places = [i for i in range(len(data)) if data.startswith(quoted, i)]
    assert places
    for at in places:
        at += 1
        data[at] = ord("Q") if data[at] != ord("Q") else ord("R")     # a label still valid JSON, but another
    stat = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))         # same size, same time
    output = one_line_error(run_cli("train", *TRAIN, "--run", run))
    assert "its labels are damaged" in output and "ocrpipe pack --force" in output

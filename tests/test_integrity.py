"""Inputs that used to give silently wrong results: a file labelled twice, an import over a
generated split, an image replaced after pack, two commands on one run at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import generate_args
from pipeline.run.manifest import Manifest
from test_generate import read_labels
from test_pack import generated, line_image, shard_dataset  # noqa: F401  (generated: a fixture)


def labelled_folder(folder: Path, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir()
    for name, text in rows:
        if not (folder / name).exists():
            (folder / name).write_bytes(line_image(text, 260))
    (folder / "labels.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in rows), encoding="utf-8")
    return folder


def test_a_file_labelled_twice_is_an_error_that_names_both_rows(tmp_path, run_cli):
    folder = labelled_folder(tmp_path / "lines", [("a.png", "apple"), ("b.png", "banana"), ("a.png", "apricot")])
    for args in (("pack", "--from-folder", folder), ("eval", "--data", folder)):
        result = run_cli(*args, "--run", tmp_path / "run", "--no-progress")
        assert result.exit_code == 2, result.output
        assert "a.png is labelled twice, 'apple' on line 1 and 'apricot' on line 3" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "shards").exists()


def test_a_repeated_identical_row_is_counted_and_kept_once(tmp_path, run_cli):
    folder = labelled_folder(tmp_path / "lines", [("a.png", "apple"), ("b.png", "banana"), ("a.png", "apple")])
    run = tmp_path / "run"
    result = run_cli("pack", "--run", run, "--from-folder", folder, "--split", "real", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "1 repeated rows of labels.tsv counted once" in result.output
    assert sorted(shard_dataset(run, "real").labels) == ["apple", "banana"]
    scored = run_cli("eval", "--run", run, "--data", folder, "--no-progress")
    assert scored.exit_code == 0, scored.output
    assert "2 lines from folder" in scored.output and "(1 repeated rows of labels.tsv counted once)" in scored.output


def test_an_import_does_not_replace_a_generated_split_unless_asked(generated, run_cli, tmp_path):
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0
    before = Manifest(generated).stage("pack").result["splits"]["train"]["count"]
    folder = labelled_folder(tmp_path / "lines", [("a.png", "apple"), ("b.png", "banana")])

    refused = run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "train", "--no-progress")
    assert refused.exit_code == 2, refused.output
    assert f"split 'train' of {generated} already holds {before} lines from generate" in refused.output
    assert "--split real" in refused.output and "--force" in refused.output
    assert len(shard_dataset(generated, "train")) == before

    again = run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "real", "--no-progress")
    assert again.exit_code == 0, again.output
    assert run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "real",
                   "--no-progress").exit_code == 0          # re-importing the same folder updates its split
    forced = run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "train", "--force",
                     "--no-progress")
    assert forced.exit_code == 0, forced.output
    assert sorted(shard_dataset(generated, "train").labels) == ["apple", "banana"]


def test_a_repack_with_another_charset_says_which_imported_split_it_left_out(generated, run_cli, tmp_path):
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0
    folder = labelled_folder(tmp_path / "lines", [("a.png", "apple"), ("b.png", "banana")])
    assert run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "real",
                   "--no-progress").exit_code == 0
    extra = tmp_path / "extra.txt"
    extra.write_text("\u00e6\n", encoding="utf-8")             # one more class: every index after it shifts
    result = run_cli("pack", "--run", generated, "--add-chars", extra, "--force", "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"split real (folder {folder}) was packed with the earlier charset and is left out now" in result.output
    assert f"--from-folder {folder} --split real" in result.output
    assert "real" not in Manifest(generated).stage("pack").result["splits"]


def test_an_image_replaced_after_pack_is_noticed(generated, run_cli):
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0
    assert "up to date" in run_cli("pack", "--run", generated, "--no-progress").output
    image = generated / read_labels(generated, "train")[3]["filename"]
    image.write_bytes(line_image("tampered", 200))

    changed = run_cli("pack", "--run", generated, "--no-progress")
    assert changed.exit_code == 2, changed.output
    assert image.name in changed.output and "changed since generate" in changed.output
    forced = run_cli("pack", "--run", generated, "--no-progress", "--force")
    assert forced.exit_code == 0, forced.output
    assert "up to date" in run_cli("pack", "--run", generated, "--no-progress").output


HOLDER = """
import sys, time
from pathlib import Path
from pipeline.run import locks
with locks.hold(Path(sys.argv[1]), sys.argv[2] if sys.argv[2] != "-" else None, tuple(sys.argv[3:])):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def hold_lock():
    """Run a process that holds a run's stage locks (write, then reads) until the test ends."""
    started = []

    def hold(run: Path, write: str | None, *read: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), write or "-", *read],
                                stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
        assert proc.stdout.readline().strip() == "held"
        started.append(proc)
        return proc

    yield hold
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_second_command_on_a_busy_stage_names_the_process(generated, run_cli, small_corpus, hold_lock):
    writer = hold_lock(generated, "generate")
    again = run_cli(*generate_args(generated, small_corpus, "--force", count=60))
    assert again.exit_code == 2, again.output
    assert f"(pid {writer.pid}) is using its generate files now" in again.output
    assert read_labels(generated, "train"), "the finished generate is untouched"
    packing = run_cli("pack", "--run", generated, "--no-progress")    # reads generate's files
    assert packing.exit_code == 2 and "is using its generate files" in packing.output
    writer.kill()
    writer.wait()
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0     # freed with its process

    reader = hold_lock(generated, None, "generate")                  # e.g. a pack reading the images
    forced = run_cli(*generate_args(generated, small_corpus, "--force", count=60))
    assert forced.exit_code == 2 and f"(pid {reader.pid})" in forced.output
    assert read_labels(generated, "train")


def test_status_says_interrupted_when_no_process_holds_a_running_stage(generated, run_cli, hold_lock):
    Manifest(generated).begin("pack", {})          # what a pack killed with -9 leaves behind
    assert "interrupted" in run_cli("status", "--run", generated).output
    hold_lock(generated, "pack", "generate")
    shown = run_cli("status", "--run", generated).output
    assert "running" in shown and "interrupted" not in shown


def test_every_stage_records_its_environment_and_status_says_when_it_differs(generated, run_cli):
    import json

    record = Manifest(generated).stage("generate")
    env = record.environment
    assert env["python"] and env["cpu"] and env["packages"]["pillow"] and env["packages"]["numpy"]
    assert "torch" in env["packages"]          # read from metadata: generate never imports torch
    assert "note:" not in run_cli("status", "--run", generated).output
    doc = json.loads((generated / "manifest.json").read_text())
    doc["stages"]["generate"]["environment"]["packages"]["pillow"] = "9.0.0"
    (generated / "manifest.json").write_text(json.dumps(doc))
    output = run_cli("status", "--run", generated).output
    assert f"note: generate was made with other versions than this environment has (pillow 9.0.0 -> " \
           f"{env['packages']['pillow']})" in output


def test_evaluations_recorded_at_once_never_lose_each_other(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    manifest = Manifest(tmp_path / "run")

    def record(k: int) -> None:
        Manifest(tmp_path / "run").add_entry("eval", "evaluations", f"set{k}", {"lines": k}, {}, {})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record, range(40)))
    record = manifest.stage("eval")
    assert record.status == "done" and sorted(record.result["evaluations"]) == sorted(f"set{k}" for k in range(40))


def test_a_folder_named_by_text_refuses_broken_links_and_subfolders_it_would_not_read(tmp_path, run_cli):
    folder = tmp_path / "crops"
    folder.mkdir()
    (folder / "apple.png").write_bytes(line_image("apple", 200))
    (folder / "banana.png").symlink_to(tmp_path / "gone.png")
    result = run_cli("pack", "--run", tmp_path / "run", "--from-folder", folder, "--no-progress")
    assert result.exit_code == 2 and "banana.png is a link to" in result.output and "does not exist" in result.output
    (folder / "banana.png").unlink()
    (folder / "more").mkdir()
    (folder / "more" / "cherry.png").write_bytes(line_image("cherry", 200))
    for args in (("pack", "--from-folder", folder), ("eval", "--checkpoint", "en-print", "--data", folder)):
        result = run_cli(*args, "--run", tmp_path / "run", "--no-progress")
        assert result.exit_code == 2, result.output
        assert "subfolder more holds 1 images, and only the folder's own images are read" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "shards").exists()


def test_an_imported_split_is_scored_whole_from_any_working_directory(tmp_path, run_cli, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    labelled_folder(tmp_path / "work" / "lines", [("a.png", "apple"), ("b.png", "banana")])
    (tmp_path / "work" / "lines" / "wide.png").write_bytes(line_image("cherry", 4000))   # wider than the cap
    with open(tmp_path / "work" / "lines" / "labels.tsv", "a", encoding="utf-8") as f:
        f.write("wide.png\tcherry\n")
    run = tmp_path / "run"
    assert run_cli("pack", "--run", run, "--from-folder", "lines", "--split", "real", "--no-progress").exit_code == 0
    monkeypatch.chdir(tmp_path)                                   # another directory: "lines" is not here
    result = run_cli("eval", "--run", run, "--checkpoint", "en-print", "--split", "real", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "scored too: 1 too wide" in result.output and "left out" not in result.output

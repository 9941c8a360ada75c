"""`ocrpipe pack` and the shard format, on small runs made by `ocrpipe generate`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import lmdb
import numpy as np
import pytest
from PIL import Image

from conftest import generate_args
from pipeline.datasets import building as pack_stage
from pipeline.datasets import shards
from pipeline.datasets.loader import ShardDataset
from pipeline.run.manifest import Manifest
from pipeline.datasets.images import decode_image, normalize
from test_generate import read_labels


@pytest.fixture
def generated(tmp_path, small_corpus, run_cli) -> Path:
    run = tmp_path / "run"
    result = run_cli(*generate_args(run, small_corpus, "--val-fraction", "0.1", "--test-fraction", "0.1", count=80))
    assert result.exit_code == 0, result.output
    return run


def shard_dataset(run: Path, split: str) -> ShardDataset:
    return ShardDataset(sorted((run / "shards" / split).glob("shard-*.lmdb")))


def line_image(text: str, width: int, height: int = 40) -> bytes:
    """A real line image: `text` drawn by Pillow on white, as PNG bytes."""
    from PIL import ImageDraw, ImageFont

    from conftest import FONTS

    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).text((2, 6), text, fill=0, font=ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 24))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_round_trip_keeps_pixels_and_labels(generated, run_cli):
    every_char = generated.parent / "chars.txt"     # so that no val/test line is outside it
    every_char.write_text("".join({c for s in ("train", "val", "test") for r in read_labels(generated, s)
                                   for c in r["text"]}), encoding="utf-8")
    result = run_cli("pack", "--run", generated, "--no-progress", "--shard-size", "30", "--charset", every_char)
    assert result.exit_code == 0, result.output
    for split in ("train", "val", "test"):
        rows = read_labels(generated, split)
        data = shard_dataset(generated, split)
        assert len(data) == len(rows) and data.labels == [r["text"] for r in rows]
        for i, row in enumerate(rows):
            expected = normalize(decode_image(generated / row["filename"]), 32)
            _, pixels, label = data[i]
            assert np.array_equal(pixels, expected) and label == row["text"]
            assert data.sources[i] == row["filename"] and data.fonts[i] == row["font"]
    assert len(list((generated / "shards" / "train").glob("*.lmdb"))) == 3      # 64 lines, 30 a shard
    record = Manifest(generated).stage("pack")
    assert record.status == "done" and record.upstream["generate"]
    assert record.result["charset"]["source"] == f"--charset {every_char}"
    charset = json.loads((generated / "charset.json").read_text())
    assert charset["blank"] == 0 and " " in charset["chars"]
    assert record.result["charset"]["size"] == len(charset["chars"]) + 1
    train = record.result["splits"]["train"]
    assert train["count"] == 64 and sum(train["width_histogram"].values()) == 64
    assert all(len(s["sha256"]) == 64 for s in train["shards"])
    status = run_cli("status", "--run", generated)
    assert "pack      done" in status.output


def test_a_second_pack_is_up_to_date(generated, run_cli):
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0
    again = run_cli("pack", "--run", generated, "--no-progress")
    assert again.exit_code == 0 and "up to date" in again.output


def test_shards_do_not_depend_on_the_worker_count(generated, run_cli, tmp_path):
    assert run_cli("pack", "--run", generated, "--no-progress", "--workers", "1").exit_code == 0
    one = shard_dataset(generated, "train")
    first = [one[i][1] for i in range(len(one))]
    assert run_cli("pack", "--run", generated, "--no-progress", "--workers", "2", "--force").exit_code == 0
    two = shard_dataset(generated, "train")
    assert two.labels == one.labels and all(np.array_equal(two[i][1], first[i]) for i in range(len(two)))


def test_refuses_a_missing_or_changed_upstream(generated, run_cli, tmp_path):
    empty = run_cli("pack", "--run", tmp_path / "nothing", "--no-progress")
    assert empty.exit_code == 2 and "has no generate result" in empty.output

    image = generated / read_labels(generated, "train")[0]["filename"]
    image.write_bytes(line_image("tampered", 200))
    changed = run_cli("pack", "--run", generated, "--no-progress")
    assert changed.exit_code == 2 and "changed since generate" in changed.output
    assert "Traceback" not in changed.output
    assert run_cli("pack", "--run", generated, "--no-progress", "--force").exit_code == 0

    labels = generated / "labels" / "train.tsv"
    labels.write_text(labels.read_text() + "images/train/x.png\textra\n")
    stale = run_cli("pack", "--run", generated, "--no-progress")
    assert stale.exit_code == 2 and "labels/train.tsv has other content" in stale.output


def test_pack_is_stale_when_generate_reruns(generated, run_cli, small_corpus):
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0
    assert run_cli(*generate_args(generated, small_corpus, "--seed", "5", "--force")).exit_code == 0
    status = run_cli("status", "--run", generated)
    assert "stale: generate was re-run after pack" in status.output
    with pytest.raises(Exception, match="stale"):
        Manifest(generated).require("pack")


def test_folder_import_with_labels_tsv(tmp_path, run_cli):
    folder = tmp_path / "lines"
    folder.mkdir()
    rows = [("a.png", "hello world", 300), ("b.png", "  spaced   out ", 300), ("c.png", "", 200),
            ("d.png", "a label far too long for so narrow an image", 40), ("e.png", "corrupt", 100),
            ("f.png", "missing file", 100)]
    for name, text, width in rows[:4]:
        (folder / name).write_bytes(line_image(text or "x", width))
    (folder / "e.png").write_bytes(b"\x89PNG not really")
    (folder / "labels.tsv").write_text("".join(f"{n}\t{t}\n" for n, t, _ in rows), encoding="utf-8")
    run = tmp_path / "run"
    result = run_cli("pack", "--run", run, "--from-folder", folder, "--no-progress")
    assert result.exit_code == 0, result.output
    test = Manifest(run).stage("pack").result["splits"]["test"]
    assert test["count"] == 2
    assert test["skipped"] == {"empty_label": 1, "label_too_long_for_width": 1, "unreadable_image": 1,
                               "missing_image": 1}
    assert shard_dataset(run, "test").labels == ["hello world", "spaced out"]
    assert "skipped 1: label_too_long_for_width" in result.output


def test_folder_import_with_labels_in_file_names(tmp_path, run_cli):
    folder = tmp_path / "named"
    folder.mkdir()
    for stem in ("hello world", "hello world_2", "room_12", "total 9.99"):
        (folder / f"{stem}.png").write_bytes(line_image(stem, 320))
    run = tmp_path / "run"
    result = run_cli("pack", "--run", run, "--from-folder", folder, "--split", "named", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(shard_dataset(run, "named").labels) == ["hello world", "hello world", "room_12", "total 9.99"]


def write_scene_text_lmdb(path: Path, items: list[tuple[bytes, str]]) -> None:
    env = lmdb.open(str(path), map_size=64 << 20)
    with env.begin(write=True) as txn:
        for i, (image, label) in enumerate(items, 1):
            txn.put(b"image-%09d" % i, image)
            txn.put(b"label-%09d" % i, label.encode())
        txn.put(b"num-samples", str(len(items)).encode())
    env.close()


def test_standard_lmdb_import(tmp_path, run_cli):
    source = tmp_path / "iiit5k"
    items = [(line_image(word, 160), word) for word in ("PUBLIC", "house", "Café", "2024")]
    items.append((b"garbage", "broken"))
    write_scene_text_lmdb(source, items)
    run = tmp_path / "run"
    result = run_cli("pack", "--run", run, "--from-lmdb", source, "--split", "iiit5k", "--no-progress")
    assert result.exit_code == 0, result.output
    data = shard_dataset(run, "iiit5k")
    assert data.labels == ["PUBLIC", "house", "Café", "2024"]
    assert data.sources[0] == "image-000000001"
    assert Manifest(run).stage("pack").result["splits"]["iiit5k"]["skipped"] == {"unreadable_image": 1}
    example = Manifest(run).stage("pack").result["splits"]["iiit5k"]["examples"]["unreadable_image"][0]
    assert example == "image-000000005: not an image Pillow can read (an unknown format, or not an image at all)"
    expected = normalize(decode_image(items[1][0]), 32)
    assert np.array_equal(data[1][1], expected)

    not_scene = tmp_path / "other"
    env = lmdb.open(str(not_scene))
    env.close()
    bad = run_cli("pack", "--run", run, "--from-lmdb", not_scene, "--no-progress")
    assert bad.exit_code == 2 and "no num-samples key" in bad.output


def test_an_import_keeps_the_run_charset_and_counts_characters_outside_it(generated, run_cli, tmp_path):
    assert run_cli("pack", "--run", generated, "--no-progress").exit_code == 0
    charset = set(json.loads((generated / "charset.json").read_text())["chars"])
    foreign = next(c for c in "ЖΩ€ß" if c not in charset)
    folder = tmp_path / "foreign"
    folder.mkdir()
    (folder / "a.png").write_bytes(line_image("apple", 200))
    (folder / "b.png").write_bytes(line_image("x", 200))
    (folder / "labels.tsv").write_text(f"a.png\tapple\nb.png\tprice {foreign}{foreign}5\n", encoding="utf-8")
    result = run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "real", "--no-progress")
    assert result.exit_code == 0, result.output
    splits = Manifest(generated).stage("pack").result["splits"]
    assert splits["real"]["skipped"] == {"outside_charset": 1}
    assert splits["real"]["skipped_chars"] == {foreign: 2}
    assert {"train", "val", "test", "real"} <= set(splits)          # earlier splits are kept
    assert Manifest(generated).require("pack")                       # and the record is still fresh
    # An import that keeps no line is refused, and leaves no empty split behind; what was packed stays.
    (folder / "labels.tsv").write_text(f"b.png\t{foreign}\n", encoding="utf-8")
    none = run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "lost", "--no-progress")
    assert none.exit_code == 2 and "kept none of the 1 lines of split 'lost'" in none.output, none.output
    assert not (generated / "shards" / "lost").exists()
    assert {"train", "val", "test", "real"} <= set(Manifest(generated).stage("pack").result["splits"])
    assert all((generated / shard["path"]).is_file() for split in splits.values() for shard in split["shards"])
    # Replacing a packed split (--force) with lines of which none is kept leaves the packed one as it was.
    before = {p.name: p.read_bytes() for p in (generated / "shards" / "real").iterdir()}
    replaced = run_cli("pack", "--run", generated, "--from-folder", folder, "--split", "real", "--force",
                       "--no-progress")
    assert replaced.exit_code == 2 and "kept none of the 1 lines of split 'real'" in replaced.output
    assert {p.name: p.read_bytes() for p in (generated / "shards" / "real").iterdir()} == before
    assert not [p.name for p in (generated / "shards").iterdir() if p.name.startswith(".")]


def test_a_split_whose_swap_was_cut_off_is_put_back_and_its_shards_reused(generated, run_cli):
    assert run_cli("pack", "--run", generated, "--no-progress", "--shard-size", "20").exit_code == 0
    train = generated / "shards" / "train"
    before = {p.name: p.read_bytes() for p in train.iterdir()}
    train.rename(train.with_name(".train.old"))       # as a pack stopped between the swap's two renames leaves it
    result = run_cli("pack", "--run", generated, "--no-progress", "--shard-size", "20")
    assert result.exit_code == 0, result.output
    every = len(list((generated / "shards").glob("*/shard-*.lmdb")))
    assert f", {every} complete shards kept" in result.output, result.output     # none written again
    assert {p.name: p.read_bytes() for p in train.iterdir()} == before
    assert not [p.name for p in (generated / "shards").iterdir() if p.name.startswith(".")]


def test_given_charset_and_width_cap(generated, run_cli, tmp_path):
    charset = tmp_path / "digits.txt"
    charset.write_text("0123456789 .,:$")
    first = run_cli("pack", "--run", generated, "--charset", charset, "--no-progress")
    assert first.exit_code == 2 and "kept none of the" in first.output
    assert not (generated / "shards").exists()       # a first pack that fails leaves no empty folder
    charset.write_text("0123456789 .,:$abcdefghijklmnopqrst")
    result = run_cli("pack", "--run", generated, "--charset", charset, "--no-progress", "--force")
    assert result.exit_code == 0, result.output
    train = Manifest(generated).stage("pack").result["splits"]["train"]
    assert train["skipped"]["outside_charset"] > 0 and "u" in train["skipped_chars"] and train["count"] > 0
    # A charset that keeps no training line is said at once, with what was skipped, not packed as "done".
    packed = {p: p.read_bytes() for p in (generated / "shards").rglob("shard-*.lmdb")}
    charset.write_text("0123456789 .,:$")
    none = run_cli("pack", "--run", generated, "--charset", charset, "--no-progress", "--force")
    assert none.exit_code == 2 and "kept none of the" in none.output and "outside charset" in none.output
    assert {p: p.read_bytes() for p in (generated / "shards").rglob("shard-*.lmdb")} == packed   # kept as it was
    assert "--add-chars" in none.output and "--max-width" not in none.output     # the remedy of that cause
    narrow = run_cli("pack", "--run", generated, "--max-width", "100", "--no-progress", "--force")
    train = Manifest(generated).stage("pack").result["splits"]["train"]
    assert narrow.exit_code == 0 and train["skipped"]["too_wide"] > 0 and train["max_width"] <= 100


def test_the_map_grows_when_it_fills(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "INITIAL_MAP_SIZE", 64 << 10)     # 64 KiB: full after a few lines
    writer = shards.ShardWriter(tmp_path / "s.lmdb", 32, 1, "x")
    rng = np.random.default_rng(0)
    lines = [rng.integers(0, 256, (32, 400, 1), dtype=np.uint8) for _ in range(300)]
    for k, pixels in enumerate(lines):
        writer.add(pixels, f"line {k}", f"src{k}")
    meta = writer.close("fp", {})
    reader = shards.ShardReader(tmp_path / "s.lmdb")
    assert meta["count"] == 300 and len(reader) == 300
    assert all(np.array_equal(reader.image(k), lines[k]) for k in (0, 150, 299))
    assert not (tmp_path / "s.lmdb.tmp").exists()


def test_a_foreign_file_is_not_read_as_a_shard(tmp_path):
    other = tmp_path / "other.lmdb"
    env = lmdb.open(str(other), subdir=False)
    with env.begin(write=True) as txn:
        txn.put(b"__meta__", b'{"format": "something/2"}')
    env.close()
    with pytest.raises(shards.ShardError, match="is not an ocrpipe shard"):
        shards.ShardReader(other)


def test_an_interrupted_pack_resumes_and_keeps_complete_shards(generated, run_cli, monkeypatch):
    reference = generated.parent / "reference"
    import shutil

    shutil.copytree(generated, reference)
    assert run_cli("pack", "--run", reference, "--no-progress", "--workers", "1",
                   "--shard-size", "20").exit_code == 0

    real = pack_stage.process
    seen = {"n": 0}

    def process_then_stop(sample):
        seen["n"] += 1
        if seen["n"] == 50:
            raise KeyboardInterrupt
        return real(sample)

    monkeypatch.setattr(pack_stage, "process", process_then_stop)
    stopped = run_cli("pack", "--run", generated, "--no-progress", "--workers", "1", "--shard-size", "20")
    assert stopped.exit_code == 130 and "rerun the same command to resume" in stopped.output
    assert Manifest(generated).stage("pack").status == "failed"
    assert not list((generated / "shards").rglob("*.tmp"))
    monkeypatch.setattr(pack_stage, "process", real)

    resumed = run_cli("pack", "--run", generated, "--no-progress", "--workers", "1", "--shard-size", "20")
    assert resumed.exit_code == 0, resumed.output
    assert "2 complete shards kept" in resumed.output
    for split in ("train", "val", "test"):
        a, b = shard_dataset(generated, split), shard_dataset(reference, split)
        assert a.labels == b.labels
        assert all(np.array_equal(a[i][1], b[i][1]) for i in range(len(a)))


def test_pack_checks_the_model_height_rule_first(generated, run_cli):
    result = run_cli("pack", "--run", generated, "--height", "40", "--no-progress")
    assert result.exit_code == 2 and "--height 40: the models read lines at a multiple of 16" in result.output
    assert not (generated / "shards").exists()

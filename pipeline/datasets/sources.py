"""Where labelled line images come from: a generate run, a folder, or a scene-text LMDB.

Each source gives `Sample`s: a label and a way to read the encoded image bytes, read
lazily (in the pack workers) so nothing holds a whole dataset in memory.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import lmdb

from pipeline.errors import OcrpipeError
from pipeline.utils.files import short_hash
from pipeline.run.results import GenerateResult, ordered
from pipeline.datasets.shards import ShardError, open_readonly

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pbm", ".pgm", ".ppm")
_DUPLICATE = re.compile(r"^(.*?)(?:_(\d+)| \((\d+)\))$")    # "name_2" or "name (2)"
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


class ChangedImage(OcrpipeError):
    pass


@dataclass(frozen=True)
class Sample:
    source: str              # for people: a file name relative to the input, or an LMDB key
    label: str
    font: str = ""
    path: str = ""           # an image file, or an LMDB file with `key`
    key: str = ""
    expected_hash: str = ""  # generate's hash of the image, checked when read

    def read(self) -> bytes:
        if self.key:
            with open_readonly(self.path).begin() as txn:
                data = txn.get(self.key.encode())
            if data is None:
                raise FileNotFoundError(f"{self.path}: no key {self.key}")
            return bytes(data)
        data = Path(self.path).read_bytes()
        if self.expected_hash and short_hash(data) != self.expected_hash:
            raise ChangedImage(f"{self.source} changed since generate made it (hash mismatch); "
                               "re-run `ocrpipe generate`, or pass --force to pack it anyway")
        return data


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def from_generate(run_dir: Path, result: GenerateResult, check_hashes: bool = True) -> dict[str, list[Sample]]:
    """The lines of a finished generate, per split, in index order."""
    out = {}
    for split, info in ordered(result.splits):
        rows = _read_tsv(run_dir / info["labels"])
        out[split] = [Sample(source=row["filename"], label=row["text"], font=row["font"],
                             path=str(run_dir / row["filename"]),
                             expected_hash=row["hash"] if check_hashes else "") for row in rows]
    return out


def label_of_name(stem: str) -> str:
    """A file name's text: NFC, with percent escapes for what file names cannot hold decoded
    (`AC%2FDC` -> `AC/DC`, `50%25` -> `50%`)."""
    stem = unicodedata.normalize("NFC", stem)
    return unicodedata.normalize("NFC", urllib.parse.unquote(stem)) if _ESCAPE.search(stem) else stem


class Listing(list):
    """Samples, and how many rows of the listing repeated an earlier row word for word (each
    such image is kept once)."""

    repeated: int = 0


def _label_lines(labels: Path) -> list[str]:
    """The lines of a labels.tsv: UTF-8 (a byte-order mark is dropped), or UTF-16 with its
    byte-order mark; anything else is a one-line error that names the line."""
    data = labels.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            raise OcrpipeError(f"{labels}:{line}: not UTF-8 text (byte {data[e.start]:#04x}; Latin-1 or another "
                               "legacy encoding?); save the file as UTF-8") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise OcrpipeError(f"{labels}:{line}: a NUL character (a damaged or binary file, or UTF-16 without its "
                           "byte-order mark); save it as UTF-8 text")
    return [line.rstrip("\r") for line in text.split("\n")]      # not splitlines(): U+2028 may be text


def _row(labels: Path, n: int, line: str, header: bool) -> tuple[str, str] | None:
    """(filename, text) of line `n`, None for a blank line."""
    parts = line.split("\t")
    if len(parts) < 2 or not parts[0]:
        if line.strip():
            raise OcrpipeError(f"{labels}:{n}: expected filename<TAB>text; fix or remove that line")
        return None
    if len(parts) > 2 and not header:
        raise OcrpipeError(f"{labels}:{n}: {len(parts)} tab-separated fields where filename<TAB>text was "
                           "expected (a label cannot hold a tab); fix that line, or start the file with a "
                           "header row (filename<TAB>text<TAB>...) that names the extra columns")
    return parts[0], parts[1]


def _from_labels(labels: Path) -> Listing:
    """The rows of a labels.tsv; a file named twice with two texts is an error naming both rows."""
    samples, first = Listing(), {}
    lines = _label_lines(labels)
    header = bool(lines) and lines[0].split("\t")[0] == "filename"     # it names any further columns
    for n, line in enumerate(lines[1:] if header else lines, 2 if header else 1):
        row = _row(labels, n, line, header)
        if row is None:
            continue
        name, text = row
        if name in first:
            earlier_line, earlier = first[name]
            if unicodedata.normalize("NFC", earlier) != unicodedata.normalize("NFC", text):
                raise OcrpipeError(f"{labels}: {name} is labelled twice, {earlier!r} on line {earlier_line} and "
                                   f"{text!r} on line {n}; keep the right one")
            samples.repeated += 1
            continue
        first[name] = (n, text)
        samples.append(Sample(source=name, label=text, path=str(labels.parent / name)))
    if not samples:
        raise OcrpipeError(f"{labels} lists no images; add filename<TAB>text lines")
    return samples


def from_folder(folder: Path, option: str = "--from-folder") -> Listing:
    """Images with a `labels.tsv` (`filename<TAB>text`; more columns after a header row that names
    them), or, without
    one, images whose file name is the label: `Fireball.png`, and `Fireball (2).png` or
    `Fireball_2.png` for another image of the same text (such a suffix is taken for a
    duplicate marker only when the name without it is another image's name too, or several
    images share it); `%2F` and the like stand for characters a file name cannot hold.
    `option` names the folder in errors (pack's --from-folder, eval's --data)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OcrpipeError(f"{option} {folder}: no such folder; check the path")
    labels = folder / "labels.tsv"
    if labels.is_file():
        return _from_labels(labels)
    # Hidden files (.DS_Store, ._name.png of macOS copies) are not lines.
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    _refuse_unread(folder, entries, option)
    images = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not images:
        raise OcrpipeError(f"{option} {folder}: no labels.tsv and no images named after their text; "
                           "add a labels.tsv (filename<TAB>text) or name images by their text")
    stems = {unicodedata.normalize("NFC", p.stem) for p in images}
    bases = [m.group(1) for s in stems if (m := _DUPLICATE.match(s))]
    samples = Listing()
    for path in images:
        stem = unicodedata.normalize("NFC", path.stem)
        match = _DUPLICATE.match(stem)
        base = match.group(1) if match and (match.group(1) in stems or bases.count(match.group(1)) > 1) else stem
        samples.append(Sample(source=path.name, label=label_of_name(base), path=str(path)))
    return samples


def _refuse_unread(folder: Path, entries: list[Path], option: str) -> None:
    """What a folder named by text would otherwise skip without a word: a link to an image that
    is gone, and subfolders of images (a folder's own images are its lines)."""
    for entry in entries:
        if entry.is_symlink() and not entry.exists():
            raise OcrpipeError(f"{option} {folder}: {entry.name} is a link to {os.readlink(entry)}, which does not "
                               "exist; restore that file or remove the link")
        if entry.is_dir():
            inner = sum(1 for p in entry.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if inner:
                raise OcrpipeError(f"{option} {folder}: subfolder {entry.name} holds {inner} images, and only the "
                                   "folder's own images are read; move them up, import that folder on its own, or "
                                   f"list every image in a labels.tsv ({entry.name}/NAME.png<TAB>text)")


def from_lmdb(path: Path) -> list[Sample]:
    """The layout of most public scene-text LMDBs (MJSynth, SynthText, IIIT5K as packed by the
    common trainers): `num-samples`, then `image-%09d` (encoded image) and `label-%09d`, from 1."""
    path = Path(path)
    if not path.exists():
        raise OcrpipeError(f"--from-lmdb {path}: no such file or folder; check the path")
    try:
        env = open_readonly(str(path))
        with env.begin() as txn:
            raw = txn.get(b"num-samples")
            if raw is None:
                raise OcrpipeError(f"--from-lmdb {path}: no num-samples key, so not a scene-text LMDB "
                                   "(num-samples, image-%09d, label-%09d)")
            count = int(raw)
            labels = [txn.get(b"label-%09d" % i) for i in range(1, count + 1)]
    except ShardError as e:
        raise OcrpipeError(f"--from-lmdb {path}: {e}; copy or download it again") from None
    except lmdb.Error as e:
        raise OcrpipeError(f"--from-lmdb {path}: not a readable LMDB ({e})") from None
    except ValueError:
        raise OcrpipeError(f"--from-lmdb {path}: num-samples is not a number") from None
    return [Sample(source=f"image-{i:09d}", label=(raw or b"").decode("utf-8", errors="replace"),
                   path=str(path), key=f"image-{i:09d}") for i, raw in enumerate(labels, 1)]

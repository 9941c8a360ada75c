"""`ocrpipe pack`: line images to height-normalized LMDB shards, honest about what is dropped.

Input: the generate result of the run (every split), or an import (`--from-folder`,
`--from-lmdb`) into one named split. Each line is decoded, made grayscale (or RGB), resized
to the model height, checked, and stored raw. A line is skipped, counted by reason with
examples, when its image cannot be read, its label is empty or has characters outside the
charset (counted per character), it is wider than the cap, or its label cannot fit its width
under CTC. Shards are cut from the input in order, so a rerun after an interruption keeps
every complete shard and makes the rest.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from pipeline.run import locks
from pipeline.text.charset import Charset
from pipeline.config import PackConfig, to_dict
from pipeline.errors import OcrpipeError
from pipeline.utils.files import atomic_write_json, ensure_writable_dir, json_digest, relative_to, sha256_file
from pipeline.run.manifest import Manifest
from pipeline.utils.parallel import available_cores
from pipeline.utils.progress import bar
from pipeline.run.results import GenerateResult, PackResult
from pipeline.datasets.shards import FORMAT, close_readonly, read_meta
from pipeline.datasets.sources import Sample, from_folder, from_generate, from_lmdb
from pipeline.datasets.building import SKIP_REMEDIES, Rules, Stats, write_shard
from pipeline.text.labels import clean_label


@dataclass
class PackOutcome:
    status: str                         # "done" or "up-to-date"
    result: PackResult
    packed_splits: list[str]
    lines: int                          # lines processed by this invocation
    seconds: float
    reused_shards: int
    dropped: dict[str, str] = field(default_factory=dict)   # split -> its source: packed with another charset


def _inputs(config: PackConfig, manifest: Manifest, run_dir: Path, force: bool
            ) -> tuple[dict[str, list[Sample]], dict[str, str], str]:
    """Samples per split, a digest of each split's source, and a description of the source."""
    if config.from_folder:
        samples = from_folder(Path(config.from_folder))
        listing = [(s.source, s.label) for s in samples]
        return ({config.import_split(): samples}, {config.import_split(): json_digest(listing)},
                f"folder {Path(config.from_folder).resolve()}")
    if config.from_lmdb:
        path = Path(config.from_lmdb)
        samples = from_lmdb(path)
        stat = path.stat()
        digest = json_digest([str(path.resolve()), stat.st_size, stat.st_mtime_ns, len(samples)])
        return {config.import_split(): samples}, {config.import_split(): digest}, f"lmdb {path.resolve()}"
    generated = manifest.require("generate", GenerateResult, force=force)
    samples = from_generate(run_dir, generated, check_hashes=not force)
    digests = {split: info["labels_sha256"] for split, info in generated.splits.items()}
    return samples, digests, "generate"


def _charset(config: PackConfig, run_dir: Path, inputs: dict[str, list[Sample]], importing: bool
             ) -> tuple[Charset, str]:
    jamo = config.hangul == "jamo"
    if config.charset:
        return Charset.load(Path(config.charset), jamo=jamo), f"--charset {config.charset}"
    existing = run_dir / "charset.json"
    if importing and existing.is_file():
        return Charset.load(existing), "the run's charset.json"
    basis = "train" if "train" in inputs else next(iter(inputs))
    labels = [clean_label(s.label) for s in inputs[basis]]
    if config.add_chars:
        added = Charset.load(Path(config.add_chars), option="--add-chars")
        return (Charset.build([*labels, "".join(added.chars)], jamo=jamo),
                f"{basis} labels + --add-chars {config.add_chars}")
    charset = Charset.build(labels, jamo=jamo)
    if not charset.chars:
        raise OcrpipeError(f"the {basis} labels have no characters; nothing to pack")
    return charset, f"{basis} labels"


def _vertical(config: PackConfig, manifest: Manifest, importing: bool) -> bool:
    """Whether the lines are vertical: --vertical for an import, generate's --orientation else."""
    if importing:
        return config.vertical
    record = manifest.stage("generate")
    return bool(record and record.config.get("orientation") == "vertical")


def unseen_classes(charset: Charset, inputs: dict[str, list[Sample]], earlier: dict[str, Any]) -> int:
    """Classes of the charset no training label shows (from --charset or --add-chars): the model
    has an output for them but learns nothing about how they look."""
    if "train" not in inputs:
        return int(earlier.get("charset", {}).get("unseen_in_train", 0))
    seen = set().union(*(charset.units(clean_label(s.label)) for s in inputs["train"]))
    return sum(1 for c in charset.chars if c not in seen)


def run(config: PackConfig, run_dir: Path, force: bool = False, show_progress: bool | None = None) -> PackOutcome:
    config.validate()
    importing = bool(config.from_folder or config.from_lmdb)
    with locks.hold(run_dir, "pack", () if importing else ("generate",)):
        return _pack(config, run_dir, importing, force, show_progress)


def _parts(samples: list[Sample], size: int) -> list[list[Sample]]:
    return [samples[i:i + size] for i in range(0, len(samples), size)] or [[]]


def _image_digest(part: list[Sample]) -> str:
    """Size and modification time of each image file of a shard's input: a cheap way to notice
    an image replaced after it was packed (LMDB inputs are covered by their file's digest)."""
    def stamp(sample: Sample) -> list[int] | None:
        try:
            st = os.stat(sample.path)
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns]

    return json_digest([stamp(s) for s in part if not s.key])


def _images_unchanged(info: dict[str, Any], digests: list[str]) -> bool:
    return [shard.get("images") for shard in info.get("shards", [])] == digests


def _same_source(a: str, b: str) -> bool:
    """Sources are recorded with absolute paths (eval reads a split's left-out lines from there,
    from any working directory); earlier releases recorded them as given."""
    (kind_a, _, where_a), (kind_b, _, where_b) = a.partition(" "), b.partition(" ")
    return kind_a == kind_b and (where_a == where_b or Path(where_a).resolve() == Path(where_b).resolve())


def _refuse_replacing(split: str, source: str, splits: dict[str, Any], run_dir: Path) -> None:
    """An import goes into a split of its own (or updates its own earlier import): replacing
    lines of another source needs --force."""
    held = splits.get(split)
    if held and not _same_source(str(held.get("source")), source):
        raise OcrpipeError(f"split {split!r} of {run_dir} already holds {held.get('count', 0)} lines from "
                           f"{held.get('source')}; import into a new split (e.g. --split real, then train with "
                           f"--train-split {split} --train-split real), or pass --force to replace them")


def _pack(config: PackConfig, run_dir: Path, importing: bool, force: bool, show_progress: bool | None
          ) -> PackOutcome:
    manifest = Manifest(run_dir)
    inputs, source_digests, source = _inputs(config, manifest, run_dir, force)
    charset, charset_source = _charset(config, run_dir, inputs, importing)
    cap = config.width_cap()
    previous = manifest.stage("pack")
    if importing and previous and not force:
        _refuse_replacing(config.import_split(), source, previous.result.get("splits", {}), run_dir)

    vertical = _vertical(config, manifest, importing)
    fingerprints = {split: json_digest({"format": FORMAT, "height": config.height, "channels": config.channels,
                                        "cap": cap, "charset": charset.sha256(), "source": source_digests[split],
                                        "shard_size": config.shard_size, "split": split,
                                        **({"vertical": True} if vertical else {})})
                    for split in inputs}
    images = {split: [_image_digest(part) for part in _parts(samples, config.shard_size)]
              for split, samples in inputs.items()}
    if previous and previous.status == "done" and not force and not importing:
        done = PackResult.from_dict(previous.result)
        if (all(done.splits.get(s, {}).get("fingerprint") == f for s, f in fingerprints.items())
                and manifest.stale_reason("pack") is None and done.verify(run_dir) is None
                and all(_images_unchanged(done.splits[s], images[s]) for s in inputs)):
            return PackOutcome("up-to-date", done, [], 0, 0.0, 0)

    ensure_writable_dir(run_dir / "shards", "shard directory")
    keep_upstream = previous.upstream if (importing and previous) else None
    earlier = previous.result if previous else {}     # kept in the record until this run finishes
    manifest.begin("pack", to_dict(config), {"source": source, "charset": charset_source,
                                             "source_digests": source_digests},
                   result=earlier, upstream=keep_upstream)
    workers = config.workers or available_cores()
    start = time.perf_counter()
    processed = reused = 0
    progress = bar(sum(len(v) for v in inputs.values()), "pack", enabled=show_progress)
    splits: dict[str, dict[str, Any]] = {}
    with progress, manifest.recording_failure("pack", "complete shards are kept"):
        for split, samples in inputs.items():
            rules = Rules(config.height, config.channels, cap, charset, check_ctc=True, vertical=vertical)
            info, made, kept = _pack_split(run_dir, split, samples, images[split], source, config, rules,
                                           fingerprints[split], force, workers, progress)
            splits[split] = info
            processed += made
            reused += kept
    seconds = time.perf_counter() - start

    atomic_write_json(run_dir / "charset.json", charset.to_dict())
    others = {s: i for s, i in earlier.get("splits", {}).items() if s not in splits}
    dropped: dict[str, str] = {}
    if earlier.get("charset", {}).get("sha256") == charset.sha256():
        # Other splits packed earlier with the same charset stay (e.g. an import next to generate's).
        splits = {**others, **splits}
    else:       # their classes mean other characters now: they must be packed again, and the user told
        dropped = {s: str(i.get("source", "?")) for s, i in others.items()}
    result = PackResult(
        splits=splits,
        charset={"path": "charset.json", "sha256": charset.sha256(), "size": len(charset), "source": charset_source,
                 "file_sha256": sha256_file(run_dir / "charset.json"), "chars": "".join(charset.chars),
                 "unseen_in_train": unseen_classes(charset, inputs, earlier)},
        height=config.height, channels=config.channels,
        lines_per_s=round(processed / seconds, 1) if seconds and processed else 0.0, seconds=round(seconds, 2))
    manifest.finish("pack", result.to_dict())
    return PackOutcome("done", result, list(inputs), processed, seconds, reused, dropped)


def _staged(folder: Path) -> tuple[Path, Path]:
    """Where a split's new shards are written (`.SPLIT.partial`) until every one is, and where
    its old shards wait (`.SPLIT.old`) while the two folders are swapped."""
    return folder.with_name(f".{folder.name}.partial"), folder.with_name(f".{folder.name}.old")


def _restore(folder: Path) -> None:
    """Put back a split whose swap was cut off between its two renames."""
    _, old = _staged(folder)
    if old.is_dir() and not folder.exists():
        os.replace(old, folder)


def _swap(folder: Path) -> None:
    """Make the staged shards the split's, and remove the old ones."""
    staging, old = _staged(folder)
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def _reuse(staged: Path, live: Path, fingerprint: str) -> dict[str, Any] | None:
    """The metadata of a complete shard with this fingerprint, written by an interrupted run
    (staged) or by an earlier pack (live, then linked into the staging folder); None if neither."""
    for path in (staged, live):
        meta = read_meta(path)
        if meta is not None and meta.get("fingerprint") == fingerprint:
            if path == live:
                staged.unlink(missing_ok=True)
                try:
                    os.link(live, staged)
                except OSError:              # a file system without hard links
                    shutil.copy2(live, staged)
            return meta
    return None


def _pack_split(run_dir: Path, split: str, samples: list[Sample], digests: list[str], source: str,
                config: PackConfig, rules: Rules, fingerprint: str, force: bool, workers: int,
                progress: Any) -> tuple[dict[str, Any], int, int]:
    """Pack one split into a staging folder, swapped for the split's folder once every shard is
    written: until then (an interruption, a split that keeps no line) the split packed before
    stays as it was; a rerun reuses the staged shards that are complete."""
    folder = run_dir / "shards" / split
    _restore(folder)
    staging, _ = _staged(folder)
    staging.mkdir(parents=True, exist_ok=True)
    size = config.shard_size
    stats, metas, processed, reused = Stats(), [], 0, 0
    for k, (part, images) in enumerate(zip(_parts(samples, size), digests)):
        name = f"shard-{k:05d}.lmdb"
        shard_fingerprint = json_digest([fingerprint, k, images])
        meta = None if force else _reuse(staging / name, folder / name, shard_fingerprint)
        if meta is None:
            assert rules.charset is not None
            meta = write_shard(staging / name, part, rules, rules.charset.sha256(), shard_fingerprint, workers,
                               progress)
            processed += len(part)
        else:
            reused += 1
            progress.update(len(part))
        stats.merge(meta["stats"])
        metas.append((name, meta, images))
    wanted = {name for name, _, _ in metas}
    for stale in staging.iterdir():      # shards of an earlier, larger pack; a cut-off write
        if stale.name not in wanted:
            stale.unlink()
    # A training split, or an import, of which nothing is kept is a mistake to say now, not a
    # "done" that training or eval would trip over later (a small val split may lose all its lines).
    if samples and not stats.kept and (split == "train" or source != "generate"):
        reasons = ", ".join(f"{reason.replace('_', ' ')}: {n}" for reason, n in stats.skipped.items())
        commonest = max(stats.skipped, key=stats.skipped.__getitem__, default="")
        example = stats.examples.get(commonest, [""])[0]
        shutil.rmtree(staging)          # the split packed before, if any, stays
        if not any(folder.parent.iterdir()):
            folder.parent.rmdir()       # a first pack leaves no empty shards/ folder either
        raise OcrpipeError(f"pack kept none of the {len(samples)} lines of split {split!r} ({reasons}; e.g. "
                           f"{example}); {SKIP_REMEDIES.get(commonest, 'fix the cause')} and run pack again")
    for name in wanted:
        close_readonly(staging / name)
    _swap(folder)
    shards = []
    for name, meta, images in metas:
        path = folder / name
        stat = path.stat()
        shards.append({"path": relative_to(path, run_dir), "count": meta["count"], "sha256": sha256_file(path),
                       "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "images": images})
    info = {"source": source, "count": stats.kept, "shards": shards, "skipped": dict(stats.skipped),
            "skipped_chars": dict(stats.skipped_chars), "examples": stats.examples,
            "width_histogram": dict(sorted(stats.histogram.items(), key=lambda kv: int(kv[0].split("-")[0]))),
            "mean_width": round(stats.width_sum / stats.kept, 1) if stats.kept else 0.0,
            "max_width": stats.max_width, "fingerprint": fingerprint, "charset_sha256": rules.charset.sha256(),
            **({"vertical": True} if rules.vertical else {}),
            **({"repeated_rows": samples.repeated} if getattr(samples, "repeated", 0) else {})}
    return info, processed, reused

"""`ocrpipe eval`: measure a checkpoint on a set of lines and write a report people read.

The set is a packed split of the run (default: test), shard files, a folder of images, or a
scene-text LMDB; folders and LMDBs go through pack's own processing (`pipeline.datasets.building`), so
lines are height-normalized exactly as for training, but every readable line is kept: a
character the model lacks is one of its errors, not a reason to leave the line out.
Outputs in `DIR/eval/<name>/`: report.json, predictions.tsv (worst first) and report.html.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from pipeline.models import checkpoint as ckpt
from pipeline.run import locks
from pipeline.resources import checkpoint_for
from pipeline.evaluation import report as html_report
from pipeline.evaluation import tesseract
from pipeline.config import EvalConfig
from pipeline.datasets.loader import BucketBatchSampler, Collate, ShardDataset, make_loader
from pipeline.models.ctc_decode import Decoder, from_config
from pipeline.errors import OcrpipeError
from pipeline.utils.files import (atomic_write_bytes, atomic_write_json, atomic_write_text, json_digest, scratch_dir,
                                  sha256_file)
from pipeline.models.inference import Views, predictions
from pipeline.run.manifest import Manifest
from pipeline.utils.provenance import now
from pipeline.evaluation.metrics import (Tally, bucket, confidence_ranking, confusions, edit_distance, mostly_words,
                                         score_normalized, script_errors)
from pipeline.datasets.building import Rules, write_shard
from pipeline.datasets.shards import read_meta
from pipeline.utils.progress import bar
from pipeline.run.results import PackResult
from pipeline.models.runtime import setup, teardown
from pipeline.datasets.sources import Sample, from_folder, from_lmdb

LENGTH_EDGES = (1, 6, 11, 21, 41, 81)
WIDTH_EDGES = (0, 128, 256, 512, 1024)


@dataclass
class EvalSet:
    dataset: ShardDataset
    description: str
    digest: str
    originals: list[Path | None]     # each line's original image file, when there is one
    skipped: dict[str, int]          # lines left out of the scores, by reason
    restored: dict[str, int] = field(default_factory=dict)   # lines pack left out, scored here, by reason


@dataclass
class EvalOutcome:
    name: str
    report: dict[str, Any]
    folder: Path


def _shard_files(path: Path) -> list[Path]:
    files = sorted(path.glob("shard-*.lmdb")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise OcrpipeError(f"--shards {path}: no shard-*.lmdb files there; check the path")
    return files


def _convert(samples: list, height: int, channels: int, scratch: Path, description: str, vertical: bool
             ) -> ShardDataset:
    """Images to one temporary shard, as pack makes them, keeping every readable line."""
    path = scratch / "shard-00000.lmdb"
    meta = write_shard(path, samples, Rules(height, channels, vertical=vertical), "", "eval", workers=0)
    if not meta["count"]:
        reasons = ", ".join(f"{k} {v}" for k, v in meta["stats"]["skipped"].items())
        raise OcrpipeError(f"{description}: no readable labelled lines ({reasons})")
    return ShardDataset([path])


def eval_set(config: EvalConfig, run_dir: Path, manifest: Manifest, height: int, channels: int,
             scratch: Path) -> EvalSet:
    if config.data or config.from_lmdb:
        source = Path(config.data or config.from_lmdb)
        samples = from_folder(source, "--data") if config.data else from_lmdb(source)
        description = f"{'folder' if config.data else 'LMDB'} {source}"
        if getattr(samples, "repeated", 0):
            description += f" ({samples.repeated} repeated rows of labels.tsv counted once)"
        dataset = _convert(samples, height, channels, scratch, description, config.vertical)
        by_source = {s.source: Path(s.path) for s in samples if not s.key}
        originals = [by_source.get(src) for src in dataset.sources]
        skipped = dataset.shards[0].meta["stats"]["skipped"]
        return EvalSet(dataset, description, json_digest([(s.source, s.label) for s in samples]), originals, skipped)
    if config.shards:
        files = _shard_files(Path(config.shards))
        dataset = ShardDataset(files)
        return EvalSet(dataset, f"shards {config.shards}", json_digest([sha256_file(f) for f in files]),
                       [None] * len(dataset), {})
    split = config.split or "test"
    pack = manifest.require("pack", PackResult)
    if split not in pack.splits:
        raise OcrpipeError(f"the pack result of {run_dir} has no split {split!r} (it has {', '.join(pack.splits)}); "
                           "choose one with --split")
    info = pack.splits[split]
    paths = pack.shard_paths(run_dir, split)
    kind, _, where = info["source"].partition(" ")      # "generate", "folder DIR" or "lmdb PATH"
    root = run_dir if kind == "generate" else Path(where) if kind == "folder" else None
    restored, skipped = _restore(paths, where if kind == "lmdb" else root, info["charset_sha256"],
                                 Rules(height, channels, vertical=info.get("vertical", False)),
                                 scratch / "restored.lmdb")
    dataset = ShardDataset(paths + ([scratch / "restored.lmdb"] if restored else []))
    originals = [root / s if root else None for s in dataset.sources]
    return EvalSet(dataset, f"split {split} of {run_dir}", json_digest([s["sha256"] for s in info["shards"]]),
                   originals, skipped, restored)


SCORABLE = ("too_wide", "outside_charset", "label_too_long_for_width")


def _restore(paths: list[Path], origin: Path | str | None, charset_sha256: str, rules: Rules, out: Path
             ) -> tuple[dict[str, int], dict[str, int]]:
    """Lines pack left out of a split's shards because they are too wide, hold characters
    outside the charset or have labels too long for their width are fine to score (the model
    just cannot get them right): they go into the shard `out`, so the split is scored whole.
    `origin` is the folder of the split's images, or the LMDB file (str) they came from.
    Returns the counts by reason of the lines restored and of those still left out."""
    samples, reasons, skipped = [], {}, Counter()
    in_lmdb = isinstance(origin, str)
    for path in paths:
        stats = (read_meta(path) or {}).get("stats", {})
        if "left_out" not in stats:             # packed by an older ocrpipe: only counts are known
            skipped.update(stats.get("skipped", {}))
            continue
        for source, label, reason, font in stats["left_out"]:
            if reason not in SCORABLE or origin is None:
                skipped[reason] += 1
                continue
            reasons[source] = reason
            samples.append(Sample(source=source, label=label, font=font, key=source if in_lmdb else "",
                                  path=origin if in_lmdb else str(Path(origin) / source)))
    if not samples:
        return {}, dict(skipped)
    meta = write_shard(out, samples, rules, charset_sha256, "eval", workers=0)
    unread = {row[0]: row[2] for row in meta["stats"]["left_out"]}
    skipped.update(unread.values())
    restored = Counter(reason for source, reason in reasons.items() if source not in unread)
    return dict(restored), dict(skipped)


def run(config: EvalConfig, run_dir: Path, show_progress: bool | None = None) -> EvalOutcome:
    config.validate()
    # A split of the run (the default, or --split) reads pack's shards: no `pack --force` under it.
    reads = (("pack",) if config.split or not config.sources() else ()) + (() if config.checkpoint else ("train",))
    with locks.hold(run_dir, read=reads):
        return _evaluate(config, run_dir, show_progress)


def _evaluate(config: EvalConfig, run_dir: Path, show_progress: bool | None) -> EvalOutcome:
    manifest = Manifest(run_dir)
    checkpoint_path = checkpoint_for(config.checkpoint, run_dir)
    state = ckpt.load(checkpoint_path)
    model, charset = ckpt.model_from(state, checkpoint_path)
    config = dataclasses.replace(config, decoding=config.decoding.for_model(state))
    to_text = from_config(charset, config.decoding)
    tesseract_version = tesseract.version() if config.compare else None
    name = config.name or default_name(config)
    runtime = setup(config.device, amp=True)
    try:
        with scratch_dir(run_dir, "eval") as scratch:
            data = eval_set(config, run_dir, manifest, model.config.height, model.config.channels, Path(scratch))
            if data.dataset.height != model.config.height or data.dataset.channels != model.config.channels:
                raise OcrpipeError(f"the lines were packed at height {data.dataset.height} with "
                                   f"{data.dataset.channels} channel(s), the model reads {model.config.height} and "
                                   f"{model.config.channels}; pack them with --height {model.config.height}")
            # Tesseract's language is checked before the model reads a line: a missing one is an error now.
            language = tesseract.language_for(data.dataset.labels) if config.compare else ""
            records, seconds = _predict(model, charset, to_text, data, config, runtime, show_progress)
            compare = (_tesseract(records, data, Path(scratch), tesseract_version, language)
                       if config.compare else None)
            return _write(config, run_dir, manifest, name, checkpoint_path, state, data, records, seconds,
                          runtime.gpu_name or runtime.device.type, compare)
    finally:
        teardown(runtime)


def default_name(config: EvalConfig) -> str:
    """The data's name, and the decoding when it is not greedy, so that a beam-search report does
    not replace the greedy one: `test`, `test-beam10`, `uw3-dev-beam10-lm-lexicon`."""
    name = config.split or (Path(config.data or config.from_lmdb or config.shards).name
                            if config.sources() else "test")
    if config.shards:       # only the lines pack kept: never the name (and folder) of a split's report
        name = f"shards-{name}"
    return name + config.decoding.suffix()


def _predict(model: Any, charset: Any, to_text: Decoder, data: EvalSet, config: EvalConfig, runtime: Any,
             show_progress: bool | None) -> tuple[list[dict[str, Any]], float]:
    model = model.to(runtime.device)
    dataset = data.dataset
    sampler = BucketBatchSampler(dataset.widths, config.batch_size, dataset.height, shuffle=False,
                                 num_replicas=1, rank=0)
    loader = make_loader(dataset, sampler, Collate(charset, encode=False, ink_rows=model.config.ink_rows))
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    with bar(len(dataset), "eval", enabled=show_progress) as progress:
        for batch, _, _, decoded in predictions(model, loader, runtime, to_text, Views.of(config.decoding, charset)):
            for k, i in enumerate(batch.indices):
                text, confidence = decoded[k]
                records.append({"index": i, "file": dataset.sources[i], "font": dataset.fonts[i],
                                "width": int(dataset.widths[i]), "reference": batch.texts[k], "prediction": text,
                                "distance": edit_distance(batch.texts[k], text), "confidence": float(f"{confidence:.4g}")})
            progress.update(len(batch))
    seconds = time.perf_counter() - start
    records.sort(key=lambda r: r["index"])
    return records, seconds


def _tesseract(records: list[dict[str, Any]], data: EvalSet, scratch: Path, version: str | None,
               language: str) -> dict[str, Any]:
    """Tesseract on the same lines: the original image files where there are some, else the
    normalized pixels scaled to twice their height (Tesseract wants ~20 px letters)."""
    images, used_originals = [], 0
    for record in records:
        original = data.originals[record["index"]]
        if original is not None and original.is_file():
            images.append(original)
            used_originals += 1
            continue
        pixels = data.dataset[record["index"]][1]
        image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        path = scratch / f"line-{record['index']:07d}.png"
        image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC).save(path)
        images.append(path)
    psm = 8 if mostly_words([r["reference"] for r in records]) else 7
    start = time.perf_counter()
    texts = tesseract.read_lines(images, psm=psm, language=language)
    seconds = time.perf_counter() - start
    for record, text in zip(records, texts):
        record["compare_prediction"] = text
        record["compare_distance"] = edit_distance(record["reference"], text)
    pairs = [(r["reference"], r["compare_prediction"]) for r in records]
    source = ("the original image files" if used_originals == len(records) else
              f"{used_originals} of {len(records)} lines from their original image files, the rest from "
              "the normalized lines at twice their height")
    return {"name": "tesseract", "version": version, "metrics": score_normalized(pairs),
            "lines_per_s": round(len(records) / seconds, 1) if seconds else 0.0,
            "description": f"{version}, --psm {psm} ({'a single word' if psm == 8 else 'a single line'}), language "
                           f"{language}, one process per line, read from {source}."}


def headline(metrics: dict[str, dict[str, float]], compare: dict[str, Any] | None,
             references: list[str]) -> dict[str, Any]:
    """The one number a reader looks for: words right under the word protocol for a set of
    cropped words, else the CER of the raw text; Tesseract's beside it when it read too."""
    key, metric = ("alnum", "exact_match") if mostly_words(references) else ("raw", "cer")
    line = {"metric": metric, "normalization": key, "value": metrics[key][metric],
            "description": ("words right, case-insensitive letters and digits" if metric == "exact_match"
                            else "character error rate of the raw text")}
    if compare:
        line["tesseract"] = compare["metrics"][key][metric]
    return line


def _breakdown(records: list[dict[str, Any]], key: Any) -> dict[str, dict[str, float]]:
    groups: dict[str, Tally] = defaultdict(Tally)
    for r in records:
        groups[key(r)].add(r["reference"], r["prediction"])
    return {k: groups[k].metrics() for k in sorted(groups, key=_sort_key)}


def _sort_key(label: str) -> tuple:
    digits = "".join(ch for ch in label.split("-")[0] if ch.isdigit())
    return (0, int(digits), label) if digits else (1, 0, label)


def _write(config: EvalConfig, run_dir: Path, manifest: Manifest, name: str, checkpoint_path: Path,
           state: dict[str, Any], data: EvalSet, records: list[dict[str, Any]], seconds: float, device: str,
           compare: dict[str, Any] | None) -> EvalOutcome:
    folder = run_dir / "eval" / name
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [(r["reference"], r["prediction"]) for r in records]
    breakdowns = {"by_length": _breakdown(records, lambda r: bucket(len(r["reference"]), LENGTH_EDGES)),
                  "by_width": _breakdown(records, lambda r: bucket(r["width"], WIDTH_EDGES))}
    if any(r["font"] for r in records):
        breakdowns["by_font"] = _breakdown(records, lambda r: r["font"] or "unknown")
    breakdowns["by_script"] = script_errors(pairs)
    decoding = config.decoding.describe()
    metrics = score_normalized(pairs)
    report = {"name": name, "created": now(), "lines": len(records), "skipped": data.skipped,
              "restored": data.restored, "headline": headline(metrics, compare, [r for r, _ in pairs]),
              "metrics": metrics, "breakdowns": breakdowns, "confusions": confusions(pairs),
              "confidence": confidence_ranking([(r["reference"], r["prediction"], r["confidence"]) for r in records],
                                               "alnum" if mostly_words([r for r, _ in pairs]) else "all"),
              "decoding": decoding, "device": device, "seconds": round(seconds, 2),
              "lines_per_s": round(len(records) / seconds, 1) if seconds else 0.0,
              "checkpoint": {"path": str(checkpoint_path), "sha256": sha256_file(checkpoint_path),
                             "step": state["step"], "arch": state["model"]["config"]["arch"]},
              "data": {"description": data.description, "sha256": data.digest}, "config": config.as_record(),
              "compare": compare}
    worst = sorted(records, key=lambda r: (-r["distance"], -r["distance"] / max(1, len(r["reference"])),
                                           r["index"]))
    columns = ["file", "reference", "prediction", "distance", "confidence"]
    if compare:
        columns += ["compare_prediction", "compare_distance"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows([[r[c] for c in columns] for r in worst])
    atomic_write_text(folder / "predictions.tsv", buffer.getvalue())
    atomic_write_json(folder / "report.json", report)
    shown = worst[: config.worst]
    page = html_report.render(report, shown, [data.dataset[r["index"]][1] for r in shown])
    atomic_write_bytes(folder / "report.html", page.encode("utf-8"))
    _record(manifest, name, report, folder, run_dir)
    return EvalOutcome(name, report, folder)


def _record(manifest: Manifest, name: str, report: dict[str, Any], folder: Path, run_dir: Path) -> None:
    """Add this evaluation to the manifest's eval section (which lists every evaluation)."""
    entry = {"created": report["created"], "lines": report["lines"], "metrics": report["metrics"]["raw"],
             "checkpoint_sha256": report["checkpoint"]["sha256"], "data_sha256": report["data"]["sha256"],
             "data": report["data"]["description"], "decoding": report["decoding"],
             "report": str((folder / "report.html").relative_to(run_dir)),
             "compare": {"name": report["compare"]["name"], "metrics": report["compare"]["metrics"]["raw"]}
             if report["compare"] else None}
    manifest.add_entry("eval", "evaluations", name, entry, report["config"], {"checkpoint": report["checkpoint"]})

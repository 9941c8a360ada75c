"""`ocrpipe generate`: text-line images and labels with trdg, deterministic, parallel, resumable.

The lines of each split are cut into fixed chunks of CHUNK_LINES indices. A chunk is the
unit of work handed to a worker, of resumption (a finished chunk leaves a part file in
`labels/.parts/`; a rerun skips it) and of fan-out (`--shard K/N` makes every N-th chunk).
When every chunk of the run is there, the parts are merged into `labels/<split>.tsv` and
the manifest section is marked done.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.run import locks
from pipeline.config import GenerateConfig, to_dict
from pipeline.text.corpus import TYPOGRAPHIC, Corpus
from pipeline.errors import OcrpipeError
from pipeline.synth.fonts import load_fonts
from pipeline.utils.files import (atomic_write_json, atomic_write_text, ensure_writable_dir, flocked,
                                  json_digest, relative_to, sha256_file)
from pipeline.synth.lines import LABEL_COLUMNS, SPLITS, LineMaker
from pipeline.utils.seeding import derive_seed
from pipeline.run.manifest import Manifest
from pipeline.utils.parallel import available_cores, worker_map
from pipeline.utils.progress import bar
from pipeline.run.results import GenerateResult
from pipeline.synth.trdg_compat import trdg_modules

CHUNK_LINES = 100


@dataclass(frozen=True)
class Chunk:
    split: str
    start: int
    stop: int
    ordinal: int        # position among all chunks of the run; decides its shard

    @property
    def key(self) -> str:
        return f"{self.split}-{self.start // CHUNK_LINES:06d}"


@dataclass
class GenerateOutcome:
    status: str                     # "done", "partial" (other shards pending) or "up-to-date"
    result: GenerateResult | None   # when done or up to date
    made: int                       # lines rendered by this invocation
    seconds: float
    workers: int
    chunks_done: int
    chunks_total: int
    dropped_entries: dict[str, int]  # corpus entries left out for characters no font draws


def split_sizes(config: GenerateConfig) -> dict[str, int]:
    val = round(config.count * config.val_fraction)
    test = round(config.count * config.test_fraction)
    return {"train": config.count - val - test, "val": val, "test": test}


def plan_chunks(sizes: dict[str, int]) -> list[Chunk]:
    chunks = []
    for split in SPLITS:
        for start in range(0, sizes[split], CHUNK_LINES):
            chunks.append(Chunk(split, start, min(start + CHUNK_LINES, sizes[split]), len(chunks)))
    return chunks


def _describe(chars: set[str]) -> str:
    shown = "".join(sorted(chars)[:12])
    return repr(shown) + (f" and {len(chars) - 12} more" if len(chars) > 12 else "")


def prepare(config: GenerateConfig, run_dir: Path) -> tuple[LineMaker, dict[str, Any], dict[str, int]]:
    """Load and check every input; returns the line maker, the manifest inputs and the
    number of corpus entries dropped per file. Raises OcrpipeError before anything is written."""
    trdg_modules()          # trdg and OpenCV are there (else: how to install them), loaded before any fork
    corpus = Corpus.load(config.corpus, config.codes_fraction, config.langs(), config.text, config.conventions)
    fonts = load_fonts(config.fonts, corpus.characters())
    usable = [f for f in fonts if not (f.caps_only and config.caps_fonts == "skip")]
    if not usable:
        raise OcrpipeError("every font given draws only capitals and --caps-fonts is skip; "
                           "add ordinary fonts or use --caps-fonts upper")
    drawable = frozenset().union(*(f.drawable for f in usable))

    written = {ch for source in corpus.sources for entry in source.entries() for ch in entry}
    uncovered = {ch for ch in written - drawable if not ch.isspace()}
    dropped: dict[str, int] = {}
    if uncovered:
        dropped = {k: v for k, v in corpus.entries_with(uncovered).items() if v}
        where = ", ".join(f"{n} in {name}" for name, n in dropped.items())
        if not config.skip_uncovered:
            raise OcrpipeError(f"no font given draws {_describe(uncovered)} used by {sum(dropped.values())} corpus "
                               f"entries ({where}); add a font that covers them to --fonts or drop those entries "
                               "with --skip-uncovered")
        corpus.drop_entries_with(uncovered)
    if not TYPOGRAPHIC <= drawable:
        corpus.disable_typesetting()

    families = sorted({f.family for f in usable})
    held: set[str] = set()
    if config.holdout_fonts:
        if config.holdout_fonts >= len(families):
            raise OcrpipeError(f"--holdout-fonts {config.holdout_fonts}: only {len(families)} font families "
                               "are given; keep at least one for training")
        held = set(random.Random(derive_seed(config.seed, "holdout")).sample(families, config.holdout_fonts))
    if config.holdout_family:
        unknown = [name for name in config.holdout_family if name not in families]
        if unknown:
            raise OcrpipeError(f"--holdout-family {unknown[0]}: no font given has this family; the families are "
                               f"{', '.join(families)}")
        held |= set(config.holdout_family)
        if len(held) >= len(families):
            raise OcrpipeError("--holdout-family: every font family given is held out; keep at least one for training")
    seen = [f for f in usable if f.family not in held]
    test_fonts = [f for f in usable if f.family in held] or seen
    maker = LineMaker(config, corpus, {"train": seen, "val": seen, "test": test_fonts}, run_dir,
                      photo_dir=_photo_dir())

    inputs = {
        "fonts": [{"path": relative_to(f.path, run_dir), "sha256": sha256_file(f.path), "family": f.family,
                   "caps_only": f.caps_only} for f in fonts],
        "corpus": [{"path": relative_to(Path(p), run_dir), "sha256": sha256_file(Path(p)),
                    "kind": type(s).__name__.lower(), "entries": len(s.entries())}
                   for p, s in zip(config.corpus, corpus.sources)],
        "holdout_families": sorted(held),
        "dropped_uncovered": dropped,
    }
    inputs["fingerprint"] = json_digest({
        "version": __version__,
        "config": {k: v for k, v in config.output_fields().items() if k not in ("fonts", "corpus")},
        "fonts": [f["sha256"] for f in inputs["fonts"]],
        "corpus": [c["sha256"] for c in inputs["corpus"]],
    })
    return maker, inputs, dropped


# -- workers ------------------------------------------------------------------------------
_MAKER: LineMaker | None = None


def _init_worker(maker: LineMaker) -> None:
    global _MAKER
    _MAKER = maker


def _run_chunk(chunk: Chunk) -> tuple[Chunk, dict[str, Any]]:
    assert _MAKER is not None
    return chunk, _MAKER.make_range(chunk.split, chunk.start, chunk.stop)


# -- the stage ------------------------------------------------------------------------------
def run(config: GenerateConfig, run_dir: Path, force: bool = False,
        show_progress: bool | None = None) -> GenerateOutcome:
    config.validate()
    k, n = config.shard_pair()
    maker, inputs, dropped = prepare(config, run_dir)
    # One generate at a time, except the shards of one sharded generate, which share the run.
    lock = locks.hold(run_dir, "generate") if n == 1 else locks.hold(run_dir, f"generate-{k}-of-{n}", ("generate",))
    with lock:
        return _generate(config, run_dir, force, show_progress, maker, inputs, dropped, k, n)


def _generate(config: GenerateConfig, run_dir: Path, force: bool, show_progress: bool | None, maker: LineMaker,
              inputs: dict[str, Any], dropped: dict[str, int], k: int, n: int) -> GenerateOutcome:
    manifest = Manifest(run_dir)
    ensure_writable_dir(run_dir, "run directory")
    parts = run_dir / "labels" / ".parts"
    sizes = split_sizes(config)
    chunks = plan_chunks(sizes)
    # The shards of one generate start together: one at a time decides whether to clear the run.
    with flocked(ensure_writable_dir(run_dir / locks.FOLDER, "run directory") / "generate-start"):
        existing = manifest.stage("generate")
        if existing and existing.status == "done" and not force:
            if existing.inputs.get("fingerprint") == inputs["fingerprint"]:
                result = GenerateResult.from_dict(existing.result)
                if result.verify(run_dir) is None:
                    return GenerateOutcome("up-to-date", result, 0, 0.0, 0, len(chunks), len(chunks), dropped)
            else:
                raise OcrpipeError(f"{run_dir} already holds a finished generate made with other settings or "
                                   "inputs; pass --force to replace it, or choose another --run")
        _clear_or_keep(run_dir, parts, inputs["fingerprint"], force, n, bool(existing and existing.status == "done"))
        mine = [c for c in chunks if c.ordinal % n == k - 1]
        todo = [c for c in mine if not (parts / f"{c.key}.json").exists()]
        workers = max(1, min(config.workers or available_cores(), len(todo)))
        manifest.begin("generate", to_dict(config), inputs)
    start, made = time.perf_counter(), 0
    progress = bar(sum(c.stop - c.start for c in todo), "generate", enabled=show_progress)
    with progress, manifest.recording_failure("generate", "finished chunks of lines are kept"):
        for chunk, outcome in worker_map(_run_chunk, todo, workers, _init_worker, (maker,), ordered=False):
            atomic_write_json(parts / f"{chunk.key}.json", outcome, durable=False)
            made += len(outcome["rows"])
            progress.update(chunk.stop - chunk.start)
    seconds = time.perf_counter() - start

    done = sum(1 for c in chunks if (parts / f"{c.key}.json").exists())
    if done < len(chunks):
        manifest.finish("generate", {"chunks_done": done, "chunks_total": len(chunks)}, status="partial")
        return GenerateOutcome("partial", None, made, seconds, workers, done, len(chunks), dropped)
    result = _merge(run_dir, parts, chunks, sizes, config.height, made, seconds)
    manifest.finish("generate", result.to_dict())
    shutil.rmtree(parts, ignore_errors=True)
    return GenerateOutcome("done", result, made, seconds, workers, done, len(chunks), dropped)


def _clear_or_keep(run_dir: Path, parts: Path, fingerprint: str, force: bool, shards: int, finished: bool) -> None:
    """Clear the run's images and labels for a new generate, or keep an unfinished one of the
    same settings to resume. Under --force, a sharded generate clears only what another
    generate made: the shards of this one, started with the same --force, keep each other's lines."""
    stamp = parts / "fingerprint.json"
    old_stamp = json.loads(stamp.read_text())["fingerprint"] if stamp.exists() else None
    if old_stamp and old_stamp != fingerprint and not force:
        raise OcrpipeError(f"{run_dir} holds an unfinished generate made with other settings or inputs; rerun it "
                           "with the same options to resume, pass --force to start over, or choose another --run")
    if (force and (shards == 1 or old_stamp != fingerprint)) or finished:
        for sub in ("images", "labels"):
            shutil.rmtree(run_dir / sub, ignore_errors=True)
    parts.mkdir(parents=True, exist_ok=True)
    if not stamp.exists():
        atomic_write_json(stamp, {"fingerprint": fingerprint})


def _merge(run_dir: Path, parts: Path, chunks: list[Chunk], sizes: dict[str, int], height: int,
           made: int, seconds: float) -> GenerateResult:
    """Join the chunk parts into one labels file per split and sum up what they say."""
    splits: dict[str, dict[str, Any]] = {}
    skipped: dict[str, dict[str, int]] = {}
    examples: dict[str, dict[str, list[str]]] = {}
    fonts: Counter[str] = Counter()
    for split in (s for s in SPLITS if sizes[s]):
        rows, reasons = [], Counter()
        for chunk in (c for c in chunks if c.split == split):
            part = json.loads((parts / f"{chunk.key}.json").read_text(encoding="utf-8"))
            rows.extend(part["rows"])
            reasons.update(part["skipped"])
            for reason, few in part["examples"].items():
                mine = examples.setdefault(split, {}).setdefault(reason, [])
                mine.extend(few[: 3 - len(mine)])
        fonts.update(row["font"] for row in rows)
        labels = run_dir / "labels" / f"{split}.tsv"
        lines = ["\t".join(LABEL_COLUMNS)] + ["\t".join(row[c] for c in LABEL_COLUMNS) for row in rows]
        atomic_write_text(labels, "\n".join(lines) + "\n", durable=True)
        splits[split] = {"count": len(rows), "labels": f"labels/{split}.tsv", "labels_sha256": sha256_file(labels),
                         "images": f"images/{split}"}
        skipped[split] = dict(reasons)
    return GenerateResult(splits=splits, skipped=skipped, examples=examples, fonts=dict(sorted(fonts.items())),
                          height=height, lines_per_s=round(made / seconds, 1) if seconds else 0.0,
                          seconds=round(seconds, 2))


def _photo_dir() -> str | None:
    """The bundled backgrounds/ photographs, when installed (the wild style's pictures)."""
    from pipeline.errors import OcrpipeError
    from pipeline.resources import bundled

    try:
        return str(bundled("backgrounds"))
    except OcrpipeError:
        return None

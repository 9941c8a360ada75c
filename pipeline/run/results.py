"""Typed stage results: what a finished stage records in the manifest for the next one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pipeline.errors import OcrpipeError
from pipeline.utils.files import sha256_file


class StageResult:
    """Base of the per-stage results: plain JSON-able fields, a check, a one-line summary."""

    stage: ClassVar[str] = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]):  # type: ignore[no-untyped-def]
        # Fields added later have defaults: a manifest written before them still loads.
        problem = _shape_problem(cls, d)
        if problem:
            raise OcrpipeError(f"the manifest's {cls.stage} result is damaged ({problem}); run `ocrpipe {cls.stage} "
                               "--force` to make it again, or restore manifest.json")
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def verify(self, run_dir: Path) -> str | None:
        """A description of how the outputs on disk differ from this record, or None."""
        return None

    def summary(self) -> str:
        return ""


_TYPES = {"dict": dict, "list": list, "int": int, "float": (int, float), "str": str, "bool": bool}


def _shape_problem(cls: type, d: Any) -> str | None:
    """What makes `d` unfit to be a `cls` (a hand-edited or damaged record), or None."""
    if not isinstance(d, dict):
        return f"a {type(d).__name__} where a record was expected"
    for f in dataclasses.fields(cls):
        if f.name not in d:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                return f"no {f.name!r}"
            continue
        kind = _TYPES.get(str(f.type).split("[")[0].split(" |")[0])
        value = d[f.name]
        if kind and not isinstance(value, kind) and not (value is None and "None" in str(f.type)):
            return f"{f.name!r} is a {type(value).__name__}"
    return None


def _changed_file(run_dir: Path, rel: str, sha256: str, size: int | None = None,
                  mtime_ns: int | None = None) -> str | None:
    """How `rel` differs from what was recorded, or None. Given the recorded size and
    modification time, a large file is hashed only when those moved."""
    path = run_dir / rel
    if not path.is_file():
        return f"{rel} is missing"
    stat = path.stat()
    if size is not None and stat.st_size != size:
        return f"{rel} has another size"
    if stat.st_mtime_ns == mtime_ns:
        return None
    if sha256_file(path) != sha256:
        return f"{rel} has other content (hash mismatch)"
    return None


@dataclass
class GenerateResult(StageResult):
    stage: ClassVar[str] = "generate"

    # split -> {"count": n, "labels": "labels/train.tsv", "labels_sha256": ..., "images": "images/train"}
    splits: dict[str, dict[str, Any]]
    # split -> reason -> count of line indices that produced no image (and no label)
    skipped: dict[str, dict[str, int]]
    examples: dict[str, dict[str, list[str]]]   # split -> reason -> a few examples, for people
    fonts: dict[str, int]            # font file name -> lines rendered with it
    height: int
    lines_per_s: float               # of the last invocation (what was rendered then)
    seconds: float

    def verify(self, run_dir: Path) -> str | None:
        for info in self.splits.values():
            problem = _changed_file(run_dir, info["labels"], info["labels_sha256"])
            if problem:
                return problem
        return None

    def summary(self) -> str:
        counts = " / ".join(f"{info['count']} {split}" for split, info in ordered(self.splits))
        skipped = sum(n for reasons in self.skipped.values() for n in reasons.values())
        return f"{counts} lines" + (f", {skipped} skipped" if skipped else "")




@dataclass
class PackResult(StageResult):
    stage: ClassVar[str] = "pack"

    # split -> {"source", "count", "shards": [{"path", "count", "sha256", "bytes", "mtime_ns"}],
    #           "skipped": {reason: n}, "skipped_chars": {char: n}, "examples": {reason: [...]},
    #           "width_histogram": {"0-63": n, ...}, "mean_width", "max_width"}
    splits: dict[str, dict[str, Any]]
    charset: dict[str, Any]          # {"path": "charset.json", "sha256", "size", "source"}
    height: int
    channels: int
    lines_per_s: float
    seconds: float

    def verify(self, run_dir: Path) -> str | None:
        problem = _changed_file(run_dir, self.charset["path"], self.charset["file_sha256"])
        if problem:
            return problem
        for info in self.splits.values():
            for shard in info["shards"]:
                problem = _changed_file(run_dir, shard["path"], shard["sha256"], shard["bytes"], shard["mtime_ns"])
                if problem:
                    return problem
        return None

    def shard_paths(self, run_dir: Path, split: str) -> list[Path]:
        return [run_dir / s["path"] for s in self.splits[split]["shards"]]

    def summary(self) -> str:
        counts = " / ".join(f"{info['count']} {split}" for split, info in ordered(self.splits))
        skipped = sum(n for info in self.splits.values() for n in info["skipped"].values())
        shards = sum(len(info["shards"]) for info in self.splits.values())
        return f"{counts} lines in {shards} shards" + (f", {skipped} skipped" if skipped else "")


def ordered(splits: dict[str, Any]) -> list[tuple[str, Any]]:
    order = {"train": 0, "val": 1, "test": 2}
    return sorted(splits.items(), key=lambda kv: (order.get(kv[0], 3), kv[0]))




@dataclass
class TrainResult(StageResult):
    stage: ClassVar[str] = "train"

    arch: str
    parameters: int
    device: str                       # "cpu", "cuda"
    gpu: str | None                   # the GPU's name when CUDA was used
    world_size: int                   # processes (GPUs) under torchrun
    steps: int
    lines_seen: int
    seconds: float                    # wall time of training, this and earlier resumed runs
    lines_per_s: float
    skipped_batches: int              # batches whose loss was not finite: skipped, never applied
    ranks_in_sync: bool               # every rank ended with the same parameters (always, alone)
    best: dict[str, Any]              # {"step": n, "metrics": {...}} by validation CER
    last: dict[str, Any]
    checkpoints: dict[str, Any]       # {"best": "train/best.pt", "best_sha256", "last": ...}
    lines_by_source: dict[str, int] = field(default_factory=dict)   # lines read from each train split
    init: dict[str, Any] = field(default_factory=dict)   # the --init checkpoint: path, sha256, new characters
    padding_share: float | None = None    # of the pixels of this run's batches, the padding (None: older runs)
    precision: str | None = None           # the training steps': bf16 under autocast, else fp32 (None: older runs)

    def verify(self, run_dir: Path) -> str | None:
        return _changed_file(run_dir, self.checkpoints["best"], self.checkpoints["best_sha256"])

    def summary(self) -> str:
        m = self.best.get("metrics", {})
        best = f"val CER {100 * m['cer']:.2f}%, mean edit distance {m['mean_edit_distance']:.3f}" if m else "no validation"
        precision = f" ({self.precision})" if self.precision else ""
        return (f"{self.arch}, {self.steps} steps, {best} (best at step {self.best.get('step')}), "
                f"{self.lines_per_s:.0f} lines/s on {self.gpu or self.device}{precision}")


@dataclass
class EvalResult(StageResult):
    stage: ClassVar[str] = "eval"

    evaluations: dict[str, dict[str, Any]]   # name -> metrics, data, checkpoint, report path

    def summary(self) -> str:
        return "; ".join(f"{name}: {e['lines']} lines, mean edit distance {e['metrics']['mean_edit_distance']:.3f}, "
                         f"CER {100 * e['metrics']['cer']:.2f}%" for name, e in self.evaluations.items())


RESULT_TYPES: dict[str, type[StageResult]] = {cls.stage: cls for cls in
                                              (GenerateResult, PackResult, TrainResult, EvalResult)}

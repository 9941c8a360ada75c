"""Building shards: each line decoded, prepared to the model height, checked against the
rules, and written in order; what is dropped is counted by reason with examples. Used by
`ocrpipe pack` and by `ocrpipe eval` for folders and LMDBs, so both keep the same lines."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.datasets.images import BadImage, load_line
from pipeline.datasets.shards import ShardWriter
from pipeline.datasets.sources import Sample
from pipeline.text.charset import Charset, ctc_frames, ctc_min_frames
from pipeline.text.labels import clean_label
from pipeline.utils.parallel import worker_map

HISTOGRAM_BIN = 64   # px per bin of the width histogram
EXAMPLES = 3         # examples kept per skip reason
# What a user can do about each reason a line is skipped for (pack names the commonest).
SKIP_REMEDIES = {
    "empty_label": "give those lines their text in the labels",
    "outside_charset": "add the characters with --add-chars FILE, or pack with a --charset that holds them",
    "missing_image": "check the image paths the labels name",
    "unreadable_image": "convert the images to PNG or JPEG (or remove them from the labels)",
    "too_wide": "pass a larger --max-width",
    "label_too_long_for_width": "check that the labels belong to their images (a line needs 4 px of width "
                                "per character, after resizing to the pack's height)",
}


@dataclass
class Line:
    """What a worker makes of one sample: pixels, or the reason it was skipped."""

    source: str
    label: str
    font: str
    pixels: np.ndarray | None = None
    reason: str = ""
    detail: str = ""
    chars: str = ""


@dataclass
class Stats:
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    skipped_chars: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    histogram: Counter = field(default_factory=Counter)
    width_sum: int = 0
    max_width: int = 0
    left_out: list[list[str]] = field(default_factory=list)   # [source, label, reason, font] per skipped line

    def add(self, line: Line) -> None:
        if line.pixels is None:
            self.skipped[line.reason] += 1
            self.skipped_chars.update(line.chars)
            self.left_out.append([line.source, line.label, line.reason, line.font])
            few = self.examples.setdefault(line.reason, [])
            if len(few) < EXAMPLES:
                few.append(f"{line.source}: {line.detail}")
            return
        width = int(line.pixels.shape[1])
        self.kept += 1
        self.width_sum += width
        self.max_width = max(self.max_width, width)
        lo = width // HISTOGRAM_BIN * HISTOGRAM_BIN
        self.histogram[f"{lo}-{lo + HISTOGRAM_BIN - 1}"] += 1

    def merge(self, other: dict[str, Any]) -> None:
        self.kept += other["kept"]
        self.skipped.update(other["skipped"])
        self.skipped_chars.update(other["skipped_chars"])
        for reason, few in other["examples"].items():
            mine = self.examples.setdefault(reason, [])
            mine.extend(few[: EXAMPLES - len(mine)])
        self.histogram.update(other["histogram"])
        self.width_sum += other["width_sum"]
        self.max_width = max(self.max_width, other["max_width"])
        self.left_out.extend(other.get("left_out", []))

    def to_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "skipped": dict(self.skipped), "skipped_chars": dict(self.skipped_chars),
                "examples": self.examples, "histogram": dict(self.histogram), "width_sum": self.width_sum,
                "max_width": self.max_width, "left_out": self.left_out}


@dataclass(frozen=True)
class Rules:
    """What a line must satisfy to be kept. Training data gets them all; an evaluation set
    keeps every readable line (a character the model lacks, or a label too long for its
    width, is then simply an error of the model), hence the optional parts."""

    height: int
    channels: int
    cap: int | None = None             # widest line kept
    charset: Charset | None = None     # characters allowed in labels
    check_ctc: bool = False            # labels must fit their width under CTC
    vertical: bool = False             # columns read top to bottom: turned to horizontal lines


_WORKER: dict[str, Rules] = {}


def _init_worker(rules: Rules) -> None:
    _WORKER["rules"] = rules


def _units(rules: Rules, label: str) -> str:
    """What CTC reads of `label`: the charset's units (Korean letters for a jamo charset)."""
    return rules.charset.units(label) if rules.charset else label


def process(sample: Sample) -> Line:
    rules = _WORKER["rules"]
    label = clean_label(sample.label)
    line = Line(sample.source, label, sample.font)
    if not label:
        line.reason, line.detail = "empty_label", "no text"
        return line
    missing = rules.charset.missing(label) if rules.charset else set()
    if missing:
        line.reason, line.detail = "outside_charset", f"{''.join(sorted(missing))!r} in {label[:60]!r}"
        line.chars = "".join(c for c in label if c in missing)
        return line
    try:
        pixels = load_line(sample.read(), rules.height, rules.channels, rules.vertical)
    except FileNotFoundError:
        line.reason, line.detail = "missing_image", "no such file"
        return line
    except (BadImage, OSError) as e:
        line.reason, line.detail = "unreadable_image", str(e)[:120]
        return line
    width = pixels.shape[1]
    if rules.cap and width > rules.cap:
        line.reason, line.detail = "too_wide", f"{width} px at height {rules.height} (cap {rules.cap}, --max-width)"
    elif rules.check_ctc and ctc_frames(width) < ctc_min_frames(units := _units(rules, label)):
        line.reason = "label_too_long_for_width"
        line.detail = f"{ctc_min_frames(units)} CTC frames needed, {ctc_frames(width)} in {width} px: {label[:60]!r}"
    else:
        line.pixels = pixels
    return line


def write_shard(path: Path, samples: list[Sample], rules: Rules, charset_sha256: str, fingerprint: str,
                workers: int, progress: Any = None) -> dict[str, Any]:
    """Process `samples` under `rules` into one shard at `path`; returns its metadata, which
    holds the statistics of what was kept and skipped."""
    writer = ShardWriter(path, rules.height, rules.channels, charset_sha256)
    stats = Stats()
    try:
        # A process per 64 lines at the most: a few lines are not worth starting processes for.
        # Results keep the input order, so shards do not depend on the worker count.
        for line in worker_map(process, samples, max(1, min(workers, len(samples) // 64)), _init_worker, (rules,),
                               chunksize=32):
            stats.add(line)
            if line.pixels is not None:
                writer.add(line.pixels, line.label, line.source, line.font)
            if progress is not None:
                progress.update(1)
    except BaseException:
        writer.abort()
        raise
    return writer.close(fingerprint, stats.to_dict())

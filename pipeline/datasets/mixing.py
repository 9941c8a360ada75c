"""Training on several packed splits at once, each at its own share of the batches.

A run may train on generated lines and a few hundred real ones (`--train-split train
--train-split real --mix 0.7,0.3`). Each split keeps its own `BucketBatchSampler` (width
buckets, its own epochs), and every global batch comes whole from one split, chosen at
random with the given shares: a 200-line split is simply repeated, epoch after epoch, and a
million-line split is never exhausted first.

Everything is a pure function of (seed, position): the source of the g-th global batch
comes from a generator seeded with (seed, block of g), and the batch a source gives is
its own n-th, n counted over the blocks before. So resuming at micro-batch m is exact,
as for a single split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from pipeline.text.charset import Charset
from pipeline.config import TrainConfig
from pipeline.datasets.loader import BucketBatchSampler, ShardDataset
from pipeline.errors import OcrpipeError
from pipeline.utils.seeding import derive_seed
from pipeline.run.results import PackResult

BLOCK = 1024          # global batches per mixed "epoch" (the unit of resumption bookkeeping)


class MixedBatchSampler(Sampler[list[int]]):
    """Micro-batches of dataset indices drawn from several splits at fixed shares.

    `samplers[k]` cuts split k's lines (indices local to the split); `offsets[k]` is where
    split k starts in the concatenated dataset. Every sampler must have the same number of
    micro-batches per global batch (`parts`) and the same rank and accumulation.
    """

    def __init__(self, samplers: Sequence[BucketBatchSampler], offsets: Sequence[int], shares: Sequence[float],
                 seed: int = 0) -> None:
        if len(samplers) != len(offsets) or len(samplers) != len(shares):
            raise ValueError("one offset and one share per sampler")
        self.samplers, self.offsets = list(samplers), [int(o) for o in offsets]
        self.shares = np.asarray(shares, dtype=np.float64) / float(np.sum(shares))
        self.seed = seed
        first = self.samplers[0]
        self.parts, self.rank, self.accumulate = first.parts, first.rank, first.accumulate
        self.epoch, self.start = 0, 0
        self._before: dict[int, np.ndarray] = {0: np.zeros(len(samplers), dtype=np.int64)}  # counts per block
        self._lengths: list[list[int]] = [[] for _ in samplers]    # global batches per epoch, per source
        self._epoch_cache: dict[int, tuple[int, list[list[int]]]] = {}

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Iterate block `epoch`, skipping its first `start` micro-batches (to resume)."""
        self.epoch, self.start = epoch, start

    def sources(self, block: int) -> np.ndarray:
        """The source of each global batch of a block."""
        rng = np.random.default_rng([self.seed, 0x6D1, block])
        return rng.choice(len(self.samplers), size=BLOCK, p=self.shares)

    def _counts_before(self, block: int) -> np.ndarray:
        """Global batches each source gave in blocks 0..block-1."""
        known = max(b for b in self._before if b <= block)
        counts = self._before[known].copy()
        for b in range(known, block):
            counts += np.bincount(self.sources(b), minlength=len(self.samplers))
            self._before[b + 1] = counts.copy()
        return counts

    def _global_batch(self, k: int, n: int) -> list[int]:
        """Source k's n-th global batch since the start of training (over its own epochs)."""
        sampler, lengths, epoch = self.samplers[k], self._lengths[k], 0
        while True:
            if epoch == len(lengths):
                lengths.append(len(sampler.global_batches(epoch)))
            if n < lengths[epoch]:
                break
            n -= lengths[epoch]
            epoch += 1
        cached = self._epoch_cache.get(k)
        if cached is None or cached[0] != epoch:
            cached = (epoch, sampler.global_batches(epoch))
            self._epoch_cache[k] = cached
        return cached[1][n]

    def __iter__(self) -> Iterator[list[int]]:
        sources = self.sources(self.epoch)
        counts = self._counts_before(self.epoch)
        first, last = self.rank * self.accumulate, (self.rank + 1) * self.accumulate
        skip = self.start
        for k in sources:
            batch = np.asarray(self._global_batch(int(k), int(counts[k])), dtype=np.int64) + self.offsets[k]
            counts[k] += 1
            for part in np.array_split(batch, self.parts)[first:last]:
                if skip:
                    skip -= 1
                    continue
                yield [int(i) for i in part]

    def __len__(self) -> int:
        return BLOCK * self.accumulate - self.start


@dataclass
class TrainData:
    """The lines a training reads: the train splits concatenated, where each starts, the
    validation split, and the charset of the pack."""

    train: ShardDataset
    names: list[str]          # the train splits, in order
    offsets: list[int]        # where each starts in `train`
    sizes: list[int]
    val: ShardDataset
    charset: Charset

    def source_of(self, indices: list[int]) -> np.ndarray:
        return np.searchsorted(np.asarray(self.offsets[1:]), np.asarray(indices), side="right")


def train_data(pack: PackResult, run_dir: Path, config: TrainConfig) -> TrainData:
    names = list(config.train_splits)
    for split in names + [config.val_split]:
        if split not in pack.splits or not pack.splits[split]["count"]:
            option = "--val-split" if split == config.val_split else "--train-split"
            has = ", ".join(f"{s} ({i['count']})" for s, i in pack.splits.items()) or "none"
            raise OcrpipeError(f"{option} {split}: the pack result of {run_dir} has no {split} lines (splits: {has}); "
                               f"choose another with {option}, or pack lines into it (generate with "
                               "--val-fraction > 0, or `ocrpipe pack --from-folder DIR --split NAME`)")
    sizes = [int(pack.splits[s]["count"]) for s in names]
    paths = [p for s in names for p in pack.shard_paths(run_dir, s)]
    offsets = [0] + list(np.cumsum(sizes)[:-1].tolist())
    return TrainData(ShardDataset(paths), names, offsets, sizes,
                     ShardDataset(pack.shard_paths(run_dir, config.val_split)),
                     Charset.load(run_dir / pack.charset["path"]))


def train_sampler(data: TrainData, config: TrainConfig, height: int, lines: int | None = None,
                  max_pixels: int | None = None, widths: np.ndarray | None = None
                  ) -> BucketBatchSampler | MixedBatchSampler:
    """The training batches: at most `lines` lines (default --batch-size) and `max_pixels`
    padded pixels (default --max-pixels) per micro-batch, bucketed by `widths` (default: the
    packed widths; a model that cuts lines to their ink rows reads them wider)."""
    lines, max_pixels = lines or config.batch_size, max_pixels or config.max_pixels
    widths = data.train.widths if widths is None else widths
    if len(data.names) == 1:
        return BucketBatchSampler(widths, lines, height, max_pixels,
                                  seed=config.seed, accumulate=config.accumulate)
    samplers = [BucketBatchSampler(widths[o:o + n], lines, height, max_pixels,
                                   seed=derive_seed(config.seed, "split", name) % 2**32, accumulate=config.accumulate)
                for name, o, n in zip(data.names, data.offsets, data.sizes)]
    return MixedBatchSampler(samplers, data.offsets, config.shares(data.sizes), seed=config.seed)

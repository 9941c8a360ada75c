"""The loader: bucketing sampler, padding and masks, batched reads from real shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.text.charset import Charset
from pipeline.datasets.loader import BucketBatchSampler, Collate, ShardDataset, make_loader, padded_width
from pipeline.datasets.shards import ShardWriter


def widths(n: int = 3000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 1600, n)


def test_every_line_once_per_epoch_and_deterministic():
    w = widths()
    sampler = BucketBatchSampler(w, batch_size=64, seed=7)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        lines = [i for batch in sampler for i in batch]
        assert sorted(lines) == list(range(len(w)))
        assert all(len(b) <= 64 for b in sampler)
    sampler.set_epoch(0)
    first = list(sampler)
    assert list(BucketBatchSampler(w, batch_size=64, seed=7)) == first          # same (seed, epoch)
    sampler.set_epoch(1)
    assert list(sampler) != first                                              # another epoch
    assert list(BucketBatchSampler(w, batch_size=64, seed=8)) != first        # another seed


def test_two_ranks_split_the_epoch_cleanly():
    w = widths(1001)            # an odd number of lines and of batches
    ranks = [BucketBatchSampler(w, batch_size=50, seed=3, num_replicas=2, rank=r) for r in (0, 1)]
    mine = [[i for batch in r for i in batch] for r in ranks]
    assert len(ranks[0]) == len(ranks[1])                          # the same number of steps
    assert not set(mine[0]) & set(mine[1])
    assert sorted(mine[0] + mine[1]) == list(range(1001))
    assert all(abs(len(a) - len(b)) <= 1 for a, b in zip(ranks[0], ranks[1]))


def test_two_ranks_see_what_one_process_accumulating_two_sees():
    w = widths(700)
    ranks = [list(BucketBatchSampler(w, batch_size=32, seed=4, num_replicas=2, rank=r)) for r in (0, 1)]
    single = list(BucketBatchSampler(w, batch_size=32, seed=4, accumulate=2, num_replicas=1, rank=0))
    assert single[0::2] == ranks[0] and single[1::2] == ranks[1]


def test_resuming_skips_the_micro_batches_already_seen():
    w = widths(500)
    sampler = BucketBatchSampler(w, batch_size=16, seed=2)
    sampler.set_epoch(3)
    whole = list(sampler)
    sampler.set_epoch(3, start=5)
    assert list(sampler) == whole[5:] and len(sampler) == len(whole) - 5


def test_bucketing_keeps_padding_and_shapes_few():
    w = widths(20_000)
    sampler = BucketBatchSampler(w, batch_size=64, seed=0)
    real = w.sum()
    padded = sum(padded_width(int(w[b].max())) * len(b) for b in sampler)
    shapes = {padded_width(int(w[b].max())) for b in sampler}
    rng = np.random.default_rng(0)
    random_batches = np.array_split(rng.permutation(len(w)), len(sampler))
    unbucketed = sum(padded_width(int(w[b].max())) * len(b) for b in random_batches)
    assert padded / real < 1.05 < 1.5 < unbucketed / real
    # Widths are rounded up to 16 px: at most 100 shapes up to 1600 px, however many batches.
    assert len(shapes) <= 1600 // 16 < len(sampler)


def test_pixel_cap_limits_batches():
    w = np.full(100, 800)
    sampler = BucketBatchSampler(w, batch_size=64, height=32, max_pixels=10 * 800 * 32)
    assert max(len(b) for b in sampler) == 10 and sum(len(b) for b in sampler) == 100


def test_collate_pads_masks_and_encodes_at_the_borders():
    charset = Charset.build(["abc "])
    items = [(5, np.full((32, 17, 1), 10, np.uint8), "ab"),
             (9, np.full((32, 32, 1), 20, np.uint8), "c"),
             (2, np.full((32, 33, 1), 30, np.uint8), "a b")]
    batch = Collate(charset)(items)
    assert batch.images.shape == (3, 1, 32, 48) and batch.images.dtype == torch.uint8
    assert batch.widths.tolist() == [17, 32, 33]
    assert batch.mask.sum(1).tolist() == [17, 32, 33]
    assert batch.mask[0, 16] and not batch.mask[0, 17] and batch.mask[2, 32] and not batch.mask[2, 33]
    assert (batch.images[0, 0, :, :17] == 10).all() and (batch.images[0, 0, :, 17:] == 255).all()
    assert batch.images[1, 0, 0, 31] == 20 and batch.images[1, 0, 0, 32] == 255
    assert batch.targets.tolist() == charset.encode("ab") + charset.encode("c") + charset.encode("a b")
    assert batch.target_lengths.tolist() == [2, 1, 3] and batch.texts == ["ab", "c", "a b"]
    assert batch.indices == [5, 9, 2]
    assert charset.encode(" ")[0] != 0                              # the space is a class, 0 is the blank
    moved = batch.to(torch.device("cpu"))
    assert torch.equal(moved.images, batch.images) and moved.texts == batch.texts


@pytest.fixture
def two_shards(tmp_path):
    rng = np.random.default_rng(1)
    lines = []
    for s in range(2):
        writer = ShardWriter(tmp_path / f"shard-{s:05d}.lmdb", 32, 1, "cs")
        for k in range(40):
            pixels = rng.integers(0, 256, (32, int(rng.integers(16, 300)), 1), dtype=np.uint8)
            writer.add(pixels, f"line {s}-{k}", f"s{s}/{k}")
            lines.append((pixels, f"line {s}-{k}"))
        writer.close("fp", {})
    return sorted(tmp_path.glob("shard-*.lmdb")), lines


def test_dataset_reads_batches_across_shards_in_order(two_shards):
    paths, lines = two_shards
    data = ShardDataset(paths)
    assert len(data) == 80 and data.widths.tolist() == [p.shape[1] for p, _ in lines]
    assert data.shards[1].label_lengths.tolist() == [len(label) for _, label in lines[40:]]
    picked = data.__getitems__([45, 3, 79, 40, 0])
    assert [i for i, _, _ in picked] == [45, 3, 79, 40, 0]
    for i, pixels, label in picked:
        assert np.array_equal(pixels, lines[i][0]) and label == lines[i][1]


def test_loader_with_worker_processes_yields_every_line(two_shards):
    paths, lines = two_shards
    data = ShardDataset(paths)
    data[0]          # the parent opens LMDB before the workers fork: they must reopen it
    charset = Charset.build(label for _, label in lines)
    loader = make_loader(data, BucketBatchSampler(data.widths, 16, seed=0), Collate(charset), workers=2)
    seen = {}
    for batch in loader:
        for k, i in enumerate(batch.indices):
            width = int(batch.widths[k])
            seen[i] = batch.images[k, 0, :, :width].numpy()
    assert sorted(seen) == list(range(80))
    assert all(np.array_equal(seen[i], lines[i][0][:, :, 0]) for i in range(80))


def test_shards_of_different_charsets_are_refused(tmp_path):
    for name, cs in (("a.lmdb", "one"), ("b.lmdb", "two")):
        writer = ShardWriter(tmp_path / name, 32, 1, cs)
        writer.add(np.zeros((32, 20, 1), np.uint8), "x", "x")
        writer.close("fp", {})
    with pytest.raises(Exception, match="another height, channel count or charset"):
        ShardDataset([tmp_path / "a.lmdb", tmp_path / "b.lmdb"])

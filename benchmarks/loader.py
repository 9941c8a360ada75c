"""Loader speed: ocrpipe's shard loader against the common pattern, on the same lines.

The common pattern (most CRNN repositories): a Dataset whose `__getitem__` opens the line's
PNG, converts it to grayscale and resizes it to height 32 with PIL, and a DataLoader with
shuffled batches padded to their widest line. ocrpipe: `ShardDataset` (raw pixels in LMDB,
one read per batch) with `BucketBatchSampler` and `Collate`. Same lines, batch size 64,
single process and 2 worker processes, 3 epochs each (workers persist), samples/s.
Also: the same shards holding PNG bytes instead of raw pixels (the storage choice), and
`ocrpipe pack` throughput.

    python benchmarks/loader.py [--count 6000] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import lmdb
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from common import machine, table, timed, today

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.text.charset import Charset  # noqa: E402
from pipeline.datasets.loader import BucketBatchSampler, Collate, ShardDataset, make_loader  # noqa: E402
from pipeline.datasets.images import PAPER  # noqa: E402
from pipeline.datasets.sources import from_generate  # noqa: E402
from pipeline.run.manifest import Manifest  # noqa: E402

EPOCHS = 3


class PngLines(Dataset):
    """The common pattern: decode and resize in __getitem__."""

    def __init__(self, paths: list[str], labels: list[str], charset: Charset) -> None:
        self.paths, self.labels, self.charset = paths, labels, charset

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[int]]:
        image = Image.open(self.paths[i]).convert("L")
        width = max(1, round(image.width * 32 / image.height))
        image = image.resize((width, 32), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.array(image)).unsqueeze(0), self.charset.encode(self.labels[i])


def pad_collate(items: list[tuple[torch.Tensor, list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(image.shape[-1] for image, _ in items)
    images = torch.full((len(items), 1, 32, width), PAPER, dtype=torch.uint8)
    for k, (image, _) in enumerate(items):
        images[k, :, :, : image.shape[-1]] = image
    targets = torch.tensor([c for _, code in items for c in code])
    return images, targets, torch.tensor([len(code) for _, code in items])


class PngShard(Dataset):
    """The storage alternative: normalized lines kept as PNG bytes in LMDB, decoded on read."""

    def __init__(self, path: Path, labels: list[str]) -> None:
        self.path, self.labels, self.env = str(path), labels, None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: list[int]) -> list[tuple[int, np.ndarray, str]]:
        if self.env is None:
            self.env = lmdb.open(self.path, subdir=False, readonly=True, lock=False, readahead=False)
        with self.env.begin() as txn:
            return [(i, np.asarray(Image.open(io.BytesIO(txn.get(b"%09d" % i))))[:, :, None], self.labels[i])
                    for i in indices]


def rate(loader: DataLoader, lines: int) -> float:
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        sampler = getattr(loader, "batch_sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        for _ in loader:
            pass
    return EPOCHS * lines / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="ocrpipe-loader-"))
    try:
        run = work / "run"
        ocrpipe = [sys.executable, "-m", "pipeline"]
        timed(ocrpipe + ["generate", "--run", str(run), "--count", str(args.count), "--val-fraction", "0",
                         "--test-fraction", "0", "--no-progress"])
        pack_seconds = timed(ocrpipe + ["pack", "--run", str(run), "--no-progress"])
        charset = Charset.load(run / "charset.json")
        shards = sorted((run / "shards" / "train").glob("*.lmdb"))
        data = ShardDataset(shards)
        samples = from_generate(run, Manifest(run).require("generate"))["train"]
        kept = {s: i for i, s in enumerate(data.sources)}
        png = PngLines([s.path for s in samples if s.source in kept], data.labels, charset)
        lines = len(data)

        png_shard = work / "png.lmdb"        # the same normalized lines, stored as PNG
        env = lmdb.open(str(png_shard), subdir=False, map_size=1 << 31, lock=False)
        with env.begin(write=True) as txn:
            for i in range(lines):
                buffer = io.BytesIO()
                Image.fromarray(data[i][1][:, :, 0]).save(buffer, format="PNG")
                txn.put(b"%09d" % i, buffer.getvalue())
        env.close()

        rows = []
        for workers in (0, 2):
            baseline = rate(DataLoader(png, batch_size=args.batch_size, shuffle=True, collate_fn=pad_collate,
                                       num_workers=workers, persistent_workers=workers > 0), lines)
            ours = rate(make_loader(data, BucketBatchSampler(data.widths, args.batch_size), Collate(charset),
                                    workers=workers), lines)
            stored_png = rate(make_loader(PngShard(png_shard, data.labels),
                                          BucketBatchSampler(data.widths, args.batch_size), Collate(charset),
                                          workers=workers), lines)
            name = "1 process" if workers == 0 else f"{workers} workers"
            rows.append([f"PNG decode + resize per line ({name})", f"{baseline:,.0f}", "1.0x"])
            rows.append([f"shards, PNG bytes in LMDB ({name})", f"{stored_png:,.0f}", f"{stored_png / baseline:.1f}x"])
            rows.append([f"shards, raw pixels in LMDB ({name})", f"{ours:,.0f}", f"{ours / baseline:.1f}x"])

        raw_mb = sum(p.stat().st_size for p in shards) / 1e6
        print(f"{today()}, {machine()}; {lines} generated lines (mean width {data.widths.mean():.0f} px at "
              f"height 32), batch {args.batch_size}, {EPOCHS} epochs, samples/s")
        print(table(["loader", "samples/s", "vs per-line PNG"], rows))
        print(f"ocrpipe pack: {lines / pack_seconds:,.0f} lines/s (whole command, start-up included); "
              f"shards {raw_mb:.1f} MB raw vs {png_shard.stat().st_size / 1e6:.1f} MB as PNG")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

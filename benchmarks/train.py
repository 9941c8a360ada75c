"""Training speed: lines/s of each architecture on this machine's device, fed by the shard
loader and from batches already in memory (the gap is what the loader costs), and, on
CUDA, the share of the wall time the GPU spends in kernels (torch.profiler) and the host
synchronisations per step (CUDA's sync debug mode).

The lines are made by `ocrpipe generate` and `ocrpipe pack` in a scratch run (or give
--run DIR of a packed run). Each measurement is `train_step` of `ocrpipe train` itself
(forward, CTC, backward, AdamW; bf16 autocast and channels-last on CUDA), after warm-up
steps that let cuDNN pick its kernels for the bucketed shapes.

With `--extra-classes 0,4000`, each arch is also measured with 4,000 more output classes
(Hangul syllables appended to the charset, as `pack --add-chars` does for a Korean or Chinese
model): the same lines, a wider classifier and CTC over 4,000+ classes, so the table shows what
a large charset costs a step.

With `--precisions fp32,bf16` on a CPU, each is measured in float32 and under bf16 autocast
(`ocrpipe train --cpu-bf16`; on a CPU without native bf16 the second row is float32 again,
and says so).

    python benchmarks/train.py [--count 4000] [--batch-size 64] [--steps 30] [--archs crnn,crnn-small]
                               [--extra-classes 0,4000] [--precisions fp32,bf16]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from common import machine, table, timed, today

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.text.charset import Charset  # noqa: E402
from pipeline.config import TrainConfig  # noqa: E402
from pipeline.datasets.loader import BucketBatchSampler, Collate, ShardDataset, make_loader  # noqa: E402
from pipeline.models.crnn import ModelConfig, build  # noqa: E402
from pipeline.models.runtime import setup  # noqa: E402
from pipeline.training.loop import train_step  # noqa: E402


class DeviceTime:
    """On CUDA, the share of the wall time the GPU spends in kernels (from torch.profiler's
    device times, not nvidia-smi's coarse utilization) and the host synchronisations per step
    (CUDA's sync debug mode in `warn`, counted)."""

    def __init__(self, device: torch.device, steps: int) -> None:
        self.device, self.steps = device, steps
        self.busy: float | None = None
        self.syncs: float | None = None

    def __enter__(self) -> DeviceTime:
        self.start = time.perf_counter()
        if self.device.type != "cuda":
            return self
        from torch.profiler import ProfilerActivity, profile

        self.warned = warnings.catch_warnings(record=True)
        self.caught = self.warned.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        self.profiler = profile(activities=[ProfilerActivity.CUDA])
        self.profiler.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type != "cuda":
            return
        torch.cuda.synchronize()
        wall = time.perf_counter() - self.start
        torch.cuda.set_sync_debug_mode("default")
        self.profiler.__exit__(None, None, None)
        self.warned.__exit__(None, None, None)
        kernel_us = sum(e.self_device_time_total for e in self.profiler.key_averages())
        self.busy = min(1.0, kernel_us / 1e6 / wall)
        self.syncs = sum("synchroniz" in str(w.message) for w in self.caught) / self.steps


def measure(arch: str, data: ShardDataset, charset: Charset, args: argparse.Namespace, preloaded: bool,
            cpu_bf16: bool = False) -> dict:
    rt = setup(args.device, cpu_bf16=cpu_bf16)
    torch.manual_seed(0)
    config = TrainConfig(arch=arch, batch_size=args.batch_size, augment=not args.no_augment)
    model = build(ModelConfig(arch, len(charset), data.height, data.channels)).to(rt.device)
    model = model.to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, fused=True)   # as ocrpipe train
    sampler = BucketBatchSampler(data.widths, args.batch_size, data.height, seed=0)
    workers = (args.workers if args.workers is not None else (8 if rt.device.type == "cuda" else 0))
    loader = make_loader(data, sampler, Collate(charset), workers=workers, pin_memory=rt.device.type == "cuda")
    batches = iter(loader)

    def next_batch():
        nonlocal batches
        try:
            return next(batches)
        except StopIteration:
            batches = iter(loader)
            return next(batches)

    warm = [next_batch() for _ in range(args.warmup)]
    for batch in warm:
        train_step(model, model, optimizer, [batch], config, rt, 0)
    kept = [next_batch() for _ in range(args.steps)] if preloaded else []
    if preloaded and rt.device.type == "cuda":
        kept = [b.to(rt.device) for b in kept]
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    with DeviceTime(rt.device, args.steps) as device_time:
        start, lines = time.perf_counter(), 0
        for step in range(args.steps):
            batch = kept[step] if preloaded else next_batch()
            train_step(model, model, optimizer, [batch], config, rt, step)
            lines += len(batch)
        if rt.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return {"lines_per_s": lines / seconds, "busy": device_time.busy, "syncs": device_time.syncs,
            "device": rt.gpu_name or "CPU", "precision": rt.precision}


def with_extra_classes(charset: Charset, extra: int) -> Charset:
    """The charset with `extra` more characters (Hangul syllables it lacks) at its end."""
    more = [chr(c) for c in range(0xAC00, 0xD7A4) if chr(c) not in charset][:extra]
    return Charset(charset.chars + more)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=None, help="a packed run to read (default: make one)")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--max-words", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--archs", default="crnn-small,crnn,crnn-resnet")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--extra-classes", default="0", help="comma-separated: output classes added to the charset")
    parser.add_argument("--precisions", default="fp32", help="comma-separated, on a CPU: fp32, bf16 (--cpu-bf16)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ocrpipe-train-bench-"))
    try:
        run = args.run
        if run is None:
            run = work / "run"
            ocrpipe = [sys.executable, "-m", "pipeline"]
            timed(ocrpipe + ["generate", "--run", str(run), "--count", str(args.count), "--max-words",
                             str(args.max_words), "--val-fraction", "0", "--test-fraction", "0", "--no-progress"])
            timed(ocrpipe + ["pack", "--run", str(run), "--no-progress"])
        data = ShardDataset(sorted((run / "shards" / "train").glob("shard-*.lmdb")))
        base = Charset.load(run / "charset.json")
        rows, device = [], "CPU"
        for arch in args.archs.split(","):
            for extra in (int(n) for n in args.extra_classes.split(",")):
                charset = with_extra_classes(base, extra)
                for precision in args.precisions.split(","):
                    bf16 = precision == "bf16"
                    fed = measure(arch, data, charset, args, preloaded=False, cpu_bf16=bf16)
                    ready = measure(arch, data, charset, args, preloaded=True, cpu_bf16=bf16)
                    device = fed["device"]
                    busy = "/".join(f"{100 * m['busy']:.0f}%" if m["busy"] is not None else "-" for m in (fed, ready))
                    syncs = f"{ready['syncs']:.1f}" if ready["syncs"] is not None else "-"
                    rows.append([arch, f"{len(charset):,}", fed["precision"], f"{fed['lines_per_s']:,.0f}",
                                 f"{ready['lines_per_s']:,.0f}", f"{fed['lines_per_s'] / ready['lines_per_s']:.2f}",
                                 busy, syncs])
        print(f"{today()}, {machine()}, {device}; {len(data)} lines, mean width {data.widths.mean():.0f} px at "
              f"height {data.height}, batch {args.batch_size}, {args.steps} steps after {args.warmup} warm-up, "
              f"augmentation {'off' if args.no_augment else 'on'}")
        print(table(["arch", "classes", "precision", "lines/s, loader", "lines/s, batches in memory", "loader / memory",
                     "GPU busy, loader/memory", "host syncs per step"], rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`ocrpipe train`: a CRNN with CTC, from the run's shards, on CUDA (bf16) or the CPU.

One code path for every device and process count: AdamW with warmup and cosine (or
one-cycle) decay, gradient clipping, CTC on float32 log-probabilities with each line's true
frame count; a step whose loss is not finite is skipped and counted, never applied.
Validation every `val_every` steps writes `train/last.pt` and, when the validation CER
improves, `train/best.pt`. `--resume` continues from last.pt exactly where it stopped
(step, learning rate, data order, random state); Ctrl-C finishes the current step, saves
last.pt and exits. Under torchrun every rank reads its own share of each global batch and
rank 0 alone writes checkpoints, logs and the manifest.

This driver locks the run, asks `training.state.resume_or_start` how to start, builds the
parts (`training.build`), runs the loop (`training.loop`) and records the outcome.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import TrainConfig, to_dict
from pipeline.errors import Interrupted
from pipeline.models.runtime import Runtime, setup, teardown
from pipeline.run import locks
from pipeline.run.manifest import Manifest
from pipeline.run.results import PackResult, TrainResult
from pipeline.training.build import Parts, build
from pipeline.training.loop import Loop
from pipeline.training.state import resume_or_start
from pipeline.utils.files import json_digest, sha256_file


@dataclass
class TrainOutcome:
    result: TrainResult
    resumed_from: int            # 0 for a fresh run
    stopped_early: bool
    up_to_date: bool = False     # a finished training of the same settings and data was found
    schedule_change: str = ""    # a --resume with other --steps: how the learning rate changed
    resumed_automatically: bool = False    # an unfinished training continued without --resume


def run(config: TrainConfig, run_dir: Path, resume: bool = False, force: bool = False,
        show_progress: bool | None = None) -> TrainOutcome:
    config.validate()
    runtime = setup(config.device, config.amp, config.cpu_bf16)
    # Under torchrun the main process holds the run's locks for all (a refusal ends the group).
    lock = locks.hold(run_dir, "train", ("pack",)) if runtime.is_main else contextlib.nullcontext()
    try:
        with lock:
            return _train(config, run_dir, runtime, resume, force, show_progress)
    finally:
        teardown(runtime)


def _train(config: TrainConfig, run_dir: Path, rt: Runtime, resume: bool, force: bool,
           show_progress: bool | None) -> TrainOutcome:
    manifest = Manifest(run_dir)
    pack = manifest.require("pack", PackResult, force=force)
    data_digest = json_digest(pack.to_dict())
    start = resume_or_start(config, run_dir, manifest, data_digest, resume, force, rt.distributed)
    if start.up_to_date:
        return TrainOutcome(start.up_to_date, 0, False, up_to_date=True)
    parts, state = build(config, pack, run_dir, rt, start.saved)
    resumed_from = state.step
    out_dir = run_dir / "train"
    if rt.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest.begin("train", to_dict(config), _inputs(parts, data_digest, resumed_from))
    info = {"height": pack.height, "channels": pack.channels, "data_digest": data_digest,
            "manifest_sha256": sha256_file(manifest.path)}
    loop = Loop(config, parts, state, rt, out_dir, info, show_progress)
    # An exception marks the record failed (it never stays `running`); last.pt stays for a rerun.
    recording = manifest.recording_failure("train", "train/last.pt") if rt.is_main else contextlib.nullcontext()
    with recording, contextlib.closing(loop):
        if loop.train_until_done():
            loop.save_interrupted()
            raise Interrupted(f"train interrupted at step {state.step}; {loop.last_path} is saved: run the same "
                              "command again to continue", terminated=loop.terminated)
        result = loop.result()
    if rt.is_main:
        manifest.finish("train", result.to_dict())
    rt.barrier()
    return TrainOutcome(result, resumed_from, loop.stopped_early, schedule_change=parts.schedule_change,
                        resumed_automatically=start.automatic)


def _inputs(parts: Parts, data_digest: str, resumed_from: int) -> dict:
    return {"pack": data_digest, "resumed_from": resumed_from,
            "batching": {"lines": parts.lines_cap, "max_pixels": parts.pixel_cap},
            **({"init": parts.parent} if parts.parent else {}),
            **({"schedule_change": parts.schedule_change} if parts.schedule_change else {})}

"""Building what a training runs: the model (fresh at the classes' prior, or grown from
--init), the optimizer and schedule, the state restored from last.pt, the distributed and
compiled wrappers, and the training and validation loaders with their batch sizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pipeline.config import TrainConfig
from pipeline.datasets.loader import (BatchLoader, BucketBatchSampler, Collate, ink_row_widths, make_loader,
                                      padded_widths)
from pipeline.datasets.mixing import TrainData, train_data, train_sampler
from pipeline.models import checkpoint
from pipeline.models.crnn import ModelConfig
from pipeline.models.runtime import Runtime
from pipeline.run.results import PackResult
from pipeline.text.charset import Charset
from pipeline.training.init import build_model, start_at_prior
from pipeline.training.margins import MarginCollate
from pipeline.training.optim import describe_schedule_change, make_optimizer, regrouped
from pipeline.training.state import TrainState, check_same_charset


@dataclass
class Parts:
    """The objects of one training, built once per command."""

    data: TrainData
    model_config: ModelConfig
    model: torch.nn.Module        # the plain model: its parameter names are the checkpoint's
    net: torch.nn.Module          # what the steps run (DistributedDataParallel around `model`)
    charset: Charset
    parent: dict[str, Any]        # the --init checkpoint's description ({} for a fresh model)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    sampler: Any
    loader: BatchLoader
    val_loader: BatchLoader
    lines_cap: int
    pixel_cap: int | None
    schedule_change: str = ""     # a resume with other --steps: how the learning rate changed
    ema: AveragedModel | None = None   # --ema: the moving average of `model` that validation and checkpoints use

    @property
    def kept(self) -> torch.nn.Module:
        """The model validation scores and checkpoints hold as their "model": the average with
        --ema, else the model as trained."""
        return self.ema.module if self.ema is not None else self.model


def batching(config: TrainConfig, widths: Any, height: int, device: str) -> tuple[int, int | None]:
    """Lines and padded pixels a micro-batch may hold. On CUDA without --max-pixels, a pixel
    budget (as fairseq batches by tokens): --batch-size lines of the mean padded width, with up
    to twice --batch-size narrow lines, so wide lines do not run out of memory and narrow
    ones fill the GPU; a step still holds --batch-size lines on average. Elsewhere, and with
    --max-pixels, the options as given."""
    if config.max_pixels or device != "cuda" or not len(widths):
        return config.batch_size, config.max_pixels
    mean = float(padded_widths(widths).mean())
    return 2 * config.batch_size, int(config.batch_size * height * mean)


def line_weights(data: TrainData, config: TrainConfig) -> np.ndarray:
    """How often the training draws each line of the train splits, relative to the others:
    a split's --mix share spread over its lines."""
    weights = np.empty(sum(data.sizes))
    for start, size, share in zip(data.offsets, data.sizes, config.shares(data.sizes)):
        weights[start:start + size] = share / max(size, 1)
    return weights


def compile_cnn(model: torch.nn.Module, backend: str = "inductor") -> None:
    """torch.compile the model's CNN (`encode`) with a dynamic width: batch widths (multiples
    of 16) then share one graph instead of compiling one per width. The recurrent layers stay
    as they are (cuDNN already runs them as one call; packing needs host lengths)."""
    model.encode = torch.compile(model.encode, dynamic=True, backend=backend)  # type: ignore[method-assign]


def build(config: TrainConfig, pack: PackResult, run_dir: Path, rt: Runtime,
          saved: dict[str, Any] | None) -> tuple[Parts, TrainState]:
    """Everything a training runs, and its state: restored from `saved` (last.pt's contents)
    when resuming, else a fresh state."""
    data = train_data(pack, run_dir, config)
    model_config, model, charset, parent = build_model(config, pack, data.charset)
    if not (parent or saved):      # a resume loads its weights below
        start_at_prior(model, data.train.labels, data.train.widths, charset, line_weights(data, config))
    model = model.to(rt.device).to(memory_format=torch.channels_last)
    optimizer, scheduler = make_optimizer(model, config)
    state, schedule_change = TrainState(lines_by_source=[0] * len(data.names)), ""
    if saved:
        check_same_charset(saved, charset)
        model.load_state_dict(saved.get("trained_weights", saved["model"]["state_dict"]))
        optimizer.load_state_dict(regrouped(saved["optimizer"], model, optimizer))
        scheduler.load_state_dict(saved["scheduler"])
        checkpoint.restore_rng(saved["rng"])
        state = TrainState.from_checkpoint(saved, len(data.names))
        schedule_change = describe_schedule_change(saved["train_config"], config, state.step)
    ema = moving_average(model, config.ema, saved)
    net: torch.nn.Module = model
    if rt.distributed:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rt.device] if rt.device.type == "cuda"
                                                        else None)
    if config.compile:
        compile_cnn(model)
    lines_cap, pixel_cap = batching(config, data.train.widths, pack.height, rt.device.type)
    sampler, loader, val_loader = _loaders(config, data, charset, model_config, rt, lines_cap, pixel_cap)
    return Parts(data, model_config, model, net, charset, parent, optimizer, scheduler, sampler, loader,
                 val_loader, lines_cap, pixel_cap, schedule_change, ema), state


def moving_average(model: torch.nn.Module, decay: float, saved: dict[str, Any] | None) -> AveragedModel | None:
    """--ema: an exponential moving average of the weights and batch-norm statistics (torch's
    own AveragedModel, updated after each step); a resume restores it from the checkpoint, whose
    "model" holds the average and "trained_weights" the weights as trained."""
    if not decay:
        return None
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    if saved:
        ema.module.load_state_dict(saved["model"]["state_dict"])
        ema.n_averaged.fill_(int(saved.get("ema_updates", 0)))
    return ema


def _loaders(config: TrainConfig, data: TrainData, charset: Charset, model_config: ModelConfig, rt: Runtime,
             lines_cap: int, pixel_cap: int | None) -> tuple[Any, BatchLoader, BatchLoader]:
    height, ink_rows = model_config.height, model_config.ink_rows
    workers = config.workers if config.workers is not None else (min(8, torch.get_num_threads())
                                                                 if rt.device.type == "cuda" else 0)
    pin = rt.device.type == "cuda"
    read_widths = ink_row_widths(data.train) if ink_rows else None        # batch lines of like widths as read
    sampler = train_sampler(data, config, height, lines_cap, pixel_cap, read_widths)
    collate = (MarginCollate(charset, config.jitter_margins, config.seed, ink_rows) if config.jitter_margins
               else Collate(charset, ink_rows=ink_rows))
    loader = make_loader(data.train, sampler, collate, workers=workers, pin_memory=pin)
    val_widths = ink_row_widths(data.val) if ink_rows else data.val.widths
    val_sampler = BucketBatchSampler(val_widths, config.batch_size, height, config.max_pixels, shuffle=False)
    val_loader = make_loader(data.val, val_sampler, Collate(charset, ink_rows=ink_rows), workers=min(workers, 2),
                             pin_memory=pin)
    return sampler, loader, val_loader

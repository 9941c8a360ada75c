"""The training loop, in phases: `train_step` (one optimizer step, no host synchronisation),
`Loop.train_until` (steps, logging, validation on schedule, Ctrl-C), `Loop.validate_and_save`
(validation, last.pt and best.pt, the curves), and `Loop.result` (the record of the finished
training). The stage driver (`pipeline.train`) decides how to start and records the outcome.

Numbers of the steps stay on the device and are read once per LOG_EVERY steps; a step whose
loss is not finite on any rank is dropped on the device, counted, and never applied. Under
torchrun every rank runs the loop; rank 0 alone writes checkpoints and logs.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.config import TrainConfig, to_dict
from pipeline.datasets.loader import Batch
from pipeline.models import checkpoint
from pipeline.models.crnn import parameter_count
from pipeline.models.inference import ctc_loss, device_images, forward, score_split
from pipeline.models.runtime import Runtime
from pipeline.run.results import TrainResult
from pipeline.training.augment import augment
from pipeline.training.build import Parts
from pipeline.training.curves import plot_curves
from pipeline.training.init import set_cnn_frozen
from pipeline.training.state import TrainState
from pipeline.utils.files import atomic_write_text, sha256_file
from pipeline.utils.progress import bar
from pipeline.utils.seeding import derive_seed

CPU_FP32_NOTE = ("note: --cpu-bf16: this CPU has no native bf16 (AVX512-BF16 or AMX), where bf16 is slower "
                 "than float32; training in float32")
LOG_EVERY = 10     # steps per metrics.jsonl record: the step's numbers stay on the device until then


class StopFlag:
    """Ctrl-C (or SIGTERM) asks the loop to stop after the current step; twice, at once."""

    def __init__(self) -> None:
        self.requested = False
        self.terminated = False          # SIGTERM rather than Ctrl-C: exit code 143

    def __enter__(self) -> StopFlag:
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.terminated = signum == signal.SIGTERM

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


def train_step(net: torch.nn.Module, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               micro_batches: list[Batch], config: TrainConfig, rt: Runtime, step: int) -> torch.Tensor:
    """One optimizer step over `config.accumulate` micro-batches, without a host synchronisation:
    returns, on the device, [sum of the micro-batch losses, micro-batches whose loss was not
    finite, lines], summed over the ranks in one collective. A non-finite loss on any rank
    drops the whole step on the device: the fused AdamW skips it (its `found_inf`), and the
    batch-norm statistics its forwards moved are put back."""
    optimizer.zero_grad(set_to_none=True)
    norms = norm_statistics(model)
    totals = torch.zeros(3, dtype=torch.float32, device=rt.device)     # loss sum, non-finite, lines
    for k, batch in enumerate(micro_batches):
        images = device_images(batch, rt)
        widths = batch.widths.to(rt.device, non_blocking=True)
        if config.augment:     # seeded by the global micro-batch: ranks and accumulation agree
            generator = torch.Generator(device=rt.device)
            generator.manual_seed(derive_seed(config.seed, "augment", step, rt.rank * config.accumulate + k) % 2**63)
            images = augment(images, widths, generator, elastic=config.elastic)
        last = k == len(micro_batches) - 1
        with _no_sync(net) if rt.distributed and not last else contextlib.nullcontext():
            log_probs, _ = forward(net, images, batch.widths, rt)
            # Frame counts from the host's widths: CTC reads its lengths on the host.
            loss = ctc_loss(log_probs, model.output_lengths(batch.widths), batch, rt)
            (loss / len(micro_batches)).backward()
        loss = loss.detach().float()
        totals += torch.stack([torch.nan_to_num(loss, nan=0.0, posinf=0.0, neginf=0.0),
                               (~torch.isfinite(loss)).float(), torch.full((), float(len(batch)), device=rt.device)])
    if rt.distributed:
        torch.distributed.all_reduce(totals)
    finite = totals[1] == 0
    if config.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)
    optimizer.found_inf = (~finite).float()     # read by the fused AdamW: skip the update
    optimizer.step()
    with torch.no_grad():
        for live, saved in norms:
            live.copy_(torch.where(finite, live, saved))
    return totals


def norm_statistics(model: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(buffer, copy) of every batch-norm running statistic: a few kB, copied on the device."""
    return [(buffer, buffer.detach().clone()) for module in model.modules()
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) for buffer in module.buffers(recurse=False)]


def _no_sync(net: torch.nn.Module) -> contextlib.AbstractContextManager:
    """DDP's no_sync, also through a torch.compile wrapper."""
    return getattr(net, "_orig_mod", net).no_sync()


class MetricsLog:
    """train/metrics.jsonl: one record per LOG_EVERY steps and one per validation; a resumed
    run first drops the records after its step (it writes them again)."""

    def __init__(self, path: Path, step: int, enabled: bool) -> None:
        self.path = path
        self.file = None
        if enabled:
            _trim_log(path, step)
            self.file = open(path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()        # one record per LOG_EVERY steps: `tail -f` follows the training

    def close(self) -> None:
        if self.file:
            self.file.close()
            self.file = None


class Loop:
    """One command's training: the parts, the state, and what the steps since the last read
    left on the device."""

    def __init__(self, config: TrainConfig, parts: Parts, state: TrainState, rt: Runtime, out_dir: Path,
                 checkpoint_info: dict[str, Any], show_progress: bool | None) -> None:
        self.config, self.parts, self.state, self.rt = config, parts, state, rt
        self.last_path, self.best_path = out_dir / "last.pt", out_dir / "best.pt"
        self.out_dir = out_dir
        self.info = checkpoint_info          # height, channels, data_digest, manifest_sha256
        self.log = MetricsLog(out_dir / "metrics.jsonl", state.step, rt.is_main)
        self.progress = bar(config.steps, "train", unit="step", enabled=show_progress if rt.is_main else False,
                            initial=state.step)
        if config.cpu_bf16 and rt.device.type == "cpu" and not rt.amp:
            self.progress.write(CPU_FP32_NOTE, file=sys.stderr)
        self.last_metrics: dict[str, Any] = {}
        self.stopped_early = False
        self.terminated = False
        self.window = torch.zeros(4, dtype=torch.float64, device=rt.device)  # loss sum, bad micro-batches, lines, bad steps
        self.window_steps, self.window_start = 0, time.perf_counter()
        self.pixels = [0, 0]       # of this invocation's batches: the lines' own, and with padding
        self.started = time.perf_counter() - state.seconds
        parts.sampler.set_epoch(state.epoch, start=state.micro_batch)
        self.batches = iter(parts.loader)

    def checkpoint_dict(self, metrics: dict[str, Any]) -> dict[str, Any]:
        p = self.parts
        averaged = {"trained_weights": p.model.state_dict(), "ema_updates": int(p.ema.n_averaged)} if p.ema else {}
        return {"model": {"config": p.model_config.to_dict(), "state_dict": p.kept.state_dict()}, **averaged,
                "charset": p.charset.chars, "height": self.info["height"], "channels": self.info["channels"],
                **self.state.to_checkpoint(), "train_config": to_dict(self.config), "metrics": metrics,
                "optimizer": p.optimizer.state_dict(), "scheduler": p.scheduler.state_dict(),
                "rng": checkpoint.rng_state(), "data_digest": self.info["data_digest"],
                "manifest_sha256": self.info["manifest_sha256"]}

    def padding_share(self) -> float | None:
        return round(1 - self.pixels[0] / self.pixels[1], 4) if self.pixels[1] else None

    def next_batch(self) -> Batch:
        while True:
            try:
                batch = next(self.batches)
                self.state.micro_batch += 1
                return batch
            except StopIteration:
                self.state.epoch, self.state.micro_batch = self.state.epoch + 1, 0
                self.parts.sampler.set_epoch(self.state.epoch)
                self.batches = iter(self.parts.loader)

    def count(self, micro_batches: list[Batch]) -> None:
        """Lines per source and pixels with and without padding, from host numbers: no device read."""
        for b in micro_batches:
            for k, n in zip(*np.unique(self.parts.data.source_of(b.indices), return_counts=True)):
                self.state.lines_by_source[int(k)] += int(n)
            self.pixels[0] += int(b.widths.sum()) * b.images.shape[2]
            self.pixels[1] += b.images.shape[0] * b.images.shape[2] * b.images.shape[3]

    def read_window(self) -> None:
        """The step numbers kept on the device since the last read: one host sync per window."""
        if not self.window_steps:
            return
        loss_sum, bad, lines, bad_steps = self.window.tolist()
        self.window.zero_()
        self.state.skipped += int(bad_steps)         # never applied: the update was dropped on the device
        self.state.lines_seen += int(lines)
        good = self.window_steps * self.config.accumulate * self.rt.world_size - bad
        elapsed = time.perf_counter() - self.window_start
        loss = loss_sum / good if good else None
        lr = self.parts.scheduler.get_last_lr()[0]
        if self.rt.is_main:
            self.log.write({"step": self.state.step, "loss": loss, "lr": lr, "lines_per_s": round(lines / elapsed, 1),
                            **({"skipped": int(bad_steps)} if bad_steps else {}),
                            **({"padding": self.padding_share()} if self.pixels[1] else {})})
            self.progress.set_postfix(loss=f"{loss:.3f}" if loss is not None else "-", lr=f"{lr:.2e}",
                                      lines_s=f"{lines / elapsed:.0f}", refresh=False)
        self.window_steps, self.window_start = 0, time.perf_counter()

    def validate_and_save(self) -> None:
        """Validation; last.pt always, best.pt when the CER improved; early stopping."""
        state, p = self.state, self.parts
        self.read_window()
        metrics = score_split(p.kept, p.val_loader, self.rt, p.charset)
        self.last_metrics = {"step": state.step, "metrics": metrics}
        improved = not state.best or metrics["cer"] < state.best["metrics"]["cer"]
        if improved:
            state.best, state.stale_validations = {"step": state.step, "metrics": metrics}, 0
        else:
            state.stale_validations += 1
        if self.rt.is_main:
            self.log.write({"step": state.step, "split": self.config.val_split, **metrics,
                            "lines_by_source": dict(zip(p.data.names, state.lines_by_source))})
            # best.pt before last.pt: a kill between the two never leaves a last.pt whose best
            # validation has no best.pt (a resume from the older last.pt writes it again).
            if improved:
                checkpoint.save(self.best_path, self.checkpoint_dict(metrics))
            checkpoint.save(self.last_path, self.checkpoint_dict(metrics))
            plot_curves(self.log.path, self.out_dir / "curves.png", self.config.val_split)
            self.report_validation(metrics)
        self.stopped_early = bool(self.config.early_stop) and state.stale_validations >= self.config.early_stop

    def report_validation(self, metrics: dict[str, Any]) -> None:
        """One line per validation on the progress output (the bar, or the log's lines)."""
        if getattr(self.progress, "disable", False):          # --no-progress
            return
        best = self.state.best
        self.progress.write(f"validation at step {self.state.step}: CER {100 * metrics['cer']:.2f}%, exact lines "
                            f"{100 * metrics['exact_match']:.1f}% (best CER {100 * best['metrics']['cer']:.2f}% "
                            f"at step {best['step']})", file=sys.stderr)

    def one_step(self) -> None:
        config, p, state = self.config, self.parts, self.state
        micro_batches = [self.next_batch() for _ in range(config.accumulate)]
        if config.freeze_cnn:        # again each step: validation puts the whole model back in train mode
            set_cnn_frozen(p.model, state.step < config.freeze_cnn)
        self.count(micro_batches)
        totals = train_step(p.net, p.model, p.optimizer, micro_batches, config, self.rt, state.step)
        if p.ema is not None:        # on the device, no sync; a dropped step left the weights as they were
            p.ema.update_parameters(p.model)
        self.window[:3] += totals
        self.window[3] += (totals[1] > 0).double()
        self.window_steps += 1
        p.scheduler.step()
        state.step += 1
        if self.rt.is_main:
            self.progress.update(1)
        state.seconds = time.perf_counter() - self.started

    def train_until_done(self) -> bool:
        """Steps until --steps or early stopping; True when Ctrl-C (or SIGTERM) stopped them
        (`self.terminated` says which)."""
        self.parts.net.train()
        interrupted = False
        with StopFlag() as stop:
            while self.state.step < self.config.steps and not self.stopped_early:
                self.one_step()
                at_log = self.state.step % LOG_EVERY == 0
                if at_log:
                    self.read_window()
                if self.state.step % self.config.val_every == 0 or self.state.step == self.config.steps:
                    self.validate_and_save()
                # Under torchrun the ranks agree on stopping at log steps (one collective there).
                if stop.requested if not self.rt.distributed else (at_log and self.rt.any(stop.requested)):
                    interrupted, self.terminated = True, stop.terminated
                    break
        self.read_window()
        self.progress.close()
        return interrupted

    def save_interrupted(self) -> None:
        """last.pt at the step Ctrl-C stopped at (unless a validation just wrote it)."""
        if self.rt.is_main and self.last_metrics.get("step") != self.state.step:
            checkpoint.save(self.last_path, self.checkpoint_dict(self.last_metrics.get("metrics", {})))

    def close(self) -> None:
        """The log closed, however the loop ended."""
        self.log.close()

    def result(self) -> TrainResult:
        """The record of the finished training (validating once if no validation ran)."""
        state, p, rt = self.state, self.parts, self.rt
        if not state.best:                  # e.g. resumed at the final step: validate once
            self.validate_and_save()
        with torch.no_grad():               # DDP keeps ranks equal; check it rather than assume it
            checksum = float(sum(q.double().sum() + q.double().square().sum() for q in p.model.parameters()))
        total = checksum * rt.world_size
        in_sync = abs(rt.all_reduce_sum([checksum])[0] - total) <= 1e-9 * abs(total)
        return TrainResult(
            arch=p.model_config.arch, parameters=parameter_count(p.model), device=rt.device.type, gpu=rt.gpu_name,
            world_size=rt.world_size, steps=state.step, lines_seen=state.lines_seen, seconds=round(state.seconds, 1),
            lines_per_s=round(state.lines_seen / state.seconds, 1) if state.seconds else 0.0,
            skipped_batches=state.skipped, ranks_in_sync=not rt.any(not in_sync), best=state.best,
            last=self.last_metrics, lines_by_source=dict(zip(p.data.names, state.lines_by_source)), init=p.parent,
            padding_share=self.padding_share(), precision=rt.precision,
            checkpoints={"best": "train/best.pt", "last": "train/last.pt",
                         "best_sha256": sha256_file(self.best_path) if rt.is_main else ""})


def _trim_log(path: Path, step: int) -> None:
    """Keep only the records up to `step` (a resumed run writes the later ones again)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(line + "\n" for line in kept))

"""`ocrpipe train`: a CRNN with CTC, from the run's shards, on CUDA (bf16) or the CPU.

One code path for every device and process count: AdamW with warmup and cosine (or
one-cycle) decay, gradient clipping, CTC on float32 log-probabilities with each line's true
frame count; a step whose loss is not finite is skipped and counted, never applied.
Validation every `val_every` steps writes `train/last.pt` and, when the validation CER
improves, `train/best.pt`. `--resume` continues from last.pt exactly where it stopped
(step, learning rate, data order, random state); Ctrl-C finishes the current step, saves
last.pt and exits. Under torchrun every rank reads its own share of each global batch and
rank 0 alone writes checkpoints, logs and the manifest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline import checkpoint, locks
from pipeline.augment import augment
from pipeline.config import TrainConfig, to_dict
from pipeline.curves import plot_curves
from pipeline.data import Batch, BucketBatchSampler, Collate, make_loader, padded_widths
from pipeline.errors import Interrupted, OcrpipeError
from pipeline.fsutil import atomic_write_text, json_digest, sha256_file
from pipeline.inference import ctc_loss, device_images, forward, validate
from pipeline.lines import derive_seed
from pipeline.manifest import Manifest
from pipeline.finetune import initial_model, set_cnn_frozen, start_at_prior
from pipeline.mixing import train_data, train_sampler
from pipeline.model import parameter_count
from pipeline.progress import bar
from pipeline.results import PackResult, TrainResult
from pipeline.runtime import Runtime, setup, teardown

LOG_EVERY = 10     # steps per metrics.jsonl record: the step's numbers stay on the device until then


@dataclass
class TrainOutcome:
    result: TrainResult
    resumed_from: int            # 0 for a fresh run
    stopped_early: bool
    up_to_date: bool = False     # a finished training of the same settings and data was found
    schedule_change: str = ""    # a --resume with other --steps: how the learning rate changed


class StopFlag:
    """Ctrl-C (or SIGTERM) asks the loop to stop after the current step; twice, at once."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> StopFlag:
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


def lr_factor(step: int, config: TrainConfig) -> float:
    """Learning-rate multiplier at `step` (a pure function, so resuming is exact)."""
    total, warmup = config.steps, config.warmup_steps()
    if config.schedule == "onecycle":       # 30% up from lr/25, then cosine down to lr/1e4
        rise = max(1, int(0.3 * total))
        if step < rise:
            return 1 / 25 + (1 - 1 / 25) * step / rise
        progress = (step - rise) / max(1, total - rise)
        return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def describe_schedule_change(before: dict[str, Any], config: TrainConfig, step: int) -> str:
    """A resume with another --steps recomputes the schedule for the new length (the rate is a
    function of the step and the total): say how, rather than jump silently. "" when unchanged."""
    old = dataclasses.replace(config, steps=before["steps"], warmup=before.get("warmup"))
    if old.steps == config.steps:
        return ""
    was, now = config.lr * lr_factor(step, old), config.lr * lr_factor(step, config)
    return (f"the schedule is recomputed for {config.steps} steps instead of {old.steps} (warmup "
            f"{config.warmup_steps()} instead of {old.warmup_steps()}): the learning rate at step {step} is "
            f"{now:.3g} instead of {was:.3g}")


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
            images = augment(images, widths, generator)
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


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW's groups: weight decay on the weight matrices and kernels only; biases and
    batch-norm scales and shifts (every parameter of one dimension) are not decayed."""
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]


def regrouped(saved: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimizer state saved with one parameter group (checkpoints of earlier versions,
    which decayed every parameter) mapped onto this optimizer's groups; others as they are."""
    if len(saved["param_groups"]) == len(optimizer.param_groups):
        return saved
    position = {id(p): i for i, p in enumerate(model.parameters())}      # the old single group's order
    groups, state, k = [], {}, 0
    for group in optimizer.param_groups:
        ids = list(range(k, k + len(group["params"])))
        for new, p in zip(ids, group["params"]):
            if position[id(p)] in saved["state"]:
                state[new] = saved["state"][position[id(p)]]
        groups.append({**saved["param_groups"][0], "weight_decay": group["weight_decay"], "params": ids})
        k += len(ids)
    return {"state": state, "param_groups": groups}


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


def compile_cnn(model: torch.nn.Module, backend: str = "inductor") -> None:
    """torch.compile the model's CNN (`encode`) with a dynamic width: batch widths (multiples
    of 16) then share one graph instead of compiling one per width. The recurrent layers stay
    as they are (cuDNN already runs them as one call; packing needs host lengths)."""
    model.encode = torch.compile(model.encode, dynamic=True, backend=backend)  # type: ignore[method-assign]


def _check_resume(state: dict[str, Any], config: TrainConfig, data_digest: str) -> None:
    before = state["train_config"]
    changed = [k for k, v in to_dict(config).items() if k not in TrainConfig.RESUMABLE and before.get(k) != v]
    if changed:
        raise OcrpipeError(f"--resume with other settings than the run was started with ({', '.join(changed)}); "
                           "resume with the same options, or start over with --force")
    if state["data_digest"] != data_digest:
        raise OcrpipeError("--resume: the packed data changed since this training started; start over with --force")


def run(config: TrainConfig, run_dir: Path, resume: bool = False, force: bool = False,
        show_progress: bool | None = None) -> TrainOutcome:
    config.validate()
    runtime = setup(config.device, config.amp)
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
    existing = manifest.stage("train")
    out_dir = run_dir / "train"
    last_path, best_path, metrics_path = out_dir / "last.pt", out_dir / "best.pt", out_dir / "metrics.jsonl"
    data_digest = json_digest(pack.to_dict())
    if existing and existing.status == "done" and not (resume or force):
        same = existing.config == to_dict(config) and existing.inputs.get("pack") == data_digest
        if same and TrainResult.from_dict(existing.result).verify(run_dir) is None:
            return TrainOutcome(TrainResult.from_dict(existing.result), 0, False, up_to_date=True)
        raise OcrpipeError(f"{run_dir} already has a finished training with other settings or data; pass "
                           "--resume to continue it (e.g. with more --steps) or --force to train again from scratch")
    if resume and not last_path.is_file():
        raise OcrpipeError(f"--resume: {last_path} does not exist; start without --resume")
    if config.freeze_cnn and rt.distributed:
        raise OcrpipeError("--freeze-cnn is not supported under torchrun (DistributedDataParallel fixes which "
                           "parameters train); freeze in a single process, or leave it out")
    data = train_data(pack, run_dir, config)
    model_config, model, charset, parent = initial_model(config, pack, data.charset)
    if not (parent or resume):      # a resume loads its weights below
        start_at_prior(model, data.train.labels, data.train.widths, charset)
    model = model.to(rt.device).to(memory_format=torch.channels_last)
    # fused: one kernel per step, and it honours `found_inf`, so a bad step is dropped on the device
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    step, epoch, micro, lines_seen, seconds, skipped = 0, 0, 0, 0, 0.0, 0
    by_source = [0] * len(data.names)
    best: dict[str, Any] = {}
    stale_validations, schedule_change = 0, ""      # validations without a better CER (early stopping)
    if resume:
        state = checkpoint.load(last_path)
        _check_resume(state, config, data_digest)
        if list(state["charset"]) != list(charset.chars):
            raise OcrpipeError("--resume: the charset differs from the one this training started with; "
                               "start over with --force")
        by_source = list(state.get("lines_by_source", by_source))
        model.load_state_dict(state["model"]["state_dict"])
        optimizer.load_state_dict(regrouped(state["optimizer"], model, optimizer))
        scheduler.load_state_dict(state["scheduler"])
        checkpoint.restore_rng(state["rng"])
        step, epoch, micro = state["step"], state["epoch"], state["micro_batch"]
        lines_seen, seconds, skipped, best = state["lines_seen"], state["seconds"], state["skipped"], state["best"]
        stale_validations = state.get("stale_validations", 0)
        schedule_change = describe_schedule_change(state["train_config"], config, step)
    resumed_from = step

    net: torch.nn.Module = model        # what the steps run; `model` keeps the plain parameter names
    if rt.distributed:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rt.device] if rt.device.type == "cuda"
                                                        else None)
    if config.compile:
        compile_cnn(model)
    workers = config.workers if config.workers is not None else (min(8, torch.get_num_threads())
                                                                 if rt.device.type == "cuda" else 0)
    pin = rt.device.type == "cuda"
    lines_cap, pixel_cap = batching(config, data.train.widths, pack.height, rt.device.type)
    sampler = train_sampler(data, config, pack.height, lines_cap, pixel_cap)
    loader = make_loader(data.train, sampler, Collate(charset), workers=workers, pin_memory=pin)
    val_sampler = BucketBatchSampler(data.val.widths, config.batch_size, pack.height, config.max_pixels,
                                     shuffle=False)
    val_loader = make_loader(data.val, val_sampler, Collate(charset), workers=min(workers, 2), pin_memory=pin)

    if rt.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _trim_log(metrics_path, step)
        manifest.begin("train", to_dict(config), {"pack": data_digest, "resumed_from": resumed_from,
                                                  "batching": {"lines": lines_cap, "max_pixels": pixel_cap},
                                                  **({"init": parent} if parent else {}),
                                                  **({"schedule_change": schedule_change} if schedule_change else {})})
    manifest_sha = sha256_file(manifest.path)

    def state_dict(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"model": {"config": model_config.to_dict(), "state_dict": model.state_dict()},
                "charset": charset.chars, "height": pack.height, "channels": pack.channels, "step": step,
                "epoch": epoch, "micro_batch": micro, "lines_seen": lines_seen, "seconds": seconds,
                "skipped": skipped, "train_config": to_dict(config), "metrics": metrics, "best": best,
                "stale_validations": stale_validations,
                "lines_by_source": list(by_source),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": checkpoint.rng_state(), "data_digest": data_digest, "manifest_sha256": manifest_sha}

    log = open(metrics_path, "a", encoding="utf-8") if rt.is_main else None
    progress = bar(config.steps, "train", unit="step", enabled=show_progress if rt.is_main else False,
                   initial=step)
    last_metrics: dict[str, Any] = {}
    stopped_early, interrupted = False, False
    window = torch.zeros(4, dtype=torch.float64, device=rt.device)   # loss sum, bad micro-batches, lines, bad steps
    window_steps, window_start = 0, time.perf_counter()
    pixels = [0, 0]                      # of this invocation's batches: the lines' own, and with padding

    def padding_share() -> float | None:
        return round(1 - pixels[0] / pixels[1], 4) if pixels[1] else None
    started = time.perf_counter() - seconds
    sampler.set_epoch(epoch, start=micro)
    batches = iter(loader)

    def next_batch() -> Any:
        nonlocal batches, epoch, micro
        while True:
            try:
                batch = next(batches)
                micro += 1
                return batch
            except StopIteration:
                epoch, micro = epoch + 1, 0
                sampler.set_epoch(epoch)
                batches = iter(loader)

    def read_window() -> None:
        """The step numbers kept on the device since the last read: one host sync per window."""
        nonlocal window_steps, window_start, skipped, lines_seen
        if not window_steps:
            return
        loss_sum, bad, lines, bad_steps = window.tolist()
        window.zero_()
        skipped += int(bad_steps)                # never applied: the update was dropped on the device
        lines_seen += int(lines)
        good = window_steps * config.accumulate * rt.world_size - bad
        elapsed = time.perf_counter() - window_start
        loss = loss_sum / good if good else None
        if rt.is_main:
            _write(log, {"step": step, "loss": loss, "lr": scheduler.get_last_lr()[0],
                         "lines_per_s": round(lines / elapsed, 1), **({"skipped": int(bad_steps)} if bad_steps else {}),
                         **({"padding": padding_share()} if pixels[1] else {})})
            progress.set_postfix(loss=f"{loss:.3f}" if loss is not None else "-",
                                 lr=f"{scheduler.get_last_lr()[0]:.2e}", lines_s=f"{lines / elapsed:.0f}", refresh=False)
        window_steps, window_start = 0, time.perf_counter()

    def do_validation() -> None:
        nonlocal last_metrics, best, stale_validations, stopped_early
        read_window()
        metrics = validate(model, val_loader, rt, charset)
        last_metrics = {"step": step, "metrics": metrics}
        improved = not best or metrics["cer"] < best["metrics"]["cer"]
        if improved:
            best, stale_validations = {"step": step, "metrics": metrics}, 0
        else:
            stale_validations += 1
        if rt.is_main:
            _write(log, {"step": step, "split": config.val_split, **metrics,
                         "lines_by_source": dict(zip(data.names, by_source))})
            log.flush()
            checkpoint.save(last_path, state_dict(metrics))
            if improved:
                checkpoint.save(best_path, state_dict(metrics))
            plot_curves(metrics_path, out_dir / "curves.png")
        stopped_early = bool(config.early_stop) and stale_validations >= config.early_stop

    net.train()
    with StopFlag() as stop:
        while step < config.steps and not stopped_early:
            micro_batches = [next_batch() for _ in range(config.accumulate)]
            if config.freeze_cnn:        # again each step: validation puts the whole model back in train mode
                set_cnn_frozen(model, step < config.freeze_cnn)
            for b in micro_batches:
                for k, n in zip(*np.unique(data.source_of(b.indices), return_counts=True)):
                    by_source[int(k)] += int(n)
                pixels[0] += int(b.widths.sum()) * b.images.shape[2]        # host numbers: no device read
                pixels[1] += b.images.shape[0] * b.images.shape[2] * b.images.shape[3]
            totals = train_step(net, model, optimizer, micro_batches, config, rt, step)
            window[:3] += totals
            window[3] += (totals[1] > 0).double()
            window_steps += 1
            scheduler.step()
            step += 1
            if rt.is_main:
                progress.update(1)
            seconds = time.perf_counter() - started
            at_log = step % LOG_EVERY == 0
            if at_log:
                read_window()
            if step % config.val_every == 0 or step == config.steps:
                do_validation()
            # Under torchrun the ranks agree on stopping at log steps (one collective there).
            if stop.requested if not rt.distributed else (at_log and rt.any(stop.requested)):
                interrupted = True
                break
    read_window()
    progress.close()
    if interrupted:
        if rt.is_main and last_metrics.get("step") != step:
            checkpoint.save(last_path, state_dict(last_metrics.get("metrics", {})))
        if rt.is_main:
            log.close()
            manifest.fail("train", f"interrupted at step {step}; continue with --resume")
        raise Interrupted(f"train interrupted at step {step}; {last_path} is saved, continue with --resume")

    if not best:                        # e.g. resumed at the final step: validate once
        do_validation()
    with torch.no_grad():               # DDP keeps ranks equal; check it rather than assume it
        checksum = float(sum(p.double().sum() + p.double().square().sum() for p in model.parameters()))
    in_sync = abs(rt.all_reduce_sum([checksum])[0] - checksum * rt.world_size) <= 1e-9 * abs(checksum * rt.world_size)
    result = TrainResult(
        arch=model_config.arch, parameters=parameter_count(model), device=rt.device.type, gpu=rt.gpu_name,
        world_size=rt.world_size, steps=step, lines_seen=lines_seen, seconds=round(seconds, 1),
        lines_per_s=round(lines_seen / seconds, 1) if seconds else 0.0, skipped_batches=skipped,
        ranks_in_sync=not rt.any(not in_sync), best=best, last=last_metrics,
        lines_by_source=dict(zip(data.names, by_source)), init=parent,
        padding_share=padding_share(),
        checkpoints={"best": "train/best.pt", "last": "train/last.pt",
                     "best_sha256": sha256_file(best_path) if rt.is_main else ""})
    if rt.is_main:
        log.close()
        manifest.finish("train", result.to_dict())
    rt.barrier()
    return TrainOutcome(result, resumed_from, stopped_early, schedule_change=schedule_change)


def _write(log: Any, record: dict[str, Any]) -> None:
    log.write(json.dumps(record) + "\n")       # buffered; flushed at each validation and at the end


def _trim_log(path: Path, step: int) -> None:
    """Keep only the records up to `step` (a resumed run writes the later ones again)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(line + "\n" for line in kept))

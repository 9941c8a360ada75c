"""The optimizer and its schedule: AdamW in two groups (no decay on biases and batch-norm
parameters), warmup then cosine (or one-cycle) decay as a pure function of the step, so a
resume continues the same curve, and the mapping of older one-group optimizer states."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from pipeline.config import TrainConfig


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


def make_optimizer(model: torch.nn.Module, config: TrainConfig
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    # fused: one kernel per step, and it honours `found_inf`, so a bad step is dropped on the device
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    return optimizer, scheduler

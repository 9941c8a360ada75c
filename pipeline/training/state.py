"""What a training is at a step, and the one place that decides how a `train` command starts.

`TrainState` holds everything a resume needs besides the weights and the optimizer: the
step, the position in the data, the counts and the best validation so far. It is written
into every checkpoint and read back from last.pt.

`resume_or_start` is the policy, so that running the interrupted command again never throws
a training away:
* --force starts over;
* a finished training of the same settings and data is up to date; one of other settings
  needs --resume (e.g. to train on with more --steps) or --force;
* a training that did not finish (Ctrl-C, kill -9, a crash) continues from its last.pt when
  the command is run again, with or without --resume, if the settings and data are the same
  (or differ only in how it runs: TrainConfig.RESUMABLE); otherwise a one-line refusal says
  which settings differ, the command that started it, and --force;
* --resume with no last.pt is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.config import TrainConfig, to_dict
from pipeline.errors import OcrpipeError
from pipeline.models import checkpoint
from pipeline.run.manifest import Manifest
from pipeline.run.results import TrainResult
from pipeline.text.charset import Charset


@dataclass
class TrainState:
    step: int = 0                  # optimizer steps done
    epoch: int = 0                 # passes of the sampler over the training lines
    micro_batch: int = 0           # micro-batches read in this epoch
    lines_seen: int = 0
    seconds: float = 0.0           # wall time of training, this and earlier resumed runs
    skipped: int = 0               # steps whose loss was not finite: dropped, never applied
    best: dict[str, Any] = field(default_factory=dict)     # {"step", "metrics"} of the best validation
    stale_validations: int = 0     # validations since the best one (early stopping)
    lines_by_source: list[int] = field(default_factory=list)   # lines read from each train split

    def to_checkpoint(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any], sources: int) -> TrainState:
        """The state in a checkpoint; `sources` counts for checkpoints older than per-split counts."""
        state = cls(**{f.name: saved[f.name] for f in fields(cls)
                       if f.name in saved and f.name not in ("stale_validations", "lines_by_source")})
        state.stale_validations = saved.get("stale_validations", 0)
        state.lines_by_source = list(saved.get("lines_by_source", [0] * sources))
        return state


@dataclass
class Start:
    """How this command starts: up to date (nothing to do), from last.pt, or fresh."""

    up_to_date: TrainResult | None = None
    saved: dict[str, Any] | None = None      # last.pt's contents, when resuming
    automatic: bool = False                  # resuming an unfinished training without --resume


def resume_or_start(config: TrainConfig, run_dir: Path, manifest: Manifest, data_digest: str,
                    resume: bool, force: bool, distributed: bool) -> Start:
    if config.freeze_cnn and distributed:
        raise OcrpipeError("--freeze-cnn is not supported under torchrun (DistributedDataParallel fixes which "
                           "parameters train); freeze in a single process, or leave it out")
    if force:
        return Start()
    existing = manifest.stage("train")
    last_path = run_dir / "train" / "last.pt"
    if existing and existing.status == "done" and not resume:
        same = with_defaults(existing.config) == to_dict(config) and existing.inputs.get("pack") == data_digest
        if same and TrainResult.from_dict(existing.result).verify(run_dir) is None:
            return Start(up_to_date=TrainResult.from_dict(existing.result))
        raise OcrpipeError(f"{run_dir} already has a finished training with other settings or data; pass "
                           "--resume to continue it (e.g. with more --steps) or --force to train again from scratch")
    unfinished = bool(existing and existing.status != "done")
    if not last_path.is_file():
        if resume:
            raise OcrpipeError(f"--resume: {last_path} does not exist; start without --resume")
        return Start()
    if not (resume or unfinished):
        return Start()
    saved = checkpoint.load(last_path)
    check_resumable(saved, config, data_digest, last_path, existing.command if existing else "")
    return Start(saved=saved, automatic=not resume)


def check_resumable(saved: dict[str, Any], config: TrainConfig, data_digest: str, path: Path,
                    started_by: str = "") -> None:
    """A checkpoint continues only the training it came from: same settings but those that
    say how it runs (TrainConfig.RESUMABLE), same packed data, and no fewer --steps than it
    has done."""
    before = with_defaults(saved["train_config"])
    changed = [k for k, v in to_dict(config).items() if k not in TrainConfig.RESUMABLE and before.get(k) != v]
    how = f" (it was started by `{started_by}`)" if started_by else ""
    if changed:
        raise OcrpipeError(f"{path} holds step {saved['step']} of a training with other settings ({', '.join(changed)})"
                           f"{how}; continue it with the same options, or start over with --force")
    if saved["data_digest"] != data_digest:
        raise OcrpipeError(f"{path}: the packed data changed since this training started; start over with --force")
    if config.steps < saved["step"]:
        raise OcrpipeError(f"--steps {config.steps}: {path} has already done {saved['step']} steps; give --steps "
                           f"{saved['step']} or more to continue it, or --force to start over")


def with_defaults(recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded TrainConfig with the options added since it was written at their defaults
    (which is how that training ran), so that an older run compares equal to the same command."""
    return {**to_dict(TrainConfig()), **recorded}


def check_same_charset(saved: dict[str, Any], charset: Charset) -> None:
    if list(saved["charset"]) != list(charset.chars):
        raise OcrpipeError("--resume: the charset differs from the one this training started with; "
                           "start over with --force")

"""`ocrpipe train` on a tiny real run (generate -> pack -> train), on the CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, at_augment_call, build_run, copy_run, generate_args
from pipeline.training import loop as train
from pipeline.models import checkpoint
from pipeline.models import inference
from pipeline.run.manifest import Manifest

TINY = ("--arch", "crnn-small", "--batch-size", "8", "--no-progress", "--device", "cpu")


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """A generated and packed run of short lines, shared by the tests of this module."""
    return build_run(tmp_path_factory.mktemp("packed"), "--max-words", "2", "--val-fraction", "0.15",
                     "--test-fraction", "0.1", "--style", "plain", count=120)


@pytest.fixture
def run(packed, tmp_path) -> Path:
    return copy_run(packed, tmp_path / "run")


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train" / "metrics.jsonl").read_text().splitlines()]


def test_a_few_steps_lower_the_loss(run, run_cli):
    result = run_cli("train", "--run", run, *TINY, "--steps", "40", "--val-every", "20", "--lr", "3e-3",
                     "--no-augment")
    assert result.exit_code == 0, result.output
    assert "trained crnn-small" in result.output and "validation at step" in result.output
    share = Manifest(run).stage("train").result["padding_share"]
    assert 0 < share < 0.5 and f"padding {100 * share:.1f}% of the batches' pixels" in result.output
    losses = [r["loss"] for r in records(run) if "split" not in r]
    # one record per 10 steps; the first already starts from the classes' prior, not uniform scores
    assert len(losses) == 40 // train.LOG_EVERY and losses[-1] < 0.9 * losses[0]
    assert all({"step", "loss", "lr", "lines_per_s"} <= set(r) for r in records(run) if "split" not in r)
    vals = [r for r in records(run) if r.get("split") == "val"]
    assert [v["step"] for v in vals] == [20, 40] and {"cer", "mean_edit_distance", "exact_match"} <= set(vals[0])
    record = Manifest(run).stage("train")
    assert record.status == "done" and record.result["steps"] == 40 and record.result["device"] == "cpu"
    assert record.result["checkpoints"]["best"] == "train/best.pt" and record.result["lines_seen"] > 0
    assert "train     done" in run_cli("status", "--run", run).output


def test_checkpoints_load_with_weights_only_and_reproduce_the_model(run, run_cli):
    assert run_cli("train", "--run", run, *TINY, "--steps", "4", "--val-every", "2").exit_code == 0
    state = torch.load(run / "train" / "best.pt", weights_only=True)
    assert state["format"] == checkpoint.FORMAT and state["model"]["config"]["arch"] == "crnn-small"
    assert state["charset"] and state["height"] == 32 and state["step"] in (2, 4)
    assert {"optimizer", "scheduler", "rng", "metrics", "data_digest", "manifest_sha256"} <= set(state)
    # The loaded model reproduces the validation the training recorded in the checkpoint: the
    # same loss and CER on the val split (weights, batch-norm buffers and charset order all count).
    from pipeline.datasets.loader import BucketBatchSampler, Collate, ShardDataset, make_loader
    from pipeline.models.inference import score_split
    from pipeline.models.runtime import setup

    last = checkpoint.load(run / "train" / "last.pt")
    model, charset = checkpoint.model_from(last)
    assert len(charset) == model.config.num_classes
    val = ShardDataset(sorted((run / "shards" / "val").glob("shard-*.lmdb")))
    batches = make_loader(val, BucketBatchSampler(val.widths, 8, 32, shuffle=False), Collate(charset), workers=0)
    metrics = score_split(model.eval(), batches, setup("cpu"), charset)
    assert metrics["cer"] == last["metrics"]["cer"]
    assert abs(metrics["loss"] - last["metrics"]["loss"]) < 1e-4


def test_resume_gives_the_parameters_of_an_uninterrupted_run(run, run_cli, tmp_path, monkeypatch):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(run, other)
    options = (*TINY, "--steps", "6", "--val-every", "3", "--seed", "5")
    assert run_cli("train", "--run", run, *options).exit_code == 0

    at_augment_call(monkeypatch, 3, lambda: os.kill(os.getpid(), signal.SIGINT))     # a real SIGINT in step 3
    stopped = run_cli("train", "--run", other, *options)
    assert stopped.exit_code == 130 and "run the same command again to continue" in stopped.output
    assert Manifest(other).stage("train").status == "failed"
    assert checkpoint.load(other / "train" / "last.pt")["step"] == 3
    monkeypatch.undo()

    resumed = run_cli("train", "--run", other, *options, "--resume")
    assert resumed.exit_code == 0 and "resumed at step 3" in resumed.output, resumed.output
    a = checkpoint.load(run / "train" / "last.pt")
    b = checkpoint.load(other / "train" / "last.pt")
    assert a["step"] == b["step"] == 6 and a["lines_seen"] == b["lines_seen"]
    for name, tensor in a["model"]["state_dict"].items():
        assert torch.equal(tensor, b["model"]["state_dict"][name]), name
    assert [r["step"] for r in records(other)] == [r["step"] for r in records(run)]


def test_resume_refuses_other_settings(run, run_cli):
    assert run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2").exit_code == 0
    changed = run_cli("train", "--run", run, *TINY, "--steps", "4", "--lr", "0.01", "--resume")
    assert changed.exit_code == 2 and "(lr)" in changed.output
    more = run_cli("train", "--run", run, *TINY, "--steps", "4", "--val-every", "2", "--resume")
    assert more.exit_code == 0 and Manifest(run).stage("train").result["steps"] == 4
    # More steps stretch the schedule: the new learning rate at the resumed step is said, not silent.
    change = "the schedule is recomputed for 4 steps instead of 2"
    assert f"note: {change}" in more.output
    assert change in Manifest(run).stage("train").inputs["schedule_change"]


def test_elastic_warp_trains_counts_in_the_settings_and_needs_the_augmentation(run, run_cli):
    bent = run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2", "--elastic", "0.5")
    assert bent.exit_code == 0, bent.output
    assert Manifest(run).stage("train").config["elastic"] == 0.5
    other = run_cli("train", "--run", run, *TINY, "--steps", "4", "--elastic", "0.2", "--resume")
    assert other.exit_code == 2 and "(elastic)" in other.output
    off = run_cli("train", "--run", run, *TINY, "--steps", "2", "--elastic", "0.3", "--no-augment", "--force")
    assert off.exit_code == 2 and "--elastic" in off.output and "--no-augment" in off.output
    assert "Traceback" not in off.output and (run / "train" / "last.pt").exists()


def test_early_stop_patience_survives_a_resume(run, run_cli):
    # At a learning rate of ~0 the validation CER never improves after the first validation.
    frozen = (*TINY, "--lr", "1e-12", "--no-augment", "--val-every", "1")
    assert run_cli("train", "--run", run, *frozen, "--steps", "4").exit_code == 0
    assert checkpoint.load(run / "train" / "last.pt")["stale_validations"] == 3
    resumed = run_cli("train", "--run", run, *frozen, "--steps", "8", "--early-stop", "4", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert Manifest(run).stage("train").result["steps"] == 5       # 3 stale before the resume, 1 after


def test_a_step_dropped_for_a_nan_inside_the_forward_leaves_the_model_as_it_was(run):
    from pipeline.text.charset import Charset
    from pipeline.config import TrainConfig
    from pipeline.datasets.loader import Collate, ShardDataset
    from pipeline.models.crnn import ModelConfig, build
    from pipeline.models.runtime import setup, teardown

    charset = Charset.load(run / "charset.json")
    data = ShardDataset(sorted((run / "shards" / "train").glob("*.lmdb")))
    batch = Collate(charset)([data[i] for i in range(6)])
    torch.manual_seed(0)
    model = build(ModelConfig("crnn-small", num_classes=len(charset))).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    poison = model.cnn[0].conv.register_forward_hook(lambda module, args, out: out * float("nan"))
    rt = setup("cpu", amp=False)
    try:
        totals = train.train_step(model, model, optimizer, [batch], TrainConfig(augment=False), rt, step=0)
    finally:
        teardown(rt)
        poison.remove()
    assert totals.tolist()[1:] == [1.0, 6.0]          # one micro-batch not finite, six lines
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), \
        [k for k in before if not torch.equal(before[k], after[k])]      # batch-norm statistics included


def test_non_finite_batches_are_skipped_and_counted(run, run_cli, monkeypatch):
    real = inference.ctc_loss
    calls = {"n": 0}

    def sometimes_nan(*args, **kwargs):
        loss = real(*args, **kwargs)
        calls["n"] += 1
        return loss * float("nan") if calls["n"] == 2 and kwargs.get("reduction", "mean") == "mean" else loss

    monkeypatch.setattr(train, "ctc_loss", sometimes_nan)
    result = run_cli("train", "--run", run, *TINY, "--steps", "4", "--val-every", "4")
    assert result.exit_code == 0, result.output
    assert "skipped 1 batches whose loss was not finite" in result.output
    assert Manifest(run).stage("train").result["skipped_batches"] == 1
    state = checkpoint.load(run / "train" / "last.pt")
    assert all(torch.isfinite(t).all() for t in state["model"]["state_dict"].values() if t.is_floating_point())
    assert [r.get("skipped") for r in records(run) if "split" not in r] == [1]     # one record: steps 1-4


def test_training_again_needs_force_or_resume(run, run_cli):
    assert run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2").exit_code == 0
    same = run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2")
    assert same.exit_code == 0 and "train is up to date" in same.output
    again = run_cli("train", "--run", run, *TINY, "--steps", "2")
    assert again.exit_code == 2 and "--resume" in again.output and "--force" in again.output
    assert run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2", "--force").exit_code == 0


def test_refuses_a_stale_or_missing_pack(run, run_cli, small_corpus, tmp_path):
    missing = run_cli("train", "--run", tmp_path / "empty", *TINY)
    assert missing.exit_code == 2 and "has no pack result" in missing.output
    assert run_cli(*generate_args(run, small_corpus, "--seed", "3", "--force")).exit_code == 0
    stale = run_cli("train", "--run", run, *TINY, "--steps", "2")
    assert stale.exit_code == 2 and "pack in" in stale.output and "is stale" in stale.output


def test_two_processes_with_gloo_match_one_process_accumulating_two(run, tmp_path):
    """torchrun, 2 CPU ranks of 8 lines each, against 1 process with 2 micro-batches of 8:
    the same lines per step, so the same parameters up to float rounding."""
    import shutil

    single = tmp_path / "single"
    shutil.copytree(run, single)
    options = [*TINY, "--steps", "3", "--val-every", "3", "--no-augment", "--workers", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "pipeline", "--", "train", "--run", str(run), *options],
                         capture_output=True, text=True, env=env, timeout=300)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    one = subprocess.run([sys.executable, "-m", "pipeline", "train", "--run", str(single), *options,
                          "--accumulate", "2"], capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stdout + one.stderr
    result = Manifest(run).stage("train").result
    assert result["world_size"] == 2 and result["ranks_in_sync"] is True
    assert result["lines_seen"] == Manifest(single).stage("train").result["lines_seen"]
    a = checkpoint.load(run / "train" / "last.pt")["model"]["state_dict"]
    b = checkpoint.load(single / "train" / "last.pt")["model"]["state_dict"]
    # Parameters, not batch-norm running statistics: DDP keeps rank 0's (one update per
    # step), accumulation updates them once per micro-batch.
    parameters = [n for n in a if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(parameters) > 20
    for name in parameters:
        assert torch.allclose(a[name], b[name], rtol=1e-4, atol=1e-5), name


def test_cpu_bf16_trains_under_bf16_autocast_where_the_cpu_computes_bf16(run, run_cli):
    from pipeline.models import runtime

    result = run_cli("train", "--run", run, *TINY, "--steps", "6", "--val-every", "6", "--cpu-bf16")
    assert result.exit_code == 0, result.output
    precision = "bf16" if runtime.cpu_computes_bf16() else "fp32"
    assert Manifest(run).stage("train").result["precision"] == precision and f"on cpu ({precision})" in result.output
    state = checkpoint.load(run / "train" / "last.pt")
    assert all(torch.isfinite(t).all() for t in state["model"]["state_dict"].values() if t.is_floating_point())
    assert ("no native bf16" in result.output) == (precision == "fp32")


def test_cpu_bf16_without_native_bf16_trains_in_float32_and_says_so(run, run_cli, monkeypatch):
    from pipeline.models import runtime

    monkeypatch.setattr(runtime, "cpu_computes_bf16", lambda: False)
    result = run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2", "--cpu-bf16")
    assert result.exit_code == 0, result.output
    assert "--cpu-bf16: this CPU has no native bf16" in result.output and "on cpu (fp32)" in result.output
    assert Manifest(run).stage("train").result["precision"] == "fp32"


def test_cpu_bf16_may_change_when_a_training_resumes(run, run_cli):
    assert run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2").exit_code == 0
    result = run_cli("train", "--run", run, *TINY, "--steps", "4", "--val-every", "2", "--cpu-bf16", "--resume")
    assert result.exit_code == 0, result.output
    assert Manifest(run).stage("train").result["steps"] == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_bf16_step_on_cuda(run, run_cli):
    result = run_cli("train", "--run", run, "--arch", "crnn", "--batch-size", "8", "--steps", "3", "--val-every", "3",
                     "--device", "cuda", "--no-progress")
    assert result.exit_code == 0, result.output
    state = checkpoint.load(run / "train" / "last.pt")
    assert all(torch.isfinite(t).all() for t in state["model"]["state_dict"].values() if t.is_floating_point())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_outputs_agree():
    from pipeline.models.crnn import ModelConfig, build

    torch.manual_seed(0)
    model = build(ModelConfig("crnn", num_classes=50)).eval()
    x, widths = torch.rand(3, 1, 32, 128), torch.tensor([128, 100, 37])
    with torch.no_grad():
        cpu, _ = model(x, widths)
        gpu, _ = model.cuda()(x.cuda(), widths.cuda())
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_step_never_waits_for_the_device(run):
    """`train_step` with CUDA's sync debug mode set to error: any host synchronisation raises."""
    from pipeline.text.charset import Charset
    from pipeline.config import TrainConfig
    from pipeline.datasets.loader import Collate, ShardDataset
    from pipeline.models.crnn import ModelConfig, build
    from pipeline.models.runtime import setup, teardown

    charset = Charset.load(run / "charset.json")
    data = ShardDataset(sorted((run / "shards" / "train").glob("*.lmdb")))
    rt = setup("cuda", amp=True)
    model = build(ModelConfig("crnn-small", num_classes=len(charset))).to(rt.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    batches = [Collate(charset)([data[i] for i in range(k, k + 8)]).pin_memory() for k in (0, 8, 16)]
    config = TrainConfig(augment=True)
    try:
        train.train_step(model, model, optimizer, [batches[0]], config, rt, step=0)     # warm up (allocations)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for step, batch in enumerate(batches[1:], 1):
                totals = train.train_step(model, model, optimizer, [batch], config, rt, step=step)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert totals.tolist()[1] == 0.0
    finally:
        teardown(rt)


def test_cuda_batches_follow_a_pixel_budget_unless_max_pixels_is_given():
    from pipeline.config import TrainConfig
    from pipeline.training.build import batching

    widths = np.array([40, 100, 200, 300, 1000])          # padded: 48, 112, 208, 304, 1008 -> mean 336
    assert batching(TrainConfig(batch_size=32), widths, 32, "cpu") == (32, None)
    assert batching(TrainConfig(batch_size=32, max_pixels=99), widths, 32, "cuda") == (32, 99)
    assert batching(TrainConfig(batch_size=32), widths, 32, "cuda") == (64, 32 * 32 * 336)


def test_adamw_leaves_biases_and_batch_norm_undecayed():
    from pipeline.config import TrainConfig
    from pipeline.models.crnn import ModelConfig, build
    from pipeline.training.optim import parameter_groups, regrouped

    model = build(ModelConfig("crnn-small", num_classes=10))
    groups = parameter_groups(model, 0.5)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    no_decay = {id(p) for p in groups[1]["params"]}
    assert id(bn.weight) in no_decay and id(bn.bias) in no_decay and id(model.head.bias) in no_decay
    assert id(model.head.weight) not in no_decay
    optimizer = torch.optim.AdamW(groups, lr=0.1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)              # no gradient: only weight decay can move a parameter
    optimizer.step()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert "head.weight" in moved and "head.bias" not in moved
    assert not any(n.endswith(".bias") or p.ndim == 1 for n, p in model.named_parameters() if n in moved)

    # A state saved by an older version (one group, every parameter decayed) still resumes.
    old = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=TrainConfig().weight_decay)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    old.step()
    optimizer.load_state_dict(regrouped(old.state_dict(), model, optimizer))
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.5, 0.0]
    assert torch.equal(optimizer.state[model.head.bias]["exp_avg"], old.state[model.head.bias]["exp_avg"])


def _crash_at(monkeypatch, call: int, error: BaseException) -> None:
    def fail() -> None:
        raise error

    at_augment_call(monkeypatch, call, fail)


def _same_weights(a: Path, b: Path) -> None:
    x, y = checkpoint.load(a), checkpoint.load(b)
    assert x["step"] == y["step"] and x["lines_seen"] == y["lines_seen"]
    for name, tensor in x["model"]["state_dict"].items():
        assert torch.equal(tensor, y["model"]["state_dict"][name]), name


def test_running_a_crashed_training_again_continues_it(run, run_cli, tmp_path, monkeypatch):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(run, other)
    options = (*TINY, "--steps", "6", "--val-every", "3", "--seed", "5")
    assert run_cli("train", "--run", run, *options).exit_code == 0

    _crash_at(monkeypatch, 5, RuntimeError("a library failed"))      # during step 5, after last.pt of step 3
    with pytest.raises(RuntimeError):
        run_cli("train", "--run", other, *options)
    record = Manifest(other).stage("train")
    assert record.status == "failed" and "RuntimeError: a library failed" in record.error
    assert record.command.startswith("ocrpipe") or "train" in record.command
    monkeypatch.undo()

    again = run_cli("train", "--run", other, *options)             # the same command, no --resume
    assert again.exit_code == 0 and "resumed at step 3 (the unfinished training" in again.output, again.output
    _same_weights(run / "train" / "last.pt", other / "train" / "last.pt")
    _same_weights(run / "train" / "best.pt", other / "train" / "best.pt")
    assert [r["step"] for r in records(other)] == [r["step"] for r in records(run)]


def test_an_unfinished_training_is_not_restarted_by_other_settings(run, run_cli, monkeypatch):
    options = (*TINY, "--steps", "6", "--val-every", "3", "--seed", "5")
    _crash_at(monkeypatch, 5, RuntimeError("crash"))
    with pytest.raises(RuntimeError):
        run_cli("train", "--run", run, *options)
    monkeypatch.undo()
    log_before = (run / "train" / "metrics.jsonl").read_bytes()
    last_before = (run / "train" / "last.pt").read_bytes()

    other = run_cli("train", "--run", run, *TINY, "--steps", "6", "--val-every", "3", "--seed", "6")
    assert other.exit_code == 2 and "holds step 3 of a training with other settings (seed)" in other.output
    assert "--force" in other.output and "Traceback" not in other.output
    fewer = run_cli("train", "--run", run, *options[:-4], "--steps", "2", "--val-every", "3", "--seed", "5")
    assert fewer.exit_code == 2 and "has already done 3 steps" in fewer.output, fewer.output
    assert (run / "train" / "metrics.jsonl").read_bytes() == log_before       # nothing trimmed
    assert (run / "train" / "last.pt").read_bytes() == last_before             # nothing overwritten


def test_a_training_killed_with_sigkill_continues_when_the_command_is_run_again(run, tmp_path):
    import shutil
    import time

    other = tmp_path / "other"
    shutil.copytree(run, other)
    options = [*TINY, "--steps", "40", "--val-every", "4", "--seed", "2", "--no-augment"]
    # Every run in a process of one thread: the same arithmetic order as the reference.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def train_in(folder: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "pipeline", "train", "--run", str(folder), *options],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    assert train_in(run).wait() == 0
    proc = train_in(other)
    last = other / "train" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()                                        # kill -9 once the first checkpoint is written
    proc.wait()
    if not last.exists():
        pytest.fail("the training never wrote last.pt")
    status = subprocess.run([sys.executable, "-m", "pipeline", "status", "--run", str(other)], env=env,
                            capture_output=True, text=True).stdout
    assert "interrupted" in status and "rerun `" in status
    again = train_in(other)
    output = again.communicate()[0]
    assert again.returncode == 0 and "resumed at step" in output, output
    _same_weights(run / "train" / "last.pt", other / "train" / "last.pt")
    _same_weights(run / "train" / "best.pt", other / "train" / "best.pt")


def test_sigterm_stops_training_after_the_step_with_exit_code_143(run, run_cli, monkeypatch):
    at_augment_call(monkeypatch, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    stopped = run_cli("train", "--run", run, *TINY, "--steps", "6", "--val-every", "3")
    assert stopped.exit_code == 143 and "run the same command again to continue" in stopped.output
    assert checkpoint.load(run / "train" / "last.pt")["step"] == 2
    assert Manifest(run).stage("train").status == "failed"


def test_without_a_terminal_training_prints_plain_progress_lines(run, monkeypatch):
    from click.testing import CliRunner

    from pipeline.cli import cli
    from pipeline.utils import progress

    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)       # every update: the test need not wait 30 s
    args = [a for a in TINY if a != "--no-progress"]
    result = CliRunner().invoke(cli, ["train", "--run", str(run), *args, "--steps", "12", "--val-every", "12"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("train: ")]
    assert lines and "12/12 steps (100%)" in lines[-1] and "steps/s" in lines[-1] and "ETA" in lines[0], lines
    assert "loss=" in lines[-1]            # the loss of the last 10 steps, once they are read
    assert [line for line in result.stderr.splitlines() if line.startswith("validation at step 12: CER ")]


def test_ema_validates_and_saves_the_moving_average_and_resumes_exactly(run, run_cli, tmp_path, monkeypatch):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(run, other)
    options = (*TINY, "--steps", "6", "--val-every", "3", "--seed", "5", "--lr", "3e-3", "--ema", "0.5")
    trained = run_cli("train", "--run", run, *options)
    assert trained.exit_code == 0 and "the weights' moving average (--ema 0.5)" in trained.output, trained.output
    last = checkpoint.load(run / "train" / "last.pt")
    averaged, trained = last["model"]["state_dict"], last["trained_weights"]
    assert last["ema_updates"] == 6 and set(averaged) == set(trained)
    # decay 0.5 after 6 steps: the average lies between the start and the trained weights, not on them
    assert not torch.equal(averaged["head.weight"], trained["head.weight"])
    # validation scored the average: the checkpoint's model reproduces the recorded CER
    from pipeline.datasets.loader import BucketBatchSampler, Collate, ShardDataset, make_loader
    from pipeline.models.inference import score_split
    from pipeline.models.runtime import setup

    model, charset = checkpoint.model_from(last)
    val = ShardDataset(sorted((run / "shards" / "val").glob("shard-*.lmdb")))
    batches = make_loader(val, BucketBatchSampler(val.widths, 8, 32, shuffle=False), Collate(charset), workers=0)
    assert score_split(model.eval(), batches, setup("cpu"), charset)["cer"] == last["metrics"]["cer"]
    # a release (export) keeps the average only
    assert "trained_weights" not in checkpoint.release(last)

    _crash_at(monkeypatch, 5, RuntimeError("crash"))       # during step 5, after last.pt of step 3
    with pytest.raises(RuntimeError):
        run_cli("train", "--run", other, *options)
    monkeypatch.undo()
    again = run_cli("train", "--run", other, *options)
    assert again.exit_code == 0 and "resumed at step 3" in again.output, again.output
    resumed = checkpoint.load(other / "train" / "last.pt")
    for key in ("trained_weights",):
        for name, tensor in last[key].items():
            assert torch.equal(tensor, resumed[key][name]), name
    _same_weights(run / "train" / "last.pt", other / "train" / "last.pt")


def test_ema_is_a_setting_of_the_training_and_checked(run, run_cli):
    assert run_cli("train", "--run", run, *TINY, "--steps", "2", "--val-every", "2").exit_code == 0
    changed = run_cli("train", "--run", run, *TINY, "--steps", "4", "--val-every", "2", "--ema", "0.9", "--resume")
    assert changed.exit_code == 2 and "(ema)" in changed.output
    bad = run_cli("train", "--run", run, *TINY, "--steps", "4", "--ema", "1")
    assert bad.exit_code == 2 and "--ema" in bad.output and "Traceback" not in bad.output


def test_a_run_recorded_before_an_option_existed_is_still_up_to_date(run, run_cli):
    options = (*TINY, "--steps", "2", "--val-every", "2")
    assert run_cli("train", "--run", run, *options).exit_code == 0
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["stages"]["train"]["config"]["ema"]          # as an older ocrpipe wrote it
    (run / "manifest.json").write_text(json.dumps(manifest))
    again = run_cli("train", "--run", run, *options)
    assert again.exit_code == 0 and "up to date" in again.output, again.output


def test_stretch_is_recorded_in_the_model_and_inherited_through_init(run, run_cli, tmp_path):
    options = (*TINY, "--steps", "2", "--val-every", "2")
    assert run_cli("train", "--run", run, *options, "--stretch", "1.5").exit_code == 0
    best = run / "train" / "best.pt"
    assert checkpoint.load(best)["model"]["config"]["stretch"] == 1.5
    model, _ = checkpoint.model_from(checkpoint.load(best))
    assert model.output_lengths(torch.tensor([80])).tolist() == [30]          # 120 columns read, not 80
    other = copy_run(run, tmp_path / "other")
    result = run_cli("train", "--run", other, *options, "--init", best, "--force")
    assert result.exit_code == 0, result.output
    assert checkpoint.load(other / "train" / "best.pt")["model"]["config"]["stretch"] == 1.5
    for odd in ("1.3", "0.5"):
        refused = run_cli("train", "--run", other, *options, "--stretch", odd, "--force")
        assert refused.exit_code == 2 and f"--stretch {odd}" in refused.output and "Traceback" not in refused.output


def test_whole_width_is_recorded_in_the_model_and_inherited_through_init(run, run_cli, tmp_path):
    options = (*TINY, "--steps", "2", "--val-every", "2")
    assert run_cli("train", "--run", run, *options, "--whole-width").exit_code == 0
    best = run / "train" / "best.pt"
    assert checkpoint.load(best)["model"]["config"]["whole_width"] is True
    model, _ = checkpoint.model_from(checkpoint.load(best))
    assert model.output_lengths(torch.tensor([75])).tolist() == [19]
    changed = run_cli("train", "--run", run, *options, "--cut-width", "--resume")
    assert changed.exit_code == 2 and "whole_width" in changed.output, changed.output
    for flag, expected in ((), True), (("--cut-width",), False):
        other = copy_run(run, tmp_path / f"other{len(flag)}")
        result = run_cli("train", "--run", other, *options, "--init", best, "--force", *flag)
        assert result.exit_code == 0, result.output
        assert checkpoint.load(other / "train" / "best.pt")["model"]["config"]["whole_width"] is expected

"""Fault injection over a small run: kills at random points, truncated and bit-flipped files,
damaged records and a full disk, each followed by what a user would do next. Counts how
often ocrpipe kept its promise: a clean exit (one line, exit 2, no traceback) on damage, and,
after running the same command again (or the command the error names), exactly the result
of a run that was never disturbed.

    python benchmarks/faults.py [--kills 4] [--seed 0]

Every stage runs as a whole command (`python -m pipeline`). The reference is one undisturbed
run: generate (240 lines), pack, train (crnn-small, 40 steps), eval. Compared are the label
files and image hashes (generate), every packed line's label and pixels (pack), every weight
of best.pt and last.pt (train) and the metrics of report.json (eval). The full-disk cases
need root (a 2 MB tmpfs) and are left out otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from common import ROOT, machine, scratch, table, today

GENERATE = ["generate", "--count", "240", "--max-words", "3", "--style", "plain", "--seed", "5", "--workers", "2"]
PACK = ["pack", "--shard-size", "60"]
TRAIN = ["train", "--arch", "crnn-small", "--steps", "40", "--batch-size", "8", "--val-every", "10",
         "--device", "cpu", "--no-augment"]
EVAL = ["eval", "--device", "cpu"]
STAGES = {"generate": GENERATE, "pack": PACK, "train": TRAIN, "eval": EVAL}


def command(run: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args, "--run", str(run), "--no-progress"]


def ocrpipe(run: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command(run, args), capture_output=True, text=True, env=env)


def clean_error(done: subprocess.CompletedProcess, code: int = 2) -> bool:
    """Exit `code`, one line on stderr, no traceback."""
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return done.returncode == code and "Traceback" not in done.stderr + done.stdout and len(lines) == 1


def fingerprint(run: Path, stage: str) -> str:
    """What a stage produced, as one digest (see the module docstring)."""
    h = hashlib.sha256()
    if stage == "generate":
        for path in sorted((run / "labels").glob("*.tsv")):
            h.update(path.read_bytes())
    elif stage == "pack":
        sys.path.insert(0, str(ROOT))
        from pipeline.datasets.loader import ShardDataset

        for split in ("train", "val", "test"):
            data = ShardDataset(sorted((run / "shards" / split).glob("shard-*.lmdb")))
            for i in range(len(data)):
                _, pixels, label = data[i]
                h.update(label.encode() + pixels.tobytes())
    elif stage == "train":
        import torch

        for name in ("best.pt", "last.pt"):
            state = torch.load(run / "train" / name, map_location="cpu", weights_only=False)
            for key, tensor in sorted(state["model"]["state_dict"].items()):
                h.update(key.encode() + tensor.numpy().tobytes())
    else:
        report = json.loads((run / "eval" / "test" / "report.json").read_text())
        h.update(json.dumps(report["metrics"], sort_keys=True).encode())
    return h.hexdigest()


def build(run: Path, upto: str) -> None:
    for stage, args in STAGES.items():
        done = ocrpipe(run, args)
        if done.returncode:
            sys.exit(f"{stage} failed: {done.stderr[-1500:]}")
        if stage == upto:
            return


def killed_at_random(run: Path, stage: str, rng: random.Random, longest: float) -> str:
    """Start `stage`, kill -9 it at a random moment, run it again; 'same' when the result equals
    the reference's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command(run, STAGES[stage]), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(rng.uniform(0.05, 0.9 * longest))
    landed = process.poll() is None
    if landed:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = ocrpipe(run, STAGES[stage])           # the same command again, as typed
    if done.returncode:
        return f"rerun exit {done.returncode}: {done.stderr.strip()[-200:]}"
    return "ok" if landed else "ok (it had finished before the kill)"


def damaged(run: Path, harm: Callable[[Path], None], stage: str, repair: list[str] | None) -> str:
    """Harm a file, run `stage`: a clean error; then the repair the error names and the stage
    succeed (`repair` None: a record only a person can mend, the clean error is all)."""
    harm(run)
    done = ocrpipe(run, STAGES[stage])
    if not clean_error(done):
        return f"not a clean error (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-200:]}"
    if repair is None:
        return "ok"
    for args in [repair, STAGES[stage]]:
        fixed = ocrpipe(run, args)
        if fixed.returncode:
            return f"repair {args[0]} failed: {fixed.stderr.strip()[-200:]}"
    return "ok"


def truncate(path: Path) -> Callable[[Path], None]:
    return lambda run: os.truncate(run / path, (run / path).stat().st_size // 2)


def _rewrite_keeping_time(target: Path, change: Callable[[bytearray], None]) -> None:
    stat = target.stat()
    data = bytearray(target.read_bytes())
    change(data)
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))      # bit rot: same size, same time


def flip_pixels(path: Path, line: int) -> Callable[[Path], None]:
    """One byte inside the pixels of line `line` of a shard."""
    def harm(run: Path) -> None:
        sys.path.insert(0, str(ROOT))
        from pipeline.datasets.shards import ShardReader

        pixels = ShardReader(run / path).image(line).tobytes()

        def change(data: bytearray) -> None:
            at = data.find(pixels) + len(pixels) // 2
            data[at] ^= 0xFF
        _rewrite_keeping_time(run / path, change)
    return harm


def change_label(path: Path, line: int) -> Callable[[Path], None]:
    """One letter of a label in a shard's index (still valid JSON: another label)."""
    def harm(run: Path) -> None:
        sys.path.insert(0, str(ROOT))
        from pipeline.datasets.shards import ShardReader

        label = ShardReader(run / path).labels[line]

        def change(data: bytearray) -> None:
            at = data.find(json.dumps(label, ensure_ascii=False).encode()) + 1
            data[at] = ord("Q") if data[at] != ord("Q") else ord("R")
        _rewrite_keeping_time(run / path, change)
    return harm


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def harm(run: Path) -> None:
        record = json.loads((run / "manifest.json").read_text())
        change(record)
        (run / "manifest.json").write_text(json.dumps(record))
    return harm


def full_disk(work: Path, before: dict[str, Path], reference: dict[str, str]) -> list[tuple[str, str]]:
    """Each stage writing to a 512 KB tmpfs (its output folder a link there): a clean error
    naming the disk; once the folder is on a disk with room, the same command finishes with the
    reference's result. Needs root (mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return []
    results = []
    for stage, folder in (("generate", "images"), ("pack", "shards"), ("train", "train")):
        mount = work / f"small-{stage}"
        mount.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)]).returncode:
            return results
        try:
            run = work / f"disk-{stage}"
            shutil.copytree(before[stage], run)
            (run / folder).symlink_to(mount)
            done = ocrpipe(run, STAGES[stage])
            ok = clean_error(done) and "space" in done.stderr.lower()
            detail = "" if ok else f"; said (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-160:]}"
            (run / folder).unlink()
            shutil.copytree(mount, run / folder)        # the user moves the run to a disk with room
        finally:
            subprocess.run(["umount", str(mount)])
        again = ocrpipe(run, STAGES[stage])
        same = again.returncode == 0 and fingerprint(run, stage) == reference[stage]
        results.append((f"the disk fills during {stage}; then the same command with room",
                        "ok" if ok and same else f"clean error {ok}, same result {same}{detail}"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=4, help="random kill -9 points per stage")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with scratch("ocrpipe-faults-") as work:
        ref = work / "ref"
        times, before = {}, {}
        for stage, stage_args in STAGES.items():
            before[stage] = work / f"before-{stage}"
            shutil.copytree(ref, before[stage]) if ref.exists() else before[stage].mkdir()
            start = time.perf_counter()
            done = ocrpipe(ref, stage_args)
            times[stage] = time.perf_counter() - start
            if done.returncode:
                sys.exit(f"reference {stage} failed: {done.stderr[-1500:]}")
        reference = {stage: fingerprint(ref, stage) for stage in STAGES}
        results: list[tuple[str, str]] = []

        def fresh(name: str, stage: str) -> Path:
            """A copy of the reference as it was before `stage` ran."""
            run = work / name
            shutil.copytree(before[stage], run)
            return run

        for stage in STAGES:
            for k in range(args.kills):
                run = fresh(f"kill-{stage}-{k}", stage)
                outcome = killed_at_random(run, stage, rng, times[stage])
                if outcome.startswith("ok") and fingerprint(run, stage) != reference[stage]:
                    outcome = "finished, but not the result of an undisturbed run"
                results.append((f"kill -9 during {stage} at a random moment, then the same command", outcome))

        shard, test_shard = Path("shards/train/shard-00000.lmdb"), Path("shards/test/shard-00000.lmdb")
        cases = [
            ("a training shard cut to half its size; train, then pack as told", truncate(shard), "train", PACK),
            ("a test shard cut to half; eval, then pack as told", truncate(test_shard), "eval", PACK),
            ("one byte of a line's pixels in a training shard flipped, size and time kept; train, then "
             "pack --force as told", flip_pixels(shard, 7), "train", PACK + ["--force"]),
            ("one byte of a line's pixels in a test shard flipped; eval, then pack --force as told",
             flip_pixels(test_shard, 3), "eval", PACK + ["--force"]),
            ("one letter of a label in a training shard changed, size and time kept; train, then pack --force",
             change_label(shard, 11), "train", PACK + ["--force"]),
            ("best.pt cut to half; eval, then train --force", truncate(Path("train/best.pt")), "eval",
             TRAIN + ["--force"]),
            ("a label file cut to half; pack, then generate --force", truncate(Path("labels/train.tsv")), "pack",
             GENERATE + ["--force"]),
            ("an image replaced after generate; pack, then generate --force",
             lambda run: (run / "images/train/00000000.png").write_bytes(
                 (run / "images/train/00000001.png").read_bytes()), "pack", GENERATE + ["--force"]),
            ("the pack result lost its splits; train, then pack --force as told",
             edit_manifest(lambda m: m["stages"]["pack"]["result"].pop("splits")), "train", PACK + ["--force"]),
            ("the manifest's stages made a list; pack (a record only a person can mend: the error is all)",
             edit_manifest(lambda m: m.update(stages=[])), "pack", None),
        ]
        for label, harm, stage, repair in cases:
            run = fresh(f"harm-{len(results)}", stage)
            outcome = damaged(run, harm, stage, repair)
            if outcome == "ok" and repair is not None and fingerprint(run, stage) != reference[stage]:
                outcome = "repaired, but not the result of an undisturbed run"
            results.append((label, outcome))
        results += full_disk(work, before, reference)

    ok = sum(outcome.startswith("ok") for _, outcome in results)
    print(f"{today()}, {machine()}; seed {args.seed}, {args.kills} kills per stage\n")
    print(table(["case", "outcome"], [[label, outcome] for label, outcome in results]))
    print(f"\n{ok} of {len(results)} cases kept the promise")


if __name__ == "__main__":
    main()

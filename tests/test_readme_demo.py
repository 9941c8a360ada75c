"""The README's demo, run as its command runs it, gives the README's numbers to the last digit
shown (about 4 minutes on 2 CPU cores: the longest test, and the one that keeps the README's
figures true on a fresh install with constraints.txt)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def demo_stages() -> list[list[str]]:
    """The ocrpipe commands of the README's demo line, in order (after the install)."""
    block = re.search(r"\*\*The demo\*\*.*?```\n(.*?)\n```", README, re.S)
    assert block, "the README has no demo command"
    return [part.strip().split()[1:] for part in block.group(1).split("&&") if "bin/ocrpipe " in part]


def readme_row(stage: str) -> str:
    row = next((line for line in README.splitlines() if line.startswith(f"| `ocrpipe {stage}")), None)
    assert row, f"the README's demo table has no {stage} row"
    return row


def figure_sets() -> list[str]:
    """Where the README states the demo's figures: its table (the train and eval rows), and each
    "the demo gives (...)" of another CPU, whose kernels train other weights from the same lines."""
    others = re.findall(r"the demo gives \(([^()]*)\)", " ".join(README.split()))
    return [readme_row("train") + readme_row("eval"), *others]


@pytest.mark.skipif(os.environ.get("OCRPIPE_SKIP_DEMO") == "1", reason="OCRPIPE_SKIP_DEMO=1")
def test_the_readme_demo_gives_the_readme_numbers(tmp_path):
    stages = demo_stages()
    assert [s[0] for s in stages] == ["generate", "pack", "train", "eval"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in stages:
        done = subprocess.run([sys.executable, "-m", "pipeline", *args, "--no-progress"], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    run = tmp_path / "runs" / "default"
    for path in sorted((run / "labels").glob("*.tsv")):          # the lines themselves, byte for byte
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        assert f"`{path.name}` {digest}" in README, (path.name, digest)
    report = json.loads((run / "eval" / "test" / "report.json").read_text(encoding="utf-8"))["metrics"]["raw"]
    measured = (f"mean edit distance **{report['mean_edit_distance']:.3f}**, CER {100 * report['cer']:.2f}%, "
                f"WER {100 * report['wer']:.2f}%, exact lines {100 * report['exact_match']:.1f}%")
    records = [json.loads(line) for line in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r.get("split") == "val"][-1]
    shown = f"validation mean edit distance {last['mean_edit_distance']:.3f}, CER {100 * last['cer']:.2f}%"
    assert any(shown in figures and measured in figures for figures in figure_sets()), (shown, measured)

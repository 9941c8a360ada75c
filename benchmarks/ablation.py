"""What each part of the real-print recipe buys, at one fixed training budget.

Each row is a fresh run (generate, pack, train, eval) that differs from the row above it in one
thing; all rows train crnn-small for the same number of steps on the same number of generated
lines, so the rows can be compared with each other (not with the full recipe, which trains
longer). Read on a folder of real lines (uw3-dev) greedily and with `--beam 10 --lm corpora`,
and on the row's own generated validation split.

Rows:
1. `--style print,binarized`, the corpora without `science.txt`, the fonts without TeX Gyre Termes
   (the data of the recipe before the `scanned` style);
2. `--style scanned` instead;
3. + `corpora/science.txt` (technical prose with citations, initials, references);
4. + TeX Gyre Termes among the fonts (= the data of the bundled model's recipe).

Rows run two at a time with one thread each (`--parallel`); the budget is a step count, so the
scores do not depend on how busy the machine is. Runs stay in `--out`: run the script again
after an interruption and finished rows are read back, unfinished ones resume.

    python benchmarks/ablation.py --data ../shared/data/uw3-dev [--steps 2500] [--count 30000]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, machine, table, today

sys.path.insert(0, str(ROOT))
from pipeline.resources import default_fonts  # noqa: E402
from pipeline.utils.parallel import available_cores  # noqa: E402

OLD_CORPORA = ["words.txt", "austen.txt", "python-docs.txt"]


def rows() -> list[tuple[str, str, list[str], bool]]:
    """(label, style, corpus files, Termes included) for each row, each changing one thing."""
    every = OLD_CORPORA + ["science.txt"]
    return [("`print,binarized`, previous corpora and fonts", "print,binarized", OLD_CORPORA, False),
            ("`scanned` style", "scanned", OLD_CORPORA, False),
            ("+ scientific corpus (`science.txt`)", "scanned", every, False),
            ("+ TeX Gyre Termes (the recipe's data)", "scanned", every, True)]


def fonts(termes: bool) -> list[str]:
    """The bundled Latin fonts, TeX Gyre Termes left out unless `termes`."""
    return [f for f in default_fonts(("en",)) if termes or not Path(f).name.startswith("texgyretermes")]


def stage_done(run: Path, stage: str) -> bool:
    try:
        manifest = json.loads((run / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("stages", {}).get(stage, {}).get("status") == "done"


def ocrpipe(run: Path, log: Path, threads: int, *args: object) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "pipeline", *map(str, args), "--run", str(run)]
    with log.open("a") as out:
        out.write(f"$ {' '.join(command[2:])}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed; see {log}")


def run_row(index: int, row: tuple, args: argparse.Namespace, threads: int) -> dict:
    """Generate, pack, train and evaluate one row (skipping what its run already finished)."""
    label, style, corpora, termes = row
    run = args.out / f"row{index}"
    run.mkdir(parents=True, exist_ok=True)
    log = run / "ablation.log"
    seconds = {}
    start = time.perf_counter()
    if not stage_done(run, "generate"):
        corpus_args = [a for name in corpora for a in ("--corpus", ROOT / "corpora" / name)]
        font_args = [a for f in fonts(termes) for a in ("--fonts", f)]
        ocrpipe(run, log, threads, "generate", "--count", args.count, "--style", style, "--min-words", 2,
                "--max-words", 10, "--seed", args.seed, "--workers", threads, "--no-progress", "--force",
                *corpus_args, *font_args)
        ocrpipe(run, log, threads, "pack", "--no-progress", "--force")
    seconds["data"] = time.perf_counter() - start
    start = time.perf_counter()
    if not stage_done(run, "train"):
        resume = ["--resume"] if (run / "train" / "last.pt").exists() else []
        ocrpipe(run, log, threads, "train", "--arch", "crnn-small", "--steps", args.steps, "--batch-size", 32,
                "--lr", 2e-3, "--val-every", args.steps, "--device", "cpu", "--no-progress", *resume)
    seconds["train"] = time.perf_counter() - start
    for name, extra in (("uw3", ()), ("uw3-lm", ("--beam", 10, "--lm", ROOT / "corpora"))):
        if not (run / "eval" / name / "report.json").exists():
            ocrpipe(run, log, threads, "eval", "--data", args.data.resolve(), "--name", name, "--device", "cpu",
                    "--no-progress", *extra)
    manifest = json.loads((run / "manifest.json").read_text())
    reports = {n: json.loads((run / "eval" / n / "report.json").read_text())["metrics"] for n in ("uw3", "uw3-lm")}
    return {"label": label, "val": manifest["stages"]["train"]["result"]["best"]["metrics"]["cer"],
            "train_s": manifest["stages"]["train"]["result"]["seconds"],
            **{f"{n} {k}": reports[n][k]["cer"] for n in reports for k in ("raw", "all")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder of real lines with labels.tsv")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--count", type=int, default=30000, help="generated lines per row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2, help="rows at a time (each gets cores/parallel threads)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "ablation", help="where the rows' runs stay")
    args = parser.parse_args()
    cores = available_cores()
    threads = max(1, cores // args.parallel)
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda ir: run_row(ir[0] + 1, ir[1], args, threads), enumerate(rows())))
    print(f"{today()}, {machine()}; crnn-small, {args.steps} steps of 32 lines, {args.count} generated lines "
          f"per row (seed {args.seed}), {threads} thread(s) per row, {args.parallel} rows at a time")
    header = ["generated lines", "uw3 CER raw", "all normalized", "raw, `--beam 10 --lm`", "all, LM",
              "generated val CER", "train, min"]
    body = [[r["label"], *(f"{100 * r[k]:.2f}%" for k in ("uw3 raw", "uw3 all", "uw3-lm raw", "uw3-lm all", "val")),
             f"{r['train_s'] / 60:.1f}"] for r in results]
    print(table(header, body))


if __name__ == "__main__":
    main()

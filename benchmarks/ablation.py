"""What each part of a recipe buys, at one fixed training budget.

Each row is a fresh run (generate, pack, train, eval) that differs from the row above it in one
thing; all rows train crnn-small from scratch for the same number of steps on the same number
of generated lines, so the rows can be compared with each other (not with the full recipes,
which train longer). Two looks:

`--look scans`, read on a folder of real scanned lines (uw3-dev) greedily and with
`--beam 10 --lm corpora`, and on the row's own generated validation split:
1. `--style print,binarized`, the corpora without `science.txt`, the fonts without TeX Gyre Termes
   (the data of the recipe before the `scanned` style);
2. `--style scanned` instead;
3. + `corpora/science.txt` (technical prose with citations, initials, references);
4. + TeX Gyre Termes among the fonts (= the data of the bundled model's recipe).

`--look words`, read on a folder of real cropped words (iiit5k-train) greedily, words right
under the word protocol (`alnum`); every row generates `--text words --max-words 1`:
1. `--style scene` in the bundled text faces;
2. + the display faces (`--fonts display`);
3. `--style wild --wild-parts none`: a plain word on a flat colour, cropped with a fixed margin;
4. + grounds (photographs, textures, gradients);
5. + effects (outlines, shadows and extrusions, gradient and textured fills);
6. + geometry (stretch, curve, rotation, perspective);
7. + degrade (resolution loss, blur, JPEG);
8. + crops (loose margins, neighbouring letters) = the whole `wild` style;
9. the same lines packed in colour (`pack --channels 3`): the model reads RGB.

Rows run two at a time with one thread each (`--parallel`); the budget is a step count, so the
scores do not depend on how busy the machine is. Runs stay in `--out`: run the script again
after an interruption and finished rows are read back, unfinished ones resume.

    python benchmarks/ablation.py --data ../shared/data/uw3-dev [--steps 2500] [--count 30000]
    python benchmarks/ablation.py --look words --data ../shared/data/iiit5k-train [--steps 3000] [--count 30000]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, machine, table, today

sys.path.insert(0, str(ROOT))
from pipeline.config import WILD_PARTS  # noqa: E402
from pipeline.resources import default_fonts  # noqa: E402
from pipeline.utils.parallel import available_cores  # noqa: E402

OLD_CORPORA = ["words.txt", "austen.txt", "python-docs.txt"]


@dataclass
class Row:
    label: str
    generate: list[object]                               # generate's options besides count, seed, workers
    pack: list[object] = field(default_factory=list)


def scan_rows() -> list[Row]:
    """Scanned lines: each row changes the style, the corpus or the fonts."""
    every = OLD_CORPORA + ["science.txt"]

    def row(label: str, style: str, corpora: list[str], termes: bool) -> Row:
        corpus_args = [a for name in corpora for a in ("--corpus", ROOT / "corpora" / name)]
        font_args = [a for f in fonts(termes) for a in ("--fonts", f)]
        return Row(label, ["--style", style, "--min-words", 2, "--max-words", 10, *corpus_args, *font_args])

    return [row("`print,binarized`, previous corpora and fonts", "print,binarized", OLD_CORPORA, False),
            row("`scanned` style", "scanned", OLD_CORPORA, False),
            row("+ scientific corpus (`science.txt`)", "scanned", every, False),
            row("+ TeX Gyre Termes (the recipe's data)", "scanned", every, True)]


def word_rows() -> list[Row]:
    """Cropped words: typefaces, then the parts of the wild style one by one, then colour input."""
    words = ["--text", "words", "--max-words", 1]
    display = ["--fonts", "en", "--fonts", "display"]
    rows = [Row("`--style scene`, text faces", ["--style", "scene", *words]),
            Row("+ display faces (`--fonts display`)", ["--style", "scene", *words, *display]),
            Row("`--style wild --wild-parts none` (plain word, flat colour)",
                ["--style", "wild", "--wild-parts", "none", *words, *display])]
    for n, part in enumerate(WILD_PARTS, 1):
        parts = ",".join(WILD_PARTS[:n])
        label = f"+ {part}" + (" (the whole `wild` style)" if n == len(WILD_PARTS) else "")
        rows.append(Row(label, ["--style", "wild", "--wild-parts", "all" if n == len(WILD_PARTS) else parts,
                                *words, *display]))
    rows.append(Row("the same, colour input (`pack --channels 3`)", rows[-1].generate, ["--channels", 3]))
    return rows


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


def run_row(index: int, row: Row, args: argparse.Namespace, threads: int) -> dict:
    """Generate, pack, train and evaluate one row (skipping what its run already finished)."""
    run = args.out / f"{args.look}-row{index}"
    run.mkdir(parents=True, exist_ok=True)
    log = run / "ablation.log"
    if not stage_done(run, "generate"):
        ocrpipe(run, log, threads, "generate", "--count", args.count, "--seed", args.seed, "--workers", threads,
                "--no-progress", "--force", *row.generate)
        ocrpipe(run, log, threads, "pack", "--no-progress", "--force", *row.pack)
    if not stage_done(run, "train"):
        resume = ["--resume"] if (run / "train" / "last.pt").exists() else []
        lr = 2e-3 if args.look == "scans" else 3e-3
        ocrpipe(run, log, threads, "train", "--arch", "crnn-small", "--steps", args.steps, "--batch-size", 32,
                "--lr", lr, "--val-every", args.steps, "--device", "cpu", "--no-progress", *resume)
    reads = {"real": ()}
    if args.look == "scans":
        reads["real-lm"] = ("--beam", 10, "--lm", ROOT / "corpora")
    for name, extra in reads.items():
        if not (run / "eval" / name / "report.json").exists():
            ocrpipe(run, log, threads, "eval", "--data", args.data.resolve(), "--name", name, "--device", "cpu",
                    "--no-progress", *extra)
    manifest = json.loads((run / "manifest.json").read_text())
    reports = {n: json.loads((run / "eval" / n / "report.json").read_text())["metrics"] for n in reads}
    out = {"label": row.label, "val": manifest["stages"]["train"]["result"]["best"]["metrics"]["cer"],
           "train_s": manifest["stages"]["train"]["result"]["seconds"]}
    if args.look == "words":
        return out | {"words": reports["real"]["alnum"]["exact_match"], "cer": reports["real"]["alnum"]["cer"]}
    return out | {f"{n} {k}": reports[n][k]["cer"] for n in reports for k in ("raw", "all")}


def report(results: list[dict], args: argparse.Namespace, threads: int) -> str:
    unit = "lines" if args.look == "scans" else "words"
    head = (f"{today()}, {machine()}; crnn-small from scratch, {args.steps} steps of 32 {unit}, {args.count} "
            f"generated {unit} per row (seed {args.seed}), {threads} thread(s) per row, {args.parallel} rows at a time")
    pct = "{:.2f}%".format
    if args.look == "words":
        header = ["generated words", f"{args.data.name} words right (alnum)", "CER (alnum)", "generated val CER",
                  "train, min"]
        body = [[r["label"], pct(100 * r["words"]), pct(100 * r["cer"]), pct(100 * r["val"]),
                 f"{r['train_s'] / 60:.1f}"] for r in results]
    else:
        header = ["generated lines", "uw3 CER raw", "all normalized", "raw, `--beam 10 --lm`", "all, LM",
                  "generated val CER", "train, min"]
        body = [[r["label"], *(pct(100 * r[k]) for k in ("real raw", "real all", "real-lm raw", "real-lm all", "val")),
                 f"{r['train_s'] / 60:.1f}"] for r in results]
    return head + "\n" + table(header, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--look", choices=["scans", "words"], default="scans")
    parser.add_argument("--data", type=Path, required=True, help="a folder of real lines with labels.tsv")
    parser.add_argument("--steps", type=int, default=None, help="training steps per row [scans 2500, words 3000]")
    parser.add_argument("--count", type=int, default=30000, help="generated lines per row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2, help="rows at a time (each gets cores/parallel threads)")
    parser.add_argument("--rows", default=None, help="only these rows, e.g. 1,2,5 (the others are left out)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "ablation", help="where the rows' runs stay")
    args = parser.parse_args()
    args.steps = args.steps or (2500 if args.look == "scans" else 3000)
    rows = list(enumerate(scan_rows() if args.look == "scans" else word_rows(), 1))
    if args.rows:
        keep = {int(k) for k in args.rows.split(",")}
        rows = [(i, r) for i, r in rows if i in keep]
    threads = max(1, available_cores() // args.parallel)
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda ir: run_row(ir[0], ir[1], args, threads), rows))
    print(report(results, args, threads))


if __name__ == "__main__":
    main()

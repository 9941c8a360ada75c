"""English models on every look, beside Tesseract: real scanned lines, receipt crops, cropped
words, and generated grey print in typefaces no bundled model was trained on.

    python benchmarks/english.py --shared ../shared/data [--models en,en-print] [--lm corpora] [--read-views]

Sets (each `ocrpipe eval --data ... --compare tesseract`, greedy, and `--beam 10 --lm corpora`):

* uw3-dev: 200 scanned journal lines; CER raw and all-normalized;
* sroie-dev: 300 receipt crops; CER all-normalized (case-insensitive, whitespace collapsed:
  the transcriptions are upper case whatever the print shows) and of letters and digits;
* iiit5k-train: 2,000 cropped words; words right, case-insensitive letters and digits;
* held-out print: the test split of `generate --style print` (1,000 lines, seed 11) drawn in
  14 faces of 5 families in none of the bundled fonts nor of `ocrpipe fonts install en` (Noto Sans and Serif, Cantarell,
  Inconsolata, Comic Neue: Debian's fonts-noto-core, fonts-cantarell, fonts-inconsolata,
  fonts-comic-neue), text split by the same hash as every run (no test text is a training
  text of a run with the default fractions); CER raw and all-normalized.

With `--read-views`, every model is also read with `--read views` (the text three widths of
the line agree on most), greedy and with the LM, in two more columns.

Also, per model and set, how well the confidence ranks wrong lines first (the share of the
wrong lines among the 10% least confident, greedy), as `--confidence single` and `views` give
it (and `--read views`, with `--read-views`). Prints markdown tables with the date and the
machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

from common import ROOT, machine, ocrpipe, scratch, table, today

sys.path.insert(0, str(ROOT))
from pipeline.evaluation.metrics import NORMALIZATIONS, confidence_ranking  # noqa: E402

HELDOUT_FONTS = [f"/usr/share/fonts/truetype/noto/Noto{family}-{face}.ttf"
                 for family in ("Sans", "Serif") for face in ("Regular", "Bold", "Italic")]
HELDOUT_FONTS += [f"/usr/share/fonts/opentype/cantarell/Cantarell-{face}.otf"
                  for face in ("Thin", "Light", "Regular", "Bold", "ExtraBold")]
HELDOUT_FONTS += ["/usr/share/fonts/truetype/inconsolata/Inconsolata.otf",
                  "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
                  "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf"]
# (set, how it is given to eval, the metrics shown: (normalization, metric))
CER_RAW, CER_ALL, WORDS = ("raw", "cer"), ("all", "cer"), ("alnum", "exact_match")


def heldout_print(work: Path) -> Path:
    missing = [f for f in HELDOUT_FONTS if not Path(f).is_file()]
    if missing:
        sys.exit(f"{missing[0]} is missing: apt-get install fonts-noto-core fonts-cantarell fonts-inconsolata "
                 "fonts-comic-neue")
    run = work / "heldout-print"
    fonts = [arg for f in HELDOUT_FONTS for arg in ("--fonts", f)]
    ocrpipe("generate", "--run", run, *fonts, "--count", 20000, "--style", "print", "--seed", 11, "--no-progress")
    return run


def parser_for(doc: str) -> argparse.ArgumentParser:
    """The options every script on these sets takes: --shared and --lm."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True,
                        help="the folder holding uw3-dev, sroie-dev, iiit5k-train")
    parser.add_argument("--lm", default=str(ROOT / "corpora"))
    return parser


def english_sets(shared: Path, work: Path) -> dict[str, list[str]]:
    """The four sets, as the options that give each to `ocrpipe eval` (held-out print is
    generated and packed in `work`)."""
    run = heldout_print(work)
    ocrpipe("pack", "--run", run, "--no-progress")
    return {"uw3-dev": ["--data", str(shared / "uw3-dev")], "sroie-dev": ["--data", str(shared / "sroie-dev")],
            "iiit5k-train": ["--data", str(shared / "iiit5k-train")],
            "held-out print": ["--shards", str(run / "shards" / "test")]}


def evaluate(model: str, source: list[str], work: Path, name: str, compare: bool, lm: str | None,
             views: bool = False, read_views: bool = False) -> dict:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)          # a model given as a path names its report too
    args = ["eval", "--run", work / "evals", "--checkpoint", model, *source, "--name", name, "--no-progress"]
    if views:
        args += ["--confidence", "views"]
    if read_views:
        args += ["--read", "views"]
    if compare:
        args += ["--compare", "tesseract"]
    if lm:
        args += ["--beam", "10", "--lm", lm]
    ocrpipe(*args)
    return json.loads((work / "evals" / "eval" / name / "report.json").read_text(encoding="utf-8"))


def cell(report: dict, key: tuple[str, str], compare: bool = False) -> str:
    value = (report["compare"] if compare else report)["metrics"][key[0]][key[1]]
    return "n/a" if value is None else f"{100 * value:.2f}%"


def ranked(rank: dict) -> list[str]:
    return [str(rank["wrong"]), f"{100 * rank['caught']:.1f}%" if rank["caught"] is not None else "n/a",
            f"{rank['auroc']:.3f}" if rank["auroc"] is not None else "n/a"]


def normalized_lines(work: Path, report: dict, normalization: str) -> list[tuple[str, str, float]]:
    """(reference, prediction, confidence) of an evaluation, both texts normalized as its set is
    scored, so lines of several sets can be ranked together."""
    norm = NORMALIZATIONS[normalization]
    with open(work / "evals" / "eval" / report["name"] / "predictions.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [(norm(r["reference"]), norm(r["prediction"]), float(r["confidence"])) for r in rows]


def main() -> None:
    parser = parser_for(__doc__)
    parser.add_argument("--models", default="en,en-print", help="bundled model names or checkpoint paths, comma-separated")
    parser.add_argument("--read-views", action="store_true", help="also read with --read views")
    args = parser.parse_args()
    models = args.models.split(",")
    readings = ("single", "views") if args.read_views else ("single",)
    columns = [(lm, read) for read in readings for lm in (None, args.lm)]
    # The confidence measures, each the report of one reading (keys of `reports`, after the model):
    # the default, `--confidence views` (the same text, confidence over three widths), `--read views`.
    trusts = {"single": (None, "single"), "views": (None, "confidence views"),
              **({"read": (None, "views")} if args.read_views else {})}
    metrics = {"uw3-dev": (CER_RAW, CER_ALL), "sroie-dev": (CER_ALL, ("alnum", "cer")), "iiit5k-train": (WORDS,),
               "held-out print": (CER_RAW, CER_ALL)}
    with scratch("ocrpipe-english-") as work:
        rows, trust, pooled = [], [], {}
        for label, source in english_sets(args.shared, work).items():
            keys = metrics[label]
            reports = {}
            for i, model in enumerate(models):
                for lm, read in columns:
                    name = f"{model}-{label}-{bool(lm)}" + ("-read-views" if read == "views" else "")
                    reports[model, lm, read] = evaluate(model, source, work, name.replace(" ", "-"),
                                                        compare=i == 0 and lm is None and read == "single", lm=lm,
                                                        read_views=read == "views")
            first = reports[models[0], None, "single"]
            for key in keys:
                metric = f"{key[0]} {'words right' if key[1] == 'exact_match' else 'CER'}"
                row = [label, metric, cell(first, key, compare=True)]
                for model in models:
                    row += [cell(reports[model, lm, read], key) for lm, read in columns]
                rows.append(row)
            speed = [f"{reports[m, lm, read]['lines_per_s']:.0f}" for m in models for lm, read in columns]
            rows.append([label, "lines/s", f"{first['compare']['lines_per_s']:.0f}", *speed])
            for model in models:
                reports[model, None, "confidence views"] = evaluate(
                    model, source, work, f"{model}-{label}-views".replace(" ", "-"), compare=False, lm=None, views=True)
                row = [label, model]
                for confidence, (lm, read) in trusts.items():
                    report = reports[model, lm, read]
                    row += ranked(report["confidence"])[1 if confidence == "views" else 0:]
                    pooled.setdefault((model, confidence), []).extend(
                        normalized_lines(work, report, report["confidence"]["normalization"]))
                trust.append(row)
        for model in models:
            row = ["all four together", model]
            for confidence in trusts:
                row += ranked(confidence_ranking(pooled[model, confidence], "raw"))[1 if confidence == "views" else 0:]
            trust.append(row)
    header = ["set", "metric", "Tesseract"] + [f"{m}{' + LM' if lm else ''}{', read views' if read == 'views' else ''}"
                                               for m in models for lm, read in columns]
    print(f"{today()}, {machine()}; greedy, and `--beam 10 --lm {Path(args.lm).name}` (+ LM)\n")
    print(table(header, rows))
    print("\nConfidence (greedy): wrong lines, the share of them among the 10% least confident, AUROC; "
          "with `--confidence single` (the default) and `views`"
          + (", and `--read views` (its own wrong lines)" if args.read_views else "") + "\n")
    print(table(["set", "model", "wrong lines", "in the lowest 10%", "AUROC", "views: in the lowest 10%",
                 "views: AUROC", *(["read views: wrong lines", "in the lowest 10%", "AUROC"] if args.read_views else [])],
                trust))


if __name__ == "__main__":
    main()

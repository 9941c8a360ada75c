"""Korean and Chinese models on text and typefaces they were not made from, beside Tesseract.

    python benchmarks/cjk_models.py --lang ko --model ko --run runs/ko-model [--lines 500]

Sets (each read greedily by the model and by Tesseract, `kor` or `chi_sim`, the same way):

* in-corpus, held-out family: the test split of the model's own training run (`--run`):
  lines of the bundled corpora in the family its generate command held out;
CER is given raw and of letters and digits only (spaces and punctuation left out: the
carry-over text spaces Korean words as its translators did).

* carry-over text in three kinds of face, `--lines` lines each, from `corpora/carryover`
  (program messages: text no training corpus contains), no codes:
  - the held-out family (the one above),
  - a family the model was trained on (the in-family figure),
  - faces of a design class the model never saw (brush for Korean, kai for Chinese).

Needs `ocrpipe fonts install LANG` for the faces of `fonts/more`. Prints a markdown table
with the date and the machine; CER by script for each set is in its report.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import ROOT, machine, ocrpipe, table, today

FACES = {
    "ko": {"held-out family": ["fonts/ko/NanumSquareRoundR.ttf"],
           "trained family": ["fonts/more/ko/gothic/NanumGothic.ttf", "fonts/more/ko/gothic/NanumGothicBold.ttf"],
           "unseen class (brush)": ["fonts/more/ko/brush"]},
    "zh": {"held-out family": ["fonts/zh/NotoSansCJKsc-Regular.otf"],
           "trained family": ["fonts/zh/NotoSerifCJKsc-Regular.otf"],
           "unseen class (kai)": ["fonts/zh/OcrpipeKai-Regular.ttf", "fonts/more/zh/kai"]},
}


def carryover_run(lang: str, kind: str, fonts: list[str], lines: int, work: Path) -> Path:
    run = work / f"{lang}-{kind.split()[0]}-{kind.split()[1]}"
    args = [arg for f in fonts for arg in ("--fonts", ROOT / f)]
    ocrpipe("generate", "--run", run, "--lang", lang, *args, "--corpus", ROOT / "corpora" / "carryover" /
            f"{lang}-messages.txt", "--codes-fraction", 0, "--count", lines, "--val-fraction", 0.001,
            "--test-fraction", 0.998, "--skip-uncovered", "--seed", 5, "--no-progress")
    ocrpipe("pack", "--run", run, "--no-progress")
    return run


def evaluate(model: str, shards: Path, work: Path, name: str) -> dict:
    ocrpipe("eval", "--run", work / "evals", "--checkpoint", model, "--shards", shards, "--name", name,
            "--compare", "tesseract", "--no-progress")
    return json.loads((work / "evals" / "eval" / name / "report.json").read_text(encoding="utf-8"))


def row(label: str, report: dict) -> list[str]:
    ours, theirs = report["metrics"]["raw"], report["compare"]["metrics"]["raw"]
    letters, their_letters = report["metrics"]["alnum"], report["compare"]["metrics"]["alnum"]
    return [label, str(report["lines"]), f"{100 * ours['cer']:.2f}%", f"{100 * theirs['cer']:.2f}%",
            f"{100 * letters['cer']:.2f}%", f"{100 * their_letters['cer']:.2f}%", f"{100 * ours['exact_match']:.1f}%"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=sorted(FACES), required=True)
    parser.add_argument("--model", required=True, help="a checkpoint or a bundled model's name")
    parser.add_argument("--run", type=Path, required=True, help="the model's training run (its test split)")
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-cjk-models")
    args = parser.parse_args()
    missing = [f for fonts in FACES[args.lang].values() for f in fonts if not (ROOT / f).exists()]
    if missing:
        sys.exit(f"{missing[0]} is missing: run `ocrpipe fonts install {args.lang}` first")
    tag = Path(args.model).stem
    reports = {"in-corpus text, held-out family": evaluate(args.model, args.run / "shards" / "test", args.work,
                                                            f"{args.lang}-{tag}-in-corpus")}
    for kind, fonts in FACES[args.lang].items():
        run = carryover_run(args.lang, kind, fonts, args.lines, args.work)
        reports[f"carry-over text, {kind}"] = evaluate(args.model, run / "shards" / "test", args.work,
                                                       f"{args.lang}-{tag}-{run.name}")
    print(f"{args.lang} model {args.model}, greedy, {today()}, {machine()}\n")
    print(table(["set", "lines", "CER", "Tesseract CER", "CER, letters and digits only",
                 "Tesseract, letters and digits", "exact lines"],
                [row(label, report) for label, report in reports.items()]))
    for label, report in reports.items():
        by_script = report["breakdowns"].get("by_script") or {}
        print(f"\n{label}: by script " + ", ".join(f"{k} {100 * v['cer']:.2f}%" for k, v in by_script.items()
                                                  if v.get("cer") is not None))


if __name__ == "__main__":
    main()

"""Korean and Chinese models on text and typefaces they were not made from, beside Tesseract.

    python benchmarks/cjk_models.py --lang ko --model ko --run runs/ko-model [--lines 500]

Sets (each read greedily by the model and by Tesseract, `kor`, `chi_sim` or `chi_tra`, the same way):

* in-corpus, held-out family: the test split of the model's own training run (`--run`):
  lines of the bundled corpora in the family its generate command held out;
CER is given raw and of letters and digits only (spaces and punctuation left out: the
carry-over text spaces Korean words as its translators did).

* carry-over text in three kinds of face, `--lines` lines each, from `corpora/carryover`
  (program messages: text no training corpus contains), no codes:
  - the held-out family (the one above),
  - a family the model was trained on (the in-family figure),
  - a brush (Korean) or kai (simplified Chinese) family that no recipe trains on: for a model trained
    without that design class, a face of a class it never saw; for one trained with other
    faces of the class, a held-out family of it.

Needs `ocrpipe fonts install LANG` for the faces of `fonts/more`. Prints a markdown table
with the date and the machine; CER by script for each set is in its report.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import ROOT, machine, ocrpipe, table, today

sys.path.insert(0, str(ROOT))
from pipeline.resources import resolve_checkpoint  # noqa: E402
from pipeline.utils.files import sha256_file  # noqa: E402

FACES = {
    "ko": {"held-out family": ["fonts/ko/NanumSquareRoundR.ttf"],
           "trained family": ["fonts/more/ko/gothic/NanumGothic.ttf", "fonts/more/ko/gothic/NanumGothicBold.ttf"],
           "brush family UnGungseo": ["fonts/more/ko/brush/UnGungseo.ttf"]},
    "zh": {"held-out family": ["fonts/zh/NotoSansCJKsc-Regular.otf"],
           "trained family": ["fonts/zh/NotoSerifCJKsc-Regular.otf"],
           "kai family AR PL KaitiM GB": ["fonts/more/zh/kai/gkai00mp.ttf"]},
    "zh-Hant": {"held-out family": ["fonts/zh-Hant/wqy-microhei-big5.ttf"],
                "trained family": ["fonts/zh-Hant/cwTeXHeiBold-big5.ttf"]},
}


def carryover_run(lang: str, kind: str, fonts: list[str], lines: int, work: Path) -> Path:
    run = work / f"{lang}-{'-'.join(kind.split()[:2])}"
    args = [arg for f in fonts for arg in ("--fonts", ROOT / f)]
    corpus = ROOT / "corpora" / "carryover" / f"{lang}-messages.txt"
    ocrpipe("generate", "--run", run, "--lang", lang, *args, "--corpus", corpus, "--codes-fraction", 0,
            "--count", lines, "--val-fraction", 0.001, "--test-fraction", 0.998, "--skip-uncovered", "--seed", 5,
            "--no-progress")
    # Nearly every line is a test line: the charset comes from the text itself, not from the
    # training split (the model reads with its own charset anyway).
    ocrpipe("pack", "--run", run, "--add-chars", corpus, "--no-progress")
    return run


def evaluate(model: str, shards: Path, work: Path, name: str, compare: bool = True) -> dict:
    """The report of `model` on `shards` (one already made in `work` by the same model file is reused)."""
    report = work / "evals" / "eval" / name / "report.json"
    if report.is_file():
        made = json.loads(report.read_text(encoding="utf-8"))
        if made["checkpoint"]["sha256"] == sha256_file(resolve_checkpoint(model)) and (made["compare"] or not compare):
            return made
    ocrpipe("eval", "--run", work / "evals", "--checkpoint", model, "--shards", shards, "--name", name,
            *(["--compare", "tesseract"] if compare else []), "--no-progress")
    return json.loads(report.read_text(encoding="utf-8"))


def row(label: str, report: dict) -> list[str]:
    compare = report.get("compare") or {"metrics": {"raw": {"cer": None}, "alnum": {"cer": None}}}
    ours, theirs = report["metrics"]["raw"], compare["metrics"]["raw"]
    letters, their_letters = report["metrics"]["alnum"], compare["metrics"]["alnum"]
    return [label, str(report["lines"]), _percent(ours["cer"]), _percent(theirs["cer"]), _percent(letters["cer"]),
            _percent(their_letters["cer"]), f"{100 * ours['exact_match']:.1f}%"]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=sorted(FACES), required=True)
    parser.add_argument("--model", required=True, help="a checkpoint or a bundled model's name")
    parser.add_argument("--run", type=Path, required=True, help="a run whose test split is the in-corpus set (the demo run of --lang)")
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--no-tesseract", action="store_true", help="the model alone (Tesseract's columns '-')")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-cjk-models")
    args = parser.parse_args()
    missing = [f for fonts in FACES[args.lang].values() for f in fonts if not (ROOT / f).exists()]
    if missing:
        sys.exit(f"{missing[0]} is missing: run `ocrpipe fonts install {args.lang}` first")
    tag = Path(args.model).stem
    compare = not args.no_tesseract
    reports = {"in-corpus text, held-out family": evaluate(args.model, args.run / "shards" / "test", args.work,
                                                            f"{args.lang}-{tag}-in-corpus", compare)}
    for kind, fonts in FACES[args.lang].items():
        run = carryover_run(args.lang, kind, fonts, args.lines, args.work)
        reports[f"carry-over text, {kind}"] = evaluate(args.model, run / "shards" / "test", args.work,
                                                       f"{args.lang}-{tag}-{run.name}", compare)
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

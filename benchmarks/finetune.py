"""Fine-tuning on a few real lines: the bundled model, fine-tuned on 100 real scanned lines,
read on 100 others, against Tesseract and against training without the bundled model.

The real lines are a folder with `labels.tsv` (uw3-dev: 200 lines of scanned journal pages).
The split is fixed: the lines sorted by file name, the 1st, 3rd, 5th, ... are the tuning
half, the 2nd, 4th, ... the held-out half. Each half becomes a folder of its own (a
labels.tsv naming the original images by absolute path: no image is copied). Rows, each a
fresh run folder and whole `ocrpipe` commands, timed:

* Tesseract (`--compare tesseract`) and the bundled model as it is, on the held-out half;
* the bundled model fine-tuned on the tuning half (`--init`), and the same with the CNN frozen;
* a crnn-small trained from scratch on the tuning half alone, with the same steps;
* a crnn-small trained from scratch on generated lines and the tuning half mixed
  (`--mix 0.7,0.3`), generate and pack included in its time, with the same steps;
* the bundled model fine-tuned on generated lines and the tuning half mixed (`--mix 0.5,0.5`):
  the generated lines keep it from forgetting what the hundred real ones do not show.

With `--lm corpora`, every model is also read with beam search and a character language model
of that text (`--beam 10 --lm corpora`), in more columns.

    python benchmarks/finetune.py --data ../shared/data/uw3-dev [--steps 500] [--model en-print] [--lm corpora]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import machine, ocrpipe, scratch, table, today


def halves(data: Path, work: Path) -> tuple[Path, Path]:
    rows = sorted(line.split("\t", 1) for line in (data / "labels.tsv").read_text(encoding="utf-8").splitlines()
                  if line.strip())
    folders = []
    for name, part in (("tune", rows[0::2]), ("held", rows[1::2])):
        folder = work / name
        folder.mkdir(parents=True)
        (folder / "labels.tsv").write_text("".join(f"{(data / f).resolve()}\t{t}\n" for f, t in part),
                                           encoding="utf-8")
        folders.append(folder)
    return folders[0], folders[1]


def scores(run: Path, name: str) -> dict[str, float]:
    report = json.loads((run / "eval" / name / "report.json").read_text())
    out = {"raw": report["metrics"]["raw"]["cer"], "all": report["metrics"]["all"]["cer"]}
    if report.get("compare"):
        out |= {"tesseract raw": report["compare"]["metrics"]["raw"]["cer"],
                "tesseract all": report["compare"]["metrics"]["all"]["cer"]}
    return out


def evaluate(run: Path, held: Path, lm: str | None, *extra: object) -> tuple[float, dict[str, float]]:
    """Read the held-out half (greedy, and with the language model when given): seconds, CERs."""
    common = ("--no-progress", "--device", "cpu")
    seconds = ocrpipe("eval", "--run", run, "--data", held, "--name", "held", *extra, *common)
    s = scores(run, "held")
    if lm:
        model = [e for e in extra if e not in ("--compare", "tesseract")]
        ocrpipe("eval", "--run", run, "--data", held, "--name", "held-lm", "--beam", 10, "--lm", lm, *model, *common)
        s |= {f"lm {k}": v for k, v in scores(run, "held-lm").items() if not k.startswith("tesseract")}
    return seconds, s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder of real lines with labels.tsv")
    parser.add_argument("--model", default="en-print", help="the bundled model (or a checkpoint) to fine-tune")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--generated", type=int, default=6000, help="generated lines for the mixed rows")
    parser.add_argument("--lm", default=None, help="also decode with --beam 10 --lm LM (e.g. corpora)")
    args = parser.parse_args()
    common = ("--no-progress", "--device", "cpu")
    train = ("--steps", args.steps, "--batch-size", args.batch_size, "--val-every", max(1, args.steps // 5), *common)
    rows = []
    with scratch("ocrpipe-finetune-") as work:
        tune, held = halves(args.data, work)
        _, s = evaluate(work / "base", held, args.lm, "--checkpoint", args.model, "--compare", "tesseract")
        rows.append(["Tesseract 5 (`--psm 7`)", {k[10:]: v for k, v in s.items() if k.startswith("tesseract ")}, None])
        rows.append([f"bundled `{args.model}`, no fine-tuning", s, None])

        for label, extra in ((f"bundled `{args.model}` fine-tuned on the tuning half", ()),
                             ("the same, CNN frozen throughout", ("--freeze-cnn", args.steps)),
                             ("crnn-small from scratch on the tuning half alone", ("--arch", "crnn-small"))):
            run = work / f"run{len(rows)}"
            seconds = ocrpipe("pack", "--run", run, "--from-folder", tune, "--split", "real", "--no-progress")
            init = () if "--arch" in extra else ("--init", args.model)
            seconds += ocrpipe("train", "--run", run, *init, *extra, "--train-split", "real", "--val-split", "real",
                               "--lr", args.lr if init else 2e-3, *train)
            took, s = evaluate(run, held, args.lm)
            rows.append([label, s, seconds + took])

        mixed = f"{args.generated} generated + the tuning half"
        for label, init, lr, frozen in ((f"crnn-small from scratch, {mixed} (0.7/0.3)", ("--arch", "crnn-small"),
                                         2e-3, ()),
                                        (f"bundled `{args.model}` fine-tuned on {mixed} (0.5/0.5)",
                                         ("--init", args.model), args.lr, ()),
                                        ("the same, CNN frozen throughout", ("--init", args.model), args.lr,
                                         ("--freeze-cnn", args.steps))):
            run = work / f"mixed{len(rows)}"
            seconds = ocrpipe("generate", "--run", run, "--count", args.generated, "--style", "scanned",
                              "--min-words", 2, "--max-words", 10, "--seed", 3, "--no-progress")
            seconds += ocrpipe("pack", "--run", run, "--no-progress")
            seconds += ocrpipe("pack", "--run", run, "--from-folder", tune, "--split", "real", "--no-progress")
            mix = "0.7,0.3" if "--arch" in init else "0.5,0.5"
            seconds += ocrpipe("train", "--run", run, *init, *frozen, "--train-split", "train", "--train-split",
                               "real", "--mix", mix, "--val-split", "real", "--lr", lr, *train)
            took, s = evaluate(run, held, args.lm)
            rows.append([label, s, seconds + took])

        print(f"{today()}, {machine()}; {args.data}: tuning half and held-out half of "
              f"{len((held / 'labels.tsv').read_text().splitlines())} lines each; {args.steps} steps of "
              f"{args.batch_size} lines" + (f"; LM columns: --beam 10 --lm {args.lm}" if args.lm else ""))
        print(table(*report(rows, bool(args.lm))))


def report(rows: list, lm: bool) -> tuple[list[str], list[list[str]]]:
    """The table: CER raw and all-normalized (and with the language model), the change in raw
    CER against the bundled model read the same way, and the time."""
    bundled = rows[1][1]
    kinds = ["raw", "all"] + (["lm raw", "lm all"] if lm else [])
    header = (["model", "held-out CER raw", "CER all normalized"] + (["raw, LM", "all, LM"] if lm else [])
              + ["vs bundled (raw)"] + (["vs bundled (raw, LM)"] if lm else []) + ["time, s"])
    out = []
    for name, s, seconds in rows:
        cells = [f"{100 * s[k]:.2f}%" if k in s else "" for k in kinds]
        changes = [f"{100 * (s[k] - bundled[k]) / bundled[k]:+.0f}%" if k in s and bundled[k] else ""
                   for k in (["raw", "lm raw"] if lm else ["raw"])]
        out.append([name, *cells, *changes, f"{seconds:.0f}" if seconds is not None else ""])
    return header, out


if __name__ == "__main__":
    main()

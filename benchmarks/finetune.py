"""Fine-tuning on a user's own labelled crops: a bundled model fine-tuned on real lines or
words, read on others held out, against Tesseract and against training without the bundled
model.

Two looks, each a folder with `labels.tsv`:

* `--look scans` (uw3-dev: 200 lines of scanned journal pages): the lines sorted by file name,
  the 1st, 3rd, 5th, ... are the tuning half, the 2nd, 4th, ... the held-out half; CER.
* `--look words` (iiit5k-train: 2,000 cropped words, standing in for a user's 2,000 crops of
  card names or signs): in `labels.tsv` order, every fifth word (the 5th, 10th, ...) is held
  out, the other four fifths are tuned on (1,600 and 400 for iiit5k-train); words right under
  the word protocol (case-insensitive letters and digits), and its CER.

Each part becomes a folder of its own (a labels.tsv naming the original images by absolute
path: no image is copied). Rows, each a fresh run folder and whole `ocrpipe` commands, timed:

* Tesseract (`--compare tesseract`) and the bundled model as it is, on the held-out part;
* the bundled model fine-tuned on the tuning part (`--init`); for scans also with the CNN frozen;
* a crnn-small trained from scratch on the tuning part alone, with the same steps;
* a crnn-small trained from scratch on generated lines and the tuning part mixed
  (`--mix 0.7,0.3`), generate and pack included in its time, with the same steps;
* the bundled model fine-tuned on generated lines and the tuning part mixed (`--mix 0.5,0.5`):
  the generated lines keep it from forgetting what the real ones do not show.

Generated lines are `--style scanned` lines of 2-10 words for scans, and one-word images of
the `wild` style in the text and display faces for words. With `--lm corpora`, every model is
also read with beam search and a character language model of that text (`--beam 10 --lm
corpora`), in more columns; `--lm-own` adds the tuning part's own labels to that text (a user's
labels are text of the kind to be read: card names recur, so do shop words).

    python benchmarks/finetune.py --data ../shared/data/uw3-dev [--steps 500] [--model en-print] [--lm corpora]
    python benchmarks/finetune.py --look words --data ../shared/data/iiit5k-train --model en --steps 2000 \
        --lr 2e-4 --lm corpora --lm-own
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import machine, ocrpipe, scratch, table, today

# What each look generates for the mixed rows, and the metrics it is scored by: (normalization, metric).
GENERATED = {"scans": ("--style", "scanned", "--min-words", 2, "--max-words", 10),
             "words": ("--style", "wild", "--text", "words", "--max-words", 1, "--fonts", "en", "--fonts", "display")}
METRICS = {"scans": {"raw": ("raw", "cer"), "all": ("all", "cer")},
           "words": {"words": ("alnum", "exact_match"), "cer": ("alnum", "cer")}}


def parts(data: Path, work: Path, look: str) -> tuple[Path, Path]:
    """The tuning and held-out folders (see the module's docstring for the rule of each look)."""
    rows = [line.split("\t", 1) for line in (data / "labels.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    if look == "scans":
        rows.sort()
        split = {"tune": rows[0::2], "held": rows[1::2]}
    else:
        split = {"tune": [r for i, r in enumerate(rows, 1) if i % 5], "held": rows[4::5]}
    folders = []
    for name, part in split.items():
        folder = work / name
        folder.mkdir(parents=True)
        (folder / "labels.tsv").write_text("".join(f"{(data / f).resolve()}\t{t}\n" for f, t in part),
                                           encoding="utf-8")
        folders.append(folder)
    return folders[0], folders[1]


def scores(run: Path, name: str, look: str) -> dict[str, float]:
    report = json.loads((run / "eval" / name / "report.json").read_text())
    out = {k: report["metrics"][n][m] for k, (n, m) in METRICS[look].items()}
    if report.get("compare"):
        out |= {f"tesseract {k}": report["compare"]["metrics"][n][m] for k, (n, m) in METRICS[look].items()}
    return out


def evaluate(run: Path, held: Path, args: argparse.Namespace, *extra: object) -> tuple[float, dict[str, float]]:
    """Read the held-out part (greedy, and with the language model when given): seconds, scores."""
    common = ("--no-progress", "--device", "cpu")
    seconds = ocrpipe("eval", "--run", run, "--data", held, "--name", "held", *extra, *common)
    s = scores(run, "held", args.look)
    if args.lm:
        model = [e for e in extra if e not in ("--compare", "tesseract")]
        lm = [a for text in args.lm_texts for a in ("--lm", text)]
        ocrpipe("eval", "--run", run, "--data", held, "--name", "held-lm", "--beam", 10, *lm, *model, *common)
        s |= {f"lm {k}": v for k, v in scores(run, "held-lm", args.look).items() if not k.startswith("tesseract")}
    return seconds, s


def tuned_rows(tune: Path, held: Path, work: Path, args: argparse.Namespace, train: tuple) -> list:
    """The bundled model fine-tuned on the tuning part (and frozen, for scans), and a crnn-small
    from scratch on it alone."""
    variants = [(f"bundled `{args.model}` fine-tuned on the tuning part", ())]
    if args.look == "scans":
        variants.append(("the same, CNN frozen throughout", ("--freeze-cnn", args.steps)))
    variants.append(("crnn-small from scratch on the tuning part alone", ("--arch", "crnn-small")))
    rows = []
    for n, (label, extra) in enumerate(variants):
        run = work / f"tuned{n}"
        seconds = ocrpipe("pack", "--run", run, "--from-folder", tune, "--split", "real", "--no-progress")
        init = () if "--arch" in extra else ("--init", args.model)
        seconds += ocrpipe("train", "--run", run, *init, *extra, "--train-split", "real", "--val-split", "real",
                           "--lr", args.lr if init else 2e-3, *train)
        took, s = evaluate(run, held, args)
        rows.append([label, s, seconds + took])
    return rows


def mixed_rows(tune: Path, held: Path, work: Path, args: argparse.Namespace, train: tuple) -> list:
    """Generated lines and the tuning part mixed: from scratch, and from the bundled model."""
    mixed = f"{args.generated} generated + the tuning part"
    variants = [(f"crnn-small from scratch, {mixed} (0.7/0.3)", ("--arch", "crnn-small"), 2e-3, ()),
                (f"bundled `{args.model}` fine-tuned on {mixed} (0.5/0.5)", ("--init", args.model), args.lr, ())]
    if args.look == "scans":
        variants.append(("the same, CNN frozen throughout", ("--init", args.model), args.lr,
                         ("--freeze-cnn", args.steps)))
    rows = []
    for n, (label, init, lr, frozen) in enumerate(variants):
        run = work / f"mixed{n}"
        seconds = ocrpipe("generate", "--run", run, "--count", args.generated, *GENERATED[args.look], "--seed", 3,
                          "--no-progress")
        seconds += ocrpipe("pack", "--run", run, "--no-progress")
        seconds += ocrpipe("pack", "--run", run, "--from-folder", tune, "--split", "real", "--no-progress")
        mix = "0.7,0.3" if "--arch" in init else "0.5,0.5"
        seconds += ocrpipe("train", "--run", run, *init, *frozen, "--train-split", "train", "--train-split",
                           "real", "--mix", mix, "--val-split", "real", "--lr", lr, *train)
        took, s = evaluate(run, held, args)
        rows.append([label, s, seconds + took])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--look", choices=["scans", "words"], default="scans")
    parser.add_argument("--data", type=Path, required=True, help="a folder of real lines with labels.tsv")
    parser.add_argument("--model", default="en-print", help="the bundled model (or a checkpoint) to fine-tune")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--generated", type=int, default=6000, help="generated lines for the mixed rows")
    parser.add_argument("--lm", default=None, help="also decode with --beam 10 --lm LM (e.g. corpora)")
    parser.add_argument("--lm-own", action="store_true", help="with --lm: add the tuning part's labels to its text")
    args = parser.parse_args()
    common = ("--no-progress", "--device", "cpu")
    train = ("--steps", args.steps, "--batch-size", args.batch_size, "--val-every", max(1, args.steps // 5), *common)
    rows = []
    with scratch("ocrpipe-finetune-") as work:
        tune, held = parts(args.data, work, args.look)
        args.lm_texts = [args.lm] if args.lm else []
        if args.lm and args.lm_own:
            own = work / "tuning-labels.txt"
            own.write_text("".join(line.split("\t", 1)[1] for line in (tune / "labels.tsv").open(encoding="utf-8")),
                           encoding="utf-8")
            args.lm_texts.append(own)
        _, s = evaluate(work / "base", held, args, "--checkpoint", args.model, "--compare", "tesseract")
        psm = 7 if args.look == "scans" else 8
        rows.append([f"Tesseract 5 (`--psm {psm}`)", {k[10:]: v for k, v in s.items() if k.startswith("tesseract ")},
                     None])
        rows.append([f"bundled `{args.model}`, no fine-tuning", s, None])
        rows += tuned_rows(tune, held, work, args, train)
        rows += mixed_rows(tune, held, work, args, train)
        sizes = [len((p / "labels.tsv").read_text().splitlines()) for p in (tune, held)]
        unit = "lines" if args.look == "scans" else "words"
        print(f"{today()}, {machine()}; {args.data}: {sizes[0]} {unit} tuned on, {sizes[1]} held out; "
              f"{args.steps} steps of {args.batch_size} {unit}, lr {args.lr}"
              + (f"; LM columns: --beam 10 --lm {args.lm}" if args.lm else "")
              + (" plus the tuning labels" if args.lm and args.lm_own else ""))
        print(table(*report(rows, args)))


def report(rows: list, args: argparse.Namespace) -> tuple[list[str], list[list[str]]]:
    """The table: each look's scores (and with the language model), the change in the first
    score against the bundled model read the same way (CER: relative; words right: points),
    and the time."""
    bundled = rows[1][1]
    names = list(METRICS[args.look])
    kinds = names + ([f"lm {k}" for k in names] if args.lm else [])
    titles = {"raw": "held-out CER raw", "all": "CER all normalized", "words": "held-out words right (alnum)",
              "cer": "CER (alnum)"}
    header = ([titles[k] for k in names] + ([f"{k}, LM" for k in names] if args.lm else []))
    first = [names[0]] + ([f"lm {names[0]}"] if args.lm else [])
    header = ["model", *header, *(f"vs bundled ({k})" for k in first), "time, s"]
    out = []
    for name, s, seconds in rows:
        cells = [f"{100 * s[k]:.2f}%" if k in s else "" for k in kinds]
        changes = [_change(s[k], bundled[k], args.look) if k in s and bundled[k] else "" for k in first]
        out.append([name, *cells, *changes, f"{seconds:.0f}" if seconds is not None else ""])
    return header, out


def _change(value: float, bundled: float, look: str) -> str:
    return f"{100 * (value - bundled) / bundled:+.0f}%" if look == "scans" else f"{100 * (value - bundled):+.2f} points"


if __name__ == "__main__":
    main()

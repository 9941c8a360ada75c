"""Generation speed: `ocrpipe generate --style plain` against trdg's own command-line tool.

Same machine, same run, same settings: the same number of lines of the same texts, at the
same height, from the same fonts (the bundled .ttf files: trdg's --font_dir reads no .otf),
on a plain white background with no effects, the same margins, 2 worker processes each.
trdg's CLI runs with the `getsize` shim ocrpipe carries for Pillow >= 10, and needs the
`wikipedia` package it imports at start-up (`pip install wikipedia`). The two commands
alternate, and the ratio is taken pair by pair, so a drift in machine speed cancels out.
Then ocrpipe's rate for each style, and with 1 worker (to show the scaling); the first
lines of each style's run are saved as the picture in the README (benchmarks/styles.png).

Korean and Chinese: `ocrpipe generate --lang ko` and `--lang zh` (bundled CJK fonts and
corpora, --style print), horizontal and vertical, as whole commands; and the layout engines
on the same lines: Pillow's basic layout against raqm (HarfBuzz shaping), drawing each line
of a generated run with the font it was drawn in, timed in this process, and whether the two
give the same pixels (Hangul syllables and Hanzi need no shaping; ocrpipe uses basic layout
for them and raqm only for scripts that need it).

    python benchmarks/generate.py [--count 3000] [--workers 2] [--repeats 3] [--only-cjk]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

from common import ROOT, machine, median, picture_sheet, table, timed, today

TRDG_CLI = ("import sys, pipeline.synth.trdg_compat; from trdg.run import main; "
            "sys.argv = ['trdg'] + sys.argv[1:]; main()")


def ocrpipe(run: Path, fonts: Path, count: int, workers: int, style: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "generate", "--run", str(run), "--fonts", str(fonts),
            "--count", str(count), "--workers", str(workers), "--style", style, "--val-fraction", "0",
            "--test-fraction", "0", "--no-progress"]


PICTURED = ("plain", "print", "binarized", "scene", "scanned", "receipt", "screen", "wild")


def picture(work: Path, fonts: Path) -> None:
    """benchmarks/styles.png: the first three lines of a 10-line run of each style."""
    for style in PICTURED:
        timed(ocrpipe(work / f"sample-{style}", fonts, 10, 1, style), cwd=ROOT)
    picture_sheet({s: sorted((work / f"sample-{s}" / "images" / "train").glob("*.png"))[:3] for s in PICTURED},
                  ROOT / "benchmarks" / "styles.png")


def trdg(out: Path, fonts: Path, texts: Path, count: int, workers: int) -> list[str]:
    # -b 1: plain white; -na 2: files named by index; -m: the margins of ocrpipe's plain style.
    return [sys.executable, "-c", TRDG_CLI, "-i", str(texts), "-c", str(count), "-f", "32", "-t", str(workers),
            "-b", "1", "-na", "2", "-m", "2,3,2,3", "--font_dir", str(fonts), "--output_dir", str(out)]


def layouts(run: Path) -> tuple[float, float, int, int]:
    """Lines/s drawing the run's train lines with basic layout and with raqm, and how many of
    them come out with different pixels."""
    import time

    from PIL import Image, ImageDraw, ImageFont

    with open(run / "labels" / "train.tsv", encoding="utf-8", newline="") as f:
        rows = [(r["text"], r["font"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    fonts = {p.name: p for p in (ROOT / "fonts").rglob("*") if p.suffix in (".ttf", ".otf")}
    images, rates = {}, []
    for engine in (ImageFont.Layout.BASIC, ImageFont.Layout.RAQM):
        loaded = {name: ImageFont.truetype(str(fonts[name]), 32, layout_engine=engine) for _, name in rows}
        start, drawn = time.perf_counter(), []
        for text, name in rows:
            font = loaded[name]
            box = font.getbbox(text)
            image = Image.new("L", (box[2] + 4, 48), 255)
            ImageDraw.Draw(image).text((2, 2), text, font=font, fill=0)
            drawn.append(image.tobytes())
        rates.append(len(rows) / (time.perf_counter() - start))
        images[engine] = drawn
    differ = sum(a != b for a, b in zip(*images.values()))
    return rates[0], rates[1], differ, len(rows)


def cjk(work: Path, args: argparse.Namespace) -> None:
    rows, layout_rows = [], []
    for lang in ("ko", "zh"):
        for orientation in ("horizontal", "vertical"):
            seconds = []
            for r in range(args.repeats):
                run = work / f"{lang}-{orientation}{r}"
                seconds.append(timed(ocrpipe(run, ROOT / "fonts" / lang, args.count, args.workers, "print")
                                     + ["--lang", lang, "--orientation", orientation], cwd=ROOT))
            rows.append([f"ocrpipe generate --lang {lang} --style print --orientation {orientation}",
                         f"{args.count / median(seconds):.0f}"])
        basic, raqm, differ, n = layouts(work / f"{lang}-horizontal0")
        layout_rows.append([lang, f"{basic:.0f}", f"{raqm:.0f}", f"{raqm / basic:.2f}x", f"{differ} of {n}"])
    print(f"{today()}, {machine()}; {args.count} lines at height 32, {args.workers} workers, "
          f"median of {args.repeats}; whole commands, start-up included")
    print(table(["command", "lines/s"], rows))
    print(table(["lines", "basic layout, lines/s", "raqm, lines/s", "raqm / basic", "lines whose pixels differ"],
                layout_rows))


def words(work: Path, args: argparse.Namespace) -> None:
    """Cropped words per second: the wild style with the display faces, beside scene."""
    rows = []
    for style, fonts in (("scene", ["en"]), ("wild", ["en", "display"])):
        seconds = []
        for r in range(args.repeats):
            command = ocrpipe(work / f"words-{style}{r}", ROOT / "fonts", args.count, args.workers, style)
            command = command[:command.index("--fonts")] + command[command.index("--fonts") + 2:]
            seconds.append(timed(command + ["--text", "words", "--max-words", "1"]
                                 + [a for f in fonts for a in ("--fonts", f)], cwd=ROOT))
        rows.append([f"ocrpipe generate --style {style} --text words --max-words 1 --fonts {' --fonts '.join(fonts)}",
                     f"{args.count / median(seconds):.0f}"])
    print(f"{today()}, {machine()}; {args.count} words at height 32, {args.workers} workers, "
          f"median of {args.repeats}; whole commands, start-up included")
    print(table(["command", "words/s"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only-cjk", action="store_true", help="only the Korean and Chinese rows")
    parser.add_argument("--picture-only", action="store_true", help="only benchmarks/styles.png, no timing")
    parser.add_argument("--only-words", action="store_true", help="only the cropped-word rows (scene, wild)")
    args = parser.parse_args()
    if args.picture_only:
        work = Path(tempfile.mkdtemp(prefix="ocrpipe-bench-"))
        try:
            picture(work, ROOT / "fonts")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if args.only_cjk or args.only_words:
        work = Path(tempfile.mkdtemp(prefix="ocrpipe-bench-"))
        try:
            (cjk if args.only_cjk else words)(work, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if importlib.util.find_spec("wikipedia") is None:
        sys.exit("trdg's CLI imports `wikipedia` at start-up: pip install wikipedia")

    work = Path(tempfile.mkdtemp(prefix="ocrpipe-bench-"))
    try:
        fonts = work / "fonts"
        fonts.mkdir()
        for font in sorted((ROOT / "fonts").glob("*.ttf")):
            (fonts / font.name).symlink_to(font)
        env_cwd = ROOT

        ours, theirs = [], []
        for r in range(args.repeats):
            run = work / f"run{r}"
            ours.append(timed(ocrpipe(run, fonts, args.count, args.workers, "plain"), cwd=env_cwd))
            texts = work / "texts.txt"
            if not texts.exists():     # trdg reads the very texts ocrpipe drew
                with open(run / "labels" / "train.tsv", encoding="utf-8", newline="") as f:
                    rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
                texts.write_text("\n".join(row["text"] for row in rows) + "\n", encoding="utf-8")
            theirs.append(timed(trdg(work / f"trdg{r}", fonts, texts, args.count, args.workers), cwd=env_cwd))
            shutil.rmtree(run)
            shutil.rmtree(work / f"trdg{r}")
        ratio = median([t / o for o, t in zip(ours, theirs)])
        rows = [["trdg CLI, plain", f"{args.count / median(theirs):.0f}", "1.0x"],
                ["ocrpipe generate --style plain", f"{args.count / median(ours):.0f}", f"{ratio:.1f}x"]]

        for style in ("print", "binarized", "scene", "scanned"):
            seconds = median([timed(ocrpipe(work / f"{style}{r}", fonts, args.count, args.workers, style),
                                    cwd=env_cwd) for r in range(args.repeats)])
            rows.append([f"ocrpipe generate --style {style}", f"{args.count / seconds:.0f}", ""])
        picture(work, fonts)
        single = median([timed(ocrpipe(work / f"single{r}", fonts, args.count, 1, "plain"), cwd=env_cwd)
                         for r in range(args.repeats)])
        scaling = single / median(ours)

        print(f"{today()}, {machine()}; {args.count} lines at height 32, {args.workers} workers, "
              f"median of {args.repeats}; whole commands, start-up included")
        print(table(["command", "lines/s", "vs trdg CLI"], rows))
        print(f"ocrpipe plain, {args.workers} workers vs 1: {scaling:.2f}x")
        cjk(work, args)
        words(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Print-and-scan simulation: ocrpipe's `--style scanned` against augraphy on the same lines.

augraphy (https://github.com/sparkfish/augraphy) is the maintained library that simulates
printing, paper and scanning on document images. The obvious alternative to the `scanned`
style is therefore: render clean lines (`ocrpipe generate --style plain`), then run an augraphy
pipeline of its printing and scanning effects over each image. This script times both on
the same texts and fonts in one process each, and writes a picture of a few lines of each to
benchmarks/scanned-vs-augraphy.png.

The augraphy pipeline: ink (InkBleed, Letterpress, LowInkRandomLines), paper (NoiseTexturize,
BrightnessTexturize) and scan (SubtleNoise, Faxify: binarization with halftones, Jpeg), each
applied with a probability, as its documentation builds a pipeline.

    pip install augraphy     # brings numba, scikit-image, scikit-learn and opencv-python
    python benchmarks/scanned.py [--count 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from pathlib import Path

from common import ROOT, machine, picture_sheet, scratch, table, timed, today


def generate(run: Path, count: int, style: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "generate", "--run", str(run), "--count", str(count), "--workers", "1",
            "--style", style, "--val-fraction", "0", "--test-fraction", "0", "--min-words", "2", "--max-words", "10",
            "--no-progress"]


def augraphy_pipeline():  # type: ignore[no-untyped-def]
    import augraphy as ag

    return ag.AugraphyPipeline(
        ink_phase=[ag.InkBleed(p=0.5), ag.Letterpress(p=0.5), ag.LowInkRandomLines(p=0.3)],
        paper_phase=[ag.NoiseTexturize(p=0.5), ag.BrightnessTexturize(p=0.3)],
        post_phase=[ag.SubtleNoise(p=0.5), ag.Faxify(p=0.5), ag.Jpeg(p=0.3)])


def degrade_all(images: list[Path], out: Path) -> float:
    """Seconds augraphy takes for every image (decode and encode left out)."""
    import os

    import cv2
    import numpy as np

    os.chdir(out.parent)           # augraphy writes an augraphy_cache/ folder where it runs
    pipeline = augraphy_pipeline()
    out.mkdir(parents=True, exist_ok=True)
    pixels = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in images]
    random.seed(0)
    np.random.seed(0)
    start = time.perf_counter()
    results = [pipeline(image) for image in pixels]
    seconds = time.perf_counter() - start
    for path, image in zip(images[:6], results):
        cv2.imwrite(str(out / path.name), image)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    if importlib.util.find_spec("augraphy") is None:
        sys.exit("this benchmark compares with augraphy: pip install augraphy")
    with scratch("ocrpipe-scanned-") as work:
        plain_s = timed(generate(work / "plain", args.count, "plain"), cwd=ROOT)
        scanned_s = timed(generate(work / "scanned", args.count, "scanned"), cwd=ROOT)
        images = sorted((work / "plain" / "images" / "train").glob("*.png"))
        augraphy_s = degrade_all(images, work / "augraphy")
        rows = [["ocrpipe generate --style scanned (whole command)", f"{args.count / scanned_s:.0f}",
                 f"{1000 * scanned_s / args.count:.1f}"],
                ["ocrpipe generate --style plain (whole command)", f"{args.count / plain_s:.0f}",
                 f"{1000 * plain_s / args.count:.1f}"],
                ["augraphy pipeline on those plain lines (effects only)", f"{len(images) / augraphy_s:.0f}",
                 f"{1000 * augraphy_s / len(images):.1f}"],
                ["plain + augraphy", f"{args.count / (plain_s + augraphy_s):.0f}",
                 f"{1000 * (plain_s + augraphy_s) / args.count:.1f}"]]
        picture_sheet({"scanned": sorted((work / "scanned" / "images" / "train").glob("*.png"))[:6],
                       "augraphy": sorted((work / "augraphy").glob("*.png"))[:6]},
                      ROOT / "benchmarks" / "scanned-vs-augraphy.png", height=32)
        print(f"{today()}, {machine()}; {args.count} lines of 2 to 10 words at height 32, 1 process each")
        print(table(["what", "lines/s", "ms/line"], rows))
        print(f"plain + augraphy takes {(plain_s + augraphy_s) / scanned_s:.1f}x the time of --style scanned")


if __name__ == "__main__":
    main()

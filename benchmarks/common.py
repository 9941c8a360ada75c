"""Helpers shared by the benchmark scripts: timing whole commands, machine description."""

from __future__ import annotations

import contextlib
import datetime
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    """CPU model and core count (and GPU name when torch sees one), for the results table."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from pipeline.utils.parallel import available_cores   # the project is installed (or on sys.path) here

    cores = available_cores()
    return f"{model}, {cores} cores, Python {platform.python_version()}"


def today() -> str:
    return datetime.date.today().isoformat()


def timed(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall seconds of one whole command (start-up included); raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run(list(command), capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark command failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return seconds


def ocrpipe(*args: object) -> float:
    """Run one ocrpipe command in this process; its seconds. Stops the script on failure."""
    from click.testing import CliRunner

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pipeline.cli import cli

    start = time.perf_counter()
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if result.exit_code != 0:
        sys.exit(f"ocrpipe {' '.join(map(str, args))} failed:\n{result.output[-2000:]}")
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def picture_sheet(groups: dict[str, list[Path]], out: Path, height: int | None = None, max_width: int = 1100) -> None:
    """Line images in groups, one under the other, each group's name left of its first line
    (resized to `height` when given); written as an optimized PNG."""
    from PIL import Image, ImageDraw, ImageFont

    label_font = ImageFont.truetype(str(ROOT / "fonts" / "DejaVuSans.ttf"), 14)
    pieces = []
    for name, files in groups.items():
        for i, path in enumerate(files):
            image = Image.open(path).convert("RGB")
            if height:
                image = image.resize((max(1, round(image.width * height / image.height)), height))
            pieces.append((name if i == 0 else "", image))
    margin = 10 + max(round(label_font.getlength(name)) for name in groups)
    width = min(max_width, margin + max(im.width for _, im in pieces))
    sheet = Image.new("RGB", (width, sum(im.height + 4 for _, im in pieces)), "white")
    draw, y = ImageDraw.Draw(sheet), 0
    for name, image in pieces:
        draw.text((4, y + 8), name, fill="#555555", font=label_font)
        sheet.paste(image, (margin, y))
        y += image.height + 4
    sheet.save(out, optimize=True)


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder for a benchmark's runs, removed afterwards whatever happens."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""Tesseract as a baseline: the same lines read as single text lines (`--psm 7`), or as single
words (`--psm 8`) for sets of cropped words."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from pipeline.errors import OcrpipeError
from pipeline.text.scripts import script_of
from pipeline.utils.parallel import available_cores

INSTALL = "install it (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng) to compare with it"


def version() -> str:
    """`tesseract 5.3.0`, or a one-line error when it is not installed."""
    if shutil.which("tesseract") is None:
        raise OcrpipeError(f"--compare tesseract: the tesseract command is not installed; {INSTALL}")
    done = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "tesseract"


# Tesseract's language for the script most of the references are in; Han is simplified unless
# more of its characters are Traditional-only (Big5 level 1, not GB2312) than simplified-only.
LANGUAGES = {"hangul": ("kor", "tesseract-ocr-kor"), "han": ("chi_sim", "tesseract-ocr-chi-sim"),
             "han-traditional": ("chi_tra", "tesseract-ocr-chi-tra")}


def _traditional(references: Sequence[str]) -> bool:
    from pipeline.text.codes_cjk import BIG5_LEVEL1, GB2312_LEVEL1

    chars = Counter(ch for text in references for ch in text)
    only_tra, only_sim = set(BIG5_LEVEL1) - set(GB2312_LEVEL1), set(GB2312_LEVEL1) - set(BIG5_LEVEL1)
    return sum(n for ch, n in chars.items() if ch in only_tra) > sum(n for ch, n in chars.items() if ch in only_sim)


def language_for(references: Sequence[str]) -> str:
    """`eng`, or `kor`/`chi_sim`/`chi_tra` when most letters of the references are Hangul or Han; a
    one-line error when Tesseract lacks that language's data."""
    counts = Counter(script_of(ch) for text in references for ch in text)
    letters = {k: n for k, n in counts.items() if k in ("latin", "hangul", "han", "kana")}
    script = max(letters, key=letters.get) if letters else "latin"
    if script == "han" and _traditional(references):
        script = "han-traditional"
    language, package = LANGUAGES.get(script, ("eng", "tesseract-ocr-eng"))
    done = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    if language not in (done.stdout + done.stderr).split():
        raise OcrpipeError(f"--compare tesseract: these lines are mostly {script} and tesseract has no {language} "
                           f"data; install it (Debian/Ubuntu: apt-get install {package}) or leave out --compare")
    return language


def read_line(image: Path, language: str = "eng", psm: int = 7) -> str:
    """One image read as one line of text (psm 7) or one word (psm 8)."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}     # one thread each; the lines run in parallel
    done = subprocess.run(["tesseract", str(image), "stdout", "--psm", str(psm), "-l", language],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise OcrpipeError(f"tesseract could not read {image}: {message}")
    # Only the line end goes: inner whitespace stays as read, like the model's output it is
    # compared with (the whitespace normalization collapses both alike).
    return done.stdout.strip("\n\f")


def read_lines(images: Sequence[Path], workers: int | None = None, language: str = "eng", psm: int = 7
               ) -> list[str]:
    with ThreadPoolExecutor(max_workers=workers or available_cores()) as pool:
        return list(pool.map(lambda p: read_line(p, language, psm), images))

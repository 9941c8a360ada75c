"""Where the bundled fonts/ and corpora/ live."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.errors import OcrpipeError


def bundled(name: str) -> Path:
    """The bundled `fonts` or `corpora` folder: beside the package in a source checkout
    (and editable installs), else where `pip install .` put it (sys.prefix/share/ocrpipe)."""
    for candidate in (Path(__file__).resolve().parent.parent / name,
                      Path(sys.prefix) / "share" / "ocrpipe" / name):
        if candidate.is_dir():
            return candidate
    option = {"fonts": "--fonts", "corpora": "--corpus"}.get(name, name)
    raise OcrpipeError(f"the bundled {name}/ folder is not installed here; name your own with {option}")


def default_fonts() -> tuple[str, ...]:
    return (str(bundled("fonts")),)


def default_corpus() -> tuple[str, ...]:
    return tuple(str(p) for p in sorted(bundled("corpora").glob("*.txt")))

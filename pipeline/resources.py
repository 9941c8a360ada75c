"""Where the bundled fonts/, corpora/ and models/ live, and which model a command reads by default."""

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


FONT_SETS = ("en", "ko", "zh", "zh-Hant", "display")   # bundled sets --fonts takes by name (display: fonts/display)
MORE_LANGS = ("en", "ko", "zh", "zh-Hant")             # what `ocrpipe fonts install` takes; it puts them in
MORE_SETS = tuple(f"{lang}-more" for lang in MORE_LANGS)  # fonts/more/LANG, and --fonts LANG-more names them


def more_fonts_root() -> Path:
    """Where `ocrpipe fonts install` puts the faces it fetches: fonts/more/ beside the bundled fonts."""
    return bundled("fonts") / "more"


def font_set(name: str) -> tuple[str, ...]:
    """The files of one font set: fonts/ itself for en (Latin), fonts/NAME for the other bundled
    sets, and every class folder of fonts/more/LANG for LANG-more."""
    from pipeline.synth.fonts import FONT_SUFFIXES

    if name in MORE_SETS:
        lang = name.removesuffix("-more")
        folder = more_fonts_root() / lang
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in FONT_SUFFIXES) if folder.is_dir() else []
        if not found:
            raise OcrpipeError(f"--fonts {name}: not installed; run `ocrpipe fonts install {lang}` first "
                               "(it downloads them from Debian's package archive and the npm registry)")
        return tuple(str(p) for p in found)
    root = bundled("fonts")
    folder = root if name == "en" else root / name
    return tuple(str(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in FONT_SUFFIXES)


def default_fonts(langs: tuple[str, ...] = ("en",)) -> tuple[str, ...]:
    """The bundled fonts of each language: fonts/ itself for en (Latin), fonts/ko, fonts/zh,
    fonts/zh-Hant."""
    return tuple(f for lang in langs for f in font_set(lang))


def expand_fonts(values: tuple[str, ...]) -> tuple[str, ...]:
    """--fonts values with the names of bundled sets (FONT_SETS) replaced by their files; a
    file or folder of that name in the working directory wins over the set."""
    out: list[str] = []
    for value in values:
        named = value in FONT_SETS or value in MORE_SETS
        out += font_set(value) if named and not Path(value).exists() else [value]
    return tuple(out)


def default_corpus(langs: tuple[str, ...] = ("en",)) -> tuple[str, ...]:
    """The bundled corpora of each language: corpora/*.txt for en, corpora/ko, corpora/zh."""
    root = bundled("corpora")
    return tuple(str(p) for lang in langs for p in sorted((root if lang == "en" else root / lang).glob("*.txt")))


# -- bundled models ---------------------------------------------------------------------------
DEFAULT_MODEL = "en"      # models/en.pt: English of every look, see models/en.md (en-print: scans)


def bundled_models() -> dict[str, Path]:
    """Name -> file of every model in the bundled models/ folder (none when it is missing)."""
    try:
        folder = bundled("models")
    except OcrpipeError:
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.pt"))}


def resolve_checkpoint(value: str, option: str = "--checkpoint") -> Path:
    """A checkpoint file, or the name of a bundled model (`en-print`)."""
    path = Path(value)
    if path.is_file():
        return path
    models = bundled_models()
    if value in models:
        return models[value]
    names = ", ".join(models) or "none installed"
    raise OcrpipeError(f"{option} {value}: no such checkpoint file and no bundled model of that name "
                       f"(bundled: {names}); give a best.pt or last.pt written by `ocrpipe train`")


def checkpoint_for(value: str | None, run_dir: Path) -> Path:
    """--checkpoint when given (a file or a bundled model's name), else `default_checkpoint`."""
    return resolve_checkpoint(value) if value else default_checkpoint(run_dir)


def default_checkpoint(run_dir: Path) -> Path:
    """What eval, predict and export read without --checkpoint: the run's best.pt when it has a
    finished training, the bundled English model when it has no training at all, and a refusal
    while its training runs or did not finish (never another model than the run's, silently)."""
    from pipeline.run.manifest import Manifest
    from pipeline.run.results import TrainResult

    record = Manifest(run_dir).stage("train")
    if record is not None and record.status == "done":
        changed = TrainResult.from_dict(record.result).verify(Path(run_dir))
        if changed:          # replaced or damaged since training wrote it: not the run's model any more
            raise OcrpipeError(f"{run_dir}: {changed} since training recorded it; train again (`ocrpipe train "
                               f"--run {run_dir} --force`), or name the file with --checkpoint to read it anyway")
        return Path(run_dir) / record.result["checkpoints"]["best"]
    if record is not None:
        raise OcrpipeError(f"the training of {run_dir} is {record.status}, not finished: wait for it, or finish it "
                           f"by running its train command again{f' (`{record.command}`)' if record.command else ''}; "
                           "or name a model with --checkpoint (e.g. --checkpoint "
                           f"{Path(run_dir) / 'train' / 'last.pt'} or --checkpoint {DEFAULT_MODEL})")
    models = bundled_models()
    if DEFAULT_MODEL in models:
        return models[DEFAULT_MODEL]
    raise OcrpipeError(f"{run_dir} has no finished training; train with `ocrpipe train --run {run_dir}` "
                       "or name a model with --checkpoint")

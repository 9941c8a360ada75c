"""The `ocrpipe` command: thin drivers that turn options into a config, run a stage, and
say what happened. Heavy imports (torch, trdg) happen inside the commands that need them."""

from __future__ import annotations

import datetime as _dt
import functools
from pathlib import Path
from typing import Any, Callable

import click

from pipeline import __version__
from pipeline.errors import OcrpipeError

DEFAULT_RUN = Path("runs/default")


class UserError(click.ClickException):
    """An OcrpipeError as click shows it: `Error: <one line>`, the error's exit code."""

    def __init__(self, error: OcrpipeError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class OcrpipeGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OcrpipeError as e:
            raise UserError(e) from None


def with_run(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds `--run DIR` to a command; without it, the group's `--run` (or runs/default)."""

    @click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help=f"Run directory: all outputs and manifest.json go here  [default: {DEFAULT_RUN}]")
    @functools.wraps(command)
    def wrapper(run_dir: Path | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        return command(run_dir=run_dir or ctx.obj.get("run") or DEFAULT_RUN, **kwargs)

    return wrapper


progress_option = click.option("--progress/--no-progress", "show_progress", default=None,
                               help="Show a progress bar  [default: when stderr is a terminal]")


@click.group(cls=OcrpipeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Run directory for the command that follows  [default: {DEFAULT_RUN}]")
@click.version_option(__version__, prog_name="ocrpipe")
@click.pass_context
def cli(ctx: click.Context, run: Path | None) -> None:
    """ocrpipe: fonts and text in, a trained text-line recognizer out.

    \b
    ocrpipe generate   render text-line images with trdg
    ocrpipe pack       height-normalize them into LMDB shards
    ocrpipe status     what each stage of a run did
    """
    ctx.ensure_object(dict)
    ctx.obj["run"] = run


def _check_color(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from PIL import ImageColor

    try:
        for part in value.split(","):
            ImageColor.getrgb(part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a colour; use #rrggbb or two of them, e.g. '#000000,#404040'")
    return value


@cli.command()
@click.option("--fonts", multiple=True, help="Font file or folder; repeatable  [default: the bundled fonts/]")
@click.option("--corpus", multiple=True, help="Text file (word list or prose); repeatable  "
              "[default: the bundled corpora/*.txt]")
@click.option("--count", type=click.IntRange(1), default=10_000, show_default=True, help="Lines in total.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.05, show_default=True)
@click.option("--test-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(0), default=0, help="Processes  [default: one per core]")
@click.option("--shard", default="1/1", show_default=True,
              help="Make only part K of N of the lines (same lines as one run; merge by sharing --run).")
@click.option("--height", type=click.IntRange(12), default=32, show_default=True, help="Image height in pixels.")
@click.option("--min-words", type=click.IntRange(1), default=1, show_default=True)
@click.option("--max-words", type=click.IntRange(1), default=8, show_default=True)
@click.option("--style", type=click.Choice(["plain", "print", "scan", "scene"]), default="print", show_default=True,
              help="Effect preset: plain (no effects), print, scan (binarized), scene (colour, distortion).")
@click.option("--codes-fraction", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of lines of numbers, dates, prices and codes.")
@click.option("--holdout-fonts", type=click.IntRange(0), default=0, show_default=True,
              help="Font families kept for the test split only (generalization to unseen fonts).")
@click.option("--caps-fonts", type=click.Choice(["upper", "skip"]), default="upper", show_default=True,
              help="Fonts that draw lowercase as capitals: upper-case their labels, or leave them out.")
@click.option("--skip-uncovered", is_flag=True, help="Drop corpus lines with characters no font draws "
              "(default: stop and name them).")
@click.option("--skew", type=click.FloatRange(0, 45), default=None, help="Override: largest rotation, degrees.")
@click.option("--blur", type=click.FloatRange(0, 10), default=None, help="Override: largest blur radius, px.")
@click.option("--background", type=click.Choice(["white", "noise", "quasicrystal", "image"]), default=None,
              help="Override: background kind.")
@click.option("--distortion", type=click.Choice(["none", "sin", "cos", "random"]), default=None,
              help="Override: distortion kind.")
@click.option("--text-color", callback=_check_color, default=None,
              help="Override: text colour, '#rrggbb' or a range '#000000,#404040'.")
@click.option("--background-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Pictures for --background image  [default: the ones shipped with trdg]")
@click.option("--force", is_flag=True, help="Replace an existing generate result of this run.")
@progress_option
@with_run
def generate(run_dir: Path, force: bool, show_progress: bool | None, **options: Any) -> None:
    """Render text-line images and labels with trdg."""
    from pipeline import generate as stage
    from pipeline.config import GenerateConfig
    from pipeline.resources import default_corpus, default_fonts

    options["fonts"] = tuple(options["fonts"]) or default_fonts()
    options["corpus"] = tuple(options["corpus"]) or default_corpus()
    config = GenerateConfig(**options)
    outcome = stage.run(config, run_dir, force=force, show_progress=show_progress)
    for name, n in outcome.dropped_entries.items():
        click.echo(f"dropped {n} entries of {name}: characters no font draws")
    if outcome.status == "up-to-date":
        click.echo(f"generate is up to date in {run_dir}: {outcome.result.summary()} (--force to redo)")
        return
    rate = f"{outcome.made / outcome.seconds:.0f} lines/s" if outcome.seconds else "-"
    click.echo(f"made {outcome.made} lines in {outcome.seconds:.1f} s ({rate}, {outcome.workers} workers)")
    if outcome.status == "partial":
        click.echo(f"shard {config.shard} done: {outcome.chunks_done}/{outcome.chunks_total} chunks of the run "
                   "are made; the run is complete when every shard has run")
        return
    result = outcome.result
    assert result is not None
    click.echo(f"{result.summary()} in {run_dir / 'images'}, labels in {run_dir / 'labels'}")
    for split, reasons in result.skipped.items():
        for reason, n in reasons.items():
            click.echo(f"skipped {n} {split} lines: {reason} (e.g. {result.examples[reason][0]})")
    click.echo(f"fonts used: {len(result.fonts)} files")


@cli.command()
@click.option("--height", type=click.IntRange(8), default=32, show_default=True,
              help="Line height the model sees (a multiple of 4).")
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True,
              help="1: grayscale; 3: keep colour.")
@click.option("--max-width", type=click.IntRange(8), default=None,
              help="Widest line kept, px after resizing; wider ones are counted  [default: 50 x height]")
@click.option("--shard-size", type=click.IntRange(1), default=10_000, show_default=True, help="Lines per shard.")
@click.option("--workers", type=click.IntRange(0), default=0, help="Processes  [default: one per core]")
@click.option("--charset", type=click.Path(dir_okay=False), default=None,
              help="Charset file (charset.json, or a text file of characters)  [default: the training labels']")
@click.option("--from-folder", type=click.Path(file_okay=False), default=None,
              help="Import a folder: images with labels.tsv, or images named by their text.")
@click.option("--from-lmdb", type=click.Path(), default=None,
              help="Import a scene-text LMDB (num-samples, image-%09d, label-%09d).")
@click.option("--split", default=None, help="Split an import goes to  [default: test]")
@click.option("--force", is_flag=True, help="Pack even if the upstream changed, and redo complete shards.")
@progress_option
@with_run
def pack(run_dir: Path, force: bool, show_progress: bool | None, **options: Any) -> None:
    """Pack line images into height-normalized LMDB shards."""
    from pipeline import pack as stage
    from pipeline.config import PackConfig

    options["channels"] = int(options["channels"])
    outcome = stage.run(PackConfig(**options), run_dir, force=force, show_progress=show_progress)
    result = outcome.result
    if outcome.status == "up-to-date":
        click.echo(f"pack is up to date in {run_dir}: {result.summary()} (--force to redo)")
        return
    rate = f", {outcome.lines / outcome.seconds:.0f} lines/s" if outcome.lines and outcome.seconds else ""
    reused = f", {outcome.reused_shards} complete shards kept" if outcome.reused_shards else ""
    click.echo(f"packed {outcome.lines} lines in {outcome.seconds:.1f} s{rate}{reused}")
    from pipeline.results import ordered

    for split, info in ordered({s: result.splits[s] for s in outcome.packed_splits}):
        click.echo(f"{split}: {info['count']} lines in {len(info['shards'])} shards under "
                   f"{run_dir / 'shards' / split}, mean width {info['mean_width']} px, widest {info['max_width']} px")
        for reason, n in info["skipped"].items():
            click.echo(f"  skipped {n}: {reason} (e.g. {info['examples'][reason][0]})")
        if info["skipped_chars"]:
            chars = sorted(info["skipped_chars"].items(), key=lambda kv: -kv[1])[:10]
            click.echo("  characters outside the charset: " + ", ".join(f"{c!r} x{n}" for c, n in chars))
    click.echo(f"charset: {result.charset['size'] - 1} characters + blank ({result.charset['source']}), "
               f"{run_dir / 'charset.json'}")


def _when(record: Any) -> str:
    stamp = record.finished or record.started
    if not stamp:
        return ""
    when = _dt.datetime.fromisoformat(stamp)
    text = when.strftime("%Y-%m-%d %H:%M")
    if record.finished and record.started:
        seconds = (when - _dt.datetime.fromisoformat(record.started)).total_seconds()
        text += f" ({seconds:.0f} s)" if seconds < 120 else f" ({seconds / 60:.1f} min)"
    return text


@cli.command()
@with_run
def status(run_dir: Path) -> None:
    """Show what each stage of a run did."""
    from pipeline.manifest import STAGES, Manifest
    from pipeline.results import RESULT_TYPES

    manifest = Manifest(run_dir)
    if not manifest.path.exists():
        raise OcrpipeError(f"{run_dir} has no manifest.json yet; start with `ocrpipe generate --run {run_dir}`")
    doc = manifest.load()
    rows = [("stage", "status", "result", "when")]
    for name in STAGES:
        section = doc["stages"].get(name)
        if not section:
            continue
        record = manifest.stage(name)
        assert record is not None
        state = record.status
        stale = manifest.stale_reason(name, doc)
        if stale:
            state += f" (stale: {stale})"
        if record.status == "done" and name in RESULT_TYPES:
            summary = RESULT_TYPES[name].from_dict(record.result).summary()
        elif record.status == "partial":
            summary = f"{record.result.get('chunks_done')}/{record.result.get('chunks_total')} chunks"
        else:
            summary = record.error or ""
        rows.append((name, state, summary, _when(record)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3])


def main() -> None:
    cli(prog_name="ocrpipe")

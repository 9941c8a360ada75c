"""The `ocrpipe` command: thin drivers that turn options into a config, run a stage, and
say what happened. Heavy imports (torch, trdg) happen inside the commands that need them."""

from __future__ import annotations

import dataclasses
import errno
import datetime as _dt
import functools
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from pipeline import __version__
from pipeline.errors import Interrupted, OcrpipeError, Terminated
from pipeline.config import ARCHS
from pipeline.resources import MORE_LANGS

if TYPE_CHECKING:
    from pipeline.config import DecodeConfig

DEFAULT_RUN = Path("runs/default")


class UserError(click.ClickException):
    """An OcrpipeError as click shows it: `Error: <one line>`, the error's exit code."""

    def __init__(self, error: OcrpipeError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class OneLineUsageError(click.ClickException):
    """A bad option or argument in one line, like every other error (click's own shows usage
    and a hint on four lines), exit code 2."""

    exit_code = 2


class OcrpipeGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)          # in the order of the pipeline, not alphabetical

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OcrpipeError as e:
            raise UserError(e) from None
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise UserError(OcrpipeError(disk_full(e, ctx))) from None
        except KeyboardInterrupt as e:     # a stage without its own record of what it kept (eval, predict)
            name = ctx.invoked_subcommand or "ocrpipe"
            raise UserError(Interrupted(f"{name} interrupted; run it again", terminated=isinstance(e, Terminated))
                            ) from None
        except click.UsageError as e:
            where = " ".join(["ocrpipe", *([e.ctx.info_name] if e.ctx and e.ctx.parent else [])])
            raise OneLineUsageError(f"{e.format_message()} (see `{where} --help`)") from None


def disk_full(error: OSError, ctx: click.Context) -> str:
    """The one line for a full disk (or quota): where, and that what was finished is kept."""
    where = Path(error.filename).parent if error.filename else Path(ctx.obj.get("run") or DEFAULT_RUN)
    name = ctx.invoked_subcommand or "ocrpipe"
    return (f"{name}: no space left on the device holding {where} ({error.strerror}); what was finished is "
            "kept: free some space, then run the same command again (or choose another --run)")


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

    A run directory (--run, default runs/default) holds every stage's output and its
    manifest.json: generate, then pack, train and eval; an interrupted stage resumes when
    the same command runs again.
    """
    ctx.ensure_object(dict)
    ctx.obj["run"] = run


def _numbers(value: str, hint: str) -> tuple[float, ...]:
    """Comma-separated numbers, or click's one-line refusal with `hint`; the config's
    validate() checks their range."""
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: {hint}") from None


def _parse_mix(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, ...] | None:
    # numbers only here: TrainConfig.validate checks their count and range
    return None if value is None else _numbers(value, "give one number per --train-split, e.g. 0.7,0.3")


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


def _parse_range(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float] | None:
    """LO,HI (or one number for both) as two floats; validate() checks the bounds."""
    if value is None:
        return None
    hint = "give LO,HI, e.g. 0.6,1.2, or one number"
    parts = _numbers(value, hint)
    if len(parts) not in (1, 2):
        raise click.BadParameter(f"{value!r}: {hint}")
    return (parts[0], parts[-1])


@cli.command()
@click.option("--lang", default="en", show_default=True,
              help="en, ko (Korean), zh (Chinese, simplified), zh-Hant (Chinese, Traditional, as in Taiwan), or "
                   "several joined by commas to mix them: picks the bundled fonts and corpora of each and the "
                   "local forms of dates, prices and numbers.")
@click.option("--text", default="lines", show_default=True,
              help="lines: prose, word-list words and codes; words: sign tokens (capitals, brands, numbers, web "
              "addresses) from the word lists, for cropped words (use with --max-words 1); receipt: till-roll "
              "lines (items, prices, totals, dates, tax ids). A mixture draws one per line, e.g. "
              "lines:3,words:1,receipt:1 (in a mixture a words line is one token).")
@click.option("--orientation", type=click.Choice(["horizontal", "vertical"]), default="horizontal",
              show_default=True, help="vertical: columns of upright characters read top to bottom (CJK signs, "
              "book spines); pack turns them into horizontal model input.")
@click.option("--fonts", multiple=True, help="Font file or folder, or a bundled set by name (en, ko, zh, "
              "zh-Hant, or display: the poster and sign faces of fonts/display; en-more, ko-more, ...: what `ocrpipe "
              "fonts install` added); repeatable  [default: the bundled "
              "fonts of --lang: fonts/ for en, fonts/ko, fonts/zh, fonts/zh-Hant]")
@click.option("--corpus", multiple=True, help="Text file (word list or prose); repeatable  "
              "[default: the bundled corpora of --lang: corpora/*.txt for en, corpora/ko, corpora/zh, corpora/zh-Hant]")
@click.option("--count", type=click.IntRange(1), default=10_000, show_default=True, help="Lines in total.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.05, show_default=True,
              help="Share of the lines for the val split (picks best.pt during training).")
@click.option("--test-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.05, show_default=True,
              help="Share of the lines for the test split (what `ocrpipe eval` scores); no text is shared "
                   "between splits.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Every random choice derives from it: the same seed makes the same lines.")
@click.option("--workers", type=click.IntRange(0), default=0, help="Processes; 0: one per core  [default: 0]")
@click.option("--shard", default="1/1", show_default=True,
              help="Make only part K of N of the lines (same lines as one run; merge by sharing --run).")
@click.option("--height", type=click.IntRange(12), default=32, show_default=True,
              help="Height the lines are drawn at, px (pack resizes them to the model's height).")
@click.option("--min-words", type=click.IntRange(1), default=1, show_default=True,
              help="Fewest words (or code tokens) per line.")
@click.option("--max-words", type=click.IntRange(1), default=8, show_default=True,
              help="Most words per line; prose lines are cut from running text.")
@click.option("--style", default="print", show_default=True,
              help="Effect preset: plain (no effects), print, binarized (thresholded strokes, speckle), "
                   "scene (colour, distortion), scanned (a simulated print-and-scan), receipt (worn till-roll "
                   "print), screen (UI text, both polarities), wild (words on signs, covers and cards: add "
                   "--fonts display); several joined by commas mix them line by line, equally or by shares "
                   "(print,binarized or scanned:3,print:2,receipt:1).")
@click.option("--wild-parts", default="all", show_default=True,
              help="What the wild style draws beyond a plain word on a flat colour: grounds (photographs, "
                   "textures, gradients), effects (outlines, shadows, gradient and textured fills), geometry "
                   "(stretch, curve, rotation, perspective), degrade (resolution loss, blur, JPEG), crops "
                   "(loose margins, neighbouring letters); all, none, or some joined by commas.")
@click.option("--wild-neighbours", type=click.Choice(["near", "apart"]), default="apart", show_default=True,
              help="Wild style: near draws a neighbouring word's letter a word space from some words, so the "
                   "crop's edge may hold a sliver of it (up to 30% of its width, as real word crops do); "
                   "apart draws it beyond every margin, so no crop shows it.")
@click.option("--codes-fraction", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of lines of numbers, dates, prices and codes.")
@click.option("--holdout-fonts", type=click.IntRange(0), default=0, show_default=True,
              help="Font families kept for the test split only (generalization to unseen fonts).")
@click.option("--holdout-family", multiple=True,
              help="A font family (as generate names it, e.g. NanumSquareRound) for the test split only; repeatable.")
@click.option("--conventions", type=click.Choice(["corpus", "mixed"]), default="corpus", show_default=True,
              help="mixed: prose lines also drawn in print's other conventions: Chinese, a share without the "
                   "space between Han and Latin words, a share with ASCII punctuation in place of full-width; "
                   "Latin, half the lines with curly double quotes set as pairs of single quotes.")
@click.option("--caps-fonts", type=click.Choice(["upper", "skip"]), default="upper", show_default=True,
              help="Fonts that draw lowercase as capitals: upper-case their labels, or leave them out.")
@click.option("--skip-uncovered", is_flag=True, help="Drop corpus lines with characters no font draws "
              "(default: stop and name them).")
@click.option("--skew", type=click.FloatRange(0, 45), default=None, help="Override: largest rotation, degrees.")
@click.option("--blur", type=click.FloatRange(0, 10), default=None, help="Override: largest blur radius, px.")
@click.option("--background", type=click.Choice(["white", "noise", "quasicrystal", "image", "paper"]), default=None,
              help="Override: background kind.")
@click.option("--distortion", type=click.Choice(["none", "sin", "cos", "random"]), default=None,
              help="Override: distortion kind.")
@click.option("--text-color", callback=_check_color, default=None,
              help="Override: text colour, '#rrggbb' or a range '#000000,#404040'.")
@click.option("--word-spacing", callback=_parse_range, default=None,
              help="Override: word spacing drawn per line from LO,HI times the font's own space (e.g. 0.6,1.2; "
                   "one number fixes it); the scanned style draws its own.")
@click.option("--background-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Pictures for --background image  [default: the ones shipped with trdg]")
@click.option("--force", is_flag=True, help="Replace an existing generate result of this run.")
@progress_option
@with_run
def generate(run_dir: Path, force: bool, show_progress: bool | None, **options: Any) -> None:
    """Render text-line images and labels with trdg."""
    from pipeline import generate as stage
    from pipeline.config import GenerateConfig
    from pipeline.resources import default_corpus, default_fonts, expand_fonts

    langs = GenerateConfig(lang=options["lang"]).langs()
    options["fonts"] = expand_fonts(tuple(options["fonts"])) or default_fonts(langs)
    options["corpus"] = tuple(options["corpus"]) or default_corpus(langs)
    config = GenerateConfig(**options)
    outcome = stage.run(config, run_dir, force=force, show_progress=show_progress)
    for name, n in outcome.dropped_entries.items():
        click.echo(f"dropped {n} entries of {name}: characters no font draws")
    if outcome.status == "up-to-date":
        click.echo(f"generate is up to date in {run_dir}: {outcome.result.summary()} (--force to redo)")
        return
    rate = f"{outcome.made / outcome.seconds:.0f} lines/s" if outcome.seconds else "-"
    click.echo(f"made {outcome.made} lines in {outcome.seconds:.1f} s ({rate}, {outcome.workers} worker{'s' if outcome.workers != 1 else ''})")
    if outcome.status == "partial":
        click.echo(f"shard {config.shard} done: {outcome.chunks_done}/{outcome.chunks_total} chunks of the run "
                   "are made; the run is complete when every shard has run")
        return
    result = outcome.result
    assert result is not None
    click.echo(f"{result.summary()} in {run_dir / 'images'}, labels in {run_dir / 'labels'}")
    for split, reasons in result.skipped.items():
        for reason, n in reasons.items():
            example = result.examples.get(split, {}).get(reason, [])
            click.echo(f"skipped {n} {split} lines: {reason}" + (f" (e.g. {example[0]})" if example else ""))
    click.echo(f"fonts used: {len(result.fonts)} files")


@cli.command()
@click.argument("action", type=click.Choice(["install"]))
@click.argument("langs", nargs=-1, required=True, type=click.Choice(MORE_LANGS))
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the downloaded packages  [default: fonts/more/.packages]")
def fonts(action: str, langs: tuple[str, ...], cache: Path | None) -> None:
    """Install more typefaces (English print: serif, sans, mono; Korean and Chinese: brush,
    handwriting, myeongjo, song, kai, ...) from Debian's package archive and, for en and ko,
    Google Fonts families from the npm registry (Fontsource) into fonts/more/LANG;
    --fonts LANG-more names them."""
    from pipeline import fontpacks
    from pipeline.resources import more_fonts_root

    from pipeline.utils.files import ensure_writable_dir

    root = more_fonts_root()
    cache = ensure_writable_dir(cache or root / ".packages", "--cache")     # one line, before any download
    ensure_writable_dir(root, "the fonts folder")
    written = fontpacks.install(tuple(dict.fromkeys(langs)), root, cache, report=click.echo)
    for lang in dict.fromkeys(langs):
        mine = [p for p in written if p.is_relative_to(root / lang)]
        kinds = sorted({p.parent.relative_to(root / lang).as_posix() for p in mine})
        click.echo(f"{lang}: {len(mine)} faces in {root / lang} ({', '.join(kinds)}); "
                   f"use them with --fonts {lang}-more or a class folder; licenses in {root / lang / 'LICENSES'}")


@cli.command()
@click.option("--height", type=int, default=32, show_default=True,
              help="Line height the model reads: a multiple of 16 (16, 32, 48, 64).")
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True,
              help="1: grayscale; 3: keep colour.")
@click.option("--max-width", type=click.IntRange(8), default=None,
              help="Widest line kept, px after resizing; wider ones are counted  [default: 50 x height]")
@click.option("--shard-size", type=click.IntRange(1), default=10_000, show_default=True, help="Lines per shard.")
@click.option("--workers", type=click.IntRange(0), default=0, help="Processes; 0: one per core  [default: 0]")
@click.option("--charset", type=click.Path(dir_okay=False), default=None,
              help="Charset file (charset.json, or a text file of characters)  [default: the training labels']")
@click.option("--add-chars", type=click.Path(dir_okay=False), default=None,
              help="Text file of characters that get a class even when no training label has them (e.g. "
                   "corpora/ko/ksx1001.chars, the 2,350 Hangul syllables of KS X 1001).")
@click.option("--hangul", type=click.Choice(["syllables", "jamo"]), default="syllables", show_default=True,
              help="Korean: one class per Hangul syllable, or per letter (jamo: 67 classes for the 11,172 "
                   "syllables, each read as its two or three letters and composed again).")
@click.option("--from-folder", type=click.Path(file_okay=False), default=None,
              help="Import a folder: images with labels.tsv, or images named by their text.")
@click.option("--from-lmdb", type=click.Path(), default=None,
              help="Import a scene-text LMDB (num-samples, image-%09d, label-%09d).")
@click.option("--split", default=None, help="Split an import goes to  [default: test]")
@click.option("--vertical", is_flag=True, help="The imported lines are vertical: columns read top to bottom "
              "(turned 90 degrees counter-clockwise into horizontal lines).")
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
    from pipeline.run.results import ordered

    for split, info in ordered({s: result.splits[s] for s in outcome.packed_splits}):
        click.echo(f"{split}: {info['count']} lines in {len(info['shards'])} shards under "
                   f"{run_dir / 'shards' / split}, mean width {info['mean_width']} px, widest {info['max_width']} px")
        if info.get("repeated_rows"):
            click.echo(f"  {info['repeated_rows']} repeated rows of labels.tsv counted once")
        for reason, n in info["skipped"].items():
            click.echo(f"  skipped {n}: {reason} (e.g. {info['examples'][reason][0]})")
        if info["skipped_chars"]:
            chars = sorted(info["skipped_chars"].items(), key=lambda kv: -kv[1])[:10]
            click.echo("  characters outside the charset: " + ", ".join(f"{c!r} x{n}" for c, n in chars))
    for split, source in outcome.dropped.items():
        kind, _, where = source.partition(" ")
        again = (f"`ocrpipe pack --run {run_dir} --from-{'folder' if kind == 'folder' else 'lmdb'} {where} --split "
                 f"{split}`" if kind in ("folder", "lmdb") else "pack its source again")
        click.echo(f"split {split} ({source}) was packed with the earlier charset and is left out now: its "
                   f"classes would read as other characters; import it again with {again}", err=True)
    unseen = result.charset.get("unseen_in_train", 0)
    click.echo(f"charset: {result.charset['size'] - 1} characters + blank ({result.charset['source']}), "
               f"{run_dir / 'charset.json'}" + (f"; {unseen} of them appear in no training line (the model "
                                                 "has a class for them but has not seen them)" if unseen else ""))


@cli.command()
@click.option("--arch", type=click.Choice(list(ARCHS)), default=None,
              help="crnn: the paper's network (~8.8M parameters); crnn-small: for CPUs (0.63M); crnn-medium: "
                   "crnn-small twice as wide (2.5M); crnn-resnet: more capacity. With --init, a wider one of the "
                   "paper's design grows the checkpoint into it  [default: the --init checkpoint's, else crnn]")
@click.option("--steps", type=click.IntRange(1), default=20_000, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Lines per micro-batch on each device.")
@click.option("--accumulate", type=click.IntRange(1), default=1, show_default=True,
              help="Micro-batches per optimizer step.")
@click.option("--max-pixels", type=click.IntRange(1), default=None,
              help="Also cap a micro-batch by padded pixels  [default: none on CPU; on CUDA a budget of "
                   "--batch-size lines of mean width, up to 2x --batch-size narrow lines]")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (AdamW).")
@click.option("--weight-decay", type=click.FloatRange(0), default=0.01, show_default=True,
              help="AdamW's decoupled weight decay.")
@click.option("--warmup", type=click.IntRange(0), default=None, help="Warmup steps  [default: 3% of --steps, <= 1000]")
@click.option("--schedule", type=click.Choice(["cosine", "onecycle"]), default="cosine", show_default=True,
              help="cosine: linear --warmup, then cosine decay to 1% of --lr; onecycle: from --lr/25 up over "
                   "the first 30% of the steps, then cosine decay to --lr/1e4 (no --warmup).")
@click.option("--grad-clip", type=click.FloatRange(0), default=5.0, show_default=True, help="0 disables.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Initial weights, batch order and augmentation derive from it.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cuda, cuda:N or cpu.")
@click.option("--amp/--no-amp", default=True, show_default=True, help="bf16 autocast on CUDA.")
@click.option("--cpu-bf16", is_flag=True,
              help="bf16 autocast on the CPU as well, where the CPU computes bf16 natively (AVX512-BF16 or AMX; "
                   "elsewhere it trains in float32 and says so): steps 1.4-2x as fast, slightly other numbers.")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile the CNN, one graph for every batch width (the first steps are slow).")
@click.option("--augment/--no-augment", default=True, show_default=True, help="On-the-fly augmentation.")
@click.option("--elastic", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of training lines also bent by a smooth random warp (strokes moved by up to 5% of "
                   "the line's height), as another hand or brush would draw them (0: off).")
@click.option("--val-every", type=click.IntRange(1), default=1000, show_default=True,
              help="Steps between validations and checkpoints.")
@click.option("--early-stop", type=click.IntRange(0), default=0, show_default=True,
              help="Stop after this many validations without a lower CER (0: off).")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Loader processes; 0 loads in the training process  [default: 0 on CPU, up to 8 with CUDA]")
@click.option("--init", default=None,
              help="Start from this checkpoint's weights: a best.pt/last.pt or a bundled model "
                   "(en, en-print, ko, zh, zh-Hant).")
@click.option("--train-split", "train_splits", multiple=True, default=("train",), show_default=True,
              help="A packed split to train on; repeat to train on several.")
@click.option("--mix", callback=_parse_mix, default=None,
              help="Share of batches from each --train-split, e.g. 0.7,0.3  [default: by their sizes]")
@click.option("--val-split", default="val", show_default=True,
              help="The split that picks best.pt and drives --early-stop.")
@click.option("--freeze-cnn", type=click.IntRange(0), default=0, show_default=True,
              help="Steps with the CNN fixed (>= --steps: throughout).")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Keep a moving average of the weights with this decay per step (e.g. 0.999); validation, "
                   "best.pt and exports use it (0: off).")
@click.option("--whole-width/--cut-width", default=None,
              help="Give a line's last 1-3 pixel columns a frame of their own (its width padded up to a multiple "
                   "of 4) or cut them, as models made before this option do  [default: the --init model's; "
                   "new models: cut]")
@click.option("--stretch", type=float, default=None,
              help="The model reads every line this many times as wide (a multiple of 1/8 from 1 to 2): more "
                   "CTC frames per glyph, so narrow faces' doubled letters (ll, ss) get the frames they need; "
                   "recorded in the model  [default: the --init model's, else 1]")
@click.option("--ink-rows/--all-rows", default=None,
              help="Cut every line to the rows holding ink (and a tenth of their height above and below) and "
                   "scale it back to the height before the model reads it, in training and in every reading "
                   "after, so a face drawn small in its line is read at the size of the others; recorded in the "
                   "model  [default: the --init model's; new models: all rows]")
@click.option("--jitter-margins", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of training lines whose left and right margins are drawn again: cut to the ink "
                   "or widened by up to half the line's height (0: the margins as generated).")
@click.option("--resume", is_flag=True, help="Continue from train/last.pt exactly where it stopped, also a "
              "finished training (e.g. with more --steps); an unfinished one continues without it.")
@click.option("--force", is_flag=True, help="Train again over a finished training (or a stale pack).")
@progress_option
@with_run
def train(run_dir: Path, resume: bool, force: bool, show_progress: bool | None, compile_: bool,
          train_splits: tuple[str, ...], **options: Any) -> None:
    """Train a CRNN recognizer on the packed shards (CTC)."""
    from pipeline import train as stage
    from pipeline.config import TrainConfig

    outcome = stage.run(TrainConfig(compile=compile_, train_splits=tuple(train_splits), **options), run_dir,
                        resume=resume, force=force, show_progress=show_progress)
    result = outcome.result
    if int(os.environ.get("RANK", "0")) != 0:        # under torchrun, rank 0 reports
        return
    if outcome.up_to_date:
        click.echo(f"train is up to date in {run_dir}: {result.summary()} (--force to train again, "
                   "--resume with more --steps to continue)")
        return
    if outcome.resumed_from:
        how = " (the unfinished training in train/last.pt; --force starts over)" if outcome.resumed_automatically else ""
        click.echo(f"resumed at step {outcome.resumed_from}{how}")
    if outcome.schedule_change:
        click.echo(f"note: {outcome.schedule_change}")
    if outcome.stopped_early:
        click.echo(f"stopped early at step {result.steps}: no better validation CER in {options['early_stop']} checks")
    click.echo(f"trained {result.arch} ({result.parameters / 1e6:.2f}M parameters) for {result.steps} steps, "
               f"{result.lines_seen} lines, {result.seconds:.0f} s, {result.lines_per_s:.0f} lines/s on "
               f"{result.gpu or result.device}" + (f" x{result.world_size}" if result.world_size > 1 else "")
               + (f" ({result.precision})" if result.precision else "")
               + (f"; padding {100 * result.padding_share:.1f}% of the batches' pixels"
                  if result.padding_share is not None else ""))
    if result.skipped_batches:
        click.echo(f"skipped {result.skipped_batches} batches whose loss was not finite")
    if result.init:
        new = result.init["new_characters"]
        remapped = result.init.get("charset_remapped")
        click.echo(f"started from {result.init['path']} ({result.init['charset_size']} characters"
                   + (f"; {len(new)} new: {new!r}" if new else "")
                   + (f"; {remapped}: the rows of shared characters carried over, the rest fresh" if remapped else "")
                   + ")")
    if len(result.lines_by_source) > 1:
        click.echo("lines per split: " + ", ".join(f"{k} {v}" for k, v in result.lines_by_source.items()))
    best, m = result.best, result.best["metrics"]
    averaged = f", the weights' moving average (--ema {options['ema']:g})" if options["ema"] else ""
    click.echo(f"validation at step {best['step']} (best{averaged}): mean edit distance {m['mean_edit_distance']:.3f}, "
               f"CER {_percent(m['cer'])}, WER {_percent(m['wer'])}, exact lines {100 * m['exact_match']:.1f}% "
               f"of {m['lines']}")
    click.echo(f"checkpoints: {run_dir / 'train' / 'best.pt'}, {run_dir / 'train' / 'last.pt'}; "
               f"log: {run_dir / 'train' / 'metrics.jsonl'}")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _metric_rows(columns: dict[str, dict[str, float]]) -> list[str]:
    """A one-screen table: metrics down, systems and normalizations across."""
    names = list(columns)
    width = {n: max(14, len(n) + 2) for n in names}
    lines = ["".ljust(20) + "".join(n.rjust(width[n]) for n in names)]
    for metric, fmt in (("mean_edit_distance", lambda v: "n/a" if v is None else f"{v:.3f}"), ("cer", _percent),
                        ("wer", _percent),
                        ("exact_match", _percent)):
        lines.append(metric.ljust(20) + "".join(fmt(columns[n][metric]).rjust(width[n]) for n in names))
    return lines


def decoding_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--beam, --lexicon, --oov-cost, --lm, --lm-weight, --lm-bonus, --confidence and --read, for eval and predict
    (defaults: DecodeConfig's)."""
    from pipeline.config import CONFIDENCES, LM_DEFAULTS, READINGS, DecodeConfig as D

    options = [
        click.option("--beam", type=click.IntRange(0), default=D.beam, show_default=True,
                     help="CTC prefix beam search of this width (0: greedy)."),
        click.option("--lexicon", type=click.Path(dir_okay=False), default=None,
                     help="Word list; with --beam, corrects decoded words the model finds plausible."),
        click.option("--oov-cost", type=click.FloatRange(0), default=D.oov_cost, show_default=True,
                     help="Nats charged to a word outside the lexicon."),
        click.option("--lm", multiple=True, help="Text file, or folder of *.txt, for a character 6-gram model "
                     "joined to --beam (e.g. --lm corpora); repeatable."),
        click.option("--lm-weight", type=click.FloatRange(0), default=None,
                     help="Weight of the --lm log-probabilities in the beam search  [default: the one the model "
                          f"records (its card names it), else {LM_DEFAULTS['lm_weight']}]"),
        click.option("--lm-bonus", type=float, default=None,
                     help="Nats added per character with --lm (longer lines would lose otherwise)  [default: the "
                          f"one the model records, else {LM_DEFAULTS['lm_bonus']}]"),
        click.option("--confidence", type=click.Choice(CONFIDENCES), default=D.confidence,
                     show_default=True,
                     help="single: the probability the model gives the text it read; views: its mean over the "
                          "line read at three widths (x0.8, x1, x1.25), which ranks wrong lines first better, "
                          "at two to three times the reading time."),
        click.option("--read", type=click.Choice(READINGS), default=D.read, show_default=True,
                     help="single: the line as given; views: read it also at x0.8 and x1.25 its width and keep "
                          "the text the three readings find most probable on average (its confidence is that "
                          "mean, as with --confidence views); fewer errors, at two to three times the reading time."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def decode_config(options: dict[str, Any]) -> DecodeConfig:
    """The DecodeConfig of `decoding_options`, taken out of a command's options."""
    from pipeline.config import DecodeConfig

    return DecodeConfig(**{f.name: options.pop(f.name) for f in dataclasses.fields(DecodeConfig)})


@cli.command(name="eval")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Model to evaluate: a checkpoint or a bundled model (en, en-print, ko, zh, zh-Hant)  "
                   "[default: the run's train/best.pt, else en]")
@click.option("--split", default=None, help="A packed split of the run  [default: test]")
@click.option("--shards", type=click.Path(), default=None, help="Shard files: one, or a folder of shard-*.lmdb.")
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="A folder of line images with labels.tsv (or named by their text).")
@click.option("--from-lmdb", type=click.Path(), default=None, help="A scene-text LMDB.")
@click.option("--vertical", is_flag=True, help="The --data/--from-lmdb lines are vertical: columns read top "
              "to bottom (turned 90 degrees counter-clockwise, as pack does).")
@click.option("--name", default=None,
              help="Name of this evaluation (its folder under eval/)  [default: from the set and the decoding]")
@decoding_options
@click.option("--compare", type=click.Choice(["tesseract"]), default=None,
              help="Also read the same lines with tesseract (--psm 7) and score it the same way.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True, help="Lines read at once.")
@click.option("--device", default="auto", show_default=True, help="auto, cuda, cuda:N or cpu.")
@click.option("--worst", type=click.IntRange(0), default=50, show_default=True, help="Worst lines in report.html.")
@progress_option
@with_run
def evaluate(run_dir: Path, show_progress: bool | None, **options: Any) -> None:
    """Measure a model: mean edit distance, CER, WER, exact lines; a report."""
    from pipeline import evaluate as stage
    from pipeline.config import EvalConfig
    from pipeline.evaluation.metrics import describe_ranking

    decoding = decode_config(options)
    outcome = stage.run(EvalConfig(**options, decoding=decoding), run_dir, show_progress=show_progress)
    report = outcome.report
    click.echo(f"model: {report['checkpoint']['path']}")
    click.echo(f"eval {outcome.name}: {report['lines']} lines from {report['data']['description']}"
               f"; {report['decoding']}; {report['lines_per_s']:.0f} lines/s on {report['device']}")
    if report["restored"]:
        click.echo(f"  scored too: {_counts(report['restored'])} (lines pack kept out of the training shards)")
    if report["skipped"]:
        click.echo(f"  left out of the scores: {_counts(report['skipped'])}")
    head = report["headline"]
    columns = dict(report["metrics"])
    if report["compare"]:
        compare = report["compare"]
        columns.update({f"tesseract {k}": compare["metrics"][k] for k in dict.fromkeys(("raw", "all",
                                                                                        head["normalization"]))})
    for line in _metric_rows(columns):
        click.echo(line)
    versus = f" (tesseract {_percent(head['tesseract'])})" if "tesseract" in head else ""
    click.echo(f"headline: {head['description']} {_percent(head['value'])}{versus}")
    trust = describe_ranking(report.get("confidence") or {})
    if trust:
        click.echo(f"confidence: {trust}")
    scripts = {k: v for k, v in report["breakdowns"].get("by_script", {}).items() if v["chars"]}
    if len(scripts) > 1 and ({"hangul", "han", "kana"} & set(scripts)):
        click.echo("CER by script: " + ", ".join(f"{k} {_percent(v['cer'])} of {v['chars']}"
                                                 for k, v in scripts.items()))
    click.echo(f"report: {outcome.folder / 'report.html'} (and report.json, predictions.tsv)")


def _counts(reasons: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in reasons.items())


CHECKPOINT_HELP = ("A best.pt or last.pt, or a bundled model (en, en-print, ko, zh, zh-Hant)  [default: the run's "
                   "best.pt when it has a finished training, else en]")


@cli.command()
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (file, text, confidence).")
@click.option("--vertical", is_flag=True, help="The images are vertical lines: columns read top to bottom.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Flag lines read with less confidence: a fourth column `low` (else `ok`), or "
                   "\"low_confidence\" in --json, and a count on stderr. `ocrpipe eval` reports how well the "
                   "confidence ranks wrong lines first on a set; --confidence views ranks them better.")
@decoding_options
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True, help="Lines read at once.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cuda, cuda:N or cpu.")
@with_run
def predict(run_dir: Path, checkpoint: str | None, images: tuple[str, ...], as_json: bool, vertical: bool,
            min_confidence: float | None, batch_size: int, device: str, **options: Any) -> None:
    """Read IMAGES (files, folders, or - for paths on stdin): file, text and confidence per line."""
    import json

    from pipeline import predict as stage

    config = decode_config(options)
    config.validate()
    model = _checkpoint(checkpoint, run_dir)
    failed = low = 0
    for p in stage.run(model, stage.collect(images), batch_size, device, config, vertical):
        if p.error:
            failed += 1
            click.echo(f"{p.file}: {p.error}", err=True)
            continue
        flagged = min_confidence is not None and p.confidence < min_confidence
        low += flagged
        if as_json:
            record: dict[str, Any] = {"file": p.file, "text": p.text, "confidence": p.confidence}
            if min_confidence is not None:
                record["low_confidence"] = flagged
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            column = "" if min_confidence is None else ("\tlow" if flagged else "\tok")
            click.echo(f"{p.file}\t{p.text}\t{p.confidence:.4g}{column}")
    if min_confidence is not None:
        click.echo(f"{low} line(s) read with confidence below {min_confidence} (flagged low)", err=True)
    if failed:
        raise OcrpipeError(f"{failed} image(s) could not be read (named above)")


def _checkpoint(checkpoint: str | None, run_dir: Path) -> Path:
    """--checkpoint, or the default that eval, predict and export share (said on stderr)."""
    from pipeline.resources import bundled_models, checkpoint_for

    path = checkpoint_for(checkpoint, run_dir)
    if checkpoint:
        return path
    bundled = {p: name for name, p in bundled_models().items()}
    which = f"the bundled model {bundled[path]} ({path})" if path in bundled else str(path)
    click.echo(f"model: {which} (--checkpoint to choose another)", err=True)
    return path


@cli.command()
@click.option("--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript", "checkpoint", "checkpoint-half",
                                                    "checkpoint-int8"]),
              required=True, help="onnx, torchscript, or checkpoint: weights, charset and record without "
              "optimizer state (checkpoint-half: its weights stored in float16, half the file; checkpoint-int8: "
              "its recurrent and output matrices in int8 with a scale per row, the rest in float16: up to 40% "
              "smaller again).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The model file to write; OUTPUT.json beside it gets the charset and preprocessing.")
@click.option("--lm-weight", type=click.FloatRange(0), default=None,
              help="Checkpoint formats: record this --lm weight as the model's own, used by eval and predict "
                   "when --lm-weight is not given (measure it with benchmarks/lm_grid.py).")
@click.option("--lm-bonus", type=float, default=None,
              help="Checkpoint formats: record this --lm bonus as the model's own, likewise.")
@click.option("--stretch", type=float, default=None,
              help="Checkpoint formats: record this stretch of a line's width as the model's (see train "
                   "--stretch), e.g. one measured better for a model trained without it.")
@click.option("--average-with", default=None,
              help="Export the average of the checkpoint's weights and this one's (a file or a bundled model; one "
                   "network and charset), e.g. a fine-tuned model with the model it started from.")
@click.option("--average-weight", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="With --average-with: its share of the average  [default: 0.5]")
@with_run
def export(run_dir: Path, checkpoint: str | None, fmt: str, output: Path, lm_weight: float | None,
           lm_bonus: float | None, stretch: float | None, average_with: str | None,
           average_weight: float | None) -> None:
    """Export a checkpoint as ONNX or TorchScript (dynamic batch and width), or slimmed for release."""
    from pipeline import export as stage
    from pipeline.resources import resolve_checkpoint

    decoding = {k: v for k, v in (("lm_weight", lm_weight), ("lm_bonus", lm_bonus)) if v is not None}
    stage.check_decoding(fmt, decoding, stretch)
    if average_weight is not None and average_with is None:
        raise OcrpipeError("--average-weight needs --average-with (the checkpoint to average with)")
    average = (stage.Average(resolve_checkpoint(average_with, "--average-with"),
                             0.5 if average_weight is None else average_weight) if average_with else None)
    outcome = stage.run(_checkpoint(checkpoint, run_dir), fmt, output, decoding, average, stretch)
    mixed = (f" of the weights averaged with {average.other} ({average.weight:g} of it)" if average else "")
    if fmt.startswith("checkpoint"):
        click.echo(f"wrote {outcome.path}: a checkpoint{mixed} without optimizer state, for eval, predict and --init"
                   f"{stage.STORED_NOTE.get(fmt, '')}; it matches the original "
                   f"(largest difference of a class probability {outcome.max_difference:.1e})")
        return
    check = (f"matches the checkpoint (largest log-prob difference {outcome.max_difference:.1e})"
             if outcome.max_difference is not None else "not checked (pip install onnxruntime to check it)")
    click.echo(f"wrote {outcome.path} ({fmt}{mixed}), {check}; charset and preprocessing in {outcome.sidecar}")


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


LOCKED = ("generate", "pack", "train")      # the stages whose writer holds a lock while it runs


@cli.command()
@with_run
def status(run_dir: Path) -> None:
    """Show what each stage of a run did."""
    from pipeline.run import locks
    from pipeline.run.manifest import STAGES, Manifest
    from pipeline.run.results import RESULT_TYPES
    from pipeline.utils.provenance import environment, environment_changes

    manifest = Manifest(run_dir)
    if not manifest.path.exists():
        raise OcrpipeError(f"{run_dir} has no manifest.json yet; start with `ocrpipe generate --run {run_dir}`")
    doc = manifest.load()
    rows = [("stage", "status", "result", "when")]
    notes: list[tuple[str, list[str]]] = []      # stages made with other package versions
    current = environment()
    for name in STAGES:
        section = doc["stages"].get(name)
        if not section:
            continue
        record = manifest.stage(name)
        assert record is not None
        state = record.status
        if state == "running" and name in LOCKED and not locks.is_held(run_dir, name):
            state = "interrupted"       # its process is gone (a crash or kill -9): a rerun resumes
        stale = manifest.stale_reason(name, doc)
        if stale:
            state += f" (stale: {stale})"
        if record.status == "done" and name in RESULT_TYPES:
            summary = RESULT_TYPES[name].from_dict(record.result).summary()
        elif record.status == "partial":
            summary = f"{record.result.get('chunks_done')}/{record.result.get('chunks_total')} chunks"
        elif state == "interrupted":
            summary = f"rerun `{record.command or f'ocrpipe {name} --run {run_dir}'}` to resume"
        else:
            summary = record.error or ""
        rows.append((name, state, summary, _when(record)))
        changes = environment_changes(record.environment, current)
        if changes:
            notes.append((name, changes))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3])
    for name, changes in notes:
        click.echo(f"note: {name} was made with other versions than this environment has ({', '.join(changes)}): "
                   "running it again may give other numbers")


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="ocrpipe")


def _terminate(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)      # a second SIGTERM ends the process at once
    raise Terminated()

"""One frozen dataclass per stage: every option, its default and the reason for it.

The CLI turns options into these; the manifest records them whole (defaults included);
the stages read nothing else.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pipeline.errors import OcrpipeError

# The values some options take. The code behind each lives where it does its work (the code
# lines in pipeline.text.codes, the presets in pipeline.synth.styles, the models in
# pipeline.models.crnn); the names are here, so that checking an option imports none of it.
LANGS = ("en", "ko", "zh", "zh-Hant")
STYLES = ("plain", "print", "binarized", "scene", "scanned", "receipt", "screen", "wild")
TEXTS = ("lines", "words", "receipt")
OLD_STYLE_NAMES = {"scan": "binarized"}      # names of earlier releases, still accepted
ARCHS = ("crnn", "crnn-small", "crnn-medium", "crnn-resnet")


def parse_weighted(value: str, names: tuple[str, ...], what: str, aliases: dict[str, str] | None = None
                   ) -> tuple[tuple[str, float], ...]:
    """`a` or a mixture `a,b` (equal shares) or `a:3,b:1` (shares by weight), as (name, weight)
    pairs; raises ValueError naming what is wrong."""
    pairs = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        name, _, weight = part.partition(":")
        name = (aliases or {}).get(name.strip(), name.strip())
        try:
            share = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"{part!r}: the share after ':' must be a number (e.g. {name}:2)") from None
        if not (math.isfinite(share) and share > 0):
            raise ValueError(f"{part!r}: a share must be a positive number")
        pairs.append((name, share))
    unknown = [n for n, _ in pairs if n not in names]
    if not pairs or unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown) or repr(value)}; use {', '.join(names)}, or several "
                         f"joined by commas, each with an optional share (e.g. {names[0]}:3,{names[1]}:1)")
    if len({n for n, _ in pairs}) != len(pairs):
        raise ValueError(f"{value!r}: name each one once")
    return tuple(pairs)


def parse_styles(value: str) -> tuple[str, ...]:
    """`print`, a mixture such as `print,binarized` (each line draws one, equally likely), or
    one with shares, `scanned:3,print:1`."""
    return tuple(name for name, _ in parse_weighted(value, STYLES, "style", OLD_STYLE_NAMES))


@dataclass(frozen=True)
class GenerateConfig:
    fonts: tuple[str, ...] = ()            # font files or folders (default: the bundled fonts/)
    corpus: tuple[str, ...] = ()           # text files (default: the bundled corpora/)
    count: int = 10_000                    # lines in total, over all splits
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    seed: int = 0
    workers: int = 0                       # 0: one per available core
    shard: str = "1/1"                     # K/N: make only every N-th chunk, starting at the K-th
    height: int = 32                       # image height in pixels (the model's default input)
    min_words: int = 1
    max_words: int = 8                     # ~50 characters: long enough to learn line context
    style: str = "print"                   # a style, or several joined by commas (one per line)
    codes_fraction: float = 0.2            # share of numbers, dates, prices, codes
    holdout_fonts: int = 0                 # font families kept for the test split only
    caps_fonts: str = "upper"              # all-caps fonts: "upper" (upper-case the label) or "skip"
    skip_uncovered: bool = False           # drop corpus text no font can draw (else: an error)
    skew: float | None = None              # overrides of single effects of the style
    blur: float | None = None
    background: str | None = None
    distortion: str | None = None
    text_color: str | None = None
    word_spacing: tuple[float, float] | None = None   # word space drawn from this range, times the font's own
    background_dir: str | None = None      # pictures for --background image (default: trdg's)
    lang: str = "en"                       # en, ko, zh, zh-Hant, or several joined by commas: codes' forms, defaults
    orientation: str = "horizontal"        # or vertical: columns of upright characters, top to bottom
    text: str = "lines"                    # lines of prose, words and codes; words: sign tokens; receipt:
                                           # receipt lines; or a mixture with shares (lines:2,words:1)
    wild_parts: str = "all"                # what the wild style draws beyond a plain word (WILD_PARTS)
    holdout_family: tuple[str, ...] = ()   # these font families for the test split only (by name)
    conventions: str = "corpus"            # or "mixed": Chinese prose also unspaced around Latin, ASCII punctuation
    wild_neighbours: str = "apart"         # wild style: "near" (a crop may show a sliver of a neighbouring
                                           # word) or "apart" (beyond every margin: none shows)

    # Options that change how the work is spread, not what is made.
    EXECUTION: ClassVar[tuple[str, ...]] = ("workers", "shard")
    # Options added after runs were made: at their default they stay out of the fingerprint,
    # so those runs still count as up to date.
    LATER: ClassVar[dict[str, Any]] = {"lang": "en", "orientation": "horizontal", "text": "lines",
                                       "wild_parts": "all", "holdout_family": [],
                                       "conventions": "corpus", "word_spacing": None,
                                       "wild_neighbours": "apart"}

    def output_fields(self) -> dict[str, Any]:
        """The fields that decide the output bytes: resuming needs these to be unchanged.
        (--wild-neighbours counts only where the wild style is drawn.)"""
        fields = {k: v for k, v in to_dict(self).items()
                  if k not in self.EXECUTION and not (k in self.LATER and v == self.LATER[k])}
        if "wild" not in self._style_names():
            fields.pop("wild_neighbours", None)
        return fields

    def _style_names(self) -> set[str]:
        try:
            return set(parse_styles(self.style))
        except ValueError:
            return set()

    def langs(self) -> tuple[str, ...]:
        langs = tuple(dict.fromkeys(part.strip() for part in self.lang.split(",") if part.strip()))
        unknown = [lang for lang in langs if lang not in LANGS]
        if unknown or not langs:
            raise OcrpipeError(f"--lang {self.lang}: unknown language {', '.join(unknown) or '(none)'}; "
                               f"use {', '.join(LANGS)}, or several joined by commas (e.g. ko,en)")
        return langs

    def wild_part_set(self) -> frozenset[str]:
        """--wild-parts as a set of WILD_PARTS (`all`: every one; `none`: a plain word on a flat ground)."""
        parts = {part.strip() for part in self.wild_parts.split(",") if part.strip()}
        if parts == {"all"}:
            return frozenset(WILD_PARTS)
        if parts == {"none"}:
            return frozenset()
        unknown = sorted(parts - set(WILD_PARTS))
        if unknown or not parts:
            raise OcrpipeError(f"--wild-parts {self.wild_parts}: unknown part {', '.join(unknown) or '(none)'}; "
                               f"use all, none, or some of {','.join(WILD_PARTS)} joined by commas")
        return frozenset(parts)

    def shard_pair(self) -> tuple[int, int]:
        try:
            k, n = (int(x) for x in self.shard.split("/"))
        except ValueError:
            raise OcrpipeError(f"--shard {self.shard!r}: expected K/N, e.g. 1/4") from None
        if n < 1 or not 1 <= k <= n:
            raise OcrpipeError(f"--shard {self.shard}: out of range; K must be between 1 and N (e.g. 1/{max(n, 1)})")
        return k, n

    def validate(self) -> None:
        check_finite(self)
        self.shard_pair()
        self.langs()
        try:
            styles = set(parse_styles(self.style))
        except ValueError as e:
            raise OcrpipeError(f"--style {self.style}: {e}") from None
        try:
            parse_weighted(self.text, TEXTS, "text")
        except ValueError as e:
            raise OcrpipeError(f"--text {self.text}: {e}") from None
        if self.orientation not in ("horizontal", "vertical"):
            raise OcrpipeError(f"--orientation {self.orientation}: use horizontal or vertical")
        overrides = [name for name in ("skew", "blur", "background", "distortion", "text_color", "word_spacing")
                     if getattr(self, name) is not None]
        if self.word_spacing is not None and not 0 < self.word_spacing[0] <= self.word_spacing[1] <= 4:
            raise OcrpipeError(f"--word-spacing {','.join(map(str, self.word_spacing))}: give LO,HI with "
                               "0 < LO <= HI <= 4 (times the font's own space), e.g. 0.6,1.2")
        if overrides and styles <= {"scanned", "wild"}:
            raise OcrpipeError(f"--{overrides[0].replace('_', '-')}: the {' and '.join(sorted(styles))} style draws "
                               "its own geometry and ink and takes no effect overrides; leave it out, or use it "
                               "with a style that does (print, binarized, scene, receipt, screen)")
        self.wild_part_set()
        if self.wild_neighbours not in ("near", "apart"):
            raise OcrpipeError(f"--wild-neighbours {self.wild_neighbours}: use near or apart")
        if self.wild_parts != "all" and "wild" not in styles:
            raise OcrpipeError(f"--wild-parts {self.wild_parts}: only the wild style draws these parts; "
                               "add wild to --style or leave --wild-parts out")
        horizontal_only = sorted(styles & {"scanned", "wild"})
        if self.orientation == "vertical" and horizontal_only:
            raise OcrpipeError(f"--orientation vertical: the {horizontal_only[0]} style draws horizontal lines only; "
                               "use --style print, binarized or scene for vertical lines")
        if self.count < 1:
            raise OcrpipeError("--count must be at least 1")
        if self.count > MAX_LINES:
            raise OcrpipeError(f"--count {self.count}: at most {MAX_LINES:,} lines per run (the plan alone would "
                               "take gigabytes); make several runs with other --seed values, and train on them "
                               "together with --train-split")
        if self.workers > MAX_WORKERS:
            raise OcrpipeError(f"--workers {self.workers}: at most {MAX_WORKERS}; 0 starts one per core")
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise OcrpipeError("--val-fraction and --test-fraction must be in [0, 1) and leave lines for training")
        if not 1 <= self.min_words <= self.max_words:
            raise OcrpipeError(f"--min-words {self.min_words} / --max-words {self.max_words}: "
                               "need 1 <= min-words <= max-words")
        if self.height < 12:
            raise OcrpipeError(f"--height {self.height}: too small to draw text; use 12 or more (32 is the default)")
        if not 0 <= self.codes_fraction <= 1:
            raise OcrpipeError("--codes-fraction must be between 0 and 1")
        if self.conventions not in CONVENTIONS:
            raise OcrpipeError(f"--conventions {self.conventions}: use one of {', '.join(CONVENTIONS)}")
        if self.background_dir:
            check_picture_folder(Path(self.background_dir))


# What the wild style adds to a plain word, each of which --wild-parts can leave out:
# grounds: photographs, textures and gradients (else a flat colour); effects: outlines, shadows and
# extrusions, gradient and textured fills (else a solid fill); geometry: stretch, curve, rotation,
# perspective; degrade: resolution loss, blur, JPEG; crops: loose margins and neighbouring letters
# (else a margin of 8% of the word's height on each side).
WILD_PARTS = ("grounds", "effects", "geometry", "degrade", "crops")

# How corpus text is written out: as the corpus writes it, or ("mixed") Chinese prose also in the
# other conventions of print: no space between Han and Latin words, ASCII punctuation.
CONVENTIONS = ("corpus", "mixed")

MAX_MODEL_HEIGHT = 128    # beyond it memory grows without a gain in reading (see check_model_height)
MAX_LINES = 100_000_000   # lines one generate plans: more is a job for several runs (or --seed)
MAX_WORKERS = 256         # processes a stage starts at the most (and never more than its work items)
MODEL_HEIGHT_STEP = 16     # the CNNs halve the height four times (32 -> 2 -> pooled to 1)


def check_finite(config: Any) -> None:
    """Every float option of `config` a finite number: NaN and infinity pass click's ranges
    (every comparison with NaN is false) and would train NaN weights or tilt every line."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        values = value if isinstance(value, tuple) else (value,)
        bad = [v for v in values if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            shown = ",".join(map(str, values))
            default = f" (the default is {f.default})" if isinstance(f.default, float) else ""
            raise OcrpipeError(f"--{f.name.replace('_', '-')} {shown}: not a finite number; give an ordinary "
                               f"number{default}")


def check_stretch(stretch: float, option: str = "--stretch") -> None:
    """A model's stretch of a line's width (pipeline.models.crnn.stretched): a multiple of 1/8
    from 1 to 2, so that widths times it are exact."""
    if not (1 <= stretch <= 2 and float(stretch * 8).is_integer()):
        raise OcrpipeError(f"{option} {stretch:g}: give a multiple of 1/8 from 1 to 2 (e.g. 1, 1.125, 1.25, 1.5)")


def check_model_height(height: int) -> None:
    """The one rule for the height the model reads, checked by pack (the first command that
    sets it) and by the model: a multiple of 16."""
    if height < MODEL_HEIGHT_STEP or height % MODEL_HEIGHT_STEP:
        raise OcrpipeError(f"--height {height}: the models read lines at a multiple of {MODEL_HEIGHT_STEP} px "
                           "(16, 32, 48, 64; 32 is the default); pack with one of those")
    if height > MAX_MODEL_HEIGHT:
        raise OcrpipeError(f"--height {height}: at most {MAX_MODEL_HEIGHT} px (a line's pixels, and a shard's "
                           "size, grow with the square of the height; 32 reads print, 48-64 small or dense "
                           "scripts); pack with a lower --height")


def check_picture_folder(folder: Path) -> None:
    """trdg draws a random entry of the folder as a background and fails on anything that is not
    a picture: check every entry now, so a bad one is a clear error before any line is made."""
    from PIL import Image, UnidentifiedImageError

    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    if not entries:
        raise OcrpipeError(f"--background-dir {folder}: no pictures there; add some (PNG, JPEG) or leave the "
                           "option out to use the ones shipped with trdg")
    for entry in entries:
        try:
            with Image.open(entry) as picture:
                picture.size
        except (OSError, UnidentifiedImageError):
            raise OcrpipeError(f"--background-dir {folder}: {entry.name} is not a picture, and every file there "
                               "is drawn as a background; move it out") from None


def to_dict(config: Any) -> dict[str, Any]:
    """A config as plain JSON-able values (tuples as lists)."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return to_dict(value)
        return list(value) if isinstance(value, tuple) else value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


@dataclass(frozen=True)
class PackConfig:
    height: int = 32                       # line height the model sees
    channels: int = 1                      # 1: grayscale; 3: keep colour
    max_width: int | None = None           # None: 50 x height (1600 px at 32, ~200 characters)
    shard_size: int = 10_000               # lines per LMDB shard
    workers: int = 0                       # 0: one per available core
    charset: str | None = None             # a charset file; default: built from the training labels
    add_chars: str | None = None           # a text file of characters that get a class even if no label has them
    from_folder: str | None = None         # import a folder instead of the generate result
    from_lmdb: str | None = None           # import a scene-text LMDB instead
    split: str | None = None               # the split an import goes to (default: test)
    vertical: bool = False                 # an import of vertical lines (columns read top to bottom)
    hangul: str = "syllables"              # or "jamo": Hangul syllables as classes of their letters

    def width_cap(self) -> int:
        return self.max_width or 50 * self.height

    def import_split(self) -> str:
        return self.split or "test"

    def validate(self) -> None:
        check_finite(self)
        if self.from_folder and self.from_lmdb:
            raise OcrpipeError("--from-folder and --from-lmdb: give one source per pack")
        if self.split and not (self.from_folder or self.from_lmdb):
            raise OcrpipeError("--split names the split of an import; use it with --from-folder or --from-lmdb")
        if self.split and not self.split.replace("-", "").replace("_", "").isalnum():
            raise OcrpipeError(f"--split {self.split!r}: use letters, digits, - and _ only")
        if self.channels not in (1, 3):
            raise OcrpipeError(f"--channels {self.channels}: use 1 (grayscale) or 3 (colour)")
        if self.vertical and not (self.from_folder or self.from_lmdb):
            raise OcrpipeError("--vertical is for imports (--from-folder, --from-lmdb); generated lines "
                               "carry their orientation from `generate --orientation`")
        if self.workers > MAX_WORKERS:
            raise OcrpipeError(f"--workers {self.workers}: at most {MAX_WORKERS}; 0 starts one per core")
        if self.hangul not in ("syllables", "jamo"):
            raise OcrpipeError(f"--hangul {self.hangul}: use syllables or jamo")
        if self.charset and self.add_chars:
            raise OcrpipeError("--charset and --add-chars: --charset fixes the whole charset; add the "
                               "characters to that file, or use --add-chars alone")
        check_model_height(self.height)


@dataclass(frozen=True)
class TrainConfig:
    arch: str | None = None                # crnn (the paper's, ~8.8M parameters), crnn-small, crnn-medium,
                                           # crnn-resnet; None: the --init checkpoint's, else crnn; a wider
                                           # one than --init's grows it (pipeline.models.widen)
    steps: int = 20_000                    # synthetic data is unbounded: count steps, not epochs
    batch_size: int = 64                   # lines per micro-batch on each device
    accumulate: int = 1                    # micro-batches per optimizer step
    max_pixels: int | None = None          # also cap a micro-batch by padded pixels (long lines)
    lr: float = 1e-3                       # AdamW peak learning rate
    weight_decay: float = 0.01
    warmup: int | None = None              # steps of linear warmup; None: 3% of the steps, at most 1000
    schedule: str = "cosine"               # cosine (to 1% of lr) or onecycle
    grad_clip: float = 5.0                 # 0 disables
    seed: int = 0
    device: str = "auto"                   # auto: CUDA when present
    amp: bool = True                       # bf16 autocast on CUDA; ignored on CPU
    cpu_bf16: bool = False                 # bf16 autocast on the CPU too, where it computes bf16 natively
    compile: bool = False                  # torch.compile the model (first steps are slow)
    augment: bool = True
    elastic: float = 0.0                   # share of training lines bent by a smooth random warp (0: none)
    val_every: int = 1000                  # steps between validations (and last.pt)
    early_stop: int = 0                    # stop after this many validations without a better CER
    workers: int | None = None             # loader processes; None: 0 on CPU, up to 8 with CUDA
    init: str | None = None                # start from this checkpoint's weights (a file or a bundled model)
    train_splits: tuple[str, ...] = ("train",)   # packed splits to train on
    mix: tuple[float, ...] | None = None   # share of batches from each train split; None: by their sizes
    val_split: str = "val"                 # the split that picks best.pt and drives --early-stop
    freeze_cnn: int = 0                    # steps with the CNN fixed (weights and batch-norm statistics)
    ema: float = 0.0                       # decay of a moving average of the weights that validation,
                                           # best.pt and last.pt's model hold (0: off, the weights as trained)
    whole_width: bool | None = None        # give a line's last 1-3 columns a frame (pad its width up to a
                                           # multiple of 4); None: the --init checkpoint's, else off
    jitter_margins: float = 0.0            # share of training lines whose left and right margins are drawn
                                           # again, tight to the ink or loose (0: the margins as generated)
    stretch: float | None = None           # the model reads each line this many times as wide (more frames
                                           # per glyph); None: the --init checkpoint's, else 1
    ink_rows: bool | None = None           # the model reads each line cut to its ink rows, scaled back to
                                           # the height; None: the --init checkpoint's, else off

    # Options that may change when a run resumes: how it runs, not what it computes.
    RESUMABLE: ClassVar[tuple[str, ...]] = ("steps", "device", "workers", "compile", "val_every", "early_stop",
                                            "cpu_bf16")
    DEFAULT_ARCH: ClassVar[str] = "crnn"

    def warmup_steps(self) -> int:
        return self.warmup if self.warmup is not None else min(1000, max(1, self.steps * 3 // 100))

    def shares(self, sizes: list[int]) -> list[float]:
        """The share of batches drawn from each train split (normalized to sum to 1)."""
        weights = list(self.mix) if self.mix else [float(n) for n in sizes]
        total = sum(weights)
        return [w / total for w in weights]

    def validate(self) -> None:
        check_finite(self)
        if len(set(self.train_splits)) != len(self.train_splits) or not self.train_splits:
            raise OcrpipeError(f"--train-split {', '.join(self.train_splits)}: name each split once")
        if self.mix is not None:
            if len(self.mix) != len(self.train_splits):
                raise OcrpipeError(f"--mix {','.join(map(str, self.mix))}: give one share per --train-split "
                                   f"({len(self.train_splits)}: {', '.join(self.train_splits)}), e.g. --mix 0.7,0.3")
            if any(m < 0 for m in self.mix) or sum(self.mix) <= 0:
                raise OcrpipeError(f"--mix {','.join(map(str, self.mix))}: shares must be >= 0 and not all 0")
        if self.freeze_cnn < 0:
            raise OcrpipeError("--freeze-cnn must be 0 or more steps")
        if not 0 <= self.ema < 1:
            raise OcrpipeError(f"--ema {self.ema}: give a decay in [0, 1), e.g. 0.999 (0 turns it off)")
        if not 0 <= self.elastic <= 1:
            raise OcrpipeError(f"--elastic {self.elastic}: give a share in [0, 1], e.g. 0.3 (0 turns it off)")
        if self.elastic and not self.augment:
            raise OcrpipeError("--elastic is part of the augmentation: leave out --no-augment, or --elastic")
        if not 0 <= self.jitter_margins <= 1:
            raise OcrpipeError(f"--jitter-margins {self.jitter_margins}: give a share in [0, 1], e.g. 0.5")
        if self.arch is not None and self.arch not in ARCHS:
            raise OcrpipeError(f"--arch {self.arch}: unknown; choose one of {', '.join(ARCHS)}")
        if self.stretch is not None:
            check_stretch(self.stretch)
        if self.schedule not in ("cosine", "onecycle"):
            raise OcrpipeError(f"--schedule {self.schedule}: use cosine or onecycle")
        if self.schedule == "onecycle" and self.warmup is not None:
            raise OcrpipeError("--warmup applies to --schedule cosine; onecycle rises over the first 30% of the "
                               "steps by itself: leave --warmup out, or use the cosine schedule")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise OcrpipeError(f"--device {self.device}: use auto, cpu or cuda")
        if min(self.steps, self.batch_size, self.accumulate, self.val_every) < 1 or self.lr <= 0:
            raise OcrpipeError("--steps, --batch-size, --accumulate, --val-every and --lr must be positive")


CONFIDENCES = ("single", "views")         # --confidence: one reading, or the mean over three widths
READINGS = ("single", "views")            # --read: the line as given, or the text three widths agree on most


# The LM's weight and per-character bonus for a model that records none: 0.3 and 0.5 are within
# two edits of the best of a grid on uw3-dev for en-print (benchmarks/lm_grid.py, README).
LM_DEFAULTS = {"lm_weight": 0.3, "lm_bonus": 0.5}


@dataclass(frozen=True)
class DecodeConfig:
    """How log-probabilities become text, for eval and predict alike."""

    beam: int = 0                          # 0: greedy; N: CTC prefix beam search of width N
    lexicon: str | None = None             # a word list that corrects decoded words (with --beam)
    oov_cost: float = 4.0                  # nats charged to a word outside the lexicon
    lm: tuple[str, ...] = ()               # text files (or folders of *.txt) for a character n-gram model
    lm_weight: float | None = None         # its weight in beam search, and nats added per character:
    lm_bonus: float | None = None          # None takes the model's own (`for_model`)
    confidence: str = "single"             # or "views": averaged over the line read at three widths
    read: str = "single"                   # or "views": the text of the three widths' readings they find likeliest

    def for_model(self, state: dict[str, Any]) -> DecodeConfig:
        """The LM weight and bonus not given, taken from the checkpoint's record (`export
        --lm-weight --lm-bonus` stores the ones measured best for that model), else LM_DEFAULTS."""
        recorded = state.get("decoding") if isinstance(state.get("decoding"), dict) else {}
        chosen = {name: value if value is not None else float(recorded.get(name, LM_DEFAULTS[name]))
                  for name, value in (("lm_weight", self.lm_weight), ("lm_bonus", self.lm_bonus))}
        return dataclasses.replace(self, **chosen)

    def validate(self) -> None:
        check_finite(self)
        if (self.lexicon or self.lm) and not self.beam:
            raise OcrpipeError(f"{'--lexicon' if self.lexicon else '--lm'} works on beam search results; "
                               "add --beam N (e.g. --beam 10)")
        if self.confidence not in CONFIDENCES:
            raise OcrpipeError(f"--confidence {self.confidence}: use single or views")
        if self.read not in READINGS:
            raise OcrpipeError(f"--read {self.read}: use single or views")

    @property
    def over_views(self) -> bool:
        """Whether the confidence is the mean over three readings of the line (`--confidence views`,
        and always with `--read views`)."""
        return self.confidence == "views" or self.chooses_view

    @property
    def chooses_view(self) -> bool:
        """Whether the text is chosen among the readings of three widths (`--read views`)."""
        return self.read == "views"

    def describe(self) -> str:
        text = f"beam search, width {self.beam}" if self.beam else "greedy"
        if self.lm:
            text += f", character LM of {', '.join(self.lm)} (weight {self.lm_weight}, bonus {self.lm_bonus})"
        if self.lexicon:
            text += f", lexicon {self.lexicon} (unknown word cost {self.oov_cost})"
        if self.chooses_view:
            text += ", the reading three widths agree on most"
        elif self.over_views:
            text += ", confidence over three widths"
        return text

    def suffix(self) -> str:
        """For report names: `-beam10`, `-beam10-lm-lexicon`."""
        views = "-read-views" if self.chooses_view else "-views" if self.over_views else ""
        return ((f"-beam{self.beam}" if self.beam else "") + ("-lm" if self.lm else "")
                + ("-lexicon" if self.lexicon else "") + views)


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: str | None = None          # default: the run's train/best.pt
    split: str | None = None               # a packed split of the run (default: test)
    shards: str | None = None              # or shard files (a file or a folder)
    data: str | None = None                # or a folder of images (labels.tsv or names)
    from_lmdb: str | None = None           # or a scene-text LMDB
    name: str | None = None                # default: from the set
    decoding: DecodeConfig = DecodeConfig()   # greedy, or beam search with a lexicon and LM
    compare: str | None = None             # "tesseract": read the same lines with it too
    vertical: bool = False                 # --data/--from-lmdb lines are columns read top to bottom
    batch_size: int = 64
    device: str = "auto"
    worst: int = 50                        # worst lines shown in report.html

    def sources(self) -> list[str]:
        return [k for k in ("split", "shards", "data", "from_lmdb") if getattr(self, k)]

    def as_record(self) -> dict[str, Any]:
        """The options as report.json has always listed them: the decoding ones beside the rest."""
        record = to_dict(self)
        return {**record, **record.pop("decoding")}

    def validate(self) -> None:
        check_finite(self)
        if len(self.sources()) > 1:
            raise OcrpipeError("give one set to evaluate: --split, --shards, --data or --from-lmdb")
        for option, value, kind in (("--data", self.data, "folder"), ("--shards", self.shards, "file or folder"),
                                    ("--from-lmdb", self.from_lmdb, "file or folder")):
            # Checked here, before eval takes the run's locks: a mistyped path leaves no run folder behind.
            if value is not None and not Path(value).exists():
                raise OcrpipeError(f"{option} {value}: no such {kind}; check the path")
        self.decoding.validate()
        if self.compare not in (None, "tesseract"):
            raise OcrpipeError(f"--compare {self.compare}: only tesseract is supported")
        if self.vertical and not (self.data or self.from_lmdb):
            raise OcrpipeError("--vertical is for --data and --from-lmdb; a packed split knows its orientation")
        if self.vertical and self.compare:
            raise OcrpipeError("--vertical with --compare tesseract: tesseract reads horizontal lines here; "
                               "leave out --compare")
        if self.name and not self.name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise OcrpipeError(f"--name {self.name!r}: use letters, digits, '.', '-' and '_' only")

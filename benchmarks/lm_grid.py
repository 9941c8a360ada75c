"""The character language model's settings, measured: CER of one model on a set of real lines
under beam search with the LM at a grid of weights and bonuses, and at n-gram orders 5, 6, 7.

    python benchmarks/lm_grid.py --data ../shared/data/uw3-dev [--checkpoint en-print]
        [--weights 0.2,0.3,0.5 --bonuses 0,0.5,1,1.5]
    python benchmarks/lm_grid.py --shards runs/NAME/shards/test --checkpoint en   (a packed split)

The model reads the lines once; every setting decodes the same log-probabilities (beam 10),
so the table costs a forward pass and a few seconds of beam search per cell. Prints markdown
tables (raw and all-normalized CER) with the date and the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, table, today  # noqa: E402
from pipeline.config import EvalConfig  # noqa: E402
from pipeline.datasets.loader import BucketBatchSampler, Collate, make_loader  # noqa: E402
from pipeline.evaluate import eval_set  # noqa: E402
from pipeline.evaluation.metrics import score_normalized  # noqa: E402
from pipeline.models import checkpoint as ckpt  # noqa: E402
from pipeline.models.charlm import ORDER, CharLM  # noqa: E402
from pipeline.models.ctc_decode import Fusion, decoder, lm_files  # noqa: E402
from pipeline.models.inference import predictions  # noqa: E402
from pipeline.models.runtime import setup  # noqa: E402
from pipeline.resources import resolve_checkpoint  # noqa: E402
from pipeline.run.manifest import Manifest  # noqa: E402

WEIGHTS = (0.2, 0.3, 0.5)
BONUSES = (0.0, 0.5, 1.0, 1.5)


def log_probs(checkpoint: str, data: Path | None, shards: Path | None, scratch: Path) -> tuple[list, object]:
    """[(references, log_probs, lengths)] per batch, and the charset."""
    state = ckpt.load(resolve_checkpoint(checkpoint, "--checkpoint"))
    model, charset = ckpt.model_from(state, Path(checkpoint))
    config = EvalConfig(data=str(data)) if data else EvalConfig(shards=str(shards))
    lines = eval_set(config, scratch, Manifest(scratch), model.config.height, model.config.channels, scratch)
    dataset = lines.dataset
    sampler = BucketBatchSampler(dataset.widths, 32, dataset.height, shuffle=False, num_replicas=1, rank=0)
    runtime = setup("cpu", amp=False)
    out = [(list(batch.texts), lp.detach().clone(), n.clone()) for batch, lp, n, _ in
           predictions(model, make_loader(dataset, sampler, Collate(charset, encode=False,
                                                                    ink_rows=model.config.ink_rows)),
                       runtime, lambda lp, n: [])]
    return out, charset


def numbers(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def cer(batches: list, decode) -> tuple[float, float]:
    pairs = [(ref, text) for refs, lp, n in batches for ref, (text, _) in zip(refs, decode(lp, n))]
    scores = score_normalized(pairs)
    return scores["raw"]["cer"], scores["all"]["cer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", type=Path, help="a folder of lines with labels.tsv")
    where.add_argument("--shards", type=Path, help="a packed split: a folder of *.lmdb shards")
    parser.add_argument("--checkpoint", default="en-print")
    parser.add_argument("--lm", default=str(ROOT / "corpora"))
    parser.add_argument("--weights", type=numbers, default=WEIGHTS, help="LM weights, comma-separated")
    parser.add_argument("--bonuses", type=numbers, default=BONUSES, help="per-character bonuses, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        batches, charset = log_probs(args.checkpoint, args.data, args.shards, Path(scratch))
    files = lm_files([args.lm])
    greedy = cer(batches, decoder(charset))
    lms = {order: CharLM.from_files(files, charset.chars, order=order) for order in (5, ORDER, 7)}
    grid = {(w, b): cer(batches, decoder(charset, 10, fusion=Fusion(lms[ORDER], w, b)))
            for w in args.weights for b in args.bonuses}
    name = args.data.name if args.data else str(args.shards)
    print(f"{today()}, {machine()}; {args.checkpoint} on {name} ({sum(len(r) for r, _, _ in batches)} "
          f"lines), greedy CER {100 * greedy[0]:.2f}% raw / {100 * greedy[1]:.2f}% all normalized\n")
    print(f"Beam 10 with the character {ORDER}-gram model of {args.lm}, CER raw / all normalized:\n")
    print(table(["weight \\ bonus", *map(str, args.bonuses)],
                [[str(w), *(f"{100 * grid[w, b][0]:.2f}% / {100 * grid[w, b][1]:.2f}%" for b in args.bonuses)]
                 for w in args.weights]))
    print("\nAt weight 0.3 and bonus 0.5, by n-gram order:\n")
    rows = [[str(order), *(f"{100 * v:.2f}%" for v in cer(batches, decoder(charset, 10, fusion=Fusion(lm, 0.3, 0.5))))]
            for order, lm in lms.items()]
    print(table(["order", "CER raw", "CER all normalized"], rows))


if __name__ == "__main__":
    main()

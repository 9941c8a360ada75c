"""Which per-line confidence finds the wrong lines best: measures read off one model's outputs
on the four English sets of `english.py` (scans, receipts, cropped words, held-out print).

    python benchmarks/confidence.py --shared ../shared/data [--model en]

Runs `ocrpipe eval --confidence views` on each set, keeps the log-probabilities of the three
readings of every line (as given, and stretched to 0.8 and 1.25 times its width), and ranks the
lines by each measure: the share of the wrong lines among the 10% least confident of all four
sets together, and the AUROC. A line is wrong when it differs under `all` (`alnum` for the
words), as in `english.py`. Prints a markdown table with the date and the machine.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from common import ROOT, machine, ocrpipe, scratch, table, today
from english import english_sets, parser_for

sys.path.insert(0, str(ROOT))
import pipeline.evaluate as evaluate  # noqa: E402
from pipeline.evaluation.metrics import NORMALIZATIONS, confidence_ranking, nfc  # noqa: E402
from pipeline.models import inference  # noqa: E402
from pipeline.models.charlm import CharLM  # noqa: E402
from pipeline.models.ctc_decode import label_log_prob, lm_files  # noqa: E402
from pipeline.resources import resolve_checkpoint  # noqa: E402
from pipeline.text.charset import Charset  # noqa: E402

VIEWS = 1 + len(inference.VIEW_SCALES)
# A line: (reference, greedy text, its label, log-probs of each reading (T, C)).
Line = tuple[str, str, list[int], list[np.ndarray]]


def read_lines(model: str, source: list[str], work: Path, name: str, charset: Charset) -> list[Line]:
    """Every line of one `eval --confidence views`, with the log-probabilities of its readings."""
    outputs: list[tuple[np.ndarray, list[int]]] = []
    lines: list[Line] = []
    forward, predictions = inference.forward, evaluate.predictions

    def recording_forward(*args: Any) -> Any:
        log_probs, lengths = forward(*args)
        outputs.append((log_probs.detach().float().cpu().numpy(), lengths.tolist()))
        return log_probs, lengths

    def recording_predictions(*args: Any) -> Any:
        for batch, log_probs, lengths, decoded in predictions(*args):
            readings = outputs[-VIEWS:]
            for k, (text, _) in enumerate(decoded):
                frames = [out[:n[k], k] for out, n in readings]
                lines.append((batch.texts[k], text, charset.encode(text), frames))
            yield batch, log_probs, lengths, decoded

    inference.forward, evaluate.predictions = recording_forward, recording_predictions
    try:
        ocrpipe("eval", "--run", work / "evals", "--checkpoint", model, *source, "--name", name,
                "--confidence", "views", "--no-progress")
    finally:
        inference.forward, evaluate.predictions = forward, predictions
    return lines


def letter_peaks(log_probs: np.ndarray) -> list[float]:
    """The peak probability of each letter of the greedy path (one per run of a class)."""
    best, peaks, previous = log_probs.argmax(axis=1), [], 0
    for t, k in enumerate(best.tolist()):
        if k and k != previous:
            peaks.append(log_probs[t, k])
        elif k and k == previous:
            peaks[-1] = max(peaks[-1], log_probs[t, k])
        previous = k
    return peaks


def measures(lm: CharLM, lm_order: int) -> dict[str, Callable[[Line], float]]:
    def text_log_prob(line: Line, view: int = 0) -> float:
        frames = line[3][view]
        return label_log_prob(frames, line[2]) if len(frames) else -np.inf

    def lm_per_char(line: Line) -> float:
        text = line[1]
        return sum(lm.log_prob(text[max(0, i - lm_order + 1):i], c) for i, c in enumerate(text)) / max(1, len(text))

    def views(line: Line) -> list[float]:
        return [text_log_prob(line, v) for v in range(VIEWS)]

    found = {
        "per-frame probability of the greedy path, geometric mean (earlier releases)":
            lambda line: float(line[3][0].max(axis=1).mean()) if len(line[3][0]) else -np.inf,
        "weakest letter's peak probability": lambda line: min(letter_peaks(line[3][0]), default=-np.inf),
        "the text's probability per character (geometric mean)":
            lambda line: text_log_prob(line) / max(1, len(line[2])),
        "the text's probability (`--confidence single`)": text_log_prob,
    }
    for weight in (0.05, 0.1, 0.2, 0.5):
        found[f"the text's probability x the character LM's per character ^ {weight}"] = \
            lambda line, w=weight: text_log_prob(line) + w * lm_per_char(line)
    for v, scale in enumerate(inference.VIEW_SCALES, start=1):
        found[f"the text's probability in the view at {scale} x the width"] = \
            lambda line, v=v: text_log_prob(line, v)
    found["the least of the three views' probabilities"] = lambda line: min(views(line))
    found["the mean of the three views' probabilities (`--confidence views`)"] = \
        lambda line: float(np.mean(np.exp(views(line))))
    return found


def main() -> None:
    parser = parser_for(__doc__)
    parser.add_argument("--model", default="en")
    args = parser.parse_args()
    from pipeline.models import checkpoint as ckpt

    _, charset = ckpt.model_from(ckpt.load(resolve_checkpoint(args.model)), args.model)
    lm = CharLM.from_files(lm_files([args.lm]), charset.chars)
    with scratch("ocrpipe-confidence-") as work:
        scored: list[tuple[str, str, Line]] = []
        for label, source in english_sets(args.shared, work).items():
            norm = NORMALIZATIONS["alnum" if label == "iiit5k-train" else "all"]
            for line in read_lines(args.model, source, work, label.replace(" ", "-"), charset):
                scored.append((norm(nfc(line[0])), norm(nfc(line[1])), line))
    rows = []
    for name, measure in measures(lm, lm.order).items():
        rank = confidence_ranking([(r, h, measure(line)) for r, h, line in scored], "raw")
        rows.append([name, f"{100 * rank['caught']:.1f}%", f"{rank['auroc']:.3f}"])
    wrong = sum(r != h for r, h, _ in scored)
    print(f"{today()}, {machine()}; `{args.model}`, greedy, {len(scored)} lines of four sets, {wrong} wrong\n")
    print(table(["measure", "wrong lines in the lowest 10%", "AUROC"], rows))


if __name__ == "__main__":
    main()

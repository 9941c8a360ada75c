"""`train/curves.png`: training loss and validation CER against the step (matplotlib)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipeline.utils.files import atomic_write_bytes

log = logging.getLogger(__name__)
_warned = False


def plot_curves(metrics: Path, out: Path, val_split: str = "val") -> bool:
    """Draw the curves from metrics.jsonl, validation on `val_split` (train's --val-split);
    False (and one note in the log) without matplotlib."""
    global _warned
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if not _warned:
            log.warning("matplotlib is not installed: no %s (pip install matplotlib)", out.name)
            _warned = True
        return False
    records = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in records if "loss" in r and r.get("split") is None and r["loss"] is not None]
    val = [(r["step"], 100 * r["cer"]) for r in records if r.get("split") == val_split and r.get("cer") is not None]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    if train:
        steps, losses = zip(*train)
        window = max(1, len(losses) // 100)
        smooth = [sum(losses[max(0, i - window):i + 1]) / len(losses[max(0, i - window):i + 1])
                  for i in range(len(losses))]
        ax.plot(steps, smooth, color="tab:blue", label="train loss")
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("CTC loss")
    if val:
        other = ax.twinx()
        other.plot(*zip(*val), "o-", color="tab:red", label=f"{val_split} CER %")
        other.set_ylabel(f"{val_split} CER (%)")
        other.set_ylim(bottom=0)
    fig.legend(loc="upper right")
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(out, buffer.getvalue())
    return True

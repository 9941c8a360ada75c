"""Running a model on batches: the one forward path that train, eval and predict share."""

from __future__ import annotations

from typing import Iterable, Iterator

import torch
import torch.nn.functional as F

from pipeline.text.charset import Charset
from pipeline.datasets.loader import Batch
from pipeline.models.ctc_decode import Decoder, decoder
from pipeline.evaluation.metrics import Tally
from pipeline.models.crnn import to_ink
from pipeline.models.runtime import Runtime, evaluating


def device_images(batch: Batch, runtime: Runtime) -> torch.Tensor:
    """The batch's pixels on the device as float ink, channels-last (what the CNN runs fastest on)."""
    images = batch.images.to(runtime.device, non_blocking=True)
    return to_ink(images).contiguous(memory_format=torch.channels_last)


def forward(model: torch.nn.Module, images: torch.Tensor, widths: torch.Tensor,
            runtime: Runtime) -> tuple[torch.Tensor, torch.Tensor]:
    """`widths` on the host. On CUDA they also go to the model as they are, for the packed
    recurrent layers (one cuDNN call per layer); elsewhere the gather path runs."""
    host = widths.cpu() if runtime.device.type == "cuda" else None
    with runtime.autocast():
        return model(images, widths.to(runtime.device, non_blocking=True), host)


def ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, batch: Batch, runtime: Runtime,
             reduction: str = "mean") -> torch.Tensor:
    """CTC on float32 log-probabilities, blank 0, each line's true number of frames. PyTorch's
    CTC reads both length tensors on the host: given there (the batch's own, and frame counts
    computed from its widths) they cost no device-to-host copy, so no synchronisation."""
    return F.ctc_loss(log_probs.float(), batch.targets.to(runtime.device, non_blocking=True), lengths.cpu(),
                      batch.target_lengths.cpu(), blank=0, reduction=reduction, zero_infinity=True)


def predictions(model: torch.nn.Module, batches: Iterable[Batch], runtime: Runtime, decode: Decoder
                ) -> Iterator[tuple[Batch, torch.Tensor, torch.Tensor, list[tuple[str, float]]]]:
    """For each batch: the batch, log-probs, lengths, and the decoded (text, confidence) per line."""
    with evaluating(model):
        for batch in batches:
            log_probs, lengths = forward(model, device_images(batch, runtime), batch.widths, runtime)
            yield batch, log_probs, lengths, decode(log_probs, lengths)


def score_split(model: torch.nn.Module, batches: Iterable[Batch], runtime: Runtime, charset: Charset) -> dict:
    """Loss and recognition metrics of a split, summed over every rank's share."""
    tally, loss_sum = Tally(), 0.0
    for batch, log_probs, lengths, decoded in predictions(model, batches, runtime, decoder(charset)):
        per_line = ctc_loss(log_probs, lengths, batch, runtime, reduction="none")
        per_line = per_line / batch.target_lengths.to(per_line.device).clamp(min=1)
        loss_sum += float(per_line.sum())
        for reference, (text, _) in zip(batch.texts, decoded):
            tally.add(reference, text)
    totals = runtime.all_reduce_sum([loss_sum] + tally.as_list())
    tally = Tally.from_list(totals[1:])
    return {"loss": totals[0] / max(1, tally.lines), **tally.metrics()}

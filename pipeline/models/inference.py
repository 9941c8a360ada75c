"""Running a model on batches: the one forward path that train, eval and predict share."""

from __future__ import annotations

from typing import Iterable, Iterator

import torch
import torch.nn.functional as F

from pipeline.text.charset import Charset
from pipeline.datasets.loader import Batch
from pipeline.models.ctc_decode import Decoder, decoder, label_probabilities
from pipeline.evaluation.metrics import Tally
from pipeline.models.crnn import to_ink
from pipeline.models.runtime import Runtime, evaluating


VIEW_SCALES = (0.8, 1.25)    # the widths --confidence views reads a line at again


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


def predictions(model: torch.nn.Module, batches: Iterable[Batch], runtime: Runtime, decode: Decoder,
                views_of: Charset | None = None
                ) -> Iterator[tuple[Batch, torch.Tensor, torch.Tensor, list[tuple[str, float]]]]:
    """For each batch: the batch, log-probs, lengths, and the decoded (text, confidence) per line.
    With `views_of` (the model's charset) the confidence is `mean_over_views`."""
    with evaluating(model):
        for batch in batches:
            images = device_images(batch, runtime)
            log_probs, lengths = forward(model, images, batch.widths, runtime)
            decoded = decode(log_probs, lengths)
            if views_of is not None:
                decoded = mean_over_views(model, images, batch.widths, runtime, decoded, views_of)
            yield batch, log_probs, lengths, decoded


@torch.no_grad()
def mean_over_views(model: torch.nn.Module, images: torch.Tensor, widths: torch.Tensor, runtime: Runtime,
                    decoded: list[tuple[str, float]], charset: Charset) -> list[tuple[str, float]]:
    """The decoded texts, each with its confidence averaged over three readings of the line: as
    given, and stretched to VIEW_SCALES of its width, each view giving the probability it finds
    for the text read (0 where a view has too few frames to hold it). A reading that holds only
    at one width is a fragile one: on four English sets the 10% least confident lines held
    53.6% of the wrong ones this way, 48.9% by the one reading (README, model card)."""
    labels = [[charset.index[c] for c in text if c in charset] for text, _ in decoded]
    sums = [p for _, p in decoded]
    height, width = images.shape[-2:]
    for scale in VIEW_SCALES:
        size = max(1, round(width * scale))
        scaled = F.interpolate(images, size=(height, size), mode="bilinear", align_corners=False)
        scaled_widths = (widths.float() * scale).round().long().clamp(1, size)
        log_probs, lengths = forward(model, scaled.contiguous(memory_format=torch.channels_last), scaled_widths,
                                     runtime)
        for k, p in enumerate(label_probabilities(log_probs.float().cpu(), lengths.cpu(), labels)):
            sums[k] += p
    return [(text, total / (1 + len(VIEW_SCALES))) for (text, _), total in zip(decoded, sums)]


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

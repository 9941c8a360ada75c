"""Running a model on batches: the one forward path that train, eval and predict share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F

from pipeline.config import DecodeConfig
from pipeline.text.charset import Charset
from pipeline.datasets.loader import Batch
from pipeline.models.ctc_decode import Decoder, decoder, label_probabilities
from pipeline.evaluation.metrics import Tally
from pipeline.models.crnn import to_ink
from pipeline.models.runtime import Runtime, evaluating


VIEW_SCALES = (0.8, 1.25)    # the widths --confidence views and --read views read a line at again


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


@dataclass(frozen=True)
class Views:
    """Reading each line again at other widths (`--confidence views`, `--read views`): the
    model's charset, and whether the text is the reading the widths agree on most (`read`) or
    only the confidence is the mean over the widths."""
    charset: Charset
    read: bool = False

    @classmethod
    def of(cls, decoding: DecodeConfig, charset: Charset) -> Views | None:
        """What `decoding` asks for (None: each line read once, as it is)."""
        return cls(charset, read=decoding.chooses_view) if decoding.over_views else None


def predictions(model: torch.nn.Module, batches: Iterable[Batch], runtime: Runtime, decode: Decoder,
                views: Views | None = None
                ) -> Iterator[tuple[Batch, torch.Tensor, torch.Tensor, list[tuple[str, float]]]]:
    """For each batch: the batch, log-probs, lengths, and the decoded (text, confidence) per line.
    With `views`, the confidence is `mean_over_views`, or with `views.read` the text and its
    confidence are the ones `read_over_views` chooses."""
    with evaluating(model):
        for batch in batches:
            images = device_images(batch, runtime)
            log_probs, lengths = forward(model, images, batch.widths, runtime)
            if views is not None and views.read:
                decoded = read_over_views(model, images, batch.widths, runtime, decode, (log_probs, lengths),
                                          views.charset)
            else:
                decoded = decode(log_probs, lengths)
                if views is not None:
                    decoded = mean_over_views(model, images, batch.widths, runtime, decoded, views.charset)
            yield batch, log_probs, lengths, decoded


Outputs = list[tuple[torch.Tensor, torch.Tensor]]      # (log_probs, lengths) of each view of a batch


@torch.no_grad()
def other_views(model: torch.nn.Module, images: torch.Tensor, widths: torch.Tensor, runtime: Runtime) -> Outputs:
    """The batch read again, each line stretched to each of VIEW_SCALES of its width."""
    outputs = []
    height, width = images.shape[-2:]
    for scale in VIEW_SCALES:
        size = max(1, round(width * scale))
        scaled = F.interpolate(images, size=(height, size), mode="bilinear", align_corners=False)
        scaled_widths = (widths.float() * scale).round().long().clamp(1, size)
        outputs.append(forward(model, scaled.contiguous(memory_format=torch.channels_last), scaled_widths, runtime))
    return outputs


def summed_probabilities(outputs: Outputs, texts: list[str], charset: Charset) -> list[float]:
    """For each line, the probability of its text summed over the views (a view with too few
    frames to hold the text gives 0)."""
    labels = [[charset.index[c] for c in charset.units(text) if c in charset.index] for text in texts]
    sums = [0.0] * len(texts)
    for log_probs, lengths in outputs:
        for k, p in enumerate(label_probabilities(log_probs.float().cpu(), lengths.cpu(), labels)):
            sums[k] += p
    return sums


@torch.no_grad()
def mean_over_views(model: torch.nn.Module, images: torch.Tensor, widths: torch.Tensor, runtime: Runtime,
                    decoded: list[tuple[str, float]], charset: Charset) -> list[tuple[str, float]]:
    """The decoded texts, each with its confidence averaged over three readings of the line: as
    given, and stretched to VIEW_SCALES of its width, each view giving the probability it finds
    for the text read (0 where a view has too few frames to hold it). A reading that holds only
    at one width is a fragile one: on four English sets the 10% least confident lines held
    53.6% of the wrong ones this way, 48.9% by the one reading (README, model card)."""
    others = summed_probabilities(other_views(model, images, widths, runtime), [t for t, _ in decoded], charset)
    return [(text, (p + other) / (1 + len(VIEW_SCALES))) for (text, p), other in zip(decoded, others)]


@torch.no_grad()
def read_over_views(model: torch.nn.Module, images: torch.Tensor, widths: torch.Tensor, runtime: Runtime,
                    decode: Decoder, given: tuple[torch.Tensor, torch.Tensor], charset: Charset
                    ) -> list[tuple[str, float]]:
    """Each line read at three widths (as given, and at VIEW_SCALES of it), decoded in each, and
    of the (up to three) texts the one whose probability, averaged over the three views, is
    highest, with that mean as its confidence; a tie keeps the first view's. A misreading of
    one width that the other two do not support gives way to a reading all three hold."""
    outputs = [given, *other_views(model, images, widths, runtime)]
    readings = [decode(log_probs, lengths) for log_probs, lengths in outputs]
    candidates = [list(dict.fromkeys(reading[k][0] for reading in readings)) for k in range(len(readings[0]))]
    best: list[tuple[str, float]] = [("", -1.0)] * len(candidates)
    for slot in range(max(map(len, candidates), default=0)):
        texts = [c[min(slot, len(c) - 1)] for c in candidates]
        for k, total in enumerate(summed_probabilities(outputs, texts, charset)):
            mean = total / len(outputs)
            if slot < len(candidates[k]) and mean > best[k][1]:
                best[k] = (texts[k], mean)
    return best


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

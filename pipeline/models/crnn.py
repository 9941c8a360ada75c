"""CRNN recognizers (Shi et al. 2015): a CNN squeezes the line to height 1, its columns become
a sequence for a bidirectional recurrent network, a linear layer scores the classes per frame.

`forward(images, widths)` returns log-probabilities (T, N, C) and each line's true number of
frames, derived from its real width (times the model's `stretch`, 1 unless trained otherwise)
through the CNN's arithmetic (`charset.ctc_frames`: the
width is halved twice, so the last 1-3 columns of a line whose width is not a multiple of 4
get no frame of their own, unless the model is built with `whole_width`, which pads the line
with paper up to the next multiple). Padding never reaches a line's output: every convolution reads its
input with the columns beyond the line's width (at that resolution) set to zero, which is
what a lone line sees as the convolution's zero padding; the forward recurrent layers meet
padding only after a line's last frame, and the backward ones read each line reversed within
its own length. So, in eval mode, a line's prediction does not depend on the other lines of
its batch. (Reversing by index rather than packing sequences keeps the fused LSTM kernels on
CPU and GPU, and exports to ONNX.)

Inputs are float "ink" images: 0 for paper, 1 for ink (`to_ink` converts uint8 pixels).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.text.charset import FRAME_STRIDE, ctc_frames
from pipeline.config import ARCHS, check_model_height, check_stretch
from pipeline.errors import OcrpipeError



@dataclass(frozen=True)
class ModelConfig:
    arch: str
    num_classes: int          # charset size + 1 (the blank, class 0)
    height: int = 32
    channels: int = 1
    whole_width: bool = False   # pad a line's width up to a multiple of FRAME_STRIDE, so its last
                                # 1-3 columns get a frame (False: cut down to one, as models trained
                                # before this option read; checkpoints without the key load so)
    stretch: float = 1.0        # each line's width is multiplied by this before the CNN reads it (a
                                # multiple of 1/8 from 1 to 2, exact in binary), giving every glyph
                                # more frames: see `stretched`
    ink_rows: bool = False      # the host cuts each line to its ink rows and scales it back to the
                                # height before the model reads it (datasets.images.crop_to_ink_rows)

    def to_dict(self) -> dict:
        return asdict(self)


def to_ink(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels (paper white) to float ink in [0, 1], paper 0: padding is then zero."""
    return 1.0 - images.float() / 255.0


def column_mask(widths: torch.Tensor, width: int) -> torch.Tensor:
    """(N, 1, 1, W) float: 1 on a line's real columns, 0 beyond."""
    return (torch.arange(width, device=widths.device)[None, :] < widths[:, None]).float()[:, None, None, :]


class ConvBlock(nn.Module):
    """zero the padding columns -> conv -> batch norm -> ReLU [-> max pool]."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int] = (3, 3), pool: tuple[int, int] | None = None,
                 pad_right: bool = False) -> None:
        super().__init__()
        padding = (kernel[0] // 2, kernel[1] // 2) if kernel == (3, 3) else (0, 0)
        self.pad_right = pad_right    # a width-2 kernel keeps the width with one zero column on the right
        self.conv = nn.Conv2d(cin, cout, kernel, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = nn.MaxPool2d(pool, pool) if pool else None
        self.width_divisor = pool[1] if pool else 1

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x * column_mask(widths, x.shape[-1]).to(x.dtype)
        if self.pad_right:
            x = F.pad(x, (0, 1, 0, 0))
        x = F.relu(self.bn(self.conv(x)))
        if self.pool is not None:
            x = self.pool(x)
            widths = widths // self.width_divisor
        return x, widths


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (1x1 when the channels change), masked."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
                         if cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = column_mask(widths, x.shape[-1]).to(x.dtype)
        x = x * mask
        y = F.relu(self.bn1(self.conv1(x))) * mask
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x)), widths


class Pool(nn.Module):
    def __init__(self, kernel: tuple[int, int]) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel, kernel)
        self.width_divisor = kernel[1]

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pool(x), widths // self.width_divisor


# The paper's design at three widths: each convolution's channels, and the BiLSTMs' units.
# crnn-medium is crnn-small with every width doubled, so a crnn-small grows into it unit for
# unit (`train --init SMALL --arch crnn-medium`, pipeline.models.widen).
VGG_WIDTHS: dict[str, tuple[tuple[int, ...], int]] = {
    "crnn": ((64, 128, 256, 256, 512, 512, 512), 256),
    "crnn-medium": ((32, 64, 128, 128, 192, 192, 192), 192),
    "crnn-small": ((16, 32, 64, 64, 96, 96, 96), 96),
}


def _vgg(channels: int, widths: tuple[int, ...], height: int) -> list[nn.Module]:
    """The paper's CNN: 3x3 convolutions, pools 2x2, 2x2, 2x1, 2x1, then a (height/16)x2
    convolution to height 1 (2x2 at height 32)."""
    c = widths
    return [ConvBlock(channels, c[0], pool=(2, 2)), ConvBlock(c[0], c[1], pool=(2, 2)),
            ConvBlock(c[1], c[2]), ConvBlock(c[2], c[3], pool=(2, 1)),
            ConvBlock(c[3], c[4]), ConvBlock(c[4], c[5], pool=(2, 1)),
            ConvBlock(c[5], c[6], kernel=(height // 16, 2), pad_right=True)]


def _resnet(channels: int, height: int) -> list[nn.Module]:
    return [ConvBlock(channels, 64, pool=(2, 2)),
            ResidualBlock(64, 64), ResidualBlock(64, 64), Pool((2, 2)),
            ResidualBlock(64, 128), ResidualBlock(128, 128), Pool((2, 1)),
            ResidualBlock(128, 256), ResidualBlock(256, 256), Pool((2, 1)),
            ResidualBlock(256, 384), ResidualBlock(384, 384),
            ConvBlock(384, 384, kernel=(height // 16, 2), pad_right=True)]


# The packed path hands cuDNN the two directions' weights as they are (not one flattened
# buffer, which nn.LSTM keeps for itself); cuDNN copies them and says so on every call.
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")


class BiRecurrent(nn.Module):
    """Stacked bidirectional LSTM or GRU over padded sequences of different lengths.

    Each direction of each layer is a one-directional RNN. Two ways to run them, with the same
    result on every line's frames (tested):

    * gather (CPU, and ONNX export): the backward RNN reads every sequence reversed within its
      own length, so no padding comes before a line's frames in either direction;
    * packed (CUDA, given the lengths on the host): one bidirectional call per layer on a
      packed sequence, which cuDNN runs as one kernel sequence and which never reads padding.
    """

    def __init__(self, cell: type[nn.RNNBase], features: int, hidden: int, layers: int = 2) -> None:
        super().__init__()
        sizes = [features] + [2 * hidden] * (layers - 1)
        self.forwards = nn.ModuleList(cell(size, hidden) for size in sizes)
        self.backwards = nn.ModuleList(cell(size, hidden) for size in sizes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, host_lengths: torch.Tensor | None = None
                ) -> torch.Tensor:
        """x (T, N, F), lengths (N,) -> (T, N, 2 * hidden); frames past a length are garbage.
        With `host_lengths` (the same lengths, on the CPU), the packed way."""
        if host_lengths is not None:
            return self._packed(x, host_lengths)
        t = torch.arange(x.shape[0], device=x.device)[:, None]                  # (T, 1)
        reverse = torch.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)  # (T, N), its own inverse
        for forward_rnn, backward_rnn in zip(self.forwards, self.backwards):
            ahead, _ = forward_rnn(x)
            flipped = x.gather(0, reverse[:, :, None].expand(-1, -1, x.shape[2]))
            behind, _ = backward_rnn(flipped)
            behind = behind.gather(0, reverse[:, :, None].expand(-1, -1, behind.shape[2]))
            x = torch.cat([ahead, behind], dim=2)
        return x

    def _packed(self, x: torch.Tensor, host_lengths: torch.Tensor) -> torch.Tensor:
        """In x's dtype (bf16 under bf16 autocast on CUDA: the weights are cast per call, their
        gradients flow back to the float32 parameters)."""
        total = x.shape[0]
        for forward_rnn, backward_rnn in zip(self.forwards, self.backwards):
            packed = nn.utils.rnn.pack_padded_sequence(x, host_lengths, enforce_sorted=False)
            weights = [w.to(x.dtype) for w in (*forward_rnn._flat_weights, *backward_rnn._flat_weights)]
            zeros = x.new_zeros(2, x.shape[1], forward_rnn.hidden_size)
            if isinstance(forward_rnn, nn.LSTM):
                out = torch._VF.lstm(packed.data, packed.batch_sizes, (zeros, zeros), weights, True, 1, 0.0,
                                     self.training, True)[0]
            else:
                out = torch._VF.gru(packed.data, packed.batch_sizes, zeros, weights, True, 1, 0.0,
                                    self.training, True)[0]
            repacked = nn.utils.rnn.PackedSequence(out, packed.batch_sizes, packed.sorted_indices,
                                                   packed.unsorted_indices)
            x, _ = nn.utils.rnn.pad_packed_sequence(repacked, total_length=total)   # (T, N, 2 * hidden)
        return x


class CRNN(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch not in ARCHS:
            raise OcrpipeError(f"--arch {config.arch}: unknown; choose one of {', '.join(ARCHS)}")
        check_model_height(config.height)
        check_stretch(config.stretch, "the model's stretch")
        self.config = config
        if config.arch in VGG_WIDTHS:
            widths, hidden = VGG_WIDTHS[config.arch]
            blocks, features, rnn = _vgg(config.channels, widths, config.height), widths[-1], nn.LSTM
        else:
            blocks, features, hidden, rnn = _resnet(config.channels, config.height), 384, 256, nn.GRU
        self.cnn = nn.ModuleList(blocks)
        self.rnn = BiRecurrent(rnn, features, hidden)
        self.head = nn.Linear(2 * hidden, config.num_classes)

    def encode(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The CNN: images (N, C, H, W) -> features (T, N, C'), lengths (N,). `ocrpipe train
        --compile` compiles this part alone (dynamic width: one graph for every batch width)."""
        x, w = stretched(images, widths, self.config.stretch)
        if self.config.whole_width:
            # Paper after the line's last column, up to the next multiple of the stride: that
            # column's pooling window then lies inside the line, so it keeps its frame. The
            # columns beyond the true width are made paper first (whatever the batch padded).
            x = F.pad(x * column_mask(w, x.shape[-1]).to(x.dtype), (0, FRAME_STRIDE - 1))
            w = whole(w)
        for block in self.cnn:
            x, w = block(x, w)                             # (N, C', H', W')
        return x.squeeze(2).permute(2, 0, 1), torch.clamp(w, min=1)   # (N, C', 1, T) -> (T, N, C')

    def forward(self, images: torch.Tensor, widths: torch.Tensor, host_widths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """images (N, C, H, W) float ink, widths (N,) -> log_probs (T, N, classes), lengths (N,).
        `host_widths`, the widths on the CPU, selects the packed recurrent layers (for CUDA),
        which run in bf16 under bf16 autocast; the gather path (CPU, ONNX) runs in float32."""
        sequence, lengths = self.encode(images, widths)
        host_lengths = self.output_lengths(host_widths) if host_widths is not None else None
        device = sequence.device.type
        low = (host_lengths is not None and torch.is_autocast_enabled(device)
               and torch.get_autocast_dtype(device) == torch.bfloat16)
        with torch.autocast(device, enabled=False):
            out = self.rnn(sequence.to(torch.bfloat16 if low else torch.float32), lengths, host_lengths)
        if not torch.is_autocast_enabled(device):
            out = out.to(self.head.weight.dtype)
        logits = self.head(out)                            # (T, N, classes); bf16 under autocast
        return F.log_softmax(logits.float(), dim=-1), lengths

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        widths = stretched_widths(widths, self.config.stretch)
        return torch.clamp(ctc_frames(whole(widths) if self.config.whole_width else widths), min=1)


def stretched_widths(widths: torch.Tensor, stretch: float) -> torch.Tensor:
    """Each line's width after `stretched` (exact: a multiple of 1/8 times an integer)."""
    return widths if stretch == 1 else torch.floor(widths * stretch).long()


def stretched(images: torch.Tensor, widths: torch.Tensor, stretch: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch with every line `stretch` times as wide, bilinearly: the CTC frame is 4 columns,
    so a glyph narrower than 12 gets too few frames for a doubled letter (l, blank, l) and a
    narrow face's "ll" is read as "l". Stretched, the line's width is floor(width x stretch).
    A line's last columns interpolate toward paper, alone or padded in a batch: the columns past
    its width are made paper and one column of paper is added first (so the batch is up to two
    columns wider than floor(width x stretch); the CNN masks them)."""
    if stretch == 1:
        return images, widths
    paper_after = F.pad(images * column_mask(widths, images.shape[-1]).to(images.dtype), (0, 1))
    scaled = F.interpolate(paper_after, scale_factor=(1.0, stretch), mode="bilinear", align_corners=False,
                           recompute_scale_factor=False)
    return scaled, stretched_widths(widths, stretch)


def whole(widths: torch.Tensor) -> torch.Tensor:
    """Widths rounded up to a multiple of FRAME_STRIDE (`ModelConfig.whole_width`)."""
    return (widths + FRAME_STRIDE - 1) // FRAME_STRIDE * FRAME_STRIDE


def build(config: ModelConfig) -> CRNN:
    return CRNN(config)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

"""The CRNN family: shapes and lengths for every arch, and padding independence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.text.charset import ctc_frames
from pipeline.errors import OcrpipeError
from pipeline.models.crnn import ARCHS, ModelConfig, build, parameter_count


def trained_looking(model: torch.nn.Module) -> torch.nn.Module:
    """Give batch norm non-trivial running statistics (as after training), then eval mode."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 1, 32, 96), torch.tensor([96, 80, 64, 40]))
    return model.eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_and_lengths(arch):
    torch.manual_seed(0)
    model = build(ModelConfig(arch, num_classes=40)).eval()
    widths = torch.tensor([160, 157, 33, 16])
    with torch.no_grad():
        log_probs, lengths = model(torch.rand(4, 1, 32, 160), widths)
    assert log_probs.shape == (40, 4, 40) and log_probs.dtype == torch.float32
    assert lengths.tolist() == [ctc_frames(int(w)) for w in widths] == [40, 39, 8, 4]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(40, 4), atol=1e-4)


@pytest.mark.parametrize("arch,stretch", [*((arch, 1.0) for arch in ARCHS), ("crnn-small", 1.25)])
def test_a_line_reads_the_same_alone_and_padded_in_a_batch(arch, stretch):
    torch.manual_seed(1)
    model = trained_looking(build(ModelConfig(arch, num_classes=30, stretch=stretch)))
    line = torch.rand(1, 1, 32, 75)
    others = torch.rand(2, 1, 32, 240)
    batch = torch.zeros(3, 1, 32, 240)
    batch[0, :, :, :75] = line[0]
    batch[0, :, :, 75:] = torch.rand(1, 32, 165)     # whatever the padding holds
    batch[1:] = others
    with torch.no_grad():
        alone, alone_len = model(line, torch.tensor([75]))
        together, lengths = model(batch, torch.tensor([75, 240, 200]))
    n = int(alone_len[0])
    assert n == int(lengths[0]) == (18 if stretch == 1 else 23)      # 75 columns, or floor(75 x 1.25) = 93
    assert torch.allclose(alone[:n, 0], together[:n, 0], atol=1e-6)


def test_a_stretched_model_gives_a_line_more_frames_and_refuses_odd_stretches():
    from pipeline.errors import OcrpipeError

    model = build(ModelConfig("crnn-small", num_classes=10, stretch=1.5)).eval()
    with torch.no_grad():
        _, lengths = model(torch.rand(2, 1, 32, 80), torch.tensor([80, 41]))
    assert lengths.tolist() == model.output_lengths(torch.tensor([80, 41])).tolist() == [30, 15]
    for odd in (0.9, 1.2, 2.5):
        with pytest.raises(OcrpipeError, match="multiple of 1/8"):
            build(ModelConfig("crnn-small", num_classes=10, stretch=odd))


@pytest.mark.parametrize("arch", ARCHS)
def test_a_whole_width_model_gives_a_lines_last_columns_a_frame(arch):
    """A line 75 px wide: a cut model gives it 18 frames, the last over columns 68-71 (72-74
    reach it only through a convolution's edge); a whole-width one gives it a 19th frame, over
    columns 72-74 and paper, and reads the line the same alone and in a batch."""
    torch.manual_seed(2)
    line = torch.rand(1, 1, 32, 75)
    changed = line.clone()
    changed[..., 72:] = 1 - changed[..., 72:]
    batch = torch.rand(3, 1, 32, 240)
    batch[0, :, :, :75] = line[0]
    for whole_width, frames in ((False, 18), (True, 19)):
        torch.manual_seed(3)
        model = trained_looking(build(ModelConfig(arch, num_classes=30, whole_width=whole_width)))
        with torch.no_grad():
            alone, alone_len = model(line, torch.tensor([75]))
            together, lengths = model(batch, torch.tensor([75, 240, 200]))
            features, _ = model.encode(line, torch.tensor([75]))
            edited, _ = model.encode(changed, torch.tensor([75]))
        assert int(alone_len[0]) == int(lengths[0]) == frames and alone.shape[0] >= frames
        assert lengths.tolist()[1:] == [60, 50]
        assert torch.allclose(alone[:frames, 0], together[:frames, 0], atol=1e-6)
    assert not torch.allclose(features[18], edited[18])         # the 19th frame reads columns 72-74


def test_a_checkpoint_written_before_whole_width_loads_as_a_cut_model(tmp_path):
    from pipeline.models import checkpoint
    from pipeline.text.charset import Charset

    model = build(ModelConfig("crnn-small", num_classes=4))
    config = model.config.to_dict()
    del config["whole_width"]                      # as an older ocrpipe wrote it
    state = {"model": {"config": config, "state_dict": model.state_dict()}, "charset": ["a", "b", "c"],
             "height": 32, "channels": 1}
    loaded, _ = checkpoint.model_from(state)
    assert loaded.config.whole_width is False


def test_the_paper_network_has_about_eight_million_parameters():
    assert 8e6 < parameter_count(build(ModelConfig("crnn", num_classes=100))) < 9.5e6
    assert parameter_count(build(ModelConfig("crnn-small", num_classes=100))) < 2e6


def test_other_heights_adapt_or_refuse():
    model = build(ModelConfig("crnn", num_classes=10, height=48)).eval()
    with torch.no_grad():
        log_probs, lengths = model(torch.rand(2, 1, 48, 64), torch.tensor([64, 40]))
    assert log_probs.shape == (16, 2, 10) and lengths.tolist() == [16, 10]
    with pytest.raises(OcrpipeError, match="multiple of 16"):
        build(ModelConfig("crnn", num_classes=10, height=40))


def test_colour_input():
    model = build(ModelConfig("crnn-small", num_classes=10, channels=3)).eval()
    with torch.no_grad():
        log_probs, _ = model(torch.rand(2, 3, 32, 64), torch.tensor([64, 64]))
    assert log_probs.shape == (16, 2, 10)


def outputs_and_gradients(arch: str, host: bool, bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities on the lines' own frames and the recurrent layers' gradients, for three
    lines of different widths, through the packed (`host`) or the gather path."""
    torch.manual_seed(0)
    model = build(ModelConfig(arch, num_classes=20)).train()
    images, widths = torch.rand(3, 1, 32, 160), torch.tensor([160, 97, 41])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        log_probs, lengths = model(images, widths, widths.clone() if host else None)
    mask = (torch.arange(log_probs.shape[0])[:, None] < lengths[None, :]).float()[:, :, None]
    (log_probs.float() * mask).sum().backward()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    return log_probs.float() * mask, torch.cat([p.grad.flatten() for p in model.rnn.parameters()])


@pytest.mark.parametrize("arch", ["crnn-small", "crnn-resnet"])
def test_packed_and_gathered_recurrent_layers_agree(arch):
    """The CUDA way (one packed bidirectional call per layer) and the CPU/ONNX way (gathers)
    give the same outputs and gradients on every line's frames."""
    (a, grads_a), (b, grads_b) = (outputs_and_gradients(arch, host) for host in (False, True))
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(grads_a, grads_b, atol=1e-4)


@pytest.mark.parametrize("arch", ["crnn-small", "crnn-resnet"])
def test_the_packed_recurrent_layers_in_bf16_agree_with_float32(arch):
    """Under bf16 autocast the packed path runs the recurrent layers in bf16 (as on CUDA; here
    CPU autocast stands in): outputs and gradients within bf16 tolerance of the float32 way."""
    (a, grads_a), (b, grads_b) = (outputs_and_gradients(arch, True, bf16) for bf16 in (False, True))
    assert (a - b).abs().max() < 0.2 and not torch.equal(a, b)        # bf16 really ran
    assert torch.nn.functional.cosine_similarity(grads_a, grads_b, dim=0) > 0.98


def test_the_compiled_cnn_does_not_recompile_for_new_widths():
    from torch._dynamo.testing import CompileCounter

    from pipeline.training.build import compile_cnn

    torch._dynamo.reset()
    model = build(ModelConfig("crnn-small", num_classes=20)).eval()
    counter = CompileCounter()
    compile_cnn(model, backend=counter)
    with torch.no_grad():
        for width in (64, 96, 128, 160, 256, 512):
            model(torch.rand(2, 1, 32, width), torch.tensor([width, width - 16]))
    assert counter.frame_count == 1


def _tight_line(text: str) -> torch.Tensor:
    """A rendered word cropped to its ink, as (1, 1, 32, W) ink in [0, 1]: glyphs touch both edges."""
    from PIL import Image, ImageDraw, ImageFont

    from conftest import FONTS

    font = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 26)
    image = Image.new("L", (400, 40), 0)
    ImageDraw.Draw(image).text((10, 2), text, fill=255, font=font)
    image = image.crop(image.getbbox())
    image = image.resize((round(image.width * 32 / image.height), 32), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)[None, None]


@pytest.mark.parametrize("shear", [-0.3, 0.3])
def test_the_shear_of_augmentation_keeps_the_first_and_last_glyph_in_the_line(shear):
    import torch.nn.functional as F

    from pipeline.training.augment import affine_theta

    line = _tight_line("MW")
    w = line.shape[-1]
    batch = F.pad(line, (0, 40))                                  # padding after the line, as in a batch
    theta = affine_theta(torch.tensor([shear]), torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([w]),
                         32, batch.shape[-1])
    out = F.grid_sample(batch, F.affine_grid(theta, list(batch.shape), align_corners=False),
                        mode="bilinear", padding_mode="zeros", align_corners=False)
    assert float(out[..., w:].sum()) < 1e-3                       # nothing pushed into the padding
    squeeze = float(theta[0, 0, 0])                               # the line is narrowed by this factor
    assert 1 < squeeze < 1 + 2 * 0.3 * 16 / w + 1e-6
    assert abs(float(out.sum()) * squeeze / float(line.sum()) - 1) < 0.005     # no ink lost past either edge (a
    # shear alone loses 2-3% here: parts of the M and the W)


def test_the_elastic_warp_bends_strokes_keeps_the_edge_glyphs_and_repeats_by_seed():
    import torch.nn.functional as F

    from pipeline.training.augment import elastic_grid

    line = _tight_line("MWgy")
    w = line.shape[-1]
    batch = F.pad(line, (0, 40)).expand(3, 1, 32, w + 40).contiguous()
    widths = torch.tensor([w, w, w])

    def warp(seed: int) -> torch.Tensor:
        grid = elastic_grid(widths, 32, batch.shape[-1], torch.Generator().manual_seed(seed))
        return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    out = warp(1)
    assert torch.equal(out, warp(1))                              # the same seed, the same warp
    assert not torch.equal(out[0], out[1])                        # each line its own warp
    for k in range(3):
        moved = float((out[k] - batch[k]).abs().sum()) / float(line.sum())
        assert moved > 0.1                                        # strokes really moved
        assert float(out[k, ..., w:].sum()) < 1e-3                # nothing pushed into the padding
        assert abs(float(out[k].sum()) / float(line.sum()) - 1) < 0.05     # and no glyph lost
        assert float(out[k, ..., :2].sum()) > 0.5 * float(line[..., :2].sum())     # the edge glyphs stay
        assert float(out[k, ..., w - 2:w].sum()) > 0.5 * float(line[..., w - 2:].sum())

"""Growing a trained crnn-small into a wider network that computes the same function."""

from __future__ import annotations

import pytest
import torch

from pipeline.errors import OcrpipeError
from pipeline.models.crnn import ModelConfig, build
from pipeline.models.widen import can_widen, widen


def trained_small(classes: int = 12) -> torch.nn.Module:
    """A crnn-small with weights and batch-norm statistics away from their initial values."""
    torch.manual_seed(0)
    model = build(ModelConfig("crnn-small", classes))
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                value.add_(torch.randn_like(value) * 0.1)
                if name.endswith("running_var"):
                    value.abs_().add_(0.5)
    return model


@pytest.mark.parametrize("arch", ["crnn-medium", "crnn"])
def test_the_grown_model_reads_as_its_parent(arch):
    small = trained_small()
    wide = build(ModelConfig(arch, 12))
    wide.load_state_dict(widen(small.state_dict(), "crnn-small", arch))
    images, widths = torch.rand(3, 1, 32, 120), torch.tensor([120, 77, 33])
    for train in (False, True):                  # batch statistics too: a copy's are its original's
        small.train(train), wide.train(train)
        with torch.no_grad():
            (a, lengths_a), (b, lengths_b) = small(images, widths), wide(images, widths)
        assert torch.equal(lengths_a, lengths_b)
        for i, n in enumerate(lengths_a.tolist()):
            assert torch.allclose(a[:n, i], b[:n, i], atol=1e-4), (arch, train)


def test_copies_differ_so_training_can_tell_them_apart():
    parent = trained_small().state_dict()
    grown = widen(parent, "crnn-small", "crnn-medium", seed=3)
    conv = grown["cnn.1.conv.weight"]              # (64, 32, 3, 3): copies of (32, 16, 3, 3)
    assert torch.equal(grown["cnn.1.bn.running_mean"], parent["cnn.1.bn.running_mean"].repeat(2))
    assert not torch.allclose(conv[:32], conv[32:])              # the shares of the two copies differ
    assert torch.allclose(conv[:, :16] + conv[:, 16:], parent["cnn.1.conv.weight"].repeat(2, 1, 1, 1), atol=1e-6)
    assert (conv[:, :16] * conv[:, 16:] >= 0).all()              # positive shares: no sign flips
    again = widen(trained_small().state_dict(), "crnn-small", "crnn-medium", seed=3)
    assert all(torch.equal(grown[k], again[k]) for k in grown)  # seeded: the same run grows the same model


def test_only_wider_models_of_the_same_design():
    assert can_widen("crnn-small", "crnn-medium") and can_widen("crnn-medium", "crnn")
    assert not can_widen("crnn-medium", "crnn-small") and not can_widen("crnn-small", "crnn-resnet")
    with pytest.raises(OcrpipeError, match="cannot grow"):
        widen(trained_small().state_dict(), "crnn-small", "crnn-resnet")

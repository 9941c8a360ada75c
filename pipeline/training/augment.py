"""Light on-the-fly augmentation of a batch of ink images, on the device it trains on.

Each line independently: with probability `p` each, a small affine warp (shear, the line
narrowed by as much so that no edge glyph leaves it; vertical
scale and shift), Gaussian noise, and a change of contrast and of brightness; with
probability `p / 2`, bolder (dilated) or, more rarely, thinner (eroded) strokes; with
probability `elastic` (off unless asked for), a smooth random warp that bends strokes as a
different hand or brush would. Random numbers come from a generator seeded per step, so a
resumed run augments exactly as an uninterrupted one. Padding columns are zeroed again
afterwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.models.crnn import column_mask


def affine_theta(shear: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, widths: torch.Tensor,
                 height: int, width: int) -> torch.Tensor:
    """The (N, 2, 3) output-to-input maps of `F.affine_grid` for lines `widths` pixels wide in a
    batch `width` wide: a shear that moves the top and bottom rows by up to +-shear x height / 2
    pixels, a vertical scale and shift. A shear alone would push the first or last glyph's edge
    out of [0, width of the line) (past 0, or into the padding the mask zeroes) while the label
    keeps it: the line is narrowed by that much too, so every column of ink stays in the line."""
    n = shear.shape[0]
    t = shear * height / 2                                   # the largest horizontal move, pixels
    w = widths.to(shear.dtype).clamp(min=1)
    a = (w + 2 * t.abs()) / w                                # input columns per output column
    b = -t.abs()                                             # output column 0 reads input column -|t|
    theta = torch.zeros(n, 2, 3, device=shear.device, dtype=shear.dtype)
    theta[:, 0, 0] = a
    theta[:, 0, 1] = 2 * t / width
    theta[:, 0, 2] = a - 1 + (0.5 - 0.5 * a + b) * 2 / width
    theta[:, 1, 1] = scale
    theta[:, 1, 2] = shift
    return theta


ELASTIC_CELL = 0.25     # the warp's control points lie a quarter of the line's height apart
ELASTIC_SHIFT = 0.05    # and move by up to 5% of its height, in each direction


def elastic_grid(widths: torch.Tensor, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """(N, H, W, 2) sampling grid of `F.grid_sample` for a smooth random warp of lines `widths`
    pixels wide (Simard et al., 2003, on a coarse lattice rather than a blurred field): random
    moves of control points ELASTIC_CELL x height apart, up to ELASTIC_SHIFT x height,
    interpolated bicubically, added to the identity. Moves scale with the height, so a warp
    bends strokes alike at any size. Horizontal moves fade out over the first and last cell of
    each line, so its edge columns stay where they are and no edge glyph leaves the line."""
    n, device = widths.shape[0], widths.device
    cell = max(2.0, ELASTIC_CELL * height)
    rows, cols = int(height / cell) + 2, int(width / cell) + 2
    moves = (torch.rand(n, 2, rows, cols, generator=generator, device=device) * 2 - 1) * ELASTIC_SHIFT * height
    moves = F.interpolate(moves, size=(height, width), mode="bicubic", align_corners=True)
    column = torch.arange(width, device=device, dtype=moves.dtype)[None, :]
    last = (widths.to(moves.dtype) - 1)[:, None]
    fade = (torch.minimum(column, last - column) / cell).clamp(0, 1)          # (N, W): 0 at both edges
    moves[:, 0] *= fade[:, None, :]
    scale = torch.tensor([2.0 / width, 2.0 / height], device=device)    # pixels -> grid units, (x, y)
    identity = torch.eye(2, 3, device=device).expand(n, 2, 3)
    base = F.affine_grid(identity, [n, 1, height, width], align_corners=False)
    return base + moves.permute(0, 2, 3, 1) * scale


def augment(images: torch.Tensor, widths: torch.Tensor, generator: torch.Generator, p: float = 0.5,
            elastic: float = 0.0) -> torch.Tensor:
    """images (N, C, H, W) float ink in [0, 1] -> the same shape, augmented. With `elastic` 0
    the random numbers drawn, and so the result, are those of the augmentation without it."""
    n, device = images.shape[0], images.device
    widths = widths.to(device)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=device)

    def chosen() -> torch.Tensor:
        return (rand(n) < p).float()[:, None, None, None]

    x = images
    # Affine: shear up to +-0.3 (italic-like), vertical scale 0.9-1.1 and shift +-8%.
    pick = chosen()[:, 0, 0, 0]
    shear = (rand(n) * 0.6 - 0.3) * pick
    scale = 1 + (rand(n) * 0.2 - 0.1) * pick
    shift = (rand(n) * 0.16 - 0.08) * pick
    theta = affine_theta(shear, scale, shift, widths, x.shape[2], x.shape[3])
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # Strokes: erode (thinner; rarer, it can break thin fonts) or dilate (bolder), 2x2 window.
    stroke = rand(n)[:, None, None, None]
    padded = F.pad(x, (0, 1, 0, 1))
    dilated = F.max_pool2d(padded, 2, stride=1)
    eroded = -F.max_pool2d(-padded, 2, stride=1)
    x = torch.where(stroke < p / 6, eroded, torch.where(stroke < p / 2, dilated, x))

    if elastic > 0:
        warp = (rand(n) < elastic)[:, None, None, None]
        grid = elastic_grid(widths, x.shape[2], x.shape[3], generator)
        warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        x = torch.where(warp, warped, x)

    # Contrast and brightness, then noise.
    contrast = 1 + (rand(n) * 0.6 - 0.4)[:, None, None, None] * chosen()
    brightness = (rand(n) * 0.2 - 0.1)[:, None, None, None] * chosen()
    x = x * contrast + brightness
    sigma = rand(n)[:, None, None, None] * 0.1 * chosen()
    x = x + sigma * torch.randn(x.shape, generator=generator, device=device)
    return x.clamp(0, 1) * column_mask(widths, x.shape[-1]).to(x.dtype)

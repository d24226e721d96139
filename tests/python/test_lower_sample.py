"""grid_sample (aten.grid_sampler_2d, src/lower/lower_sample.c) against PyTorch eager on LiteRT and
pt2lite's runtime: every mode / padding_mode / align_corners combination the lowering supports,
grids reaching past the image (so every padding rule is exercised), batches, non-square images,
grids given as inputs, held as constants and computed in the model (affine_grid), and the
refusal of bicubic sampling."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2lite
from conftest import check_module, tflite_ops, xnnpack_delegated_ops

torch.manual_seed(0)

MODES = ["bilinear", "nearest"]
PADDINGS = ["zeros", "border", "reflection"]


class Sample(nn.Module):
    """grid_sample(x, grid); `conv=True` first runs a 3->4 channel conv (the image is NHWC inside)."""

    def __init__(self, mode, padding_mode, align_corners, conv=False):
        super().__init__()
        self.options = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        self.conv = nn.Conv2d(3, 4, 3, padding=1) if conv else None

    def forward(self, x, grid):
        if self.conv is not None:
            x = self.conv(x)
        return F.grid_sample(x, grid, **self.options)


class AffineSample(nn.Module):
    """The grid computed inside the model from a batch of affine transforms."""

    def __init__(self, mode, padding_mode, align_corners, out_hw):
        super().__init__()
        self.options = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        self.out_hw = out_hw

    def forward(self, x, theta):
        grid = F.affine_grid(theta, [x.shape[0], x.shape[1], *self.out_hw],
                             align_corners=self.options["align_corners"])
        return F.grid_sample(x, grid, **self.options)


def random_grid(n, h, w, reach=1.2):
    """Normalized positions uniform in [-reach, reach]: past the image's edges for reach > 1."""
    return torch.rand(n, h, w, 2) * (2 * reach) - reach


# (input N, C, H, W), (grid Ho, Wo)
SHAPES = [((2, 3, 5, 7), (4, 6)), ((1, 2, 8, 3), (9, 5)), ((3, 1, 4, 4), (2, 2))]


@pytest.mark.parametrize("shape, out_hw", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("align_corners", [False, True], ids=["pixel_edges", "align_corners"])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_input_grid(mode, padding_mode, align_corners, shape, out_hw):
    for seed in range(3):
        torch.manual_seed(seed)
        x = torch.randn(*shape)
        grid = random_grid(shape[0], *out_hw)
        check_module(Sample(mode, padding_mode, align_corners), (x, grid))


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_far_outside(mode, padding_mode):
    # several image widths away: reflection folds many times, zeros reads only the zero border
    x = torch.randn(2, 3, 6, 5)
    grid = random_grid(2, 7, 7, reach=9.0)
    for align_corners in (False, True):
        check_module(Sample(mode, padding_mode, align_corners), (x, grid))


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_after_conv(mode, padding_mode):
    # the image arrives NHWC from the conv; the output goes back to NCHW for the model output
    check_module(Sample(mode, padding_mode, False, conv=True), (torch.randn(2, 3, 6, 9), random_grid(2, 5, 4)))


@pytest.mark.parametrize("align_corners", [False, True], ids=["pixel_edges", "align_corners"])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_affine_grid_in_model(mode, padding_mode, align_corners):
    # rotation + scale + shift, reaching outside the image. The in-model grid may differ from eager's
    # affine_grid by an ulp, so no position lies within 1e-4 pixel of a rounding tie of 'nearest'
    # (x.5) for these transforms
    theta = torch.tensor([[[0.93, -0.47, 0.21], [0.38, 1.07, -0.29]],
                          [[1.31, 0.23, -0.41], [-0.12, 0.71, 0.53]]])
    check_module(AffineSample(mode, padding_mode, align_corners, (6, 8)), (torch.randn(2, 3, 5, 7), theta))


@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_constant_grid(mode):
    # a grid held by the model (a buffer): the coordinate arithmetic folds to constants
    class ConstantGrid(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("grid", random_grid(2, 5, 6))

        def forward(self, x):
            return F.grid_sample(x, self.grid, mode=mode, padding_mode="zeros", align_corners=False)

    edge = check_module(ConstantGrid(), (torch.randn(2, 3, 4, 7),))
    ops = tflite_ops(edge.model_content())
    # only the sampling itself is left: the gathers and the weighted sum (no FLOOR/ROUND of constants)
    assert "FLOOR" not in ops and "ROUND" not in ops and "CAST" not in ops, ops
    assert ops.count("GATHER") == (4 if mode == "bilinear" else 1), ops


@pytest.mark.parametrize("align_corners", [False, True], ids=["pixel_edges", "align_corners"])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_single_pixel_axes(mode, padding_mode, align_corners):
    # H = 1 and W = 1: align_corners maps every position to pixel 0; reflection has nothing to fold
    for shape in [(2, 3, 1, 5), (2, 3, 4, 1), (1, 2, 1, 1)]:
        check_module(Sample(mode, padding_mode, align_corners), (torch.randn(*shape), random_grid(shape[0], 3, 4)))


@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_grid_sample_exact_pixel_positions(padding_mode):
    # positions exactly on pixel centers and on the last row/column: the far corner steps outside
    # with weight 0 (border/reflection clamp it, zeros reads the zero border)
    n, h, w = 1, 4, 6
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack([xs, ys], dim=-1).unsqueeze(0).expand(n, h, w, 2).contiguous()
    x = torch.randn(n, 3, h, w)
    edge = check_module(Sample("bilinear", padding_mode, True), (x, grid))
    # align_corners with a grid on every pixel center reproduces the image
    out = pt2lite_output(edge, x, grid)
    torch.testing.assert_close(out, x, rtol=1e-5, atol=1e-6)


def pt2lite_output(edge, *args):
    with torch.no_grad():
        return edge(*args)


def test_grid_sample_large_image_integer_indices():
    # a batch of bordered images with more than 2^24 pixels in all: row indices are computed in int32,
    # not float32 (which would round odd indices above 2^24 to a neighbouring pixel), and so are the
    # per-image offsets
    n, h, w = 2, 2900, 2900
    x = torch.randn(n, 1, h, w)
    # positions on pixel centers near the far corner of the second image, where float32 would round
    px = torch.tensor([[w - 2, w - 3, 1, w - 1], [w - 2, w - 3, 1, w - 1]], dtype=torch.float32)
    py = torch.tensor([[h - 2, h - 1, h - 3, 2], [h - 1, h - 2, h - 1, h - 3]], dtype=torch.float32)
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1).view(n, 1, 4, 2)
    for mode in MODES:
        check_module(Sample(mode, "zeros", False), (x, grid))


def test_grid_sample_arithmetic_runs_on_xnnpack():
    # everything but the index casts, their reshapes and the gathers is taken by XNNPACK
    edge = pt2lite.convert(Sample("bilinear", "reflection", False), (torch.randn(2, 3, 5, 7), random_grid(2, 4, 6)))
    delegated, names = xnnpack_delegated_ops(edge.model_content())
    left = sorted({name for i, name in enumerate(names) if i not in delegated})
    assert left == ["CAST", "GATHER", "RESHAPE"], left


@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_grid_sample_bicubic_refused(padding_mode):
    m = Sample("bicubic", padding_mode, False)
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert(m, (torch.randn(1, 3, 5, 5), random_grid(1, 4, 4)))
    message = str(info.value)
    assert "grid_sampler_2d" in message
    assert f"mode='bicubic' (padding_mode='{padding_mode}') is not supported" in message


def test_grid_sample_dynamic_batch_refused():
    # the row offsets and the flattened image need static sizes
    from torch.export import Dim

    batch = Dim("batch", min=1, max=8)
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert(Sample("bilinear", "zeros", False), (torch.randn(2, 3, 5, 5), random_grid(2, 4, 4)),
                        dynamic_shapes=({0: batch}, {0: batch}))
    assert "grid_sample with dynamic sizes" in str(info.value)

"""Pooling and resizing (src/lower/lower_pool.c) against PyTorch eager on LiteRT: padding that
TFLite's SAME reproduces and padding it does not, ceil_mode overhangs, count_include_pad and
divisor_override, adaptive pooling, nearest and bilinear resizing."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2lite
from conftest import Fn, check_module, tflite_ops, xnnpack_delegation

torch.manual_seed(0)


def ops(edge):
    return tflite_ops(edge.model_content())


SIZES = [(2, 3, 9, 9), (1, 3, 8, 11), (1, 3, 7, 6)]

# (kernel, stride, padding, ceil_mode)
POOLS = [
    (2, None, 0, False),
    (3, 2, 1, False),
    (3, 1, 1, False),
    (3, 2, 1, True),
    (2, 2, 0, True),
    (3, 3, 0, True),
    (5, 2, 2, False),
    (5, 3, 1, True),
    ((3, 2), (2, 1), (1, 0), False),
    ((2, 4), (1, 3), (0, 2), True),
]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOLS)
def test_max_pool(kernel, stride, padding, ceil_mode, size):
    m = Fn(lambda x: F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode))
    check_module(m, (torch.randn(*size),))


def test_max_pool_after_conv_negative_values():
    # all-negative activations: explicit padding must not leak zeros into the max
    m = Fn(lambda x: F.max_pool2d(x - 10, 5, 2, 1, ceil_mode=True), conv=True)
    check_module(m, (torch.randn(1, 3, 10, 10),))


def test_max_pool_same_padding_has_no_pad_op():
    edge = check_module(Fn(lambda x: F.max_pool2d(x, 3, 1, 1), conv=True), (torch.randn(1, 3, 8, 8),))
    assert "PADV2" not in ops(edge) and ops(edge).count("TRANSPOSE") == 2  # model input and output
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total


def test_max_pool_dilation_is_reported():
    with pytest.raises(pt2lite.Pt2liteError, match="dilation"):
        pt2lite.convert(Fn(lambda x: F.max_pool2d(x, 2, dilation=2)), (torch.randn(1, 3, 8, 8),))


def test_max_pool_indices_are_reported():
    m = Fn(lambda x: F.max_pool2d(x, 2, return_indices=True)[1].float())
    with pytest.raises(pt2lite.Pt2liteError, match="indices"):
        pt2lite.convert(m, (torch.randn(1, 3, 8, 8),))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOLS)
def test_avg_pool(kernel, stride, padding, ceil_mode, count_include_pad, size):
    m = Fn(lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad))
    check_module(m, (torch.randn(*size),))


@pytest.mark.parametrize("divisor", [1, 5])
@pytest.mark.parametrize("padding, ceil_mode", [(0, False), (1, True)])
def test_avg_pool_divisor_override(divisor, padding, ceil_mode):
    m = Fn(lambda x: F.avg_pool2d(x, 3, 2, padding, ceil_mode, divisor_override=divisor))
    check_module(m, (torch.randn(1, 3, 9, 8),))


def test_avg_pool_plain_is_one_op():
    edge = check_module(Fn(lambda x: F.avg_pool2d(x, 2), conv=True), (torch.randn(1, 3, 8, 8),))
    assert ops(edge) == ["TRANSPOSE", "CONV_2D", "AVERAGE_POOL_2D", "TRANSPOSE"]


def test_avg_pool_same_when_excluding_pad():
    edge = check_module(Fn(lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)), (torch.randn(1, 3, 8, 8),))
    assert "PAD" not in ops(edge) and "MUL" not in ops(edge)


def test_avg_pool_including_pad_is_pad_then_valid():
    edge = check_module(Fn(lambda x: F.avg_pool2d(x, 3, 2, 1)), (torch.randn(1, 3, 9, 9),))
    assert "PAD" in ops(edge) and "MUL" not in ops(edge)  # no overhang: every window counts k*k
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("size, out", [
    ((2, 3, 8, 8), 1),
    ((2, 3, 8, 8), 2),
    ((1, 3, 8, 12), (4, 3)),
    ((1, 3, 6, 6), 6),
    ((1, 3, 7, 5), (1, 1)),
])
def test_adaptive_avg_pool(size, out, conv):
    check_module(Fn(lambda x: F.adaptive_avg_pool2d(x, out), conv), (torch.randn(*size),))


def test_adaptive_avg_pool_uneven_is_reported():
    with pytest.raises(pt2lite.Pt2liteError, match="divide"):
        pt2lite.convert(Fn(lambda x: F.adaptive_avg_pool2d(x, 3)), (torch.randn(1, 3, 8, 8),))


# ---------------------------------------------------------------- resizing


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=2),
    dict(scale_factor=(3, 2)),
    dict(size=(7, 9)),
    dict(size=(3, 5)),
    dict(size=(10, 10)),
    dict(scale_factor=0.5),
], ids=["x2", "x3x2", "size_up", "size_down", "size_same_and_up", "half"])
def test_upsample_nearest(kwargs, conv):
    check_module(Fn(lambda x: F.interpolate(x, mode="nearest", **kwargs), conv), (torch.randn(1, 3, 6, 5),))


def test_upsample_nearest_default_overload():
    check_module(Fn(lambda x: torch.ops.aten.upsample_nearest2d.default(x, [7, 9])), (torch.randn(1, 3, 6, 5),))


def test_upsample_nearest_uneven_scale_factor():
    # 1/1.5 and 6/9 pick the same pixels here; torch and TFLite agree
    check_module(Fn(lambda x: F.interpolate(x, scale_factor=1.5, mode="nearest")), (torch.randn(1, 3, 6, 6),))


def test_upsample_nearest_disagreeing_scale_factor_is_reported():
    # 5 * 1.3 = 6.5 -> 6 outputs; torch samples at dst / 1.3, TFLite at dst * 5 / 6
    with pytest.raises(pt2lite.Pt2liteError, match="nearest resize"):
        pt2lite.convert(Fn(lambda x: F.interpolate(x, scale_factor=1.3, mode="nearest")), (torch.randn(1, 3, 5, 5),))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=2),
    dict(size=(7, 9)),
    dict(size=(3, 4)),
    dict(scale_factor=(1, 3)),
    dict(size=(1, 1)),
], ids=["x2", "size_up", "size_down", "x1x3", "to_1x1"])
def test_upsample_bilinear(kwargs, align_corners, conv):
    m = Fn(lambda x: F.interpolate(x, mode="bilinear", align_corners=align_corners, **kwargs), conv)
    check_module(m, (torch.randn(1, 3, 6, 5),))


def test_upsample_bilinear_after_conv_stays_nhwc():
    edge = check_module(Fn(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), conv=True),
                        (torch.randn(1, 3, 6, 5),))
    assert ops(edge) == ["TRANSPOSE", "CONV_2D", "RESIZE_BILINEAR", "TRANSPOSE"]
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total


# ---------------------------------------------------------------- reflection / replication padding, 3-D pools, distances

import torch.nn.functional as _F  # noqa: E402


class _Op(nn.Module):
    def __init__(self, fn, conv=False):
        super().__init__()
        self.fn = fn
        self.conv = nn.Conv2d(3, 4, 3, padding=1) if conv else None

    def forward(self, *args):
        x = args[0] if self.conv is None else self.conv(args[0])
        return self.fn(x, *args[1:])


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("pad", [(1, 1, 2, 2), (0, 2, 1, 0), (3, 0, 0, 0)])
def test_edge_padding_2d(pad, mode, conv):
    check_module(_Op(lambda x: _F.pad(x, pad, mode=mode) + 1, conv), (torch.randn(2, 3, 5, 6),))


@pytest.mark.parametrize("op, pad", [
    (torch.ops.aten.reflection_pad1d, (2, 1)),
    (torch.ops.aten.reflection_pad2d, (1, 2, 2, 0)),
    (torch.ops.aten.reflection_pad3d, (1, 0, 0, 1, 1, 1)),
    (torch.ops.aten.replication_pad2d, (2, 1, 0, 3)),
    (torch.ops.aten.replication_pad3d, (1, 2, 0, 1, 2, 0)),
], ids=["reflect1d", "reflect2d", "reflect3d", "replicate2d", "replicate3d"])
def test_edge_padding_ops(op, pad):
    # the aten ops themselves (run_decompositions rewrites F.pad into index ops)
    shape = {3: (2, 3, 5), 4: (2, 3, 5, 6), 5: (1, 2, 3, 4, 5)}[len(pad) // 2 + 2]
    check_module(_Op(lambda x: op(x, list(pad)) * 2), (torch.randn(*shape),))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride, padding, ceil", [(2, 2, 0, False), (3, 1, 1, False), ((2, 3, 1), (1, 2, 1), (1, 1, 0), False),
                                                           (3, 2, 1, True)])
def test_pool3d(kind, kernel, stride, padding, ceil):
    fn = _F.max_pool3d if kind == "max" else _F.avg_pool3d
    check_module(_Op(lambda x: fn(x, kernel, stride, padding, ceil_mode=ceil)), (torch.randn(2, 3, 5, 6, 7),))


def test_avg_pool3d_count_exclude_pad_and_divisor():
    check_module(_Op(lambda x: (_F.avg_pool3d(x, 3, 2, 1, count_include_pad=False),
                                _F.avg_pool3d(x, 2, 2, divisor_override=3))), (torch.randn(1, 2, 4, 5, 6),))


@pytest.mark.parametrize("size", [1, (2, 3, 2), (4, 1, 3)])
def test_adaptive_avg_pool3d(size):
    check_module(_Op(lambda x: torch.ops.aten._adaptive_avg_pool3d(x, [size] * 3 if isinstance(size, int) else list(size))),
                 (torch.randn(2, 3, 4, 6, 6),))


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, float("inf"), 3.0])
def test_cdist(p):
    check_module(_Op(lambda a, b: torch.cdist(a, b, p=p)), (torch.randn(2, 4, 3), torch.randn(2, 5, 3)))


def test_cdist_matmul_path_and_2d():
    check_module(_Op(lambda a, b: (torch.cdist(a, b), torch.cdist(a[0], b[0]))),
                 (torch.randn(2, 30, 8), torch.randn(2, 27, 8)))


@pytest.mark.parametrize("p", [2.0, 1.0])
def test_pdist(p):
    check_module(_Op(lambda a: _F.pdist(a, p)), (torch.randn(5, 3),))

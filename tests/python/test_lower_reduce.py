"""Reductions (src/lower/lower_reduce.c) against PyTorch eager on LiteRT, on plain inputs and on
NHWC tensors coming out of a conv (where the axes are mapped through the layout)."""

import pytest
import torch
import torch.nn as nn

from conftest import check_module, tflite_ops

torch.manual_seed(0)


class Fn(nn.Module):
    def __init__(self, fn, conv=False):
        super().__init__()
        self.fn = fn
        self.conv = nn.Conv2d(3, 4, 3, padding=1) if conv else None

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        return self.fn(x)


X4 = torch.randn(2, 3, 5, 6)

DIMS = [(1,), (-1,), (2, 3), (-1, -2), (0, 2), (1, 2, 3), (0, 1, 2, 3)]


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dims", DIMS)
def test_mean(dims, keepdim, conv):
    check_module(Fn(lambda x: x.mean(dims, keepdim=keepdim) * 2, conv), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("op", ["mean", "sum"])
def test_reduce_all(op, conv):
    check_module(Fn(lambda x: getattr(x, op)() + 1, conv), (X4,))


def test_mean_with_dtype():
    check_module(Fn(lambda x: x.mean(1, dtype=torch.float32)), (torch.randn(3, 4),))


def test_global_average_after_conv_stays_nhwc():
    edge = check_module(Fn(lambda x: x.mean((2, 3)), conv=True), (X4,))
    ops = tflite_ops(edge.model_content())
    assert ops.count("TRANSPOSE") == 1 and "MEAN" in ops  # the model input only


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dims", [(1,), (-2,), (2, 3), (0, 3)])
@pytest.mark.parametrize("op", ["sum", "amax", "amin"])
def test_other_reductions(op, dims, keepdim, conv):
    check_module(Fn(lambda x: getattr(torch, op)(x, dims, keepdim=keepdim) - 1, conv), (X4,))


def test_sum_int():
    check_module(Fn(lambda x: x.sum(0)), (torch.randint(-9, 9, (4, 3), dtype=torch.int32),))


def test_reduction_chain_mixed_keepdim():
    # non-keepdim reductions renumber the remaining axes of the layout
    check_module(Fn(lambda x: x.amax(1).mean(-1, keepdim=True).sum(0), conv=True), (X4,))

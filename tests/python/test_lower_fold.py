"""Constant folding of element-wise ops (src/passes/fold.c): arithmetic on constants only (iotas,
buffers, index arithmetic that decompositions leave behind) is evaluated by the converter, so the
.tflite holds its result instead of a chain of ops. Each model is still checked against PyTorch
eager on both runtimes, and the ops left in the file are counted."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pt2lite
from conftest import Fn, check_module, tflite_ops

torch.manual_seed(0)

ARITHMETIC = {"ADD", "SUB", "MUL", "DIV", "NEG", "ABS", "SIGN", "FLOOR", "CEIL", "ROUND", "FLOOR_DIV",
              "FLOOR_MOD", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "SELECT_V2", "EQUAL", "NOT_EQUAL",
              "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT",
              "CAST", "PAD", "PADV2"}


def ops(edge):
    return tflite_ops(edge.model_content())


def arithmetic(edge):
    return [op for op in ops(edge) if op in ARITHMETIC]


@pytest.mark.parametrize("pad", [(2, 3, 1, 2), (4, 0, 0, 3), (1, 1, 1, 1)])
def test_reflect_pad_becomes_constant_gathers(pad):
    # torch decomposes reflect padding into arange / abs / sub index arithmetic + index.Tensor
    edge = check_module(Fn(lambda x: F.pad(x, pad, mode="reflect")), (torch.randn(2, 3, 5, 7),))
    assert set(ops(edge)) == {"GATHER"}, ops(edge)


@pytest.mark.parametrize("pad", [(2, 3, 1, 2), (0, 5, 3, 0)])
def test_replicate_pad_becomes_constant_gathers(pad):
    # arange + clamp (MAXIMUM/MINIMUM) of the positions folds into the gather indices
    edge = check_module(Fn(lambda x: F.pad(x, pad, mode="replicate")), (torch.randn(2, 3, 5, 7),))
    assert set(ops(edge)) == {"GATHER"}, ops(edge)


def test_reflect_pad_1d_and_3d():
    edge = check_module(Fn(lambda x: F.pad(x, (3, 2), mode="reflect")), (torch.randn(2, 4, 9),))
    assert set(ops(edge)) == {"GATHER"}, ops(edge)
    edge = check_module(Fn(lambda x: F.pad(x, (1, 2, 2, 1, 1, 1), mode="replicate")), (torch.randn(1, 2, 3, 4, 5),))
    assert set(ops(edge)) == {"GATHER"}, ops(edge)


def test_integer_chain_folds():
    # floor division and remainder round toward -inf, also for negative operands
    def fn(x):
        i = torch.arange(-7, 9)
        a = torch.div(i * 5 - 3, 4, rounding_mode="floor")
        b = torch.remainder(i * 3, -5)
        c = torch.div(i, 3, rounding_mode="trunc")
        d = torch.clamp(-i, -4, 6).abs() + torch.sign(i)
        e = torch.where(i % 2 == 0, i * i, torch.maximum(i, torch.tensor(2)))
        return x + (a + b + c + d + e).float()

    edge = check_module(Fn(fn), (torch.randn(16),))
    assert ops(edge) == ["ADD"], ops(edge)


def test_float_chain_folds():
    # rounding half to even (-2.5 -> -2, 0.5 -> 0, 1.5 -> 2), floor/ceil, float floor_mod
    def fn(x):
        t = torch.arange(12, dtype=torch.float32) * 0.5 - 3.0
        r = torch.round(t) + torch.floor(t * 0.3) - torch.ceil(t / 3)
        s = torch.remainder(t, -1.25) + torch.div(t, 0.75, rounding_mode="floor")
        q = torch.where(t > 0.5, t * t, -t).clamp(min=-1.0, max=4.0)
        return x * (r + s + q)

    edge = check_module(Fn(fn), (torch.randn(12),))
    assert ops(edge) == ["MUL"], ops(edge)


def test_comparisons_and_logic_fold():
    def fn(x):
        i = torch.arange(10)
        mask = ((i > 2) & (i <= 7)) | (i == 0)
        mask = mask & ~(i != 5) | (i >= 9)
        return torch.where(mask, x, -x)

    edge = check_module(Fn(fn), (torch.randn(10),))
    assert set(arithmetic(edge)) <= {"SELECT_V2", "NEG"}, ops(edge)


def test_broadcast_index_arithmetic_becomes_a_constant_index():
    # a [4, 3] index grid from two iotas broadcast together: one GATHER with a constant index
    def fn(x):
        rows = torch.arange(4).view(4, 1) * 2
        cols = torch.arange(3) * 3 + 1
        return x.flatten()[rows * 10 + cols]

    edge = check_module(Fn(fn), (torch.randn(8, 10),))
    assert arithmetic(edge) == [], ops(edge)
    assert "GATHER" in ops(edge)


def test_buffer_arithmetic_folds():
    # a buffer transformed in forward: the converter stores the result
    w = torch.randn(3, 4)
    edge = check_module(Fn(lambda m, x: x @ (m.w * 2 - 1).abs().t(), w=w, with_self=True), (torch.randn(2, 4),))
    assert arithmetic(edge) == [], ops(edge)


def test_affine_base_grid_folds():
    # affine_grid's base grid (aranges, where, padding, adds) is constant: only the product with
    # theta is left
    def fn(theta):
        return F.affine_grid(theta, [2, 3, 5, 7], align_corners=False)

    edge = check_module(Fn(fn), (torch.randn(2, 2, 3),))
    assert "PAD" not in ops(edge) and "SELECT_V2" not in ops(edge) and "LESS" not in ops(edge), ops(edge)


def test_large_results_stay_ops():
    # a broadcast that would store over 4 MB of int32 is left to run
    def fn(x):
        grid = torch.arange(1100).view(-1, 1) * 1100 + torch.arange(1100)
        return x + grid.float()

    edge = check_module(Fn(fn), (torch.randn(1100, 1100),))
    assert ops(edge).count("ADD") == 2, ops(edge)


def test_int_cast_out_of_range_stays_an_op():
    # float -> int of a value int32 cannot hold has no single run-time result: not folded
    def fn(x):
        big = torch.tensor([1.0, 3.0e9]) * 1.0
        return x + (big.to(torch.int32) > 0).float()

    # eager's value for 3e9 is platform-specific, so only the folding is checked
    edge = pt2lite.convert(Fn(fn), (torch.randn(2),))
    assert "CAST" in ops(edge), ops(edge)


def test_slices_of_constants_fold():
    # slices and selects of a buffer (STRIDED_SLICE of a constant) become constants themselves
    w = torch.randn(5, 6)
    fn = lambda m, x: x + m.w[1:4, ::2] * 2 + m.w[-1, 1::2] - m.w[:, 3].view(5, 1)[1:4]  # noqa: E731
    edge = check_module(Fn(fn, w=w, with_self=True), (torch.randn(3, 3),))
    assert "STRIDED_SLICE" not in ops(edge) and "MUL" not in ops(edge), ops(edge)


class PositionBuckets(nn.Module):
    """T5's relative position buckets in small: log of a constant with a zero in it (-inf), cast to
    an index, then discarded by a where: the whole index computation is constant."""

    def __init__(self):
        super().__init__()
        self.register_buffer("r", torch.arange(-4, 4).float())

    def forward(self, x):
        big = (torch.log(self.r.abs()) * 2).to(torch.int64).clamp(min=0, max=5)
        idx = torch.where(self.r.abs() < 2, self.r.abs().to(torch.int64), big)
        return x[:, idx] * 2


def test_log_and_a_cast_of_minus_infinity_fold():
    edge = check_module(PositionBuckets(), (torch.randn(3, 8),))
    ops = tflite_ops(edge.model_content())
    assert not {"LOG", "CAST", "SELECT_V2"} & set(ops), ops

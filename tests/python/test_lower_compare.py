"""Comparisons, logical and bitwise ops, where, isnan/isinf, maximum/minimum and clamp with tensor
bounds (lower_compare.c), on LiteRT and pt2lite's runtime against PyTorch eager: type promotion
(int vs float, bool), broadcasting, scalars, 0-d tensors, int32 extremes for the bitwise
compositions, NaN/inf, and NHWC conv outputs."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import pt2lite
from conftest import Fn, assert_outputs_close, check_module, run_litert, run_pt2lite, tflite_ops


def randn(*shape, seed=0, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def randint(*shape, lo=-5, hi=5, seed=0, dtype=torch.int32):
    return torch.randint(lo, hi, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def run_both(module, args):
    """Outputs of both runtimes next to torch's, exact (bool and int results)."""
    module = module.eval()
    with torch.no_grad():
        expected = module(*args)
    expected = expected if isinstance(expected, tuple) else (expected,)
    content = pt2lite.convert(module, args).model_content()
    inputs = [a.numpy() for a in args]
    for name, got in (("LiteRT", run_litert(content, inputs)), ("pt2lite", run_pt2lite(content, inputs))):
        assert_outputs_close(got, expected, rtol=0, atol=0, what=name)
    return content


# integer-valued floats so that ties (==, <=) really happen
XF = randint(2, 3, 4, 5).float()
YF = randint(2, 3, 4, 5, seed=1).float()

COMPARE = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}
OP_OF = {"eq": "EQUAL", "ne": "NOT_EQUAL", "lt": "LESS", "le": "LESS_EQUAL", "gt": "GREATER", "ge": "GREATER_EQUAL"}


@pytest.mark.parametrize("args", [
    pytest.param((XF, YF), id="same"),
    pytest.param((XF, randint(4, 1, seed=2).float()), id="bcast"),
    pytest.param((randint(3, 1, 5).float(), randint(4, 1, seed=2).float()), id="bcast_both"),
    pytest.param((XF, torch.tensor(1.0)), id="0d_second"),
    pytest.param((torch.tensor(-1.0), XF), id="0d_first"),
    pytest.param((randint(3, 4), randint(3, 4, seed=1)), id="int32"),
    pytest.param((randint(3, 4, dtype=torch.int64), randint(4, seed=1, dtype=torch.int64)), id="int64"),
    pytest.param((randint(3, 4), randn(3, 4, seed=1, scale=3)), id="int_vs_float"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1) > 0), id="bool"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1)), id="bool_vs_int"),
])
def test_compare_tensor(args):
    # all six comparisons in one model (one conversion per operand combination keeps the suite fast)
    content = run_both(Fn(lambda a, b: tuple(f(a, b) for f in COMPARE.values())), args)
    assert sorted(set(tflite_ops(content)) - {"CAST", "RESHAPE"}) == sorted(OP_OF.values()), tflite_ops(content)


@pytest.mark.parametrize("x,scalar", [
    pytest.param(XF, 1, id="float_int"),
    pytest.param(XF, 0.5, id="float_float"),
    pytest.param(randint(3, 4), 2, id="int_int"),
    pytest.param(randint(3, 4), 0.5, id="int_float"),  # compared as float: 1 > 0.5
    pytest.param(randint(3, 4), -1.5, id="int_negative_float"),
    pytest.param(randint(3, 4) > 0, True, id="bool_bool"),
    pytest.param(randint(3, 4) > 0, 0, id="bool_int"),
])
def test_compare_scalar(x, scalar):
    content = run_both(Fn(lambda a: tuple(f(a, scalar) for f in COMPARE.values())), (x,))
    assert sorted(set(tflite_ops(content)) - {"CAST", "RESHAPE"}) == sorted(OP_OF.values()), tflite_ops(content)


def test_compare_nan_and_inf():
    a = torch.tensor([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0])
    b = torch.tensor([math.nan, math.inf, 1.0, -0.0, 0.0, math.nan])
    run_both(Fn(lambda x, y: tuple(f(x, y) for f in COMPARE.values())), (a, b))


def test_compare_constant_operand():
    run_both(Fn(lambda s, a: (a > s.t, s.t <= a, a == s.t), t=randint(4, 5, seed=4).float(), with_self=True), (XF,))


# ---------------------------------------------------------------- logical


LOGICAL = {"and": torch.logical_and, "or": torch.logical_or, "xor": torch.logical_xor}


@pytest.mark.parametrize("args", [
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1) > 0), id="bool"),
    pytest.param((randint(2, 3, 4) > 0, randint(4, seed=1) > 0), id="bool_bcast"),
    pytest.param((randint(3, 4), randint(3, 4, seed=1)), id="int"),
    pytest.param((randint(3, 4).float(), randint(3, 4, seed=1) > 0), id="float_bool"),
    pytest.param((torch.tensor([math.nan, 0.0, -0.0, 2.0]), torch.tensor([1.0, 1.0, 1.0, 0.0])), id="nan_is_true"),
])
def test_logical_binary(args):
    run_both(Fn(lambda a, b: tuple(f(a, b) for f in LOGICAL.values())), args)


@pytest.mark.parametrize("x", [
    pytest.param(randint(3, 4) > 0, id="bool"),
    pytest.param(randint(3, 4), id="int"),
    pytest.param(torch.tensor([0.0, -0.0, 1.5, math.nan]), id="float"),
])
def test_logical_not(x):
    content = run_both(Fn(lambda a: torch.logical_not(a)), (x,))
    assert "LOGICAL_NOT" in tflite_ops(content)


# ---------------------------------------------------------------- bitwise

I32 = torch.tensor([0, 1, -1, 2, -2, 5, -5, 12345, -12345, 0x55555555, -0x55555556, 2**31 - 1, -2**31, 2**30, -2**30, 7],
                   dtype=torch.int32)


def pairs(dtype=torch.int32):
    a = I32.repeat_interleave(len(I32)).to(dtype)
    b = I32.repeat(len(I32)).to(dtype)
    return a, b


BITWISE = {"and": torch.bitwise_and, "or": torch.bitwise_or, "xor": torch.bitwise_xor}


@pytest.mark.parametrize("name", BITWISE)
def test_bitwise_int32_all_pairs(name):
    # every pair of the extremes (signs, INT32_MIN/MAX, alternating bits)
    run_both(Fn(lambda a, b: BITWISE[name](a, b)), pairs())


@pytest.mark.parametrize("name", BITWISE)
def test_bitwise_int64_inputs(name):
    run_both(Fn(lambda a, b: BITWISE[name](a, b)), pairs(torch.int64))


@pytest.mark.parametrize("scalar", [0, 1, 255, 0xFFFF, -1, -16, 5, -6, 2**31 - 1, -2**31], ids=str)
def test_bitwise_int_scalar(scalar):
    run_both(Fn(lambda a: tuple(f(a, scalar) for f in BITWISE.values())), (I32,))


def test_bitwise_mask_is_one_op():
    content = run_both(Fn(lambda a: a & 0xFF), (I32,))
    assert tflite_ops(content) == ["FLOOR_MOD"]


@pytest.mark.parametrize("name,op", [("and", "LOGICAL_AND"), ("or", "LOGICAL_OR"), ("xor", "NOT_EQUAL")])
def test_bitwise_bool(name, op):
    a, b = randint(2, 3, 4) > 0, randint(3, 1, seed=1) > 0
    content = run_both(Fn(lambda x, y: (BITWISE[name](x, y), BITWISE[name](x, True), BITWISE[name](x, False))), (a, b))
    assert op in tflite_ops(content)


def test_bitwise_broadcast():
    run_both(Fn(lambda a, b: (a & b, a | b, a ^ b)), (randint(2, 3, 4, lo=-100, hi=100), randint(4, seed=1, lo=-100, hi=100)))


@pytest.mark.parametrize("x", [pytest.param(I32, id="int32"), pytest.param(I32.long(), id="int64"),
                               pytest.param(randint(3, 4) > 0, id="bool")])
def test_bitwise_not(x):
    run_both(Fn(lambda a: ~a), (x,))


# ---------------------------------------------------------------- isnan / isinf

SPECIAL = torch.tensor([[math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -3e38, 3e38, 1e-45]])


def test_isnan_isinf():
    content = run_both(Fn(lambda a: (torch.isnan(a), torch.isinf(a), torch.isfinite(a))), (SPECIAL,))
    assert "NOT_EQUAL" in tflite_ops(content) and "EQUAL" in tflite_ops(content)


def test_isnan_isinf_int():
    run_both(Fn(lambda a: (torch.isnan(a), torch.isinf(a))), (randint(3, 4),))


def test_isnan_after_division():
    # NaN made inside the graph (0/0) is found too
    a = torch.tensor([0.0, 1.0, -1.0, 0.0])
    b = torch.tensor([0.0, 0.0, 0.0, 1.0])
    run_both(Fn(lambda x, y: (torch.isnan(x / y), torch.isinf(x / y))), (a, b))


# ---------------------------------------------------------------- where

@pytest.mark.parametrize("args", [
    pytest.param((XF > 0, XF, YF), id="same"),
    pytest.param((randint(4, 1) > 0, XF, YF), id="cond_bcast"),
    pytest.param((XF > 0, randint(5, seed=3).float(), YF), id="self_bcast"),
    pytest.param((XF > 0, XF, torch.tensor(-7.0)), id="other_0d"),
    pytest.param((torch.tensor(True), XF, YF), id="cond_0d"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1), randint(3, 4, seed=2)), id="int"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1) > 0, randint(3, 4, seed=2) > 0), id="bool"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1), randn(3, 4, seed=2)), id="int_float_promotes"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1, dtype=torch.int64), randint(4, seed=2, dtype=torch.int64)),
                 id="int64"),
])
def test_where(args):
    content = run_both(Fn(lambda c, a, b: torch.where(c, a, b)), args)
    assert "SELECT_V2" in tflite_ops(content)


def test_where_constant_operands():
    m = Fn(lambda s, c: torch.where(c, s.a, s.b), a=randn(3, 1, 1), b=randn(4, 5, seed=1), with_self=True)
    run_both(m, (XF > 0,))


# ---------------------------------------------------------------- maximum / minimum / clamp.Tensor

@pytest.mark.parametrize("args", [
    pytest.param((XF, YF), id="same"),
    pytest.param((XF, randint(4, 1, seed=2).float()), id="bcast"),
    pytest.param((torch.tensor(0.5), XF), id="0d"),
    pytest.param((randint(3, 4), randint(4, seed=1)), id="int"),
    pytest.param((randint(3, 4), randn(3, 4, seed=1)), id="int_float"),
    pytest.param((randint(3, 4) > 0, randint(3, 4, seed=1) > 0), id="bool"),
])
def test_maximum_minimum(args):
    run_both(Fn(lambda a, b: (torch.maximum(a, b), torch.minimum(a, b))), args)


@pytest.mark.parametrize("which", ["min", "max", "both"])
@pytest.mark.parametrize("args", [
    pytest.param((XF, randint(4, 1, seed=2).float() - 2, randint(5, seed=3).float() + 2), id="float_bcast"),
    pytest.param((randint(3, 4, lo=-9, hi=9), randint(3, 4, seed=1), randint(4, seed=2) + 3), id="int"),
    pytest.param((XF, torch.tensor(-1.0), torch.tensor(2.0)), id="0d_bounds"),
])
def test_clamp_tensor(which, args):
    x, lo, hi = args
    fn = {"min": lambda s, a, b, c: torch.clamp(a, min=b), "max": lambda s, a, b, c: torch.clamp(a, max=c),
          "both": lambda s, a, b, c: torch.clamp(a, b, c)}[which]
    run_both(Fn(fn, with_self=True), (x, lo, hi))


# ---------------------------------------------------------------- after a conv: NHWC inside


class Conv(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fn = fn

    def forward(self, x, y):
        return self.fn(self.conv(x), y)


@pytest.mark.parametrize("fn", [
    pytest.param(lambda c, y: c > 0.1, id="gt_scalar"),
    pytest.param(lambda c, y: c < y, id="lt_nchw_input"),
    pytest.param(lambda c, y: torch.where(c > 0, c, y), id="where"),
    pytest.param(lambda c, y: torch.where(y > 0, y, c * 2), id="where_nchw_cond"),
    pytest.param(lambda c, y: torch.maximum(c, y[0, 0]), id="maximum_hw"),
    pytest.param(lambda c, y: torch.clamp(c, min=y[:, :, :1, :1] - 0.5, max=y.mean((2, 3), keepdim=True) + 1), id="clamp"),
    pytest.param(lambda c, y: torch.logical_and(c > 0, y > 0), id="logical_and"),
    pytest.param(lambda c, y: torch.isnan(c) | torch.isinf(y), id="isnan_or_isinf"),
])
def test_after_conv(fn):
    args = (randn(1, 3, 6, 5), randn(1, 4, 6, 5, seed=1))
    content = check_module(Conv(fn), args).model_content()
    assert tflite_ops(content).count("TRANSPOSE") <= 3, tflite_ops(content)


def test_conv_gate_keeps_nhwc():
    # relu-like gate on a conv output: no transposes between the conv and the comparison/select
    m = Conv(lambda c, y: torch.where(c > 0, c, c * 0.1))
    content = check_module(m, (randn(1, 3, 6, 5), randn(1, 4, 6, 5, seed=1))).model_content()
    assert tflite_ops(content).count("TRANSPOSE") == 2, tflite_ops(content)

"""NaN and +-inf through the ops whose kernels had them wrong (issue 15): pt2lite's runtime must give
what PyTorch eager gives, NaN where PyTorch has NaN, the same infinities, close values elsewhere.
LiteRT is held to the same check where it agrees with PyTorch; where it does not (its XNNPACK
kernels drop NaN in max/min, pooling and exp), a separate test documents the difference, so that
it is seen if LiteRT changes, and the pt2lite check is never weakened for it.

Also CAST from float to integers: PyTorch defines it (truncation toward zero) only for values the
target type holds; elsewhere pt2lite saturates to the target's range and maps NaN to 0
(src/kernels/cast.c)."""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import pt2lite
from conftest import Fn, run_litert, run_pt2lite, tflite_ops

NAN, INF = float("nan"), float("inf")
SPECIALS = [NAN, INF, -INF, NAN, 100.0, -100.0, 0.0, -0.0]


def special_input(shape, seed=0):
    """Random values with NaN, +-inf and large ones every 7th element (vector bodies and tails)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 3
    flat = x.view(-1)
    for i in range(0, flat.numel(), 7):
        flat[i] = SPECIALS[(i // 7) % len(SPECIALS)]
    return x


def mismatches(actual, expected, rtol=1e-4, atol=1e-5):
    """Indices where actual differs from expected: NaN must meet NaN, an infinity the same one, and
    finite values agree within rtol |expected| + atol."""
    a = np.asarray(actual, np.float64).ravel()
    e = np.asarray(expected, np.float64).ravel()
    assert a.shape == e.shape
    with np.errstate(invalid="ignore"):
        bad = (np.isnan(a) != np.isnan(e)) | (np.isinf(e) & (a != e)) | (
            np.isfinite(e) & ~(np.abs(a - e) <= rtol * np.abs(e) + atol))
    return np.nonzero(bad)[0]


def describe(actual, expected, bad):
    a, e = np.asarray(actual).ravel(), np.asarray(expected).ravel()
    return f"{len(bad)} of {e.size} differ, e.g. " + ", ".join(f"got {a[i]} want {e[i]}" for i in bad[:4])


torch.manual_seed(0)
_conv = torch.nn.Conv2d(3, 5, 3, padding=1)
_depthwise = torch.nn.Conv2d(6, 6, 3, padding=1, groups=6)
_linear = torch.nn.Linear(19, 11)

# name: (function, input shape, the TFLite op that must carry it, LiteRT agrees with PyTorch)
OPS = {
    "sigmoid": (torch.sigmoid, (2, 37), "LOGISTIC", True),
    "tanh": (torch.tanh, (2, 37), "TANH", True),
    "exp": (torch.exp, (2, 37), "EXP", False),
    "relu": (torch.relu, (2, 37), "RELU", True),
    "relu6": (F.relu6, (2, 37), "RELU6", True),
    "hardtanh": (F.hardtanh, (2, 37), "RELU_N1_TO_1", True),
    "clamp": (lambda x: x.clamp(-2, 2), (2, 37), "MINIMUM", True),
    "gelu": (F.gelu, (2, 37), "GELU", True),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), (2, 37), "GELU", True),
    "silu": (F.silu, (2, 37), "LOGISTIC", True),
    "hardswish": (F.hardswish, (2, 37), "HARD_SWISH", True),
    "softmax": (lambda x: torch.softmax(x, -1), (4, 37), "SOFTMAX", True),
    "max_pool": (lambda x: F.max_pool2d(x, 2), (1, 3, 8, 10), "MAX_POOL_2D", False),
    "avg_pool": (lambda x: F.avg_pool2d(x, 2), (1, 3, 8, 10), "AVERAGE_POOL_2D", False),
    "maximum": (lambda x: torch.maximum(x, x.flip(-1)), (2, 37), "MAXIMUM", False),
    "minimum": (lambda x: torch.minimum(x, x.flip(-1)), (2, 37), "MINIMUM", False),
    "amax": (lambda x: x.amax(-1), (4, 37), "REDUCE_MAX", False),
    "amin": (lambda x: x.amin(-1), (4, 37), "REDUCE_MIN", False),
    "conv_relu": (lambda x: torch.relu(_conv(x)), (1, 3, 8, 9), "CONV_2D", True),
    "depthwise_relu6": (lambda x: F.relu6(_depthwise(x)), (1, 6, 8, 9), "DEPTHWISE_CONV_2D", True),
    "linear_relu": (lambda x: torch.relu(_linear(x)), (3, 19), "FULLY_CONNECTED", True),
}


@functools.lru_cache(maxsize=None)
def convert_op(name):
    """(model, input, PyTorch's output) of an op, converted once for all its tests."""
    fn, shape, tflite_op, _ = OPS[name]
    x = special_input(shape)
    with torch.no_grad():
        expected = fn(x).numpy()
    content = pt2lite.convert(Fn(fn, mods=(_conv, _depthwise, _linear)), (x,)).model_content()
    assert tflite_op in tflite_ops(content), tflite_ops(content)
    return content, x.numpy(), expected


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("name", sorted(OPS))
def test_pt2lite_matches_pytorch(name, threads):
    content, x, expected = convert_op(name)
    assert np.isnan(expected).any(), "the case must reach a NaN"
    got = run_pt2lite(content, [x], num_threads=threads)[0]
    bad = mismatches(got, expected)
    assert not len(bad), f"pt2lite runtime, {name}: " + describe(got, expected, bad)


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op[3]))
def test_litert_matches_pytorch(name):
    content, x, expected = convert_op(name)
    got = run_litert(content, [x])[0]
    bad = mismatches(got, expected)
    assert not len(bad), f"LiteRT, {name}: " + describe(got, expected, bad)


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if not op[3]))
def test_litert_differs_from_pytorch(name):
    """Documented LiteRT difference: its kernels (XNNPACK on x86) lose NaN in these ops (EXP(NaN)
    is 0; MAXIMUM, MINIMUM, max/min reductions and max pooling return the other operand; average
    pooling turns a window with NaN and -inf into -inf). pt2lite follows PyTorch
    (test_pt2lite_matches_pytorch). If this starts failing, LiteRT agrees now: move the op to the
    checked list."""
    content, x, expected = convert_op(name)
    got = run_litert(content, [x])[0]
    bad = mismatches(got, expected)
    assert len(bad), f"LiteRT now gives PyTorch's NaN semantics for {name}"
    assert np.isnan(np.asarray(expected).ravel()[bad]).all(), "LiteRT differs only where PyTorch has NaN"


# ------------------------------------------------------------ CAST float -> integer

CAST_VALUES = torch.tensor([NAN, INF, -INF, 3e9, -3e9, 300.0, -300.0, 255.9, -1.5, 1e20, 2.5, -0.9, 127.9, -128.9,
                            32767.5, -32768.7, 0.0, -0.0])
CAST_TYPES = {torch.int32: np.int32, torch.int16: np.int16, torch.int8: np.int8, torch.uint8: np.uint8}


def cast_model(dtype):
    content = pt2lite.convert(Fn(lambda t: t.to(dtype)), (CAST_VALUES,)).model_content()
    assert "CAST" in tflite_ops(content)
    return content


@pytest.mark.parametrize("dtype", list(CAST_TYPES), ids=str)
def test_cast_in_range_matches_pytorch(dtype):
    """Where PyTorch defines the cast (the truncated value fits the target type), pt2lite and LiteRT
    give PyTorch's value."""
    info = np.iinfo(CAST_TYPES[dtype])
    x = CAST_VALUES.numpy()
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(x) & (np.trunc(x) >= info.min) & (np.trunc(x) <= info.max)
    expected = CAST_VALUES.to(dtype).numpy()
    content = cast_model(dtype)
    for runtime, run in (("pt2lite", run_pt2lite), ("LiteRT", run_litert)):
        got = run(content, [x])[0]
        assert got.dtype == expected.dtype, runtime
        np.testing.assert_array_equal(got[defined], expected[defined], err_msg=runtime)


@pytest.mark.parametrize("dtype", list(CAST_TYPES), ids=str)
def test_cast_out_of_range_saturates(dtype):
    """Where PyTorch leaves the cast undefined (out of range, +-inf, NaN; its x86 eager kernel gives
    INT32_MIN or wrapped low bits), pt2lite saturates to the target's range and maps NaN to 0 on
    every platform. LiteRT saturates too, but maps NaN to the largest value."""
    info = np.iinfo(CAST_TYPES[dtype])
    x = CAST_VALUES.numpy().astype(np.float64)
    with np.errstate(invalid="ignore"):
        expected = np.where(np.isnan(x), 0, np.clip(np.trunc(np.nan_to_num(x, posinf=1e300, neginf=-1e300)),
                                                    info.min, info.max)).astype(CAST_TYPES[dtype])
    content = cast_model(dtype)
    np.testing.assert_array_equal(run_pt2lite(content, [CAST_VALUES.numpy()])[0], expected)
    litert = run_litert(content, [CAST_VALUES.numpy()])[0]
    finite = ~np.isnan(x)
    np.testing.assert_array_equal(litert[finite], expected[finite])

"""Creation lowerings (src/lower/lower_create.c) against PyTorch eager on both runtimes: arange, full,
full_like, scalar_tensor, empty, fill, dropout's mask, copy; rand/randn checked by shape, dtype and
statistics (their values cannot match torch's)."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2lite
from conftest import Fn, check_both_runtimes, check_module, run_litert, run_pt2lite, tflite_ops

torch.manual_seed(0)


X4 = torch.randn(2, 3, 5, 6)


@pytest.mark.parametrize("fn", [
    lambda x: x + torch.arange(6),
    lambda x: x * torch.arange(1, 7, 1.0),
    lambda x: x[0, 0, 0] + torch.arange(-3, 9, 2),
    lambda x: x[0, 0] * torch.arange(0.5, 3.5, 0.5),
    lambda x: torch.arange(10, 4, -1, dtype=torch.int32)[None] + x.shape[0],
    lambda x: x + torch.arange(6, dtype=torch.float64),
], ids=["int", "float", "negative_start", "float_step", "descending_int32", "float64"])
def test_arange(fn):
    check_module(Fn(fn), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x + torch.full((5, 6), 2.5),
    lambda x: x * torch.ones(6),
    lambda x: x - torch.zeros(2, 1, 5, 6),
    lambda x: x + torch.full_like(x, 3),
    lambda x: (torch.zeros_like(x), torch.ones_like(x, dtype=torch.int32)),
    lambda x: torch.full((2, x.shape[1]), True) & (x[:, :, 0, 0] > 0),
    lambda x: x + torch.empty(5, 6).fill_(1.5),
    lambda x: x * torch.scalar_tensor(3.0),
    lambda x: torch.where(x > 0, x, 0.5),
], ids=["full", "ones", "zeros", "full_like", "like_dtypes", "bool", "empty_fill", "scalar_tensor", "where_scalar"])
def test_full(fn, conv):
    check_module(Fn(fn, conv), (X4,))


def test_large_full_becomes_fill():
    edge = check_module(Fn(lambda x: x + torch.full((300, 300), 2.0)), (torch.randn(300, 300),))
    assert "FILL" in tflite_ops(edge.model_content())
    assert len(edge.model_content()) < 100_000


def test_full_like_dynamic_batch():
    from torch.export import Dim
    m = Fn(lambda x: x + torch.full_like(x, 2.0)).eval()
    edge = pt2lite.convert(m, (X4,), dynamic_shapes=({0: Dim("batch", min=1, max=8)},))
    for n in (1, 3):
        x = torch.randn(n, 3, 5, 6)

        def check(outputs, runtime):
            np.testing.assert_allclose(outputs[0], (x + 2).numpy(), rtol=1e-6, err_msg=runtime)

        check_both_runtimes(edge.model_content(), [x.numpy()], check)


def test_empty_strided_and_new_empty():
    check_module(Fn(lambda x: (torch.empty_strided((2, 3), (3, 1)).zero_() + x[:, :, 0, 0],)), (X4,))


def test_native_dropout_eval():
    def fn(x):
        y, mask = torch.ops.aten.native_dropout(x, 0.5, False)
        return y * 2, mask
    check_module(Fn(fn), (X4,))


@pytest.mark.parametrize("conv", [False, True])
def test_copy(conv):
    def fn(x):
        y = torch.zeros_like(x)
        return torch.ops.aten.copy(y, x * 2), torch.ops.aten.copy(y, x[:, :1]), torch.ops.aten.copy(y.int(), x)
    check_module(Fn(fn, conv), (X4,))


def test_slice_assignment_copy():
    def fn(x):
        y = x.clone()
        y[:, 1:3] = x[:, :2] * 10
        return y
    check_module(Fn(fn), (X4,))


@pytest.mark.parametrize("op, mean, std", [("rand", 0.5, 12 ** -0.5), ("randn", 0.0, 1.0)])
def test_random(op, mean, std):
    m = Fn(lambda x: x * 0 + getattr(torch, op)(64, 128)).eval()
    edge = pt2lite.convert(m, (torch.randn(64, 128),))
    assert ("RANDOM_UNIFORM" if op == "rand" else "RANDOM_STANDARD_NORMAL") in tflite_ops(edge.model_content())
    x = np.zeros((64, 128), np.float32)
    for got in (run_litert(edge.model_content(), [x])[0], run_pt2lite(edge.model_content(), [x])[0]):
        assert got.shape == (64, 128) and got.dtype == np.float32
        # five standard errors: a correct generator fails this about once in a million runs
        n = got.size
        assert abs(got.mean() - mean) < 5 * std / np.sqrt(n) and abs(got.std() - std) < 5 * std / np.sqrt(2 * n)
        if op == "rand":
            assert got.min() >= 0 and got.max() < 1
        assert len(np.unique(got)) > 8000


def test_randperm_is_refused_with_reason():
    with pytest.raises(pt2lite.Pt2liteError, match="randperm"):
        pt2lite.convert(Fn(lambda x: x[torch.randperm(2)]), (X4,))

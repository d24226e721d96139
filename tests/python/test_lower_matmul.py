"""Matrix products and softmax (src/lower/lower_matmul.c) against PyTorch eager on LiteRT."""

import pytest
import torch
import torch.nn as nn

from conftest import Fn, check_module, tflite_ops, xnnpack_delegation

torch.manual_seed(0)


def ops(edge):
    return tflite_ops(edge.model_content())


# ---------------------------------------------------------------- nn.Linear (addmm / mm)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 16), (1, 16), (2, 3, 16), (2, 2, 3, 16)])
def test_linear(shape, bias):
    edge = check_module(nn.Linear(16, 8, bias=bias), (torch.randn(*shape),))
    assert ops(edge).count("FULLY_CONNECTED") == 1
    assert "TRANSPOSE" not in ops(edge)  # the weight is used as stored: [out, in]
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total


def test_mlp():
    m = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 3))
    edge = check_module(m, (torch.randn(5, 10),))
    assert ops(edge).count("FULLY_CONNECTED") == 3


def test_conv_then_linear():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    edge = check_module(m, (torch.randn(2, 3, 8, 8),))
    assert ops(edge).count("TRANSPOSE") == 1  # the model input only


class AddmmScaled(nn.Module):
    def __init__(self, beta, alpha, bias_shape, constant=True):
        super().__init__()
        self.beta, self.alpha, self.constant = beta, alpha, constant
        self.bias = nn.Parameter(torch.randn(*bias_shape))
        self.weight = nn.Parameter(torch.randn(6, 5))

    def forward(self, x, w=None):
        return torch.addmm(self.bias, x, self.weight if self.constant else w, beta=self.beta, alpha=self.alpha)


@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 1), (1, 2.0), (0, 1), (2, -0.5)])
@pytest.mark.parametrize("bias_shape", [(5,), (1, 5), (4, 5), (4, 1)])
def test_addmm_scales_and_bias_shapes(beta, alpha, bias_shape):
    check_module(AddmmScaled(beta, alpha, bias_shape), (torch.randn(4, 6),))


def test_addmm_fused_bias_is_one_op():
    edge = check_module(AddmmScaled(1, 1, (1, 5)), (torch.randn(4, 6),))
    assert ops(edge) == ["FULLY_CONNECTED"]


def test_addmm_with_runtime_weight():
    check_module(AddmmScaled(1, 1, (5,), constant=False), (torch.randn(4, 6), torch.randn(6, 5)))


# ---------------------------------------------------------------- mm / bmm / matmul


class MatConst(nn.Module):
    def __init__(self, transpose):
        super().__init__()
        self.transpose = transpose
        self.w = nn.Parameter(torch.randn(7, 6) if transpose else torch.randn(6, 7))

    def forward(self, x):
        return x @ (self.w.t() if self.transpose else self.w)


@pytest.mark.parametrize("transpose", [False, True])
def test_mm_constant_rhs_is_fully_connected(transpose):
    edge = check_module(MatConst(transpose), (torch.randn(3, 6),))
    assert ops(edge) == ["FULLY_CONNECTED"]


@pytest.mark.parametrize("fn", [
    lambda a, b: a @ b,
    lambda a, b: a @ b.t().contiguous().t(),
    lambda a, b: torch.mm(a * 2, b + 1),
], ids=["plain", "transposed_twice", "computed"])
def test_mm_two_inputs(fn):
    check_module(Fn(fn), (torch.randn(3, 6), torch.randn(6, 4)))


def test_mm_rhs_transposed_reads_in_place():
    edge = check_module(Fn(lambda a, b: a @ b.t()), (torch.randn(3, 6), torch.randn(4, 6)))
    assert ops(edge) == ["BATCH_MATMUL"]


def test_mm_constant_lhs():
    w = torch.randn(3, 6)
    check_module(Fn(lambda b: w @ b), (torch.randn(6, 4),))


def test_bmm():
    edge = check_module(Fn(lambda a, b: torch.bmm(a, b)), (torch.randn(2, 3, 5), torch.randn(2, 5, 4)))
    assert ops(edge) == ["BATCH_MATMUL"]


def test_attention_scores_use_adj_y():
    # q @ k^T: the transpose of k is a layout, read through BATCH_MATMUL's adj_y
    def fn(q, k):
        return torch.softmax(q @ k.transpose(-1, -2) / 4, dim=-1)
    edge = check_module(Fn(fn), (torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8)))
    assert "TRANSPOSE" not in ops(edge)


def test_attention_block():
    class Attention(nn.Module):
        def __init__(self, dim=16, heads=2):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(dim, dim * 3)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
            attn = attn.softmax(dim=-1)
            y = (attn @ v).transpose(1, 2).reshape(b, n, c)
            return self.proj(y)
    check_module(Attention(), (torch.randn(2, 5, 16),))


# ---------------------------------------------------------------- softmax / log_softmax


@pytest.mark.parametrize("op", [torch.softmax, torch.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 0, 1, 2, -3])
def test_softmax_plain(op, dim):
    check_module(Fn(lambda x: op(x * 3, dim)), (torch.randn(2, 3, 5),))


@pytest.mark.parametrize("op", [torch.softmax, torch.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [1, 2, -1])
def test_softmax_after_conv(op, dim):
    edge = check_module(Fn(lambda x: op(x, dim), conv=True), (torch.randn(2, 3, 5, 6),))
    if dim == 1:  # channels are last inside: no TRANSPOSE before the softmax
        assert ops(edge).index("SOFTMAX" if op is torch.softmax else "LOG_SOFTMAX") == 2


def test_softmax_1d():
    check_module(Fn(lambda x: torch.softmax(x, 0)), (torch.randn(7),))


def test_softmax_delegates_to_xnnpack():
    edge = check_module(Fn(lambda x: torch.softmax(x, -1)), (torch.randn(4, 10),))
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total


class _RepeatedWeight(nn.Module):
    """bmm by a weight expanded over the batch (what torch.export writes for nn.Linear on some
    transposed activations, e.g. MobileViT's attention): one FULLY_CONNECTED, no BATCH_MATMUL."""

    def __init__(self, transposed):
        super().__init__()
        self.w = nn.Parameter(torch.randn(24, 16) if transposed else torch.randn(16, 24))
        self.transposed = transposed

    def forward(self, x):
        w = self.w.t() if self.transposed else self.w
        return torch.bmm(x, w.expand(x.shape[0], 16, 24))


@pytest.mark.parametrize("transposed", [False, True], ids=["kn", "nk"])
def test_bmm_by_weight_repeated_over_batch_is_fully_connected(transposed):
    edge = check_module(_RepeatedWeight(transposed).eval(), (torch.randn(4, 10, 16),))
    assert "FULLY_CONNECTED" in ops(edge) and "BATCH_MATMUL" not in ops(edge), ops(edge)


def test_bmm_by_constant_of_different_matrices_stays_batched():
    w = torch.randn(3, 16, 8)
    edge = check_module(Fn(lambda x: torch.bmm(x, w)), (torch.randn(3, 5, 16),))
    assert "BATCH_MATMUL" in ops(edge), ops(edge)

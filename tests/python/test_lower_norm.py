"""Normalization lowerings (src/lower/lower_norm.c) against PyTorch eager on both runtimes: layer norm,
group norm and instance norm (batch norm with batch statistics), on plain inputs and after a conv
(NHWC inside)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import Fn, check_module, tflite_ops

torch.manual_seed(0)


def randomize(m):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
    return m


X4 = torch.randn(2, 3, 5, 6)


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("shape, affine", [((6,), True), ((5, 6), True), ((6,), False), ((4, 5, 6), True)],
                         ids=["last", "last2", "no_affine", "all_but_batch"])
def test_layer_norm(shape, affine, conv):
    if not conv and len(shape) == 3:
        shape = (3, 5, 6)
    ln = randomize(nn.LayerNorm(shape, elementwise_affine=affine))
    check_module(Fn(lambda x: ln(x), conv, [ln]), (X4,))


def test_layer_norm_transformer_shape():
    ln = randomize(nn.LayerNorm(8))
    edge = check_module(Fn(lambda x: ln(x) * 2, mods=[ln]), (torch.randn(2, 7, 8) * 3 + 1,))
    assert "TRANSPOSE" not in tflite_ops(edge.model_content())


def test_layer_norm_functional_eps_and_bias_only():
    b = torch.randn(6)
    check_module(Fn(lambda x: F.layer_norm(x, (6,), None, b, eps=1e-2)), (X4,))


def test_layer_norm_after_conv_stays_nhwc():
    # normalizing over W after a conv: axes mapped through the layout, no TRANSPOSE but the model IO
    ln = randomize(nn.LayerNorm(6))
    edge = check_module(Fn(lambda x: ln(x).relu(), True, [ln]), (X4,))
    assert tflite_ops(edge.model_content()).count("TRANSPOSE") == 2


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("groups, affine", [(1, True), (2, True), (4, False), (4, True)])
def test_group_norm(groups, affine, conv):
    gn = nn.GroupNorm(groups, 4, affine=affine)
    if affine:
        randomize(gn)
    x = X4 if conv else torch.randn(2, 4, 5, 3)
    check_module(Fn(lambda x: gn(x), conv, [gn]), (x,))


@pytest.mark.parametrize("shape", [(3, 6), (2, 6, 7), (1, 6, 2, 3, 2)], ids=["2d", "3d", "5d"])
def test_group_norm_ranks(shape):
    gn = randomize(nn.GroupNorm(3, 6))
    check_module(Fn(lambda x: gn(x), mods=[gn]), (torch.randn(*shape),))


def test_group_norm_after_conv_stays_nhwc():
    gn = randomize(nn.GroupNorm(2, 4))
    edge = check_module(Fn(lambda x: gn(x).relu(), True, [gn]), (X4,))
    assert tflite_ops(edge.model_content()).count("TRANSPOSE") == 2


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_2d(affine, conv):
    inn = nn.InstanceNorm2d(4 if conv else 3, affine=affine)
    if affine:
        randomize(inn)
    check_module(Fn(lambda x: inn(x), conv, [inn]), (X4,))


@pytest.mark.parametrize("cls, shape", [(nn.InstanceNorm1d, (2, 3, 7)), (nn.InstanceNorm3d, (1, 3, 2, 3, 4))])
def test_instance_norm_other_ranks(cls, shape):
    inn = randomize(cls(3, affine=True))
    check_module(Fn(lambda x: inn(x), mods=[inn]), (torch.randn(*shape),))


def test_batch_norm_legit_no_stats_outputs():
    # the op itself, with its mean and rstd outputs used
    def fn(x):
        y, mean, rstd = torch.ops.aten._native_batch_norm_legit.no_stats(x, None, None, True, 0.1, 1e-5)
        return y, mean, rstd
    check_module(Fn(fn), (X4,))


class LegitBatchNorm(nn.Module):
    """_native_batch_norm_legit.default on registered buffers (export makes it the functional op)."""

    def __init__(self, training, conv=False):
        super().__init__()
        self.training_flag = training
        self.conv = nn.Conv2d(3, 3, 1) if conv else None
        self.register_buffer("rm", torch.randn(3))
        self.register_buffer("rv", torch.rand(3) + 0.5)
        self.w, self.b = nn.Parameter(torch.randn(3)), nn.Parameter(torch.randn(3))

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        return torch.ops.aten._native_batch_norm_legit.default(x, self.w, self.b, self.rm, self.rv,
                                                               self.training_flag, 0.1, 1e-5)[0]


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_legit_with_running_stats(training, conv):
    check_module(LegitBatchNorm(training, conv), (X4,))


def test_batch_norm_legit_training_uses_batch_stats():
    def fn(x):
        return torch.ops.aten._native_batch_norm_legit.default(x, None, None, torch.zeros(3), torch.ones(3), True,
                                                               0.1, 1e-5)[0]
    check_module(Fn(fn, conv=False), (X4,))


def test_layer_and_group_norm_stats_outputs():
    def fn(x):
        y, mean, rstd = torch.ops.aten.native_layer_norm(x, [5, 6], None, None, 1e-5)
        gy, gmean, grstd = torch.ops.aten.native_group_norm(x, None, None, 2, 3, 30, 3, 1e-5)
        return y, mean, rstd, gy, gmean, grstd
    check_module(Fn(fn), (X4,))

"""Attention as LiteRT's XNNPACK path wants it: scaled_dot_product_attention (no mask, causal, a
constant mask, a mask given at run time) and the decomposed bmm/softmax form, against PyTorch eager
on both runtimes, with the ops counted: BATCH_MATMUL + SOFTMAX, no fully-masked-row guard when no
row can be fully masked, and TRANSPOSE only where the heads are split and merged."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import check_module, tflite_ops

torch.manual_seed(0)
GUARD = {"EQUAL", "LOGICAL_NOT", "REDUCE_ANY", "SELECT_V2"}


class SelfAttention(nn.Module):
    def __init__(self, dim=64, heads=4, mask=None, causal=False):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.register_buffer("mask", mask)

    def forward(self, x, mask=None):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mask = self.mask if mask is None else mask
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


def ops_of(module, args):
    edge = check_module(module, args)
    return tflite_ops(edge.model_content())


X = torch.randn(1, 16, 64)


def test_no_mask():
    ops = ops_of(SelfAttention(), (X,))
    assert ops.count("BATCH_MATMUL") == 2 and ops.count("SOFTMAX") == 1
    assert not GUARD & set(ops), ops
    assert ops.count("TRANSPOSE") <= 4, ops  # q, k, v split into heads, heads merged


def test_long_sequence():
    """4 heads x 160 x 160 scores: the guard's zeros are a FILL (too large for a constant), not a
    constant; the guard goes all the same."""
    ops = ops_of(SelfAttention(), (torch.randn(1, 160, 64),))
    assert not GUARD & set(ops), ops


def test_causal():
    ops = ops_of(SelfAttention(causal=True), (X,))
    assert not GUARD & set(ops), ops


def test_constant_mask_without_fully_masked_rows():
    mask = torch.rand(16, 16) > 0.5
    mask[:, 0] = True  # every query sees the first key
    ops = ops_of(SelfAttention(mask=mask), (X,))
    assert not GUARD & set(ops), ops


def test_constant_mask_with_a_fully_masked_row_keeps_the_guard():
    mask = torch.rand(16, 16) > 0.5
    mask[3] = False  # query 3 sees nothing: PyTorch gives zeros there, not NaN
    ops = ops_of(SelfAttention(mask=mask), (X,))
    assert "SELECT_V2" in ops


def test_mask_given_at_run_time_keeps_the_guard():
    mask = torch.rand(1, 1, 16, 16) > 0.3
    mask[..., 5, :] = False
    ops = ops_of(SelfAttention(), (X, mask))
    assert "SELECT_V2" in ops


class DecomposedAttention(nn.Module):
    """The textbook form: bmm, scale, additive mask, softmax, bmm."""

    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.register_buffer("bias", torch.triu(torch.full((16, 16), float("-inf")), 1))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5 + self.bias
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)


def test_decomposed_attention():
    ops = ops_of(DecomposedAttention(), (X,))
    assert ops.count("BATCH_MATMUL") == 2 and ops.count("SOFTMAX") == 1
    assert not GUARD & set(ops), ops

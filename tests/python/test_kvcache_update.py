"""The KV cache's per-step update: index_put / index_copy_ with one runtime index of one element
on one dim lowers to DYNAMIC_UPDATE_SLICE (work proportional to the written row), checked against
PyTorch on LiteRT (with and without its default XNNPACK delegate) and on pt2lite's runtime."""
import numpy as np
import pytest
import torch

import pt2lite
from conftest import Fn, check_module, run_pt2lite, run_signature, tflite_ops

litert = pytest.importorskip("ai_edge_litert.interpreter")

CACHE = (1, 2, 8, 4)  # [batch, kv_heads, max_seq_len, head_dim]


def cache_update(x, pos, v):
    return torch.ops.aten.index_put.default(x, [None, None, pos], v, False)


@pytest.mark.parametrize("position", [0, 5, 7, -1, -8])
def test_one_position_is_a_dynamic_update_slice(position):
    edge = check_module(Fn(cache_update), (torch.randn(CACHE), torch.tensor([position]), torch.randn(1, 2, 1, 4)))
    ops = tflite_ops(edge.model_content())
    assert "DYNAMIC_UPDATE_SLICE" in ops and "SCATTER_ND" not in ops and "TRANSPOSE" not in ops, ops


@pytest.mark.parametrize("dim", [0, 1, 3])
def test_other_dims_and_broadcast_values(dim):
    def fn(x, pos, v):
        indices = [None] * dim + [pos]
        return torch.ops.aten.index_put.default(x, indices, v, False)
    values = torch.randn(4)[: CACHE[3] if dim != 3 else 1]  # broadcast over the leading dims
    edge = check_module(Fn(fn), (torch.randn(CACHE), torch.tensor([CACHE[dim] - 1], dtype=torch.int32), values))
    assert "DYNAMIC_UPDATE_SLICE" in tflite_ops(edge.model_content())


def test_index_copy_in_a_module_state():
    class Cache(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("k", torch.zeros(CACHE))

        def forward(self, pos, k):
            self.k.index_copy_(2, pos, k)
            return self.k * 1.0

    check_module(Cache(), (torch.tensor([3]), torch.randn(1, 2, 1, 4)))


def test_several_positions_keep_the_scatter():
    edge = check_module(Fn(cache_update), (torch.randn(CACHE), torch.tensor([1, 2, 3]), torch.randn(1, 2, 3, 4)))
    assert "DYNAMIC_UPDATE_SLICE" not in tflite_ops(edge.model_content())


def test_out_of_range_position_wraps_like_the_scatter_form():
    """PyTorch raises for a position >= the dim's size. The converted file wraps the index (FLOOR_MOD,
    as the SCATTER_ND form did): position 8 of 8 writes row 0 on both runtimes, never past the end
    (DYNAMIC_UPDATE_SLICE's clamp would otherwise move it to the last row). Generator and the C
    generator refuse positions >= max_seq_len before they get here."""
    x, v = torch.randn(CACHE), torch.randn(1, 2, 1, 4)
    with pytest.raises((IndexError, RuntimeError)):
        cache_update(x, torch.tensor([8]), v)
    edge = pt2lite.convert(Fn(cache_update).eval(), (x, torch.tensor([0]), v))
    content = edge.model_content()
    inputs = [x.numpy(), np.array([8], dtype=np.int64), v.numpy()]
    expected = cache_update(x, torch.tensor([0]), v).numpy()
    for resolver in (None, litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES):
        options = {} if resolver is None else {"experimental_op_resolver_type": resolver}
        np.testing.assert_array_equal(run_signature(litert.Interpreter, content, inputs, **options)[0], expected)
    np.testing.assert_array_equal(run_pt2lite(content, inputs)[0], expected)


class DecodeCache(torch.nn.Module):
    """A decode step's cache: written at one position, then read (the update happens in the variable's
    buffer on pt2lite's runtime: src/runtime/variable_alias.c)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("k", torch.zeros(CACHE))

    def forward(self, k, pos):
        self.k.index_copy_(2, pos, k)
        return (self.k * torch.arange(1.0, 9.0)[:, None]).sum(2)


def test_cache_updated_in_place_over_several_steps():
    from test_state import check_stateful
    inputs = [(torch.randn(1, 2, 1, 4), torch.tensor([p])) for p in (0, 1, 2, 7, 1, 5)]
    check_stateful(DecodeCache(), inputs)

"""Indexing lowerings against PyTorch eager on both runtimes: gathers, advanced indexing, scatters
(src/lower/lower_index.c), sort/topk (lower_sort.c), flip, repeat, split (lower_shape.c), diagonal and
as_strided (lower_strided.c). Layout-sensitive ones also run
after a conv (NHWC inside); indices come as int64 model inputs (cast inside), as constants (checked
and wrapped at conversion time) or computed in the graph."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2lite
from conftest import Fn, check_module, tflite_ops

torch.manual_seed(0)


X4 = torch.randn(2, 3, 5, 6)
I3 = torch.tensor([1, 0, 1])

# ---------------------------------------------------------------- embedding, index_select, gather


@pytest.mark.parametrize("shape", [(5,), (2, 3)], ids=["1d", "2d"])
def test_embedding(shape):
    emb = nn.Embedding(10, 4)
    idx = torch.randint(0, 10, shape)
    check_module(Fn(lambda i: emb(i) * 2, mods=[emb]), (idx,))


def test_embedding_0d_index():
    # a 0-d index made inside the graph (LiteRT's signature runner turns 0-d model inputs into [1])
    emb = nn.Embedding(10, 4)
    check_module(Fn(lambda i: emb(i.sum()) * 2, mods=[emb]), (torch.tensor([3, 4]),))


def test_embedding_constant_indices():
    emb = nn.Embedding(10, 4)
    check_module(Fn(lambda x: emb(torch.tensor([[1, 9], [0, 3]])) + x, mods=[emb]), (torch.randn(2, 2, 4),))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_index_select(dim, conv):
    check_module(Fn(lambda x, i: x.index_select(dim, i), conv), (X4, torch.tensor([1, 0, 1])))


def test_index_select_0d_index_and_constant():
    check_module(Fn(lambda x, i: (x.index_select(1, i.sum()), x.index_select(2, torch.tensor([4, 0])))),
                 (X4, torch.tensor([1, 1])))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_gather(dim, conv):
    shape = list(X4.shape)
    shape[1] = 4 if conv else 3
    size = shape[dim]
    shape[dim] = 3
    shape[0] = 1  # smaller than the input in a non-gathered dim too
    idx = torch.randint(0, size, shape)
    check_module(Fn(lambda x, i: x.gather(dim, i), conv), (X4, idx))


def test_gather_constant_index_last_dim():
    idx = torch.tensor([[0, 2], [1, 1], [2, 0]])
    check_module(Fn(lambda x: torch.gather(x, -1, idx)), (torch.randn(3, 4),))


# ---------------------------------------------------------------- advanced indexing


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x, i: x[i],
    lambda x, i: x[:, i],
    lambda x, i: x[:, :, i],
    lambda x, i: x[..., i],
    lambda x, i: x[:, i.view(3, 1)],
    lambda x, i: x[:, :, i, i],
    lambda x, i: x[i.view(3, 1) % 2, :, i],
    lambda x, i: x[:, i % 2, :, i.view(3, 1)],
    lambda x, i: x[:, 1:, i],
], ids=["dim0", "dim1", "dim2", "last", "2d_index", "two_adjacent", "non_adjacent_broadcast",
        "non_adjacent_middle", "after_slice"])
def test_index(fn, conv):
    check_module(Fn(lambda x, i: fn(x, i) * 2, conv), (X4, I3))


def test_index_negative_indices():
    check_module(Fn(lambda x, i: (x[:, i], x[:, torch.tensor([-1, 0, -2])], x[i, i + 1])), (X4, torch.tensor([-1, 1, -2])))


def test_index_int_and_bool_data():
    check_module(Fn(lambda x, i: (x[i], (x > 0)[:, i])), (torch.randint(-5, 5, (4, 3), dtype=torch.int32),
                                                         torch.tensor([2, 0])))


def test_index_boolean_mask_is_refused():
    with pytest.raises(pt2lite.Pt2liteError, match="boolean mask"):
        pt2lite.convert(Fn(lambda x: x[x > 0]), (X4,))


# ---------------------------------------------------------------- index_put and scatters


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("indices, values", [
    (lambda i: [i], lambda v: v),
    (lambda i: [None, i], lambda v: v[0]),
    (lambda i: [None, None, i], lambda v: torch.tensor(1.5)),
    (lambda i: [i, None, i], lambda v: v[:, 0, 0, :]),
    (lambda i: [None, i, i.view(3, 1)], lambda v: v[0, 0, 0]),
], ids=["dim0", "dim1", "scalar_value", "non_adjacent", "adjacent_broadcast"])
def test_index_put(indices, values, accumulate):
    def fn(x, i, v):
        return torch.ops.aten.index_put.default(x, indices(i), values(v), accumulate)
    check_module(Fn(fn), (torch.randn(3, 3, 5, 6), torch.tensor([2, 0, 1]), torch.randn(3, 3, 5, 6)))


def test_index_put_duplicates_accumulate():
    check_module(Fn(lambda x, i, v: x.index_put((i,), v, accumulate=True)),
                 (torch.randn(4, 3), torch.tensor([1, 1, 3, 1]), torch.randn(4, 3)))


def test_index_put_constant_indices_and_setitem():
    def fn(x):
        y = x.clone()
        y[torch.tensor([0, 2])] = 7.0
        return y
    check_module(Fn(fn), (torch.randn(4, 3),))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter(dim):
    x = torch.randn(4, 5, 6)
    shape = [4, 5, 6]
    # a permutation per row along `dim` keeps the indices distinct (torch leaves duplicates undefined)
    idx = torch.argsort(torch.rand(*shape), dim=dim).narrow(dim, 0, 3)
    src = torch.randn(4, 5, 6)
    check_module(Fn(lambda x, i, s: (x.scatter(dim, i, s), x.scatter(dim, i, 2.5))), (x, idx, src))


@pytest.mark.parametrize("dim", [0, -1])
def test_scatter_add(dim):
    x = torch.randn(3, 4)
    idx = torch.randint(0, 3 if dim == 0 else 4, (2, 4))
    check_module(Fn(lambda x, i, s: x.scatter_add(dim, i, s)), (x, idx, torch.randn(2, 5)))


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    x = torch.randn(3, 4)
    idx = torch.tensor([[0, 1, 1, 2], [2, 1, 0, 2]])
    check_module(Fn(lambda x, i, s: x.scatter_reduce(0, i, s, reduce, include_self=include_self)),
                 (x, idx, torch.randn(2, 4)))


def test_scatter_reduce_amax_is_refused():
    with pytest.raises(pt2lite.Pt2liteError, match="'amax'"):
        pt2lite.convert(Fn(lambda x, i: x.scatter_reduce(0, i, x, "amax")), (torch.randn(3, 4), torch.zeros(3, 4, dtype=torch.long)))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim, index", [(1, 0), (1, -1), (2, 2), (-1, 3)])
def test_select_scatter(dim, index, conv):
    check_module(Fn(lambda x: torch.select_scatter(x, x.select(dim, 0) * 10, dim, index), conv), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim, start, end, step", [(1, 0, 2, 1), (2, 1, 4, 1), (3, 2, None, 1), (3, 0, 6, 2),
                                                   (2, 1, 5, 3), (-1, -3, None, 1)])
def test_slice_scatter(dim, start, end, step, conv):
    def fn(x):
        part = x[(slice(None),) * (dim % 4) + (slice(start, end, step),)]
        return torch.slice_scatter(x, part * 10, dim, start, end, step)
    check_module(Fn(fn, conv), (X4,))


def test_masked_scatter():
    x = torch.randn(3, 4)
    mask = torch.rand(3, 4) > 0.5
    check_module(Fn(lambda x, m, s: x.masked_scatter(m, s)), (x, mask, torch.randn(15)))


def test_masked_scatter_broadcast_mask():
    check_module(Fn(lambda x, m, s: x.masked_scatter(m, s)),
                 (torch.randn(3, 4), torch.tensor([True, False, True, True]), torch.randn(3, 4)))


# ---------------------------------------------------------------- sort, topk


def distinct(*shape):
    return torch.randperm(torch.Size(shape).numel()).float().reshape(shape) / 7


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim, descending", [(-1, False), (-1, True), (1, False), (0, True), (2, False)])
def test_sort(dim, descending, conv):
    x = distinct(2, 3, 5, 6)
    check_module(Fn(lambda x: tuple(torch.sort(x, dim, descending=descending)), conv), (x,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("k, dim, largest", [(2, -1, True), (3, 1, False), (1, 2, True), (6, 3, False)])
def test_topk(k, dim, largest, conv):
    if conv and dim == 1:
        k = 2
    x = distinct(2, 3, 5, 6)
    check_module(Fn(lambda x: tuple(torch.topk(x, k, dim, largest=largest)), conv), (x,))


def test_topk_int_and_sort_values_only():
    x = torch.randperm(20, dtype=torch.int32).reshape(4, 5)
    check_module(Fn(lambda x: (x.topk(2)[0], x.sort(0)[0], x.sort(1)[1])), (x,))


# ---------------------------------------------------------------- flip, repeat, diagonal, split


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (2, 3), (0, 1, 2, 3)])
def test_flip(dims, conv):
    check_module(Fn(lambda x: x.flip(dims) + 1, conv), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("reps", [(1, 2, 1, 3), (2, 1, 1, 1), (2, 1, 2, 1, 1), (1, 1, 1, 1)])
def test_repeat(reps, conv):
    check_module(Fn(lambda x: x.repeat(*reps) * 2, conv), (X4,))


def test_repeat_small_ranks():
    check_module(Fn(lambda x: (x.repeat(3), x.repeat(2, 2))), (torch.randn(4),))


@pytest.mark.parametrize("offset, d1, d2", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (0, 2, 3), (2, -1, -2), (-2, 3, 1)])
def test_diagonal(offset, d1, d2):
    check_module(Fn(lambda x: torch.diagonal(x, offset, d1, d2) * 2), (X4,))


def test_diagonal_2d():
    check_module(Fn(lambda x: (x.diagonal(), x.diagonal(1), torch.diag(x, -2))), (torch.randn(5, 4),))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x.split([1, 2], 1) if x.shape[1] == 3 else x.split([1, 3], 1),
    lambda x: x.split(2, -1),
    lambda x: x.chunk(2, 2),
    lambda x: x.split([4, 1], 2)[1],
], ids=["sizes", "even_last", "chunk", "one_used"])
def test_split(fn, conv):
    check_module(Fn(lambda x: tuple(t * 2 for t in fn(x)) if isinstance(fn(x), tuple) else fn(x) * 2, conv), (X4,))


# ---------------------------------------------------------------- as_strided and refused ops


@pytest.mark.parametrize("size, stride, offset", [((6, 5), (5, 1), 0), ((3, 2), (1, 3), 0), ((4, 3), (2, 1), 1)],
                         ids=["reshape", "transposed", "overlapping"])
def test_as_strided(size, stride, offset):
    check_module(Fn(lambda x: torch.as_strided(x + 1, size, stride, offset)), (torch.randn(30),))


def test_nonzero_is_refused_with_reason():
    with pytest.raises(pt2lite.Pt2liteError, match="nonzero's output size depends"):
        pt2lite.convert(Fn(lambda x: torch.nonzero(x)), (X4,))


@pytest.mark.parametrize("conv", [False, True])
def test_equal_split_is_split_and_delegated(conv):
    """Equal pieces (GPT-2 splits its fused qkv projection in three) are SPLIT, which LiteRT's
    XNNPACK path takes; SPLIT_V stays for unequal ones."""
    from conftest import xnnpack_delegation

    edge = check_module(Fn(lambda x: tuple(t * 2 for t in torch.cat([x, x, x], 1).split(x.shape[1], 1)), conv), (X4,))
    ops = tflite_ops(edge.model_content())
    assert "SPLIT" in ops and "SPLIT_V" not in ops, ops
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total, f"XNNPACK takes {delegated} of {total}: {ops}"

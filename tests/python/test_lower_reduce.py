"""Reductions (src/lower/lower_reduce.c) against PyTorch eager on LiteRT, on plain inputs and on
NHWC tensors coming out of a conv (where the axes are mapped through the layout)."""

import pytest
import torch

from conftest import Fn, check_module, tflite_ops

torch.manual_seed(0)


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


# ---------------------------------------------------------------- prod, any, var, arg reductions, cumsum


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x.prod(),
    lambda x: x.prod(1),
    lambda x: x.prod(-1, keepdim=True),
], ids=["all", "dim", "neg_keepdim"])
def test_prod(fn, conv):
    check_module(Fn(lambda x: fn(x.tanh() + 1), conv), (X4,))


def test_prod_int():
    check_module(Fn(lambda x: x.prod(0)), (torch.randint(-3, 4, (3, 4), dtype=torch.int32),))


@pytest.mark.parametrize("fn", [
    lambda x: x.any(),
    lambda x: x.any(1),
    lambda x: x.any(-1, keepdim=True),
    lambda x: x.any((1, 2)),
    lambda x: x.any(0).any(-1),
], ids=["all", "dim", "neg_keepdim", "dims", "chain"])
def test_any(fn):
    check_module(Fn(fn), (torch.rand(2, 3, 5, 6) > 0.9,))


def test_any_float_int_and_0d():
    def fn(x, i):
        s = x.sum()  # 0-d
        return x.any(1), i.any(0), s.any(), s.prod()
    x = torch.tensor([[0.0, 0.0, 1.5], [0.0, 0.0, 0.0]])
    i = torch.tensor([[0, 0], [0, 3]], dtype=torch.int32)
    check_module(Fn(fn), (x, i))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x.var(1),
    lambda x: x.var((2, 3), keepdim=True),
    lambda x: torch.var(x, -1, unbiased=False),
    lambda x: torch.var(x, (0, 2), correction=2),
    lambda x: x.var(),
], ids=["dim", "dims_keepdim", "biased", "correction2", "all"])
def test_var(fn, conv):
    check_module(Fn(fn, conv), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x.argmax(),
    lambda x: x.argmax(1),
    lambda x: x.argmin(-1, keepdim=True),
    lambda x: x.argmax(2, keepdim=True),
    lambda x: torch.argmax(x, keepdim=True),
    lambda x: x.argmin(0),
], ids=["flat", "dim", "neg_keepdim", "keepdim", "flat_keepdim", "argmin0"])
def test_argmax(fn, conv):
    check_module(Fn(fn, conv), (X4,))


def test_argmax_int_and_0d():
    x = torch.randperm(12, dtype=torch.int32).reshape(3, 4)
    check_module(Fn(lambda x: (x.argmax(1), x.argmin(), x.sum().argmax(), torch.var(x.float().sum(), unbiased=False) + 1)), (x,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim, keepdim", [(1, False), (-1, True), (2, False)])
def test_max_min_dim(op, dim, keepdim, conv):
    check_module(Fn(lambda x: tuple(getattr(x, op)(dim, keepdim=keepdim)), conv), (X4,))


def test_max_dim_indices_only():
    check_module(Fn(lambda x: x.max(1)[1] + 1), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_cumsum(dim, conv):
    check_module(Fn(lambda x: x.cumsum(dim), conv), (X4,))


def test_cumsum_dtypes():
    def fn(x, b):
        return x.cumsum(1), b.cumsum(0), x.cumsum(1, dtype=torch.float32), x.sum().cumsum(0) * 2
    x = torch.randint(-5, 5, (3, 4), dtype=torch.int32)
    check_module(Fn(fn), (x, x > 0))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dims, keepdim", [((1,), False), ((2, 3), True), (None, False)])
def test_var_mean(dims, keepdim, conv):
    check_module(Fn(lambda x: torch.var_mean(x, dims, keepdim=keepdim), conv), (X4,))


@pytest.mark.parametrize("op", ["mean", "sum"])
def test_float_sum_of_a_million_terms_keeps_fp32_accuracy(op):
    """Group norm over a long signal (ConvTasNet) reduces ~1M floats: summed in float32 one by one,
    the result drifts by ~1e-5 relative, amplified later by the variance's cancellation. pt2lite's
    runtime sums in double; PyTorch's pairwise sum is as exact."""
    import pt2lite
    from conftest import assert_close, run_pt2lite

    x = 100 + torch.randn(1, 1 << 20)
    edge = pt2lite.convert(Fn(lambda t: getattr(t, op)(1)), (x,))
    expected = getattr(x.double(), op)(1).numpy()
    got = run_pt2lite(edge.model_content(), [x.numpy()])[0]
    assert_close(got, expected, rtol=1e-6, atol=0)  # one sum of ~1e8: relative error only


@pytest.mark.parametrize("ord, dim, keepdim", [(2, None, False), (2, (1, 2), True), (1, 1, False),
                                               (float("inf"), -1, False), (float("-inf"), 0, True), (3, 2, False)])
@pytest.mark.parametrize("conv", [False, True])
def test_vector_norm(ord, dim, keepdim, conv):
    """torch 2.14's default decompositions rewrite linalg_vector_norm before the archive is saved
    (torch 2.9's keep it: weight norm in torchaudio): exported here with a table that keeps it."""
    import io

    import pt2lite
    from conftest import assert_close, run_litert, run_pt2lite
    from pt2lite._record import record_ops

    module = Fn(lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim), conv).eval()
    table = torch.export.default_decompositions()
    table.pop(torch.ops.aten.linalg_vector_norm.default, None)
    program = torch.export.export(module, (X4,)).run_decompositions(table)
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "aten.linalg_vector_norm.default" in targets, targets
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    content = pt2lite.convert_pt2(buffer.getvalue())
    record_ops(program)
    with torch.no_grad():
        expected = module(X4).numpy()
    for run in (run_litert, run_pt2lite):
        assert_close(run(content, [X4.numpy()])[0], expected)

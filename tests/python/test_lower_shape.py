"""Shape and data-movement lowerings (src/lower/lower_shape.c) against PyTorch eager on LiteRT.

Each module runs twice where layout matters: on a plain input (logical layout) and after a conv
(NHWC inside), so both the logical and the physical-axis paths are exercised."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2lite
from conftest import Fn, assert_close, check_both_runtimes, check_module, tflite_ops

torch.manual_seed(0)


def transposes(edge):
    return tflite_ops(edge.model_content()).count("TRANSPOSE")


X4 = torch.randn(2, 3, 5, 6)

# ---------------------------------------------------------------- view / reshape


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x.view(2, -1),
    lambda x: x.reshape(-1, x.shape[-1]),
    lambda x: x.flatten(2),
    lambda x: x.reshape(2, x.shape[1], 3, 10),
    lambda x: x.contiguous().view(x.shape[0], x.shape[1], -1).sum(-1),
], ids=["view_-1", "reshape_rows", "flatten2", "split_spatial", "view_then_sum"])
def test_view(fn, conv):
    check_module(Fn(fn, conv), (X4,))


def test_view_after_global_pool_needs_no_transpose():
    # [N,C,1,1] in NHWC -> [N,C]: only size-1 axes move, so the reshape runs physically
    edge = check_module(Fn(lambda x: x.mean((2, 3), keepdim=True).view(2, -1) * 2, conv=True), (X4,))
    assert transposes(edge) == 1  # the model input only


def test_view_merging_leading_axes_of_a_permute_is_physical():
    # [B,H,N,D] permuted from [B,N,H,D]; merging B,H is contiguous in the permuted layout
    def fn(x):
        y = x.view(2, 5, 3, 4).permute(0, 2, 1, 3)  # B,H,N,D (a layout, no op)
        return y.reshape(6, 5, 4) + 1
    edge = check_module(Fn(fn), (torch.randn(2, 5, 12),))
    assert transposes(edge) == 1  # the reshape output must be reordered once, for the logical result


@pytest.mark.parametrize("fn", [
    lambda x: x.permute(0, 2, 1).reshape(2, 12),      # merge needs a reorder: TRANSPOSE first
    lambda x: x.permute(2, 0, 1).reshape(4, 2, 3, 1),  # 1:1 axes plus a new unit axis
    lambda x: x.permute(2, 1, 0).reshape(2, 2, 6),     # split of the physically first axis
    lambda x: x.transpose(0, 1).reshape(3, 2, 2, 2),   # split of a non-leading axis
], ids=["merge_reordered", "unit_axis", "split_first", "split_inner"])
def test_view_of_permuted(fn):
    check_module(Fn(lambda x: fn(x) * 2), (torch.randn(2, 3, 4),))


# ---------------------------------------------------------------- permute


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dims", [(0, 2, 3, 1), (3, 2, 1, 0), (0, 1, 3, 2), (-1, 0, -2, 1)])
def test_permute(dims, conv):
    check_module(Fn(lambda x: x.permute(*dims) * 3, conv), (X4,))


def test_permute_round_trip_emits_no_transpose():
    edge = check_module(Fn(lambda x: x.permute(0, 2, 3, 1).relu().permute(0, 3, 1, 2) + 1), (X4,))
    assert transposes(edge) == 0


def test_permute_to_nhwc_after_conv_is_free():
    # conv output is NHWC inside: asking for the NHWC permutation costs nothing
    edge = check_module(Fn(lambda x: x.permute(0, 2, 3, 1), conv=True), (X4,))
    assert transposes(edge) == 1  # the model input only


# ---------------------------------------------------------------- squeeze / unsqueeze


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x.squeeze(),
    lambda x: x.squeeze(2),
    lambda x: x.squeeze(-1),
    lambda x: x.squeeze((2, 4)),
    lambda x: x.squeeze(1),  # not size 1: no change
], ids=["all", "dim", "neg_dim", "dims", "noop"])
def test_squeeze(fn, conv):
    def body(x):
        return fn(x.unsqueeze(2).unsqueeze(-1)) + 1
    check_module(Fn(body, conv), (X4,))


def test_squeeze_after_conv_keeps_nhwc():
    m = Fn(lambda x: x.mean(2, keepdim=True).squeeze(2).relu(), conv=True)
    check_module(m, (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, 4, -1, -3])
def test_unsqueeze(dim, conv):
    check_module(Fn(lambda x: x.unsqueeze(dim) * 2, conv), (X4,))


# ---------------------------------------------------------------- cat


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -3])
def test_cat(dim, conv):
    check_module(Fn(lambda x: torch.cat([x, x * 2, x + 1], dim), conv), (X4,))


class CatConstant(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1) if conv else None
        self.register_buffer("extra", torch.randn(2, 2, 5, 6))

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        return torch.cat([self.extra, x], dim=1)


@pytest.mark.parametrize("conv", [False, True])
def test_cat_with_constant_first(conv):
    edge = check_module(CatConstant(conv), (X4,))
    if conv:
        # the constant is laid out NHWC at conversion time; only the model input and output are
        # transposed
        assert transposes(edge) == 2


def test_cat_two_inputs_different_layouts():
    conv = nn.Conv2d(3, 3, 1)
    check_module(Fn(lambda x, y: torch.cat([y, conv(x), x], 1)), (X4, torch.randn(2, 3, 5, 6)))


def test_cat_of_nhwc_branches_needs_no_transpose():
    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 5, 3, padding=1), nn.Conv2d(9, 2, 1)

        def forward(self, x):
            return self.c(torch.cat([self.a(x), self.b(x)], 1))
    edge = check_module(Branches(), (X4,))
    assert transposes(edge) == 2  # the model input and output only


# ---------------------------------------------------------------- slice


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x[:, 1:],
    lambda x: x[:, :, -3:],
    lambda x: x[..., 1:-1],
    lambda x: x[:, :, ::2],
    lambda x: x[:, 1::2, 1:100],
    lambda x: x[:, -100:2],
    lambda x: x[:, :, :, 2:5:3],
    lambda x: x[:, :],
], ids=["start", "neg_start", "both_neg", "step", "step_huge_end", "clamped_start", "step_3", "full"])
def test_slice(fn, conv):
    check_module(Fn(lambda x: fn(x) + 1, conv), (X4,))


def test_slice_3d_plain():
    check_module(Fn(lambda x: x[:, 2:7, :3]), (torch.randn(2, 8, 4),))


# ---------------------------------------------------------------- select


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("fn", [
    lambda x: x[:, 1],
    lambda x: x[:, -1],
    lambda x: x[0],
    lambda x: x[:, :, 2],
    lambda x: x[..., -2],
    lambda x: x.select(3, 5),
], ids=["channel", "neg_channel", "batch", "row", "neg_col", "last_col"])
def test_select(fn, conv):
    check_module(Fn(lambda x: fn(x) * 2, conv), (X4,))


# ---------------------------------------------------------------- identity and casts


class Identities(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(x).clone() + torch.ops.aten.alias(x)


def test_identities():
    edge = check_module(Identities(), (X4,))
    assert tflite_ops(edge.model_content()) == ["ADD"]


def test_clone_of_input_as_output():
    check_module(Fn(lambda x: x.clone()), (X4,))


def test_lifted_constant_clone():
    check_module(Fn(lambda x: x + torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])), (X4,))


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.float32, torch.float64])
def test_to_copy(dtype, conv):
    check_module(Fn(lambda x: (x * 3).to(dtype), conv), (X4,))


def test_to_copy_int_to_float():
    check_module(Fn(lambda x: x.float() / 2), (torch.randint(-5, 5, (3, 4), dtype=torch.int32),))


def test_to_copy_int64_to_int32_is_free():
    edge = check_module(Fn(lambda x: x.int() + 1), (torch.randint(-5, 5, (3, 4), dtype=torch.int32),))
    assert "CAST" not in tflite_ops(edge.model_content())


# ---------------------------------------------------------------- expand


@pytest.mark.parametrize("fn, shape", [
    (lambda x: x.expand(2, 3, 4), (2, 1, 4)),
    (lambda x: x.expand(-1, 5, -1), (2, 1, 4)),
    (lambda x: x.expand(3, 4), (4,)),
    (lambda x: x.expand(2, 3, -1, -1), (3, 1, 1)),
    (lambda x: x.expand(2, 3), (2, 3)),
], ids=["middle", "minus_one", "new_axis", "two_new_axes", "same"])
def test_expand(fn, shape):
    check_module(Fn(lambda x: fn(x) + 1), (torch.randn(*shape),))


def test_expand_after_conv():
    check_module(Fn(lambda x: x.mean(2, keepdim=True).expand(-1, -1, 5, -1), conv=True), (X4,))


# ---------------------------------------------------------------- constant_pad_nd


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("pad, value", [
    ((1, 2), 0.0),
    ((1, 1, 2, 0), 0.0),
    ((0, 0, 0, 0, 1, 2), 0.0),
    ((2, 1), 2.5),
    ((1, -1, -2, 1), 0.0),
    ((-1, -2), -3.0),
    ((0, 0), 0.0),
], ids=["last", "two_axes", "channels", "value", "mixed_negative", "crop_only", "zero"])
def test_constant_pad(pad, value, conv):
    check_module(Fn(lambda x: F.pad(x, pad, value=value) + 1, conv), (X4,))


def test_constant_pad_int():
    check_module(Fn(lambda x: F.pad(x, (1, 1), value=7)), (torch.randint(0, 9, (2, 3), dtype=torch.int32),))


def test_constant_pad_zero_delegates_to_xnnpack():
    from conftest import xnnpack_delegation
    edge = check_module(Fn(lambda x: F.pad(x, (1, 2, 3, 4)), conv=True), (X4,))
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total


# ---------------------------------------------------------------- dynamic batch


class DynamicBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return (y[:, 1:, ::2, -3:], y[:, -2], torch.cat([y, x], 1)[..., 1:-1], F.pad(y, (1, 2)),
                y.unsqueeze(2).squeeze(2), y.permute(0, 2, 3, 1) * 2, x.int())


def test_dynamic_batch():
    from torch.export import Dim
    m = DynamicBatch().eval()
    edge = pt2lite.convert(m, (X4,), dynamic_shapes=({0: Dim("batch", min=1, max=8)},))
    for n in (1, 3):
        x = torch.randn(n, 3, 5, 6)
        with torch.no_grad():
            expected = m(x)

        def check(outputs, runtime):
            assert len(outputs) == len(expected), f"{runtime}: {len(outputs)} outputs"
            for i, (g, e) in enumerate(zip(outputs, expected)):
                assert_close(g, e.numpy(), what=f"{runtime} batch {n} output {i}")

        check_both_runtimes(edge.model_content(), [x.numpy()], check)


# ---------------------------------------------------------------- unsupported inputs say why


def test_cast_to_a_dtype_tflite_lacks_is_reported():
    # (bfloat16 converts now: every float dtype computes as float32 inside, docs/dtypes.md)
    with pytest.raises(pt2lite.Pt2liteError, match="ScalarType 28"):
        pt2lite.convert(Fn(lambda x: x.to(torch.uint16).float()), (X4,))


@pytest.mark.parametrize("count, concats", [(65, 2), (150, 4)])  # groups of 64: 64+1, 64+64+22
@pytest.mark.parametrize("conv", [False, True])
def test_cat_of_many_tensors(count, concats, conv):
    """An unrolled RNN concatenates one slice per time step: more inputs than one CONCATENATION
    should hold become a tree of them, in order."""
    edge = check_module(Fn(lambda x: torch.cat([x[:, :, :1] * k for k in range(count)], 2), conv), (X4,))
    assert tflite_ops(edge.model_content()).count("CONCATENATION") == concats


@pytest.mark.parametrize("shape, repeat, ops", [
    ((2, 4, 5, 6), lambda x: x[:, :, None].expand(-1, -1, 2, -1, -1).reshape(2, 8, 5, 6), ["CONCATENATION"]),
    ((2, 4, 5, 1), lambda x: x[:, :1].expand(-1, 3, -1, 4), ["CONCATENATION", "CONCATENATION"]),
    ((2, 4, 5, 6), lambda x: x[:, :1].expand(-1, 7, -1, -1), ["BROADCAST_TO"]),
], ids=["grouped-query", "two-axes", "seven-copies"])
def test_expand_of_a_run_time_tensor(shape, repeat, ops):
    """A few copies along size-1 axes are CONCATENATION (LiteRT's XNNPACK path takes it, not
    BROADCAST_TO); many copies stay BROADCAST_TO."""
    edge = check_module(Fn(lambda x: repeat(x * 2)), (torch.randn(*shape),))
    found = [op for op in tflite_ops(edge.model_content()) if op in ("CONCATENATION", "BROADCAST_TO")]
    assert found == ops, tflite_ops(edge.model_content())

"""Element-wise arithmetic and activations: numerics against PyTorch eager on the official LiteRT
runtime, dtypes, the TFLite ops they become, and how they mix NHWC conv outputs with NCHW inputs."""

import numpy as np
import pytest
import torch
from torch import nn

import pt2lite
from conftest import Fn, check_both_runtimes, check_module, tflite_ops, xnnpack_delegation


def randn(*shape, seed=0, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def randint(*shape, lo=-50, hi=50, seed=0, dtype=torch.int32):
    return torch.randint(lo, hi, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def random_bn(bn, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.1)
        bn.weight.copy_(torch.randn(c, generator=g))
        bn.bias.copy_(torch.randn(c, generator=g))
    return bn


def assert_all_delegated(content):
    delegated, total = xnnpack_delegation(content)
    assert delegated == total, f"XNNPACK takes {delegated} of {total} ops: {tflite_ops(content)}"


X = randn(2, 3, 4, 5)
POS = randn(2, 3, 4, 5, seed=1).abs() + 0.5  # safe divisors

# ---------------------------------------------------------------- float arithmetic

BINARY = [
    # tensor + tensor, same shape
    pytest.param(lambda s, a, b: a + b, (X, randn(2, 3, 4, 5, seed=2)), "ADD", id="add_same"),
    pytest.param(lambda s, a, b: a - b, (X, randn(2, 3, 4, 5, seed=2)), "SUB", id="sub_same"),
    pytest.param(lambda s, a, b: a * b, (X, randn(2, 3, 4, 5, seed=2)), "MUL", id="mul_same"),
    pytest.param(lambda s, a, b: a / b, (X, POS), "DIV", id="div_same"),
    # broadcasting [N,C,H,W] op [C,1,1]
    pytest.param(lambda s, a, b: a + b, (X, randn(3, 1, 1, seed=3)), "ADD", id="add_bcast_c11"),
    pytest.param(lambda s, a, b: a - b, (X, randn(3, 1, 1, seed=3)), "SUB", id="sub_bcast_c11"),
    pytest.param(lambda s, a, b: a * b, (X, randn(3, 1, 1, seed=3)), "MUL", id="mul_bcast_c11"),
    pytest.param(lambda s, a, b: a / b, (X, randn(3, 1, 1, seed=3).abs() + 0.5), "DIV", id="div_bcast_c11"),
    # [N,C,H,W] op [W]
    pytest.param(lambda s, a, b: a + b, (X, randn(5, seed=4)), "ADD", id="add_bcast_w"),
    pytest.param(lambda s, a, b: a * b, (X, randn(5, seed=4)), "MUL", id="mul_bcast_w"),
    pytest.param(lambda s, a, b: b - a, (X, randn(5, seed=4)), "SUB", id="sub_bcast_w_first"),
    pytest.param(lambda s, a, b: b / a, (POS, randn(5, seed=4)), "DIV", id="div_bcast_w_first"),
    # both sides broadcast: [N,1,H,1] op [C,1,W]
    pytest.param(lambda s, a, b: a * b, (randn(2, 1, 4, 1), randn(3, 1, 5, seed=5)), "MUL", id="mul_bcast_both"),
    # rank-0 tensor input
    pytest.param(lambda s, a, b: a + b, (X, torch.tensor(1.5)), "ADD", id="add_rank0"),
    pytest.param(lambda s, a, b: a * b, (X, torch.tensor(-2.5)), "MUL", id="mul_rank0"),
    pytest.param(lambda s, a, b: a / b, (X, torch.tensor(1.7)), "DIV", id="div_rank0"),
    pytest.param(lambda s, a, b: b - a, (X, torch.tensor(1.7)), "SUB", id="sub_rank0_first"),
    pytest.param(lambda s, a, b: b / a, (POS, torch.tensor(1.7)), "DIV", id="div_rank0_first"),
]


@pytest.mark.parametrize("fn,args,op", BINARY)
def test_binary_tensor_tensor(fn, args, op):
    content = check_module(Fn(fn, with_self=True), args).model_content()
    assert op in tflite_ops(content)
    assert "TRANSPOSE" not in tflite_ops(content)
    assert_all_delegated(content)


SCALAR = [
    pytest.param(lambda s, a: a + 2, "ADD", id="add_int"),
    pytest.param(lambda s, a: a + 2.5, "ADD", id="add_float"),
    pytest.param(lambda s, a: a - 3, "SUB", id="sub_int"),
    pytest.param(lambda s, a: a - 0.25, "SUB", id="sub_float"),
    pytest.param(lambda s, a: a * -3, "MUL", id="mul_int"),
    pytest.param(lambda s, a: a * 0.125, "MUL", id="mul_float"),
    pytest.param(lambda s, a: a / 4, "DIV", id="div_int"),
    pytest.param(lambda s, a: a / -0.3, "DIV", id="div_float"),
    pytest.param(lambda s, a: 2.5 - a, "SUB", id="rsub_float"),
    pytest.param(lambda s, a: 7 - a, "SUB", id="rsub_int"),
    pytest.param(lambda s, a: torch.rsub(a, 2.0), "SUB", id="torch_rsub"),
    pytest.param(lambda s, a: torch.ops.aten.add.Scalar(a, 1.25), "ADD", id="aten_add_Scalar"),
    pytest.param(lambda s, a: torch.ops.aten.mul.Scalar(a, 3), "MUL", id="aten_mul_Scalar"),
    pytest.param(lambda s, a: torch.ops.aten.sub.Scalar(a, 0.5), "SUB", id="aten_sub_Scalar"),
    pytest.param(lambda s, a: torch.ops.aten.div.Scalar(a, 8), "DIV", id="aten_div_Scalar"),
    pytest.param(lambda s, a: torch.ops.aten.rsub.Scalar(a, 1.5), "SUB", id="aten_rsub_Scalar"),
]


@pytest.mark.parametrize("fn,op", SCALAR)
def test_binary_tensor_scalar(fn, op):
    content = check_module(Fn(fn, with_self=True), (X,)).model_content()
    ops = tflite_ops(content)
    assert ops == [op], ops
    assert_all_delegated(content)


def test_rsub_tensor_tensor():
    check_module(Fn(lambda a, b: torch.rsub(a, b)), (X, randn(5, seed=1)))


def test_constant_operands():
    # buffers: a per-channel [C,1,1] scale, an [H,W] shift and a rank-0 divisor, all constants
    m = Fn(lambda s, a: (a * s.scale + s.shift) / s.div - s.scale,
           scale=randn(3, 1, 1, seed=1), shift=randn(4, 5, seed=2), div=torch.tensor(1.5), with_self=True)
    content = check_module(m, (X,)).model_content()
    assert "TRANSPOSE" not in tflite_ops(content)


def test_chain_of_ops():
    check_module(Fn(lambda a, b: ((a + 1) * b - a / 3) * 0.5 + b), (X, randn(3, 4, 5, seed=9)))


# ---------------------------------------------------------------- integer tensors

INT = [
    pytest.param(lambda s, a, b: a + b, (randint(2, 3, 4), randint(2, 3, 4, seed=1)), id="add"),
    pytest.param(lambda s, a, b: a - b, (randint(2, 3, 4), randint(2, 3, 4, seed=1)), id="sub"),
    pytest.param(lambda s, a, b: a * b, (randint(2, 3, 4), randint(2, 3, 4, seed=1)), id="mul"),
    pytest.param(lambda s, a, b: a + b, (randint(2, 3, 4), randint(4, seed=1)), id="add_bcast"),
    pytest.param(lambda s, a, b: a * b, (randint(2, 3, 4), randint(3, 1, seed=1)), id="mul_bcast"),
    pytest.param(lambda s, a: a + 3, (randint(2, 3, 4),), id="add_scalar"),
    pytest.param(lambda s, a: a * -7, (randint(2, 3, 4),), id="mul_scalar"),
    pytest.param(lambda s, a: 5 - a, (randint(2, 3, 4),), id="rsub_scalar"),
]


@pytest.mark.parametrize("fn,args", INT)
def test_int32(fn, args):
    m = Fn(fn, with_self=True)
    content = check_module(m, args).model_content()
    expected = m(*args).numpy()

    def check(outputs, runtime):
        assert outputs[0].dtype == np.int32, f"{runtime}: int32 op returned {outputs[0].dtype}"
        np.testing.assert_array_equal(outputs[0], expected, err_msg=runtime)

    check_both_runtimes(content, [a.numpy() for a in args], check)


INT_PROMOTE = [
    pytest.param(lambda s, a, b: a / b, (randint(2, 3, 4), randint(2, 3, 4, lo=1, hi=9, seed=1)), id="div_int_int"),
    pytest.param(lambda s, a: a / 4, (randint(2, 3, 4),), id="div_int_scalar"),
    pytest.param(lambda s, a: a * 1.5, (randint(2, 3, 4),), id="mul_int_float_scalar"),
    pytest.param(lambda s, a, b: a + b, (randint(2, 3, 4), randn(2, 3, 4)), id="add_int_float_tensor"),
]


@pytest.mark.parametrize("fn,args", INT_PROMOTE)
def test_int_promotes_to_float(fn, args):
    m = Fn(fn, with_self=True)
    content = check_module(m, args).model_content()

    def check(outputs, runtime):
        assert outputs[0].dtype == np.float32, f"torch returns float32 here, {runtime} returned {outputs[0].dtype}"

    check_both_runtimes(content, [a.numpy() for a in args], check)


def test_int64_inputs_keep_their_dtype():
    args = (randint(2, 3, 4, dtype=torch.int64), randint(2, 3, 4, seed=1, dtype=torch.int64))
    m = Fn(lambda a, b: a * b + a)
    content = check_module(m, args).model_content()
    expected = m(*args).numpy()

    def check(outputs, runtime):
        assert outputs[0].dtype == np.int64, f"{runtime} returned {outputs[0].dtype}"
        np.testing.assert_array_equal(outputs[0], expected, err_msg=runtime)

    check_both_runtimes(content, [a.numpy() for a in args], check)


# ---------------------------------------------------------------- activations

ACTIVATIONS = [
    # (module, input scale, expected TFLite ops)
    pytest.param(nn.ReLU(), 1, ["RELU"], id="relu"),
    pytest.param(nn.ReLU6(), 4, ["RELU6"], id="relu6"),
    pytest.param(nn.Hardtanh(0.0, 6.0), 4, ["RELU6"], id="hardtanh_0_6"),
    pytest.param(nn.Hardtanh(), 2, ["RELU_N1_TO_1"], id="hardtanh_default"),
    pytest.param(nn.Hardtanh(-1.0, 1.0), 2, ["RELU_N1_TO_1"], id="hardtanh_m1_1"),
    pytest.param(nn.Hardtanh(-2.0, 3.0), 4, None, id="hardtanh_m2_3"),
    pytest.param(nn.Hardtanh(0.5, 0.75), 1, None, id="hardtanh_0.5_0.75"),
    pytest.param(Fn(lambda a: torch.clamp(a, min=-0.5)), 1, ["MAXIMUM"], id="clamp_min"),
    pytest.param(Fn(lambda a: torch.clamp(a, min=0)), 1, ["RELU"], id="clamp_min_0"),
    pytest.param(Fn(lambda a: torch.clamp(a, max=0.3)), 1, ["MINIMUM"], id="clamp_max"),
    pytest.param(Fn(lambda a: torch.clamp(a, -0.3, 0.7)), 1, None, id="clamp_both"),
    pytest.param(Fn(lambda a: torch.clamp(a, 0, 6)), 4, ["RELU6"], id="clamp_0_6"),
    pytest.param(Fn(lambda a: torch.clamp(a, -1, 1)), 2, ["RELU_N1_TO_1"], id="clamp_m1_1"),
    pytest.param(Fn(lambda a: a.clamp(min=0).clamp(max=6)), 4, ["RELU6"], id="clamp_then_clamp"),
    pytest.param(nn.Sigmoid(), 4, ["LOGISTIC"], id="sigmoid"),
    pytest.param(nn.Tanh(), 2, ["TANH"], id="tanh"),
    pytest.param(nn.GELU(), 3, ["GELU"], id="gelu_erf"),
    pytest.param(nn.GELU(approximate="tanh"), 3, ["GELU"], id="gelu_tanh"),
    pytest.param(nn.SiLU(), 4, None, id="silu"),
    pytest.param(nn.Hardswish(), 4, ["HARD_SWISH"], id="hardswish"),
    pytest.param(nn.Hardsigmoid(), 4, None, id="hardsigmoid"),
]


@pytest.mark.parametrize("module,scale,ops", ACTIVATIONS)
def test_activation(module, scale, ops):
    x = randn(2, 3, 6, 5, seed=7, scale=scale)
    content = check_module(module, (x,)).model_content()
    if ops is not None:
        assert tflite_ops(content) == ops
    assert_all_delegated(content)


def test_gelu_approximations_differ():
    # the two approximations differ by ~1e-3 near |x| ~ 2: the converter must keep the flag
    x = torch.linspace(-4, 4, 801).reshape(1, 801)
    exact = pt2lite.convert(nn.GELU().eval(), (x,)).model_content()
    approx = pt2lite.convert(nn.GELU(approximate="tanh").eval(), (x,)).model_content()
    for content, module in ((exact, nn.GELU()), (approx, nn.GELU(approximate="tanh"))):
        expected = module(x).numpy()

        def check(outputs, runtime):
            np.testing.assert_allclose(outputs[0], expected, atol=2e-6, err_msg=runtime)

        check_both_runtimes(content, [x.numpy()], check)


def test_activation_special_points():
    # exact boundaries of the clamps and the hard-swish/sigmoid knees
    x = torch.tensor([-7.0, -6.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 7.0]).reshape(1, 13)
    m = Fn(lambda a: (torch.relu(a), nn.functional.relu6(a), nn.functional.hardtanh(a),
                         nn.functional.hardswish(a), nn.functional.hardsigmoid(a),
                         nn.functional.hardtanh(a, -2.0, 3.0), nn.functional.silu(a)))
    check_module(m, (x,))


def test_clamp_int_tensor_float_bound():
    x = torch.tensor([[-3, 0, 1, 4]], dtype=torch.int32)
    m = Fn(lambda a: torch.clamp(a, min=0.5))
    content = pt2lite.convert(m, (x,)).model_content()
    expected = m(x).numpy()

    def check(outputs, runtime):
        assert outputs[0].dtype == np.float32, f"{runtime}: dtype {outputs[0].dtype}"
        np.testing.assert_array_equal(outputs[0], expected, err_msg=runtime)

    check_both_runtimes(content, [x.numpy()], check)


def test_clamp_int_tensor_int_bounds():
    x = randint(2, 3, 4)
    m = Fn(lambda a: torch.clamp(a, -5, 7))
    content = check_module(m, (x,)).model_content()

    def check(outputs, runtime):
        assert outputs[0].dtype == np.int32, f"{runtime}: dtype {outputs[0].dtype}"

    check_both_runtimes(content, [x.numpy()], check)


# ---------------------------------------------------------------- after a conv (NHWC inside)

class ConvThen(nn.Module):
    def __init__(self, act, bn=True):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=not bn)
        self.bn = random_bn(nn.BatchNorm2d(8)) if bn else nn.Identity()
        self.act = act

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def test_conv_bn_hardswish_is_two_ops():
    content = check_module(ConvThen(nn.Hardswish()), (randn(1, 3, 8, 8, scale=3),)).model_content()
    assert tflite_ops(content) == ["TRANSPOSE", "CONV_2D", "HARD_SWISH", "TRANSPOSE"]
    assert_all_delegated(content)


@pytest.mark.parametrize("act", [nn.Hardsigmoid(), nn.SiLU(), nn.GELU(), nn.Sigmoid(), nn.Tanh(),
                                 nn.Hardtanh(-2.0, 3.0)], ids=lambda m: type(m).__name__)
def test_conv_bn_activation(act):
    content = check_module(ConvThen(act), (randn(1, 3, 8, 8, scale=3),)).model_content()
    ops = tflite_ops(content)
    assert ops.count("TRANSPOSE") == 2, ops
    assert_all_delegated(content)


def test_squeeze_excite_gate():
    # x * hardsigmoid(conv(x)): the gate multiplies two NHWC values
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(4, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            y = torch.relu(self.c1(x))
            return y * nn.functional.hardsigmoid(self.c2(y))

    content = check_module(M(), (randn(1, 4, 8, 8, scale=2),)).model_content()
    assert tflite_ops(content).count("TRANSPOSE") == 2


# ---------------------------------------------------------------- layout mixing

class Mix(nn.Module):
    """op(conv(x), y) or op(y, conv(x)) with y a plain NCHW input."""

    def __init__(self, op, conv_first):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.op = op
        self.conv_first = conv_first

    def forward(self, x, y):
        c = self.conv(x)
        return self.op(c, y) if self.conv_first else self.op(y, c)


OPS = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}


@pytest.mark.parametrize("conv_first", [True, False], ids=["conv_first", "input_first"])
@pytest.mark.parametrize("name", OPS)
def test_layout_mixing(name, conv_first):
    x = randn(1, 3, 8, 6)
    y = randn(1, 3, 8, 6, seed=1)
    if name == "div":
        y = y.abs() + 0.5
    m = Mix(OPS[name], conv_first)
    if name == "div" and not conv_first:  # the conv output is the divisor: keep it away from zero
        with torch.no_grad():
            m.conv.weight.mul_(0.1)
            m.conv.bias.fill_(3.0)
    content = check_module(m, (x, y)).model_content()
    assert tflite_ops(content).count("TRANSPOSE") <= 3, tflite_ops(content)


@pytest.mark.parametrize("shape", [(3, 1, 1), (6,), (8, 1), (1, 3, 8, 6)], ids=str)
def test_layout_mixing_broadcast_input(shape):
    check_module(Mix(torch.mul, True), (randn(1, 3, 8, 6), randn(*shape, seed=2)))


def test_layout_mixing_two_outputs():
    # one conv output read in NHWC (next conv) and with an NCHW input; both outputs returned
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x, y):
            a = self.c1(x)
            return self.c2(a) - y, a * y

    check_module(M(), (randn(1, 3, 6, 6), randn(1, 4, 6, 6, seed=1)))


class BasicBlock(nn.Module):
    """conv -> bn -> relu -> conv -> bn, + skip, relu (ResNet)."""

    def __init__(self, c=8):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = random_bn(nn.BatchNorm2d(c), seed=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = random_bn(nn.BatchNorm2d(c), seed=2)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + x)


def test_residual_block():
    content = check_module(BasicBlock(), (randn(1, 8, 10, 10),)).model_content()
    ops = tflite_ops(content)
    assert ops.count("TRANSPOSE") == 2, ops
    assert ops == ["TRANSPOSE", "CONV_2D", "CONV_2D", "ADD", "TRANSPOSE"], ops
    assert_all_delegated(content)


def test_two_residual_blocks_after_stem():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), BasicBlock(), BasicBlock())
    content = check_module(m, (randn(1, 3, 10, 10),)).model_content()
    ops = tflite_ops(content)
    assert ops.count("TRANSPOSE") == 2, ops
    assert ops.count("CONV_2D") == 5 and ops.count("ADD") == 2 and len(ops) == 9, ops
    assert_all_delegated(content)


# ---------------------------------------------------------------- more dtypes and patterns

def test_relu_int32():
    x = torch.tensor([[-3, 0, 2, 7]], dtype=torch.int32)
    check_module(nn.ReLU(), (x,))


def test_float64_inputs():
    args = (randn(2, 3).double(), randn(2, 3, seed=1))
    m = Fn(lambda a, b: a * 2 + b)
    content = check_module(m, args).model_content()

    def check(outputs, runtime):
        assert outputs[0].dtype == np.float64, f"{runtime}: dtype {outputs[0].dtype}"

    check_both_runtimes(content, [a.numpy() for a in args], check)


def test_bool_mul():
    args = (randn(2, 3) > 0, randn(2, 3, seed=1) > 0)
    m = Fn(lambda a, b: a * b)
    content = check_module(m, args).model_content()
    expected = m(*args).numpy()

    def check(outputs, runtime):
        np.testing.assert_array_equal(outputs[0].astype(bool), expected, err_msg=runtime)

    check_both_runtimes(content, [a.numpy() for a in args], check)


@pytest.mark.parametrize("fn", [
    pytest.param(lambda s, a: s.w - a, id="const_minus_conv"),
    pytest.param(lambda s, a: a / s.w, id="div_by_channel_const"),
    pytest.param(lambda s, a: a * s.full, id="mul_full_const"),
    pytest.param(lambda s, a: a * s.grow, id="mul_broadcast_grows_batch"),
    pytest.param(lambda s, a: a + s.full4, id="add_rank4_const"),
    pytest.param(lambda s, a: a * s.perchan4, id="mul_rank4_per_channel_const"),
    pytest.param(lambda s, a: torch.relu(a) * s.w, id="relu_then_scale"),
    pytest.param(lambda s, a: nn.functional.relu6(a) - s.w, id="relu6_then_shift"),
    pytest.param(lambda s, a: a * a, id="square"),
])
def test_ops_after_conv_that_must_not_fold(fn):
    # affine-looking ops after a conv that cannot go into its filter/bias: numerics must hold
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1),
                      Fn(fn, w=randn(4, 1, 1, seed=3).abs() + 0.5, full=randn(4, 5, 5, seed=4),
                         grow=randn(2, 4, 1, 1, seed=5), full4=randn(1, 4, 5, 5, seed=6),
                         perchan4=randn(1, 4, 1, 1, seed=7), with_self=True))
    check_module(m, (randn(1, 3, 5, 5, scale=2),))


@pytest.mark.parametrize("fn,args", [
    pytest.param(lambda s, a: a * nn.functional.relu6(a + 3) / 6, (randn(2, 8, scale=4),), id="x*relu6(x+3)/6"),
    pytest.param(lambda s, a: nn.functional.relu6(3 + a) * a * (1 / 6), (randn(2, 8, scale=4),), id="relu6(3+x)*x/6"),
])
def test_hardswish_spelled_out(fn, args):
    assert tflite_ops(check_module(Fn(fn, with_self=True), args).model_content()) == ["HARD_SWISH"]


@pytest.mark.parametrize("fn,args", [
    pytest.param(lambda s, a, b: a * nn.functional.relu6(b + 3) / 6, (randn(2, 8, scale=4), randn(2, 8, seed=1, scale=4)),
                 id="different_x"),
    pytest.param(lambda s, a: a * nn.functional.relu6(a + 3) / 5, (randn(2, 8, scale=4),), id="div5"),
    pytest.param(lambda s, a: a * nn.functional.relu6(a + 2) / 6, (randn(2, 8, scale=4),), id="plus2"),
    pytest.param(lambda s, a: a * torch.clamp(a + 3, 0, 5) / 6, (randn(2, 8, scale=4),), id="clamp5"),
    pytest.param(lambda s, a: (a * nn.functional.relu6(a + 3) / 6, nn.functional.relu6(a + 3)), (randn(2, 8, scale=4),),
                 id="inner_value_also_output"),
])
def test_not_hardswish(fn, args):
    # look-alikes: either not fused, or fused without losing the other reader
    check_module(Fn(fn, with_self=True), args)


def test_relu_then_min6_with_other_reader():
    # relu(x) is read twice: MINIMUM(RELU(x), 6) may become RELU6 only if relu(x) is kept for the other
    check_module(Fn(lambda a: (torch.clamp(torch.relu(a), max=6.0), torch.relu(a) * 2)), (randn(2, 8, scale=4),))

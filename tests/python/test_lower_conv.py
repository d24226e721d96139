"""convolution.default and _native_batch_norm_legit_no_training: numerics against PyTorch eager
(run on the official LiteRT runtime) and the structure of the .tflite (one fused conv per layer, a
bias on every conv, no TRANSPOSE inside a CNN body, every op on XNNPACK)."""

import pytest
import torch
from torch import nn
import torch.nn.functional as F

import pt2lite

from ai_edge_litert import schema_py_generated as tfl_schema
from conftest import check_module, tflite_ops, xnnpack_delegation

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")
_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}


# ---------------------------------------------------------------- helpers

def op_table(content):
    """[(op name, input tensor ids, options object or None)] of subgraph 0, plus the tensors."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    names = tflite_ops(content)
    sg = model.subgraphs[0]
    return [(name, list(op.inputs), op.builtinOptions) for name, op in zip(names, sg.operators)], sg.tensors


def assert_convs_have_bias(content):
    """Every CONV_2D / DEPTHWISE_CONV_2D has (filter, input, bias) with a constant bias of out-channels
    elements (XNNPACK only takes a conv with a bias); TRANSPOSE_CONV has 4 inputs, bias last."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    ops, tensors = op_table(content)
    seen = 0
    for name, inputs, _ in ops:
        if name not in CONV_OPS:
            continue
        seen += 1
        want = 4 if name == "TRANSPOSE_CONV" else 3
        assert len(inputs) == want, f"{name} has inputs {inputs}, expected {want}"
        bias = inputs[-1]
        assert bias >= 0, f"{name} has no bias (input -1)"
        filt = tensors[inputs[1]]
        bias_t = tensors[bias]
        out_channels = filt.shape[-1] if name == "DEPTHWISE_CONV_2D" else filt.shape[0]
        assert list(bias_t.shape) == [out_channels], f"{name} bias shape {list(bias_t.shape)} for {out_channels} channels"
        assert model.buffers[bias_t.buffer].data is not None, f"{name} bias is not a constant"
        assert model.buffers[filt.buffer].data is not None, f"{name} filter is not a constant"
    assert seen, "no convolution in the model"


def fused_activations(content):
    """Fused activation names of the conv ops, in order."""
    ops, _ = op_table(content)
    return [_ACT[opts.fusedActivationFunction] for name, _, opts in ops if name in CONV_OPS]


def assert_all_delegated(content):
    delegated, total = xnnpack_delegation(content)
    assert delegated == total, f"XNNPACK takes {delegated} of {total} ops: {tflite_ops(content)}"


def random_bn(bn, seed=0):
    """Non-trivial running stats and affine parameters, so folding mistakes show up."""
    g = torch.Generator().manual_seed(seed)
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.1)
        bn.weight.copy_(torch.randn(c, generator=g))
        bn.bias.copy_(torch.randn(c, generator=g))
    return bn


def run(module, shape, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(shape)
    return check_module(module.eval(), (x,)).model_content()


# ---------------------------------------------------------------- Conv2d

CONV2D = [
    # (kwargs, input shape)
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3), (1, 4, 12, 12), id="k3_s1_p0"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, padding=1), (1, 4, 12, 12), id="k3_s1_p1"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1), (1, 4, 12, 12),
                 id="k3_s2_p1_even"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1), (1, 4, 13, 13),
                 id="k3_s2_p1_odd"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2), (2, 4, 13, 11), id="k3_s2_p0_batch2"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=5, padding=2), (1, 4, 12, 12), id="k5_p2"),
    pytest.param(dict(in_channels=4, out_channels=6, kernel_size=5, stride=2, padding=2, bias=False), (1, 4, 15, 15),
                 id="k5_s2_p2_nobias"),
    pytest.param(dict(in_channels=3, out_channels=8, kernel_size=7, stride=2, padding=3, bias=False), (1, 3, 32, 32),
                 id="k7_s2_p3_stem"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=1), (1, 4, 9, 7), id="k1"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=1, stride=2, bias=False), (1, 4, 9, 7),
                 id="k1_s2_nobias"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, padding="same"), (1, 4, 12, 10), id="same_k3"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=5, padding="same", dilation=2), (1, 4, 14, 14),
                 id="same_k5_d2"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, padding="valid"), (1, 4, 12, 10), id="valid"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2), (1, 4, 12, 12), id="d2_p0"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2, padding=2), (1, 4, 12, 12),
                 id="d2_p2"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2, padding=2, stride=2), (1, 4, 13, 13),
                 id="d2_p2_s2"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=(3, 5), stride=(1, 2), padding=(1, 0)),
                 (1, 4, 12, 15), id="rect_k3x5_s1x2_p1x0"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=(1, 7), stride=(2, 1), padding=(0, 3)),
                 (2, 4, 11, 9), id="rect_k1x7_s2x1_p0x3"),
    pytest.param(dict(in_channels=4, out_channels=5, kernel_size=(5, 3), stride=(3, 2), padding=(2, 1),
                      dilation=(1, 2)), (1, 4, 16, 17), id="rect_k5x3_s3x2_d1x2"),
]


@pytest.mark.parametrize("kwargs,shape", CONV2D)
def test_conv2d(kwargs, shape):
    content = run(nn.Conv2d(**kwargs), shape)
    ops = tflite_ops(content)
    assert ops.count("CONV_2D") == 1, ops
    assert ops.count("TRANSPOSE") == 2, f"only the NCHW input and output should be transposed: {ops}"
    assert_convs_have_bias(content)
    assert_all_delegated(content)


def test_conv2d_same_even_kernel():
    # torch pads an even kernel asymmetrically (one extra column after): numerics must still match
    content = run(nn.Conv2d(4, 8, kernel_size=4, padding="same"), (1, 4, 12, 11))
    assert tflite_ops(content).count("CONV_2D") == 1
    assert_all_delegated(content)


EDGE = [
    # shapes where NCHW<->NHWC moves only size-1 axes (a RESHAPE instead of a TRANSPOSE) or big pads/strides
    pytest.param(nn.Conv2d(1, 8, 3, padding=1), (1, 1, 8, 8), id="one_input_channel"),
    pytest.param(nn.Conv2d(4, 1, 3), (1, 4, 6, 6), id="one_output_channel"),
    pytest.param(nn.Conv2d(4, 8, 1), (1, 4, 1, 1), id="1x1_spatial"),
    pytest.param(nn.Conv2d(4, 8, (1, 3), padding=(0, 1)), (1, 4, 1, 10), id="h1"),
    pytest.param(nn.Conv2d(4, 8, (3, 1), padding=(1, 0)), (2, 4, 10, 1), id="w1"),
    pytest.param(nn.Conv2d(4, 8, 3, padding=3), (1, 4, 8, 8), id="pad_wider_than_kernel"),
    pytest.param(nn.Conv2d(4, 8, 2, stride=3, padding=1), (1, 4, 13, 13), id="stride_gt_kernel"),
    pytest.param(nn.Conv1d(4, 8, 5, padding="same"), (1, 4, 12), id="conv1d_same"),
    pytest.param(nn.Conv1d(4, 8, 1), (3, 4, 1), id="conv1d_length1"),
    pytest.param(nn.ConvTranspose2d(1, 1, 2, stride=2), (1, 1, 4, 4), id="tconv_one_channel"),
    pytest.param(nn.ConvTranspose2d(4, 8, 3, stride=3), (1, 4, 5, 5), id="tconv_s3"),
    pytest.param(nn.ConvTranspose2d(4, 8, 1, stride=2), (1, 4, 5, 5), id="tconv_k1_s2"),
    pytest.param(nn.ConvTranspose2d(4, 8, 5, stride=2, padding=2, output_padding=1), (1, 4, 5, 5), id="tconv_p2_op1"),
    pytest.param(nn.ConvTranspose1d(4, 8, 3, stride=2), (1, 4, 1), id="tconv1d_length1"),
]


@pytest.mark.parametrize("module,shape", EDGE)
def test_conv_edge_shapes(module, shape):
    content = run(module, shape)
    assert_convs_have_bias(content)
    assert tflite_ops(content).count("TRANSPOSE") <= 2


# ---------------------------------------------------------------- depthwise

DEPTHWISE = [
    pytest.param(dict(in_channels=8, out_channels=8, kernel_size=3, padding=1, groups=8), (1, 8, 12, 12), id="k3"),
    pytest.param(dict(in_channels=8, out_channels=8, kernel_size=3, stride=2, padding=1, groups=8), (1, 8, 13, 13),
                 id="k3_s2"),
    pytest.param(dict(in_channels=8, out_channels=8, kernel_size=5, padding=2, groups=8, bias=False), (2, 8, 10, 12),
                 id="k5_nobias"),
    pytest.param(dict(in_channels=8, out_channels=16, kernel_size=3, padding=1, groups=8), (1, 8, 12, 12),
                 id="multiplier2"),
    pytest.param(dict(in_channels=6, out_channels=12, kernel_size=3, stride=2, padding=1, groups=6, bias=False),
                 (1, 6, 12, 12), id="multiplier2_s2_nobias"),
    pytest.param(dict(in_channels=4, out_channels=12, kernel_size=(3, 1), dilation=2, padding=(2, 0), groups=4),
                 (1, 4, 10, 7), id="multiplier3_rect_d2"),
]


@pytest.mark.parametrize("kwargs,shape", DEPTHWISE)
def test_depthwise_conv2d(kwargs, shape):
    content = run(nn.Conv2d(**kwargs), shape)
    ops = tflite_ops(content)
    assert ops.count("DEPTHWISE_CONV_2D") == 1 and "CONV_2D" not in ops, ops
    assert ops.count("TRANSPOSE") == 2, ops
    assert_convs_have_bias(content)
    assert_all_delegated(content)


def test_grouped_conv2d():
    content = run(nn.Conv2d(8, 12, kernel_size=3, padding=1, groups=2), (1, 8, 10, 10))
    assert_convs_have_bias(content)


# ---------------------------------------------------------------- Conv1d

CONV1D = [
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3), (2, 4, 20), id="k3"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1), (2, 4, 21), id="k3_s2_p1"),
    pytest.param(dict(in_channels=4, out_channels=6, kernel_size=1, bias=False), (1, 4, 20), id="k1_nobias"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=5, padding=4, dilation=2), (1, 4, 16), id="d2"),
    pytest.param(dict(in_channels=8, out_channels=8, kernel_size=5, padding=2, groups=8), (1, 8, 20), id="depthwise"),
    pytest.param(dict(in_channels=8, out_channels=16, kernel_size=3, stride=2, groups=8, bias=False), (1, 8, 20),
                 id="depthwise_m2_s2"),
]


@pytest.mark.parametrize("kwargs,shape", CONV1D)
def test_conv1d(kwargs, shape):
    content = run(nn.Conv1d(**kwargs), shape)
    ops = tflite_ops(content)
    want = "DEPTHWISE_CONV_2D" if kwargs.get("groups", 1) > 1 else "CONV_2D"
    assert ops.count(want) == 1, ops
    assert_convs_have_bias(content)
    assert_all_delegated(content)


# ---------------------------------------------------------------- transposed

TRANSPOSED = [
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=2, stride=2), (1, 4, 6, 6), id="k2_s2_p0"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2), (1, 4, 5, 7), id="k3_s2_p0"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1), (1, 4, 6, 6), id="k3_s2_p1"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1, output_padding=1),
                 (1, 4, 6, 6), id="k3_s2_p1_op1"),
    pytest.param(dict(in_channels=4, out_channels=6, kernel_size=4, stride=2, padding=1, bias=False), (2, 4, 6, 7),
                 id="k4_s2_p1_nobias"),
    pytest.param(dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(1, 2)), (1, 4, 5, 6),
                 id="rect_k3x2_s1x2"),
    pytest.param(dict(in_channels=4, out_channels=6, kernel_size=3, stride=1, padding=1, bias=False), (1, 4, 7, 7),
                 id="k3_s1_p1_nobias"),
]


@pytest.mark.parametrize("kwargs,shape", TRANSPOSED)
def test_conv_transpose2d(kwargs, shape):
    content = run(nn.ConvTranspose2d(**kwargs), shape)
    ops = tflite_ops(content)
    assert ops.count("TRANSPOSE_CONV") == 1, ops
    assert ops.count("TRANSPOSE") == 2, ops
    assert_convs_have_bias(content)


UNPADDED = [p for p in TRANSPOSED if "p1" not in p.id]
PADDED = [p for p in TRANSPOSED if "p1" in p.id]


@pytest.mark.parametrize("kwargs,shape", UNPADDED)
def test_conv_transpose2d_delegated(kwargs, shape):
    assert_all_delegated(run(nn.ConvTranspose2d(**kwargs), shape))


@pytest.mark.parametrize("kwargs,shape", PADDED)
def test_conv_transpose2d_padded_delegated(kwargs, shape):
    assert_all_delegated(run(nn.ConvTranspose2d(**kwargs), shape))


@pytest.mark.xfail(strict=True, raises=pt2lite.Pt2liteError, reason="output_padding > padding is rejected ('output_padding 1 larger than "
                                       "padding 0'); the extra rows are the bias only (a PAD or a larger "
                                       "TRANSPOSE_CONV output_shape would do)")
def test_conv_transpose2d_output_padding_without_padding():
    run(nn.ConvTranspose2d(4, 8, kernel_size=3, stride=2, output_padding=1), (1, 4, 6, 6))


CONV_T1D = [
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=2, stride=2), (1, 4, 10), id="k2_s2"),
    pytest.param(dict(in_channels=4, out_channels=8, kernel_size=4, stride=2, padding=1), (2, 4, 10), id="k4_s2_p1"),
    pytest.param(dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1,
                      bias=False), (1, 4, 9), id="k3_s2_p1_op1_nobias"),
]


@pytest.mark.parametrize("kwargs,shape", CONV_T1D)
def test_conv_transpose1d(kwargs, shape):
    content = run(nn.ConvTranspose1d(**kwargs), shape)
    assert tflite_ops(content).count("TRANSPOSE_CONV") == 1
    assert_convs_have_bias(content)


# ---------------------------------------------------------------- conv + batch norm + activation

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("act,fused", [(nn.ReLU, "RELU"), (nn.ReLU6, "RELU6"), (nn.Identity, "NONE")])
def test_conv_bn_act_is_one_conv(bias, act, fused):
    m = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, bias=bias), random_bn(nn.BatchNorm2d(8)), act())
    content = run(m, (1, 4, 12, 12))
    ops = tflite_ops(content)
    assert ops == ["TRANSPOSE", "CONV_2D", "TRANSPOSE"], f"batch norm / activation not folded: {ops}"
    assert fused_activations(content) == [fused]
    assert_convs_have_bias(content)
    assert_all_delegated(content)


def test_conv_bn_strided():
    # stride 2, even input: torch's padding is not TFLite SAME, so an explicit PAD may precede the conv
    m = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), random_bn(nn.BatchNorm2d(8)), nn.ReLU())
    content = run(m, (1, 4, 16, 16))
    ops = tflite_ops(content)
    assert ops.count("CONV_2D") == 1 and not {"MUL", "ADD", "SUB", "RELU"} & set(ops), ops
    assert fused_activations(content) == ["RELU"]
    assert_all_delegated(content)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_bn_relu6_is_one_op(multiplier):
    m = nn.Sequential(nn.Conv2d(8, 8 * multiplier, 3, padding=1, groups=8, bias=False),
                      random_bn(nn.BatchNorm2d(8 * multiplier)), nn.ReLU6())
    content = run(m, (1, 8, 10, 10))
    assert tflite_ops(content) == ["TRANSPOSE", "DEPTHWISE_CONV_2D", "TRANSPOSE"]
    assert fused_activations(content) == ["RELU6"]
    assert_convs_have_bias(content)
    assert_all_delegated(content)


def test_two_convs_no_transpose_between():
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), random_bn(nn.BatchNorm2d(8), seed=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), random_bn(nn.BatchNorm2d(8), seed=2), nn.ReLU6(),
        nn.Conv2d(8, 16, 1), random_bn(nn.BatchNorm2d(16), seed=3),
    )
    content = run(m, (1, 3, 16, 16))
    ops = tflite_ops(content)
    assert ops.count("TRANSPOSE") == 2 and ops[0] == "TRANSPOSE" and ops[-1] == "TRANSPOSE", ops
    assert ops[1:-1] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"], ops
    assert fused_activations(content) == ["RELU", "RELU6", "NONE"]
    assert_convs_have_bias(content)
    assert_all_delegated(content)


def test_shared_conv_weights_folded_separately():
    # the same conv used twice, followed by two different batch norms: folding BN into one use must
    # not change the filter the other use reads
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1)
            self.bn1 = random_bn(nn.BatchNorm2d(8), seed=1)
            self.bn2 = random_bn(nn.BatchNorm2d(8), seed=2)

        def forward(self, x, y):
            return self.bn1(self.conv(x)), self.bn2(self.conv(y))

    torch.manual_seed(0)
    content = check_module(Twice().eval(), (torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8))).model_content()
    ops = tflite_ops(content)
    assert ops.count("CONV_2D") == 2 and "MUL" not in ops and "ADD" not in ops, ops


def test_conv_scalar_affine_folds():
    # conv(x) * 2 - 0.5: scalar affine ops after a conv fold into its filter and bias like BN does
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3)

        def forward(self, x):
            return torch.relu(self.conv(x) * 2.0 - 0.5)

    content = run(M(), (1, 4, 9, 9))
    assert tflite_ops(content) == ["TRANSPOSE", "CONV_2D", "TRANSPOSE"]


def test_conv_then_w_broadcast_constant_not_folded_wrongly():
    # a constant that broadcasts along W (not channels), with W == C: must not be mistaken for a
    # per-channel scale
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1)
            self.register_buffer("w", torch.randn(8))
            self.register_buffer("h", torch.randn(8, 1))

        def forward(self, x):
            return self.conv(x) * self.w + self.h

    run(M(), (1, 4, 8, 8))


def test_conv1d_bn_relu_is_one_conv():
    m = nn.Sequential(nn.Conv1d(4, 8, 3, padding=1), random_bn(nn.BatchNorm1d(8)), nn.ReLU())
    content = run(m, (1, 4, 16))
    ops = tflite_ops(content)
    assert not {"MUL", "ADD", "RELU"} & set(ops), ops
    assert fused_activations(content) == ["RELU"]


def test_conv1d_bn_relu_numerics():
    m = nn.Sequential(nn.Conv1d(4, 8, 3, padding=1), random_bn(nn.BatchNorm1d(8)), nn.ReLU())
    run(m, (2, 4, 16))


def test_conv_transpose_bn_folds():
    m = nn.Sequential(nn.ConvTranspose2d(4, 8, 2, stride=2), random_bn(nn.BatchNorm2d(8)), nn.ReLU())
    content = run(m, (1, 4, 6, 6))
    ops = tflite_ops(content)
    assert not {"MUL", "ADD"} & set(ops), ops


def test_conv_transpose_bn_relu_numerics():
    m = nn.Sequential(nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1),
                      random_bn(nn.BatchNorm2d(8)), nn.ReLU())
    run(m, (1, 4, 6, 6))


# ---------------------------------------------------------------- batch norm alone

@pytest.mark.parametrize("shape", [(2, 4, 6, 6), (1, 4, 5, 7)])
def test_batch_norm2d_alone(shape):
    content = run(random_bn(nn.BatchNorm2d(4)), shape)
    ops = tflite_ops(content)
    assert "TRANSPOSE" not in ops, f"a layout-agnostic op needs no transpose: {ops}"
    assert_all_delegated(content)


def test_batch_norm2d_eps_and_no_affine():
    bn = nn.BatchNorm2d(4, eps=1e-2, affine=False)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]))
        bn.running_var.copy_(torch.tensor([0.01, 4.0, 0.5, 1.0]))
    run(bn, (2, 4, 5, 5))


@pytest.mark.parametrize("shape", [(2, 4, 10), (3, 4)], ids=["NCL", "NC"])
def test_batch_norm1d(shape):
    content = run(random_bn(nn.BatchNorm1d(4)), shape)
    assert "TRANSPOSE" not in tflite_ops(content)


def test_batch_norm_before_conv():
    m = nn.Sequential(random_bn(nn.BatchNorm2d(4)), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
    content = run(m, (1, 4, 8, 8))
    assert tflite_ops(content).count("TRANSPOSE") == 2


# ---------------------------------------------------------------- tensor names

class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())

    def forward(self, x):
        return self.body(x)


def tensor_names(content):
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    sg = model.subgraphs[0]
    decode = lambda i: sg.tensors[i].name.decode()
    return [decode(i) for i in range(len(sg.tensors))], [decode(i) for i in sg.inputs], [decode(i) for i in sg.outputs]


def test_tensor_names_carry_module_path():
    content = run(Named(), (1, 3, 8, 8))
    names, inputs, _ = tensor_names(content)
    assert inputs == ["x"]
    # '/' between modules (Model Explorer nests each module as a group), never the dotted path
    assert any(n.startswith("body/0/") or n.startswith("body/1/") for n in names), names
    assert not any(n.startswith("body.") for n in names), names


def test_output_transpose_not_named_input():
    content = run(Named(), (1, 3, 8, 8))
    names, _, outputs = tensor_names(content)
    assert not any(n.startswith("input/") for n in names), f"outputs {outputs}, tensors {names}"


# ---------------------------------------------------------------- conv outputs read more than once

class ConvOutputs(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = random_bn(nn.BatchNorm2d(4))
        self.kind = kind

    def forward(self, x):
        y = self.conv(x)
        if self.kind == "twice":
            return y, y
        if self.kind == "input_too":
            return x, y
        if self.kind == "bn_and_raw":  # the conv output is needed as is: batch norm must not fold into it
            return y, self.bn(y)
        return torch.relu(y), y * 2  # "relu_and_scale": neither may be fused into the shared conv


@pytest.mark.parametrize("kind", ["twice", "input_too", "bn_and_raw", "relu_and_scale"])
def test_conv_output_read_twice(kind):
    torch.manual_seed(0)
    check_module(ConvOutputs(kind).eval(), (torch.randn(1, 3, 6, 6),))


class StandardizedConv(nn.Conv2d):
    """timm's ScaledStdConv2d: the weight is standardized at run time from the parameter."""

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True, momentum=0.0,
                         eps=1e-6).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, groups=self.groups)


class WeightNormConv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(4, 6, 3, padding=1))

    def forward(self, x):
        return self.conv(x)


class InputFilterConv(nn.Module):
    def forward(self, x, w):
        return F.conv2d(x, w, padding=1)


@pytest.mark.parametrize("module, args", [
    (StandardizedConv(3, 8, 3, padding=1), (torch.randn(1, 3, 9, 9),)),
    (StandardizedConv(8, 8, 3, padding=1, groups=8), (torch.randn(1, 8, 9, 9),)),
    (WeightNormConv1d(), (torch.randn(1, 4, 20),)),
    (InputFilterConv(), (torch.randn(1, 3, 9, 9), torch.randn(5, 3, 3, 3))),
], ids=["standardized", "standardized-depthwise", "weight-norm", "filter-input"])
def test_conv_with_a_computed_filter(module, args):
    """Filters computed in the graph: from parameters only (folded to constants where the folding
    covers the computation) or given at run time (CONV_2D reads a non-constant filter)."""
    check_module(module, args)

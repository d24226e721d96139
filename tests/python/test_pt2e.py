"""PT2E int8 graphs (torchao's prepare_pt2e / convert_pt2e with the XNNPACK-style quantizer): the
Q/DQ patterns become int8 TFLite ops. Each model is compared on LiteRT with PyTorch running the Q/DQ
graph: cosine similarity >= 0.99 and max abs error within a few steps of the output's scale. The
file must hold int8 conv/FC ops (int8 activations and per-channel weights, int32 bias) and be about
0.3x the float file; unsupported schemes are refused naming the node and the scheme."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import pt2lite
from conftest import run_litert, run_pt2lite, tfl_schema, tflite_ops

torchao = pytest.importorskip("torchao")
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e  # noqa: E402
from torchao.testing.pt2e._xnnpack_quantizer import (  # noqa: E402
    XNNPACKQuantizer, get_symmetric_quantization_config)

INT8, INT32, FLOAT32 = tfl_schema.TensorType.INT8, tfl_schema.TensorType.INT32, tfl_schema.TensorType.FLOAT32
# What pt2lite's runtime says while it has no int8 kernels (the int8rt branch adds them).
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def quantize(module, args, per_channel=True, calibration=4):
    """torch.export -> prepare_pt2e -> calibration on random inputs -> convert_pt2e."""
    module = module.eval()
    exported = torch.export.export(module, args).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=per_channel))
    prepared = prepare_pt2e(exported, quantizer)
    with torch.no_grad():
        for _ in range(calibration):
            prepared(*[torch.randn_like(a) for a in args])
        prepared(*args)
    return convert_pt2e(prepared)


def output_scale(qm):
    """The scale of the dequantize that produces the graph's output (the output's quantization step),
    or, for a float output (an op the quantizer left float), of the nearest dequantize before it."""
    node = next(n for n in qm.graph.nodes if n.op == "output").args[0][0]
    while "dequantize_per_tensor" not in str(node.target):
        node = next(a for a in node.args if isinstance(a, torch.fx.Node))
    return float(node.args[1])


def tensors_by_op(content):
    """{op name: [[input tensor types], [output tensor types]] for each op} of subgraph 0."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    tensors = model.subgraphs[0].tensors
    result = {}
    for name, op in zip(tflite_ops(content), model.subgraphs[0].operators):
        result.setdefault(name, []).append(([tensors[i].type if i >= 0 else None for i in op.inputs],
                                            [tensors[i].type for i in op.outputs], op, tensors))
    return result


def compare(got, expected, scale, steps, what):
    got, expected = np.asarray(got, np.float64).ravel(), np.asarray(expected, np.float64).ravel()
    cosine = got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected) + 1e-30)
    err = np.abs(got - expected).max()
    assert cosine >= 0.99, f"{what}: cosine similarity {cosine:.4f}"
    assert err <= steps * scale + 1e-6, f"{what}: max abs error {err:.5g} is {err / scale:.1f} steps of {scale:.5g}"


def check_pt2e(module, args, per_channel=True, steps=3, int8_ops=("CONV_2D",), check_file=None):
    """Quantizes, converts, runs on LiteRT and on pt2lite's runtime against PyTorch running the Q/DQ
    graph. Checks that the ops in int8_ops read int8 activations, int8 weights and an int32 bias and
    write int8, then check_file(content) if given."""
    qm = quantize(module, args, per_channel)
    with torch.no_grad():
        expected = qm(*args)
    content = pt2lite.convert(qm, args).model_content()
    inputs = [a.numpy() for a in args]
    scale = output_scale(qm)
    compare(run_litert(content, inputs)[0], expected.numpy(), scale, steps, "LiteRT")
    by_op = tensors_by_op(content)
    for name in int8_ops:
        assert name in by_op, f"no {name} in {tflite_ops(content)}"
        for ins, outs, op, tensors in by_op[name]:
            assert ins[:2] == [INT8, INT8] and outs == [INT8], (name, ins, outs)
            if name not in WEIGHTED_OPS:
                continue
            if len(ins) > 2:
                assert ins[2] == INT32, (name, ins)
            weights = tensors[op.inputs[1]].quantization
            channels = tensors[op.inputs[1]].shape[3 if name == "DEPTHWISE_CONV_2D" else 0]
            if per_channel:
                assert len(weights.scale) == channels and weights.quantizedDimension == (3 if name == "DEPTHWISE_CONV_2D" else 0)
                assert not np.any(weights.zeroPoint)
    if check_file:
        check_file(content)
    got = run_pt2lite(content, inputs)
    compare(got[0], expected.numpy(), scale, steps, "pt2lite runtime")


class SmallCNN(torch.nn.Module):
    """conv+bn+relu, depthwise conv+relu, max pool, conv, global average pool, linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(16)
        self.dw = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pw = torch.nn.Conv2d(16, 24, 1)
        self.fc = torch.nn.Linear(24, 10)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = F.relu(self.dw(x))  # relu6 -> max_pool is left unquantized between them by the quantizer
        x = F.max_pool2d(x, 2)
        x = F.relu(self.pw(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def test_small_cnn_per_channel():
    def check_file(content):
        ops = tflite_ops(content)
        # float only where the graph crosses float: the model's input and output
        assert ops.count("QUANTIZE") == 1 and ops.count("DEQUANTIZE") == 1, ops
        types = tensors_by_op(content)
        for name in ("MAX_POOL_2D", "MEAN"):
            assert all(ins[0] == INT8 and outs == [INT8] for ins, outs, _, _ in types[name]), name

    check_pt2e(SmallCNN(), (torch.randn(1, 3, 16, 16),), int8_ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"),
               check_file=check_file)


def test_small_cnn_per_tensor_weights():
    check_pt2e(SmallCNN(), (torch.randn(1, 3, 16, 16),), per_channel=False,
               int8_ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))


def test_mlp():
    mlp = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 8))
    check_pt2e(mlp, (torch.randn(4, 32),), int8_ops=("FULLY_CONNECTED",),
               check_file=lambda content: tflite_ops(content).count("FULLY_CONNECTED") == 3 or pytest.fail("3 FCs"))


class Branches(torch.nn.Module):
    """Two conv branches joined by `join` (add, mul, cat), then hardswish / softmax heads."""

    def __init__(self, join, head=None):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.b = torch.nn.Conv2d(3, 8, 1)
        self.tail = torch.nn.Conv2d(16 if join == "cat" else 8, 8, 1)
        self.join, self.head = join, head

    def forward(self, x):
        a, b = F.relu(self.a(x)), self.b(x)
        y = a + b if self.join == "add" else a * b if self.join == "mul" else torch.cat([a, b], 1)
        y = self.tail(y)
        if self.head == "hardswish":
            y = F.hardswish(y)
        elif self.head == "softmax":
            y = torch.softmax(y.flatten(1), -1)
        return y


@pytest.mark.parametrize("join,head,int8", [
    ("add", None, ("CONV_2D", "ADD")),
    ("mul", None, ("CONV_2D", "MUL")),
    ("cat", None, ("CONV_2D", "CONCATENATION")),
    ("add", "hardswish", ("CONV_2D", "ADD")),
    ("cat", "softmax", ("CONV_2D",)),
])
def test_elementwise_and_heads(join, head, int8):
    check_pt2e(Branches(join, head), (torch.randn(1, 3, 8, 8),), int8_ops=int8)


def test_mobilenet_v2_size_and_accuracy():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.mobilenet_v2(weights=None)
    with torch.no_grad():  # batch-norm statistics of random inputs, a classifier that does not round to 0
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, 224, 224))
        torch.nn.init.normal_(model.classifier[1].weight, std=0.1)
    model.eval()
    args = (torch.randn(1, 3, 224, 224),)
    float_size = len(pt2lite.convert(model, args).model_content())

    def check_file(content):
        assert len(content) <= 0.3 * float_size, (len(content), float_size)
        ops = tflite_ops(content)
        # float only at the input and output: every conv is int8; one TRANSPOSE, the NCHW input's
        assert ops.count("DEQUANTIZE") == 1 and ops.count("TRANSPOSE") == 1, ops

    check_pt2e(model, args, steps=6, int8_ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"), check_file=check_file)


def test_graph_module_from_export_is_accepted():
    """A GraphModule (torch.export(...).module()) is converted as it is: no .eval(), no warning."""
    gm = torch.export.export(torch.nn.Linear(4, 2).eval(), (torch.randn(1, 4),)).module()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        content = pt2lite.convert(gm, (torch.randn(1, 4),)).model_content()
    assert tflite_ops(content) == ["FULLY_CONNECTED"]


class ManualQDQ(torch.nn.Module):
    """A linear layer written with quantized_decomposed ops, for schemes torchao's quantizers do not make."""

    def __init__(self, scheme):
        super().__init__()
        self.scheme = scheme
        self.register_buffer("w8", torch.randint(-127, 127, (4, 8), dtype=torch.int8))
        self.register_buffer("wu8", torch.randint(0, 255, (4, 8), dtype=torch.uint8))
        self.register_buffer("scales", torch.full((4,), 0.01))
        self.register_buffer("zps", torch.zeros(4, dtype=torch.int64))
        self.register_buffer("zps_u8", torch.full((4,), 128, dtype=torch.int64))

    def forward(self, x):
        qd = torch.ops.quantized_decomposed
        if self.scheme == "uint8 weights":
            w = qd.dequantize_per_channel(self.wu8, self.scales, self.zps_u8, 0, 0, 255, torch.uint8)
        else:
            w = qd.dequantize_per_channel(self.w8, self.scales, self.zps, 0, -127, 127, torch.int8)
        if self.scheme == "int16 activations":
            x = qd.dequantize_per_tensor(qd.quantize_per_tensor(x, 0.001, 0, -32768, 32767, torch.int16),
                                         0.001, 0, -32768, 32767, torch.int16)
        elif self.scheme == "per-channel activations":
            s, z = torch.full((8,), 0.02), torch.zeros(8, dtype=torch.int64)
            x = qd.dequantize_per_channel(qd.quantize_per_channel(x, s, z, 1, -128, 127, torch.int8),
                                          s, z, 1, -128, 127, torch.int8)
        else:
            x = qd.dequantize_per_tensor(qd.quantize_per_tensor(x, 0.02, 3, -128, 127, torch.int8),
                                         0.02, 3, -128, 127, torch.int8)
        return F.linear(x, w)


@pytest.mark.parametrize("scheme,message", [
    ("uint8 weights", r"dequantize_per_channel.*uint8 quantization is not supported"),
    ("int16 activations", r"quantize_per_tensor.*int16 quantization is not supported"),
    ("per-channel activations", r"quantize_per_channel.*per-channel quantization of activations"),
])
def test_unsupported_schemes_are_refused(scheme, message):
    import torch.ao.quantization.fx._decomposed  # noqa: F401  registers quantized_decomposed
    with pytest.raises(pt2lite.Pt2liteError, match=message):
        pt2lite.convert(ManualQDQ(scheme).eval(), (torch.randn(2, 8),))


def test_manual_qdq_linear_becomes_int8():
    """The hand-written Q/DQ linear (constant per-channel int8 weights): one int8 FULLY_CONNECTED."""
    import torch.ao.quantization.fx._decomposed  # noqa: F401
    module = ManualQDQ("int8").eval()
    x = torch.randn(2, 8)
    content = pt2lite.convert(module, (x,)).model_content()
    # no output QUANTIZE in this graph: the FC stays float, its weights dequantized constants
    with torch.no_grad():
        expected = module(x).numpy()
    np.testing.assert_allclose(run_litert(content, [x.numpy()])[0], expected, rtol=1e-5, atol=1e-5)


class TensorOverloads(torch.nn.Module):
    """A linear layer with its float weight quantized in the graph (quantize_per_channel of a
    parameter, as convert_pt2e(fold_quantize=False) leaves it) and activations quantized through the
    .tensor overloads (scale and zero point held in 0-d tensors)."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(6, 8) * 0.3)
        self.bias = torch.nn.Parameter(torch.randn(6) * 0.1)
        self.register_buffer("w_scales", self.weight.detach().abs().amax(1) / 127)
        self.register_buffer("w_zps", torch.zeros(6, dtype=torch.int64))
        for name, value in (("x_scale", 0.03), ("y_scale", 0.05)):
            self.register_buffer(name, torch.tensor(value))
        self.register_buffer("x_zp", torch.tensor(2))
        self.register_buffer("y_zp", torch.tensor(-5))

    def forward(self, x):
        qd = torch.ops.quantized_decomposed
        w = qd.quantize_per_channel(self.weight, self.w_scales, self.w_zps, 0, -127, 127, torch.int8)
        w = qd.dequantize_per_channel(w, self.w_scales, self.w_zps, 0, -127, 127, torch.int8)
        x = qd.quantize_per_tensor.tensor(x, self.x_scale, self.x_zp, -128, 127, torch.int8)
        x = qd.dequantize_per_tensor.tensor(x, self.x_scale, self.x_zp, -128, 127, torch.int8)
        y = qd.quantize_per_tensor.tensor(F.linear(x, w, self.bias), self.y_scale, self.y_zp, -128, 127, torch.int8)
        return qd.dequantize_per_tensor.tensor(y, self.y_scale, self.y_zp, -128, 127, torch.int8)


def test_quantize_per_channel_of_weights_and_tensor_overloads():
    import torch.ao.quantization.fx._decomposed  # noqa: F401
    module, x = TensorOverloads().eval(), torch.randn(3, 8)
    content = pt2lite.convert(module, (x,)).model_content()
    assert tflite_ops(content) == ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"], tflite_ops(content)
    ins, outs, op, tensors = tensors_by_op(content)["FULLY_CONNECTED"][0]
    assert ins == [INT8, INT8, INT32] and outs == [INT8]
    assert len(tensors[op.inputs[1]].quantization.scale) == 6
    with torch.no_grad():
        expected = module(x).numpy()
    compare(run_litert(content, [x.numpy()])[0], expected, 0.05, 1, "LiteRT")


# ------------------------------------------------------------ XNNPACK takes the whole int8 file

class MobileNetLike(torch.nn.Module):
    """Stem conv+bn+relu and a max pool (resnet's), an inverted residual block with ReLU6 (mobilenet_v2's),
    a head conv+ReLU6, global average pool, linear."""

    def __init__(self):
        super().__init__()
        bn = torch.nn.BatchNorm2d
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2, 1), bn(16), torch.nn.ReLU())
        self.block = torch.nn.Sequential(
            torch.nn.Conv2d(16, 32, 1), bn(32), torch.nn.ReLU6(),
            torch.nn.Conv2d(32, 32, 3, padding=1, groups=32), bn(32), torch.nn.ReLU6(),
            torch.nn.Conv2d(32, 16, 1), bn(16))
        self.head = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 1), torch.nn.ReLU6())
        self.fc = torch.nn.Linear(32, 10)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 3, 2, 1)
        x = x + self.block(x)
        return self.fc(F.adaptive_avg_pool2d(self.head(x), 1).flatten(1))


def test_mobilenet_like_int8_is_fully_delegated_to_xnnpack():
    """ReLU6 (its own quantization in the Q/DQ graph) is fused into the int8 conv that feeds it and the
    max pool's -inf padding becomes int8 PAD: LiteRT's XNNPACK delegate takes every op, in one partition."""
    from conftest import xnnpack_delegation
    import ai_edge_litert.interpreter as litert

    def check_file(content):
        ops = tflite_ops(content)
        assert "RELU6" not in ops and "PADV2" not in ops, ops
        assert all(ins[0] == INT8 and outs == [INT8] for ins, outs, _, _ in tensors_by_op(content)["MAX_POOL_2D"])
        delegated, total = xnnpack_delegation(content)
        assert delegated == total, f"{total - delegated} of {total} ops outside XNNPACK: {ops}"
        interpreter = litert.Interpreter(model_content=content)
        interpreter.allocate_tensors()
        partitions = [op for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"]
        assert len(partitions) == 1, len(partitions)

    check_pt2e(MobileNetLike(), (torch.randn(1, 3, 32, 32),),
               int8_ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD"), check_file=check_file)


class ConvReLU6OwnParams(torch.nn.Module):
    """int8 conv -> Q(conv_params) / DQ -> ReLU6 -> Q(6/255, -128) / DQ: the ReLU6's output quantization
    differs from its input's."""

    def __init__(self, conv_zero_point):
        super().__init__()
        torch.manual_seed(0)
        w = torch.randn(8, 3, 3, 3) * 0.3
        self.register_buffer("scales", w.abs().amax((1, 2, 3)) / 127)
        self.register_buffer("zps", torch.zeros(8, dtype=torch.int64))
        self.register_buffer("w8", torch.round(w / self.scales[:, None, None, None]).to(torch.int8))
        self.bias = torch.nn.Parameter(torch.randn(8) * 0.1)
        self.conv_zero_point = conv_zero_point

    def forward(self, x):
        qd = torch.ops.quantized_decomposed

        def qdq(v, scale, zp):
            return qd.dequantize_per_tensor(qd.quantize_per_tensor(v, scale, zp, -128, 127, torch.int8),
                                            scale, zp, -128, 127, torch.int8)

        w = qd.dequantize_per_channel(self.w8, self.scales, self.zps, 0, -127, 127, torch.int8)
        y = qdq(F.conv2d(qdq(x, 0.02, 3), w, self.bias, padding=1), 0.04, self.conv_zero_point)
        return qdq(F.relu6(y), 6 / 255, -128)


@pytest.mark.parametrize("conv_zero_point,fused", [
    (-30, True),   # the conv's int8 range reaches 6.28: the first step never clips what ReLU6 keeps
    (10, False),   # it stops at 4.68: clipping there is not ReLU6's, so the RELU6 stays its own op
])
def test_relu6_with_its_own_output_quantization(conv_zero_point, fused):
    """Fused, the conv writes the ReLU6's output parameters directly: one rounding instead of two, at
    most 1 output step from PyTorch's Q/DQ graph here (conv scale 0.04 <= 2 x 6/255), on both runtimes;
    unfused (the guard), the file still computes the two-step graph."""
    import torch.ao.quantization.fx._decomposed  # noqa: F401
    module, x = ConvReLU6OwnParams(conv_zero_point).eval(), torch.randn(1, 3, 8, 8) * 2
    content = pt2lite.convert(module, (x,)).model_content()
    ops = tflite_ops(content)
    assert ("RELU6" not in ops) == fused, ops
    ins, outs, op, tensors = tensors_by_op(content)["CONV_2D"][0]
    assert ins[:2] == [INT8, INT8] and outs == [INT8]
    if fused:
        assert op.builtinOptions.fusedActivationFunction == tfl_schema.ActivationFunctionType.RELU6
        assert np.isclose(tensors[op.outputs[0]].quantization.scale[0], 6 / 255)
    with torch.no_grad():
        expected = module(x).numpy()
    # unfused, a 1-step difference in the conv's output (scale 0.04) is 1.7 steps of the ReLU6's
    steps = 1 if fused else 2
    compare(run_litert(content, [x.numpy()])[0], expected, 6 / 255, steps, "LiteRT")
    compare(run_pt2lite(content, [x.numpy()])[0], expected, 6 / 255, steps, "pt2lite runtime")


class SiLUCNN(torch.nn.Module):
    """conv -> SiLU -> depthwise conv -> SiLU -> conv: efficientnet's blocks in small. torchao's XNNPACK
    quantizer leaves SiLU unannotated, so each stays float: DEQUANTIZE, LOGISTIC, MUL, QUANTIZE."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.dw = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pw = torch.nn.Conv2d(16, 8, 1)

    def forward(self, x):
        return self.pw(F.silu(self.dw(F.silu(self.conv(x)))))


def test_float_silu_detour_runs_as_one_table(monkeypatch):
    """pt2lite's runtime fuses each float SiLU detour into one int8 lookup (runtime/fusions.c): the outputs
    equal the unfused run's exactly and stay within 1 step of LiteRT's."""
    torch.manual_seed(0)
    args = (torch.randn(1, 3, 24, 24),)
    qm = quantize(SiLUCNN(), args)
    content = pt2lite.convert(qm, args).model_content()
    ops = tflite_ops(content)
    assert ops.count("LOGISTIC") == 2 and ops.count("MUL") == 2 and ops.count("QUANTIZE") >= 2, ops
    inputs = [a.numpy() for a in args]
    fused = run_pt2lite(content, inputs)[0]
    monkeypatch.setenv("P2L_NO_FUSION", "1")
    unfused = run_pt2lite(content, inputs)[0]
    np.testing.assert_array_equal(fused, unfused)
    compare(fused, run_litert(content, inputs)[0], output_scale(qm), 1, "pt2lite runtime against LiteRT")

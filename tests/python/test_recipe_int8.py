"""The int8 recipe: pt2lite.convert(module, args, quantize="int8", calibration=...) writes a full-integer
file (int8 activations at per-tensor parameters from ranges pt2lite's runtime recorded on the float
model, int8 per-channel symmetric weights, int32 bias).

Reference results: the float PyTorch module (cosine similarity >= 0.99 on inputs not used for
calibration: int8 activations carry ~8 bits, so a few-layer net's output loses ~1% of its energy to
rounding at most), LiteRT running the same file (pt2lite's runtime within 1 output step of it: both
follow TFLite's int8 rounding, LiteRT's optimized kernels round some requantizations differently),
and PT2E (torchao's XNNPACK-style symmetric quantizer) on the same model: the recipe's error must be
no worse than PT2E's, with 10% slack for the different calibration choices (asymmetric ranges vs
symmetric, TFLite's fixed pooling parameters)."""
import ctypes

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2lite
from conftest import run_litert, run_pt2lite, tfl_schema, tflite_ops
from pt2lite._native import Pt2liteError

INT8, INT32, FLOAT32 = tfl_schema.TensorType.INT8, tfl_schema.TensorType.INT32, tfl_schema.TensorType.FLOAT32
WEIGHTED = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}  # op -> weights' quantized_dimension


class SmallCNN(nn.Module):
    """conv/bn/relu, depthwise, max and average pooling, a residual add, concat, linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.depthwise = nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.pointwise = nn.Conv2d(32, 32, 1)
        self.branch = nn.Conv2d(32, 16, 3, padding=1)
        self.fc = nn.Linear(48 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 2)
        y = self.pointwise(F.relu6(self.depthwise(x)))
        x = x + y
        x = torch.cat([x, F.relu(self.branch(x))], dim=1)
        x = F.avg_pool2d(x, 2)
        return self.fc(torch.flatten(x, 1))


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 8))


def batches(shape, count, seed):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(shape, generator=generator),) for _ in range(count)]


def cosine(got, expected):
    got, expected = np.asarray(got, np.float64).ravel(), np.asarray(expected, np.float64).ravel()
    return float(got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected) + 1e-30))


def subgraph(content):
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    return model, model.subgraphs[0]


def output_scale(content):
    """The scale of the int8 tensor the model's (float) output is dequantized from."""
    model, sg = subgraph(content)
    out = sg.outputs[0]
    op = next(op for op in sg.operators if out in op.outputs)
    return float(sg.tensors[op.inputs[0]].quantization.scale[0])


def check_int8_file(content, float_content, int8_io=False):
    """Every op reads and writes int8 (the ends: a QUANTIZE from the float input and a DEQUANTIZE to
    the float output, unless int8_io); weights int8 per channel, symmetric; bias int32 at
    input_scale x weight_scale; the file at most 0.3x the float one."""
    model, sg = subgraph(content)
    tensors, ops = sg.tensors, tflite_ops(content)
    for name, op in zip(ops, sg.operators):
        if name == "QUANTIZE" and op.inputs[0] in sg.inputs and not int8_io:
            continue
        if name == "DEQUANTIZE" and op.outputs[0] in sg.outputs and not int8_io:
            continue
        data = [model.buffers[tensors[i].buffer].data if i >= 0 else None for i in op.inputs]
        activations = [op.inputs[0]] if name in WEIGHTED else [i for i, d in zip(op.inputs, data)
                                                                if i >= 0 and (d is None or len(d) == 0)]
        for i in activations + list(op.outputs):
            t = tensors[i]
            assert t.type == INT8, f"{name}: tensor {t.name.decode()} is type {t.type}, not int8 ({ops})"
            assert len(t.quantization.scale) == 1 and -128 <= t.quantization.zeroPoint[0] <= 127
        if name in WEIGHTED:
            w, b = tensors[op.inputs[1]], tensors[op.inputs[2]]
            channels = w.shape[WEIGHTED[name]]
            assert w.type == INT8 and w.quantization.quantizedDimension == WEIGHTED[name]
            assert len(w.quantization.scale) == channels and not np.any(w.quantization.zeroPoint)
            assert b.type == INT32 and not np.any(b.quantization.zeroPoint)
            input_scale = tensors[op.inputs[0]].quantization.scale[0]
            np.testing.assert_allclose(b.quantization.scale, input_scale * np.asarray(w.quantization.scale), rtol=1e-6)
    if int8_io:
        assert all(tensors[i].type == INT8 for i in list(sg.inputs) + list(sg.outputs))
    else:
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
        assert all(tensors[i].type == FLOAT32 for i in list(sg.inputs) + list(sg.outputs))
    ratio = constant_bytes(content) / constant_bytes(float_content)
    assert ratio <= 0.3, f"the int8 file's weights are {ratio:.2f}x the float file's"
    return ratio


def constant_bytes(content):
    model, sg = subgraph(content)
    return sum(len(model.buffers[t.buffer].data) for t in sg.tensors if model.buffers[t.buffer].data is not None)


def convert_both(module, shape, calibration_count=16):
    module = module.eval()
    args = batches(shape, 1, 0)[0]
    calibration = batches(shape, calibration_count, 1)
    edge = pt2lite.convert(module, args, quantize="int8", calibration=calibration)
    return edge, pt2lite.convert(module, args).model_content()


@pytest.mark.parametrize("make, shape", [(SmallCNN, (1, 3, 16, 16)), (mlp, (4, 64))], ids=["cnn", "mlp"])
def test_int8_recipe(make, shape):
    module = make().eval()
    edge, float_content = convert_both(module, shape)
    content = edge.model_content()
    check_int8_file(content, float_content)
    step = output_scale(content)
    for (x,) in batches(shape, 4, 2):  # not the calibration inputs
        with torch.no_grad():
            expected = module(x).numpy()
        litert = run_litert(content, [x.numpy()])[0]
        ours = run_pt2lite(content, [x.numpy()])[0]
        assert cosine(litert, expected) >= 0.99, f"LiteRT vs PyTorch float: cosine {cosine(litert, expected):.4f}"
        assert np.abs(ours - litert).max() <= step * 1.001, "pt2lite's runtime and LiteRT differ by more than 1 step"
        np.testing.assert_allclose(edge(x).numpy(), ours, rtol=0, atol=0)  # EdgeModel runs the same file


def test_int8_io():
    module = SmallCNN().eval()
    shape = (1, 3, 16, 16)
    args = batches(shape, 1, 0)[0]
    edge = pt2lite.convert(module, args, quantize="int8", calibration=batches(shape, 16, 1), io_dtype="int8")
    content = edge.model_content()
    check_int8_file(content, pt2lite.convert(module, args).model_content(), int8_io=True)
    interpreter = pt2lite.Interpreter(model_content=content)
    (scale_in, zero_in), = [d["quantization"] for d in interpreter.get_input_details()]
    (scale_out, zero_out), = [d["quantization"] for d in interpreter.get_output_details()]
    x = batches(shape, 1, 3)[0][0]
    q = torch.clamp(torch.round(x / scale_in) + zero_in, -128, 127).to(torch.int8)
    with pytest.raises(TypeError, match="int8"):
        edge(x)  # float input to an int8 model: the user quantizes (with the file's parameters)
    out = edge(q)
    assert out.dtype == torch.int8
    with torch.no_grad():
        expected = module(x).numpy()
    assert cosine((out.numpy().astype(np.float32) - zero_out) * scale_out, expected) >= 0.99
    litert = run_litert(content, [q.numpy()])[0]
    assert np.abs(litert.astype(np.int32) - out.numpy().astype(np.int32)).max() <= 1


def test_recipe_no_worse_than_pt2e():
    """The same CNN through torchao's PT2E (XNNPACK-style symmetric, per channel) and through the
    recipe, both calibrated on the same inputs, against the float module on other inputs."""
    torchao = pytest.importorskip("torchao")
    del torchao
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

    module = SmallCNN().eval()
    shape = (1, 3, 16, 16)
    calibration, evaluation = batches(shape, 16, 1), batches(shape, 8, 2)
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(module, calibration[0]).module(), quantizer)
    with torch.no_grad():
        for args in calibration:
            prepared(*args)
    pt2e = pt2lite.convert(convert_pt2e(prepared), calibration[0]).model_content()
    recipe = pt2lite.convert(module, calibration[0], quantize="int8", calibration=calibration).model_content()
    with torch.no_grad():
        expected = np.concatenate([module(x).numpy().ravel() for (x,) in evaluation])
    errors = {}
    for name, content in (("pt2e", pt2e), ("recipe", recipe)):
        got = np.concatenate([run_litert(content, [x.numpy()])[0].ravel() for (x,) in evaluation])
        errors[name] = 1 - cosine(got, expected)
    assert errors["recipe"] <= 1.1 * errors["pt2e"], f"1 - cosine: {errors}"


class Halves(nn.Module):
    def forward(self, x):
        return torch.relu(x) * 0.5


def test_errors():
    module, args = Halves().eval(), (torch.randn(2, 8),)
    with pytest.raises(ValueError, match="needs calibration"):
        pt2lite.convert(module, args, quantize="int8")
    with pytest.raises(Pt2liteError, match="calibration is empty"):
        pt2lite.convert(module, args, quantize="int8", calibration=[])
    nan = torch.full((2, 8), float("nan"))
    with pytest.raises(Pt2liteError, match=r"tensor '.*' has the calibrated range \[nan, nan\]"):
        pt2lite.convert(module, args, quantize="int8", calibration=[args, (nan,)])
    inf = torch.full((2, 8), float("inf"))
    with pytest.raises(Pt2liteError, match=r"calibrated range \[.*inf\]"):
        pt2lite.convert(module, args, quantize="int8", calibration=[(inf,)])
    with pytest.raises(ValueError, match="io_dtype='int8' needs quantize='int8'"):
        pt2lite.convert(module, args, io_dtype="int8")


def test_ranges_of_another_model_are_refused():
    """Ranges recorded on one model do not name the other's tensors: the error names the tensor."""
    from pt2lite.calibration import calibrate
    from pt2lite.convert import convert_options, export_archive

    archive_a, program_a = export_archive(Halves(), (torch.randn(2, 8),))
    archive_b, _ = export_archive(mlp().eval(), (torch.randn(2, 64),))
    ranges = calibrate(pt2lite.convert_pt2(archive_a), program_a.call_spec.in_spec, [(torch.randn(2, 8),)])
    assert ranges.invocations == 1
    options = convert_options(quantize="int8", calibration=ranges.handle.value)
    out, size = ctypes.c_void_p(), ctypes.c_size_t()
    status = pt2lite._native.lib.p2l_convert(archive_b, len(archive_b), ctypes.byref(options), ctypes.byref(out),
                                             ctypes.byref(size))
    assert status != 0
    message = pt2lite._native.lib.p2l_last_error().decode()
    assert "has no recorded range" in message and "tensor '" in message, message


def test_record_needs_preserved_tensors():
    from pt2lite.calibration import Calibration

    content = pt2lite.convert(Halves(), (torch.randn(2, 8),)).model_content()
    interpreter = pt2lite.Interpreter(model_content=content)
    ranges = Calibration()
    with pytest.raises(Pt2liteError, match="PRESERVE_ALL_TENSORS"):
        ranges.record(interpreter)
    preserving = pt2lite.Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    with pytest.raises(Pt2liteError, match="has not been invoked"):
        ranges.record(preserving)
    preserving.allocate_tensors()
    x = np.linspace(-3, 5, 16, dtype=np.float32).reshape(2, 8)
    preserving.set_tensor(preserving.get_input_details()[0]["index"], x)
    preserving.invoke()
    ranges.record(preserving)
    name = preserving.get_input_details()[0]["name"]
    assert ranges.range(name) == (-3.0, 5.0)

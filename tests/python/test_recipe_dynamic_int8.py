"""quantize="dynamic_int8" (docs/quantization.md): int8 per-channel weights read by hybrid CONV_2D,
DEPTHWISE_CONV_2D and FULLY_CONNECTED ops, activations float and quantized at run time. The file's
tensors and quantization parameters; its outputs against the float PyTorch model on LiteRT (builtin
kernels and XNNPACK) and on pt2lite's runtime; pt2lite's runtime against
LiteRT's builtin hybrid kernels on the same file; the CLI's --quantize."""

import os
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

import pt2lite
from conftest import run_litert, run_pt2lite, run_signature

# Against the float model: int8 weights and inputs cost about 1% of an output's magnitude.
MIN_COSINE, MAX_ERROR = 0.99, 0.05  # error: max |a - e| / max |e|
# pt2lite's runtime against LiteRT's builtin hybrid kernels: the same integer sums, float rounding only.
SAME_FILE_ERROR = 1e-5


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 128, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(128, 128, 3, padding=1, groups=128), nn.Conv2d(128, 64, 1), nn.ReLU6(),
                         nn.Conv2d(64, 32, 3, padding=2, dilation=2),  # dilated: stays float
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 64)).eval()


class Block(nn.Module):
    """A small transformer block: attention (its matmuls run on activations and stay float) and an MLP."""

    def __init__(self, d=64):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, 4, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def block():
    torch.manual_seed(0)
    return Block().eval()


def tensors(content):
    """[(type name, shape, buffer bytes, quantization)] of subgraph 0's tensors, and the op names."""
    from ai_edge_litert import schema_py_generated as tfl

    names = {v: k for k, v in vars(tfl.TensorType).items() if not k.startswith("_")}
    ops = {v: k for k, v in vars(tfl.BuiltinOperator).items() if not k.startswith("_")}
    model = tfl.ModelT.InitFromPackedBuf(content, 0)
    out = []
    for t in model.subgraphs[0].tensors:
        data = model.buffers[t.buffer].data if t.buffer else None
        out.append((names[t.type], list(t.shape), 0 if data is None else len(data), t.quantization))
    op_names = [ops[model.operatorCodes[o.opcodeIndex].builtinCode] for o in model.subgraphs[0].operators]
    return out, op_names, model


def weight_bytes(content):
    return sum(b for _, _, b, _ in tensors(content)[0])


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def assert_near_float(actual, expected, what):
    error = float(np.abs(actual - expected).max() / np.abs(expected).max())
    assert cosine(actual, expected) > MIN_COSINE and error < MAX_ERROR, (what, cosine(actual, expected), error)


def run_litert_builtin(content, inputs):
    from ai_edge_litert import interpreter as litert

    def builtin(**kw):
        return litert.Interpreter(
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, **kw)
    return run_signature(builtin, content, inputs)


CASES = {"cnn": (cnn, lambda: (torch.randn(2, 3, 16, 16),)), "block": (block, lambda: (torch.randn(2, 10, 64),))}


@pytest.fixture(scope="module", params=sorted(CASES))
def converted(request):
    make, args = CASES[request.param]
    module = make()
    torch.manual_seed(1)
    x = args()
    expected = module(*x).detach().numpy()
    float_file = pt2lite.convert(module, x).model_content()
    int8_file = pt2lite.convert(module, x, quantize="dynamic_int8").model_content()
    return request.param, x, expected, float_file, int8_file


def test_file_has_int8_per_channel_weights(converted):
    name, _, _, float_file, int8_file = converted
    ts, ops, model = tensors(int8_file)
    sub = model.subgraphs[0]
    hybrid = 0
    for op, o in zip(ops, sub.operators):
        if op not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        x, w = ts[o.inputs[0]], ts[o.inputs[1]]
        if w[0] != "INT8":
            continue
        hybrid += 1
        assert x[0] == "FLOAT32" and ts[o.outputs[0]][0] == "FLOAT32"
        q = w[3]
        channel_dim = 3 if op == "DEPTHWISE_CONV_2D" else 0
        assert q.quantizedDimension == channel_dim and len(q.scale) == w[1][channel_dim] > 1, (op, q.scale)
        assert np.all(np.asarray(q.zeroPoint) == 0)
        if len(o.inputs) > 2 and o.inputs[2] >= 0:
            assert ts[o.inputs[2]][0] == "FLOAT32"  # biases stay float
        if op == "FULLY_CONNECTED":
            assert o.builtinOptions.asymmetricQuantizeInputs
        assert w[2] == int(np.prod(w[1]))  # one byte a weight
    assert hybrid >= (4 if name == "cnn" else 3), ops  # cnn: conv, depthwise, 1x1, linear (the
    # first conv is small); block: attention's projections, the MLP
    # int8 weights, float biases and small constants; the cnn keeps its dilated conv's 73 KB float
    ratio = weight_bytes(int8_file) / weight_bytes(float_file)
    assert ratio < {"cnn": 0.5, "block": 0.3}[name], ratio
    if name == "cnn":  # the dilated conv stays float (LiteRT's hybrid conv ignores dilation)
        dilated = [o for op, o in zip(ops, sub.operators) if op == "CONV_2D" and o.builtinOptions.dilationHFactor == 2]
        assert dilated and ts[dilated[0].inputs[1]][0] == "FLOAT32"


def test_outputs_near_float_model_on_both_runtimes(converted):
    name, x, expected, _, int8_file = converted
    inputs = [t.numpy() for t in x]
    builtin = run_litert_builtin(int8_file, inputs)[0]
    assert_near_float(builtin, expected, f"{name} LiteRT builtin")
    assert_near_float(run_litert(int8_file, inputs)[0], expected, f"{name} LiteRT (XNNPACK)")
    for what, ours in [("1 thread", run_pt2lite(int8_file, inputs)[0]),
                       ("2 threads", run_pt2lite(int8_file, inputs, num_threads=2)[0])]:
        assert_near_float(ours, expected, f"{name} pt2lite {what}")
        error = float(np.abs(ours - builtin).max() / np.abs(builtin).max())
        assert error < SAME_FILE_ERROR, (name, what, error)


def test_cli_quantize_flag(converted, tmp_path):
    name, x, _, _, int8_file = converted
    cli = os.path.join(os.path.dirname(os.environ.get("PT2LITE_LIBRARY", pt2lite.__file__)), "pt2lite")
    if not os.access(cli, os.X_OK):
        pytest.skip("no pt2lite binary next to the library")
    make, _ = CASES[name]
    archive = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(make(), x).run_decompositions(), str(archive))
    out = tmp_path / "m.tflite"
    r = subprocess.run([cli, "convert", str(archive), "-o", str(out), "--quantize", "dynamic_int8"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == pt2lite.convert_pt2(archive.read_bytes(), quantize="dynamic_int8")
    r = subprocess.run([cli, "convert", str(archive), "-o", str(tmp_path / "x.tflite"), "--quantize", "int8"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "calibration" in r.stderr and not (tmp_path / "x.tflite").exists()

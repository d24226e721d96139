"""Built-in quantization recipes: pt2lite.convert(module, args, quantize=...) (docs/quantization.md).
Each recipe's file against the float model's PyTorch outputs, on LiteRT and on pt2lite's runtime."""

import numpy as np
import pytest
import torch
from torch import nn

import pt2lite
from conftest import assert_close, run_litert, run_pt2lite, tflite_ops


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 32, 3, groups=32),
                         nn.Conv2d(32, 64, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(64, 10)).eval()


def weight_types(content):
    """{tensor type name: bytes} over the constant tensors of subgraph 0."""
    from ai_edge_litert import schema_py_generated as tfl

    names = {v: k for k, v in vars(tfl.TensorType).items() if not k.startswith("_")}
    model = tfl.ModelT.InitFromPackedBuf(content, 0)
    sizes = {}
    for t in model.subgraphs[0].tensors:
        data = model.buffers[t.buffer].data if t.buffer else None
        if data is not None and len(data):
            sizes[names[t.type]] = sizes.get(names[t.type], 0) + len(data)
    return sizes


def test_fp16_halves_the_weights_and_keeps_float_compute():
    module, x = cnn(), torch.randn(2, 3, 16, 16)
    expected = module(x).detach().numpy()
    float_file = pt2lite.convert(module, (x,)).model_content()
    half_file = pt2lite.convert(module, (x,), quantize="fp16").model_content()
    sizes = weight_types(half_file)
    assert sizes.get("FLOAT16", 0) > 0 and sizes.get("FLOAT32", 0) < 256, sizes
    float_bytes = weight_types(float_file)["FLOAT32"]
    assert abs(sizes["FLOAT16"] - float_bytes / 2) < 0.05 * float_bytes, (sizes, float_bytes)
    assert "DEQUANTIZE" in tflite_ops(half_file)
    for run in (run_litert, run_pt2lite):
        # float16 weights: about 3 significant digits
        assert_close(run(half_file, [x.numpy()])[0], expected, rtol=1e-2, atol=1e-2, what=run.__name__)


def test_recipe_arguments_are_checked_before_export():
    module, x = cnn(), torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="not a recipe"):
        pt2lite.convert(module, (x,), quantize="int3")
    with pytest.raises(ValueError, match="needs calibration"):
        pt2lite.convert(module, (x,), quantize="int8")
    with pytest.raises(ValueError, match="io_dtype='int8' needs quantize='int8'"):
        pt2lite.convert(module, (x,), quantize="fp16", io_dtype="int8")


def test_fp16_in_a_file_of_several_signatures():
    module = cnn()
    a, b = torch.randn(1, 3, 16, 16), torch.randn(1, 3, 24, 24)
    edge = pt2lite.signature("small", module, (a,)).signature("large", module, (b,)).convert(quantize="fp16")
    assert weight_types(edge.model_content()).get("FLOAT16", 0) > 0
    for name, x in (("small", a), ("large", b)):
        got = edge(x, signature_name=name)
        assert_close(np.asarray(got), module(x).detach().numpy(), rtol=1e-2, atol=1e-2, what=name)

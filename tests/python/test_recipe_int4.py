"""The "int4_weights" recipe (docs/quantization.md): block-wise int4 FULLY_CONNECTED weights with
float16 block scales, float activations. Files against the float model's PyTorch outputs on LiteRT
(its default XNNPACK path and its builtin kernels) and on pt2lite's runtime, and the runtimes
against each other."""

import numpy as np
import pytest
import torch
from ai_edge_litert import schema_py_generated as tfl
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from torch import nn

import pt2lite
from conftest import run_litert, run_pt2lite, tflite_ops
from test_recipes import weight_types


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU6(), nn.Linear(64, 16)).eval()


class TinyLlamaBlock(nn.Module):
    """RMSNorm, causal attention with rotary-free heads, SiLU-gated MLP: the linear layers of a Llama block."""

    def __init__(self, dim=64, heads=4, hidden=128):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.RMSNorm(dim), nn.RMSNorm(dim)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(dim, hidden, bias=False), nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        h = self.norm1(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        a = nn.functional.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)),
                                                       is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        h = self.norm2(x)
        return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))


def run_litert_builtin(content, inputs):
    """LiteRT without its default XNNPACK delegate: its builtin block-wise kernel."""
    interpreter = Interpreter(model_content=content,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    for detail, x in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def blockwise_weights(content):
    """[(weight shape, block size, scales type, scales shape)] of the block-wise tensors of subgraph 0."""
    model = tfl.ModelT.InitFromPackedBuf(content, 0)
    tensors = model.subgraphs[0].tensors
    found = []
    for t in tensors:
        q = t.quantization
        if q is not None and q.detailsType == tfl.QuantizationDetails.BlockwiseQuantization:
            assert t.type == tfl.TensorType.INT4
            scales = tensors[q.details.scales]
            found.append((list(t.shape), q.details.blockSize, scales.type, list(scales.shape)))
    return found


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def check_model(module, x, block_size=0, tolerance=0.15):
    expected = module(x).detach().numpy()
    float_file = pt2lite.convert(module, (x,)).model_content()
    int4_file = pt2lite.convert(module, (x,), quantize="int4_weights", quantize_block_size=block_size).model_content()
    block = block_size or 32
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    found = blockwise_weights(int4_file)
    assert sorted(s for s, *_ in found) == sorted([list(m.weight.shape) for m in linears])
    for shape, size, scales_type, scales_shape in found:
        assert size == block and scales_type == tfl.TensorType.FLOAT16 and scales_shape == [shape[0], shape[1] // block]
    # weight bytes: 1/8 of float32 plus one float16 scale per block (1/64 of float32 at block 32)
    weights = sum(m.weight.numel() for m in linears)
    sizes, float_sizes = weight_types(int4_file), weight_types(float_file)
    assert sizes["INT4"] == weights // 2, sizes
    assert sizes["FLOAT16"] == 2 * weights // block, sizes
    assert len(int4_file) < 0.25 * len(float_file) or weights < 50000, (len(int4_file), len(float_file))
    assert float_sizes["FLOAT32"] - sizes.get("FLOAT32", 0) == 4 * weights
    outputs = {run.__name__: run(int4_file, [x.numpy()])[0] for run in (run_litert, run_litert_builtin, run_pt2lite)}
    for name, got in outputs.items():
        # int4 weights (7 levels a side per block) and int8 inputs: the error grows with each layer,
        # measured up to 9% of the output's range for the 3-layer MLP; direction kept to 1%
        assert relative_error(got, expected) < tolerance, (name, relative_error(got, expected))
        cosine = float((got * expected).sum() / np.linalg.norm(got) / np.linalg.norm(expected))
        assert cosine > 0.99, (name, cosine)
    # same arithmetic as LiteRT's builtin kernel (float summation order aside); XNNPACK rounds the
    # block scales to bfloat16 (8 bits of mantissa), hence its looser bound
    assert relative_error(outputs["run_pt2lite"], outputs["run_litert_builtin"]) < 1e-5
    assert relative_error(outputs["run_pt2lite"], outputs["run_litert"]) < 1e-2
    threaded = run_pt2lite(int4_file, [x.numpy()], num_threads=2)[0]
    np.testing.assert_allclose(threaded, outputs["run_pt2lite"], rtol=0, atol=0)
    return int4_file


def test_mlp_int4_weights():
    int4_file = check_model(mlp(), torch.randn(4, 128))
    # LiteRT's builtin block-wise kernel ignores fused activations: the recipe writes them as ops
    ops = tflite_ops(int4_file)
    assert ops.count("FULLY_CONNECTED") == 3 and "RELU" in ops and "RELU6" in ops, ops


def test_llama_block_int4_weights():
    torch.manual_seed(0)
    check_model(TinyLlamaBlock().eval(), torch.randn(1, 8, 64), block_size=16)


def test_block_size_that_does_not_divide_the_input_dimension_is_refused():
    module = nn.Sequential(nn.Linear(48, 8)).eval()
    with pytest.raises(Exception, match="block size 32 does not divide the input dimension 48"):
        pt2lite.convert(module, (torch.randn(1, 48),), quantize="int4_weights")
    # a block size that divides it works
    check_model(module, torch.randn(2, 48), block_size=16)

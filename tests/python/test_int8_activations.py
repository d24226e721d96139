"""int8 LOGISTIC, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1 and SOFTMAX on one-op models over many input/output quantizations, every
int8 input value: pt2lite's runtime must equal LiteRT's reference kernels exactly, and be within one
step of LiteRT's default kernels. Models are written with the schema module (test_runtime_ops.Graph).

Needs PT2LITE_LIBRARY pointing at a built libpt2lite.so and PYTHONPATH including python/."""

import numpy as np
import pytest

from test_runtime_ops import S, Graph, run_litert, run_pt2lite

from pt2lite.interpreter import Interpreter  # noqa: E402

# (input scale, input zero point): small to large scales, so HARD_SWISH's multipliers shift both ways.
INPUT_QUANT = [(0.0039, -128), (0.02, 0), (0.05, -17), (0.1, 30), (0.5, 127), (2.0, -60), (8.0, 5)]


def quantize(g, tensor, scale, zero_point):
    q = S.QuantizationParametersT()
    q.scale, q.zeroPoint = [float(scale)], [int(zero_point)]
    g.tensors[tensor].quantization = q


def one_op(op, in_quant, out_quant, shape=(4, 64), **options):
    """x (every int8 value, shuffled over `shape`) -> op -> int8 y."""
    g = Graph()
    values = np.resize(np.arange(-128, 128, dtype=np.int8), int(np.prod(shape)))
    x = g.input(np.random.default_rng(0).permutation(values).reshape(shape))
    quantize(g, x, *in_quant)
    y = g.op(op, [x], dtype=np.int8, **options)
    quantize(g, y, *out_quant)
    content, outs = g.build(y, {y: shape})
    return g, content, outs


def check(g, content, outs):
    got = run_pt2lite(content, g.feeds, outs)[0]
    want = run_litert(content, g.feeds, outs)[0]
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want)
    default = run_litert(content, g.feeds, outs, reference=False)[0]
    assert np.abs(got.astype(np.int32) - default.astype(np.int32)).max() <= 1


@pytest.mark.parametrize("in_quant", INPUT_QUANT)
def test_logistic(in_quant):
    check(*one_op("LOGISTIC", in_quant, (1 / 256, -128)))


@pytest.mark.parametrize("in_quant", INPUT_QUANT)
@pytest.mark.parametrize("out_quant", [(0.02, -110), (0.05, -120), (0.3, -100)])
def test_hard_swish(in_quant, out_quant):
    if in_quant[0] / 128 / out_quant[0] >= 1 or in_quant[0] / 128 / out_quant[0] < 2 ** -16:
        pytest.skip("a rescale TFLite's int16 form cannot express (refused; see below)")
    check(*one_op("HARD_SWISH", in_quant, out_quant))


@pytest.mark.parametrize("in_quant", INPUT_QUANT)
@pytest.mark.parametrize("out_quant", [(0.02, -128), (0.05, -20), (0.1, 10), (0.5, 0)])
@pytest.mark.parametrize("op", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_relu_family(op, in_quant, out_quant):
    check(*one_op(op, in_quant, out_quant))


@pytest.mark.parametrize("in_quant", INPUT_QUANT)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("shape", [(4, 64), (2, 3, 10), (256,)])
def test_softmax(in_quant, beta, shape):
    check(*one_op("SOFTMAX", in_quant, (1 / 256, -128), shape=shape, options="Softmax", beta=beta))


def test_logistic_takes_any_output_zero_point():
    check(*one_op("LOGISTIC", (0.05, 3), (1 / 256, -10)))


@pytest.mark.parametrize("op,options,out_quant,says", [
    ("LOGISTIC", {}, (1 / 128, -128), "needs scale 1/256"),
    ("SOFTMAX", {"options": "Softmax", "beta": 1.0}, (1 / 128, -128), "needs scale 1/256"),
    ("SOFTMAX", {"options": "Softmax", "beta": 1.0}, (1 / 256, -10), "needs zero point -128"),
])
def test_output_quantization_tflite_does_not_take_is_refused(op, options, out_quant, says):
    g, content, outs = one_op(op, (0.05, 0), out_quant, **options)
    with pytest.raises(Exception):
        run_litert(content, g.feeds, outs)
    it = Interpreter(model_content=content)
    with pytest.raises(Exception, match=f"{op}.*{says}"):
        it.allocate_tensors()


def test_hard_swish_rescale_beyond_int16_is_refused():
    g, content, outs = one_op("HARD_SWISH", (8.0, 0), (0.01, 0))
    it = Interpreter(model_content=content)
    with pytest.raises(Exception, match="HARD_SWISH"):
        it.allocate_tensors()

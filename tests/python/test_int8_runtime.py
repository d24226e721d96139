"""pt2lite's runtime on int8 .tflite files made by another tool (litert-torch, PT2E-quantized; see
tests/data/make_int8_fixtures.py), against LiteRT on the same inputs.

pt2lite's int8 kernels follow TFLite's reference kernels, so on every fixture its outputs must equal
LiteRT's reference kernels (OpResolverType.BUILTIN_REF) exactly. LiteRT's default (optimized / XNNPACK)
kernels round some requantizations differently from its own reference kernels: against those, the
int8 outputs may differ by at most one quantization step. Float outputs (fixtures whose last ops run
in float after a DEQUANTIZE) agree to float rounding.

Needs PT2LITE_LIBRARY pointing at a built libpt2lite.so and PYTHONPATH including python/."""

import os

import numpy as np
import pytest

litert = pytest.importorskip("ai_edge_litert.interpreter")

from pt2lite.interpreter import Interpreter  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "int8")
FIXTURES = sorted(f[: -len(".tflite")] for f in os.listdir(DATA) if f.endswith(".tflite"))
# int8 ops pt2lite's runtime does not run yet: it must refuse them, naming the op (none at present;
# test_int8_activations.py checks refusals of quantizations TFLite's kernels do not take).
NOT_YET = {}
SEEDS = range(4)


def path_of(name):
    return os.path.join(DATA, name + ".tflite")


def random_inputs(details, seed):
    rng = np.random.default_rng(seed)
    inputs = []
    for d in details:
        if d["dtype"] == np.int8:
            inputs.append(rng.integers(-128, 128, size=d["shape"], dtype=np.int8))
        else:
            inputs.append((rng.standard_normal(d["shape"]) * 2).astype(d["dtype"]))
    return inputs


def run(interpreter, inputs):
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def litert_interpreter(name, reference):
    kind = litert.OpResolverType.BUILTIN_REF if reference else litert.OpResolverType.AUTO
    return litert.Interpreter(model_path=path_of(name), experimental_op_resolver_type=kind)


def test_fixtures_are_small_and_int8():
    total = sum(os.path.getsize(path_of(n)) for n in FIXTURES)
    assert len(FIXTURES) >= 8 and total < 300_000
    for name in FIXTURES:
        ops = litert_interpreter(name, True)._get_ops_details()
        assert any(op["op_name"] in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D") for op in ops), name


@pytest.mark.parametrize("name", [n for n in FIXTURES if n not in NOT_YET])
def test_equals_litert_reference_kernels(name):
    for seed in SEEDS:
        reference = litert_interpreter(name, True)
        inputs = random_inputs(reference.get_input_details(), seed)
        want = run(reference, inputs)
        got = run(Interpreter(model_path=path_of(name)), inputs)
        for w, g in zip(want, got):
            assert g.dtype == w.dtype and g.shape == w.shape
            if w.dtype == np.float32:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"{name}, seed {seed}")
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{name}, seed {seed}")


@pytest.mark.parametrize("name", [n for n in FIXTURES if n not in NOT_YET])
def test_within_one_step_of_litert_default_kernels(name):
    optimized = litert_interpreter(name, False)
    inputs = random_inputs(optimized.get_input_details(), 0)
    want = run(optimized, inputs)
    got = run(Interpreter(model_path=path_of(name)), inputs)
    for w, g in zip(want, got):
        if w.dtype == np.float32:
            continue  # the float tail: compared above
        assert np.abs(g.astype(np.int32) - w.astype(np.int32)).max() <= 1, name


@pytest.mark.parametrize("name", sorted(NOT_YET) or [pytest.param(None, marks=pytest.mark.skip("none"))])
def test_unsupported_int8_op_is_refused_naming_it(name):
    interpreter = Interpreter(model_path=path_of(name))
    inputs = random_inputs(interpreter.get_input_details(), 0)
    with pytest.raises(Exception, match=NOT_YET[name]):
        run(interpreter, inputs)


def test_quantization_parameters_are_exposed():
    name = "linear"
    ours, theirs = Interpreter(model_path=path_of(name)), litert_interpreter(name, True)
    for a, b in zip(ours.get_input_details() + ours.get_output_details(),
                    theirs.get_input_details() + theirs.get_output_details()):
        assert a["dtype"] == b["dtype"] == np.int8
        assert a["quantization"][1] == b["quantization"][1]
        assert np.float32(a["quantization"][0]) == np.float32(b["quantization"][0])

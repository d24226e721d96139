"""Shared helpers for the Python tests: convert a module, run it on both runtimes (the official LiteRT
runtime and pt2lite's own), compare each with PyTorch eager."""

import json
import os
import random
import zlib

import numpy as np
import pytest
import torch

import pt2lite
from pt2lite._record import record_passed

litert = pytest.importorskip("ai_edge_litert.interpreter")
from ai_edge_litert import schema_py_generated as tfl_schema  # noqa: E402

_OP_NAMES = {v: k for k, v in vars(tfl_schema.BuiltinOperator).items() if not k.startswith("_")}


def seed_everything(text):
    """Seeds torch's, numpy's and Python's global generators from `text` (crc32: stable across runs,
    unlike the salted hash())."""
    seed = zlib.crc32(text.encode())
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def pytest_collectstart(collector):
    # a test file's import-time draws (module-level inputs, parametrize values) depend only on that file,
    # not on which files were collected before it
    if isinstance(collector, pytest.Module):
        seed_everything(collector.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request):
    # a module- or session-scoped fixture is set up by whichever test needs it first: seed it from its own
    # name and scope (request.node is the module or session), not from the state that test left
    if fixturedef.scope != "function":
        seed_everything(f"{request.node.nodeid}::{fixturedef.argname}")


def pytest_runtest_logreport(report):
    # docs/ops.md counts an op as tested only when a test that converted it passed (xfails do not count)
    if report.when == "call" and report.passed and not hasattr(report, "wasxfail"):
        record_passed(report.nodeid)


@pytest.fixture(autouse=True)
def seed_per_test(request):
    """Every test draws from generators seeded by its own node id: its inputs do not depend on which tests
    ran before it, so a failure reproduces when the test runs alone."""
    seed_everything(request.node.nodeid)


def tflite_ops(content):
    """Builtin op names of subgraph 0, in order."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    codes = model.operatorCodes
    return [_OP_NAMES[max(codes[op.opcodeIndex].builtinCode, codes[op.opcodeIndex].deprecatedBuiltinCode)]
            for op in model.subgraphs[0].operators]


def run_signature(interpreter_class, content, inputs, **options):
    """Runs the model's serving_default signature with an Interpreter class (LiteRT's or pt2lite's:
    the same code drives both); returns the outputs in order."""
    interpreter = interpreter_class(model_content=content, **options)
    runner = interpreter.get_signature_runner("serving_default")
    details = runner.get_input_details()
    feed = {f"args_{i}": np.ascontiguousarray(x, dtype=details[f"args_{i}"]["dtype"]) for i, x in enumerate(inputs)}
    result = runner(**feed)
    return [result[k] for k in sorted(result, key=lambda name: int(name.split("_")[-1]))]


def run_litert(content, inputs):
    """Runs the model's serving_default signature on LiteRT; returns the outputs in order."""
    return run_signature(litert.Interpreter, content, inputs)


class Pt2liteRuntimeFailure(Exception):
    """pt2lite's runtime failed or disagreed with PyTorch on a model that LiteRT ran correctly. Not an
    AssertionError, so `xfail(raises=Pt2liteRuntimeFailure)` marks exactly the runtime's gaps and
    `xfail(raises=AssertionError)` (converter bugs, seen on LiteRT first) does not swallow them."""


def run_pt2lite(content, inputs, num_threads=None):
    """Runs the model's serving_default signature on pt2lite's runtime (pt2lite.Interpreter)."""
    return run_signature(pt2lite.Interpreter, content, inputs, num_threads=num_threads)


def xnnpack_delegation(content):
    """(ops LiteRT hands to XNNPACK, total ops)."""
    delegated, names = xnnpack_delegated_ops(content)
    return len(delegated), len(names)


def xnnpack_delegated_ops(content):
    """(indices of the ops LiteRT hands to XNNPACK, names of all ops). Each DELEGATE node of the
    execution plan covers the ops between its inputs and outputs; walk back from its outputs."""
    interpreter = litert.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    originals = [op for op in ops if op["op_name"] != "DELEGATE"]
    producer = {}
    for op in originals:
        for t in op["outputs"]:
            producer[int(t)] = op
    delegated = set()
    for node in (op for op in ops if op["op_name"] == "DELEGATE"):
        boundary = {int(t) for t in node["inputs"]}
        stack = [int(t) for t in node["outputs"]]
        while stack:
            op = producer.get(stack.pop())
            if op is None or op["index"] in delegated:
                continue
            delegated.add(op["index"])
            stack.extend(int(t) for t in op["inputs"] if int(t) >= 0 and int(t) not in boundary)
    return delegated, [op["op_name"] for op in originals]


def record_delegation(content):
    """With PT2LITE_RECORD_OPS set (scripts/gen_ops_doc.py --run-tests), appends which emitted TFLite
    ops LiteRT's XNNPACK path took, for the figure in docs/ops.md."""
    path = os.environ.get("PT2LITE_RECORD_OPS")
    if not path:
        return
    delegated, names = xnnpack_delegated_ops(content)
    with open(path, "a") as f:
        f.write(json.dumps({"test": os.environ.get("PYTEST_CURRENT_TEST", ""),
                            "tflite_ops": [[name, i in delegated] for i, name in enumerate(names)]}) + "\n")


def flat_tensors(value):
    leaves, _ = torch.utils._pytree.tree_flatten(value)
    return [x for x in leaves if isinstance(x, torch.Tensor)]


# The dtype a PyTorch result may have in a .tflite (README, "dtypes"): int64 and float64 become int32 and
# float32 inside the model; every other dtype is kept. A result in any other dtype is wrong.
CONVERTED_DTYPE = {np.dtype(np.int64): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.float32)}

# Default tolerance, element by element: fp32 results of a few ops on O(1) inputs. A test that needs
# more (long sums, deep models, large magnitudes) sets its own, with a comment saying why.
RTOL, ATOL = 1e-4, 1e-5


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, what="output"):
    """Every element: |a - e| <= atol + rtol * |e| (numpy.isclose), NaN where PyTorch has NaN, infinities
    equal; the shape exactly; the dtype that of PyTorch's result or its documented conversion
    (CONVERTED_DTYPE). Integers and bools compare exactly, without casting either side."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    allowed = {expected.dtype, CONVERTED_DTYPE.get(expected.dtype, expected.dtype)}
    assert actual.dtype in allowed, f"{what}: dtype {actual.dtype}, expected {' or '.join(sorted(map(str, allowed)))}"
    if not np.issubdtype(expected.dtype, np.floating):
        wrong = actual != expected  # int32 vs int64 compares values, not wrapped bits
    else:
        wrong = ~np.isclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)
    if np.any(wrong):
        where = np.argwhere(wrong)
        shown = ", ".join(f"{tuple(int(i) for i in w)}: {actual[tuple(w)]!r} vs {expected[tuple(w)]!r}" for w in where[:5])
        with np.errstate(invalid="ignore"):  # inf - inf where the infinities' signs differ
            diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))[wrong]
        largest = float(np.max(np.where(np.isnan(diff), np.inf, diff)))  # NaN where a number was expected
        raise AssertionError(f"{what}: {len(where)} of {expected.size} elements differ beyond atol {atol:g} + "
                             f"rtol {rtol:g} * |expected| (largest difference {largest:.3g}); {shown}")


def assert_outputs_close(got, expected, rtol=RTOL, atol=ATOL, what="output"):
    """assert_close on each output, after checking that there are as many outputs as expected."""
    got, expected = list(got), list(expected)
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e.numpy() if isinstance(e, torch.Tensor) else e, rtol, atol, what=f"{what} {i}")


def check_pt2lite_runtime(content, inputs, expected, rtol=RTOL, atol=ATOL):
    """pt2lite's runtime against PyTorch eager with the same tolerance as LiteRT; any failure (an error
    from the runtime or a mismatch) becomes Pt2liteRuntimeFailure. Returns the outputs."""
    try:
        got = run_pt2lite(content, inputs)
        assert_outputs_close(got, expected, rtol, atol, what="pt2lite runtime output")
    except (AssertionError, pt2lite.Pt2liteError, ValueError) as e:
        raise Pt2liteRuntimeFailure(f"pt2lite runtime: {type(e).__name__}: {e}") from e
    return got


def check_module(module, args, kwargs=None, rtol=RTOL, atol=ATOL):
    """Converts `module`, runs the .tflite on LiteRT and on pt2lite's runtime, compares every output of
    each with PyTorch eager (same tolerance). LiteRT is checked first: a converter bug fails as an
    AssertionError; a gap of pt2lite's runtime alone as Pt2liteRuntimeFailure.
    Returns the EdgeModel for further checks."""
    module = module.eval()
    if not isinstance(args, tuple):
        args = (args,)
    with torch.no_grad():
        expected = flat_tensors(module(*args, **(kwargs or {})))
    edge = pt2lite.convert(module, args, kwargs)
    record_delegation(edge.model_content())
    inputs = [t.numpy() for t in flat_tensors((args, kwargs or {}))]
    assert_outputs_close(run_litert(edge.model_content(), inputs), expected, rtol, atol, what="LiteRT output")
    check_pt2lite_runtime(edge.model_content(), inputs, [e.numpy() for e in expected], rtol, atol)
    # the EdgeModel call path (both backends) must agree too (structure and values)
    for backend in ("litert", "pt2lite"):
        edge.backend = backend
        with torch.no_grad():
            called = flat_tensors(edge(*args, **(kwargs or {})))
        assert_outputs_close([c.numpy() for c in called], expected, rtol, atol, what=f"EdgeModel ({backend}) output")
    edge.backend = "pt2lite"
    return edge


def check_both_runtimes(content, inputs, check):
    """Runs the model on LiteRT, then on pt2lite's runtime, and calls check(outputs, runtime) with each
    one's outputs (check asserts what its test needs beyond check_module: dtypes, exact values). As in
    check_module, a failure on LiteRT is an AssertionError and one on pt2lite's runtime alone a
    Pt2liteRuntimeFailure."""
    check(run_litert(content, inputs), "LiteRT")
    try:
        check(run_pt2lite(content, inputs), "pt2lite runtime")
    except (AssertionError, pt2lite.Pt2liteError, ValueError) as e:
        raise Pt2liteRuntimeFailure(f"pt2lite runtime: {type(e).__name__}: {e}") from e


class Fn(torch.nn.Module):
    """A function as a module, for op tests: forward(x, *rest) = fn(x, *rest).

    conv=True first runs a 3->4 channel 3x3 conv on x, so fn sees a tensor the converter holds NHWC.
    `mods` are modules fn uses (registered, so their weights are part of the model). Keyword tensors
    become buffers (constants in the graph); with_self=True calls fn(self, x, *rest) so fn can read
    them as self.<name>."""

    def __init__(self, fn, conv=False, mods=(), with_self=False, **buffers):
        super().__init__()
        self.fn = fn
        self.with_self = with_self
        self.mods = torch.nn.ModuleList(mods)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1) if conv else None
        for name, value in buffers.items():
            self.register_buffer(name, value)

    def forward(self, x, *rest):
        if self.conv is not None:
            x = self.conv(x)
        return self.fn(self, x, *rest) if self.with_self else self.fn(x, *rest)

"""Malformed .tflite files on pt2lite's runtime: each one gets a clear error (a Pt2liteError naming what
is wrong), never a crash or a hang.

The files are real converted models, corrupted: truncated, with offsets pointing outside the file,
indices out of range, negative / huge / zero dims, a tensor both input and output of an op, options
that would divide by zero, and a few hundred random byte flips. Targeted corruptions go through
LiteRT's generated schema module (object API) and the flatbuffers package.

Every file is loaded (from bytes and from a path), allocated, fed zeros and invoked in a child process,
so a crash fails the one case it happened on instead of killing pytest. One child runs all the cases;
after a crash a new child goes on with the cases left."""

import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import pt2lite

flatbuffers = pytest.importorskip("flatbuffers")
S = pytest.importorskip("ai_edge_litert.schema_py_generated")

# ---------------------------------------------------------------- the child

CHILD = r'''
import json, sys
import numpy as np
import pt2lite

def attempt(make):
    try:
        it = make()
        it.allocate_tensors()
        for d in it.get_input_details():
            shape, dtype = tuple(int(v) for v in d["shape"]), d["dtype"]
            if dtype is not None and np.prod(shape, dtype=np.float64) * np.dtype(dtype).itemsize < 1 << 26:
                it.set_tensor(d["index"], np.zeros(shape, dtype))
        it.invoke()
        for d in it.get_output_details():
            it.get_tensor(d["index"])
        return {"outcome": "ok"}
    except pt2lite.Pt2liteError as e:
        return {"outcome": "error", "status": e.status, "message": str(e)}
    except Exception as e:  # anything else is a bug of its own
        return {"outcome": "other", "message": f"{type(e).__name__}: {e}"}

for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1][:-len(".tflite")]
    print(json.dumps({"start": name}), flush=True)
    content = open(path, "rb").read()
    by_content = attempt(lambda: pt2lite.Interpreter(model_content=content))
    by_path = attempt(lambda: pt2lite.Interpreter(model_path=path))
    print(json.dumps({"case": name, "content": by_content, "path": by_path}), flush=True)
'''


def run_cases(directory, names, timeout=240):
    """{case: {"content": outcome, "path": outcome}}; a case that crashed or hung the child gets
    {"crash": description}."""
    results, todo = {}, list(names)
    while todo:
        paths = [os.path.join(directory, f"{n}.tflite") for n in todo]
        try:
            r = subprocess.run([sys.executable, "-c", CHILD, *paths], capture_output=True, text=True, timeout=timeout)
            out, err, crash = r.stdout, r.stderr, None if r.returncode == 0 else f"exit status {r.returncode}"
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err, crash = "", f"no answer after {timeout} s (hang?)"
        started = None
        for line in out.splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "start" in record:
                started = record["start"]
            else:
                results[record.pop("case")] = record
                started = None
        if started is not None:
            results[started] = {"crash": f"{crash}; stderr: {err[-2000:]}"}
        elif crash:
            raise AssertionError(f"the child failed outside any case: {crash}\n{err[-2000:]}")
        todo = [n for n in todo if n not in results]
    return results


# ---------------------------------------------------------------- the models

class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        y = torch.nn.functional.max_pool2d(self.dw(y) + y, 2)
        return torch.softmax(self.fc(y.mean((2, 3))), -1)


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(16, 48)

    def forward(self, x):
        q, k, v = self.qkv(x).reshape(1, 6, 3, 16).permute(2, 0, 1, 3)
        a = torch.softmax(q @ k.transpose(-1, -2) * 0.25, -1)
        return (a @ v).reshape(1, 96)


def unpack(content):
    return S.ModelT.InitFromPackedBuf(content, 0)


def pack(model):
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def op_index(model, name):
    """Index of the first op of subgraph 0 with builtin `name`."""
    code = getattr(S.BuiltinOperator, name)
    codes = model.operatorCodes
    for i, op in enumerate(model.subgraphs[0].operators):
        c = codes[op.opcodeIndex]
        if max(c.builtinCode, c.deprecatedBuiltinCode) == code:
            return i
    raise AssertionError(f"no {name} op")


def constant_tensor(model):
    """Index of a tensor with data (a weight)."""
    sg = model.subgraphs[0]
    return next(i for i, t in enumerate(sg.tensors) if t.buffer and model.buffers[t.buffer].data is not None)


def edit(content, fn):
    m = unpack(content)
    for sg in m.subgraphs:  # numpy views of the file: make the index vectors writable lists
        sg.inputs, sg.outputs = list(sg.inputs), list(sg.outputs)
        for op in sg.operators:
            op.inputs, op.outputs = list(op.inputs), list(op.outputs)
        for t in sg.tensors:
            t.shape = None if t.shape is None else list(t.shape)
    fn(m)
    return pack(m)


def set_options(content, op_name, **fields):
    def fn(m):
        op = m.subgraphs[0].operators[op_index(m, op_name)]
        for k, v in fields.items():
            setattr(op.builtinOptions, k, v)
    return edit(content, fn)


def set_input_shape(content, shape):
    def fn(m):
        sg = m.subgraphs[0]
        t = sg.tensors[sg.inputs[0]]
        t.shape = list(shape)
        t.shapeSignature = None
    return edit(content, fn)


def patch_u32(content, at, value):
    data = bytearray(content)
    data[at:at + 4] = int(value).to_bytes(4, "little", signed=value < 0)
    return bytes(data)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return pt2lite.convert(SmallCNN().eval(), (torch.randn(1, 3, 12, 10),)).model_content()


@pytest.fixture(scope="module")
def attention():
    torch.manual_seed(0)
    return pt2lite.convert(Attention().eval(), (torch.randn(1, 6, 16),)).model_content()


# ---------------------------------------------------------------- the cases
# name -> (make(cnn, attention) -> bytes, regex the error must match; None: any clean outcome, run or error)

ANY = None
OUTSIDE = r"outside the file|runs past|too small|bad size|not NUL-terminated"


def _truncations():
    cases = {}
    for n in (0, 3, 4, 8, 12, 16, 24, 40, 64, 100, 200):
        cases[f"truncated_at_{n}"] = (lambda c, a, n=n: c[:n], r"too small|" + OUTSIDE + "|TFL3")
    for frac in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        cases[f"truncated_{int(frac * 100)}pct"] = (lambda c, a, f=frac: c[:int(len(c) * f)], OUTSIDE)
    cases["truncated_by_one_byte"] = (lambda c, a: c[:-1], OUTSIDE)
    return cases


def _weight_length_huge(c, a):
    m = unpack(c)
    data = bytes(m.buffers[m.subgraphs[0].tensors[constant_tensor(m)].buffer].data)
    at = c.find(data)
    assert at > 4 and int.from_bytes(c[at - 4:at], "little") == len(data)
    return patch_u32(c, at - 4, 0x7FFFFFF0)


def _tensor_name_unterminated(c, a):
    m = unpack(c)
    name = m.subgraphs[0].tensors[constant_tensor(m)].name
    at = c.find(name + b"\0")
    return patch_u32(c, at - 4, len(c))  # the string's length runs to the end of the file


def _op_io(field, index, value, which="CONV_2D"):
    def make(c, a):
        def fn(m):
            op = m.subgraphs[0].operators[op_index(m, which)]
            getattr(op, field)[index] = value
        return edit(c, fn)
    return make


def _sg_io(field, value):
    def make(c, a):
        def fn(m):
            getattr(m.subgraphs[0], field)[0] = value
        return edit(c, fn)
    return make


def _signature_tensor(c, a):
    def fn(m):
        m.signatureDefs[0].inputs[0].tensorIndex = 5000
    return edit(c, fn)


def _signature_subgraph(c, a):
    def fn(m):
        m.signatureDefs[0].subgraphIndex = 3
    return edit(c, fn)


def _tensor_field(fn_tensor, pick=constant_tensor):
    def make(c, a):
        def fn(m):
            fn_tensor(m.subgraphs[0].tensors[pick(m)])
        return edit(c, fn)
    return make


def _activation(m):
    """An intermediate tensor: output of the first op."""
    return m.subgraphs[0].operators[0].outputs[0]


def _set(attr, value):
    def fn(t):
        setattr(t, attr, value)
    return fn


def _output_is_input(c, a):
    def fn(m):
        op = m.subgraphs[0].operators[op_index(m, "ADD")]
        op.outputs[0] = op.inputs[0]
    return edit(c, fn)


def _written_twice(c, a):
    def fn(m):
        ops = m.subgraphs[0].operators
        first = ops[0].outputs[0]
        later = next(op for op in ops[1:] if first not in op.inputs)
        later.outputs[0] = first
    return edit(c, fn)


def _read_before_write(c, a):
    def fn(m):
        ops = m.subgraphs[0].operators
        ops[0].inputs[0] = ops[-1].outputs[0]
    return edit(c, fn)


def _opcode(field, value):
    def make(c, a):
        def fn(m):
            setattr(m.operatorCodes[m.subgraphs[0].operators[0].opcodeIndex], field, value)
        return edit(c, fn)
    return make


def _custom_op(c, a):
    def fn(m):
        oc = m.operatorCodes[m.subgraphs[0].operators[0].opcodeIndex]
        oc.builtinCode = oc.deprecatedBuiltinCode = S.BuiltinOperator.CUSTOM
        oc.customCode = "MyOp"
    return edit(c, fn)


def _op_field(field, value):
    def make(c, a):
        def fn(m):
            setattr(m.subgraphs[0].operators[0], field, value)
        return edit(c, fn)
    return make


def _wrong_options_type(c, a):
    def fn(m):
        op = m.subgraphs[0].operators[op_index(m, "CONV_2D")]
        op.builtinOptionsType = S.BuiltinOptions.SoftmaxOptions
        op.builtinOptions = S.SoftmaxOptionsT()
    return edit(c, fn)


def _no_subgraphs(c, a):
    def fn(m):
        m.subgraphs = []
        m.signatureDefs = []
    return edit(c, fn)


def _buffer0_not_empty(c, a):
    def fn(m):
        m.buffers[0].data = [1, 2, 3, 4]
    return edit(c, fn)


def _reshape_shape(shape):
    """The attention model's first RESHAPE gets a new target shape (its shape input and options)."""
    def make(c, a):
        def fn(m):
            sg = m.subgraphs[0]
            op = sg.operators[op_index(m, "RESHAPE")]
            if op.builtinOptions is not None:
                op.builtinOptions.newShape = list(shape)
            if len(op.inputs) > 1 and op.inputs[1] >= 0:
                t = sg.tensors[op.inputs[1]]
                b = S.BufferT()
                b.data = list(np.array(shape, np.int32).tobytes())
                m.buffers.append(b)
                t.buffer, t.shape, t.type = len(m.buffers) - 1, [len(shape)], S.TensorType.INT32
        return edit(a, fn)
    return make


def _zero_dim_everywhere(c, a):
    """Input [1, 3, 0, 10]: every activation has a zero dim (pooling and mean over nothing)."""
    return set_input_shape(c, [1, 3, 0, 10])


CASES = {
    **_truncations(),
    "bad_identifier": (lambda c, a: c[:4] + b"XXXX" + c[8:], r"TFL3"),
    "root_offset_outside": (lambda c, a: patch_u32(c, 0, 0x7FFFFF00), OUTSIDE),
    "root_offset_last_byte": (lambda c, a: patch_u32(c, 0, len(c) - 2), OUTSIDE),
    "vtable_offset_outside": (lambda c, a: patch_u32(c, int.from_bytes(c[:4], "little"), -0x7FFFFF00),
                              OUTSIDE + "|vtable"),
    "weight_vector_length_huge": (_weight_length_huge, OUTSIDE),
    "string_runs_past_end": (_tensor_name_unterminated, OUTSIDE),
    "op_input_out_of_range": (_op_io("inputs", 0, 100000), r"out of range"),
    "op_input_negative": (_op_io("inputs", 0, -7), r"out of range|negative"),
    "op_output_out_of_range": (_op_io("outputs", 0, 100000), r"out of range"),
    "required_input_omitted": (_op_io("inputs", 1, -1), r"omitted|not optional"),
    "subgraph_input_out_of_range": (_sg_io("inputs", 99999), r"out of range"),
    "subgraph_output_out_of_range": (_sg_io("outputs", -3), r"out of range"),
    "signature_tensor_out_of_range": (_signature_tensor, r"out of range"),
    "signature_subgraph_out_of_range": (_signature_subgraph, r"subgraph index 3 is out of range"),
    "buffer_index_out_of_range": (_tensor_field(_set("buffer", 4096)), r"buffer index 4096 is out of range"),
    "opcode_index_out_of_range": (_op_field("opcodeIndex", 77), r"opcode index 77 is out of range"),
    "unknown_builtin": (_opcode("builtinCode", 4000), r"builtin operator code 4000 is not supported"),
    "custom_op": (_custom_op, r"custom op 'MyOp' is not supported"),
    "op_version_too_high": (_opcode("version", 99), r"version 99"),
    "options_of_another_op": (_wrong_options_type, r"builtin_options_type is \d+, but CONV_2D takes"),
    "no_subgraphs": (_no_subgraphs, r"no subgraphs"),
    "buffer0_not_empty": (_buffer0_not_empty, r"buffer 0"),
    "schema_version_2": (lambda c, a: edit(c, lambda m: setattr(m, "version", 2)), r"schema version 2"),
    "negative_dim": (_tensor_field(_set("shape", [-3, 3, 3, 3])), r"negative"),
    "negative_input_dim": (lambda c, a: set_input_shape(c, [1, -3, 12, 10]), r"negative"),
    "huge_dims_overflow": (_tensor_field(_set("shape", [2**31 - 1] * 4)), r"overflow"),
    "huge_dims_activation": (_tensor_field(_set("shape", [65536] * 4), pick=_activation), r"overflow"),
    "huge_input_no_memory": (lambda c, a: set_input_shape(c, [1, 3, 2**24, 2**24]),
                             r"out of memory|too large|exceeds|limit"),
    "rank_above_8": (_tensor_field(_set("shape", [1] * 9), pick=_activation), r"rank 9"),
    "constant_size_mismatch": (_tensor_field(_set("shape", [8, 3, 3, 4])), r"buffer \d+ holds"),
    "unsupported_dtype": (_tensor_field(_set("type", S.TensorType.COMPLEX64), pick=_activation),
                          r"element type 8 .* is not supported"),
    "tensor_input_and_output_of_op": (_output_is_input, r"both input \d+ and output \d+"),
    "tensor_written_twice": (_written_twice, r"already written by op 0"),
    "read_before_write": (_read_before_write, r"before op \d+ writes it"),
    "zero_dim_input": (_zero_dim_everywhere, ANY),
    "zero_dim_constant": (_tensor_field(_set("shape", [0, 3, 3, 3])), r"shape x element size = 0 bytes"),
    "zero_dim_attention_input": (lambda c, a: set_input_shape(a, [1, 0, 16]), r"cannot reshape 0 elements"),
    "conv_stride_zero": (lambda c, a: set_options(c, "CONV_2D", strideH=0), r"stride 0 and dilation 1 must be at least 1"),
    "conv_dilation_zero": (lambda c, a: set_options(c, "CONV_2D", dilationWFactor=0), r"dilation 0"),
    "depthwise_stride_zero": (lambda c, a: set_options(c, "DEPTHWISE_CONV_2D", strideW=0), r"stride 0"),
    "depthwise_multiplier_zero": (lambda c, a: set_options(c, "DEPTHWISE_CONV_2D", depthMultiplier=0), ANY),
    "pool_filter_zero": (lambda c, a: set_options(c, "MAX_POOL_2D", filterWidth=0), r"filter size 0"),
    "pool_stride_zero": (lambda c, a: set_options(c, "MAX_POOL_2D", strideW=0), r"stride 0"),
    "bad_padding_enum": (lambda c, a: set_options(c, "CONV_2D", padding=7), r"padding 7 is neither SAME nor VALID"),
    "bad_activation_enum": (lambda c, a: set_options(c, "CONV_2D", fusedActivationFunction=42), r"fused activation 42"),
    "input_rank_0": (lambda c, a: set_input_shape(c, []), r"rank-0 input"),
    "reshape_two_unknown_dims": (_reshape_shape([-1, -1, 3, 16]), r"RESHAPE.*new shape dim 1 is -1"),
    # the first RESHAPE splits the qkv projection [1, 6, 48] (288 elements) into heads
    "reshape_wrong_count": (_reshape_shape([1, 6, 3, 17]), r"cannot reshape 288 elements into a shape of 306"),
    "reshape_unknown_with_zero": (_reshape_shape([-1, 0, 3, 16]), r"cannot infer the -1 dim"),
    "reshape_negative": (_reshape_shape([1, -6, 3, -16]), r"new shape dim 1 is -6"),
    "attention_input_wrong_size": (lambda c, a: set_input_shape(a, [1, 6, 17]),
                                   r"\(102 elements\) is not a whole number of rows of 16"),
}

# Random corruptions of the file's structure (weights excluded: flipping a weight is a valid model):
# each mutant either runs or fails with a Pt2liteError.
FUZZ = 240


def _fuzz(c, seed):
    rng = random.Random(seed)
    m = unpack(c)
    weights = []
    for b in m.buffers:
        if b.data is not None and len(b.data) > 16:
            at = c.find(bytes(b.data))
            weights.append((at, at + len(b.data)))
    data = bytearray(c)
    for _ in range(rng.choice((1, 1, 2, 4))):
        while True:
            at = rng.randrange(len(data))
            if not any(lo <= at < hi for lo, hi in weights):
                break
        kind = rng.random()
        if kind < 0.5:
            data[at] ^= 1 << rng.randrange(8)
        elif kind < 0.8:
            data[at] = rng.choice((0x00, 0xFF, 0x7F, 0x80))
        else:
            at -= at % 4
            data[at:at + 4] = rng.choice((0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, len(c), len(c) - 4)).to_bytes(4, "little")
    return bytes(data)


@pytest.fixture(scope="module")
def results(cnn, attention, tmp_path_factory):
    directory = tmp_path_factory.mktemp("malformed")
    names = []
    for name, (make, _) in CASES.items():
        (directory / f"{name}.tflite").write_bytes(make(cnn, attention))
        names.append(name)
    for i in range(FUZZ):
        (directory / f"fuzz_{i}.tflite").write_bytes(_fuzz(cnn if i % 3 else attention, i))
        names.append(f"fuzz_{i}")
    # the unmodified models run (so an error below comes from the corruption)
    (directory / "intact_cnn.tflite").write_bytes(cnn)
    (directory / "intact_attention.tflite").write_bytes(attention)
    names += ["intact_cnn", "intact_attention"]
    return run_cases(str(directory), names)


def check_result(name, record, pattern):
    assert "crash" not in record, f"{name}: the runtime crashed: {record['crash']}"
    for how in ("content", "path"):
        r = record[how]
        assert r["outcome"] != "other", f"{name} (from {how}): not a Pt2liteError: {r['message']}"
        if pattern is not ANY:
            assert r["outcome"] == "error", f"{name} (from {how}): loaded and ran; expected an error matching {pattern!r}"
            assert re.search(pattern, r["message"], re.IGNORECASE), \
                f"{name} (from {how}): message does not say {pattern!r}: {r['message']}"
            assert r["status"] != 7, f"{name}: reported as an internal error: {r['message']}"
    if pattern is not ANY:  # the same error either way; from a path, the message starts with the path
        assert record["path"]["message"].endswith(record["content"]["message"]), \
            f"{name}: loading from bytes and from a path disagree: {record}"
        if name.startswith("truncated") or name == "bad_identifier":
            assert f"{name}.tflite" in record["path"]["message"], record["path"]["message"]


def test_intact_models_run(results):
    for name in ("intact_cnn", "intact_attention"):
        assert results[name]["content"] == {"outcome": "ok"}, results[name]
        assert results[name]["path"] == {"outcome": "ok"}, results[name]


@pytest.mark.parametrize("name", list(CASES))
def test_malformed(results, name):
    check_result(name, results[name], CASES[name][1])


def test_fuzzed(results):
    failures, errors = [], 0
    for i in range(FUZZ):
        name = f"fuzz_{i}"
        try:
            check_result(name, results[name], ANY)
        except AssertionError as e:
            failures.append(str(e))
        errors += results[name].get("content", {}).get("outcome") == "error"
    assert not failures, f"{len(failures)} of {FUZZ} mutants:\n" + "\n".join(failures[:10])
    assert errors >= FUZZ // 4, f"only {errors} of {FUZZ} mutants were rejected: is the fuzzer corrupting anything?"


def test_error_is_clear_from_python(cnn):
    # in process too: the error type and message a user sees
    with pytest.raises(pt2lite.Pt2liteError, match=r"both input \d+ and output \d+") as e:
        pt2lite.Interpreter(model_content=_output_is_input(cnn, None))
    assert isinstance(e.value, ValueError)  # LiteRT users' `except ValueError` catches it
    with pytest.raises(pt2lite.Pt2liteError, match=r"byte offset"):
        pt2lite.Interpreter(model_content=cnn[: len(cnn) // 2])

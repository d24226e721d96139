"""pt2lite's runtime against LiteRT on single-op (and small multi-op) .tflite models.

The models are written here with the flatbuffers package and LiteRT's generated schema module, so
these tests need neither the converter nor TensorFlow. Each model runs on LiteRT's reference kernels
and on pt2lite's runtime; outputs must agree to ~1e-5 relative.

Needs PT2LITE_LIBRARY pointing at a built libpt2lite.so and PYTHONPATH including python/."""

import numpy as np
import pytest

flatbuffers = pytest.importorskip("flatbuffers")
S = pytest.importorskip("ai_edge_litert.schema_py_generated")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from pt2lite.interpreter import Interpreter  # noqa: E402

_TYPES = {
    np.dtype(np.float32): S.TensorType.FLOAT32, np.dtype(np.int32): S.TensorType.INT32,
    np.dtype(np.int64): S.TensorType.INT64, np.dtype(np.bool_): S.TensorType.BOOL,
    np.dtype(np.uint8): S.TensorType.UINT8, np.dtype(np.int8): S.TensorType.INT8,
}
RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32, low=-2.0, high=2.0):
    if np.dtype(dtype) == np.bool_:
        return RNG.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(int(low), int(high), size=shape).astype(dtype)
    return RNG.uniform(low, high, size=shape).astype(dtype)


class Graph:
    """A one-subgraph model under construction (object API of the schema module)."""

    def __init__(self):
        self.tensors, self.buffers, self.ops, self.codes = [], [S.BufferT()], [], []
        self.inputs, self.outputs, self.feeds = [], [], {}

    def _tensor(self, shape, dtype, name, buffer=0):
        t = S.TensorT()
        t.shape = None if shape is None else list(shape)
        t.type = _TYPES[np.dtype(dtype)]
        t.buffer = buffer
        t.name = name or f"t{len(self.tensors)}"
        self.tensors.append(t)
        return len(self.tensors) - 1

    def input(self, array, name=None, signature=None):
        i = self._tensor(array.shape, array.dtype, name or f"input_{len(self.inputs)}")
        if signature is not None:
            self.tensors[i].shapeSignature = list(signature)
        self.inputs.append(i)
        self.feeds[i] = array
        return i

    def const(self, array, name=None):
        array = np.ascontiguousarray(array)
        b = S.BufferT()
        b.data = array.tobytes() if array.nbytes else None
        self.buffers.append(b)
        return self._tensor(array.shape, array.dtype, name, len(self.buffers) - 1)

    def op(self, name, inputs, n_out=1, dtype=np.float32, options=None, version=1, **fields):
        code = getattr(S.BuiltinOperator, name)
        oc = S.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), version
        self.codes.append(oc)
        outs = [self._tensor(None, dtype, f"{name.lower()}_{len(self.ops)}_{k}") for k in range(n_out)]
        o = S.OperatorT()
        o.opcodeIndex = len(self.codes) - 1
        o.inputs, o.outputs = list(inputs), outs
        if options is not None:
            opts = getattr(S, options + "OptionsT")()
            for k, v in fields.items():
                setattr(opts, k, v)
            o.builtinOptionsType = getattr(S.BuiltinOptions, options + "Options")
            o.builtinOptions = opts
        self.ops.append(o)
        return outs[0] if n_out == 1 else outs

    def build(self, outputs, shapes=None):
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for t, shape in (shapes or {}).items():
            self.tensors[t].shape = list(shape)
        sg = S.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = self.tensors, self.inputs, list(outputs), self.ops, "main"
        sig = S.SignatureDefT()
        sig.signatureKey, sig.subgraphIndex = "serving_default", 0
        sig.inputs, sig.outputs = [], []
        for lst, ids in ((sig.inputs, self.inputs), (sig.outputs, outputs)):
            for t in ids:
                m = S.TensorMapT()
                m.name, m.tensorIndex = self.tensors[t].name, t
                lst.append(m)
        model = S.ModelT()
        model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, self.codes, [sg], self.buffers
        model.description, model.signatureDefs = "pt2lite runtime test", [sig]
        b = flatbuffers.Builder(1024)
        b.Finish(model.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output()), list(outputs)


def run_litert(content, feeds, outputs, reference=True):
    """LiteRT's reference kernels, and its optimized builtins (no XNNPACK) for ops the reference
    resolver lacks; with reference=False its default kernels (optimized builtins and XNNPACK)."""
    if not reference:
        it = litert.Interpreter(model_content=content, experimental_op_resolver_type=litert.OpResolverType.AUTO)
    else:
        try:
            it = litert.Interpreter(model_content=content,
                                    experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
        except ValueError:
            it = litert.Interpreter(model_content=content,
                                    experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    for t, v in feeds.items():
        it.set_tensor(t, v)
    it.invoke()
    return [it.get_tensor(t) for t in outputs]


def run_pt2lite(content, feeds, outputs):
    it = Interpreter(model_content=content)
    it.allocate_tensors()
    for t, v in feeds.items():
        it.set_tensor(t, v)
    it.invoke()
    return [it.get_tensor(t) for t in outputs]


def compare(g, outputs, rtol=1e-5, atol=1e-5):
    """Runs LiteRT first (which infers output shapes), writes those shapes into the model, then
    checks pt2lite against LiteRT."""
    content, outs = g.build(outputs)
    expected = run_litert(content, g.feeds, outs)
    content, outs = g.build(outputs, {t: e.shape for t, e in zip(outs, expected, strict=True)})
    got = run_pt2lite(content, g.feeds, outs)
    for e, r in zip(expected, got, strict=True):
        assert r.shape == e.shape and r.dtype == e.dtype, (r.shape, e.shape, r.dtype, e.dtype)
        if np.issubdtype(e.dtype, np.floating):
            np.testing.assert_allclose(r, e, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(r, e)
    return got


# ------------------------------------------------------------------ convolutions and matmuls

@pytest.mark.parametrize("padding", [S.Padding.SAME, S.Padding.VALID])
@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (1, 2), (3, 1)])
@pytest.mark.parametrize("act", [0, 1, 3])
def test_conv_2d(padding, stride, dilation, act):
    g = Graph()
    x = g.input(rand(2, 9, 8, 3))
    w, b = g.const(rand(4, 3, 3, 3)), g.const(rand(4))
    y = g.op("CONV_2D", [x, w, b], options="Conv2D", padding=padding, strideW=stride, strideH=stride,
             dilationWFactor=dilation, dilationHFactor=dilation, fusedActivationFunction=act)
    compare(g, y)


def test_conv_2d_groups():
    g = Graph()
    x = g.input(rand(1, 6, 6, 4))
    y = g.op("CONV_2D", [x, g.const(rand(6, 3, 3, 2)), g.const(rand(6))], options="Conv2D",
             padding=S.Padding.SAME, strideW=1, strideH=1)
    compare(g, y)


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("padding,stride", [(S.Padding.SAME, 1), (S.Padding.SAME, 2), (S.Padding.VALID, 2)])
def test_depthwise_conv_2d(multiplier, padding, stride):
    g = Graph()
    x = g.input(rand(1, 7, 7, 3))
    w, b = g.const(rand(1, 3, 3, 3 * multiplier)), g.const(rand(3 * multiplier))
    y = g.op("DEPTHWISE_CONV_2D", [x, w, b], options="DepthwiseConv2D", padding=padding, strideW=stride,
             strideH=stride, depthMultiplier=multiplier, fusedActivationFunction=3)
    compare(g, y)


@pytest.mark.parametrize("padding,stride,out_hw", [(S.Padding.SAME, 2, 8), (S.Padding.VALID, 2, 9),
                                                   (S.Padding.SAME, 1, 4)])
@pytest.mark.parametrize("bias", [False, True])
def test_transpose_conv(padding, stride, out_hw, bias):
    g = Graph()
    x = g.input(rand(1, 4, 4, 3))
    inputs = [g.const(np.array([1, out_hw, out_hw, 5], np.int32)), g.const(rand(5, 3, 3, 3)), x]
    if bias:
        inputs.append(g.const(rand(5)))
    y = g.op("TRANSPOSE_CONV", inputs, options="TransposeConv", padding=padding, strideW=stride,
             strideH=stride, version=3 if bias else 1)
    compare(g, y)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_fully_connected(keep, bias):
    g = Graph()
    x = g.input(rand(2, 3, 8))
    inputs = [x, g.const(rand(5, 8))] + ([g.const(rand(5))] if bias else [-1])
    y = g.op("FULLY_CONNECTED", inputs, options="FullyConnected", keepNumDims=keep, fusedActivationFunction=1)
    compare(g, y)


@pytest.mark.parametrize("adj_x,adj_y", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul(adj_x, adj_y):
    g = Graph()
    a = g.input(rand(2, 1, 4, 3) if not adj_x else rand(2, 1, 3, 4))
    b = g.input(rand(3, 3, 5) if not adj_y else rand(3, 5, 3))
    y = g.op("BATCH_MATMUL", [a, b], options="BatchMatMul", adjX=adj_x, adjY=adj_y)
    compare(g, y)


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("padding,stride,size", [(S.Padding.SAME, 2, 3), (S.Padding.VALID, 2, 2),
                                                 (S.Padding.SAME, 1, 3), (S.Padding.VALID, 3, 3)])
def test_pool(op, padding, stride, size):
    g = Graph()
    x = g.input(rand(2, 7, 8, 3))
    y = g.op(op, [x], options="Pool2D", padding=padding, strideW=stride, strideH=stride, filterWidth=size,
             filterHeight=size, fusedActivationFunction=1)
    compare(g, y)


# ------------------------------------------------------------------ elementwise

BINARY_FLOAT = ["ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "POW", "SQUARED_DIFFERENCE", "FLOOR_DIV",
                "FLOOR_MOD"]
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)),
          ((1, 2, 1, 3, 1, 2), (2, 1, 4, 1, 3, 1)), ((), (3, 2))]


@pytest.mark.parametrize("op", BINARY_FLOAT)
@pytest.mark.parametrize("shapes", SHAPES)
def test_binary_float(op, shapes):
    g = Graph()
    low = 0.5 if op == "POW" else -3
    a = g.input(rand(*shapes[0], low=low, high=3))
    b = g.input(np.where(np.abs(r := rand(*shapes[1])) < 0.2, 0.7, r).astype(np.float32))
    options = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div"}.get(op)
    fields = {"fusedActivationFunction": 0} if options else {}
    y = g.op(op, [a, b], options=options, **fields)
    compare(g, y)


@pytest.mark.parametrize("op,act", [("ADD", 1), ("SUB", 3), ("MUL", 2), ("DIV", 1)])
def test_binary_activation(op, act):
    g = Graph()
    a, b = g.input(rand(3, 4, low=-4, high=4)), g.input(rand(4, low=1, high=3))
    y = g.op(op, [a, b], options=op.capitalize(), fusedActivationFunction=act)
    compare(g, y)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "FLOOR_DIV", "FLOOR_MOD"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_binary_int(op, dtype):
    if dtype == np.int64 and op in ("FLOOR_MOD", "FLOOR_DIV"):
        pytest.skip("LiteRT has no int64 FLOOR_DIV / FLOOR_MOD")
    g = Graph()
    a = g.input(rand(3, 4, dtype=dtype, low=-20, high=20))
    b = g.input(np.where((r := rand(4, dtype=dtype, low=-5, high=5)) == 0, 3, r).astype(dtype))
    options = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul"}.get(op)
    y = g.op(op, [a, b], dtype=dtype, options=options, **({"fusedActivationFunction": 0} if options else {}))
    compare(g, y)


@pytest.mark.parametrize("op", ["LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_comparisons(op, dtype):
    g = Graph()
    a = g.input(rand(2, 3, 4, dtype=dtype, low=-3, high=3).round().astype(dtype))
    b = g.input(rand(3, 1, dtype=dtype, low=-3, high=3).round().astype(dtype))
    compare(g, g.op(op, [a, b], dtype=np.bool_))


@pytest.mark.parametrize("op", ["LOGICAL_AND", "LOGICAL_OR"])
def test_logical(op):
    g = Graph()
    a, b = g.input(rand(2, 3, dtype=np.bool_)), g.input(rand(3, dtype=np.bool_))
    y = g.op(op, [a, b], dtype=np.bool_)
    compare(g, g.op("LOGICAL_NOT", [y], dtype=np.bool_))


UNARY = ["RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "EXP", "LOG", "SQRT", "RSQRT",
         "ABS", "NEG", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SQUARE", "SIGN", "ELU"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op):
    g = Graph()
    positive = op in ("LOG", "SQRT", "RSQRT")
    x = g.input(rand(2, 3, 5, low=0.1 if positive else -4, high=4))
    compare(g, g.op(op, [x]))


def test_fused_tanh_applies_tanh():
    # LiteRT's float kernels silently ignore a fused TANH; pt2lite applies it, as the schema says.
    g = Graph()
    a, b = g.input(rand(3, 4, low=-4, high=4)), g.input(rand(4))
    y = g.op("ADD", [a, b], options="Add", fusedActivationFunction=4)
    content, outs = g.build(y, {y: (3, 4)})
    got = run_pt2lite(content, g.feeds, outs)[0]
    np.testing.assert_allclose(got, np.tanh(g.feeds[a] + g.feeds[b]), rtol=1e-5, atol=1e-6)


def test_round_half_to_even():
    g = Graph()
    x = g.input(np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.49], np.float32))
    got = compare(g, g.op("ROUND", [x]))
    np.testing.assert_array_equal(got[0], [-2, -2, -0, 0, 2, 2, 3])


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu(approximate):
    g = Graph()
    x = g.input(rand(4, 7, low=-5, high=5))
    compare(g, g.op("GELU", [x], options="Gelu", approximate=approximate))


def test_leaky_relu_and_prelu():
    g = Graph()
    x = g.input(rand(2, 3, 4))
    y = g.op("LEAKY_RELU", [x], options="LeakyRelu", alpha=0.2)
    compare(g, g.op("PRELU", [y, g.const(rand(4))]))


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax(beta):
    g = Graph()
    x = g.input(rand(2, 3, 10, low=-10, high=10))
    compare(g, g.op("SOFTMAX", [x], options="Softmax", beta=beta))
    g = Graph()
    x = g.input(rand(4, 10, low=-10, high=10))
    compare(g, g.op("LOG_SOFTMAX", [x]))


@pytest.mark.parametrize("src,dst", [(np.float32, np.int32), (np.int32, np.float32), (np.int32, np.int64),
                                     (np.int64, np.int32), (np.float32, np.bool_), (np.bool_, np.float32),
                                     (np.int32, np.bool_)])
def test_cast(src, dst):
    g = Graph()
    x = g.input(rand(3, 4, dtype=src, low=-9, high=9))
    compare(g, g.op("CAST", [x], dtype=dst))


# ------------------------------------------------------------------ reductions

@pytest.mark.parametrize("op", ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"])
@pytest.mark.parametrize("axes,keep", [([1, 2], True), ([1, 2], False), ([-1], False), ([0, 3], True)])
def test_reduce(op, axes, keep):
    g = Graph()
    x = g.input(rand(2, 3, 4, 5, low=0.5, high=1.5))
    compare(g, g.op(op, [x, g.const(np.array(axes, np.int32))], options="Reducer", keepDims=keep))


def test_reduce_int():
    g = Graph()
    x = g.input(rand(3, 4, dtype=np.int32, low=-9, high=9))
    compare(g, g.op("SUM", [x, g.const(np.array([0], np.int32))], dtype=np.int32, options="Reducer"))


@pytest.mark.parametrize("op,opt", [("ARG_MAX", "ArgMax"), ("ARG_MIN", "ArgMin")])
@pytest.mark.parametrize("out", [np.int32, np.int64])
def test_arg_min_max(op, opt, out):
    g = Graph()
    x = g.input(rand(3, 4, 5))
    compare(g, g.op(op, [x, g.const(np.array([1], np.int32))], dtype=out, options=opt,
                    outputType=_TYPES[np.dtype(out)]))


@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_cumsum(exclusive, reverse):
    g = Graph()
    x = g.input(rand(3, 4, 5))
    compare(g, g.op("CUMSUM", [x, g.const(np.array(1, np.int32))], options="Cumsum", exclusive=exclusive,
                    reverse=reverse))


# ------------------------------------------------------------------ shapes and data movement

def test_reshape_transpose_concat():
    g = Graph()
    x, z = g.input(rand(2, 3, 4)), g.input(rand(2, 6, 4))
    r = g.op("RESHAPE", [x, g.const(np.array([2, -1, 2], np.int32))])
    t = g.op("TRANSPOSE", [r, g.const(np.array([0, 2, 1], np.int32))])
    t2 = g.op("RESHAPE", [t, g.const(np.array([2, 6, 2], np.int32))])
    zz = g.op("RESHAPE", [z, g.const(np.array([2, 6, 4], np.int32))])
    compare(g, g.op("CONCATENATION", [t2, zz], options="Concatenation", axis=-1))


def test_reshape_views_share_memory_safely():
    """RESHAPE/SQUEEZE/EXPAND_DIMS share their input's buffer in pt2lite's memory plan: a view of a
    graph input as an output, a chain of views read only late (the buffer must outlive every name of
    it while other tensors of the same size come and go), views of views as outputs."""
    g = Graph()
    x = g.input(rand(4, 8))
    shape = lambda *d: g.const(np.array(d, np.int32))  # noqa: E731
    r1 = g.op("RESHAPE", [x, shape(32)])
    a = g.op("ADD", [x, x], options="Add")
    r2 = g.op("RESHAPE", [a, shape(8, 4)])
    b = g.op("MUL", [x, x], options="Mul")
    c = g.op("ADD", [b, b], options="Add")
    d = g.op("MUL", [c, c], options="Mul")
    late = g.op("RESHAPE", [r2, shape(4, 8)])
    f = g.op("SUB", [late, d], options="Sub")
    e = g.op("EXPAND_DIMS", [f, g.const(np.array([0], np.int32))])
    s = g.op("SQUEEZE", [g.op("TANH", [e])], options="Squeeze", squeezeDims=[0])
    compare(g, [r1, s, g.op("RESHAPE", [e, shape(2, 16)])])


@pytest.mark.parametrize("perm", [[1, 0], [2, 0, 1], [0, 3, 1, 2], [4, 2, 0, 3, 1]])
def test_transpose(perm):
    g = Graph()
    x = g.input(rand(*[2 + i for i in range(len(perm))]))
    compare(g, g.op("TRANSPOSE", [x, g.const(np.array(perm, np.int32))]))


@pytest.mark.parametrize("op", ["PAD", "PADV2", "MIRROR_REFLECT", "MIRROR_SYMMETRIC"])
def test_pad(op):
    g = Graph()
    x = g.input(rand(2, 3, 4))
    pads = g.const(np.array([[0, 1], [2, 1], [1, 2]], np.int32))
    if op == "PAD":
        y = g.op("PAD", [x, pads])
    elif op == "PADV2":
        y = g.op("PADV2", [x, pads, g.const(np.array([1.5], np.float32))])
    else:
        y = g.op("MIRROR_PAD", [x, pads], options="MirrorPad", mode=0 if op == "MIRROR_REFLECT" else 1)
    compare(g, y)


@pytest.mark.parametrize("begin,end,strides,masks", [
    ([0, 1, 0], [2, 3, 4], [1, 1, 2], {}),
    ([1, -1, 0], [2, 0, 4], [1, -1, 1], {}),
    ([0, 0, 0], [0, 2, 0], [1, 1, 1], {"beginMask": 5, "endMask": 5}),
    ([0, 1], [0, 2], [1, 1], {"shrinkAxisMask": 2}),
    ([0, 1], [0, 3], [1, 1], {"ellipsisMask": 1}),
    ([0, 0, 1], [0, 0, 3], [1, 1, 1], {"newAxisMask": 2, "beginMask": 1, "endMask": 1}),
    ([1, 0, 0], [1, 0, 0], [1, 1, 1], {"shrinkAxisMask": 1, "beginMask": 6, "endMask": 6}),
    ([-1, 0, -2], [-3, 3, -5], [-1, 2, -1], {}),
])
def test_strided_slice(begin, end, strides, masks):
    g = Graph()
    x = g.input(rand(3, 4, 5))
    consts = [g.const(np.array(v, np.int32)) for v in (begin, end, strides)]
    compare(g, g.op("STRIDED_SLICE", [x] + consts, options="StridedSlice", **masks))


def test_slice_gather():
    g = Graph()
    x = g.input(rand(4, 5, 6))
    s = g.op("SLICE", [x, g.const(np.array([1, 0, 2], np.int32)), g.const(np.array([2, -1, 3], np.int32))])
    compare(g, s)
    g = Graph()
    x = g.input(rand(4, 5, 6))
    compare(g, g.op("GATHER", [x, g.const(np.array([[3, 0], [1, 1]], np.int32))], options="Gather", axis=1))
    g = Graph()
    x = g.input(rand(2, 5, 3))
    compare(g, g.op("GATHER", [x, g.const(np.array([[4, 0, 2], [1, 1, 3]], np.int64))], options="Gather",
                    axis=1, batchDims=1))
    g = Graph()
    x = g.input(rand(4, 5, 6))
    compare(g, g.op("GATHER_ND", [x, g.const(np.array([[3, 0], [1, 4]], np.int32))]))


def test_gather_int_indices_from_input():
    g = Graph()
    x, i = g.input(rand(6, 3)), g.input(np.array([5, 0, 2], np.int32))
    compare(g, g.op("GATHER", [x, i], options="Gather", axis=0))


@pytest.mark.parametrize("op", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("align,half", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("size", [(8, 10), (3, 2), (5, 5)])
def test_resize(op, align, half, size):
    g = Graph()
    x = g.input(rand(2, 4, 5, 3))
    opts = "ResizeBilinear" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighbor"
    compare(g, g.op(op, [x, g.const(np.array(size, np.int32))], options=opts, alignCorners=align,
                    halfPixelCenters=half, version=3 if half else 1))


def test_select_tile_broadcast():
    g = Graph()
    c, a, b = g.input(rand(2, 1, 4, dtype=np.bool_)), g.input(rand(3, 4)), g.input(rand(2, 3, 1))
    compare(g, g.op("SELECT_V2", [c, a, b]))
    g = Graph()
    x = g.input(rand(2, 3))
    compare(g, g.op("TILE", [x, g.const(np.array([2, 3], np.int32))]))
    g = Graph()
    x = g.input(rand(3, 1))
    compare(g, g.op("BROADCAST_TO", [x, g.const(np.array([2, 3, 4], np.int32))], version=2))


def test_split_pack_unpack():
    g = Graph()
    x = g.input(rand(4, 6))
    parts = g.op("SPLIT", [g.const(np.array(1, np.int32)), x], n_out=3, options="Split", numSplits=3)
    compare(g, parts)
    g = Graph()
    x = g.input(rand(4, 6))
    parts = g.op("SPLIT_V", [x, g.const(np.array([1, -1, 2], np.int32)), g.const(np.array(1, np.int32))],
                 n_out=3, options="SplitV", numSplits=3)
    compare(g, parts)
    g = Graph()
    a, b = g.input(rand(2, 3)), g.input(rand(2, 3))
    p = g.op("PACK", [a, b], options="Pack", valuesCount=2, axis=1)
    compare(g, g.op("UNPACK", [p], n_out=3, options="Unpack", num=3, axis=2))


def test_expand_squeeze_shape_arithmetic():
    g = Graph()
    x = g.input(rand(2, 1, 3))
    e = g.op("EXPAND_DIMS", [x, g.const(np.array([-1], np.int32))])
    sq = g.op("SQUEEZE", [e], options="Squeeze", squeezeDims=[1])
    # Dynamic-shape style: SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, resolved at prepare time.
    shape = g.op("SHAPE", [sq], dtype=np.int32, options="Shape", outType=S.TensorType.INT32)
    first = g.op("STRIDED_SLICE", [shape, g.const(np.array([0], np.int32)), g.const(np.array([1], np.int32)),
                                   g.const(np.array([1], np.int32))], dtype=np.int32, options="StridedSlice")
    new_shape = g.op("CONCATENATION", [first, g.const(np.array([-1], np.int32))], dtype=np.int32,
                     options="Concatenation", axis=0)
    compare(g, g.op("RESHAPE", [sq, new_shape]))


def test_int_data_paths():
    g = Graph()
    x = g.input(rand(2, 3, dtype=np.int32, low=-5, high=5))
    t = g.op("TRANSPOSE", [x, g.const(np.array([1, 0], np.int32))], dtype=np.int32)
    c = g.op("CONCATENATION", [t, t], dtype=np.int32, options="Concatenation", axis=0)
    compare(g, g.op("CAST", [c], dtype=np.float32))


# ------------------------------------------------------------------ interpreter API

def _add_model(dynamic=False):
    g = Graph()
    x = g.input(rand(1, 4), name="x", signature=[-1, 4] if dynamic else None)
    y = g.op("ADD", [x, g.const(np.arange(4, dtype=np.float32))], options="Add", fusedActivationFunction=0)
    g.tensors[y].name = "y"
    content, _ = g.build(y, {y: (1, 4)})
    return content


def test_details_match_litert():
    content = _add_model(dynamic=True)
    ours, ref = Interpreter(model_content=content), litert.Interpreter(model_content=content)
    ours.allocate_tensors(), ref.allocate_tensors()
    for a, b in zip(ours.get_input_details() + ours.get_output_details(),
                    ref.get_input_details() + ref.get_output_details()):
        for key in ("name", "index", "dtype", "quantization"):
            assert a[key] == b[key], key
        np.testing.assert_array_equal(a["shape"], b["shape"])
        np.testing.assert_array_equal(a["shape_signature"], b["shape_signature"])
    assert ours.get_signature_list() == ref.get_signature_list()


def test_resize_input_and_signature_runner(tmp_path):
    content = _add_model(dynamic=True)
    path = tmp_path / "add.tflite"
    path.write_bytes(content)
    it = Interpreter(model_path=str(path), num_threads=2)
    it.resize_tensor_input(0, [3, 4])
    it.allocate_tensors()
    x = rand(3, 4)
    it.set_tensor(0, x)
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(it.get_output_details()[0]["index"]), x + np.arange(4))
    runner = it.get_signature_runner()
    out = runner(x=rand(5, 4))
    assert out["y"].shape == (5, 4)
    out2 = runner(x=x)
    np.testing.assert_allclose(out2["y"], x + np.arange(4))
    with pytest.raises(ValueError):
        it.set_tensor(0, rand(2, 2))
    with pytest.raises(ValueError):
        it.get_signature_runner("nope")


def test_malformed_model_raises():
    from pt2lite._native import Pt2liteError
    content = _add_model()
    with pytest.raises(Pt2liteError, match="TFL3"):
        Interpreter(model_content=b"\0\0\0\0XXXX" + content[8:])
    for n in (0, 7, 20, len(content) // 2):
        with pytest.raises(Pt2liteError):
            Interpreter(model_content=content[:n])

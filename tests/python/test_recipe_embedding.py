"""Embedding tables under the weight recipes (docs/quantization.md, "Embedding tables"): aten.embedding's
GATHER becomes EMBEDDING_LOOKUP of an int8 per-row table (dynamic_int8) or a block-wise int4 table
(int4_weights). The file's tables; outputs against the float PyTorch model on LiteRT (default XNNPACK
path and builtin kernels) and on pt2lite's runtime; the runtimes against each other; a table tied to
the LM head stored once; hand-built files of the forms other tools write."""

import flatbuffers
import numpy as np
import pytest
import torch
from ai_edge_litert import schema_py_generated as tfl
from torch import nn

import pt2lite
from conftest import run_litert, run_pt2lite, tflite_ops, xnnpack_delegated_ops
from test_recipe_int4 import relative_error, run_litert_builtin
from test_recipes import weight_types

RECIPES = ["dynamic_int8", "int4_weights"]
TABLE_TYPE = {"dynamic_int8": "INT8", "int4_weights": "INT4"}
# Model outputs against the float model, max |a - e| / max |e|: int8 rows cost under 1%, int4 blocks
# (7 levels a side) about 6% of a lookup and 12% after a layer with int4 weights and int8 inputs.
MAX_ERROR = {"dynamic_int8": 0.03, "int4_weights": 0.2}
MIN_COSINE = {"dynamic_int8": 0.999, "int4_weights": 0.98}


class Lookup(nn.Module):
    def __init__(self, rows=512, dim=64):
        super().__init__()
        self.emb = nn.Embedding(rows, dim)

    def forward(self, ids):
        return self.emb(ids)


class EmbeddingHead(nn.Module):
    """An embedding, a norm and a vocabulary head, the head's weight optionally tied to the table."""

    def __init__(self, rows=512, dim=64, tied=False):
        super().__init__()
        self.emb, self.norm = nn.Embedding(rows, dim), nn.LayerNorm(dim)
        self.head = nn.Linear(dim, rows, bias=False)
        if tied:
            self.head.weight = self.emb.weight

    def forward(self, ids):
        return self.head(self.norm(self.emb(ids)))


def tables(content):
    """[(type name, shape)] of the tables EMBEDDING_LOOKUP reads, with the indices of all tensors they are."""
    names = {v: k for k, v in vars(tfl.TensorType).items() if not k.startswith("_")}
    model = tfl.ModelT.InitFromPackedBuf(content, 0)
    sg, ops = model.subgraphs[0], tflite_ops(content)
    return [(names[sg.tensors[op.inputs[1]].type], list(sg.tensors[op.inputs[1]].shape), op.inputs[1])
            for op, name in zip(sg.operators, ops) if name == "EMBEDDING_LOOKUP"]


def outputs_of(content, ids):
    return {run.__name__: run(content, [ids])[0] for run in (run_litert, run_litert_builtin, run_pt2lite)}


@pytest.mark.parametrize("recipe", RECIPES)
def test_lookup_of_a_quantized_table(recipe):
    torch.manual_seed(0)
    module, ids = Lookup().eval(), torch.randint(0, 512, (2, 5))  # 2-D ids: flattened around the lookup
    weight = module.emb.weight.detach().numpy()
    float_file = pt2lite.convert(module, (ids,)).model_content()
    content = pt2lite.convert(module, (ids,), quantize=recipe).model_content()
    ops = tflite_ops(content)
    assert "GATHER" not in ops and ops.count("EMBEDDING_LOOKUP") == 1, ops
    assert [t[:2] for t in tables(content)] == [(TABLE_TYPE[recipe], [512, 64])]
    sizes = weight_types(content)
    if recipe == "dynamic_int8":
        assert sizes["INT8"] == weight.size and "FLOAT32" not in sizes, sizes
    else:  # two values a byte, one float16 scale per 32
        assert sizes["INT4"] == weight.size // 2 and sizes["FLOAT16"] == 2 * weight.size // 32, sizes
    print(f"{recipe}: file {len(float_file)} -> {len(content)} bytes ({len(content) / len(float_file):.2f}x)")
    # XNNPACK leaves EMBEDDING_LOOKUP to the builtin kernel on LiteRT's default path
    delegated, _ = xnnpack_delegated_ops(content)
    assert ops.index("EMBEDDING_LOOKUP") not in delegated
    outputs = outputs_of(content, ids.numpy())
    # one rounding of value x scale on every path: the runtimes agree bit for bit
    for name, got in outputs.items():
        np.testing.assert_array_equal(got, outputs["run_litert_builtin"], err_msg=name)
    # each value within half a quantization step of the float table (int8: row max / 127; int4: the
    # float16 block scale, about block max / 7)
    expected = weight[ids.numpy()]
    got = outputs["run_pt2lite"]
    if recipe == "dynamic_int8":
        step = np.abs(expected).max(-1, keepdims=True) / 127
    else:
        blocks = expected.reshape(*ids.shape, -1, 32)
        step = np.repeat(np.abs(blocks).max(-1, keepdims=True) / 7, 32, -1).reshape(expected.shape)
    assert (np.abs(got - expected) <= step * 0.5 * 1.002 + 1e-7).all()


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("tied", [False, True], ids=["separate_head", "tied_head"])
def test_embedding_and_head(recipe, tied):
    torch.manual_seed(0)
    module, ids = EmbeddingHead(tied=tied).eval(), torch.randint(0, 512, (1, 7))
    expected = module(ids).detach().numpy()
    float_file = pt2lite.convert(module, (ids,)).model_content()
    content = pt2lite.convert(module, (ids,), quantize=recipe).model_content()
    found = tables(content)
    assert [t[:2] for t in found] == [(TABLE_TYPE[recipe], [512, 64])]
    model = tfl.ModelT.InitFromPackedBuf(content, 0)
    sg = model.subgraphs[0]
    head = [op for op, name in zip(sg.operators, tflite_ops(content)) if name == "FULLY_CONNECTED"]
    assert len(head) == 1
    # a tied head reads the lookup's quantized table itself: the table is stored once
    assert (head[0].inputs[1] == found[0][2]) == tied
    sizes = weight_types(content)
    table_bytes = 512 * 64 if recipe == "dynamic_int8" else 512 * 64 // 2
    assert sizes[TABLE_TYPE[recipe]] == table_bytes * (1 if tied else 2), sizes
    print(f"{recipe} {'tied' if tied else 'separate'}: file {len(float_file)} -> {len(content)} bytes "
          f"({len(content) / len(float_file):.2f}x)")
    outputs = outputs_of(content, ids.numpy())
    for name, got in outputs.items():
        assert relative_error(got, expected) < MAX_ERROR[recipe], (name, relative_error(got, expected))
        cosine = float((got * expected).sum() / np.linalg.norm(got) / np.linalg.norm(expected))
        assert cosine > MIN_COSINE[recipe], (name, cosine)
    # same arithmetic as LiteRT's builtin kernels (float summation order of the head aside)
    assert relative_error(outputs["run_pt2lite"], outputs["run_litert_builtin"]) < 1e-5


def test_tiny_llama_with_tied_embeddings():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                      tie_word_embeddings=True, use_cache=False)
    torch.manual_seed(0)
    llama = transformers.LlamaForCausalLM(config).eval()

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.llama = llama

        def forward(self, ids):
            return self.llama(input_ids=ids, use_cache=False).logits

    torch.manual_seed(0)
    module, ids = TinyLM().eval(), torch.randint(0, 256, (1, 8))
    expected = module(ids).detach().numpy()
    for recipe in RECIPES:
        content = pt2lite.convert(module, (ids,), quantize=recipe).model_content()
        assert [t[:2] for t in tables(content)] == [(TABLE_TYPE[recipe], [256, 64])]
        outputs = outputs_of(content, ids.numpy())
        for name, got in outputs.items():
            assert relative_error(got, expected) < MAX_ERROR[recipe], (recipe, name, relative_error(got, expected))
        assert relative_error(outputs["run_pt2lite"], outputs["run_litert_builtin"]) < 1e-5, recipe


def test_block_size_that_does_not_divide_the_table_row_is_refused():
    module, ids = Lookup(rows=64, dim=48).eval(), torch.randint(0, 64, (3,))
    with pytest.raises(Exception, match="embedding table .* block size 32 does not divide its row length"):
        pt2lite.convert(module, (ids,), quantize="int4_weights")
    content = pt2lite.convert(module, (ids,), quantize="int4_weights", quantize_block_size=16).model_content()
    outputs = outputs_of(content, ids.numpy())
    np.testing.assert_array_equal(outputs["run_pt2lite"], outputs["run_litert_builtin"])


# ---------------------------------------------------------------- files of other tools' forms


def lookup_file(table_type, table_bytes, quantization, rows, cols, scales=None):
    """EMBEDDING_LOOKUP(ids int32 [5], constant table [rows, cols]) -> float32, built by hand."""
    buffers = [tfl.BufferT(), tfl.BufferT()]
    tensors = []

    def tensor(name, shape, ttype, data=None, quant=None):
        t = tfl.TensorT()
        t.name, t.shape, t.type, t.quantization = name, shape, ttype, quant
        t.buffer = 1 if data is None else len(buffers)
        if data is not None:
            b = tfl.BufferT()
            b.data = np.frombuffer(data, np.uint8).tolist()
            buffers.append(b)
        tensors.append(t)
        return len(tensors) - 1

    ids = tensor("ids", [5], tfl.TensorType.INT32)
    if scales is not None:
        quantization.details.scales = tensor("scales", list(scales.shape), tfl.TensorType.FLOAT16, scales.tobytes())
    table = tensor("table", [rows, cols], table_type, table_bytes, quantization)
    out = tensor("out", [5, cols], tfl.TensorType.FLOAT32)
    op = tfl.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [ids, table], [out]
    sg = tfl.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, [ids], [out], [op]
    code = tfl.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = tfl.BuiltinOperator.EMBEDDING_LOOKUP
    code.version = 4
    model = tfl.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [sg], buffers
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run_interpreter(interpreter_class, content, ids):
    interpreter = interpreter_class(model_content=content)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ids)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def pack_int4(values):
    flat = values.reshape(-1).astype(np.int8)
    return ((flat[0::2] & 0xF) | ((flat[1::2] & 0xF) << 4)).astype(np.uint8).tobytes()


def affine(scales, axis=0):
    q = tfl.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = list(map(float, scales)), [0] * len(scales), axis
    return q


@pytest.mark.parametrize("form", ["int8_per_tensor", "int8_per_row", "int4_per_row", "int4_blockwise",
                                  "float32"])
def test_hand_built_lookup_files(form):
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(1)
    rows, cols = 10, 64
    ids = np.array([3, 0, 9, 3, 7], np.int32)
    values = rng.integers(-8, 8, (rows, cols)).astype(np.int8)
    row_scales = rng.uniform(0.01, 0.1, rows).astype(np.float32)
    scales = None
    if form == "int8_per_tensor":
        args = tfl.TensorType.INT8, values.tobytes(), affine([0.05])
    elif form == "int8_per_row":
        args = tfl.TensorType.INT8, values.tobytes(), affine(row_scales)
    elif form == "int4_per_row":
        args = tfl.TensorType.INT4, pack_int4(values), affine(row_scales)
    elif form == "int4_blockwise":
        q = tfl.QuantizationParametersT()
        q.detailsType = tfl.QuantizationDetails.BlockwiseQuantization
        q.details = tfl.BlockwiseQuantizationT()
        q.details.blockSize = 16
        scales = rng.uniform(0.01, 0.1, (rows, cols // 16)).astype(np.float16)
        args = tfl.TensorType.INT4, pack_int4(values), q
    else:
        args = tfl.TensorType.FLOAT32, rng.standard_normal((rows, cols)).astype(np.float32).tobytes(), None
    content = lookup_file(*args, rows, cols, scales=scales)
    litert = run_interpreter(Interpreter, content, ids)
    ours = run_interpreter(pt2lite.Interpreter, content, ids)
    np.testing.assert_array_equal(ours, litert)
    assert np.abs(litert).max() > 0
    with pytest.raises(Exception, match="out of range"):
        run_interpreter(pt2lite.Interpreter, content, np.array([0, 1, 10, 2, 3], np.int32))

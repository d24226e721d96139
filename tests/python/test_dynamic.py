"""Dynamic dims (issue 12): models converted with torch.export dynamic_shapes run at several sizes from
one .tflite, on LiteRT and on pt2lite's runtime (resize_tensor_input + allocate_tensors), against
PyTorch eager. The file declares the dynamic dims as -1 in shape_signature."""

import numpy as np
import pytest
import torch
from torch.export import Dim

import pt2lite
from conftest import assert_close, litert

RUNTIMES = {"litert": litert.Interpreter, "pt2lite": pt2lite.Interpreter}


def run_resized(interpreter_class, content, inputs):
    """Resizes every input to the given arrays' shapes, allocates, runs; returns the outputs in order."""
    interpreter = interpreter_class(model_content=content)
    details = interpreter.get_input_details()
    for d, x in zip(details, inputs):
        interpreter.resize_tensor_input(d["index"], list(x.shape), strict=True)
    interpreter.allocate_tensors()
    for d, x in zip(details, inputs):
        interpreter.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def check_sizes(module, sample, dynamic_shapes, size_sets, rtol=1e-4, atol=1e-4):
    """Converts once with dynamic_shapes; runs each tuple of inputs in size_sets on both runtimes."""
    module = module.eval()
    edge = pt2lite.convert(module, sample, dynamic_shapes=dynamic_shapes)
    content = edge.model_content()
    for inputs in size_sets:
        with torch.no_grad():
            expected = module(*inputs)
        expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        for runtime, interpreter_class in RUNTIMES.items():
            got = run_resized(interpreter_class, content, [x.numpy() for x in inputs])
            for g, e in zip(got, expected):
                assert_close(g, e.numpy(), rtol, atol, what=f"{runtime} at {[tuple(x.shape) for x in inputs]}")
    return edge


def input_signatures(content):
    interpreter = litert.Interpreter(model_content=content)
    return [list(d["shape_signature"]) for d in interpreter.get_input_details()]


class FlattenCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        x = torch.nn.functional.avg_pool2d(x, 2) + 1.0
        return self.fc(torch.flatten(x, 1))


def test_cnn_with_flatten_dynamic_batch_runs_at_1_3_8():
    edge = check_sizes(FlattenCNN(), (torch.randn(2, 3, 16, 16),), ({0: Dim("batch", min=1, max=64)},),
                       [(torch.randn(n, 3, 16, 16),) for n in (1, 3, 8)])
    assert input_signatures(edge.model_content()) == [[-1, 3, 16, 16]]


def test_resnet18_at_several_resolutions_from_one_file():
    torchvision = pytest.importorskip("torchvision")
    h, w = Dim("h", min=2, max=16), Dim("w", min=2, max=16)
    edge = check_sizes(torchvision.models.resnet18(), (torch.randn(1, 3, 64, 64),), ({2: 32 * h, 3: 32 * w},),
                       [(torch.randn(1, 3, a, b),) for a, b in ((64, 64), (96, 160), (224, 224))], atol=1e-3)
    assert input_signatures(edge.model_content()) == [[1, 3, -1, -1]]


def test_transformer_encoder_dynamic_sequence_length_at_three_lengths():
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0)
    encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    check_sizes(encoder, (torch.randn(2, 8, 32),), ({1: Dim("seq", min=2, max=64)},),
                [(torch.randn(2, n, 32),) for n in (3, 8, 17)])


def test_reshape_with_two_dynamic_sizes_computes_the_shape_in_the_graph():
    class Heads(torch.nn.Module):
        def forward(self, x):  # x: [batch, seq, 16] -> [batch, 4, seq, 4] -> [batch, seq, 16]
            b, s, _ = x.shape
            y = x.view(b, s, 4, 4).transpose(1, 2) * 2.0
            return y.transpose(1, 2).reshape(b, s, 16)

    edge = check_sizes(Heads(), (torch.randn(2, 5, 16),), ({0: Dim("b", max=16), 1: Dim("s", max=32)},),
                       [(torch.randn(b, s, 16),) for b, s in ((1, 1), (3, 7), (8, 2))])
    from conftest import tflite_ops
    assert "SHAPE" in tflite_ops(edge.model_content())


def test_linear_on_3d_input_with_dynamic_batch_and_length():
    check_sizes(torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.GELU(), torch.nn.Linear(8, 4)),
                (torch.randn(2, 5, 16),), ({0: Dim("b", max=16), 1: Dim("s", max=32)},),
                [(torch.randn(b, s, 16),) for b, s in ((1, 1), (3, 7), (8, 2))])


def test_static_model_keeps_static_shapes():
    edge = pt2lite.convert(FlattenCNN().eval(), (torch.randn(2, 3, 16, 16),))
    assert input_signatures(edge.model_content()) == [[2, 3, 16, 16]]
    from conftest import tflite_ops
    assert "SHAPE" not in tflite_ops(edge.model_content())


def test_range_constraints_recorded_and_enforced_by_pt2lite_runtime():
    module = FlattenCNN().eval()
    edge = pt2lite.convert(module, (torch.randn(2, 3, 16, 16),), dynamic_shapes=({0: Dim("b", min=2, max=8)},))
    assert edge._model.metadata("pt2lite_dynamic_ranges") == b'{"ranges": [[0, 0, 0, 2, 8, 1]]}'
    interpreter = pt2lite.Interpreter(model_content=edge.model_content())
    with pytest.raises(pt2lite.Pt2liteError, match=r"size 9 in dim 0 is outside the range .*\(2\.\.8"):
        interpreter.resize_tensor_input(0, [9, 3, 16, 16])
    with pytest.raises(ValueError, match=r"size 1 in dim 0 is outside the range"):
        edge(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"converted for shape \[-1, 3, 16, 16\]"):  # static dims stay fixed
        edge(torch.randn(2, 3, 17, 16))
    # LiteRT runs the file at any size within the range
    x = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        expected = module(x).numpy()
    assert_close(run_resized(litert.Interpreter, edge.model_content(), [x.numpy()])[0], expected, 1e-4, 1e-4)


def test_derived_dim_range_requires_multiples():
    torchvision = pytest.importorskip("torchvision")
    edge = pt2lite.convert(torchvision.models.resnet18().eval(), (torch.randn(1, 3, 64, 64),),
                           dynamic_shapes=({2: 32 * Dim("h", min=2, max=8), 3: 32 * Dim("w", min=2, max=8)},))
    interpreter = pt2lite.Interpreter(model_content=edge.model_content())
    with pytest.raises(pt2lite.Pt2liteError, match=r"size 100 in dim 2 .*64\.\.256, a multiple of 32"):
        interpreter.resize_tensor_input(0, [1, 3, 100, 64])


def test_edge_model_and_one_interpreter_follow_size_changes():
    """The EdgeModel resizes on a new shape, and one interpreter resized up and down re-plans its memory
    each time (results stay right after growing and shrinking)."""
    module = FlattenCNN().eval()
    edge = pt2lite.convert(module, (torch.randn(2, 3, 16, 16),), dynamic_shapes=({0: Dim("b", min=1, max=32)},))
    for runtime, interpreter_class in RUNTIMES.items():
        interpreter = interpreter_class(model_content=edge.model_content())
        index = interpreter.get_input_details()[0]["index"]
        out = interpreter.get_output_details()[0]["index"]
        for n in (1, 8, 3, 32, 2):
            x = torch.randn(n, 3, 16, 16)
            interpreter.resize_tensor_input(index, [n, 3, 16, 16])
            interpreter.allocate_tensors()
            interpreter.set_tensor(index, x.numpy())
            interpreter.invoke()
            with torch.no_grad():
                assert_close(interpreter.get_tensor(out), module(x).numpy(), 1e-4, 1e-4, what=f"{runtime} batch {n}")
        edge.backend = runtime
        for n in (5, 1, 12):
            x = torch.randn(n, 3, 16, 16)
            with torch.no_grad():
                assert_close(edge(x).numpy(), module(x).numpy(), 1e-4, 1e-4, what=f"EdgeModel {runtime} batch {n}")


def test_static_model_has_no_range_metadata():
    edge = pt2lite.convert(FlattenCNN().eval(), (torch.randn(2, 3, 16, 16),))
    assert edge._model.metadata("pt2lite_dynamic_ranges") is None


def test_symbolic_arithmetic_sizes_computed_at_run_time():
    """Sizes s + 1, s - 1 and s // 2 in reshapes with two unknown sizes: the graph computes them from
    the input's shape (ADD, SUB, FLOOR_DIV on int32)."""

    class Arithmetic(torch.nn.Module):
        def forward(self, x):  # x: [b, s, 16], s even
            b, s = x.shape[0], x.shape[1]
            longer = torch.cat([x, x[:, :1]], dim=1).reshape(b, s + 1, 4, 4)
            shorter = x[:, 1:].reshape(b, s - 1, 4, 4)
            halves = x.reshape(b, s // 2, 32)
            return longer.sum(1), shorter.sum(1), halves * 2.0

    check_sizes(Arithmetic(), (torch.randn(2, 6, 16),), ({0: Dim("b", max=8), 1: 2 * Dim("k", max=16)},),
                [(torch.randn(b, s, 16),) for b, s in ((1, 4), (3, 10), (5, 6))])


def test_hf_gpt2_dynamic_sequence_length_at_three_lengths():
    """HF GPT-2 (random weights): the position ids (arange of the length), the causal mask (slices
    with symbolic bounds, advanced indexing of the dynamic dim) and the attention with a dynamic
    length, from one file at lengths 3, 8 and 17."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=100,
                                     use_cache=False, attn_implementation="eager")
    model = transformers.GPT2LMHeadModel(config).eval()

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, ids):
            return self.model(input_ids=ids, use_cache=False).logits

    edge = check_sizes(Logits(), (torch.randint(0, 100, (1, 8)),), ({1: Dim("seq", min=2, max=64)},),
                       [(torch.randint(0, 100, (1, n)),) for n in (3, 8, 17)])
    assert input_signatures(edge.model_content()) == [[1, -1]]


class SymbolicSlices(torch.nn.Module):
    def forward(self, x, y):  # x: [b, s, 8], y: [b, t, 8] with t <= s
        s, t = x.shape[1], y.shape[1]
        last = x[:, s - 1:]                     # symbolic start
        head = x[:, :t] + y                     # symbolic end from another input
        middle = torch.narrow(x, 1, 1, s - 2)   # narrow with a symbolic length
        tail = x[:, s // 2:]                    # a computed symbolic start
        return last * 2.0, head, middle + 1.0, tail - 1.0


def test_slices_with_symbolic_bounds():
    s, t = 2 * Dim("k", min=2, max=16), Dim("t", min=2, max=32)  # s even: torch.export cannot prove s // 2 >= 1 else
    edge = check_sizes(SymbolicSlices(), (torch.randn(2, 10, 8), torch.randn(2, 4, 8)), ({1: s}, {1: t}),
                       [(torch.randn(2, a, 8), torch.randn(2, b, 8)) for a, b in ((4, 2), (10, 7), (18, 18))])
    from conftest import tflite_ops
    assert tflite_ops(edge.model_content()).count("STRIDED_SLICE") == 4


class SdpaAttention(torch.nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode
        self.qkv = torch.nn.Linear(16, 48)

    def forward(self, x, mask=None):  # x: [b, s, 16] -> 2 heads of 8
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, 2, 8).permute(2, 0, 3, 1, 4)
        F = torch.nn.functional
        if self.mode == "causal":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif self.mode == "mask":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        elif self.mode == "plain":
            y = F.scaled_dot_product_attention(q, k, v)
        else:  # explicit matmul -> causal mask from arange -> softmax -> matmul
            scores = torch.matmul(q, k.transpose(-2, -1)) / 8 ** 0.5
            i = torch.arange(s)
            scores = scores.masked_fill(i[None, :] > i[:, None], float("-inf"))
            y = torch.bmm(scores.softmax(-1).reshape(b * 2, s, s), v.reshape(b * 2, s, 8)).view(b, 2, s, 8)
        return y.transpose(1, 2).reshape(b, s, 16)


@pytest.mark.parametrize("mode", ["plain", "causal", "mask", "explicit"])
def test_attention_with_dynamic_length_at_three_lengths(mode):
    torch.manual_seed(0)
    seq = Dim("seq", min=2, max=64)
    with_mask = mode == "mask"
    sample = (torch.randn(2, 8, 16),) + ((torch.randn(8, 8),) if with_mask else ())
    shapes = ({1: seq},) + (({0: seq, 1: seq},) if with_mask else ())
    check_sizes(SdpaAttention(mode), sample, shapes,
                [(torch.randn(2, n, 16),) + ((torch.randn(n, n),) if with_mask else ()) for n in (3, 8, 17)])


def test_file_shape_holds_the_export_sample_size():
    """`shape` holds the example input's size in each dynamic dim (shape_signature the -1): both runtimes
    run the file at that size without a resize, and still resize from it."""
    module = FlattenCNN().eval()
    edge = pt2lite.convert(module, (torch.randn(2, 3, 16, 16),), dynamic_shapes=({0: Dim("b", min=1, max=32)},))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = module(x).numpy()
    for runtime, interpreter_class in RUNTIMES.items():
        interpreter = interpreter_class(model_content=edge.model_content())
        d = interpreter.get_input_details()[0]
        assert list(d["shape"]) == [2, 3, 16, 16] and list(d["shape_signature"]) == [-1, 3, 16, 16], runtime
        interpreter.allocate_tensors()
        interpreter.set_tensor(d["index"], x.numpy())
        interpreter.invoke()
        assert_close(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, 1e-4, 1e-4,
                     what=f"{runtime} at the sample size")

"""Issue 15, the front door: no silent wrong answers from convert(), load(), the EdgeModel and the
Interpreter. Each case was silent (a wrong number, a late or misleading error) before: now it is right
or a clear error naming what and where. Run on both runtimes where the EdgeModel can pick one."""

import gc
import warnings

import numpy as np
import pytest
import torch

import pt2lite
from conftest import litert, tfl_schema

BACKENDS = ("pt2lite", "litert")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


class Scale(torch.nn.Module):
    def forward(self, x):
        return x * 3


class ConvHead(torch.nn.Module):
    """Conv then flatten then linear: the flatten is a RESHAPE of a fixed element count."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class Structured(torch.nn.Module):
    def forward(self, x, y):
        return {"sum": x + y, "rest": (None, x * y, [x - y])}


def _same_structure(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
        return
    assert type(a) is type(b), (a, b)
    if a is None:
        return
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same_structure(a[k], b[k])
        return
    assert len(a) == len(b)
    for x, y in zip(a, b):
        _same_structure(x, y)


# ---------------------------------------------------------------- input dtypes


@pytest.mark.parametrize("backend", BACKENDS)
def test_int64_value_beyond_an_int32_input_is_refused(backend):
    x = torch.tensor([1, -2, 3], dtype=torch.int32)
    edge = pt2lite.convert(Scale().eval(), (x,), backend=backend)
    # values that fit are converted without loss and give PyTorch's answer
    small = torch.tensor([7, -8, 2**31 // 3], dtype=torch.int64)
    got = edge(small)
    assert got.dtype == torch.int32 and got.tolist() == (small.to(torch.int32) * 3).tolist()
    # before: 3_000_000_000 was cut to int32 (-1294967296) and the model ran on that
    with pytest.raises(ValueError, match=r"input 'args_0': value 3000000000 does not fit the model's int32 input "
                                         r"\(range -2147483648 to 2147483647\)"):
        edge(torch.tensor([1, 3_000_000_000, 2], dtype=torch.int64))
    with pytest.raises(ValueError, match=r"value -2147483649 "):
        edge(torch.tensor([-(2**31) - 1], dtype=torch.int64))


class Affine64(torch.nn.Module):
    def forward(self, ids):
        return ids * 2 + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_int64_model_input_beyond_int32_is_refused(backend):
    """An int64 input stays int64 in the file, but the model computes it in int32 (the converter's
    CAST): before, 3_000_000_000 came back wrapped (1705032705 for 6000000001) on both runtimes."""
    edge = pt2lite.convert(Affine64().eval(), (torch.tensor([1, 2]),), backend=backend)
    ok = torch.tensor([-(2**30), 2**30 - 1], dtype=torch.int64)
    assert edge(ok).tolist() == Affine64()(ok).tolist()
    with pytest.raises(ValueError, match=r"input 'args_0' holds 3000000000 at element 1, outside the int32 range"):
        edge(torch.tensor([1, 3_000_000_000], dtype=torch.int64))
    with pytest.raises(ValueError, match=r"holds -2147483649 at element 0"):
        edge(torch.tensor([-(2**31) - 1, 0], dtype=torch.int64))


def test_int64_input_beyond_int32_is_refused_by_pt2lite_s_runtime():
    """The same refusal from pt2lite's runtime itself (the narrowing CAST), for callers that do not go
    through the EdgeModel: an error naming the tensor and the value, never a wrapped number."""
    content = pt2lite.convert(Affine64().eval(), (torch.tensor([1, 2]),)).model_content()
    it = pt2lite.Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.array([1, 3_000_000_000], dtype=np.int64))
    with pytest.raises(pt2lite.Pt2liteError, match=r"holds 3000000000 at element 1, outside the int32 range"):
        it.invoke()


@pytest.mark.parametrize("backend", BACKENDS)
def test_lossy_input_dtype_is_refused_lossless_is_converted(backend):
    x = torch.randn(2, 3)
    edge = pt2lite.convert(Scale().eval(), (x,), backend=backend)
    # before: float64 was rounded to float32 without a word
    with pytest.raises(TypeError, match=r"input 'args_0' is float64, but the model takes float32"):
        edge(x.double())
    with pytest.raises(TypeError, match=r"input 'args_0' is int64, but the model takes float32"):
        edge(torch.ones(2, 3, dtype=torch.int64))
    # float16 -> float32 keeps every value
    half = x.half()
    np.testing.assert_array_equal(edge(half).numpy(), half.float().numpy() * 3)


# ---------------------------------------------------------------- training mode


def test_training_mode_warns_and_converts_in_eval_mode():
    module = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(4))
    module[2].running_mean.fill_(0.5)
    module[2].running_var.fill_(4.0)
    module[0].eval()  # a submodule the user froze: its mode comes back as it was
    x = torch.randn(3, 4)
    with pytest.warns(UserWarning, match=r"training mode.*module\.eval\(\)"):
        edge = pt2lite.convert(module, (x,))
    assert module.training and module[1].training and module[2].training and not module[0].training
    with torch.no_grad():
        expected = module.eval()(x)
    np.testing.assert_allclose(edge(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pt2lite.convert(module.eval(), (x,))  # eval mode: no warning


# ---------------------------------------------------------------- input shapes


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_input_shape_on_a_static_model_names_the_shapes(backend):
    edge = pt2lite.convert(ConvHead().eval(), (torch.randn(1, 3, 8, 8),), backend=backend)
    # before: "op 3 (RESHAPE): cannot reshape ..." from the runtime, or LiteRT's own words
    with pytest.raises(ValueError, match=r"input 'args_0' has shape \[1, 3, 16, 16\], but the model was converted "
                                         r"for shape \[1, 3, 8, 8\]"):
        edge(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"input 'args_0' has shape \[3, 8, 8\], but .* \[1, 3, 8, 8\]"):
        edge(torch.randn(3, 8, 8))
    # a fully convolutional model ran the other size silently before
    conv = torch.nn.Conv2d(3, 2, 3).eval()
    edge = pt2lite.convert(conv, (torch.randn(1, 3, 8, 8),), backend=backend)
    with pytest.raises(ValueError, match=r"input 'args_0' has shape \[1, 3, 12, 12\], but the model was converted "
                                         r"for shape \[1, 3, 8, 8\]"):
        edge(torch.randn(1, 3, 12, 12))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamic_dims_may_change_static_ones_may_not(backend):
    conv = torch.nn.Conv2d(3, 2, 3).eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    edge = pt2lite.convert(conv, (torch.randn(2, 3, 8, 8),), dynamic_shapes=({0: batch},), backend=backend)
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        np.testing.assert_allclose(edge(x).numpy(), conv(x).numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"has shape \[5, 3, 9, 8\], but the model was converted for shape "
                                         r"\[-1, 3, 8, 8\]"):
        edge(torch.randn(5, 3, 9, 8))


# ---------------------------------------------------------------- load verifies


@pytest.mark.parametrize("backend", BACKENDS)
def test_load_of_a_truncated_file_fails_at_load_naming_it(backend, tmp_path):
    edge = pt2lite.convert(ConvHead().eval(), (torch.randn(1, 3, 8, 8),))
    path = tmp_path / "cut.tflite"
    path.write_bytes(edge.model_content()[: len(edge.model_content()) * 2 // 3])
    # before: load() returned a model that failed only when called
    with pytest.raises(pt2lite.Pt2liteError, match=r"cannot load '.*cut\.tflite'"):
        pt2lite.load(path, backend=backend)
    with pytest.raises(pt2lite.Pt2liteError, match=r"cannot load the model: .*TFL3"):
        pt2lite.EdgeModel(b"\0" * 64, backend=backend)


# ---------------------------------------------------------------- tensor() views


@pytest.mark.parametrize("make", [pytest.param(litert.Interpreter, id="litert"),
                                  pytest.param(pt2lite.Interpreter, id="pt2lite")])
def test_tensor_views_block_reallocation(make):
    edge = pt2lite.convert(torch.nn.Linear(3, 2).eval(), (torch.randn(4, 3),))
    it = make(model_content=edge.model_content())
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    view = it.tensor(index)()
    messages = []
    # before (pt2lite): the view pointed into freed memory after these calls
    for call in (it.allocate_tensors, lambda: it.resize_tensor_input(index, [5, 3]), it.invoke):
        with pytest.raises(RuntimeError, match="There is at least 1 reference to internal data") as e:
            call()
        messages.append(str(e.value))
    row = view[1]  # a slice keeps the memory in use as well
    del view
    gc.collect()
    with pytest.raises(RuntimeError, match="reference to internal data"):
        it.allocate_tensors()
    del row
    gc.collect()
    it.resize_tensor_input(index, [5, 3])
    it.allocate_tensors()
    it.tensor(index)()[:] = 1.0  # holding the function, not the array, is fine
    it.invoke()
    assert it.get_output_details()[0]["shape"].tolist() == [5, 2]
    assert messages == [messages[0]] * 3


def test_tensor_view_message_is_litert_s():
    edge = pt2lite.convert(torch.nn.Linear(3, 2).eval(), (torch.randn(4, 3),))
    words = []
    for make in (litert.Interpreter, pt2lite.Interpreter):
        it = make(model_content=edge.model_content())
        it.allocate_tensors()
        view = it.tensor(it.get_input_details()[0]["index"])()
        with pytest.raises(RuntimeError) as e:
            it.allocate_tensors()
        words.append(str(e.value))
        del view
    assert words[0] == words[1]


# ---------------------------------------------------------------- output structure in the file


def _metadata_names(content):
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    return [m.name.decode() for m in (model.metadata or [])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loaded_file_returns_the_module_s_structure(backend, tmp_path):
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    edge = pt2lite.convert(Structured().eval(), (x, y), backend=backend)
    path = tmp_path / "structured.tflite"
    edge.export(path)
    expected = Structured()(x, y)
    _same_structure(edge(x, y), expected)
    # before: the loaded file gave back a flat tuple of three tensors (the None and the nesting lost)
    _same_structure(pt2lite.load(path, backend=backend)(x, y), expected)
    assert _metadata_names(edge.model_content()) == ["pt2lite_output_structure", "pt2lite_node_map"]  # node map: docs/debugging.md


def test_litert_runs_a_file_with_metadata():
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    content = pt2lite.convert(Structured().eval(), (x, y)).model_content()
    it = litert.Interpreter(model_content=content)
    result = it.get_signature_runner("serving_default")(args_0=x.numpy(), args_1=y.numpy())
    expected = Structured()(x, y)
    np.testing.assert_allclose(result["output_0"], expected["sum"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(result["output_2"], expected["rest"][2][0].numpy(), rtol=1e-6)


class TwoInTwoOut(torch.nn.Module):
    def forward(self, x, y):
        return x - y, (x * y).sum(-1)


def _renamed(content, renames):
    """The file with strings replaced by others of the same length (what another tool might name
    them): the flatbuffer stays valid."""
    for old, new in renames.items():
        assert len(old) == len(new) and content.count(old) == 1, old
        content = content.replace(old, new)
    return content


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_from_another_tool_loads(backend, tmp_path):
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    content = pt2lite.convert(TwoInTwoOut().eval(), (x, y)).model_content()
    # names that sort the other way round and end in no number, and no recorded structure
    other = _renamed(content, {b"args_0": b"pixels", b"args_1": b"mask_b", b"output_0": b"logits_z",
                               b"output_1": b"boxes_aa", b"pt2lite_output_structure": b"another_tools_metadata__",
                               b"pt2lite_node_map": b"other_tool_map__"})
    path = tmp_path / "other.tflite"
    path.write_bytes(other)
    signature = tfl_schema.ModelT.InitFromPackedBuf(other, 0).signatureDefs[0]
    assert [m.name for m in signature.inputs] == [b"pixels", b"mask_b"]
    assert [m.name for m in signature.outputs] == [b"logits_z", b"boxes_aa"]
    assert _metadata_names(other) == ["another_tools_metadata__", "other_tool_map__"]
    # before: int("pixels".split("_")[-1]) raised ValueError
    got = pt2lite.load(path, backend=backend)(x, y)
    expected = TwoInTwoOut()(x, y)
    assert isinstance(got, tuple) and len(got) == 2
    np.testing.assert_allclose(got[0].numpy(), expected[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[1].numpy(), expected[1].numpy(), rtol=1e-5)


def test_inputs_follow_the_signature_order_not_the_names():
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    content = pt2lite.convert(TwoInTwoOut().eval(), (x, y)).model_content()
    # signature names that sort against the order: args_0 -> args_9; a name-sorting EdgeModel swaps x and y
    swapped = _renamed(content, {b"args_0": b"args_9"})
    for backend in BACKENDS:
        got = pt2lite.EdgeModel(swapped, backend=backend)(x, y)
        np.testing.assert_allclose(got[0].numpy(), (x - y).numpy(), rtol=1e-6)

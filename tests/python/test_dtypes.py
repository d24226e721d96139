"""float64, float16 and bfloat16 models; outputs that keep their Python types (torch.return_types,
namedtuples, dataclasses, ModelOutput); Python scalar arguments. Each against PyTorch, at the dtype's
precision, on LiteRT and on pt2lite's runtime (README, "dtypes")."""

import collections
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

import pt2lite
from conftest import assert_close, check_both_runtimes, check_module, flat_tensors, tflite_ops

BACKENDS = ("litert", "pt2lite")


def cnn():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 32, 3, groups=32),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(128, 10), nn.Softmax(-1))


def mlp():
    return nn.Sequential(nn.Linear(16, 256), nn.GELU(), nn.LayerNorm(256), nn.Linear(256, 8))


MODELS = {"cnn": (cnn, (2, 3, 12, 12)), "mlp": (mlp, (4, 16))}


def randomized(module):
    """Batch norm with non-trivial statistics, so folding it is tested."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return module.eval()


def tensor_types(content):
    """The dtype names of every tensor in subgraph 0."""
    from ai_edge_litert import schema_py_generated as tfl

    names = {v: k for k, v in vars(tfl.TensorType).items() if not k.startswith("_")}
    model = tfl.ModelT.InitFromPackedBuf(content, 0)
    return [names[t.type] for t in model.subgraphs[0].tensors]


def io_types(content):
    from ai_edge_litert import schema_py_generated as tfl

    names = {v: k for k, v in vars(tfl.TensorType).items() if not k.startswith("_")}
    sg = tfl.ModelT.InitFromPackedBuf(content, 0).subgraphs[0]
    return [names[sg.tensors[i].type] for i in sg.inputs], [names[sg.tensors[i].type] for i in sg.outputs]


def call_both(edge, *args):
    results = {}
    for backend in BACKENDS:
        edge.backend = backend
        results[backend] = edge(*args)
    return results


# ---------------------------------------------------------------- float64

@pytest.mark.parametrize("kind", sorted(MODELS))
def test_float64_model(kind):
    make, shape = MODELS[kind]
    module = randomized(make()).double()
    x = torch.randn(*shape, dtype=torch.float64)
    expected = module(x).detach()
    edge = pt2lite.convert(module, (x,))
    # float64 inputs and outputs stay float64 in the file (cast on entry and exit); weights and compute are float32
    assert io_types(edge.model_content()) == (["FLOAT64"], ["FLOAT64"])
    types = tensor_types(edge.model_content())
    assert types.count("FLOAT64") == 2, types  # only the input and the output
    # float32 precision against PyTorch's float64
    for backend, got in call_both(edge, x).items():
        assert got.dtype == torch.float64, backend
        assert_close(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5, what=backend)
    check_both_runtimes(edge.model_content(), [x.numpy()],
                        lambda outs, rt: assert_close(outs[0], expected.numpy(), rtol=1e-4, atol=1e-5, what=rt))


# ---------------------------------------------------------------- float16

@pytest.mark.parametrize("kind", sorted(MODELS))
def test_float16_model(kind):
    make, shape = MODELS[kind]
    module32 = randomized(make())
    module16 = make()
    module16.load_state_dict(module32.state_dict())
    module16 = module16.eval().half()
    x = torch.randn(*shape).half()
    content16 = pt2lite.convert(module16, (x,)).model_content()
    content32 = pt2lite.convert(module32, (x.float(),)).model_content()
    # weights as float16 constants, each followed by DEQUANTIZE; inputs and outputs float16 (CAST inside)
    assert io_types(content16) == (["FLOAT16"], ["FLOAT16"])
    ops = tflite_ops(content16)
    assert "DEQUANTIZE" in ops and "CAST" in ops, ops
    # two bytes saved per weight (batch norm folds into the conv before: count the conv's and linear's), less
    # the DEQUANTIZE ops' own bytes
    params = sum(p.numel() for m in module32.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) for p in m.parameters())
    assert len(content32) - len(content16) >= 0.75 * 2 * params, (len(content16), len(content32), params)
    # against PyTorch's float16 result, at float16's precision; and tighter against float32 compute with the
    # same (float16) weights, which is what the file does
    with torch.no_grad():
        expected16 = module16(x).float().numpy()
        module32.load_state_dict({k: v.float() for k, v in module16.state_dict().items()})
        expected32 = module32(x.float()).numpy()

    def check(outs, runtime):
        assert outs[0].dtype == np.float16, runtime
        assert_close(outs[0].astype(np.float32), expected16, rtol=2e-2, atol=2e-2, what=f"{runtime} vs float16")
        assert_close(outs[0].astype(np.float32), expected32, rtol=2e-3, atol=2e-3, what=f"{runtime} vs float32")

    check_both_runtimes(content16, [x.numpy()], check)
    edge = pt2lite.EdgeModel(content16)
    for backend, got in call_both(edge, x).items():
        assert got.dtype == torch.float16, backend
        assert_close(got.float().numpy(), expected16, rtol=2e-2, atol=2e-2, what=backend)


def test_float16_cast_rounds_to_nearest_even():
    """CAST float32 -> float16 on pt2lite's runtime agrees bit for bit with LiteRT and numpy (ties to even,
    subnormals, overflow to inf, NaN)."""
    values = np.array([0.0, -0.0, 1.0, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 65504.0, 65519.0, 65520.0, 1e6,
                       -1e6, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 1e-8, 6.1e-5, np.inf, -np.inf, 0.1, -2.5e-3],
                      np.float32)

    class Half(nn.Module):
        def forward(self, x):
            return x.half()

    content = pt2lite.convert(Half().eval(), (torch.from_numpy(values),)).model_content()
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16)

    def check(outs, runtime):
        assert outs[0].dtype == np.float16, runtime
        np.testing.assert_array_equal(outs[0].view(np.uint16), expected.view(np.uint16), err_msg=runtime)

    check_both_runtimes(content, [values], check)


# ---------------------------------------------------------------- bfloat16

def test_bfloat16_model():
    module32 = randomized(cnn())
    module = cnn()
    module.load_state_dict(module32.state_dict())
    module = module.eval().bfloat16()
    x = torch.randn(2, 3, 12, 12).bfloat16()
    edge = pt2lite.convert(module, (x,))
    content = edge.model_content()
    # TFLite has no bfloat16: the file's inputs and outputs are float32; weights float16 where exact, else float32
    assert io_types(content) == (["FLOAT32"], ["FLOAT32"])
    assert "FLOAT16" in tensor_types(content)
    content32 = pt2lite.convert(module32, (x.float(),)).model_content()
    assert len(content) < len(content32)
    with torch.no_grad():
        expected = module(x).float().numpy()
        module32.load_state_dict({k: v.float() for k, v in module.state_dict().items()})
        exact_weights = module32(x.float()).numpy()
    for backend, got in call_both(edge, x).items():
        assert got.dtype == torch.bfloat16, backend
        assert_close(got.float().numpy(), expected, rtol=3e-2, atol=3e-2, what=f"{backend} vs bfloat16")
    # the file computes in float32 with the bfloat16 weights exactly
    check_both_runtimes(content, [x.float().numpy()],
                        lambda outs, rt: assert_close(outs[0], exact_weights, rtol=1e-4, atol=1e-5, what=rt))


def test_bfloat16_file_loads_with_its_dtypes(tmp_path):
    module = nn.Linear(8, 4).bfloat16().eval()
    x = torch.randn(3, 8).bfloat16()
    path = tmp_path / "bf16.tflite"
    pt2lite.convert(module, (x,)).export(path)
    loaded = pt2lite.load(path)
    got = loaded(x)
    assert got.dtype == torch.bfloat16
    assert_close(got.float().numpy(), module(x).detach().float().numpy(), rtol=3e-2, atol=3e-2)


# ---------------------------------------------------------------- output structures

class ReturnsTopK(nn.Module):
    def forward(self, x):
        return torch.topk(x, 3)


class ReturnsMax(nn.Module):
    def forward(self, x):
        return torch.max(x, 1)


class ReturnsSort(nn.Module):
    def forward(self, x):
        return torch.sort(x, 1, descending=True)


@pytest.mark.parametrize("module", [ReturnsTopK(), ReturnsMax(), ReturnsSort()], ids=["topk", "max", "sort"])
def test_return_types(module, tmp_path):
    x = torch.randn(4, 10)
    expected = module(x)
    edge = check_module(module, (x,))
    for backend, got in call_both(edge, x).items():
        assert type(got) is type(expected), backend
        assert_close(got.values.numpy(), expected.values.numpy(), what=backend)
        assert torch.equal(got.indices, expected.indices), backend
    # a loaded file keeps the field names (torch cannot serialize return types: a dict of them)
    path = tmp_path / "m.tflite"
    edge.export(path)
    loaded = pt2lite.load(path)(x)
    assert sorted(loaded) == ["indices", "values"]
    assert torch.equal(loaded["indices"], expected.indices)


Pair = collections.namedtuple("Pair", "logits features")


@dataclasses.dataclass
class Result:
    logits: torch.Tensor
    extra: tuple


def model_output(h, x):
    from transformers.modeling_outputs import BaseModelOutput

    return BaseModelOutput(last_hidden_state=h, hidden_states=(x, h))


class Structured(nn.Module):
    """A Linear whose result goes back in a structure: wrap(linear(x), x)."""

    def __init__(self, wrap):
        super().__init__()
        self.linear = nn.Linear(6, 6)
        self.wrap = wrap

    def forward(self, x):
        return self.wrap(self.linear(x), x)


# wrap, the first field's name, and the keys a loaded file gives (None: the type itself comes back, as
# torch can serialize it)
STRUCTURES = {
    "namedtuple": (lambda h, x: Pair(h, torch.relu(x)), "logits", ["features", "logits"]),
    "dataclass": (lambda h, x: Result(h, (x * 2, None)), "logits", ["extra", "logits"]),
    "model_output": (model_output, "last_hidden_state", None),
}


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_structured_output(name, tmp_path):
    wrap, first, loaded_keys = STRUCTURES[name]
    module = Structured(wrap).eval()
    x = torch.randn(2, 6)
    with torch.no_grad():
        expected = module(x)
    edge = pt2lite.convert(module, (x,))
    for backend, got in call_both(edge, x).items():
        assert type(got) is type(expected), backend
        assert_close(getattr(got, first).numpy(), getattr(expected, first).numpy(), what=backend)
    if name == "dataclass":
        assert got.extra[1] is None
        assert_close(got.extra[0].numpy(), expected.extra[0].numpy())
    path = tmp_path / "m.tflite"
    edge.export(path)
    loaded = pt2lite.load(path)(x)
    if loaded_keys is None:
        assert type(loaded) is type(expected)
    else:
        assert sorted(loaded) == loaded_keys
        assert_close(loaded[first].numpy(), getattr(expected, first).numpy())


# ---------------------------------------------------------------- Python scalars

class Scaled(nn.Module):
    def forward(self, x, k: float, shift: int = 1):
        return x * k + shift


def test_python_scalar_arguments():
    x = torch.randn(3, 4)
    edge = check_module(Scaled(), (x, 2.5, 3))
    for backend, got in call_both(edge, x, 2.5, 3).items():
        assert_close(got.numpy(), (x * 2.5 + 3).numpy(), what=backend)
    # the model is specialized for the values it was converted with: another value is an error
    with pytest.raises(ValueError, match=r"Python scalar 2\.5"):
        edge(x, 3.0, 3)
    with pytest.raises(ValueError, match=r"Python scalar 3"):
        edge(x, 2.5, 4)


def test_misleading_messages_are_gone():
    """float16 models used to fail with "addmm of non-float tensors"; they convert now, and so does a
    float16 model whose op is really unsupported say which op and why."""
    edge = pt2lite.convert(nn.Linear(4, 2).half().eval(), (torch.randn(1, 4).half(),))
    assert flat_tensors(edge(torch.randn(1, 4).half()))[0].dtype == torch.float16

"""pt2lite.Interpreter is a drop-in for ai_edge_litert.interpreter.Interpreter: one script body, written
once against "an Interpreter class", runs with both classes on the same converted models and must
give the same details, signatures and (to fp32 rounding) the same values."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import pt2lite
from conftest import litert

DETAIL_FIELDS = ("name", "index", "shape", "shape_signature", "dtype", "quantization")


class TwoInTwoOut(torch.nn.Module):
    """Two inputs (one with a dynamic batch), two outputs of different shapes, an int64 -> int32 output."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(4, 6)

    def forward(self, x, y):
        h = torch.relu(self.fc(x) @ y.T)
        return h + 1.0, (x * 2).sum(-1)


@pytest.fixture(scope="module")
def model_bytes():
    x, y = torch.randn(3, 4), torch.randn(5, 6)
    batch = torch.export.Dim("batch", min=1, max=64)
    return pt2lite.convert(TwoInTwoOut(), (x, y), dynamic_shapes=({0: batch}, None)).model_content()


def details(d):
    return {k: (d[k].tolist() if isinstance(d[k], np.ndarray) else d[k]) for k in DETAIL_FIELDS}


def script(Interpreter, content, path):
    """What deployment code does with LiteRT's Interpreter. Returns everything it observed."""
    rng = np.random.default_rng(0)
    seen = {}
    it = Interpreter(model_content=content)
    it.allocate_tensors()
    inputs, outputs = it.get_input_details(), it.get_output_details()
    seen["inputs"] = [details(d) for d in inputs]
    seen["outputs"] = [details(d) for d in outputs]
    seen["quant_params"] = [sorted(d["quantization_parameters"]) for d in inputs]
    x = rng.standard_normal(tuple(inputs[0]["shape"])).astype(np.float32)  # the file's shape: the export's batch 3
    y = rng.standard_normal((5, 6)).astype(np.float32)
    it.set_tensor(inputs[0]["index"], x)
    it.set_tensor(inputs[1]["index"], y)
    it.invoke()
    seen["invoke"] = [it.get_tensor(d["index"]) for d in outputs]

    # a second invoke with new values reuses the allocation
    it.set_tensor(inputs[0]["index"], x * 3)
    it.invoke()
    seen["invoke_again"] = [it.get_tensor(d["index"]) for d in outputs]

    # resize the dynamic batch, re-allocate, run
    it.resize_tensor_input(inputs[0]["index"], [7, 4], strict=True)
    it.allocate_tensors()
    seen["resized_inputs"] = [details(d) for d in it.get_input_details()]
    seen["resized_outputs"] = [details(d) for d in it.get_output_details()]
    x7 = rng.standard_normal((7, 4)).astype(np.float32)
    it.set_tensor(inputs[0]["index"], x7)
    it.set_tensor(inputs[1]["index"], y)
    it.invoke()
    seen["resized_invoke"] = [it.get_tensor(d["index"]) for d in it.get_output_details()]

    # zero-copy views (hold no view across invoke: LiteRT forbids it)
    it.tensor(inputs[0]["index"])()[...] = x7 - 1
    it.invoke()
    seen["tensor_view"] = np.array(it.tensor(it.get_output_details()[0]["index"])())

    # errors LiteRT users catch
    errors = {}
    for what, call in [
        ("wrong shape", lambda: it.set_tensor(inputs[1]["index"], np.zeros((2, 6), np.float32))),
        ("wrong dtype", lambda: it.set_tensor(inputs[1]["index"], y.astype(np.float64))),
        ("strict resize of a static dim", lambda: it.resize_tensor_input(inputs[0]["index"], [7, 5], strict=True)),
        ("unknown signature", lambda: it.get_signature_runner("nope")),
    ]:
        try:
            call()
            errors[what] = None
        except (ValueError, RuntimeError):  # LiteRT raises one or the other; pt2lite's errors are both
            errors[what] = "error"
    seen["errors"] = errors

    # signatures
    seen["signature_list"] = it.get_signature_list()
    runner = it.get_signature_runner()
    seen["runner_inputs"] = {k: details(d) for k, d in runner.get_input_details().items()}
    seen["runner_outputs"] = {k: details(d) for k, d in runner.get_output_details().items()}
    x2 = rng.standard_normal((2, 4)).astype(np.float32)
    result = runner(args_0=x2, args_1=y)
    seen["runner_result"] = {k: result[k] for k in sorted(result)}
    result = it.get_signature_runner("serving_default")(args_0=x, args_1=y)
    seen["runner_by_key"] = {k: result[k] for k in sorted(result)}
    try:
        runner(args_0=x2)
        seen["runner_missing_input"] = None
    except ValueError:
        seen["runner_missing_input"] = "ValueError"

    # from a file, with a thread count
    it2 = Interpreter(model_path=str(path), num_threads=2)
    it2.allocate_tensors()
    d2 = it2.get_input_details()
    it2.set_tensor(d2[0]["index"], x)
    it2.set_tensor(d2[1]["index"], y)
    it2.invoke()
    seen["from_path"] = [it2.get_tensor(d["index"]) for d in it2.get_output_details()]
    return seen


def assert_same(ours, theirs, where="result"):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: {type(ours)} is not an ndarray"
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, \
            f"{where}: {ours.dtype}{ours.shape} != {theirs.dtype}{theirs.shape}"
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=where)
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def test_same_script_both_interpreters(model_bytes, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    theirs = script(litert.Interpreter, model_bytes, path)
    ours = script(pt2lite.Interpreter, model_bytes, path)
    assert_same(ours, theirs)
    # and the script saw what it should have (not two runtimes agreeing on nonsense)
    assert theirs["resized_outputs"][0]["shape"] == [7, 5]
    assert all(v == "error" for v in theirs["errors"].values()), theirs["errors"]


def test_cnn_both_interpreters(tmp_path):
    # an NCHW CNN through the signature runner and the index API, both classes
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
                                 torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 5),
                                 torch.nn.Softmax(-1)).eval()
    x = torch.randn(2, 3, 17, 15)
    content = pt2lite.convert(module, (x,)).model_content()
    results = []
    for Interpreter in (litert.Interpreter, pt2lite.Interpreter):
        it = Interpreter(model_content=content)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x.numpy())
        it.invoke()
        results.append((it.get_tensor(it.get_output_details()[0]["index"]),
                        it.get_signature_runner()(args_0=x.numpy())["output_0"]))
    with torch.no_grad():
        expected = module(x).numpy()
    for by_index, by_signature in results:
        np.testing.assert_allclose(by_index, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(by_index, by_signature)


def test_import_is_enough(model_bytes, tmp_path):
    # the one-line switch: a module that does `from X import Interpreter`
    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    code = (f"from {{mod}} import Interpreter\n"
            f"import numpy as np\n"
            f"it = Interpreter(model_path={str(path)!r})\n"
            f"it.allocate_tensors()\n"
            f"i, o = it.get_input_details(), it.get_output_details()\n"
            f"it.set_tensor(i[0]['index'], np.ones(tuple(i[0]['shape']), np.float32))\n"  # the file's shape: batch 3
            f"it.set_tensor(i[1]['index'], np.ones((5, 6), np.float32))\n"
            f"it.invoke()\n"
            f"print(repr(it.get_tensor(o[1]['index']).tolist()))\n")
    outs = []
    for mod in ("ai_edge_litert.interpreter", "pt2lite"):
        r = subprocess.run([sys.executable, "-c", code.format(mod=mod)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.strip().splitlines()[-1])
    assert outs[0] == outs[1] == repr([8.0] * 3)


def test_pt2lite_backend_imports_no_litert(model_bytes, tmp_path):
    # pt2lite's runtime needs neither TensorFlow nor LiteRT: block their import and run a model
    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('ai_edge_litert', 'tensorflow', 'tflite_runtime'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import numpy as np, pt2lite\n"
            f"edge = pt2lite.load({str(path)!r})\n"
            "a, b = edge(np.ones((3, 4), np.float32), np.ones((5, 6), np.float32))\n"
            "print(a.shape[0], b.tolist())\n"
            "try:\n"
            "    edge.backend = 'litert'; edge(np.ones((3, 4), np.float32), np.ones((5, 6), np.float32))\n"
            "except ImportError as e:\n"
            "    print('litert:', e)\n"
            "assert not any(m.startswith(('ai_edge_litert', 'tensorflow')) for m in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "3 [8.0, 8.0, 8.0]", r.stdout
    assert "ai_edge_litert" in lines[1], r.stdout


def test_edge_model_backends(model_bytes):
    edge = pt2lite.EdgeModel(model_bytes)
    assert edge.backend == "pt2lite"
    x, y = torch.randn(6, 4), torch.randn(5, 6)  # batch 6: the signature runner resizes
    ours = edge(x, y)
    edge.backend = "litert"
    theirs = edge(x, y)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown backend"):
        edge.backend = "tensorflow"
    assert pt2lite.EdgeModel(model_bytes, backend="litert").backend == "litert"
    with pytest.raises(ValueError, match="unknown backend"):
        pt2lite.EdgeModel(model_bytes, backend="xnnpack")


def test_convert_and_load_backend(model_bytes, tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2).eval()
    x = torch.randn(4, 3)
    edge = pt2lite.convert(module, (x,), backend="litert")
    assert edge.backend == "litert"
    path = tmp_path / "lin.tflite"
    edge.export(path)
    with torch.no_grad():
        expected = module(x).numpy()
    for backend in ("pt2lite", "litert"):
        loaded = pt2lite.load(path, backend=backend)
        assert loaded.backend == backend
        np.testing.assert_allclose(loaded(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert pt2lite.load(path).backend == "pt2lite"


def test_bad_model_is_a_value_error_too():
    # LiteRT raises ValueError for a file it cannot load; pt2lite's error is a Pt2liteError and a ValueError
    for Interpreter in (litert.Interpreter, pt2lite.Interpreter):
        with pytest.raises(ValueError):
            Interpreter(model_content=b"\0" * 64)
    with pytest.raises(pt2lite.Pt2liteError, match="TFL3|identifier"):
        pt2lite.Interpreter(model_content=b"\0" * 64)

"""Several signatures in one .tflite (pt2lite.signature(...).signature(...).convert()): one subgraph and
SignatureDef per signature, weights the signatures share stored once, each signature with its own
input and output structure; run by LiteRT's signature runner and by pt2lite's runtime against
PyTorch; multi-signature files of other tools (litert-torch) loaded; the CLI's --signature."""

import os

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter

import pt2lite
from conftest import assert_close, tfl_schema
import signature_fixture
from signature_fixture import fixture_modules, fixture_samples
from test_cli import cli, run_cli  # noqa: F401 (the fixture: the pt2lite binary)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def big_mlp():
    """Weights large enough (132 KB) that a second copy would show in the file size."""
    return signature_fixture.Mlp(64, 256).eval()


class Pair(torch.nn.Module):
    """Another output structure: a dict, one entry None."""

    def __init__(self, mlp):
        super().__init__()
        self.mlp = mlp

    def forward(self, x):
        y = self.mlp(x)
        return {"sum": y.sum(-1), "y": y, "nothing": None}


def run_signature_runner(interpreter, key, inputs):
    """One signature through an Interpreter's signature runner (LiteRT's or pt2lite's): outputs in order."""
    runner = interpreter.get_signature_runner(key)
    result = runner(**{f"args_{i}": x for i, x in enumerate(inputs)})
    return [result[name] for name in sorted(result, key=lambda n: int(n.split("_")[-1]))]


def buffer_uses(content):
    """{buffer index: [(subgraph, tensor name), ...]} for the buffers that hold data."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    uses = {}
    for g, subgraph in enumerate(model.subgraphs):
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data
            if data is not None and len(data):
                uses.setdefault(tensor.buffer, []).append((g, tensor.name.decode()))
    return uses


def test_two_signatures_over_one_module_share_weights_and_run_on_both_runtimes():
    mlp = big_mlp()
    prefill, decode = torch.randn(8, 64), torch.randn(1, 64)
    one = pt2lite.convert(mlp, (prefill,))
    two = pt2lite.signature("prefill", mlp, (prefill,)).signature("decode", mlp, (decode,)).convert()
    content = two.model_content()
    assert two.signatures == ["prefill", "decode"]
    # Shared weights: the second signature adds its ops, not a second copy of the 132 KB of weights.
    assert len(content) <= 1.03 * len(one.model_content()), (len(content), len(one.model_content()))
    assert all({g for g, _ in users} == {0, 1} for users in buffer_uses(content).values()), buffer_uses(content)
    with torch.no_grad():
        expected = {"prefill": mlp(prefill), "decode": mlp(decode)}
    inputs = {"prefill": prefill, "decode": decode}
    litert, ours = LiteRTInterpreter(model_content=content), pt2lite.Interpreter(model_content=content)
    assert set(litert.get_signature_list()) == {"prefill", "decode"}
    for key in ("decode", "prefill", "decode"):  # each runner in turn on one interpreter
        for interpreter in (litert, ours):
            (got,) = run_signature_runner(interpreter, key, [inputs[key].numpy()])
            assert_close(got, expected[key].numpy(), what=f"{type(interpreter).__module__} {key}")
    for backend in ("pt2lite", "litert"):
        two.backend = backend
        for key in ("prefill", "decode"):
            assert_close(two(inputs[key], signature_name=key).numpy(), expected[key].numpy(), what=f"{backend} {key}")


def test_two_modules_sharing_a_submodule_keep_their_own_structure(tmp_path):
    mlp = big_mlp()
    pair = Pair(mlp).eval()
    x, y = torch.randn(3, 64), torch.randn(5, 64)
    edge = pt2lite.signature("plain", mlp, (x,)).signature("pair", pair, (y,)).convert()
    content = edge.model_content()
    shared = [users for users in buffer_uses(content).values() if {g for g, _ in users} == {0, 1}]
    assert len(shared) == 4, buffer_uses(content)  # the two Linear layers' weights and biases, once each
    path = tmp_path / "m.tflite"
    edge.export(path)
    with torch.no_grad():
        want_plain, want_pair = mlp(x), pair(y)
    for model in (edge, pt2lite.load(path)):  # the structures come back from the file's metadata too
        for backend in ("pt2lite", "litert"):
            model.backend = backend
            assert_close(model(x, signature_name="plain").numpy(), want_plain.numpy())
            got = model(y, signature_name="pair")
            assert set(got) == {"sum", "y", "nothing"} and got["nothing"] is None
            assert_close(got["y"].numpy(), want_pair["y"].numpy())
            assert_close(got["sum"].numpy(), want_pair["sum"].numpy(), rtol=1e-4, atol=1e-4)  # a sum of 64


def test_a_call_without_signature_name_lists_the_signatures():
    mlp = big_mlp()
    edge = pt2lite.signature("encode", mlp, (torch.randn(2, 64),)).signature("decode", mlp, (torch.randn(1, 64),)).convert()
    with pytest.raises(ValueError, match=r"2 signatures \('encode', 'decode'\).*signature_name"):
        edge(torch.randn(2, 64))
    with pytest.raises(ValueError, match=r"no signature 'nope'.*'encode', 'decode'"):
        edge(torch.randn(2, 64), signature_name="nope")


def test_one_signature_is_converted_as_by_convert():
    mlp = big_mlp()
    x = torch.randn(2, 64)
    plain = pt2lite.convert(mlp, (x,)).model_content()
    assert pt2lite.signature("serving_default", mlp, (x,)).convert().model_content() == plain
    named = pt2lite.signature("decode", mlp, (x,)).convert()
    assert named.signatures == ["decode"]
    assert_close(named(x).numpy(), mlp(x).detach().numpy())  # the only signature needs no name


def test_builder_refuses_bad_names_and_quantize():
    mlp = big_mlp()
    builder = pt2lite.signature("a", mlp, (torch.randn(1, 64),))
    with pytest.raises(ValueError, match="already defined"):
        builder.signature("a", mlp, (torch.randn(1, 64),))
    with pytest.raises(ValueError, match="non-empty"):
        builder.signature("", mlp, (torch.randn(1, 64),))
    with pytest.raises(ValueError, match="needs a calibration"):
        builder.convert(quantize="int8")
    with pytest.raises(ValueError, match="not a recipe"):
        builder.convert(quantize="int7")


def test_the_converter_refuses_duplicate_and_empty_names():
    from pt2lite.convert import export_archive
    from pt2lite.signatures import convert_pt2_signatures

    archive, _ = export_archive(big_mlp(), (torch.randn(1, 64),))
    with pytest.raises(pt2lite.Pt2liteError, match="two signatures are named 'a'"):
        convert_pt2_signatures([("a", archive), ("a", archive)])
    with pytest.raises(pt2lite.Pt2liteError, match="empty name"):
        convert_pt2_signatures([("a", archive), ("", archive)])
    with pytest.raises(pt2lite.Pt2liteError, match="signature 'broken'"):
        convert_pt2_signatures([("a", archive), ("broken", archive[: len(archive) // 2])])


def test_load_a_two_signature_file_made_by_litert_torch():
    """tests/data/two_signatures_litert.tflite: made by litert-torch (make_two_signatures_litert.py)."""
    encode, decode = fixture_modules()
    x_encode, x_decode = fixture_samples()
    with torch.no_grad():
        expected = {"encode": encode(x_encode), "decode": decode(x_decode)}
    edge = pt2lite.load(os.path.join(DATA, "two_signatures_litert.tflite"))
    assert edge.signatures == ["encode", "decode"]
    for backend in ("pt2lite", "litert"):
        edge.backend = backend
        assert_close(edge(x_encode, signature_name="encode").numpy(), expected["encode"].numpy())
        assert_close(edge(x_decode, signature_name="decode").numpy(), expected["decode"].numpy())
    with pytest.raises(ValueError, match="'encode', 'decode'"):
        edge(x_encode)


def test_cli_converts_runs_and_inspects_signatures(cli, tmp_path):  # noqa: F811
    mlp = big_mlp()
    prefill, decode = torch.randn(4, 64), torch.randn(1, 64)
    for name, x in (("prefill", prefill), ("decode", decode)):
        torch.export.save(torch.export.export(mlp, (x,)).run_decompositions(), tmp_path / f"{name}.pt2")
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", tmp_path / "prefill.pt2", tmp_path / "decode.pt2", "--signature", "prefill",
                "--signature", "decode", "-o", out)
    assert r.returncode == 0, r.stderr
    assert pt2lite.load(out).signatures == ["prefill", "decode"]

    r = run_cli(cli, "inspect", out)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.replace(" ", "")
    assert "signature'prefill'->subgraph0" in lines and "signature'decode'->subgraph1" in lines, r.stdout
    assert "input'args_0'" in lines and "output'output_0'" in lines and "[4,64]" in lines and "[1,64]" in lines
    r = run_cli(cli, "inspect", out, "--signature", "decode")
    assert r.returncode == 0 and "'prefill'" not in r.stdout and "[4,64]" not in r.stdout.replace(" ", ""), r.stdout

    r = run_cli(cli, "convert", tmp_path / "prefill.pt2", tmp_path / "decode.pt2", "--signature", "a", "-o", out)
    assert r.returncode == 2 and "one --signature NAME per archive" in r.stderr, r.stderr

    np.save(tmp_path / "x.npy", decode.numpy())
    r = run_cli(cli, "run", out, "--signature", "decode", "--input", tmp_path / "x.npy", "-o", tmp_path / "res")
    if "has no runtime" in r.stderr:  # test_cli's CMake fallback builds the converter-only tool
        pytest.skip("this pt2lite binary was built without the runtime")
    assert r.returncode == 0, r.stderr
    assert_close(np.load(tmp_path / "res" / "output_0.npy"), mlp(decode).detach().numpy())
    r = run_cli(cli, "bench", out, "--signature", "prefill", "--min-runs", "2", "--min-seconds", "0")
    assert r.returncode == 0 and "signature: prefill" in r.stdout, r.stderr

    for command in ("run", "bench"):
        r = run_cli(cli, command, out)
        assert r.returncode == 1 and "'prefill', 'decode'" in r.stderr and "--signature" in r.stderr, r.stderr
    r = run_cli(cli, "run", out, "--signature", "nope")
    assert r.returncode == 1 and "no signature 'nope'" in r.stderr and "'prefill', 'decode'" in r.stderr, r.stderr


def test_serving_default_is_the_default_among_several():
    mlp = big_mlp()
    x, y = torch.randn(2, 64), torch.randn(1, 64)
    edge = pt2lite.signature("small", mlp, (y,)).signature("serving_default", mlp, (x,)).convert()
    assert_close(edge(x).numpy(), mlp(x).detach().numpy())
    assert_close(edge(y, signature_name="small").numpy(), mlp(y).detach().numpy())


def test_a_file_without_signature_defs_loads_and_says_how_to_run_it():
    import flatbuffers

    model = tfl_schema.ModelT.InitFromPackedBuf(pt2lite.convert(big_mlp(), (torch.randn(1, 64),)).model_content(), 0)
    model.signatureDefs = []
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    edge = pt2lite.EdgeModel(bytes(builder.Output()))
    assert edge.signatures == []
    with pytest.raises(ValueError, match="no SignatureDef.*pt2lite.Interpreter"):
        edge(torch.randn(1, 64))

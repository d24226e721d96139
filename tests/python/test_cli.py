"""The C command-line tool: `pt2lite convert MODEL.pt2 -o MODEL.tflite` on archives written by
torch.export.save, with no Python in the conversion; deterministic output; clear errors, a non-zero
exit and no output file on bad input."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import pt2lite
from conftest import assert_close, run_litert, tflite_ops

THIS_FILE = os.path.basename(__file__)


# ---------------------------------------------------------------- the tool

@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """The installed binary (what users get); built with CMake when the package lacks it."""
    installed = os.path.join(os.path.dirname(pt2lite.__file__), "pt2lite")
    if os.path.isfile(installed) and os.access(installed, os.X_OK):
        return installed
    if not shutil.which("cmake"):
        pytest.skip("no installed pt2lite binary and no cmake to build one")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = tmp_path_factory.mktemp("cli-build")
    subprocess.run(["cmake", "-S", root, "-B", str(build), "-DP2L_BUILD_RUNTIME=OFF", "-DP2L_BUILD_TESTS=OFF",
                    "-DP2L_WERROR=OFF"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j2", "--target", "pt2lite_cli"], check=True, capture_output=True)
    return str(build / "pt2lite")


def run_cli(cli, *args):
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- archives

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.conv3 = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = nn.functional.relu6(self.conv2(y)) + y
        return torch.sigmoid(self.conv3(y))


class TwoUnsupported(nn.Module):
    def forward(self, x):
        y = torch.cumprod(x, 1)  # UNSUPPORTED-CUMPROD
        z, _ = torch.cummax(y, dim=-1)  # UNSUPPORTED-CUMMAX
        return z * 2


def line_of(marker):
    with open(__file__) as f:
        for number, line in enumerate(f, 1):
            if marker in line and "line_of(" not in line:
                return number
    raise AssertionError(marker)


def save_pt2(module, args, path):
    torch.manual_seed(0)
    module = module.eval()
    program = torch.export.export(module, args).run_decompositions()
    torch.export.save(program, str(path))
    return path


@pytest.fixture(scope="module")
def cnn_pt2(tmp_path_factory):
    torch.manual_seed(0)
    module = SmallCNN().eval()
    with torch.no_grad():
        module.bn1.running_mean.uniform_(-1, 1)
        module.bn1.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 3, 16, 12)
    path = save_pt2(module, (x,), tmp_path_factory.mktemp("cnn") / "cnn.pt2")
    with torch.no_grad():
        expected = module(x).numpy()
    return path, x, expected


@pytest.fixture(scope="module")
def unsupported_pt2(tmp_path_factory):
    return save_pt2(TwoUnsupported(), (torch.randn(2, 5),), tmp_path_factory.mktemp("bad") / "unsupported.pt2")


def listing(directory):
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------- converting

def test_convert_runs_on_litert(cli, cnn_pt2, tmp_path):
    pt2, x, expected = cnn_pt2
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", pt2, "-o", out)
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path) == ["m.tflite"], "temporary files left next to the output"
    content = out.read_bytes()
    assert content[4:8] == b"TFL3"
    (got,) = run_litert(content, [x.numpy()])
    assert_close(got, expected)
    ops = tflite_ops(content)
    assert ops.count("TRANSPOSE") == 2 and "MUL" not in ops, ops


def test_convert_long_option_and_argument_order(cli, cnn_pt2, tmp_path):
    pt2, x, expected = cnn_pt2
    r = run_cli(cli, "convert", "--output", tmp_path / "a.tflite", pt2)
    assert r.returncode == 0, r.stderr
    (got,) = run_litert((tmp_path / "a.tflite").read_bytes(), [x.numpy()])
    assert_close(got, expected)


def test_convert_overwrites_existing_output(cli, cnn_pt2, tmp_path):
    pt2, _, _ = cnn_pt2
    out = tmp_path / "m.tflite"
    out.write_bytes(b"old contents")
    assert run_cli(cli, "convert", pt2, "-o", out).returncode == 0
    assert out.read_bytes()[4:8] == b"TFL3"
    assert listing(tmp_path) == ["m.tflite"]


def test_cli_is_deterministic_and_equals_python(cli, cnn_pt2, tmp_path):
    pt2, _, _ = cnn_pt2
    for name in ("a.tflite", "b.tflite"):
        assert run_cli(cli, "convert", pt2, "-o", tmp_path / name).returncode == 0
    a, b = (tmp_path / "a.tflite").read_bytes(), (tmp_path / "b.tflite").read_bytes()
    assert a == b, "two conversions of the same archive differ"
    assert pt2lite.convert_pt2(pt2.read_bytes()) == a, "the CLI and convert_pt2 disagree on the same archive"


def test_same_model_saved_twice_converts_to_same_bytes(cli, tmp_path):
    # two exports of one module, saved under different names (the archive's root folder differs and
    # so does its serialization id): the model is the same, so are the bytes
    torch.manual_seed(0)
    module = SmallCNN().eval()
    x = torch.randn(1, 3, 8, 8)
    for name in ("first", "second_name"):
        save_pt2(module, (x,), tmp_path / f"{name}.pt2")
        assert run_cli(cli, "convert", tmp_path / f"{name}.pt2", "-o", tmp_path / f"{name}.tflite").returncode == 0
    assert (tmp_path / "first.tflite").read_bytes() == (tmp_path / "second_name.tflite").read_bytes()


def test_python_convert_is_deterministic():
    torch.manual_seed(0)
    module = SmallCNN().eval()
    x = torch.randn(1, 3, 8, 8)
    first = pt2lite.convert(module, (x,)).model_content()
    second = pt2lite.convert(module, (x,)).model_content()
    assert first == second, "convert() twice on the same module gave different bytes"


def test_console_script(cnn_pt2, tmp_path):
    # `pt2lite` on PATH after pip install is a Python shim that execs the C tool
    script = os.path.join(os.path.dirname(sys.executable), "pt2lite")
    if not os.path.exists(script):
        pytest.skip("no console script next to this interpreter")
    if not os.path.exists(os.path.join(os.path.dirname(pt2lite.__file__), "pt2lite")):
        # PYTHONPATH points at a source tree: the shim would import it and find no C tool there
        pytest.skip(f"pt2lite is imported from {os.path.dirname(pt2lite.__file__)}, which has no C tool (not installed)")
    r = subprocess.run([script, "version"], capture_output=True, text=True)
    assert r.returncode == 0 and pt2lite.__version__ in r.stdout
    pt2, _, _ = cnn_pt2
    r = subprocess.run([script, "convert", str(pt2), "-o", str(tmp_path / "m.tflite")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.tflite").exists()


# ---------------------------------------------------------------- bad inputs

def assert_failed_cleanly(r, out, directory, *patterns):
    """Non-zero exit, every pattern (regex, case-insensitive) in stderr, no output, no temp files."""
    assert r.returncode != 0, f"exit 0 on bad input; stderr: {r.stderr}"
    assert r.returncode != 2 or "usage" not in r.stderr, "a conversion error reported as a usage error"
    for p in patterns:
        assert re.search(p, r.stderr, re.IGNORECASE), f"{p!r} not in stderr:\n{r.stderr}"
    assert not os.path.exists(out), "an output file was written despite the error"
    leftovers = [n for n in os.listdir(directory) if n.startswith(os.path.basename(out))]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_missing_input(cli, tmp_path):
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", tmp_path / "nope.pt2", "-o", out)
    assert_failed_cleanly(r, out, tmp_path, "nope.pt2", r"no such file|cannot open|not found")


def test_empty_input(cli, tmp_path):
    (tmp_path / "empty.pt2").write_bytes(b"")
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", tmp_path / "empty.pt2", "-o", out)
    assert_failed_cleanly(r, out, tmp_path, "empty")


def test_input_is_a_directory(cli, tmp_path):
    (tmp_path / "dir.pt2").mkdir()
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", tmp_path / "dir.pt2", "-o", out)
    assert_failed_cleanly(r, out, tmp_path, "dir.pt2")


def test_not_a_zip(cli, tmp_path):
    (tmp_path / "text.pt2").write_bytes(b"this is not a zip archive\n" * 40)
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", tmp_path / "text.pt2", "-o", out)
    assert_failed_cleanly(r, out, tmp_path, "zip")


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
def test_truncated_archive(cli, cnn_pt2, tmp_path, fraction):
    data = cnn_pt2[0].read_bytes()
    (tmp_path / "cut.pt2").write_bytes(data[:int(len(data) * fraction)])
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", tmp_path / "cut.pt2", "-o", out)
    assert_failed_cleanly(r, out, tmp_path, r"zip|truncat")


def test_unsupported_ops_listed_with_source_lines(cli, unsupported_pt2, tmp_path):
    out = tmp_path / "m.tflite"
    r = run_cli(cli, "convert", unsupported_pt2, "-o", out)
    cumprod_line, cummax_line = line_of("UNSUPPORTED-CUMPROD"), line_of("UNSUPPORTED-CUMMAX")
    assert_failed_cleanly(r, out, tmp_path, r"\bcumprod\b", r"\bcummax\b", rf"{THIS_FILE}:{cumprod_line}\b",
                          rf"{THIS_FILE}:{cummax_line}\b", r"\b2 nodes\b")
    # each node on its own line, with its name and its own source line
    lines = r.stderr.splitlines()
    assert any("'cumprod'" in l and f"{THIS_FILE}:{cumprod_line}" in l for l in lines), r.stderr
    assert any("'cummax'" in l and f"{THIS_FILE}:{cummax_line}" in l for l in lines), r.stderr


def test_failed_conversion_keeps_existing_output(cli, unsupported_pt2, tmp_path):
    out = tmp_path / "m.tflite"
    out.write_bytes(b"previous model")
    r = run_cli(cli, "convert", unsupported_pt2, "-o", out)
    assert r.returncode != 0
    assert out.read_bytes() == b"previous model", "a failed conversion clobbered the existing output"
    assert listing(tmp_path) == ["m.tflite"]


def test_output_directory_missing(cli, cnn_pt2, tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "m.tflite"
    r = run_cli(cli, "convert", cnn_pt2[0], "-o", out)
    assert r.returncode != 0
    assert "m.tflite" in r.stderr
    assert not out.exists()


def test_output_is_a_directory(cli, cnn_pt2, tmp_path):
    (tmp_path / "out").mkdir()
    r = run_cli(cli, "convert", cnn_pt2[0], "-o", tmp_path / "out")
    assert r.returncode != 0
    assert (tmp_path / "out").is_dir() and not os.listdir(tmp_path / "out")
    assert listing(tmp_path) == ["out"], "temporary files left behind"


# ---------------------------------------------------------------- inspect

def test_inspect(cli, cnn_pt2, tmp_path):
    out = tmp_path / "m.tflite"
    assert run_cli(cli, "convert", cnn_pt2[0], "-o", out).returncode == 0
    r = run_cli(cli, "inspect", out)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert str(out.stat().st_size) in text, "the file size"
    assert "[1,3,16,12]" in text.replace(" ", "") and "[1,4,16,12]" in text.replace(" ", ""), text
    ops = tflite_ops(out.read_bytes())
    for op in set(ops):
        assert re.search(rf"{op}\s+{ops.count(op)}\b", text), f"{op} x{ops.count(op)} not in:\n{text}"


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all" * 4, None], ids=["empty", "garbage", "truncated"])
def test_inspect_bad_file(cli, cnn_pt2, tmp_path, content):
    if content is None:
        content = pt2lite.convert_pt2(cnn_pt2[0].read_bytes())[:100]
    (tmp_path / "bad.tflite").write_bytes(content)
    r = run_cli(cli, "inspect", tmp_path / "bad.tflite")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "bad.tflite" in r.stderr or "TFL3" in r.stderr or "byte offset" in r.stderr, r.stderr


def test_inspect_a_pt2_says_not_tflite(cli, cnn_pt2):
    r = run_cli(cli, "inspect", cnn_pt2[0])
    assert r.returncode == 1, r.stderr
    assert "TFL3" in r.stderr or "tflite" in r.stderr.lower(), r.stderr


# ---------------------------------------------------------------- other commands and usage errors

def test_version(cli):
    r = run_cli(cli, "version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"pt2lite {pt2lite.__version__}"


@pytest.mark.parametrize("args", [["frobnicate"], ["convert"], ["convert", "x.pt2"], ["convert", "-o", "y.tflite"],
                                  ["convert", "x.pt2", "-o", "y.tflite", "--bogus"],
                                  ["convert", "a.pt2", "b.pt2", "-o", "y.tflite"], []],
                         ids=["unknown_command", "convert_no_args", "no_output", "no_input", "unknown_option",
                              "two_inputs", "no_command"])
def test_usage_errors_exit_2(cli, tmp_path, args):
    r = subprocess.run([cli, *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.strip(), "no message on a usage error"
    assert listing(tmp_path) == []


def test_help(cli):
    r = run_cli(cli, "--help")
    assert r.returncode == 0 and "convert" in r.stdout


# ---------------------------------------------------------------- run and bench (pt2lite's runtime)

@pytest.fixture(scope="module")
def runtime_cli(cli):
    """The tool, when it was built with the runtime (the CMake fallback above builds it without)."""
    r = run_cli(cli, "run", "no-such-model.tflite")
    if "has no runtime" in r.stderr:
        pytest.skip("this pt2lite binary was built without the runtime")
    return cli


@pytest.fixture(scope="module")
def cnn_tflite(cnn_pt2, tmp_path_factory):
    pt2, x, expected = cnn_pt2
    path = tmp_path_factory.mktemp("cnn-tflite") / "cnn.tflite"
    path.write_bytes(pt2lite.convert_pt2(pt2.read_bytes()))
    return path, x, expected


class MixedIO(nn.Module):
    """Float32, int64 and int32 inputs; float32 and int64 outputs (the .npy codec's dtypes)."""

    def forward(self, x, n, m):
        return x * 2 + n.to(torch.float32), n * 3, m + 1


def test_run_npy_inputs_match_pytorch(runtime_cli, cnn_tflite, tmp_path):
    model, x, expected = cnn_tflite
    np.save(tmp_path / "x.npy", x.numpy())
    out = tmp_path / "out"
    r = run_cli(runtime_cli, "run", model, "--input", tmp_path / "x.npy", "--output-dir", out, "--threads", 2)
    assert r.returncode == 0, r.stderr
    assert listing(out) == ["output_0.npy"]
    got = np.load(out / "output_0.npy")
    assert got.dtype == np.float32
    assert_close(got, expected)
    assert "output_0.npy" in r.stdout


def test_run_mixed_dtypes_and_several_inputs(runtime_cli, tmp_path):
    torch.manual_seed(0)
    x, n, m = torch.randn(5, 4), torch.tensor([4, -1, 2, 7], dtype=torch.int64), torch.tensor([3, 9], dtype=torch.int32)
    pt2lite.convert(MixedIO(), (x, n, m)).export(tmp_path / "m.tflite")
    files = [tmp_path / "x.npy", tmp_path / "n.npy", tmp_path / "m.npy"]
    for f, t in zip(files, (x, n, m)):
        np.save(f, t.numpy())
    expected = [t.numpy() for t in MixedIO()(x, n, m)]
    # `--input a.npy b.npy` and `--input a.npy --input b.npy` are the same
    for args in (["--input", *files], ["--input", files[0], "--input", files[1], "--input", files[2]]):
        out = tmp_path / f"out{len(args)}"
        r = run_cli(runtime_cli, "run", tmp_path / "m.tflite", *args, "--output-dir", out)
        assert r.returncode == 0, r.stderr
        assert listing(out) == ["output_0.npy", "output_1.npy", "output_2.npy"]
        for i, e in enumerate(expected):
            got = np.load(out / f"output_{i}.npy")
            assert got.dtype == e.dtype and got.shape == e.shape, (i, got.dtype, e.dtype, got.shape, e.shape)
            assert_close(got, e, what=f"output {i}")


def test_run_resizes_dynamic_input(runtime_cli, tmp_path):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()
    batch = torch.export.Dim("batch", min=1, max=32)
    pt2lite.convert(module, (torch.randn(2, 4),), dynamic_shapes=({0: batch},)).export(tmp_path / "m.tflite")
    x = torch.randn(7, 4)
    np.save(tmp_path / "x.npy", x.numpy())
    r = run_cli(runtime_cli, "run", tmp_path / "m.tflite", "--input", tmp_path / "x.npy", "--output-dir", tmp_path)
    assert r.returncode == 0, r.stderr
    with torch.no_grad():
        assert_close(np.load(tmp_path / "output_0.npy"), module(x).numpy())


def test_run_random_inputs(runtime_cli, cnn_tflite, tmp_path):
    model, x, expected = cnn_tflite
    for name in ("a", "b"):
        r = run_cli(runtime_cli, "run", model, "--output-dir", tmp_path / name, "--seed", 3)
        assert r.returncode == 0, r.stderr
        assert "random" in r.stdout
    a, b = np.load(tmp_path / "a" / "output_0.npy"), np.load(tmp_path / "b" / "output_0.npy")
    assert a.shape == expected.shape and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # same seed, same inputs, same outputs
    # outputs go to the current directory by default
    r = subprocess.run([runtime_cli, "run", str(model)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "output_0.npy").exists()


def test_bench_prints_stats(runtime_cli, cnn_tflite):
    model, _, _ = cnn_tflite
    r = run_cli(runtime_cli, "bench", model, "--threads", 2, "--min-runs", 7, "--min-seconds", 0.05)
    assert r.returncode == 0, r.stderr
    m = re.search(r"latency ms: min ([\d.]+)\s+median ([\d.]+)\s+mean ([\d.]+)", r.stdout)
    assert m, r.stdout
    lo, median, mean = map(float, m.groups())
    assert 0 < lo <= median and lo <= mean, r.stdout
    runs = re.search(r"runs: (\d+) in ([\d.]+) s", r.stdout)
    assert runs and int(runs.group(1)) >= 7 and float(runs.group(2)) >= 0.05, r.stdout
    assert re.search(r"peak memory \(ru_maxrss\): [\d.]+ MiB", r.stdout), r.stdout
    assert re.search(r"threads: 2\b", r.stdout), r.stdout


def test_bench_runs_until_min_seconds(runtime_cli, cnn_tflite):
    model, _, _ = cnn_tflite
    r = run_cli(runtime_cli, "bench", model, "--min-runs", 1, "--min-seconds", 0.3, "--warmup", 0)
    assert r.returncode == 0, r.stderr
    runs = re.search(r"runs: (\d+) in ([\d.]+) s", r.stdout)
    assert runs and float(runs.group(2)) >= 0.3 and int(runs.group(1)) > 1, r.stdout


def assert_run_failed(r, *patterns):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    for p in patterns:
        assert re.search(p, r.stderr, re.IGNORECASE), f"{p!r} not in stderr:\n{r.stderr}"


@pytest.mark.parametrize("case", ["shape", "dtype", "rank", "missing", "not_npy", "big_endian", "fortran",
                                  "truncated_npy", "count", "object"])
def test_run_bad_npy(runtime_cli, cnn_tflite, tmp_path, case):
    model, x, _ = cnn_tflite
    path = tmp_path / "x.npy"
    arr = x.numpy()
    extra = []
    if case == "shape":
        np.save(path, np.zeros((1, 3, 16, 11), np.float32))
        patterns = [r"x\.npy", r"\[1,3,16,11\]", r"\[1,3,16,12\]"]
    elif case == "dtype":
        np.save(path, arr.astype(np.float64))
        patterns = [r"x\.npy", "float64", "float32"]
    elif case == "rank":
        np.save(path, arr[0])
        patterns = [r"x\.npy", "shape"]
    elif case == "missing":
        path = tmp_path / "nope.npy"
        patterns = [r"nope\.npy", "no such file|cannot open"]
    elif case == "not_npy":
        path.write_bytes(b"just some text, not numpy")
        patterns = [r"x\.npy", r"not a \.npy"]
    elif case == "big_endian":
        np.save(path, arr.astype(">f4"))
        patterns = [r"x\.npy", "big-endian"]
    elif case == "fortran":
        np.save(path, np.asfortranarray(np.zeros((1, 3, 16, 12, 1), np.float32))[..., 0])
        if not np.load(path).flags.f_contiguous:
            np.save(path, np.asfortranarray(np.zeros((3, 16, 12), np.float32)).reshape(1, 3, 16, 12, order="F"))
        patterns = [r"x\.npy", "fortran"]
    elif case == "truncated_npy":
        np.save(path, arr)
        path.write_bytes(path.read_bytes()[:-10])
        patterns = [r"x\.npy", "truncated"]
    elif case == "count":
        np.save(path, arr)
        extra = [path]
        patterns = ["1 input", "got 2"]
    else:
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        patterns = [r"x\.npy", r"dtype '\|O' is not supported"]
    r = run_cli(runtime_cli, "run", model, "--input", path, *extra, "--output-dir", tmp_path / "out")
    assert_run_failed(r, *patterns)
    assert not (tmp_path / "out" / "output_0.npy").exists()


@pytest.mark.parametrize("case", ["truncated", "garbage", "empty", "missing", "corrupted_offset"])
@pytest.mark.parametrize("command", ["run", "bench"])
def test_run_bad_model(runtime_cli, cnn_tflite, tmp_path, case, command):
    content = cnn_tflite[0].read_bytes()
    path = tmp_path / "bad.tflite"
    if case == "truncated":
        path.write_bytes(content[: len(content) // 3])
    elif case == "garbage":
        path.write_bytes(b"not a flatbuffer at all" * 8)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "corrupted_offset":
        path.write_bytes(b"\xf0\xff\xff\x7f" + content[4:])  # root table offset far outside the file
    else:
        path = tmp_path / "missing.tflite"
    r = run_cli(runtime_cli, command, path, "--min-runs", 1, "--min-seconds", 0) if command == "bench" else \
        run_cli(runtime_cli, command, path, "--output-dir", tmp_path / "out")
    assert_run_failed(r, path.name if case in ("missing", "empty") else r"malformed|TFL3|offset|truncat")
    assert "AddressSanitizer" not in r.stderr and r.returncode > 0


@pytest.mark.parametrize("args", [["run"], ["bench"], ["run", "m.tflite", "--threads", "0"],
                                  ["bench", "m.tflite", "--min-runs", "x"], ["bench", "m.tflite", "--min-seconds", "-1"],
                                  ["run", "m.tflite", "--bogus"], ["bench", "m.tflite", "--output-dir", "d"],
                                  ["run", "m.tflite", "--input"]],
                         ids=["run_no_model", "bench_no_model", "zero_threads", "bad_min_runs", "negative_seconds",
                              "unknown_option", "bench_has_no_output_dir", "input_without_value"])
def test_run_bench_usage_errors(runtime_cli, tmp_path, args):
    r = subprocess.run([runtime_cli, *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.strip()
    assert listing(tmp_path) == []


def test_help_lists_every_command(cli):
    r = run_cli(cli, "help")
    assert r.returncode == 0
    for command in ("convert", "inspect", "run", "bench", "version"):
        assert re.search(rf"^\s+pt2lite {command}\b", r.stdout, re.MULTILINE), r.stdout

"""Errors that say what to do: a .pt2 saved without run_decompositions(), a file that is not a .pt2,
a refused node naming its argument, --help on every CLI subcommand, convert_pt2 taking a path or bytes,
and the conversion's stage timings (CLI -v, verbose=True)."""

import io
import os
import subprocess

import pytest
import torch
from torch import nn

import pt2lite

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("PT2LITE_CLI") or os.path.join(os.path.dirname(os.environ.get("PT2LITE_LIBRARY", "")), "pt2lite")
needs_cli = pytest.mark.skipif(not os.path.isfile(CLI), reason=f"no pt2lite CLI at {CLI} (set PT2LITE_CLI)")


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def saved(program):
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def test_raw_archive_says_to_run_decompositions():
    raw = saved(torch.export.export(ConvNet().eval(), (torch.randn(1, 3, 8, 8),)))
    with pytest.raises(pt2lite.Pt2liteError) as error:
        pt2lite.convert_pt2(raw)
    message = str(error.value)
    assert "run_decompositions()" in message and "aten.conv2d.default" in message and "aten.linear.default" in message
    # one summary line for all of them, not one line per node
    assert message.count("no lowering for") == 0, message
    assert len(message.strip().splitlines()) == 2, message


def test_decomposed_archive_converts():
    program = torch.export.export(ConvNet().eval(), (torch.randn(1, 3, 8, 8),)).run_decompositions()
    assert pt2lite.convert_pt2(saved(program))[4:8] == b"TFL3"


def test_not_an_archive_says_what_it_expects(tmp_path):
    with pytest.raises(pt2lite.Pt2liteError, match="not a .pt2 archive written by torch.export.save"):
        pt2lite.convert_pt2(b"def forward(self, x): return x\n" * 4)
    tflite = pt2lite.convert(ConvNet().eval(), (torch.randn(1, 3, 8, 8),)).model_content()
    with pytest.raises(pt2lite.Pt2liteError, match="this is a .tflite model"):
        pt2lite.convert_pt2(tflite)


def test_refused_pool_names_the_argument():
    class DilatedPool(nn.Module):
        def forward(self, x):
            return nn.functional.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True)

    with pytest.raises(pt2lite.Pt2liteError, match="argument 'dilation' is 2x2.*use dilation=1"):
        pt2lite.convert(DilatedPool(), (torch.randn(1, 3, 16, 16),))


def test_refused_pool_dtype_says_to_cast():
    class IntPool(nn.Module):
        def forward(self, x):
            return nn.functional.max_pool2d(x, 2)

    with pytest.raises(pt2lite.Pt2liteError, match=r"argument 'self' must be float32 \(cast it with .float\(\) first\)"):
        pt2lite.convert(IntPool(), (torch.randint(0, 9, (1, 3, 8, 8), dtype=torch.int32),))


def test_convert_pt2_takes_a_path_or_bytes(tmp_path):
    archive = saved(torch.export.export(ConvNet().eval(), (torch.randn(1, 3, 8, 8),)).run_decompositions())
    path = tmp_path / "net.pt2"
    path.write_bytes(archive)
    from_bytes = pt2lite.convert_pt2(archive)
    assert pt2lite.convert_pt2(str(path)) == from_bytes
    assert pt2lite.convert_pt2(path) == from_bytes
    assert pt2lite.convert_pt2(bytearray(archive)) == from_bytes
    with pytest.raises(TypeError, match="bytes of a .pt2 archive or its path"):
        pt2lite.convert_pt2(12)


def test_verbose_prints_stage_timings(capfd):
    pt2lite.convert(ConvNet().eval(), (torch.randn(1, 3, 8, 8),), verbose=True)
    err = capfd.readouterr().err
    stages = [line.split()[1] for line in err.splitlines() if line.startswith("pt2lite: ")]
    assert stages == ["export", "read", "lower", "passes", "write"], err
    for line in err.splitlines():
        if line.startswith("pt2lite: "):
            assert float(line.split()[2]) >= 0 and line.endswith(" s"), line


@needs_cli
def test_cli_verbose_prints_stage_timings(tmp_path):
    path = tmp_path / "net.pt2"
    path.write_bytes(saved(torch.export.export(ConvNet().eval(), (torch.randn(1, 3, 8, 8),)).run_decompositions()))
    result = subprocess.run([CLI, "convert", str(path), "-o", str(tmp_path / "net.tflite"), "-v"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    stages = [line.split()[0] for line in result.stderr.splitlines() if line.startswith("  ")]
    assert stages == ["read", "lower", "passes", "write"], result.stderr


@needs_cli
@pytest.mark.parametrize("command", ["convert", "inspect", "run", "bench", "view", "version", "help"])
def test_every_cli_subcommand_takes_help(command):
    for flag in ("--help", "-h"):
        result = subprocess.run([CLI, command, flag], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: pt2lite {command}"), result.stdout


@needs_cli
def test_c_cli_view_points_to_the_python_one():
    result = subprocess.run([CLI, "view", "model.tflite"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "python -m pt2lite view" in result.stderr, result.stderr

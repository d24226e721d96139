"""Errors through the Python API: pt2lite.convert and pt2lite.convert_pt2 raise pt2lite.Pt2liteError
with a message that names the problem (every unsupported node with its name and Python source line;
what is wrong with a malformed archive), and the library keeps working afterwards."""

import io
import os
import random
import re
import zipfile

import pytest
import torch
from torch import nn

import pt2lite
from conftest import check_module
from pt2lite.convert import export_archive

THIS_FILE = os.path.basename(__file__)


def line_of(marker):
    with open(__file__) as f:
        for number, line in enumerate(f, 1):
            if marker in line and "line_of(" not in line:
                return number
    raise AssertionError(marker)


class TwoUnsupported(nn.Module):
    def forward(self, x):
        y = torch.cumprod(x, 1)  # MARK-CUMSUM
        z, _ = torch.cummax(y, dim=-1)  # MARK-SORT
        return z * 2


class SameOpTwice(nn.Module):
    def forward(self, x):
        a = torch.cumprod(x, 0)  # MARK-CUMSUM-A
        b = torch.cumprod(x, 1)  # MARK-CUMSUM-B
        return a + b


class UnsupportedAmongSupported(nn.Module):
    """A lowering that rejects its arguments (a 3-D transposed convolution) next to an op with no lowering."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.conv3d = nn.ConvTranspose3d(2, 2, 3, padding=1)

    def forward(self, x, v):
        y = torch.relu(self.conv(x))
        g = self.conv3d(v)  # MARK-CONV3D
        return torch.cumprod(y, 1), g  # MARK-CUMSUM-C


def convert_error(module, args):
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert(module, args)
    return info.value


# ---------------------------------------------------------------- unsupported ops

def test_error_type():
    assert issubclass(pt2lite.Pt2liteError, RuntimeError)


def test_lists_every_unsupported_node_with_source_line():
    e = convert_error(TwoUnsupported(), (torch.randn(2, 5),))
    message = str(e)
    assert e.status != 0
    assert "2 nodes" in message, message
    lines = message.splitlines()
    cumsum = [l for l in lines if "'cumprod'" in l]
    sort = [l for l in lines if "'cummax'" in l]
    assert len(cumsum) == 1 and len(sort) == 1, message
    assert f"{THIS_FILE}:{line_of('MARK-CUMSUM')}" in cumsum[0] and "cumprod" in cumsum[0].split("'cumprod'")[1]
    assert f"{THIS_FILE}:{line_of('MARK-SORT')}" in sort[0]
    assert "torch.cumprod(x, 1)" in cumsum[0], "the source code of the line is quoted"


def test_same_op_twice_lists_both_nodes():
    message = str(convert_error(SameOpTwice(), (torch.randn(3, 4),)))
    assert "2 nodes" in message, message
    assert re.search(rf"'cumprod'.*{THIS_FILE}:{line_of('MARK-CUMSUM-A')}\b", message), message
    assert re.search(rf"'cumprod_1'.*{THIS_FILE}:{line_of('MARK-CUMSUM-B')}\b", message), message


def test_rejected_arguments_and_missing_lowering_together():
    message = str(convert_error(UnsupportedAmongSupported(), (torch.randn(1, 4, 6, 6), torch.randn(1, 2, 4, 4, 4))))
    assert "2 nodes" in message, message
    assert f"{THIS_FILE}:{line_of('MARK-CONV3D')}" in message, message
    assert f"{THIS_FILE}:{line_of('MARK-CUMSUM-C')}" in message, message
    assert "3-D" in message, message


class ChainOfRejected(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.ConvTranspose3d(2, 2, 3, padding=1)
        self.c2 = nn.ConvTranspose3d(2, 2, 3, padding=1)

    def forward(self, v):
        y = self.c1(v)  # MARK-C1
        return self.c2(y)  # MARK-C2


def test_lists_rejected_node_downstream_of_another():
    message = str(convert_error(ChainOfRejected(), (torch.randn(1, 2, 4, 4, 4),)))
    assert f"{THIS_FILE}:{line_of('MARK-C1')}" in message, message
    assert f"{THIS_FILE}:{line_of('MARK-C2')}" in message, message


def test_convert_works_after_an_error():
    convert_error(TwoUnsupported(), (torch.randn(2, 5),))
    check_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), (torch.randn(1, 3, 6, 6),))


# ---------------------------------------------------------------- malformed archives

@pytest.fixture(scope="module")
def archive():
    torch.manual_seed(0)
    data, _ = export_archive(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(), (torch.randn(1, 3, 8, 8),))
    return data


def rezip(data, transform=lambda name, body: body, compression=zipfile.ZIP_STORED, drop=()):
    """Rewrites a .pt2 with Python's zipfile, optionally changing or dropping entries."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name in source.namelist():
            if any(name.endswith(d) for d in drop):
                continue
            body = transform(name, source.read(name))
            if body is not None:
                z.writestr(name, body)
    return out.getvalue()


def convert_pt2_error(data):
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert_pt2(data)
    return str(info.value)


@pytest.mark.parametrize("data,pattern", [
    (b"", r"zip|empty|too small"),
    (b"garbage" * 100, r"zip"),
    (b"PK\x03\x04" + bytes(200), r"zip"),
    (bytes(range(256)) * 64, r"zip"),
], ids=["empty", "text", "zip_magic_then_zeros", "binary"])
def test_garbage_bytes(data, pattern):
    assert re.search(pattern, convert_pt2_error(data), re.IGNORECASE)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated(archive, fraction):
    message = convert_pt2_error(archive[:int(len(archive) * fraction)])
    assert re.search(r"zip|truncat", message, re.IGNORECASE), message


def test_a_zip_that_is_not_pt2():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("notes/readme.txt", "hello")
        z.writestr("notes/data.bin", bytes(100))
    message = convert_pt2_error(out.getvalue())
    assert re.search(r"pt2|torch\.export", message), message


def test_rezipped_archive_still_converts(archive):
    # entries no longer 64-byte aligned, written by another zip tool: still a valid archive
    assert pt2lite.convert_pt2(rezip(archive)) == pt2lite.convert_pt2(archive)


def test_compressed_archive_says_compressed(archive):
    message = convert_pt2_error(rezip(archive, compression=zipfile.ZIP_DEFLATED))
    assert "compress" in message.lower(), message


def test_pickled_weights_say_torch_version(archive):
    data = rezip(archive, lambda n, b: b.replace(b'"use_pickle": false', b'"use_pickle": true')
                 if n.endswith("model_weights_config.json") else b)
    message = convert_pt2_error(data)
    assert "pickle" in message and "2.9" in message, message


def test_old_pickled_format_says_torch_version(archive):
    # torch <= 2.8 archives: no models/model.json, a pickled program instead
    data = rezip(archive, lambda n, b: b"\x80\x04N." if n.endswith("models/model.json") else b)
    data = rezip(data, lambda n, b: b, drop=("models/model.json",))
    source = zipfile.ZipFile(io.BytesIO(data))
    root = source.namelist()[0].split("/")[0]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in source.namelist():
            z.writestr(name, source.read(name))
        z.writestr(f"{root}/data/data.pkl", b"\x80\x04N.")
    message = convert_pt2_error(out.getvalue())
    assert "2.8" in message or "2.9" in message, message


def test_corrupt_json_gives_position(archive):
    data = rezip(archive, lambda n, b: b[:len(b) // 2] if n.endswith("models/model.json") else b)
    message = convert_pt2_error(data)
    assert "model.json" in message and re.search(r"offset \d+|line \d+", message), message


def test_deeply_nested_json_is_refused(archive):
    data = rezip(archive, lambda n, b: b"[" * 100000 + b"]" * 100000 if n.endswith("models/model.json") else b)
    assert "depth" in convert_pt2_error(data)


def test_missing_weights(archive):
    message = convert_pt2_error(rezip(archive, drop=("data/weights/weight_0",)))
    assert "weight" in message and "missing" in message, message


def test_short_weights(archive):
    message = convert_pt2_error(rezip(archive, lambda n, b: b[:5] if n.endswith("data/weights/weight_0") else b))
    assert re.search(r"5 bytes|holds|short|size", message), message


def test_missing_model_json(archive):
    assert "model.json" in convert_pt2_error(rezip(archive, drop=("models/model.json",)))


def test_random_corruption_never_crashes(archive):
    # flipped bytes anywhere: either a clean conversion or a Pt2liteError, never a crash
    rng = random.Random(0)
    for _ in range(150):
        data = bytearray(archive)
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            pt2lite.convert_pt2(bytes(data))
        except pt2lite.Pt2liteError:
            pass
    for cut in range(0, len(archive), max(1, len(archive) // 200)):
        with pytest.raises(pt2lite.Pt2liteError):
            pt2lite.convert_pt2(archive[:cut])
    pt2lite.convert_pt2(archive)  # and the library still works

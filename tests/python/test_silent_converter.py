"""No silent wrong answers from the C converter (issue 15): an int64 value that does not fit the
int32 the model computes in, and a .pt2 dim beyond TFLite's int32 shapes, are errors that name the
node (or tensor) and the value; values that fit still give PyTorch's answer on both runtimes."""

import io
import json
import os
import re
import zipfile

import pytest
import torch
from torch import nn

import pt2lite
from conftest import check_module
from pt2lite.convert import export_archive

THIS_FILE = os.path.basename(__file__)


class AddBigScalar(nn.Module):
    def forward(self, ids):
        return ids + 3_000_000_000  # MARK-BIG-SCALAR


class AddSmallScalar(nn.Module):
    def forward(self, ids):
        return ids * 7 + 2_000_000_000


class FoldedOverflow(nn.Module):
    def forward(self, ids):
        big = torch.full((2,), 2_000_000_000, dtype=torch.int64)
        return ids + (big + big)  # MARK-FOLDED


def test_int64_scalar_beyond_int32_is_an_error_naming_node_and_value():
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert(AddBigScalar(), (torch.tensor([1, 2], dtype=torch.int64),))
    message = str(info.value)
    assert "'add'" in message and "aten.add" in message
    assert "3000000000" in message
    assert f"{THIS_FILE}:" in message and "MARK-BIG-SCALAR" in message  # the Python source line


def test_int64_values_within_int32_are_right_on_both_runtimes():
    check_module(AddSmallScalar(), (torch.tensor([[1, -2, 300]], dtype=torch.int64),))


def test_folded_int64_constants_beyond_int32_are_an_error():
    # big + big is computed at conversion time: 4e9 does not fit the int32 the model would hold
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert(FoldedOverflow(), (torch.tensor([1, 2], dtype=torch.int64),))
    assert "4000000000" in str(info.value)


def huge_dim_archive(new_size):
    """A .pt2 of x + 1 (x of shape (2, 3)) whose graph declares x's and the output's dim 1 as
    `new_size` (an edited archive: torch would never write it)."""

    class AddOne(nn.Module):
        def forward(self, x):
            return x + 1

    data, _ = export_archive(AddOne(), (torch.randn(2, 3),))
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    edited = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name in source.namelist():
            body = source.read(name)
            if re.search(r"models/[^/]*\.json$", name):
                model = json.loads(body)
                for value in model["graph_module"]["graph"]["tensor_values"].values():
                    sizes = value["sizes"]
                    if len(sizes) == 2 and sizes[1] == {"as_int": 3}:
                        sizes[1] = {"as_int": new_size}
                        edited += 1
                body = json.dumps(model).encode()
            z.writestr(name, body)
    assert edited >= 2
    return out.getvalue()


@pytest.mark.parametrize("size", [2**32 + 3, 2**31])
def test_pt2_activation_dim_beyond_int32_is_refused(size):
    with pytest.raises(pt2lite.Pt2liteError) as info:
        pt2lite.convert_pt2(huge_dim_archive(size))
    assert str(size) in str(info.value)

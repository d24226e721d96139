"""The structure a module returns comes back from the EdgeModel: tuples, dicts, and None entries
(torchaudio's models return (features, None)), which have no tensor in the .tflite."""

import pytest
import torch

import pt2lite
from conftest import assert_close, run_litert, tflite_ops


class WithNone(torch.nn.Module):
    def forward(self, x):
        return x + 1, None, {"double": x * 2, "nothing": None}


def test_none_outputs_are_put_back_in_place():
    x = torch.randn(2, 3)
    edge = pt2lite.convert(WithNone(), (x,))
    expected = WithNone()(x)
    got_litert = run_litert(edge.model_content(), [x.numpy()])
    assert len(got_litert) == 2  # the .tflite holds the two tensors only
    for backend in ("pt2lite", "litert"):
        edge.backend = backend
        got = edge(x)
        assert got[1] is None and got[2]["nothing"] is None
        assert_close(got[0].numpy(), expected[0].numpy())
        assert_close(got[2]["double"].numpy(), expected[2]["double"].numpy())


class OnlyNone(torch.nn.Module):
    def forward(self, x):
        return None


def test_a_model_without_tensor_outputs_is_refused():
    with pytest.raises(pt2lite.Pt2liteError, match="returns no tensor"):
        pt2lite.convert(OnlyNone(), (torch.randn(2),))

"""Large-model file layout: constants after the flatbuffer (Buffer.offset / Buffer.size), as files over
2 GB need. P2L_EXTERNAL_BUFFERS=1 forces that layout on small models; LiteRT is the reference reader."""

import numpy as np
import pytest
import torch

import pt2lite
import pt2lite.model
from pt2lite._native import Pt2liteError


class TwoLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Linear(24, 40)
        self.b = torch.nn.Linear(40, 8)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def _weight_offsets(content, weight):
    """Every offset of weight's float32 bytes in the file."""
    needle, found, start = weight.detach().numpy().astype(np.float32).tobytes(), [], 0
    while (i := content.find(needle, start)) >= 0:
        found.append(i)
        start = i + 1
    return found


@pytest.fixture
def external(monkeypatch):
    monkeypatch.setenv("P2L_EXTERNAL_BUFFERS", "1")


def test_external_layout_runs_on_both_runtimes(external):
    module, x = TwoLinear().eval(), torch.randn(3, 24)
    expected = module(x).detach().numpy()
    edge = pt2lite.convert(module, (x,))
    content = edge.model_content()
    offsets = _weight_offsets(content, module.a.weight)
    assert len(offsets) == 1 and offsets[0] % 64 == 0
    for backend in ("pt2lite", "litert"):
        edge.backend = backend
        np.testing.assert_allclose(np.asarray(edge(x)), expected, rtol=1e-5, atol=1e-5)


def test_external_layout_differs_from_inline_and_agrees(monkeypatch, tmp_path):
    module, x = TwoLinear().eval(), torch.randn(2, 24)
    inline = pt2lite.convert(module, (x,)).model_content()
    monkeypatch.setenv("P2L_EXTERNAL_BUFFERS", "1")
    external = pt2lite.convert(module, (x,)).model_content()
    assert inline != external
    # inline data sits inside the flatbuffer (16-byte aligned); external data after it, 64-byte aligned
    assert _weight_offsets(external, module.b.weight)[0] > _weight_offsets(inline, module.b.weight)[0]
    path = tmp_path / "external.tflite"
    path.write_bytes(external)
    loaded = pt2lite.load(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(pt2lite.load(path, backend="litert")(x)))


def test_signatures_share_external_constants(external):
    module = TwoLinear().eval()
    edge = (pt2lite.signature("one", module, (torch.randn(1, 24),))
            .signature("four", module, (torch.randn(4, 24),)).convert())
    content = edge.model_content()
    assert len(_weight_offsets(content, module.a.weight)) == 1  # stored once for both signatures
    x = torch.randn(4, 24)
    for backend in ("pt2lite", "litert"):
        edge.backend = backend
        np.testing.assert_allclose(np.asarray(edge(x, signature_name="four")), module(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_bad_external_offsets_are_refused(external, tmp_path):
    module = TwoLinear().eval()
    content = bytearray(pt2lite.convert(module, (torch.randn(1, 24),)).model_content())
    offset = _weight_offsets(bytes(content), module.a.weight)[0]
    size = module.a.weight.numel() * 4
    # the Buffer table's offset field: those 8 bytes next to its size field, in the flatbuffer before the data
    fields = [i for i in range(0, offset, 4) if content[i:i + 8] == offset.to_bytes(8, "little")
              and size.to_bytes(8, "little") in (content[i - 8:i], content[i + 8:i + 16])]
    assert len(fields) == 1
    field = fields[0]
    for bad in (len(content) - 8, len(content) + 64, 2 ** 64 - 64):
        corrupt = bytearray(content)
        corrupt[field:field + 8] = bad.to_bytes(8, "little")
        path = tmp_path / "bad.tflite"
        path.write_bytes(corrupt)
        with pytest.raises(Pt2liteError, match="outside the file"):
            pt2lite.load(path)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(content[:offset + 16])  # the data section cut short
    with pytest.raises(Pt2liteError):
        pt2lite.load(truncated)


def test_big_results_are_mapped_files(monkeypatch, tmp_path):
    monkeypatch.setattr(pt2lite.model, "_MAP_AT_BYTES", 0)  # map every result, as for a big model
    module, x = TwoLinear().eval(), torch.randn(2, 24)
    edge = pt2lite.convert(module, (x,))
    assert isinstance(edge._flatbuffer, pt2lite.model._MappedFile)
    content = edge.model_content()
    assert isinstance(content, bytes) and content[4:8] == b"TFL3"
    edge.export(tmp_path / "copy.tflite")
    assert (tmp_path / "copy.tflite").read_bytes() == content
    for backend in ("pt2lite", "litert"):
        edge.backend = backend
        np.testing.assert_allclose(np.asarray(edge(x)), module(x).detach().numpy(), rtol=1e-5, atol=1e-5)
    loaded = pt2lite.load(tmp_path / "copy.tflite")
    assert isinstance(loaded._flatbuffer, pt2lite.model._MappedFile)
    np.testing.assert_allclose(np.asarray(loaded(x)), module(x).detach().numpy(), rtol=1e-5, atol=1e-5)

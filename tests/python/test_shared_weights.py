"""Signatures over one module store and quantize each weight once (docs/generative.md, "Conversion
memory"): the file of two signatures is the one-signature file plus the second graph, not a second
copy of the weights, and the converter's heap holds one quantized copy, not one per signature."""
import ctypes

import numpy as np
import pytest
import torch

import pt2lite
from pt2lite._native import lib

WIDTH, LAYERS = 512, 4
WEIGHT_ELEMENTS = WIDTH * WIDTH * LAYERS


def _module():
    torch.manual_seed(0)
    layers = [torch.nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)]
    return torch.nn.Sequential(*[m for layer in layers for m in (layer, torch.nn.ReLU())]).eval()


def _convert(module, batches, quantize):
    builder = None
    for batch in batches:
        args = (torch.randn(batch, WIDTH),)
        builder = (pt2lite.signature if builder is None else builder.signature)(f"b{batch}", module, args)
    edge = builder.convert(quantize=quantize)
    lib.p2l_convert_peak_bytes.restype = ctypes.c_size_t
    return edge, len(edge.model_content()), lib.p2l_convert_peak_bytes()


@pytest.mark.parametrize("quantize,weight_bytes", [(None, 4), ("dynamic_int8", 1)])
def test_a_weight_two_signatures_share_is_stored_and_quantized_once(quantize, weight_bytes):
    module = _module()
    one, one_size, one_peak = _convert(module, [1], quantize)
    two, two_size, two_peak = _convert(module, [1, 4], quantize)
    copy = WEIGHT_ELEMENTS * weight_bytes
    # the second signature adds its ops and tensors, not a copy of the weights
    assert two_size - one_size < copy // 4, (one_size, two_size)
    # and the converter did not hold a second quantized copy (float weights are read in place: none)
    assert two_peak - one_peak < copy // 2, (one_peak, two_peak)
    x = np.random.default_rng(0).standard_normal((4, WIDTH)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    got = np.asarray(two(x, signature_name="b4"))
    np.testing.assert_allclose(got, expected, atol=0.05 if quantize else 1e-4, rtol=0.05 if quantize else 1e-4)

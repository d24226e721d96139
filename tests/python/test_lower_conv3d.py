"""3-D convolutions (video models such as r3d_18) against PyTorch eager on both runtimes. The
converter writes them as one CONV_2D over frames with the depth taps stacked along the channels;
every op must be one LiteRT's XNNPACK path takes."""

import pytest
import torch
import torch.nn as nn

from conftest import check_module, tflite_ops, xnnpack_delegation

torch.manual_seed(0)


@pytest.mark.parametrize("kernel, stride, padding, dilation, groups", [
    (3, 1, 1, 1, 1),                    # r3d_18's blocks
    ((3, 7, 7), (1, 2, 2), (1, 3, 3), 1, 1),  # r3d_18's stem
    ((1, 3, 3), 1, (0, 1, 1), 1, 1),    # r2plus1d's spatial half
    ((3, 1, 1), 1, (1, 0, 0), 1, 1),    # ... and its temporal half
    (3, 2, 0, 1, 1),                    # strided in depth, no padding
    (3, 1, (2, 1, 1), (2, 1, 1), 1),    # dilated in depth
    ((2, 3, 3), (2, 1, 1), (0, 2, 0), 1, 1),  # even depth kernel, asymmetric spatial padding
    ((1, 3, 3), 1, (0, 1, 1), 1, 2),    # grouped (depth kernel 1)
    ((1, 3, 3), 1, (0, 1, 1), 1, 4),    # depthwise
])
def test_conv3d(kernel, stride, padding, dilation, groups):
    conv = nn.Conv3d(4, 8, kernel, stride, padding, dilation, groups=groups)
    edge = check_module(conv, (torch.randn(2, 4, 6, 9, 10),))
    ops = tflite_ops(edge.model_content())
    assert "CONV_3D" not in ops
    delegated, total = xnnpack_delegation(edge.model_content())
    assert delegated == total, f"XNNPACK takes {delegated} of {total}: {ops}"


def test_conv3d_without_bias_in_a_block():
    block = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1, bias=False), nn.BatchNorm3d(8), nn.ReLU(),
                          nn.Conv3d(8, 8, 3, stride=2, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten())
    block.eval()
    check_module(block, (torch.randn(1, 3, 8, 16, 16),))


def test_grouped_conv3d_with_depth_kernel_is_refused_clearly():
    import pt2lite

    with pytest.raises(pt2lite.Pt2liteError, match="grouped 3-D convolution"):
        pt2lite.convert(nn.Conv3d(4, 4, 3, groups=2), (torch.randn(1, 4, 5, 5, 5),))

"""Makes the int8 .tflite fixtures of tests/python/test_int8_runtime.py with another tool (litert-torch).

pt2lite's runtime must run int8 files it did not write. These small PT2E-quantized models (symmetric
int8: per-channel weights, per-tensor activations, int32 bias) are converted by litert-torch and
committed, so the tests need neither litert-torch nor torchao. Run with the venv that has them:

    ~/.cache/pt2lite/venv-lt/bin/python tests/data/make_int8_fixtures.py
"""
import os
import sys

import torch
from torch import nn

import litert_torch
from litert_torch.quantize import pt2e_quantizer
from litert_torch.quantize.quant_config import QuantConfig
from torchao.quantization.pt2e import quantize_pt2e

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "int8")


class ConvReluPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = nn.functional.max_pool2d(x, 2)
        return nn.functional.avg_pool2d(torch.relu(self.conv2(x)), 2, ceil_mode=False)


class Depthwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dw2 = nn.Conv2d(8, 16, 3, stride=2, groups=8)  # depth multiplier 2

    def forward(self, x):
        return self.dw2(torch.relu(self.dw(x)))


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class AddMul(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x, y):
        a = self.conv(x)
        return (a + y) * x + torch.relu(a * y + x)


class Softmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 24)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=-1)


class Sigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 24)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))


class HardSwish(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.act = nn.Hardswish()

    def forward(self, x):
        return self.act(self.conv(x))


class Mean(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


class ConcatPad(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 6, 1)
        self.b = nn.Conv2d(4, 5, 3, padding=1)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        y = nn.functional.pad(y, (1, 2, 0, 1))
        return y.reshape(1, 11, -1)


class MobileNetLike(nn.Module):
    """Inverted residual blocks with hard-swish, a squeeze of the spatial dims and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)

        def block(cin, mid, cout, stride):
            return nn.Sequential(nn.Conv2d(cin, mid, 1), nn.ReLU6(),
                                 nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid), nn.ReLU6(),
                                 nn.Conv2d(mid, cout, 1))

        self.b1 = block(16, 32, 16, 1)
        self.b2 = block(16, 48, 24, 2)
        self.b3 = block(24, 64, 24, 1)
        self.head = nn.Conv2d(24, 64, 1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = x + self.b1(x)
        x = self.b2(x)
        x = x + self.b3(x)
        x = torch.relu(self.head(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


MODELS = {
    "conv_relu_pool": (ConvReluPool, [(1, 3, 16, 16)]),
    "depthwise": (Depthwise, [(1, 8, 12, 12)]),
    "linear": (Linear, [(2, 32)]),
    "add_mul": (AddMul, [(1, 4, 6, 6), (1, 4, 6, 6)]),
    "softmax": (Softmax, [(3, 16)]),
    "sigmoid": (Sigmoid, [(3, 16)]),
    "hardswish": (HardSwish, [(1, 4, 8, 8)]),
    "mean": (Mean, [(1, 4, 8, 8)]),
    "concat_pad": (ConcatPad, [(1, 4, 6, 6)]),
    "mobilenet_like": (MobileNetLike, [(1, 3, 32, 32)]),
}


def make(name, cls, shapes):
    torch.manual_seed(0)
    module = cls().eval()
    args = tuple(torch.randn(s) for s in shapes)
    exported = torch.export.export(module, args).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    prepared = quantize_pt2e.prepare_pt2e(exported, quantizer)
    for _ in range(8):  # calibration
        prepared(*(torch.randn(s) * 2 for s in shapes))
    quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    edge = litert_torch.convert(quantized, args, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    path = os.path.join(OUT, name + ".tflite")
    edge.export(path)
    print(name, os.path.getsize(path), "bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    names = sys.argv[1:] or list(MODELS)
    for name in names:
        cls, shapes = MODELS[name]
        make(name, cls, shapes)


if __name__ == "__main__":
    main()

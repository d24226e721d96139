"""Converts torchvision's resnet18 to .tflite with pt2lite, runs it, and compares with PyTorch."""
import sys
import time

import torch
import torchvision

import pt2lite

model = torchvision.models.resnet18().eval()  # random weights: nothing is downloaded
x = torch.randn(1, 3, 224, 224)

start = time.perf_counter()
edge = pt2lite.convert(model, (x,))
print(f"converted resnet18 in {time.perf_counter() - start:.2f} s ({len(edge.model_content()) / 1e6:.1f} MB)")

path = sys.argv[1] if len(sys.argv) > 1 else "resnet18.tflite"
edge.export(path)
print(f"wrote {path}")

with torch.no_grad():
    expected = model(x)
print(f"top-5 classes, PyTorch:            {expected.topk(5).indices.tolist()[0]}")
for backend in ("pt2lite", "litert"):  # pt2lite's C runtime, then the official LiteRT runtime
    edge.backend = backend
    got = edge(x)
    error = (got - expected).abs().max().item()
    print(f"top-5 classes, {backend + ' runtime:':19} {got.topk(5).indices.tolist()[0]}  "
          f"(max abs difference {error:.2e}, output scale {expected.abs().max().item():.2f})")

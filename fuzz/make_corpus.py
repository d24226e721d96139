"""Seed corpora for the libFuzzer harnesses, made from real files: tiny PyTorch models exported with
torch.export.save (.pt2) and converted by pt2lite (.tflite), and the JSON documents inside the
archives. Run with the project's venv python (torch and pt2lite installed):

    /root/.cache/pt2lite/venv/bin/python fuzz/make_corpus.py

Writes fuzz/corpus/<harness>/<name>; the models are kept tiny so the checked-in corpus stays small
(well under 1 MB). Deterministic: same torch version, same bytes."""

import hashlib
import io
import os
import sys
import zipfile

import torch
import torch.nn as nn

import pt2lite
from pt2lite.convert import export_archive

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


class Elementwise(nn.Module):
    def forward(self, x):
        return torch.relu(x * 2.0 + 1.0) - torch.sigmoid(x)


class Matmul(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b).softmax(-1)


class Shapes(nn.Module):
    def forward(self, x):
        y = torch.cat([x, x * 3], dim=1).permute(0, 2, 1)
        return y.reshape(2, -1).sum(dim=1, keepdim=True)


class Reduce(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3)) + x.amax(dim=(2, 3))


class Where(nn.Module):
    def forward(self, x):
        return torch.where(x > 0, x, -x).clamp(-1.0, 1.0)


class Gather(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)

    def forward(self, idx):
        return self.emb(idx)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(torch.relu(self.bn(self.conv(x)))).flatten(1)


class Norm(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.nn.functional.gelu(self.ln(x)))


class Depthwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(2, 2, 3, groups=2, stride=2)

    def forward(self, x):
        return torch.nn.functional.hardswish(self.dw(x))


def models():
    torch.manual_seed(0)
    yield "linear", nn.Linear(4, 3), (torch.randn(2, 4),), None
    yield "elementwise", Elementwise(), (torch.randn(1, 3, 2),), None
    yield "matmul", Matmul(), (torch.randn(2, 3), torch.randn(3, 2)), None
    yield "shapes", Shapes(), (torch.randn(2, 2, 3),), None
    yield "reduce", Reduce(), (torch.randn(1, 2, 3, 3),), None
    yield "where", Where(), (torch.randn(2, 3),), None
    yield "gather", Gather(), (torch.tensor([[0, 4, 2]]),), None
    yield "conv", ConvNet(), (torch.randn(1, 1, 4, 4),), None
    yield "norm", Norm(), (torch.randn(1, 2, 4),), None
    yield "depthwise", Depthwise(), (torch.randn(1, 2, 5, 5),), None
    batch = torch.export.Dim("batch", min=1, max=8)
    yield "dynamic", nn.Sequential(nn.Linear(3, 2), nn.ReLU()), (torch.randn(2, 3),), ({0: batch},)


def write(harness, name, data):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    total = 0
    for name, module, args, dynamic in models():
        module.eval()
        archive, _ = export_archive(module, args, dynamic_shapes=dynamic)
        write("fuzz_pt2", name + ".pt2", archive)
        write("fuzz_convert", name + ".pt2", archive)
        total += 2 * len(archive)
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            for entry in z.namelist():
                if entry.endswith("models/model.json") or entry.endswith("model_weights_config.json"):
                    doc = z.read(entry)
                    if len(doc) <= 64 * 1024:
                        tag = "model" if entry.endswith("models/model.json") else "weights"
                        write("fuzz_json", f"{name}_{tag}.json", doc)
                        total += len(doc)
        if name in ("linear", "conv", "dynamic"):
            write("fuzz_zip", name + ".pt2", archive)
            total += len(archive)
        try:
            flatbuffer = pt2lite.convert_pt2(archive)
        except pt2lite.Pt2liteError as e:
            print(f"{name}: not converted ({e})", file=sys.stderr)
            continue
        write("fuzz_tflite_load", name + ".tflite", flatbuffer)
        write("fuzz_tflite_run", name + ".tflite", flatbuffer)
        total += 2 * len(flatbuffer)
    # A few hand-written JSON edge cases.
    for i, doc in enumerate([b'{"a": [1, -2.5e3, "Infinity", true, null, {"b": "\\u00e9\\ud83d\\ude00"}]}',
                             b'[[[[[[[[]]]]]]]]', b'{"as_expr": {"expr_str": "s0", "hint": 4}}']):
        write("fuzz_json", f"edge{i}.json", doc)
    print(f"corpus: {total} bytes; digest "
          + hashlib.sha256(b"".join(open(os.path.join(r, f), "rb").read() for r, _, fs in sorted(os.walk(CORPUS))
                                    for f in sorted(fs))).hexdigest()[:12])


if __name__ == "__main__":
    main()

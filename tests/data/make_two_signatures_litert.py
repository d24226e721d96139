"""Makes tests/data/two_signatures_litert.tflite: a two-signature file written by litert-torch (not by
pt2lite), which tests/python/test_signatures.py loads with pt2lite.load and runs on both runtimes.

Run once with litert-torch's environment (it is not a pt2lite dependency):
    ~/.cache/pt2lite/venv-lt/bin/python tests/data/make_two_signatures_litert.py
The modules and their weights are fixed (seeded) and rebuilt by the test to compute PyTorch's answers."""

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from signature_fixture import fixture_modules, fixture_samples  # noqa: E402


def main():
    import litert_torch

    encode, decode = fixture_modules()
    x_encode, x_decode = fixture_samples()
    edge = litert_torch.signature("encode", encode, (x_encode,)).signature("decode", decode, (x_decode,)).convert()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "two_signatures_litert.tflite")
    edge.export(path)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()

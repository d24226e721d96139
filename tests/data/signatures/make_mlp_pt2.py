"""Makes tests/data/signatures/mlp.pt2, the archive tests/c/test_signatures.c converts into files of
one and two signatures (run with pt2lite's environment; the weights are seeded):
    ~/.cache/pt2lite/venv/bin/python tests/data/signatures/make_mlp_pt2.py"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
from signature_fixture import Mlp  # noqa: E402


if __name__ == "__main__":
    torch.manual_seed(0)
    program = torch.export.export(Mlp(16, 32).eval(), (torch.randn(2, 16),)).run_decompositions()
    path = os.path.join(HERE, "mlp.pt2")
    torch.export.save(program, path)
    print("wrote", path, os.path.getsize(path), "bytes")

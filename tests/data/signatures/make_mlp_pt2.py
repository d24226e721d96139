"""Makes tests/data/signatures/mlp.pt2, the archive tests/c/test_signatures.c converts into files of
one and two signatures (run with pt2lite's environment; the weights are seeded):
    ~/.cache/pt2lite/venv/bin/python tests/data/signatures/make_mlp_pt2.py"""

import os

import torch


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(16, 32)
        self.down = torch.nn.Linear(32, 16)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


if __name__ == "__main__":
    torch.manual_seed(0)
    program = torch.export.export(Mlp().eval(), (torch.randn(2, 16),)).run_decompositions()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlp.pt2")
    torch.export.save(program, path)
    print("wrote", path, os.path.getsize(path), "bytes")

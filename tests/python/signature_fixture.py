"""Modules of the signature tests: Mlp (test_signatures.py, tests/data/signatures/make_mlp_pt2.py),
and the two modules of tests/data/two_signatures_litert.tflite (made by litert-torch with
tests/data/make_two_signatures_litert.py), sharing one Linear, weights fixed by a seed so the test
rebuilds them exactly."""

import torch


class Mlp(torch.nn.Module):
    def __init__(self, features, hidden):
        super().__init__()
        self.up = torch.nn.Linear(features, hidden)
        self.down = torch.nn.Linear(hidden, features)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


class Encode(torch.nn.Module):
    def __init__(self, shared):
        super().__init__()
        self.shared = shared
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.head(torch.relu(self.shared(x)))


class Decode(torch.nn.Module):
    def __init__(self, shared):
        super().__init__()
        self.shared = shared

    def forward(self, x):
        return torch.tanh(self.shared(x)) * 2.0


def fixture_modules():
    torch.manual_seed(1234)
    shared = torch.nn.Linear(6, 8)
    encode, decode = Encode(shared).eval(), Decode(shared).eval()
    return encode, decode


def fixture_samples():
    generator = torch.Generator().manual_seed(7)
    return torch.randn(2, 6, generator=generator), torch.randn(3, 6, generator=generator)

"""Hybrid FULLY_CONNECTED latency: float32 vs dynamic_int8 vs int4_weights, LiteRT vs pt2lite's
runtime, side by side in one run. Models: two 2048x2048 linear layers, and a Llama-like MLP
(hidden 2048, intermediate 5632: down(silu(gate(x)) * up(x))), at batch 1 (decode: memory-bound)
and batch 16. Median time per call.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so python bench/hybrid_latency.py [--threads 1]
"""

import argparse
import os

import torch

import pt2lite
# Shared helpers of the other benches (this file's folder is on sys.path when it runs as a script).
from int8_latency import cpu_name
from recipes_dynamic_int8 import latency_ms, runner


class TwoLinear(torch.nn.Module):
    def __init__(self, n=2048):
        super().__init__()
        self.a, self.b = torch.nn.Linear(n, n), torch.nn.Linear(n, n)

    def forward(self, x):
        return self.b(self.a(x))


class LlamaMLP(torch.nn.Module):
    def __init__(self, hidden=2048, inter=5632):
        super().__init__()
        self.gate = torch.nn.Linear(hidden, inter, bias=False)
        self.up = torch.nn.Linear(hidden, inter, bias=False)
        self.down = torch.nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.gate(x)) * self.up(x))


def main():
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    a = parser.parse_args()
    torch.manual_seed(0)
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, {a.threads} thread(s), median of {a.repeats}; ms per call")
    print("model              batch  recipe          size MB   LiteRT ms  pt2lite ms  pt2lite/LiteRT  vs f32 (pt2lite)")
    for name, module in (("2 x Linear 2048", TwoLinear()), ("Llama MLP 2048/5632", LlamaMLP())):
        module = module.eval()
        for batch in (1, 16):
            x = torch.randn(batch, 2048)
            float_ms = None
            for recipe in (None, "dynamic_int8", "int4_weights"):
                content = pt2lite.convert(module, (x,), quantize=recipe).model_content()
                xs = x.numpy()
                times = [latency_ms(runner(cls, content, a.threads), xs, a.repeats)
                         for cls in (LiteRT, pt2lite.Interpreter)]
                float_ms = float_ms or times[1]
                print(f"{name:19s} {batch:5d}  {recipe or 'float32':14s} {len(content) / 2**20:8.1f}  "
                      f"{times[0]:10.2f}  {times[1]:10.2f}  {times[1] / times[0]:14.2f}  {float_ms / times[1]:10.2f}x")


if __name__ == "__main__":
    main()

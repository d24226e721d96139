"""Latency of int8 .tflite files on pt2lite's runtime against LiteRT (its default kernels: XNNPACK),
at 1 and 2 threads; prints the CPU, the median milliseconds and pt2lite / LiteRT (issue 11's target:
at most 1.0x). By default the int8 fixtures' mobilenet-like net; pass other files to time them.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so ~/.cache/pt2lite/venv/bin/python \\
        bench/int8_latency.py [model.tflite ...]
"""
import os
import sys
import time

import numpy as np
import ai_edge_litert.interpreter as litert

from pt2lite.interpreter import Interpreter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quant import cpu_description, run_once, median_ms as quant_median_ms  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = [os.path.join(HERE, "..", "tests", "data", "int8", "mobilenet_like.tflite")]


def median_ms(interpreter, inputs, runs):
    run_once(interpreter, inputs)
    return quant_median_ms(interpreter, runs)


def main(paths, runs=int(os.environ.get("RUNS", "50"))):
    print(f"CPU: {cpu_description()}; median of {runs} runs")
    print(f"{'model':28s} {'threads':>7s} {'LiteRT ms':>10s} {'pt2lite ms':>11s} {'ratio':>6s}")
    ratios = []
    for path in paths:
        for threads in (1, 2):
            reference = litert.Interpreter(model_path=path, num_threads=threads)
            rng = np.random.default_rng(0)
            inputs = [rng.integers(-128, 128, d["shape"]).astype(d["dtype"]) if d["dtype"] == np.int8
                      else rng.standard_normal(d["shape"]).astype(d["dtype"])
                      for d in reference.get_input_details()]
            theirs = median_ms(reference, inputs, runs)
            ours = median_ms(Interpreter(model_path=path, num_threads=threads), inputs, runs)
            ratios.append(ours / theirs)
            print(f"{os.path.basename(path):28s} {threads:7d} {theirs:10.3f} {ours:11.3f} {ours / theirs:6.2f}")
    print(f"geometric mean ratio: {float(np.exp(np.mean(np.log(ratios)))):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)

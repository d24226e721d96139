"""Latency of int8 .tflite files on pt2lite's runtime against LiteRT (its default kernels: XNNPACK),
interleaved: each round invokes every interpreter once, in turn, so the machine's load falls on all of
them alike; prints the CPU, the median milliseconds, pt2lite / LiteRT (issue 11's target: at most 1.0x,
geometric mean) and, for a file given as int8.tflite:float.tflite, pt2lite's int8 / float time (target
0.5x). By default the int8 fixtures' mobilenet-like net; pass other files to time them.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so ~/.cache/pt2lite/venv/bin/python \\
        bench/int8_latency.py [model.tflite[:float_model.tflite] ...]      (RUNS=50, THREADS=1,2)
"""
import os
import sys
import time

import numpy as np
import ai_edge_litert.interpreter as litert

from pt2lite.interpreter import Interpreter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quant import cpu_description, run_once  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = [os.path.join(HERE, "..", "tests", "data", "int8", "mobilenet_like.tflite")]


def random_inputs(interpreter):
    rng = np.random.default_rng(0)
    return [rng.integers(-128, 128, d["shape"]).astype(d["dtype"]) if d["dtype"] == np.int8
            else rng.standard_normal(d["shape"]).astype(d["dtype"]) for d in interpreter.get_input_details()]


def interleaved_medians(interpreters, runs):
    """Median milliseconds of each interpreter (already holding its inputs), after 3 warm-up rounds."""
    times = [[] for _ in interpreters]
    for round_ in range(runs + 3):
        for i, interpreter in enumerate(interpreters):
            start = time.perf_counter()
            interpreter.invoke()
            if round_ >= 3:
                times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) * 1e3 for t in times]


def geomean(values):
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def main(specs, runs=int(os.environ.get("RUNS", "50")),
         threads_list=tuple(int(t) for t in os.environ.get("THREADS", "1,2").split(","))):
    print(f"CPU: {cpu_description()}; interleaved, median of {runs} runs")
    print(f"{'model':32s} {'threads':>7s} {'LiteRT ms':>10s} {'pt2lite ms':>11s} {'ratio':>6s} {'float ms':>9s} "
          f"{'int8/float':>10s}")
    ratios, int8_float = {}, {}
    for spec in specs:
        path, _, float_path = spec.partition(":")
        for threads in threads_list:
            interpreters = [litert.Interpreter(model_path=path, num_threads=threads),
                            Interpreter(model_path=path, num_threads=threads)]
            if float_path:
                interpreters.append(Interpreter(model_path=float_path, num_threads=threads))
            for interpreter in interpreters:  # the same seed: the same inputs where the dtypes agree
                interpreter.allocate_tensors()
                run_once(interpreter, random_inputs(interpreter))
            ms = interleaved_medians(interpreters, runs)
            ratios.setdefault(threads, []).append(ms[1] / ms[0])
            line = f"{os.path.basename(path):32s} {threads:7d} {ms[0]:10.3f} {ms[1]:11.3f} {ms[1] / ms[0]:6.2f}"
            if float_path:
                int8_float.setdefault(threads, []).append(ms[1] / ms[2])
                line += f" {ms[2]:9.3f} {ms[1] / ms[2]:10.2f}"
            print(line, flush=True)
    for threads in threads_list:
        summary = (f"{threads} thread(s): pt2lite / LiteRT geometric mean {geomean(ratios[threads]):.2f} "
                   f"(worst {max(ratios[threads]):.2f})")
        if threads in int8_float:
            summary += f"; pt2lite int8 / float {geomean(int8_float[threads]):.2f}"
        print(summary)


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)

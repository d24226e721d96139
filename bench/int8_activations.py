"""int8 unary activations (LOGISTIC, HARD_SWISH, RELU, RELU6) on pt2lite's runtime against
LiteRT: each op alone on a 1x112x112x32 int8 tensor, then whole int8 models (efficientnet_b0's SiLU is int8
LOGISTIC + MUL, mobilenet_v3_small has int8 HARD_SWISH). One thread; every round times one invoke of each
runtime in turn (interleaved), medians of the rounds. --baseline LIB adds a second pt2lite library (an
older build) to the same rounds, so before / after are measured side by side.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so ~/.cache/pt2lite/venv/bin/python \\
        bench/int8_activations.py [--baseline OLD/libpt2lite.so] [--models efficientnet_b0,...] [--rounds 200]

Models: bench/quant.py's (random weights, batch-norm statistics from random inputs), converted with the
int8 recipe (calibrated, float32 inputs and outputs); single ops with io_dtype="int8".
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from quant import build_model, calibration_inputs, cpu_description  # noqa: E402


def load_interpreter_class(library):
    """pt2lite's Interpreter bound to `library` (a fresh import of the package: two builds side by side)."""
    for name in [n for n in sys.modules if n == "pt2lite" or n.startswith("pt2lite.")]:
        del sys.modules[name]
    os.environ["PT2LITE_LIBRARY"] = library
    import pt2lite.interpreter
    return pt2lite.interpreter.Interpreter


def single_op_models():
    import torch
    import pt2lite
    ops = (("LOGISTIC", torch.nn.Sigmoid()), ("HARD_SWISH", torch.nn.Hardswish()), ("RELU", torch.nn.ReLU()),
           ("RELU6", torch.nn.ReLU6()), ("SiLU", torch.nn.SiLU()))  # SiLU: int8 LOGISTIC + MUL
    # (Hardtanh(-1, 1): the int8 recipe keeps RELU_N1_TO_1 float)
    args = (torch.randn(1, 112, 112, 32) * 3,)
    for name, module in ops:
        content = pt2lite.convert(module, args, quantize="int8", calibration=calibration_inputs(args),
                                  io_dtype="int8").model_content()
        yield name, content


def cnn_models(names):
    import pt2lite
    for name in names:
        model, args = build_model(name, 224)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield name, pt2lite.convert(model, args, quantize="int8", calibration=calibration_inputs(args)).model_content()


def interleaved_ms(runtimes, content, rounds):
    """{runtime name: median ms} over `rounds` rounds of one invoke each; the outputs must agree."""
    interpreters, outputs = {}, {}
    for name, cls in runtimes:
        it = cls(model_content=content, num_threads=1)
        it.allocate_tensors()
        rng = np.random.default_rng(0)
        for d in it.get_input_details():
            x = (rng.integers(-128, 128, d["shape"]) if d["dtype"] == np.int8 else rng.standard_normal(d["shape"]) * 3)
            it.set_tensor(d["index"], x.astype(d["dtype"]))
        for _ in range(3):
            it.invoke()
        interpreters[name] = it
        outputs[name] = it.get_tensor(it.get_output_details()[0]["index"])
    times = {name: [] for name in interpreters}
    for r in range(rounds):
        order = list(interpreters.items())
        order = order[r % len(order):] + order[:r % len(order)]
        for name, it in order:
            start = time.perf_counter()
            it.invoke()
            times[name].append(time.perf_counter() - start)
    first = next(iter(outputs.values()))
    steps = {n: int(np.max(np.abs(o.astype(np.int64) - first.astype(np.int64)))) if o.dtype == np.int8 else
             float(np.max(np.abs(o - first))) for n, o in outputs.items()}
    return {n: float(np.median(t)) * 1e3 for n, t in times.items()}, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="an older build's libpt2lite.so, timed in the same rounds")
    parser.add_argument("--models", default="efficientnet_b0,mobilenet_v3_small")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--no-ops", action="store_true", help="only the models")
    args = parser.parse_args()
    import ai_edge_litert.interpreter as litert
    current = os.environ.get("PT2LITE_LIBRARY") or ""
    runtimes = [("LiteRT", litert.Interpreter)]
    if args.baseline:
        runtimes.append(("pt2lite before", load_interpreter_class(args.baseline)))
    runtimes.append(("pt2lite", load_interpreter_class(current)))  # last: the converter of this build
    names = [n for n, _ in runtimes]
    print(f"CPU: {cpu_description()}; 1 thread; medians of {args.rounds} interleaved rounds")
    print(f"{'model':22s} " + " ".join(f"{n + ' ms':>16s}" for n in names) + "   pt2lite/LiteRT"
          + ("   after/before" if args.baseline else "") + "   max diff vs LiteRT")
    models = list(cnn_models([m for m in args.models.split(",") if m]))
    if not args.no_ops:
        models = list(single_op_models()) + models
    for name, content in models:
        ms, steps = interleaved_ms(runtimes, content, args.rounds)
        line = f"{name:22s} " + " ".join(f"{ms[n]:16.3f}" for n in names) + f"   {ms['pt2lite'] / ms['LiteRT']:15.2f}"
        if args.baseline:
            line += f"   {ms['pt2lite'] / ms['pt2lite before']:12.2f}"
        print(line + "   " + " ".join(f"{n}: {steps[n]}" for n in names[1:]), flush=True)


if __name__ == "__main__":
    main()

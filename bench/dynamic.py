"""A dynamic-shape model run at a fixed size against the same model converted static (issue 12): both
.tflite files converted by pt2lite from one module, run on pt2lite's runtime at the same input size,
timed interleaved (the two alternate, and which goes first alternates too) so the machine's noise hits
both alike, after a warm-up; prints the medians and the ratio dynamic / static (target <= 1.05).

    python bench/dynamic.py [--models resnet18,encoder] [--runs 30] [--threads 1]

PT2LITE_LIBRARY=/path/to/libpt2lite.so selects a locally built runtime library.
"""

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from torch.export import Dim

import pt2lite

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from runtime import machine  # noqa: E402


def models():
    """name -> (module, sample input, dynamic_shapes)."""
    import torchvision

    layer = torch.nn.TransformerEncoderLayer(128, 4, 256, batch_first=True, dropout=0.0)
    return {
        "resnet18": (torchvision.models.resnet18(), torch.randn(1, 3, 224, 224),
                     ({0: Dim("batch", max=16), 2: 32 * Dim("h", max=16), 3: 32 * Dim("w", max=16)},)),
        "encoder": (torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), torch.randn(1, 64, 128),
                    ({1: Dim("seq", min=2, max=512)},)),
    }


def prepared(content, x, threads):
    interpreter = pt2lite.Interpreter(model_content=content, num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()  # warm-up
    return interpreter


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet18,encoder")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"CPU: {machine()}; pt2lite runtime, {args.threads} thread(s), median of {args.runs} interleaved runs")
    table = models()
    for name in args.models.split(","):
        module, x, dynamic_shapes = table[name]
        module = module.eval()
        static = pt2lite.convert(module, (x,)).model_content()
        # a dynamic batch is exported at batch 2: torch.export specializes a sample size of 1
        sample = x.expand(2, *x.shape[1:]).contiguous() if 0 in dynamic_shapes[0] else x
        dynamic = pt2lite.convert(module, (sample,), dynamic_shapes=dynamic_shapes).model_content()
        feed = x.numpy()
        runners = {"static": prepared(static, feed, args.threads), "dynamic": prepared(dynamic, feed, args.threads)}
        outs = {k: r.get_tensor(r.get_output_details()[0]["index"]).copy() for k, r in runners.items()}
        assert np.allclose(outs["static"], outs["dynamic"], rtol=1e-5, atol=1e-5), f"{name}: outputs differ"
        times = {k: [] for k in runners}
        for i in range(args.runs):
            order = list(runners) if i % 2 == 0 else list(reversed(runners))
            for k in order:
                start = time.perf_counter()
                runners[k].invoke()
                times[k].append(time.perf_counter() - start)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"{name} {tuple(x.shape)}: static {med['static']:.2f} ms, dynamic {med['dynamic']:.2f} ms, "
              f"ratio {med['dynamic'] / med['static']:.3f}")


if __name__ == "__main__":
    main()

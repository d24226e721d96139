"""Conversion speed and memory: the C stage alone (archive bytes in, flatbuffer bytes out) and
pt2lite.convert() end to end (torch.export + decompositions + save + C stage).

    python bench/convert.py [--repeat N] [--models resnet18,mobilenet_v2,...]

Prints one row per model: weight bytes, C-stage time (best of N), its peak heap (measured by the C
core's allocator, p2l_convert_peak_bytes) as a multiple of the weight bytes, end-to-end time.
Targets (issue 2): resnet18's C stage < 0.1 s and its peak heap < 2x the weight bytes."""
import argparse
import ctypes
import platform
import time

import torch
import torchvision
from torchvision.models import segmentation

import pt2lite
from pt2lite._native import lib
from pt2lite.convert import export_archive

MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    "lraspp_mobilenet_v3": lambda: segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None),
}


def c_stage(archive):
    """One p2l_convert call (archive bytes in, flatbuffer bytes out), timed alone."""
    out, size = ctypes.c_void_p(), ctypes.c_size_t()
    start = time.perf_counter()
    status = lib.p2l_convert(archive, len(archive), None, ctypes.byref(out), ctypes.byref(size))
    elapsed = time.perf_counter() - start
    lib.p2l_free(out)
    if status != 0:
        raise pt2lite.Pt2liteError(status, lib.p2l_last_error().decode())
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    print(f"{'model':22} {'weights MB':>10} {'C stage s':>10} {'peak/weights':>12} {'convert() s':>11} {'status':>8}")
    for name in args.models.split(","):
        model = MODELS[name]().eval()
        x = torch.randn(1, 3, 224, 224)
        weight_bytes = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
        archive, _ = export_archive(model, (x,))
        best, peak, status = float("inf"), 0, "ok"
        try:
            for _ in range(args.repeat):
                best = min(best, c_stage(archive))
                peak = max(peak, lib.p2l_convert_peak_bytes())
            start = time.perf_counter()
            pt2lite.convert(model, (x,))
            end_to_end = time.perf_counter() - start
        except pt2lite.Pt2liteError as e:
            status, end_to_end = "FAILED", float("nan")
            print(f"  {name}: {str(e).splitlines()[0]}")
        print(f"{name:22} {weight_bytes / 1e6:10.1f} {best:10.4f} {peak / weight_bytes:12.2f} {end_to_end:11.2f} {status:>8}")


if __name__ == "__main__":
    main()

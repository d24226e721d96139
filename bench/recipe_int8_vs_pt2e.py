"""Accuracy of the int8 recipe against PT2E (torchao's XNNPACK-style symmetric, per-channel quantizer)
on the same model, both calibrated on the same random inputs and evaluated on others against the
float PyTorch model: cosine similarity and max error relative to the output's max magnitude, on
LiteRT and on pt2lite's runtime; file sizes. Usage: python bench/recipe_int8_vs_pt2e.py [model]"""
import sys
import time

import numpy as np
import torch
import torchvision
from ai_edge_litert.interpreter import Interpreter as LiteRT
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

import pt2lite


def run(interpreter_class, content, x):
    it = interpreter_class(model_content=content)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def main(name="mobilenet_v2", calibration_count=16, evaluation_count=8):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    shape = (1, 3, 224, 224)
    # Random weights with batch norm statistics of random inputs: without them the activations shrink
    # layer after layer (mobilenet_v2's output is ~1e-9, below PT2E's smallest scale, 2^-12).
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # a plain average over the batches
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, *shape[1:]))
    model.eval()
    calibration = [(torch.randn(shape),) for _ in range(calibration_count)]
    evaluation = [torch.randn(shape) for _ in range(evaluation_count)]
    start = time.perf_counter()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(model, calibration[0]).module(), quantizer)
    with torch.no_grad():
        for args in calibration:
            prepared(*args)
    quantized = convert_pt2e(prepared)
    files = {"float": pt2lite.convert(model, calibration[0]).model_content(),
             "pt2e": pt2lite.convert(quantized, calibration[0]).model_content()}
    t = time.perf_counter()
    files["recipe"] = pt2lite.convert(model, calibration[0], quantize="int8", calibration=calibration).model_content()
    print(f"{name}: recipe conversion (export, float conversion, {calibration_count} calibration runs, int8 "
          f"conversion) {time.perf_counter() - t:.1f} s; all {time.perf_counter() - start:.1f} s")
    with torch.no_grad():
        expected = np.stack([model(x).numpy().ravel() for x in evaluation]).astype(np.float64)
    with torch.no_grad():  # PyTorch running PT2E's Q/DQ graph: the PT2E route's own error
        qdq = np.stack([quantized(x).numpy().ravel() for x in evaluation]).astype(np.float64)
    report("pt2e", 0, "PyTorch", qdq, expected)
    for key, content in files.items():
        for runtime, cls in (("LiteRT", LiteRT), ("pt2lite", pt2lite.Interpreter)):
            got = np.stack([run(cls, content, x.numpy()).ravel() for x in evaluation]).astype(np.float64)
            report(key, len(content), runtime, got, expected)


def report(key, size, runtime, got, expected):
    cos = [g @ e / (np.linalg.norm(g) * np.linalg.norm(e) + 1e-30) for g, e in zip(got, expected)]
    rel = [np.abs(g - e).max() / np.abs(e).max() for g, e in zip(got, expected)]
    print(f"  {key:<7} {size / 1e6:6.2f} MB  {runtime:<8} cosine mean {np.mean(cos):.5f} min {np.min(cos):.5f}  "
          f"max rel error mean {np.mean(rel):.4f} max {np.max(rel):.4f}  output |max| {np.abs(got).max():.4g}")


if __name__ == "__main__":
    main(*sys.argv[1:2])

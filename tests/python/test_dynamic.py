"""Dynamic dims (issue 12): models converted with torch.export dynamic_shapes run at several sizes from
one .tflite, on LiteRT and on pt2lite's runtime (resize_tensor_input + allocate_tensors), against
PyTorch eager. The file declares the dynamic dims as -1 in shape_signature."""

import numpy as np
import pytest
import torch
from torch.export import Dim

import pt2lite
from conftest import assert_close, litert

RUNTIMES = {"litert": litert.Interpreter, "pt2lite": pt2lite.Interpreter}


def run_resized(interpreter_class, content, inputs):
    """Resizes every input to the given arrays' shapes, allocates, runs; returns the outputs in order."""
    interpreter = interpreter_class(model_content=content)
    details = interpreter.get_input_details()
    for d, x in zip(details, inputs):
        interpreter.resize_tensor_input(d["index"], list(x.shape), strict=True)
    interpreter.allocate_tensors()
    for d, x in zip(details, inputs):
        interpreter.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def check_sizes(module, sample, dynamic_shapes, size_sets, rtol=1e-4, atol=1e-4):
    """Converts once with dynamic_shapes; runs each tuple of inputs in size_sets on both runtimes."""
    module = module.eval()
    edge = pt2lite.convert(module, sample, dynamic_shapes=dynamic_shapes)
    content = edge.model_content()
    for inputs in size_sets:
        with torch.no_grad():
            expected = module(*inputs)
        expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        for runtime, interpreter_class in RUNTIMES.items():
            got = run_resized(interpreter_class, content, [x.numpy() for x in inputs])
            for g, e in zip(got, expected):
                assert_close(g, e.numpy(), rtol, atol, what=f"{runtime} at {[tuple(x.shape) for x in inputs]}")
    return edge


def input_signatures(content):
    interpreter = litert.Interpreter(model_content=content)
    return [list(d["shape_signature"]) for d in interpreter.get_input_details()]


class FlattenCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        x = torch.nn.functional.avg_pool2d(x, 2) + 1.0
        return self.fc(torch.flatten(x, 1))


def test_cnn_with_flatten_dynamic_batch_runs_at_1_3_8():
    edge = check_sizes(FlattenCNN(), (torch.randn(2, 3, 16, 16),), ({0: Dim("batch", min=1, max=64)},),
                       [(torch.randn(n, 3, 16, 16),) for n in (1, 3, 8)])
    assert input_signatures(edge.model_content()) == [[-1, 3, 16, 16]]

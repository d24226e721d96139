"""Module state: buffers mutated in forward() become TFLite resource variables (src/lower/lower_state.c,
src/kernels/variable.c). Each stateful module runs the same sequence of calls in PyTorch and on both
runtimes; the values must follow PyTorch's from call to call, and reset_state() must start over."""

import copy

import numpy as np
import pytest
import torch

import pt2lite
from conftest import assert_close, tfl_schema, tflite_ops


class Counter(torch.nn.Module):
    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.register_buffer("count", torch.zeros(1, dtype=dtype))

    def forward(self, x):
        self.count.add_(1)
        return x + self.count, self.count * 2


class RunningMean(torch.nn.Module):
    """A running mean over calls: the mean of every row seen so far, with its row count."""

    def __init__(self, features=4):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        rows = x.shape[0]
        total = self.mean * self.seen + x.sum(0)
        self.seen.add_(rows)
        self.mean.copy_(total / self.seen)
        return x - self.mean


class Cache(torch.nn.Module):
    """A small cache written at an index given by the caller (a KV cache's shape of update)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.zeros(4, 3))

    def forward(self, x, position):
        self.cache.index_copy_(0, position, x)
        return self.cache.sum(0, keepdim=True) + x


class RollingWindow(torch.nn.Module):
    """A window of the last 3 inputs, shifted by slicing."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.arange(6, dtype=torch.float32).reshape(3, 2))

    def forward(self, x):
        self.window[:-1] = self.window[1:].clone()
        self.window[-1] = x
        return self.window.mean(0)


class Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Counter()

    def forward(self, x):
        return self.inner(x)[0] * 3


def call_sequence(model, inputs):
    """The outputs of model(*args) for each args in `inputs`, as lists of numpy arrays."""
    results = []
    for args in inputs:
        with torch.no_grad():
            out = model(*args)
        out = out if isinstance(out, tuple) else (out,)
        results.append([o.numpy() for o in out])
    return results


def check_stateful(module, inputs, rtol=1e-5, atol=1e-5):
    """Converts `module` at inputs[0], then checks the same sequence of calls on both runtimes against
    PyTorch eager (the converted module is a copy: conversion never changes the module's buffers);
    then reset_state() and the sequence again. Returns the EdgeModel."""
    module = module.eval()
    edge = pt2lite.convert(copy.deepcopy(module), inputs[0])
    expected = call_sequence(copy.deepcopy(module), inputs)
    for backend in ("litert", "pt2lite"):
        edge.backend = backend
        for attempt in ("first run", "after reset_state"):
            got = call_sequence(edge, inputs)
            for call, (g, e) in enumerate(zip(got, expected)):
                assert len(g) == len(e)
                for k, (gk, ek) in enumerate(zip(g, e)):
                    assert_close(gk, ek, rtol, atol, what=f"{backend}, {attempt}, call {call}, output {k}")
            edge.reset_state()
    return edge


def variables_of(content):
    """{subgraph index: [shared names of its VAR_HANDLE ops]} and each signature subgraph's first op."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    names = {}
    for i, sg in enumerate(model.subgraphs):
        for op in sg.operators:
            if isinstance(op.builtinOptions, tfl_schema.VarHandleOptionsT):
                names.setdefault(i, []).append(op.builtinOptions.sharedName.decode())
    return model, names


def test_counter_persists_and_resets():
    edge = check_stateful(Counter(), [(torch.randn(2),) for _ in range(4)])
    ops = tflite_ops(edge.model_content())
    assert ops[0] == "CALL_ONCE" and ops[-1] == "ASSIGN_VARIABLE"
    model, names = variables_of(edge.model_content())
    assert names == {0: ["count"], 1: ["count"]}  # the signature's and the initializer's handle
    assert len(model.signatureDefs) == 1  # the initializer subgraph is no signature
    assert model.subgraphs[0].operators[0].builtinOptions.initSubgraphIndex == 1
    init = model.subgraphs[1]
    assert [] == [*(init.inputs if init.inputs is not None else []), *(init.outputs if init.outputs is not None else [])]


def test_int64_counter():
    # torch.long buffers are int32 inside the model (as every int64 value); the output is int64 again
    check_stateful(Counter(torch.long), [(torch.randn(2),) for _ in range(3)])


def test_running_mean():
    check_stateful(RunningMean(), [(torch.randn(3, 4) + i,) for i in range(5)])


def test_cache_written_at_an_index():
    positions = [2, 0, 3, 2, 1]
    inputs = [(torch.randn(1, 3), torch.tensor([p])) for p in positions]
    check_stateful(Cache(), inputs)


def test_window_updated_by_slicing():
    check_stateful(RollingWindow(), [(torch.randn(2),) for _ in range(5)])


def test_variable_is_named_by_the_fully_qualified_buffer_name():
    edge = check_stateful(Nested(), [(torch.randn(2),) for _ in range(3)])
    _, names = variables_of(edge.model_content())
    assert names[0] == ["inner.count"]


def test_state_is_per_interpreter():
    edge = pt2lite.convert(Counter().eval(), (torch.zeros(2),))
    for backend in ("pt2lite", "litert"):
        edge.backend = backend
        first = [edge.interpreter().get_signature_runner() for _ in range(2)]
        x = np.zeros(2, np.float32)
        assert first[0](args_0=x)["output_0"].tolist() == [1.0, 1.0]
        assert first[0](args_0=x)["output_0"].tolist() == [2.0, 2.0]
        assert first[1](args_0=x)["output_0"].tolist() == [1.0, 1.0], backend  # its own variables


def test_stateless_model_has_no_variables():
    edge = pt2lite.convert(torch.nn.Linear(3, 2).eval(), (torch.randn(1, 3),))
    model, names = variables_of(edge.model_content())
    assert names == {} and len(model.subgraphs) == 1
    edge.reset_state()  # nothing to reset: fine


class MutatesInput(torch.nn.Module):
    def forward(self, x):
        x.add_(1)
        return x * 2


class HalfBuffer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.ones(2, dtype=torch.float16))

    def forward(self, x):
        self.scale.mul_(2)
        return x * self.scale.float()


def test_mutated_input_is_refused_by_name():
    with pytest.raises(pt2lite.Pt2liteError, match=r"forward\(\) changes its input 'x' in place.*return the new value"):
        pt2lite.convert(MutatesInput().eval(), (torch.ones(2),))


def test_float16_buffer_is_a_float32_variable():
    # float16 models compute in float32 inside (docs/dtypes.md), their state too: doubling stays exact
    check_stateful(HalfBuffer(), [(torch.randn(2),) for _ in range(4)], rtol=1e-3, atol=1e-3)

"""Whole torchvision models (random weights, eval, 1x3x224x224): they match PyTorch eager on the official
LiteRT runtime, keep NHWC inside (TRANSPOSE only at the model's inputs and outputs) and run every op on
XNNPACK. `pytest -s` prints one summary line per model.

Each model is exported and converted once per session (a module-level cache shared by its tests)."""

import time

import numpy as np
import pytest
import torch

import pt2lite
from ai_edge_litert import schema_py_generated as tfl_schema
from conftest import (Pt2liteRuntimeFailure, assert_close, flat_tensors, run_litert, run_pt2lite, tflite_ops,
                      xnnpack_delegation)
from pt2lite.convert import export_archive

torchvision = pytest.importorskip("torchvision")
tvm = torchvision.models


def _lraspp():
    return tvm.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)


def _fcn_resnet50():
    return tvm.segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False)


# name -> (constructor, relative tolerance). Each element: |a - e| <= rel * |e| + rel * max |e|. Through a
# deep fp32 network the error accumulates in absolute terms at the scale of the activations, so an
# element near zero is judged against the output's magnitude (no floor at 1: small outputs get no slack).
MODELS = {
    "resnet18": (tvm.resnet18, 1e-4),
    "mobilenet_v2": (tvm.mobilenet_v2, 1e-4),
    "mobilenet_v3_small": (tvm.mobilenet_v3_small, 1e-4),
    "efficientnet_b0": (tvm.efficientnet_b0, 1e-4),
    "lraspp_mobilenet_v3_large": (_lraspp, 1e-4),
    # The slow one (ResNet-50 backbone with dilation, output stride 8: ~30 s of the suite on 2 cores).
    # 3e-4, not 1e-4: fp32 itself is not that exact here. Against a float64 PyTorch run of the same model
    # and input, PyTorch fp32 is off by 1.1e-4 of the output's magnitude and LiteRT fp32 (XNNPACK or
    # the reference kernels alike) by 1.1e-4 too; two independent fp32 runs differ by 1.7e-4.
    "fcn_resnet50": (_fcn_resnet50, 3e-4),
}

# Models whose ops LiteRT does not all hand to XNNPACK (figures with this build): xfail(strict), so the
# test turns red when the figure changes and the entry has to go.
UNDELEGATED = {
    # e.g. "resnet18": "37/38 ops: the stem's max_pool2d padding became PADV2, which XNNPACK does not take",
}

_cache = {}


def _calibrate_batch_norm(module):
    """Random weights with the default BN running stats (mean 0, var 1) make activations shrink
    layer after layer: the logits of a random-init mobilenet_v2 are ~1e-15, and any converter would
    "match" them. One train-mode pass over a random batch sets the running stats to the real
    activation statistics, so every layer carries O(1) values and the comparison means something."""
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the stats exactly
    module.train()
    with torch.no_grad():
        module(torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2)))
    return module.eval()


class Converted:
    """One model, converted once: everything the tests and the summary line need."""

    def __init__(self, name):
        ctor, self.rel = MODELS[name]
        self.name = name
        torch.manual_seed(0)
        module = _calibrate_batch_norm(ctor())
        self.x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            self.expected = [t.numpy() for t in flat_tensors(module(self.x))]
        t0 = time.perf_counter()
        self.error = None
        self.archive, program = export_archive(module, (self.x,))  # what pt2lite.convert does first
        self.in_spec, self.out_spec = program.call_spec.in_spec, program.call_spec.out_spec
        t1 = time.perf_counter()
        try:
            self.content = pt2lite.convert_pt2(self.archive)
        except pt2lite.Pt2liteError as e:
            self.error = e
            self.content = None
        self.c_stage_s = time.perf_counter() - t1
        self.convert_s = time.perf_counter() - t0
        if self.content is None:
            return
        self.ops = tflite_ops(self.content)
        self.got = run_litert(self.content, [self.x.numpy()])
        self.delegated, self.total = xnnpack_delegation(self.content)
        self.boundary_transposes, self.inner_transposes = _classify_transposes(self.content)
        self.errors = _errors(self.got, self.expected)
        # pt2lite's own runtime on the same .tflite (a failure is kept and reported by its test)
        t2 = time.perf_counter()
        try:
            self.got_p2l, self.p2l_failure = run_pt2lite(self.content, [self.x.numpy()]), None
            self.errors_p2l = _errors(self.got_p2l, self.expected)
        except (pt2lite.Pt2liteError, ValueError) as e:
            self.got_p2l, self.p2l_failure, self.errors_p2l = None, e, []
        self.p2l_s = time.perf_counter() - t2
        print(f"\n[model] {name}: {len(self.ops)} ops, TRANSPOSE {self.ops.count('TRANSPOSE')} "
              f"(boundary {self.boundary_transposes}, inner {self.inner_transposes}), "
              f"XNNPACK {self.delegated}/{self.total}, "
              + ", ".join(f"output {i}: max abs err {err:.3g} (scale {scale:.3g}, rel {err / scale:.2g})"
                          for i, (err, scale) in enumerate(self.errors))
              + f", convert() {self.convert_s:.1f}s (C stage {self.c_stage_s * 1000:.0f} ms)")
        def describe(errors):
            return ", ".join(f"{err:.3g} (rel {err / scale:.2g})" for err, scale in errors)
        print(f"[model] {name}: max abs err vs PyTorch: LiteRT {describe(self.errors)} | pt2lite runtime "
              + (describe(self.errors_p2l) if self.p2l_failure is None else f"FAILED ({self.p2l_failure})")
              + f" ({self.p2l_s:.2f}s incl. load)")

    def tolerance(self, expected):
        """assert_close's tolerance for one output of this model (see MODELS)."""
        return {"rtol": self.rel, "atol": self.rel * float(np.max(np.abs(expected)))}


def _errors(got, expected):
    """(max abs error, max |expected|) per output."""
    errors = []
    for g, e in zip(got, expected):
        scale = float(np.max(np.abs(e)))
        err = float(np.max(np.abs(g.astype(np.float64) - e))) if g.shape == e.shape else float("inf")
        errors.append((err, scale))
    return errors


def converted(name):
    if name not in _cache:
        _cache[name] = Converted(name)
    c = _cache[name]
    if c.error is not None:
        raise c.error
    return c


def _classify_transposes(content):
    """(TRANSPOSE ops reading a model input or writing a model output, the other TRANSPOSE ops)."""
    model = tfl_schema.ModelT.InitFromPackedBuf(content, 0)
    sg = model.subgraphs[0]
    inputs, outputs = set(sg.inputs.tolist()), set(sg.outputs.tolist())
    boundary = inner = 0
    for name, op in zip(tflite_ops(content), sg.operators):
        if name != "TRANSPOSE":
            continue
        if op.inputs[0] in inputs or op.outputs[0] in outputs:
            boundary += 1
        else:
            inner += 1
    return boundary, inner


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    return request.param


def test_matches_pytorch(model):
    c = converted(model)
    assert len(c.got) == len(c.expected), f"{len(c.got)} outputs, expected {len(c.expected)}"
    for i, (g, e) in enumerate(zip(c.got, c.expected)):
        assert_close(g, e, **c.tolerance(e), what=f"{model} output {i}")


def test_transposes_only_at_boundary(model):
    c = converted(model)
    assert c.inner_transposes == 0, f"{model}: {c.inner_transposes} TRANSPOSE ops inside the body"
    # one NCHW input; a classifier's [1, 1000] output needs none, a segmentation map needs one
    assert c.boundary_transposes <= 2, f"{model}: {c.boundary_transposes} boundary TRANSPOSE ops"
    assert c.ops.count("TRANSPOSE") == c.boundary_transposes


def test_all_ops_on_xnnpack(model, request):
    if model in UNDELEGATED:
        request.node.add_marker(pytest.mark.xfail(strict=True, raises=AssertionError, reason=UNDELEGATED[model]))
    c = converted(model)
    assert c.delegated == c.total, f"{model}: XNNPACK takes {c.delegated} of {c.total} ops"


def test_every_conv_has_bias(model):
    c = converted(model)
    m = tfl_schema.ModelT.InitFromPackedBuf(c.content, 0)
    for name, op in zip(c.ops, m.subgraphs[0].operators):
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            assert len(op.inputs) == 3 and op.inputs[2] >= 0, f"{name} without bias"
    # batch norm is folded away
    assert "MUL" not in c.ops or model in ("mobilenet_v3_small", "efficientnet_b0", "lraspp_mobilenet_v3_large"), \
        f"{model}: a MUL left (batch norm not folded?)"


def test_deterministic(model):
    c = converted(model)
    assert pt2lite.convert_pt2(c.archive) == c.content, f"{model}: two conversions of one archive differ"


def test_edge_model_returns_dict():
    # segmentation models return {"out": ...}: EdgeModel gives back the same structure
    c = converted("lraspp_mobilenet_v3_large")
    edge = pt2lite.EdgeModel(c.content, in_spec=c.in_spec, out_spec=c.out_spec)
    result = edge(c.x)
    assert isinstance(result, dict) and list(result) == ["out"], type(result)
    assert isinstance(result["out"], torch.Tensor) and tuple(result["out"].shape) == c.expected[0].shape
    # the default backend is pt2lite's runtime: the same numbers as its signature runner
    assert_close(result["out"].numpy(), c.got_p2l[0], rtol=0, atol=0, what="EdgeModel vs signature runner")


# ---------------------------------------------------------------- pt2lite's own runtime

# Models that pt2lite's runtime does not run correctly yet (LiteRT does): xfail(strict), like UNDELEGATED.
PT2LITE_RUNTIME_GAPS = {}


def test_pt2lite_runtime_matches_pytorch(model, request):
    # The same .tflite on pt2lite's C runtime, same tolerance as LiteRT's.
    if model in PT2LITE_RUNTIME_GAPS:
        request.node.add_marker(pytest.mark.xfail(strict=True, raises=Pt2liteRuntimeFailure,
                                                  reason=PT2LITE_RUNTIME_GAPS[model]))
    c = converted(model)
    if c.p2l_failure is not None:
        raise Pt2liteRuntimeFailure(f"{model}: {c.p2l_failure}")
    if len(c.got_p2l) != len(c.expected):
        raise Pt2liteRuntimeFailure(f"{model}: {len(c.got_p2l)} outputs, expected {len(c.expected)}")
    for i, (g, e) in enumerate(zip(c.got_p2l, c.expected)):
        try:
            assert_close(g, e, **c.tolerance(e), what=f"{model} output {i}")
        except AssertionError as failure:
            raise Pt2liteRuntimeFailure(str(failure)) from failure


def test_edge_model_backends_agree():
    # EdgeModel runs pt2lite's runtime by default; backend="litert" switches to LiteRT; both return the
    # module's structure and agree with each other
    c = converted("mobilenet_v3_small")
    edge = pt2lite.EdgeModel(c.content, in_spec=c.in_spec, out_spec=c.out_spec)
    assert edge.backend == "pt2lite"
    ours = edge(c.x)
    edge.backend = "litert"
    theirs = edge(c.x)
    assert isinstance(ours, torch.Tensor) and ours.shape == theirs.shape
    assert_close(ours.numpy(), theirs.numpy(), **c.tolerance(c.expected[0]), what="pt2lite vs LiteRT")
    assert_close(ours.numpy(), c.expected[0], **c.tolerance(c.expected[0]), what="pt2lite vs PyTorch")

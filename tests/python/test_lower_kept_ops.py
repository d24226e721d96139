"""Lowerings of overloads that torch 2.14's export path rewrites before an archive is saved (reshape ->
view, rsub -> sub, F.pad reflect -> index ops, var.dim -> var.correction, ...): archives exported with
other decomposition tables or torch versions contain them. Each is reached here with a graph that
really contains the overload, either exported with a decomposition table that keeps it or, where
export never emits it, an exported archive whose models/model.json is edited to call it, and is checked
against PyTorch eager on both runtimes."""

import io
import json
import zipfile

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pt2lite
from conftest import Fn, assert_outputs_close, flat_tensors, run_litert, run_pt2lite
from pt2lite._record import program_ops, record

aten = torch.ops.aten


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


X = randn(2, 3, 4, 5)


def overload_name(op):
    """aten.squeeze.default -> "squeeze.default", as program_ops names it."""
    name = op.name().split("::", 1)[-1]
    return name if "." in name else f"{name}.{op._overloadname}"


def export_keeping(module, args, keep):
    """torch.export + the default decompositions less the overloads in `keep`, saved to .pt2 bytes;
    fails if the graph does not contain each kept overload. Returns (archive, {target: dtypes})."""
    table = torch.export.default_decompositions()
    for op in keep:
        table.pop(op, None)
    program = torch.export.export(module.eval(), args).run_decompositions(table)
    ops = program_ops(program)
    missing = [overload_name(op) for op in keep if overload_name(op) not in ops]
    assert not missing, f"the exported graph lost {missing}: {sorted(ops)}"
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue(), ops


def edit_archive(archive, ops, old_target, new_target, edit_inputs):
    """Retargets every `old_target` call of an archive's graph (e.g. "view.default") to `new_target`,
    with edit_inputs(inputs) -> the new call's named inputs. Returns (archive, ops with the rename)."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    edited = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename.endswith("models/model.json"):
                model = json.loads(body)
                for node in model["graph_module"]["graph"]["nodes"]:
                    if node["target"] == f"torch.ops.aten.{old_target}":
                        node["target"] = f"torch.ops.aten.{new_target}"
                        node["inputs"] = edit_inputs(node["inputs"])
                        edited += 1
                body = json.dumps(model).encode()
            target.writestr(info.filename, body)
    assert edited, f"no {old_target} call in the archive: {sorted(ops)}"
    ops = dict(ops)
    ops[new_target] = ops.pop(old_target)
    return out.getvalue(), ops


def rename(inputs, **names):
    """The inputs with some argument names changed (old=new)."""
    return [dict(i, name=names.get(i["name"], i["name"])) for i in inputs]


def check_archive(archive, ops, module, args, rtol=1e-5, atol=1e-6):
    """Converts the archive, records its ops for docs/ops.md (a test that passes converted them), runs
    it on both runtimes and compares with the module on PyTorch eager."""
    content = pt2lite.convert_pt2(archive)
    record(ops)
    with torch.no_grad():
        expected = flat_tensors(module.eval()(*args))
    inputs = [a.numpy() for a in args]
    assert_outputs_close(run_litert(content, inputs), expected, rtol, atol, what="LiteRT output")
    assert_outputs_close(run_pt2lite(content, inputs), expected, rtol, atol, what="pt2lite runtime output")
    return content


# (id, module, inputs, overloads the decomposition table keeps)
KEPT = [
    ("_unsafe_view", Fn(lambda x: aten._unsafe_view(x * 2, [4, 30])), (X,), [aten._unsafe_view.default]),
    ("squeeze", Fn(lambda x: aten.squeeze.default(x[:, :1, :, :1]) + 1), (X,), [aten.squeeze.default]),
    ("squeeze_dim", Fn(lambda x: aten.squeeze.dim(x[:, :1], 1) + 1), (X,), [aten.squeeze.dim]),
    ("squeeze_dim_not_one", Fn(lambda x: aten.squeeze.dim(x, 1) + 1), (X,), [aten.squeeze.dim]),
    ("upsample_nearest2d", Fn(lambda x: aten.upsample_nearest2d.default(x, [6, 11])), (X,),
     [aten.upsample_nearest2d.default]),
    ("silu", Fn(F.silu), (X * 4,), [aten.silu.default]),
    ("hardswish", Fn(F.hardswish), (X * 4,), [aten.hardswish.default]),
    ("hardsigmoid", Fn(F.hardsigmoid), (X * 4,), [aten.hardsigmoid.default]),
    ("fill", Fn(lambda x: aten.fill.Scalar(x, 3.5) * x), (X,), [aten.fill.Scalar]),
    ("reflection_pad1d", Fn(lambda x: F.pad(x[0], (1, 3), mode="reflect")), (X,), [aten.reflection_pad1d.default]),
    ("reflection_pad2d", Fn(lambda x: F.pad(x, (1, 3, 2, 0), mode="reflect")), (X,), [aten.reflection_pad2d.default]),
    ("reflection_pad2d_nhwc", Fn(lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), conv=True), (X,),
     [aten.reflection_pad2d.default]),
    ("reflection_pad3d", Fn(lambda x: F.pad(x[None], (1, 3, 2, 0, 1, 1), mode="reflect")), (X,),
     [aten.reflection_pad3d.default]),
    ("replication_pad2d", Fn(lambda x: F.pad(x, (1, 3, 2, 0), mode="replicate")), (X,),
     [aten.replication_pad2d.default]),
    ("replication_pad3d", Fn(lambda x: F.pad(x[None], (1, 3, 2, 0, 1, 1), mode="replicate")), (X,),
     [aten.replication_pad3d.default]),
    ("rsub_scalar", Fn(lambda x: torch.rsub(x, 2.5)), (X,), [aten.rsub.Scalar]),
    ("rsub_tensor", Fn(lambda x, y: torch.rsub(x, y)), (X, randn(5, seed=1)), [aten.rsub.Tensor]),
    ("select_scatter", Fn(lambda x, y: torch.select_scatter(x, y, 1, 2)), (X, randn(2, 4, 5, seed=1)),
     [aten.select_scatter.default]),
    ("select_scatter_last", Fn(lambda x, y: torch.select_scatter(x, y, 3, -1)), (X, randn(2, 3, 4, seed=1)),
     [aten.select_scatter.default]),
    ("var_dim", Fn(lambda x: aten.var.dim(x, [1, 3], True, True)), (X,), [aten.var.dim]),
    ("var_dim_biased", Fn(lambda x: aten.var.dim(x, [2], False, False)), (X,), [aten.var.dim]),
]


@pytest.mark.parametrize("module, args, keep", [pytest.param(*case[1:], id=case[0]) for case in KEPT])
def test_kept_overload(module, args, keep):
    archive, ops = export_keeping(module, args, keep)
    check_archive(archive, ops, module, args)


@pytest.mark.parametrize("module, args, keep", [
    pytest.param(Fn(lambda x: torch.rsub(x, 2.5, alpha=3)), (X,), [aten.rsub.Scalar], id="scalar"),
    pytest.param(Fn(lambda x, y: torch.rsub(x, y, alpha=2)), (X, randn(3, 1, 1, seed=1)), [aten.rsub.Tensor], id="tensor"),
])
def test_rsub_alpha_is_refused(module, args, keep):
    archive, _ = export_keeping(module, args, keep)
    with pytest.raises(pt2lite.Pt2liteError, match=r"\(aten\.rsub\.(Scalar|Tensor)\) .*alpha other than 1"):
        pt2lite.convert_pt2(archive)


# Overloads torch.export never emits (view for reshape, clone for dropout/lift_fresh_copy, the no_training
# batch norm, upsample_bilinear2d.vec): the exported call is retargeted to them in the archive.

def test_reshape():
    module = Fn(lambda x: x.view(4, -1) * 2)
    archive, ops = export_keeping(module, (X,), [])
    archive, ops = edit_archive(archive, ops, "view.default", "reshape.default",
                                lambda inputs: rename(inputs, size="shape"))
    check_archive(archive, ops, module, (X,))


@pytest.mark.parametrize("old, new, edit", [
    ("clone.default", "dropout.default",
     lambda inputs: rename(inputs, self="input") + [{"name": "p", "arg": {"as_float": 0.5}, "kind": 1},
                                                    {"name": "train", "arg": {"as_bool": False}, "kind": 1}]),
    ("clone.default", "lift_fresh_copy.default", lambda inputs: [i for i in inputs if i["name"] == "self"]),
])
def test_identity_overloads(old, new, edit):
    module = Fn(lambda x: torch.clone(x * 2) + 1)
    archive, ops = export_keeping(module, (X,), [aten.clone.default])
    archive, ops = edit_archive(archive, ops, old, new, edit)
    check_archive(archive, ops, module, (X,))


@pytest.mark.parametrize("align_corners", [False, True])
def test_upsample_bilinear2d(align_corners):
    module = Fn(lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=align_corners))
    archive, ops = export_keeping(module, (X,), [aten.upsample_bilinear2d.vec])
    archive, ops = edit_archive(archive, ops, "upsample_bilinear2d.vec", "upsample_bilinear2d.default",
                                lambda inputs: [i for i in rename(inputs, input="self") if i["name"] != "scale_factors"])
    check_archive(archive, ops, module, (X,))


def test_native_batch_norm_legit_with_running_stats():
    bn = nn.BatchNorm2d(3).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.copy_(torch.randn(3, generator=generator))
        bn.running_var.copy_(torch.rand(3, generator=generator) + 0.5)
    archive, ops = export_keeping(bn, (X,), [])
    archive, ops = edit_archive(archive, ops, "_native_batch_norm_legit_no_training.default",
                                "_native_batch_norm_legit.default",
                                lambda inputs: inputs + [{"name": "training", "arg": {"as_bool": False}, "kind": 1}])
    check_archive(archive, ops, bn, (X,))

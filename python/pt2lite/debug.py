"""Debugging conversions: per-node comparison against PyTorch, Model Explorer node data, culprit finding.

    report = pt2lite.debug.compare(module, (x,))       # every ATen node's value vs its TFLite tensor
    print(report)                                      # the worst rows, and the first divergent one
    report.to_csv("errors.csv"); report.to_model_explorer("errors.json")
    pt2lite.debug.visualize(edge, report)              # Model Explorer, errors as node colours
    culprits = pt2lite.debug.find_culprits(module, (x,))   # repro scripts for a bug report

The map from ATen nodes to TFLite tensors is the converter's (C): the file's "pt2lite_node_map" metadata
says which tensor holds each node's output and in which axis order (docs/debugging.md). Python only runs
PyTorch for the reference values, runs the model keeping every tensor, and compares numbers."""

import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from ._native import Pt2liteError
from .convert import convert_pt2, export_archive
from .model import EdgeModel

NODE_MAP = "pt2lite_node_map"  # the metadata entry the converter writes (src/convert/node_map.c)
NOT_IN_FILE = "folded or fused away by the converter (no tensor in the file holds it)"


# ---------------------------------------------------------------------------------------- values

def _flat_inputs(sample_args, sample_kwargs=None):
    import torch

    if not isinstance(sample_args, tuple):
        sample_args = (sample_args,)
    leaves = torch.utils._pytree.tree_leaves((sample_args, sample_kwargs or {}))
    return sample_args, [x for x in leaves if isinstance(x, torch.Tensor)]


def _reference_values(program, sample_args, sample_kwargs=None):
    """{node name: value} for every node of the exported program, run by torch.fx's Interpreter."""
    import torch

    values = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            result = super().run_node(node)
            values[node.name] = result
            return result

    graph_module = program.module()
    leaves = torch.utils._pytree.tree_leaves((sample_args, sample_kwargs or {}))
    with torch.no_grad():
        Recorder(graph_module).run(*leaves)
    return graph_module, values


def _flatbuffer_of(edge):
    if isinstance(edge, EdgeModel):
        return edge.model_content()
    if isinstance(edge, (bytes, bytearray, memoryview)):
        return bytes(edge)
    with open(os.fspath(edge), "rb") as f:
        return f.read()


def _node_map(flatbuffer):
    """The converter's rows (one per ATen node output a tensor holds), and the subgraph's name."""
    model = EdgeModel(flatbuffer, name="the edge model")._model
    recorded = model.metadata(NODE_MAP)
    if recorded is None:
        raise ValueError(f"the model has no '{NODE_MAP}' metadata: convert it with this version of pt2lite "
                         "(pt2lite.convert or pt2lite convert) to compare it node by node")
    node_map = json.loads(recorded.decode("utf-8"))
    subgraph = node_map.get("subgraph", 0)  # pt2lite's files: signature i is subgraph i
    return node_map, model.keys[subgraph] if 0 <= subgraph < len(model.keys) else model.default_key


def _interpreter(flatbuffer, backend):
    if backend == "litert":
        import warnings

        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():  # its "for debugging purposes only" warning: this is debugging
            warnings.simplefilter("ignore", UserWarning)
            return Interpreter(model_content=flatbuffer, experimental_preserve_all_tensors=True)
    elif backend == "pt2lite":
        from .interpreter import Interpreter
    else:
        raise ValueError(f"backend is {backend!r}; expected 'pt2lite' or 'litert'")
    return Interpreter(model_content=flatbuffer, experimental_preserve_all_tensors=True)


def _run_keeping_tensors(flatbuffer, inputs, backend):
    """Runs the model once with every intermediate tensor kept; returns the interpreter."""
    interpreter = _interpreter(flatbuffer, backend)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    if len(details) != len(inputs):
        raise ValueError(f"the model takes {len(details)} inputs but the sample arguments hold {len(inputs)} tensors")
    for detail, x in zip(details, inputs):
        interpreter.set_tensor(detail["index"], x.detach().cpu().numpy().astype(detail["dtype"]))
    interpreter.invoke()
    return interpreter


def _as_logical(array, perm):
    """The tensor's array in PyTorch's axis order: axis i of the tensor is logical axis perm[i]."""
    return np.transpose(array, np.argsort(perm)) if len(perm) > 1 else array


def _errors(reference, got):
    """(max absolute error, that over max |reference|, max |reference|)."""
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(got, dtype=np.float64)
    if ref.shape != out.shape:
        return math.inf, math.inf, 0.0
    if ref.size == 0:
        return 0.0, 0.0, 0.0
    same = (ref == out) | (np.isnan(ref) & np.isnan(out))  # inf == inf and NaN where PyTorch has NaN agree
    diff = np.where(same, 0.0, np.abs(ref - out))
    diff = np.where(np.isnan(diff), math.inf, diff)
    max_abs = float(diff.max())
    scale = float(np.abs(np.where(np.isfinite(ref), ref, 0.0)).max())
    return max_abs, (max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)), scale


# ---------------------------------------------------------------------------------------- report

class Report:
    """Per-node errors of a converted model against PyTorch (compare()).

    rows: one dict per ATen node output that a tensor of the file holds, in graph order: aten (the node,
    "name" or "name[k]" for output k of a node with several), module (its nn.Module path), tflite (the
    tensor's name), max_abs, rel (max_abs over the largest |value| PyTorch computed), plus target (the
    ATen op), source (file:line), tensor (its index) and over (beyond atol + rtol * max |value|).
    not_in_file: (node, reason) for ATen nodes no tensor holds (folded or fused away)."""

    def __init__(self, rows, not_in_file, atol, rtol, graph_id, backend):
        self.rows = rows
        self.not_in_file = not_in_file
        self.atol, self.rtol = atol, rtol
        self.graph_id = graph_id
        self.backend = backend

    def first_divergent(self):
        """The first row (graph order) beyond tolerance: where the edge model and PyTorch part."""
        return next((row for row in self.rows if row["over"]), None)

    def worst(self, count=10):
        return sorted(self.rows, key=lambda r: (-r["rel"], -r["max_abs"]))[:count]

    def __str__(self):
        over = sum(row["over"] for row in self.rows)
        lines = [f"pt2lite.debug.compare on {self.backend}: {len(self.rows)} ATen node outputs compared, {over} beyond "
                 f"atol={self.atol:g} + rtol={self.rtol:g} * max|value|; {len(self.not_in_file)} nodes have no tensor "
                 f"in the file (folded or fused away by the converter)"]
        first = self.first_divergent()
        if first:
            lines.append(f"first divergent: {first['aten']} ({first['target']}) in '{first['module']}' -> tensor "
                         f"'{first['tflite']}': max_abs={first['max_abs']:.3g} rel={first['rel']:.3g}"
                         + (f" at {first['source']}" if first["source"] else ""))
        width = max([len(r["aten"]) for r in self.rows] + [4])
        lines.append(f"{'aten':<{width}}  {'max_abs':>10}  {'rel':>10}  module -> tflite")
        for row in self.worst():
            mark = " *" if row["over"] else ""
            lines.append(f"{row['aten']:<{width}}  {row['max_abs']:>10.3g}  {row['rel']:>10.3g}  "
                         f"{row['module'] or '-'} -> {row['tflite']}{mark}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_csv(self, path):
        columns = ["aten", "module", "tflite", "max_abs", "rel", "target", "source", "tensor", "over"]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)

    def model_explorer_data(self):
        """Model Explorer's node data (model_explorer.node_data_builder.ModelNodeData as JSON): graph id ->
        results keyed by output tensor name, valued by the relative error, with thresholds colouring
        nodes green within rtol, orange up to 100x rtol, red beyond."""
        results = {}
        for row in self.rows:  # a tensor holding several nodes' values shows the worst
            value = row["rel"] if math.isfinite(row["rel"]) else 1e30
            if row["tflite"] not in results or results[row["tflite"]]["value"] < value:
                results[row["tflite"]] = {"value": value}
        thresholds = [{"value": self.rtol, "bgColor": "#a5d6a7"},
                      {"value": 100 * self.rtol, "bgColor": "#ffcc80"},
                      {"value": 1e300, "bgColor": "#ef9a9a"}]
        return {self.graph_id: {"name": "relative error vs PyTorch", "results": results, "thresholds": thresholds}}

    def to_model_explorer(self, path):
        with open(path, "w") as f:
            json.dump(self.model_explorer_data(), f, indent=1)


def compare(module, sample_args, edge=None, backend="pt2lite", *, sample_kwargs=None, atol=1e-4, rtol=1e-4):
    """Compares every ATen node's value (PyTorch running the exported program) with the TFLite tensor the
    converter mapped it to, on `backend` ("pt2lite" or "litert", both keeping every tensor readable).

    edge: an EdgeModel, .tflite bytes or a path; None converts `module`. When it was converted from
    another module of the same architecture (or the conversion is wrong), report.first_divergent() is
    where the two part. Returns a Report."""
    archive, program = export_archive(module, sample_args, sample_kwargs)
    flatbuffer = convert_pt2(archive) if edge is None else _flatbuffer_of(edge)
    sample_args, inputs = _flat_inputs(sample_args, sample_kwargs)
    graph_module, reference = _reference_values(program, sample_args, sample_kwargs)
    node_map, graph_id = _node_map(flatbuffer)
    interpreter = _run_keeping_tensors(flatbuffer, inputs, backend)
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}

    by_node = {}
    for entry in node_map["nodes"]:
        by_node.setdefault(entry["node"], []).append(entry)
    rows, not_in_file = [], []
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.name not in reference or not _holds_tensors(reference[node.name]):
            continue
        entries = by_node.get(node.name)
        if not entries:
            if not str(node.target).startswith("<built-in"):  # getitem and friends are no ATen nodes
                not_in_file.append((node.name, NOT_IN_FILE))
            continue
        outputs = len(reference[node.name]) if isinstance(reference[node.name], (tuple, list)) else 1
        for entry in entries:
            k = entry["output"]
            value = reference[node.name][k] if isinstance(reference[node.name], (tuple, list)) else reference[node.name]
            got = _as_logical(interpreter.get_tensor(entry["tensor"]), entry["perm"])
            max_abs, rel, scale = _errors(value.detach().cpu().numpy(), got)
            rows.append({"aten": node.name if outputs == 1 else f"{node.name}[{k}]", "module": entry["module"],
                         "tflite": names.get(entry["tensor"], str(entry["tensor"])), "max_abs": max_abs, "rel": rel,
                         "target": entry["target"], "source": entry["source"], "tensor": entry["tensor"],
                         "over": not max_abs <= atol + rtol * scale})
    return Report(rows, not_in_file, atol, rtol, graph_id, backend)


def _holds_tensors(value):
    import torch

    if isinstance(value, (tuple, list)):
        return any(isinstance(v, torch.Tensor) for v in value)
    return isinstance(value, torch.Tensor)


# ---------------------------------------------------------------------------------------- Model Explorer

INSTALL_HINT = ("Model Explorer is not installed: pip install ai-edge-model-explorer (then run "
                "pt2lite.debug.visualize again, or: model-explorer model.tflite --node_data_paths=errors.json)")


def explorer_config(edge, report, directory=None):
    """The model_explorer config visualize() opens: the .tflite and the report's node data, written to
    `directory` (a new temporary one when None). Raises ImportError with INSTALL_HINT without the package."""
    try:
        import model_explorer
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    directory = directory or tempfile.mkdtemp(prefix="pt2lite-explorer-")
    model_path = os.path.join(directory, "model.tflite")
    with open(model_path, "wb") as f:
        f.write(_flatbuffer_of(edge))
    config = model_explorer.config().add_model_from_path(model_path)
    if report is not None:
        data_path = os.path.join(directory, "errors.json")
        report.to_model_explorer(data_path)
        config.add_node_data_from_path(data_path)
    return config


def visualize(edge, report=None, **visualize_options):
    """Opens Model Explorer on the edge model with the report's errors as node colours (a local server and
    a browser tab, model_explorer.visualize_from_config). Says how to install it when it is missing."""
    try:
        config = explorer_config(edge, report)
    except ImportError as e:
        print(e, file=sys.stderr)
        return None
    import model_explorer

    model_explorer.visualize_from_config(config, **visualize_options)
    return config


# ---------------------------------------------------------------------------------------- culprits

class Culprit:
    """One ATen node responsible for a failure: node (name), target ("aten.col2im.default"), module,
    source, reason, script (a standalone repro's text), path (where it was written)."""

    def __init__(self, node, target, module, source, reason, script, path):
        self.node, self.target, self.module, self.source = node, target, module, source
        self.reason, self.script, self.path = reason, script, path

    def __repr__(self):
        return f"Culprit({self.node!r}, {self.target!r}, module={self.module!r}: {self.reason}; repro {self.path})"


_REFUSED_NODE = re.compile(r"^\s*(node '([^']+)' \(aten\.[^\n]*)$", re.M)  # lines of p2l_lower's error


def find_culprits(module, sample_args, *, sample_kwargs=None, edge=None, backend="pt2lite", atol=1e-4, rtol=1e-4,
                  directory=None):
    """The smallest set of ATen nodes that make `module` fail: those the converter refuses (the C error
    names each), else those whose outputs diverge from PyTorch's while their inputs agree (compare()).
    Each is written as a standalone repro script (repro_<node>.py in `directory`, a new temporary one
    when None): a tiny module calling just that op with the same input shapes, dtypes and arguments,
    which prints REPRODUCED and exits with status 1 when the failure reproduces. Returns [Culprit]."""
    archive, program = export_archive(module, sample_args, sample_kwargs)
    sample_args, _ = _flat_inputs(sample_args, sample_kwargs)
    graph_module, reference = _reference_values(program, sample_args, sample_kwargs)
    nodes = {node.name: node for node in graph_module.graph.nodes}
    directory = directory or tempfile.mkdtemp(prefix="pt2lite-culprits-")
    os.makedirs(directory, exist_ok=True)
    found = []  # (node, reason, kind)
    try:
        converted = convert_pt2(archive) if edge is None else _flatbuffer_of(edge)
    except Pt2liteError as e:
        refused = {name: line for line, name in _REFUSED_NODE.findall(str(e)) if name in nodes}
        if not refused:
            raise
        # A node refused only because an input could not be converted is no culprit of its own.
        found = [(nodes[name], line, "conversion") for name, line in refused.items()
                 if not _ancestors(nodes[name]) & refused.keys()]
    else:
        report = compare(module, sample_args, converted, backend, sample_kwargs=sample_kwargs, atol=atol, rtol=rtol)
        found = [(nodes[name], reason, "mismatch") for name, reason in _diverging_nodes(report, nodes)]
    culprits = []
    for node, reason, kind in found:
        script = _repro_script(node, reference, kind, reason, backend, atol, rtol)
        path = os.path.join(directory, f"repro_{node.name}.py")
        with open(path, "w") as f:
            f.write(script)
        meta = node.meta.get("nn_module_stack") or {}
        module_path = list(meta.values())[-1][0] if meta else ""
        source = (node.meta.get("stack_trace") or "").strip().splitlines()[-2:] if node.meta.get("stack_trace") else []
        culprits.append(Culprit(node.name, _target_name(node), module_path, " ".join(s.strip() for s in source),
                                reason, script, path))
    return culprits


def _ancestors(node):
    seen, stack = set(), list(node.all_input_nodes)
    while stack:
        parent = stack.pop()
        if parent.name not in seen:
            seen.add(parent.name)
            stack.extend(parent.all_input_nodes)
    return seen


def _diverging_nodes(report, nodes):
    """Rows beyond tolerance whose inputs are within it: an input is judged by its own row, or, when no
    tensor holds it (fused away), by the rows of the nodes it was computed from."""
    over = {}
    for row in report.rows:
        name = row["aten"].split("[")[0]
        over[name] = over.get(name, False) or row["over"]

    def input_bad(node, seen):
        if node.name in over:
            return over[node.name]
        if node.name in seen:
            return False
        seen.add(node.name)
        return any(input_bad(parent, seen) for parent in node.all_input_nodes)

    diverging = []
    for row in report.rows:
        name = row["aten"].split("[")[0]
        if row["over"] and name not in [d for d, _ in diverging] and name in nodes:
            if not any(input_bad(parent, set()) for parent in nodes[name].all_input_nodes):
                diverging.append((name, f"differs from PyTorch by max_abs={row['max_abs']:.3g} rel={row['rel']:.3g} "
                                        f"while its inputs agree"))
    return diverging


def _target_name(node):
    target = node.target
    if hasattr(target, "_schema") and hasattr(target, "_overloadname"):
        namespace = target.namespace if hasattr(target, "namespace") else "aten"
        return f"{namespace}.{target._schema.name.split('::')[-1]}.{target._overloadname}"
    return str(target)


def _literal(value):
    """Python source for a non-tensor argument."""
    import torch

    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, torch.device):
        return f"torch.device({str(value)!r})"
    if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
        return str(value)
    return repr(value)


def _tensor_source(value):
    """Python source making a tensor like `value` (same shape and dtype): small ones by value, others
    random in the observed range (integers: so that indices stay valid)."""
    import torch

    shape, dtype = list(value.shape), str(value.dtype)
    if value.numel() <= 64 or value.dtype == torch.bool:
        return f"torch.tensor({value.detach().cpu().tolist()!r}, dtype={dtype}).reshape({shape})"
    if value.dtype.is_floating_point:
        return f"torch.randn({shape}, dtype={dtype})"
    low, high = int(value.min()), int(value.max())
    return f"torch.randint({low}, {high + 1}, {shape}, dtype={dtype})"


def _repro_script(node, reference, kind, reason, backend, atol, rtol):
    import torch

    inputs, constants = [], []  # (name, tensor)

    def render(arg):
        if isinstance(arg, torch.fx.Node):
            value = reference[arg.name]
            (constants if arg.op == "get_attr" else inputs).append((f"t{len(inputs) + len(constants)}", value))
            name = (constants if arg.op == "get_attr" else inputs)[-1][0]
            return f"self.{name}" if arg.op == "get_attr" else name
        if isinstance(arg, (list, tuple)):
            inner = ", ".join(render(a) for a in arg)
            return f"[{inner}]" if isinstance(arg, list) else f"({inner}{',' if len(arg) == 1 else ''})"
        return _literal(arg)

    args = [render(a) for a in node.args] + [f"{k}={render(v)}" for k, v in node.kwargs.items()]
    target = _target_name(node)
    call = f"torch.ops.{target}({', '.join(args)})"
    what = ("the conversion fails" if kind == "conversion"
            else f"the output differs from PyTorch's beyond atol={atol!r} + rtol={rtol!r} * max|value|")
    lines = [
        f"# pt2lite repro for ATen node '{node.name}' ({target}): {what}.",
        f"# Found by pt2lite.debug.find_culprits: {reason}",
        "# Prints REPRODUCED and exits with status 1 when the failure happens; status 0 when it does not.",
        "import sys",
        "",
        "import torch",
        "",
        "import pt2lite",
        "",
        "torch.manual_seed(0)",
        "",
        "",
        "class Repro(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    for name, value in constants:
        lines.append(f"        self.register_buffer({name!r}, {_tensor_source(value)})")
    lines += [
        "",
        f"    def forward(self{''.join(', ' + name for name, _ in inputs)}):",
        f"        return {call}",
        "",
        "",
        f"inputs = ({''.join(_tensor_source(v) + ', ' for _, v in inputs)})",
        "module = Repro().eval()",
        "expected = module(*inputs)",
        "try:",
        f"    edge = pt2lite.convert(module, inputs, backend={backend!r})",
        "except pt2lite.Pt2liteError as e:",
        "    print('REPRODUCED: the conversion fails:', e)",
        "    sys.exit(1)",
        "got = edge(*inputs)",
        "expected = expected if isinstance(expected, (tuple, list)) else (expected,)",
        "got = got if isinstance(got, (tuple, list)) else (got,)",
        "for i, (e, g) in enumerate(zip(expected, got)):",
        "    e, g = e.double(), g.double()",
        "    max_abs = (e - g).abs().max().item() if e.numel() else 0.0",
        f"    if e.shape != g.shape or not max_abs <= {atol!r} + {rtol!r} * e.abs().max().item():",
        "        print(f'REPRODUCED: output {i} differs from PyTorch by max_abs={max_abs:.3g}')",
        "        sys.exit(1)",
        "print('not reproduced: pt2lite agrees with PyTorch on this op')",
    ]
    return "\n".join(lines) + "\n"


def run_repro(path, timeout=600):
    """Runs a repro script in a fresh Python; (reproduced, output)."""
    done = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=timeout)
    return done.returncode == 1 and "REPRODUCED" in done.stdout, done.stdout + done.stderr

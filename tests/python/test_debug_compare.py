"""pt2lite.debug: per-node comparison (the converter's node map, both runtimes keeping every tensor), the
Model Explorer node data and config, culprit finding with repro scripts that reproduce."""

import copy
import csv
import json
import math
import sys

import numpy as np
import pytest
import torch

import pt2lite
import pt2lite.debug as debug

BACKENDS = ["pt2lite", "litert"]


class Net(torch.nn.Module):
    """conv+bn+relu (fused by the converter), then layers each with its own tensor."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Sigmoid(),
                                        torch.nn.Conv2d(8, 8, 3, padding=1))
        self.head = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.stem(x)))
        y = self.body(y) + y
        return self.head(y.mean((2, 3)))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(1)
    model = Net().eval()
    with torch.no_grad():  # running statistics that are not the identity
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    return model, torch.randn(1, 3, 10, 10)


def node_map(edge):
    return json.loads(edge._model.metadata(debug.NODE_MAP))


def test_converter_records_node_map_with_layout_module_and_source(net):
    model, x = net
    rows = node_map(pt2lite.convert(model, (x,)))["nodes"]
    by_target = {}
    for row in rows:
        by_target.setdefault(row["target"], []).append(row)
    convs = by_target["aten.convolution.default"]
    # the stem's conv is fused with batch norm and relu: no tensor holds it, so no row (the relu's has one)
    assert {row["module"] for row in convs} == {"body.0", "body.2"}
    assert all(row["perm"] == [0, 2, 3, 1] for row in convs)  # NHWC inside, said by the converter
    assert by_target["aten.relu.default"][0]["perm"] == [0, 2, 3, 1]
    assert all("test_debug_compare.py:" in row["source"] for row in convs)
    assert [row["module"] for row in by_target["aten.addmm.default"]] == ["head"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_matches_pytorch_on_every_node(net, backend):
    model, x = net
    report = debug.compare(model, (x,), backend=backend)
    assert report.first_divergent() is None, str(report)
    names = [row["aten"] for row in report.rows]
    assert names.index("relu") < names.index("convolution_1") < names.index("sigmoid") < names.index("addmm")
    assert set(report.rows[0]) >= {"aten", "module", "tflite", "max_abs", "rel"}
    assert all(row["max_abs"] < 1e-4 for row in report.rows)
    folded = [name for name, _ in report.not_in_file]
    assert "convolution" in folded and "_native_batch_norm_legit_no_training" in folded
    assert "have no tensor in the file" in str(report) or "no tensor" in str(report)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_changed_layer_is_flagged_first_and_nothing_before(net, backend):
    model, x = net
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.body[2].weight[0] += 0.5
    edge = pt2lite.convert(changed, (x,))
    report = debug.compare(model, (x,), edge, backend=backend)
    first = report.first_divergent()
    assert first is not None and first["module"] == "body.2" and first["target"] == "aten.convolution.default"
    position = report.rows.index(first)
    assert not any(row["over"] for row in report.rows[:position])
    assert position > 0  # layers before it were compared and agree
    assert "first divergent: convolution_2" in str(report)


def test_compare_works_on_a_loaded_file(net, tmp_path):
    model, x = net
    path = tmp_path / "net.tflite"
    pt2lite.convert(model, (x,)).export(str(path))
    report = debug.compare(model, (x,), str(path))
    assert report.rows and report.first_divergent() is None


def test_preserve_all_tensors_keeps_intermediates_readable():
    class Chain(torch.nn.Module):
        def forward(self, x):
            for _ in range(6):
                x = torch.tanh(x * 1.5 + 0.25)
            return x

    x = torch.randn(1, 64)
    edge = pt2lite.convert(Chain().eval(), (x,))
    reference = {}
    y = x
    for i in range(6):
        reference[f"mul_{i}" if i else "mul"] = (y := y * 1.5)
        y = torch.tanh(y + 0.25)
    rows = {row["node"]: row for row in node_map(edge)["nodes"]}

    def intermediates(preserve):
        it = pt2lite.Interpreter(model_content=edge._flatbuffer, experimental_preserve_all_tensors=preserve)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x.numpy())
        it.invoke()
        return [np.allclose(it.get_tensor(rows[name]["tensor"]), value.numpy(), atol=1e-5)
                for name, value in reference.items()]

    assert all(intermediates(True))
    assert not all(intermediates(False))  # the memory plan reuses them: what the option is for


def test_interpreter_refuses_unknown_flags_and_names_the_new_one():
    import ctypes

    from pt2lite.interpreter import _InterpreterOptions, lib

    edge = pt2lite.convert(torch.nn.ReLU().eval(), (torch.randn(4),))
    model, handle = ctypes.c_void_p(), ctypes.c_void_p()
    assert lib.p2l_model_load(edge._flatbuffer, len(edge._flatbuffer), 0, ctypes.byref(model)) == 0
    options = _InterpreterOptions(size=ctypes.sizeof(_InterpreterOptions), flags=64)
    assert lib.p2l_interpreter_create(model, ctypes.byref(options), ctypes.byref(handle)) != 0
    assert "P2L_INTERPRETER_PRESERVE_ALL_TENSORS" in lib.p2l_last_error().decode()
    lib.p2l_model_free(model)


def test_report_csv_and_model_explorer_node_data(net, tmp_path):
    model, x = net
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.head.weight += 1
    edge = pt2lite.convert(changed, (x,))
    report = debug.compare(model, (x,), edge)
    report.to_csv(tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as f:
        table = list(csv.DictReader(f))
    assert [row["aten"] for row in table] == [row["aten"] for row in report.rows]
    assert {"aten", "module", "tflite", "max_abs", "rel"} <= set(table[0])

    report.to_model_explorer(tmp_path / "errors.json")
    with open(tmp_path / "errors.json") as f:
        data = json.load(f)
    from model_explorer.node_data_builder import GraphNodeData, NodeDataResult, ThresholdItem

    (graph_id, graph), = data.items()
    assert graph_id == "serving_default"  # the subgraph's name in Model Explorer's tflite adapter
    parsed = GraphNodeData(results={k: NodeDataResult(**v) for k, v in graph["results"].items()},
                           thresholds=[ThresholdItem(**t) for t in graph["thresholds"]])
    names = {d["name"] for d in pt2lite.Interpreter(model_content=edge._flatbuffer).get_tensor_details()}
    assert set(parsed.results) <= names  # keyed by output tensor names of the file
    addmm = next(row for row in report.rows if row["aten"] == "addmm")
    assert math.isclose(parsed.results[addmm["tflite"]].value, addmm["rel"])
    assert [t.value for t in parsed.thresholds] == sorted(t.value for t in parsed.thresholds)


def test_visualize_config_and_install_hint(net, tmp_path, monkeypatch, capsys):
    model, x = net
    edge = pt2lite.convert(model, (x,))
    report = debug.compare(model, (x,), edge)
    config = debug.explorer_config(edge, report, str(tmp_path))
    assert config.model_sources == [{"url": str(tmp_path / "model.tflite")}]
    assert config.node_data_sources == [str(tmp_path / "errors.json")]
    assert (tmp_path / "model.tflite").read_bytes() == edge._flatbuffer

    monkeypatch.setitem(sys.modules, "model_explorer", None)  # as if not installed
    assert debug.visualize(edge, report) is None
    assert "pip install ai-edge-model-explorer" in capsys.readouterr().err


def test_find_culprits_for_a_refused_node_writes_a_repro_that_fails_to_convert(tmp_path):
    class Spectrum(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return torch.fft.rfft(torch.relu(self.conv(x))).abs() * 2

    x = torch.randn(1, 3, 4, 6)
    culprits = debug.find_culprits(Spectrum().eval(), (x,), directory=str(tmp_path))
    # the FFT is refused; abs (refused because its input could not be converted) is no culprit of its own
    assert [c.target for c in culprits] == ["aten._fft_r2c.default"]
    script = culprits[0].script
    assert "torch.ops.aten._fft_r2c.default(t0, [3], 0, True)" in script and "[1, 4, 4, 6]" in script
    reproduced, output = debug.run_repro(culprits[0].path)
    assert reproduced, output
    assert "_fft_r2c" in output


def test_find_culprits_for_a_mismatch_writes_a_repro_that_mismatches(tmp_path):
    class Small(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)

        def forward(self, x):
            return torch.tanh(self.conv(x)) + 1

    torch.manual_seed(0)
    # With no tolerance, the first op computed in another order (the convolution's sums) is the culprit.
    culprits = debug.find_culprits(Small().eval(), (torch.randn(1, 3, 9, 9),), atol=0.0, rtol=0.0,
                                   directory=str(tmp_path))
    assert [c.target for c in culprits] == ["aten.convolution.default"]
    assert culprits[0].module == "conv"
    assert "self.register_buffer('t1', torch.randn([8, 3, 3, 3]" in culprits[0].script
    reproduced, output = debug.run_repro(culprits[0].path)
    assert reproduced, output
    assert "differs from PyTorch" in output

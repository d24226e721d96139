"""The zoo's fast subset (bench/zoo_models.py, ci=True): each model exported, converted and run on
LiteRT and on pt2lite's runtime, both within the model's tolerance of PyTorch eager. The full zoo is
`python bench/zoo.py` (docs/zoo.md). Also: the harness turns any failure into a row."""

import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
sys.path.insert(0, BENCH)
import zoo  # noqa: E402
from zoo_models import MODELS  # noqa: E402

CI_MODELS = [m.name for m in MODELS if m.ci]


def test_the_subset_spans_the_families():
    families = {m.family for m in MODELS if m.ci}
    assert {"torchvision", "timm", "transformers", "recurrent"} <= families, families


@pytest.mark.parametrize("name", CI_MODELS)
def test_model_matches_pytorch_on_both_runtimes(name):
    pytest.importorskip("timm") if name.startswith("timm/") else None
    pytest.importorskip("transformers") if name.startswith("hf/") else None
    row = zoo.evaluate(name, zoo.export_model(name))
    assert row["status"] == zoo.PASS, f"{name}: {row.get('reason')}"
    assert float(row["rel_err_litert"]) <= float(row["tolerance"])
    assert float(row["rel_err_pt2lite"]) <= float(row["tolerance"])


def test_a_crashing_worker_becomes_a_row(tmp_path):
    # the worker cannot write its result: it dies with an exception, the driver records why
    row = zoo.run_stage(sys.executable, "--worker", "lstm", str(tmp_path / "missing"), timeout=300)
    assert row["status"] == "crash" and "exit code 1" in row["reason"], row
    assert "FileNotFoundError" in row["reason"], row


def test_a_hanging_worker_becomes_a_row(tmp_path):
    row = zoo.run_stage(sys.executable, "--worker", "resnet18", str(tmp_path), timeout=1)
    assert row == {"status": "timeout", "reason": "no result after 1 s"}


def test_an_export_failure_becomes_a_row(tmp_path, monkeypatch):
    def broken():
        raise RuntimeError("cannot build\nsecond line")
    monkeypatch.setitem(zoo.BY_NAME, "broken", zoo.BY_NAME["lstm"].__class__("broken", "test", broken))
    zoo.worker("broken", str(tmp_path))
    import json
    row = json.loads((tmp_path / "row.json").read_text())
    assert row == {"status": "export failed", "reason": "RuntimeError: cannot build second line"}


def test_rows_merge_and_render(tmp_path):
    rows = {"lstm": {"model": "lstm", "family": "recurrent", "status": "pass", "c_stage_ms": "10", "ratio": "1.5"},
            "gru": {"model": "gru", "family": "recurrent", "status": "mismatch", "reason": "litert: a | b"}}
    path = tmp_path / "zoo.csv"
    zoo.write_csv(rows, str(path))
    again = zoo.read_rows(str(path))
    assert again["gru"]["reason"] == "litert: a | b" and again["lstm"]["ratio"] == "1.5"
    zoo.write_markdown(again, str(tmp_path / "zoo.md"), "test machine")
    text = (tmp_path / "zoo.md").read_text()
    assert "| recurrent | 2 | 2 | 1 |" in text
    assert "- **gru** (mismatch): litert: a / b" in text


def test_test_extra_installs_what_the_ci_models_need():
    # `pip install .[test]` must run every CI model, not skip the timm and HuggingFace ones; the pins
    # are requirements-dev.txt's
    import re
    import tomllib

    root = os.path.dirname(BENCH)
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["test"]
    with open(os.path.join(root, "requirements-dev.txt")) as f:
        pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", f.read(), re.M))
    for package in ("timm", "transformers"):
        assert f"{package}=={pins[package]}" in extra, f"the test extra lacks {package}=={pins[package]}: {extra}"

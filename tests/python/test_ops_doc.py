"""docs/ops.md agrees with the code: regenerating it from lowerings.def and the recorded coverage
gives the committed file, and every lowered op is converted by at least one test."""
import json
import os
import subprocess
import sys

import pytest

import pt2lite

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import gen_ops_doc  # noqa: E402


def test_ops_doc_is_current():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_ops_doc.py"), "--check"])
    assert result.returncode == 0, "docs/ops.md is stale: run python scripts/gen_ops_doc.py"


def test_every_lowered_op_reached_by_a_test():
    """Every lowering (but the refusals) is converted by a test that passed, with no exemptions: the
    overloads torch.export rewrites before saving are reached by tests/python/test_lower_kept_ops.py."""
    with open(gen_ops_doc.COVERAGE) as f:
        coverage = json.load(f)
    assert coverage.get(gen_ops_doc.RECORDED_KEY) == gen_ops_doc.RECORDED_FROM, \
        "docs/ops_coverage.json was recorded before only passing tests counted: run scripts/gen_ops_doc.py --run-tests"
    missing = sorted(t for t, ops in gen_ops_doc.lowerings().items() if t not in coverage and not gen_ops_doc.refused(ops))
    assert not missing, f"lowered but no passing test converts them: {missing}"


def test_coverage_counts_only_passing_tests(tmp_path, monkeypatch):
    """record_coverage keeps the ops of tests that passed and refuses to record when pytest fails."""
    tests = tmp_path / "tests" / "python"
    tests.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    conftest = os.path.join(ROOT, "tests", "python", "conftest.py")
    (tests / "conftest.py").write_text(open(conftest).read())
    (tests / "test_lower_fake.py").write_text(
        "import pytest\nfrom pt2lite._record import record\n"
        "def test_good():\n    record({'good.default': ['float32']})\n"
        "@pytest.mark.xfail(strict=True)\ndef test_xfail():\n    record({'xfailed.default': []}); assert False\n"
        "def test_bad():\n    record({'bad.default': []})\n    assert FAIL\n")
    monkeypatch.setattr(gen_ops_doc, "ROOT", str(tmp_path))
    # the scratch suite imports the pt2lite this process runs (installed, or a source tree on PYTHONPATH)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(pt2lite.__file__)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([package_parent, os.environ.get("PYTHONPATH", "")]))
    with pytest.raises(SystemExit, match="pytest exit status 1"):
        gen_ops_doc.record_coverage()
    (tests / "test_lower_fake.py").write_text((tests / "test_lower_fake.py").read_text().replace("FAIL", "True"))
    coverage = gen_ops_doc.record_coverage()
    assert coverage["good.default"]["tests"] == ["tests/python/test_lower_fake.py::test_good"]
    assert coverage["bad.default"]["tests"] == ["tests/python/test_lower_fake.py::test_bad"]
    assert "xfailed.default" not in coverage

"""docs/ops.md agrees with the code: regenerating it from lowerings.def and the recorded coverage
gives the committed file, and every lowered op is converted by at least one test."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import gen_ops_doc  # noqa: E402


def test_ops_doc_is_current():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_ops_doc.py"), "--check"])
    assert result.returncode == 0, "docs/ops.md is stale: run python scripts/gen_ops_doc.py"


def test_every_lowered_op_reached_by_a_test():
    with open(gen_ops_doc.COVERAGE) as f:
        coverage = json.load(f)
    # overloads torch.export never emits after run_decompositions (they decompose first) are exercised
    # through the overload they become; everything else must appear in some test's exported graph
    never_exported = {"reshape.default", "_unsafe_view.default", "squeeze.default", "upsample_bilinear2d.default",
                      "upsample_nearest2d.default", "dropout.default", "lift_fresh_copy.default",
                      "silu.default", "hardswish.default", "hardsigmoid.default",
                      # core ops that torch 2.14's default decompositions rewrite before an archive is saved
                      # (F.pad reflect/replicate -> index ops, rsub -> sub, var.dim -> var.correction, ...);
                      # their lowerings serve archives exported with other decomposition tables
                      "_native_batch_norm_legit.default", "fill.Scalar", "reflection_pad1d.default",
                      "reflection_pad2d.default", "reflection_pad3d.default", "replication_pad2d.default",
                      "replication_pad3d.default", "rsub.Scalar", "rsub.Tensor", "select_scatter.default",
                      "squeeze.dim", "var.dim"}
    missing = sorted(t for t, ops in gen_ops_doc.lowerings().items()  # noqa: E501
                     if t not in coverage and t not in never_exported and not gen_ops_doc.refused(ops))
    assert not missing, f"lowered but no test converts them: {missing}"

"""Writes docs/ops.md: every core ATen overload (and the non-core ops exported graphs keep), whether
pt2lite lowers it, the TFLite ops it becomes, the dtypes and the tests that prove it.

    python scripts/gen_ops_doc.py              # from lowerings.def + docs/ops_coverage.json
    python scripts/gen_ops_doc.py --run-tests  # first re-record which tests convert which ops

The coverage record comes from running the op tests with PT2LITE_RECORD_OPS set: pt2lite.convert
then appends, per test, the ATen targets (and their output dtypes) of each program it converted, and
the tests' report hook the ids of the tests that passed; an op counts as tested only by a test that
passed. If any op test fails, the script exits with an error and changes nothing.
tests/python/test_ops_doc.py fails when this file and the code disagree."""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COVERAGE = os.path.join(ROOT, "docs", "ops_coverage.json")
OUTPUT = os.path.join(ROOT, "docs", "ops.md")
DELEGATION_KEY = "#xnnpack"  # in the coverage record: TFLite op -> [ops XNNPACK took, ops emitted]
RECORDED_KEY, RECORDED_FROM = "#recorded", "conversions by tests that passed"  # tells this record from older ones

# Non-core overloads that exported graphs commonly keep (listed even when not lowered).
NOTABLE_EXTRAS = [
    "upsample_nearest2d.vec", "upsample_bilinear2d.vec", "var_mean.correction", "_assert_tensor_metadata.default",
    "quantized_decomposed.quantize_per_tensor.default", "quantized_decomposed.dequantize_per_tensor.default",
    "quantized_decomposed.quantize_per_channel.default", "quantized_decomposed.dequantize_per_channel.default",
]


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def lowerings():
    """target -> TFLite ops (for a refused op, R rows: "(unsupported: why)"), from src/lower/lowerings.def."""
    table = read("src/lower/lowerings.def")
    lowered = re.findall(r'^L\("([^"]+)", \w+, "([^"]*)"\)', table, re.M)
    refused = re.findall(r'^R\("([^"]+)", "([^"]*)",', table, re.M)
    return dict(lowered + refused)


def schema_table():
    """(core overloads, all known overloads) from src/pt2/aten_schemas.inc."""
    rows = re.findall(r'^X\("([^"]+)", (\d),', read("src/pt2/aten_schemas.inc"), re.M)
    return [name for name, core in rows if core == "1"], {name for name, _ in rows}


def record_coverage():
    """Runs the op tests with recording on; returns {target: {"tests": [...], "dtypes": [...]}} counting
    only the conversions of tests that passed. Exits (writing nothing) if any op test fails."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    env = dict(os.environ, PT2LITE_RECORD_OPS=path)
    # the op tests, and the tests of lowerings that need a whole program (symbolic sizes, PT2E Q/DQ)
    tests = sorted(os.path.join("tests", "python", n) for n in os.listdir(os.path.join(ROOT, "tests", "python"))
                   if n.startswith("test_lower_") or n in ("test_dynamic.py", "test_pt2e.py"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT, env=env)
    if result.returncode != 0:
        os.unlink(path)
        sys.exit(f"gen_ops_doc.py: the op tests failed (pytest exit status {result.returncode}); "
                 "docs/ops_coverage.json and docs/ops.md are left as they were")
    with open(path) as f:
        entries = [json.loads(line) for line in f]
    os.unlink(path)
    # only what tests that passed converted counts (the conftest hook appends {"passed": node id})
    passed = {entry["passed"] for entry in entries if "passed" in entry}
    coverage = collections.defaultdict(lambda: {"tests": set(), "dtypes": set()})
    delegation = collections.defaultdict(lambda: [0, 0])  # TFLite op -> [taken by XNNPACK, emitted]
    for entry in entries:
        if "test" not in entry:
            continue
        nodeid = entry["test"].rsplit(" (", 1)[0]  # PYTEST_CURRENT_TEST: "<node id> (call)"
        if nodeid not in passed:
            continue
        test = nodeid.split("[")[0]
        for target, dtypes in entry.get("ops", {}).items():
            coverage[target]["tests"].add(test)
            coverage[target]["dtypes"].update(dtypes)
        for op, taken in entry.get("tflite_ops", []):
            delegation[op][0] += bool(taken)
            delegation[op][1] += 1
    result = {t: {"tests": sorted(v["tests"]), "dtypes": sorted(v["dtypes"])} for t, v in sorted(coverage.items())}
    result[DELEGATION_KEY] = {op: counts for op, counts in sorted(delegation.items())}
    result[RECORDED_KEY] = RECORDED_FROM
    return result


def refused(tflite_ops):
    """Rows whose lowering only explains why the op cannot be converted: "(unsupported: reason)"."""
    return tflite_ops.startswith("(unsupported")


def render(all_rows, core, coverage):
    lowered = {k: v for k, v in all_rows.items() if not refused(v)}
    inference_core = [name for name in core if "backward" not in name]
    covered = [name for name in inference_core if name in lowered]
    delegation = coverage.get(DELEGATION_KEY, {})
    taken = sum(t for t, _ in delegation.values())
    emitted = sum(n for _, n in delegation.values())
    lines = [
        "# Operator coverage",
        "",
        "Generated by `scripts/gen_ops_doc.py` from `src/lower/lowerings.def` (what the converter lowers) and",
        "`docs/ops_coverage.json` (which tests convert each op and with which dtypes). Do not edit by hand.",
        "",
        f"**Core ATen: {len(covered)} of {len(inference_core)} inference-relevant overloads lowered "
        f"({100.0 * len(covered) / len(inference_core):.0f}%)** — torch.Tag.core has {len(core)} overloads, "
        f"{len(core) - len(inference_core)} of them backward ops, which inference graphs never contain.",
        "",
        f"**LiteRT's XNNPACK path took {taken} of the {emitted} TFLite ops the op tests emitted "
        f"({100.0 * taken / max(emitted, 1):.0f}%)**; by op type at the end of this page.",
        "",
        "Lowered: `yes`; `no`: the converter recognizes the op and refuses it with the reason shown (an",
        "exported graph containing it gets that message); `not yet`: no lowering.",
        "",
        "| ATen overload | core | lowered | TFLite ops | dtypes tested | tests |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    names = sorted(set(inference_core) | set(all_rows) | set(NOTABLE_EXTRAS))
    for name in names:
        cov = coverage.get(name, {"tests": [], "dtypes": []})
        tests = ", ".join(f"`{t.split('::')[-1]}`" for t in cov["tests"][:3])
        if len(cov["tests"]) > 3:
            tests += f" (+{len(cov['tests']) - 3})"
        status = "yes" if name in lowered else "no" if name in all_rows else "not yet"
        ops = all_rows.get(name, "")
        ops = ops[1:-1] if refused(ops) else ops  # "(unsupported: why)" -> "unsupported: why"
        lines.append(f"| `{name}` | {'yes' if name in core else ''} | {status} | {ops} | "
                     f"{', '.join(cov['dtypes']) if name in lowered else ''} | {tests if name in lowered else ''} |")
    lines += ["", "## TFLite ops emitted by the op tests, and how many LiteRT's XNNPACK path took", "",
              "| TFLite op | taken by XNNPACK | emitted |", "| --- | --- | --- |"]
    for op, (took, count) in sorted(delegation.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0])):
        lines.append(f"| {op} | {took} | {count} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-tests", action="store_true", help="re-record docs/ops_coverage.json first")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/ops.md is not current")
    args = parser.parse_args()
    if args.run_tests:
        recorded = record_coverage()  # the tests run first: the file is left as it was if they fail
        with open(COVERAGE, "w") as f:
            json.dump(recorded, f, indent=1, sort_keys=True)
            f.write("\n")
    coverage = json.load(open(COVERAGE)) if os.path.exists(COVERAGE) else {}
    core, _ = schema_table()
    text = render(lowerings(), core, coverage)
    if args.check:
        current = open(OUTPUT).read() if os.path.exists(OUTPUT) else ""
        sys.exit(0 if current == text else 1)
    with open(OUTPUT, "w") as f:
        f.write(text)
    print(text.splitlines()[5])
    print(text.splitlines()[7])


if __name__ == "__main__":
    main()

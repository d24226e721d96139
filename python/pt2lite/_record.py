"""Test-time instrumentation for docs/ops.md: when PT2LITE_RECORD_OPS names a file, each conversion
appends the ATen targets of the exported program and their output dtypes, with the current test, and
tests/python/conftest.py appends the id of each test that passed. scripts/gen_ops_doc.py counts an op
as tested only when a test that passed converted it."""
import json
import os


def program_ops(program):
    """{target: set of output dtypes} of an ExportedProgram's ATen calls ("convolution.default")."""
    ops = {}
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        if hasattr(node.target, "name"):
            namespace, _, name = node.target.name().partition("::")  # "aten::convolution" + overload
            if "." not in name:
                name += "." + node.target._overloadname
            target = name if namespace == "aten" else f"{namespace}.{name}"  # quantized_decomposed.*
        elif getattr(node.target, "__module__", None) == "_operator":  # symbolic size arithmetic
            target = f"_operator.{node.target.__name__}"
        else:
            continue
        val = node.meta.get("val")
        vals = val if isinstance(val, (list, tuple)) else [val]
        dtypes = ops.setdefault(target, set())
        for v in vals:
            if hasattr(v, "dtype"):
                dtypes.add(str(v.dtype).replace("torch.", ""))
    return ops


def record_ops(program):
    """Records the ops of a program the current test converted (a no-op unless recording)."""
    if os.environ.get("PT2LITE_RECORD_OPS"):
        record(program_ops(program))


def record(ops):
    """Appends {target: dtypes} for the current test. Tests that convert an archive they edited (a
    graph torch.export never produces) record its ops with this."""
    path = os.environ.get("PT2LITE_RECORD_OPS")
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"test": os.environ.get("PYTEST_CURRENT_TEST", ""),
                            "ops": {k: sorted(v) for k, v in ops.items()}}) + "\n")


def record_passed(nodeid):
    """Marks a test as passed (called by the test suite's report hook)."""
    path = os.environ.get("PT2LITE_RECORD_OPS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"passed": nodeid}) + "\n")

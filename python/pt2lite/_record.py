"""Test-time instrumentation for docs/ops.md: when PT2LITE_RECORD_OPS names a file, each conversion
appends the ATen targets of the exported program and their output dtypes, with the current test."""
import json
import os


def record_ops(program):
    path = os.environ.get("PT2LITE_RECORD_OPS")
    if not path:
        return
    ops = {}
    for node in program.graph.nodes:
        if node.op != "call_function" or not hasattr(node.target, "name"):
            continue
        name = node.target.name()  # "aten::convolution" + overload
        target = name.split("::", 1)[-1]
        if "." not in target:
            target += "." + node.target._overloadname
        val = node.meta.get("val")
        vals = val if isinstance(val, (list, tuple)) else [val]
        dtypes = ops.setdefault(target, set())
        for v in vals:
            if hasattr(v, "dtype"):
                dtypes.add(str(v.dtype).replace("torch.", ""))
    with open(path, "a") as f:
        f.write(json.dumps({"test": os.environ.get("PYTEST_CURRENT_TEST", ""),
                            "ops": {k: sorted(v) for k, v in ops.items()}}) + "\n")

"""The C tables written from the TFLite schema and from torch agree with their sources:
src/tflite/ops.def and options.def against LiteRT's generated schema, src/pt2/aten_schemas.inc
against the installed torch."""
import os
import re
import subprocess
import sys

import pytest

schema = pytest.importorskip("ai_edge_litert.schema_py_generated")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def test_builtin_codes_match_litert_schema():
    rows = re.findall(r"^X\((\w+), (\d+), (\w+)\)", read("src/tflite/ops.def"), re.M)
    assert len(rows) > 50
    for name, code, _ in rows:
        assert getattr(schema.BuiltinOperator, name) == int(code), name


def options_rows():
    """(NAME, union code, [field name or None for a deprecated id]) per options.def row."""
    text = read("src/tflite/options.def")
    rows = [(name, int(code), []) for name, code in re.findall(r"^NO_FIELDS\((\w+), (\d+)\)$", text, re.M)]
    for name, member, code, fields in re.findall(r"^X\((\w+), (\w+), (\d+), (.*)\)$", text, re.M):
        assert member == name.lower() or member.replace("_", "") == name.replace("_", "").lower(), (name, member)
        ids = []
        for kind, args in re.findall(r"(DEPRECATED_FIELD|FIELD_DEFAULT|FIELD)\(([^)]*)\)", fields):
            ids.append(None if kind == "DEPRECATED_FIELD" else args.split(",")[1].strip())
        assert ids, name
        rows.append((name, int(code), ids))
    lines = [l for l in text.splitlines() if l.startswith(("X(", "NO_FIELDS("))]
    assert len(rows) == len(lines), "a row of options.def does not parse"
    return rows


def test_options_union_codes_and_field_ids_match_litert_schema():
    table_of_code = {v: k for k, v in vars(schema.BuiltinOptions).items() if not k.startswith("_")}
    checked = 0
    for name, code, fields in options_rows():
        if name == "NONE":
            continue
        table = table_of_code[code]
        # the row names the table: CONV2D ~ Conv2DOptions, MAXIMUM_MINIMUM ~ MaximumMinimumOptions
        assert name.replace("_", "").lower() == table[: -len("Options")].lower(), (name, table)
        cls = getattr(schema, table)
        for field_id, field_name in enumerate(fields):
            if field_name is None:
                continue
            method = getattr(cls, "".join(p[:1].upper() + p[1:] for p in field_name.split("_")))
            offsets = [c for c in method.__code__.co_consts if isinstance(c, int) and c >= 4]
            assert 4 + 2 * field_id in offsets, (table, field_name, field_id, offsets)
            checked += 1
    assert checked > 40


def test_aten_schema_table_is_current():
    generated = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_aten_schemas.py"), "-"],
                               check=True, capture_output=True, text=True).stdout
    assert generated == read("src/pt2/aten_schemas.inc"), "run scripts/gen_aten_schemas.py"


def test_every_lowered_op_has_a_schema():
    lowered = re.findall(r'^[LR]\("([^"]+)"', read("src/lower/lowerings.def"), re.M)
    schemas = set(re.findall(r'^X\("([^"]+)"', read("src/pt2/aten_schemas.inc"), re.M))
    assert len(lowered) == len(set(lowered)), "a target is listed twice in lowerings.def"
    # Python's operator functions (symbolic size arithmetic: _operator.mul, ...) take two positional
    # operands and have no ATen schema
    missing = [t for t in lowered if t not in schemas and not t.startswith("_operator.")]
    assert not missing, f"add these to EXTRA in scripts/gen_aten_schemas.py: {missing}"

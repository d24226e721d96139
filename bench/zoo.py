"""The model zoo: build each model with random weights, export, convert, run on LiteRT and on
pt2lite's runtime, compare both with PyTorch eager, and write the table (docs/zoo.md and docs/zoo.csv).

    python bench/zoo.py                         # every model (about an hour on 2 cores)
    python bench/zoo.py --models hf/bert,lstm   # some models; their rows replace those in the CSV
    python bench/zoo.py --family timm --ci      # filters: a family, the CI subset
    python bench/zoo.py --list

Each model runs in its own subprocess with a time limit, so a failure of any kind (export error,
conversion error, a crash, a hang, running out of memory) becomes a row with its reason and the
harness goes on. Rows are merged into docs/zoo.csv by model name, and docs/zoo.md is regenerated
from the whole CSV, so a partial run updates the table instead of replacing it.

torchaudio rows: torchaudio pairs with another torch release, so those models are exported by a
second Python environment (PT2LITE_AUDIO_PYTHON, default ~/.cache/pt2lite/venv-audio/bin/python)
into a .pt2 archive plus inputs and PyTorch's outputs; conversion and both runtimes then run here
(the archive format is the same). Without that environment those rows say so.

Tolerance: max |got - expected| <= rel * max |expected| per output (rel = 1e-4 unless a model's entry
gives a larger one with its reason). Latency: median of interleaved runs at 1 thread, same .tflite.
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from zoo_models import BY_NAME, MODELS  # noqa: E402

FIELDS = ["model", "family", "params_m", "status", "reason", "rel_err_litert", "rel_err_pt2lite", "tolerance",
          "export_s", "c_stage_ms", "litert_ms", "pt2lite_ms", "ratio", "xnnpack", "ops", "transposes", "note"]
AUDIO_PYTHON = os.environ.get("PT2LITE_AUDIO_PYTHON",
                              os.path.expanduser("~/.cache/pt2lite/venv-audio/bin/python"))
PASS = "pass"


def first_line(error):
    text = f"{type(error).__name__}: {error}".strip()
    lines = [line for line in text.splitlines() if line.strip()]
    line = " ".join(lines[:3]) if lines else type(error).__name__
    return line[:300]


# ---------------------------------------------------------------------------------------------------------
# Stage 1 (either environment): build, calibrate, run eager, export.

def calibrate_batch_norm(module, args):
    """Random weights with the default BatchNorm statistics (mean 0, var 1) make activations shrink
    layer after layer until any converter "matches". One train-mode pass on a batch of two random
    inputs sets the statistics to the real ones, so every layer carries O(1) values."""
    import torch

    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    batch = tuple(torch.cat([a, torch.randn_like(a)]) if a.is_floating_point() else torch.cat([a, a]) for a in args)
    module.train()
    try:
        with torch.no_grad():
            module(*batch)
    finally:
        module.eval()


def export_model(name):
    """-> dict with archive bytes, inputs and expected outputs (numpy), params, export time."""
    import io

    import torch

    spec = BY_NAME[name]
    torch.manual_seed(0)
    module, args = spec.build()
    module = module.eval()
    calibrate_batch_norm(module, args)
    params = sum(p.numel() for p in module.parameters()) / 1e6
    with torch.no_grad():
        expected = [t.numpy() for t in torch.utils._pytree.tree_leaves(module(*args)) if isinstance(t, torch.Tensor)]
    t0 = time.perf_counter()
    program = torch.export.export(module, args).run_decompositions()
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return {"archive": buffer.getvalue(), "inputs": [a.numpy() for a in args], "expected": expected,
            "params_m": params, "export_s": time.perf_counter() - t0}


def save_export(exported, directory):
    import numpy as np

    with open(os.path.join(directory, "model.pt2"), "wb") as f:
        f.write(exported["archive"])
    np.savez(os.path.join(directory, "inputs.npz"), *exported["inputs"])
    np.savez(os.path.join(directory, "expected.npz"), *exported["expected"])
    with open(os.path.join(directory, "meta.json"), "w") as f:
        json.dump({"params_m": exported["params_m"], "export_s": exported["export_s"]}, f)


def load_export(directory):
    import numpy as np

    with open(os.path.join(directory, "model.pt2"), "rb") as f:
        archive = f.read()
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)

    def arrays(file):
        with np.load(os.path.join(directory, file)) as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]
    return dict(meta, archive=archive, inputs=arrays("inputs.npz"), expected=arrays("expected.npz"))


# ---------------------------------------------------------------------------------------------------------
# Stage 2 (this environment): convert, run both runtimes, compare, time.

def relative_errors(got, expected):
    """max |g - e| / max |e| per output (a floor of 1e-6 on the scale keeps all-zero outputs honest)."""
    import numpy as np

    if len(got) != len(expected):
        raise ValueError(f"{len(got)} outputs, expected {len(expected)}")
    errors = []
    for g, e in zip(got, expected):
        if g.shape != e.shape:
            raise ValueError(f"output shape {g.shape} != {e.shape}")
        if e.dtype == np.bool_ or np.issubdtype(e.dtype, np.integer):
            errors.append(0.0 if np.array_equal(g, e.astype(g.dtype)) else math.inf)
            continue
        scale = max(1e-6, float(np.max(np.abs(e)))) if e.size else 1.0
        errors.append(float(np.max(np.abs(g.astype(np.float64) - e))) / scale if e.size else 0.0)
    return max(errors, default=0.0)


def interleaved_latency(content, inputs, runs=10, budget_s=4.0):
    """Median invoke() latency (ms) of LiteRT and pt2lite at 1 thread, the two alternating."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    import pt2lite

    interpreters = []
    for cls in (LiteRT, pt2lite.Interpreter):
        interpreter = cls(model_content=content, num_threads=1)
        interpreter.allocate_tensors()
        for detail, x in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], np.ascontiguousarray(x, dtype=detail["dtype"]))
        interpreter.invoke()  # warm-up
        interpreters.append(interpreter)
    times = ([], [])
    start = time.perf_counter()
    for i in range(runs):
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            interpreters[which].invoke()
            times[which].append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s and i >= 2:
            break
    return [statistics.median(t) * 1000 for t in times]


def evaluate(name, exported):
    """Converts and runs an exported model; returns its row."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import pt2lite
    from conftest import run_litert, run_pt2lite, tflite_ops, xnnpack_delegation

    spec = BY_NAME[name]
    row = {"params_m": f"{exported['params_m']:.2f}", "export_s": f"{exported['export_s']:.1f}",
           "tolerance": f"{spec.rel:g}"}
    t0 = time.perf_counter()
    try:
        content = pt2lite.convert_pt2(exported["archive"])
    except pt2lite.Pt2liteError as e:
        return dict(row, status="convert failed", reason=first_line(e))
    row["c_stage_ms"] = f"{(time.perf_counter() - t0) * 1000:.0f}"
    ops = tflite_ops(content)
    delegated, total = xnnpack_delegation(content)
    row.update(ops=len(ops), transposes=ops.count("TRANSPOSE"), xnnpack=f"{delegated}/{total}")
    inputs, expected = exported["inputs"], exported["expected"]
    failures = []
    for runtime, run in (("litert", run_litert), ("pt2lite", run_pt2lite)):
        try:
            err = relative_errors(run(content, inputs), expected)
            row[f"rel_err_{runtime}"] = f"{err:.2g}"
            if not err <= spec.rel:
                failures.append(f"{runtime}: relative error {err:.2g} > {spec.rel:g}")
        except Exception as e:  # a runtime error is this model's result, not the harness's
            failures.append(f"{runtime}: {first_line(e)}")
    if failures:
        return dict(row, status="mismatch", reason="; ".join(failures))
    litert_ms, pt2lite_ms = interleaved_latency(content, inputs)
    return dict(row, status=PASS, litert_ms=f"{litert_ms:.2f}", pt2lite_ms=f"{pt2lite_ms:.2f}",
                ratio=f"{pt2lite_ms / litert_ms:.2f}")


def worker(name, directory):
    """Runs one model; writes its row to directory/row.json. Export is skipped when a previous stage
    (the torchaudio environment) left the archive in directory."""
    if os.path.exists(os.path.join(directory, "model.pt2")):
        exported = load_export(directory)
    else:
        try:
            exported = export_model(name)
        except Exception as e:
            row = {"status": "export failed", "reason": first_line(e)}
            with open(os.path.join(directory, "row.json"), "w") as f:
                json.dump(row, f)
            return
    row = evaluate(name, exported)
    with open(os.path.join(directory, "row.json"), "w") as f:
        json.dump(row, f)


def export_worker(name, directory):
    """The torchaudio environment's part: export only, saving what stage 2 needs."""
    try:
        save_export(export_model(name), directory)
    except Exception as e:
        with open(os.path.join(directory, "row.json"), "w") as f:
            json.dump({"status": "export failed", "reason": first_line(e)}, f)


# ---------------------------------------------------------------------------------------------------------
# The driver: one subprocess per model, rows merged into the CSV, Markdown from the CSV.

def run_stage(python, flag, name, directory, timeout):
    """Runs this script as a subprocess; returns a failure row, or None when it ran to the end."""
    cmd = [python, os.path.abspath(__file__), flag, name, "--dir", directory]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"no result after {timeout} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        signal = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        return {"status": "crash", "reason": f"{signal}: {' | '.join(tail)}"[:300]}
    return None


def run_model(spec, timeout):
    with tempfile.TemporaryDirectory(prefix="zoo-") as directory:
        failure = None
        if spec.env == "audio":
            if not os.path.exists(AUDIO_PYTHON):
                return {"status": "not run", "reason": f"no torchaudio environment ({AUDIO_PYTHON})"}
            failure = run_stage(AUDIO_PYTHON, "--export-worker", spec.name, directory, timeout)
        if failure is None and not os.path.exists(os.path.join(directory, "row.json")):
            failure = run_stage(sys.executable, "--worker", spec.name, directory, timeout)
        if failure is not None:
            return failure
        with open(os.path.join(directory, "row.json")) as f:
            return json.load(f)


def read_rows(path):
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {row["model"]: row for row in csv.DictReader(f)}


def write_csv(rows, path):
    order = {m.name: i for i, m in enumerate(MODELS)}
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for name in sorted(rows, key=lambda n: order.get(n, len(order))):
            writer.writerow({k: rows[name].get(k, "") for k in FIELDS})


def headline(rows):
    """Per family: passing / exported (and listed); medians of conversion time and latency ratio."""
    families = {}
    for row in rows:
        families.setdefault(row["family"], []).append(row)
    lines = ["| family | models | exported | passing (both runtimes) |", "|---|---:|---:|---:|"]
    for family, members in list(families.items()) + [("all", rows)]:
        exported = [r for r in members if r["status"] not in ("export failed", "not run")]
        passing = [r for r in members if r["status"] == PASS]
        label = f"**{family}**" if family == "all" else family
        lines.append(f"| {label} | {len(members)} | {len(exported)} | {len(passing)} |")
    c_stage = [float(r["c_stage_ms"]) for r in rows if r.get("c_stage_ms")]
    ratios = [float(r["ratio"]) for r in rows if r.get("ratio")]
    lines.append("")
    if c_stage:
        lines.append(f"Median conversion time (C stage, archive to .tflite): {statistics.median(c_stage):.0f} ms "
                     f"over {len(c_stage)} models.")
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        lines.append(f"Median latency ratio pt2lite runtime / LiteRT (1 thread): {statistics.median(ratios):.2f} "
                     f"(geometric mean {geo:.2f}) over {len(ratios)} models.")
    return lines


def source_version():
    """The commit the measured library was built from, with -dirty for uncommitted changes other than
    the zoo's own output files (this run rewrites them as it goes)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/zoo.csv", ":!docs/zoo.md")
        return commit + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_markdown(rows, path, machine):
    columns = [("model", "model"), ("family", "family"), ("params_m", "params (M)"), ("status", "status"),
               ("rel_err_litert", "rel. error LiteRT"), ("rel_err_pt2lite", "rel. error pt2lite"),
               ("tolerance", "tolerance"), ("export_s", "export (s)"), ("c_stage_ms", "convert (ms)"),
               ("litert_ms", "LiteRT (ms)"), ("pt2lite_ms", "pt2lite (ms)"), ("ratio", "ratio"),
               ("xnnpack", "XNNPACK ops"), ("transposes", "TRANSPOSE")]
    ordered = [rows[m.name] for m in MODELS if m.name in rows]
    out = ["# Model zoo", "",
           "Generated by `python bench/zoo.py` (see its docstring): each model built with random weights, "
           "exported by torch.export, converted by pt2lite's C converter, run on the official LiteRT runtime "
           "and on pt2lite's runtime, and compared with PyTorch eager. Relative error: max |got - expected| / "
           "max |expected| over the outputs. Latency: median invoke() at 1 thread, the two runtimes interleaved "
           "on the same .tflite. XNNPACK ops: ops LiteRT's default XNNPACK delegate takes / all ops.", "",
           f"Machine: {machine}. Source: {source_version()}, {time.strftime('%Y-%m-%d')}.", ""]
    out += headline(ordered)
    out += ["", "| " + " | ".join(title for _, title in columns) + " |",
            "|" + "|".join("---" if key in ("model", "family", "status") else "---:" for key, _ in columns) + "|"]
    for row in ordered:
        out.append("| " + " | ".join(str(row.get(key, "")) for key, _ in columns) + " |")
    notes = [r for r in ordered if r["status"] != PASS or BY_NAME[r["model"]].why]
    if notes:
        out += ["", "## Failures and notes", ""]
        for row in notes:
            spec = BY_NAME[row["model"]]
            text = row.get("reason") or ""
            if spec.why:
                note = f"tolerance {spec.rel:g}: {spec.why}" if spec.rel > 1e-4 else spec.why
                text = (text + " " if text else "") + f"({note})"
            out.append(f"- **{row['model']}** ({row['status']}): {text.replace('|', '/')}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def machine_line():
    sys.path.insert(0, HERE)
    from runtime import machine

    return machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated model names")
    parser.add_argument("--family")
    parser.add_argument("--ci", action="store_true", help="only the CI subset")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per model and stage")
    parser.add_argument("--csv", default=os.path.join(ROOT, "docs", "zoo.csv"))
    parser.add_argument("--markdown", default=os.path.join(ROOT, "docs", "zoo.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--export-worker", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.dir)
    if args.export_worker:
        return export_worker(args.export_worker, args.dir)

    selected = MODELS
    if args.models:
        unknown = [n for n in args.models.split(",") if n not in BY_NAME]
        if unknown:
            parser.error(f"unknown models: {', '.join(unknown)} (--list shows them)")
        selected = [BY_NAME[n] for n in args.models.split(",")]
    if args.family:
        selected = [m for m in selected if m.family == args.family]
    if args.ci:
        selected = [m for m in selected if m.ci]
    if args.list:
        for m in selected:
            print(f"{m.name:40s} {m.family}{' (ci)' if m.ci else ''}")
        return
    rows = read_rows(args.csv)
    for i, spec in enumerate(selected):
        t0 = time.perf_counter()
        row = dict(run_model(spec, args.timeout), model=spec.name, family=spec.family, note=spec.why)
        row.setdefault("tolerance", f"{spec.rel:g}")
        rows[spec.name] = row
        print(f"[{i + 1}/{len(selected)}] {spec.name}: {row['status']} "
              f"{row.get('reason') or ''} ({time.perf_counter() - t0:.0f} s)", flush=True)
        write_csv(rows, args.csv)  # after every model: an interrupted run keeps what it measured
    write_markdown(rows, args.markdown, machine_line())
    print("\n".join(headline([rows[m.name] for m in MODELS if m.name in rows])))


if __name__ == "__main__":
    main()

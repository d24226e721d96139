"""Quantized models (issue 11's figures): for torchvision CNNs (random weights), each quantization route
converted by pt2lite: file size against the float file, error against the route's reference, and latency
at 1 and 2 threads on LiteRT (ai_edge_litert, default XNNPACK) and on pt2lite's runtime, with the ratios
the issue's targets name.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so ~/.cache/pt2lite/venv/bin/python \\
        bench/quant.py [--models resnet18,...] [--size 224] [--runs 20] [--litert-torch]

Routes (ROUTES): "pt2e" is torchao's prepare_pt2e / convert_pt2e with the XNNPACK-style symmetric quantizer
(int8 per-channel weights, int8 per-tensor activations), calibrated on a few random inputs; its reference
is PyTorch running the Q/DQ graph. The recipe routes ("fp16", "dynamic_int8", "int8" with calibration)
call pt2lite.convert(..., quantize=...); their reference is the float model; a recipe pt2lite does not
have yet is skipped with its message. --litert-torch adds litert-torch's PT2E int8 file of the same model
(made in the second virtual environment, ~/.cache/pt2lite/venv-lt, by this script's --export-litert-torch
mode), timed on LiteRT only: the "no slower than litert-torch's files" target.

Error: cosine similarity and max relative error (max |got - ref| / max |ref|) of LiteRT running the file
(pt2lite's runtime gives the same int8 outputs; the column "steps" is the largest difference between the
two runtimes' outputs in output quantization steps, for int8 files). Latency: median of --runs invokes after
3 warm-up runs. Ratios: int8/float per runtime (target <= 0.5, geometric mean over the models), pt2lite /
LiteRT on each file (target: geometric mean <= 1.0 on the int8 files, no model above 1.2), file size int8 /
float (target <= 0.3).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ("resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0")
LITERT_TORCH_PYTHON = os.path.expanduser("~/.cache/pt2lite/venv-lt/bin/python")


def cpu_description():
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
    return (f"{name} ({os.cpu_count()} cores; {', '.join(isa) or 'no AVX2'}"
            f"{'' if 'avx512f' in flags else '; no AVX-512/VNNI'})")


def build_model(name, size):
    """A torchvision model with random weights whose batch-norm statistics come from random inputs (so
    activations have realistic ranges) and whose classifier does not round every logit to 0."""
    import torch
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    with torch.no_grad():
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, size, size))
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=0.1)
    return model.eval(), (torch.randn(1, 3, size, size),)


def calibration_inputs(args, count=4):
    import torch
    g = torch.Generator().manual_seed(1)
    return [tuple(torch.randn(a.shape, generator=g) for a in args) for _ in range(count)] + [args]


def pt2e_quantize(model, args, quantize_pt2e, quantizer, **convert_kwargs):
    """torch.export -> prepare_pt2e -> calibration -> convert_pt2e."""
    import torch
    prepared = quantize_pt2e.prepare_pt2e(torch.export.export(model, args).module(), quantizer)
    with torch.no_grad():
        for batch in calibration_inputs(args):
            prepared(*batch)
    return quantize_pt2e.convert_pt2e(prepared, **convert_kwargs)


# ------------------------------------------------------------ routes

def route_pt2e(model, args):
    import pt2lite
    from torchao.quantization.pt2e import quantize_pt2e
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qm = pt2e_quantize(model, args, quantize_pt2e, quantizer)
        reference = qm(*args)
    return pt2lite.convert(qm, args).model_content(), reference


def recipe_route(recipe, calibrated=False):
    def make(model, args):
        import pt2lite
        kwargs = {"calibration": calibration_inputs(args)} if calibrated else {}
        return pt2lite.convert(model, args, quantize=recipe, **kwargs).model_content(), None  # float reference
    return make


def route_litert_torch(model_name, size):
    """litert-torch's PT2E int8 file, made in its own virtual environment."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tflite")
        subprocess.run([LITERT_TORCH_PYTHON, os.path.abspath(__file__), "--export-litert-torch", model_name,
                        str(size), path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with open(path, "rb") as f:
            return f.read()


# name, function(model, args) -> (flatbuffer, reference or None for the float model), int8 compute
ROUTES = (
    ("pt2e", route_pt2e, True),
    ("fp16", recipe_route("fp16"), False),
    ("dynamic_int8", recipe_route("dynamic_int8"), False),
    ("int8", recipe_route("int8", calibrated=True), True),
)


# ------------------------------------------------------------ measuring

def run_once(interpreter, inputs):
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def median_ms(interpreter, runs):
    for _ in range(3):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def latencies(content, inputs, runs, pt2lite_too=True):
    """{(runtime, threads): ms} and the first output of each runtime (1 thread)."""
    import ai_edge_litert.interpreter as litert
    import pt2lite
    times, outputs = {}, {}
    runtimes = [("litert", litert.Interpreter)] + ([("pt2lite", pt2lite.Interpreter)] if pt2lite_too else [])
    for runtime, cls in runtimes:
        for threads in (1, 2):
            interpreter = cls(model_content=content, num_threads=threads)
            out = run_once(interpreter, inputs)
            if threads == 1:
                outputs[runtime] = out[0]
            times[runtime, threads] = median_ms(interpreter, runs)
    return times, outputs


def output_step(content):
    import ai_edge_litert.interpreter as litert
    interpreter = litert.Interpreter(model_content=content)
    details = interpreter.get_output_details()[0]
    if details["dtype"] == np.int8:
        return details["quantization"][0]
    # a float output behind a DEQUANTIZE: that op's input step
    for t in interpreter.get_tensor_details():
        if t["dtype"] == np.int8 and t["quantization"][0]:
            step = t["quantization"][0]
    return step


def errors(got, reference):
    got, reference = np.asarray(got, np.float64).ravel(), np.asarray(reference, np.float64).ravel()
    cosine = float(got @ reference / (np.linalg.norm(got) * np.linalg.norm(reference) + 1e-30))
    return cosine, float(np.max(np.abs(got - reference)) / (np.max(np.abs(reference)) + 1e-30))


def geomean(values):
    values = [v for v in values if v]
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def measure(models, size, runs, with_litert_torch):
    import torch
    rows, notes = [], {}
    for name in models:
        model, args = build_model(name, size)
        inputs = [a.numpy() for a in args]
        with torch.no_grad():
            float_reference = model(*args).numpy()
        import pt2lite
        float_content = pt2lite.convert(model, args).model_content()
        float_times, _ = latencies(float_content, inputs, runs)
        base = {"model": name, "float_bytes": len(float_content), "float_ms": float_times}
        rows.append({**base, "route": "float", "bytes": len(float_content), "ms": float_times,
                     "error": (1.0, 0.0), "steps": None})
        routes = list(ROUTES) + ([("litert-torch pt2e", None, True)] if with_litert_torch else [])
        for route, make, int8 in routes:
            try:
                if make is None:
                    content, reference, ours = route_litert_torch(name, size), None, False
                else:
                    content, reference = make(model, args)
                    ours = True
            except (NotImplementedError, pt2lite.Pt2liteError) as e:
                if "not implemented" in str(e):
                    notes[route] = str(e).splitlines()[0]
                    continue
                raise
            reference = float_reference if reference is None else reference.detach().numpy()
            times, outs = latencies(content, inputs, runs, pt2lite_too=ours)
            steps = None
            if ours and int8:
                steps = float(np.max(np.abs(outs["litert"] - outs["pt2lite"]))) / output_step(content)
            rows.append({**base, "route": route, "bytes": len(content), "ms": times, "int8": int8,
                         "error": errors(outs["litert"], reference), "steps": steps})
            if make is None:  # litert-torch's reference is its own Q/DQ graph: error not comparable
                rows[-1]["error"] = None
    return rows, notes


def print_table(rows, notes, size, runs):
    print(f"CPU: {cpu_description()}; input 1x3x{size}x{size}; median of {runs} runs; ms at 1 / 2 threads")
    header = (f"{'model':19s} {'route':17s} {'MB':>6s} {'size':>5s} {'cosine':>8s} {'max rel':>8s} {'steps':>5s} "
              f"{'LiteRT 1t':>9s} {'2t':>7s} {'pt2lite 1t':>10s} {'2t':>7s} {'x/float LiteRT':>14s} "
              f"{'x/float ours':>12s} {'ours/LiteRT':>11s}")
    print(header)
    print("-" * len(header))
    summary = {}
    for r in rows:
        ms, fms = r["ms"], r["float_ms"]
        ratio_litert = [ms["litert", t] / fms["litert", t] for t in (1, 2)]
        ratio_ours = [ms["pt2lite", t] / fms["pt2lite", t] for t in (1, 2)] if ("pt2lite", 1) in ms else None
        ours_vs = [ms["pt2lite", t] / ms["litert", t] for t in (1, 2)] if ratio_ours else None
        s = summary.setdefault(r["route"], {"size": [], "litert": [], "ours": [], "vs": []})
        s["size"].append(r["bytes"] / r["float_bytes"])
        s["litert"] += ratio_litert
        if ratio_ours:
            s["ours"] += ratio_ours
            s["vs"] += ours_vs
        err = r["error"]
        pair = (lambda v: f"{v[0]:.2f}/{v[1]:.2f}" if v else "-")
        cells = [f"{err[0]:.4f}" if err else "-", f"{err[1]:.4f}" if err else "-",
                 f"{r['steps']:.0f}" if r["steps"] is not None else "-",
                 f"{ms['pt2lite', 1]:.2f}" if ratio_ours else "-", f"{ms['pt2lite', 2]:.2f}" if ratio_ours else "-"]
        print(f"{r['model']:19s} {r['route']:17s} {r['bytes'] / 1e6:6.2f} {r['bytes'] / r['float_bytes']:5.2f} "
              f"{cells[0]:>8s} {cells[1]:>8s} {cells[2]:>5s} {ms['litert', 1]:9.2f} {ms['litert', 2]:7.2f} "
              f"{cells[3]:>10s} {cells[4]:>7s} {pair(ratio_litert):>14s} {pair(ratio_ours):>12s} {pair(ours_vs):>11s}")
    print("\ngeometric means over the models (1 and 2 threads together):")
    for route, s in summary.items():
        parts = [f"size x{geomean(s['size']):.2f} of float"] if route != "float" else []
        if route != "float":
            parts.append(f"latency x{geomean(s['litert']):.2f} of float on LiteRT")
            if s["ours"]:
                parts.append(f"x{geomean(s['ours']):.2f} of float on pt2lite")
        if s["vs"]:
            worst = max(s["vs"])
            parts.append(f"pt2lite/LiteRT x{geomean(s['vs']):.2f} (worst x{worst:.2f})")
        print(f"  {route:17s} " + "; ".join(parts))
    for route, note in notes.items():
        print(f"  {route:17s} skipped: {note}")


def export_litert_torch(model_name, size, path):
    """--export-litert-torch (run by venv-lt's python): litert-torch's PT2E int8 file of the model."""
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e
    model, args = build_model(model_name, size)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    qm = pt2e_quantize(model, args, quantize_pt2e, quantizer, fold_quantize=False)
    litert_torch.convert(qm, args, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(path)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--export-litert-torch":
        export_litert_torch(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--litert-torch", action="store_true", help="add litert-torch's PT2E int8 files")
    parser.add_argument("--json", help="also write the rows here")
    a = parser.parse_args()
    rows, notes = measure(a.models.split(","), a.size, a.runs, a.litert_torch)
    print_table(rows, notes, a.size, a.runs)
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{**r, "ms": {f"{k[0]}_{k[1]}": v for k, v in r["ms"].items()},
                        "float_ms": {f"{k[0]}_{k[1]}": v for k, v in r["float_ms"].items()}} for r in rows], f,
                      indent=1)


if __name__ == "__main__":
    main()

"""Latency and memory of pt2lite's runtime against LiteRT (its default XNNPACK path) on the same
.tflite files, converted by pt2lite from torchvision models and from transformer models of the zoo
(bench/zoo_models.py: BERT, GPT-2, Llama with small configs, a timm ViT).

For each model: convert (random weights; one forward pass in train mode on random data first so the
BatchNorm statistics are realistic), check that both runtimes give the same output (relative to the
output's magnitude), then time invoke() of both at each thread count, interleaved (the two runtimes
alternate, and which goes first alternates too) so the machine's noise hits both alike, after a
warm-up; report medians, the ratio pt2lite / LiteRT and its geometric mean. Peak memory: growth of
the peak RSS of a fresh subprocess that loads the model, allocates and invokes once.

    python bench/runtime.py [--models resnet18,mobilenet_v2] [--runs 30] [--threads 1,2]

PT2LITE_LIBRARY=/path/to/libpt2lite.so selects a locally built runtime library.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

# torchvision models by name; names with a "/" are zoo models (bench/zoo_models.py)
MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "hf/bert", "hf/gpt2", "hf/llama",
          "timm/vit_tiny_patch16_224"]
TOLERANCE = 1e-4  # max |pt2lite - LiteRT| / max |LiteRT|


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores available, {platform.system()} {platform.machine()}"


def model_file(name, directory):
    path = os.path.join(directory, f"{name.replace('/', '_')}.tflite")
    if os.path.exists(path):
        return path
    import torch

    import pt2lite

    torch.manual_seed(0)
    if "/" in name:  # a zoo model: its builder, small input and BatchNorm calibration
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import zoo

        data = pt2lite.convert_pt2(zoo.export_model(name)["archive"])
    else:
        import torchvision

        model = getattr(torchvision.models, name)(weights=None)
        model.train()
        with torch.no_grad():
            for _ in range(2):
                model(torch.randn(8, 3, 224, 224))
        model.eval()
        data = pt2lite.convert(model, (torch.randn(1, 3, 224, 224),)).model_content()
    os.makedirs(directory, exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return path


def make_interpreter(runtime, path, threads):
    if runtime == "pt2lite":
        from pt2lite import Interpreter
    else:
        from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=path, num_threads=threads)
    it.allocate_tensors()
    return it


def random_inputs(path, rng):
    """One array per model input: floats from a normal distribution, integers (token ids) in [0, 100)."""
    from ai_edge_litert.interpreter import Interpreter

    inputs = []
    for d in Interpreter(model_path=path).get_input_details():
        if np.issubdtype(d["dtype"], np.floating):
            inputs.append(rng.standard_normal(d["shape"]).astype(d["dtype"]))
        else:
            inputs.append(rng.integers(0, 100, d["shape"]).astype(d["dtype"]))
    return inputs


def feed(it, inputs):
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)


def output(it):
    return it.get_tensor(it.get_output_details()[0]["index"])


def time_invoke(it):
    t = time.perf_counter()
    it.invoke()
    return (time.perf_counter() - t) * 1000.0


def measure(path, threads, runs, warmup, x):
    ours, theirs = make_interpreter("pt2lite", path, threads), make_interpreter("litert", path, threads)
    feed(ours, x)
    feed(theirs, x)
    for _ in range(warmup):
        ours.invoke()
        theirs.invoke()
    a, b = [], []
    for i in range(runs):
        if i % 2 == 0:
            a.append(time_invoke(ours))
            b.append(time_invoke(theirs))
        else:
            b.append(time_invoke(theirs))
            a.append(time_invoke(ours))
    return statistics.median(a), statistics.median(b)


def check(path, x):
    ours, theirs = make_interpreter("pt2lite", path, 1), make_interpreter("litert", path, 1)
    feed(ours, x)
    feed(theirs, x)
    ours.invoke()
    theirs.invoke()
    y, ref = output(ours), output(theirs)
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(y - ref))) / scale


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory_child(runtime, path):
    """Runs in a fresh process: peak RSS growth (KiB) from before loading to after one invoke."""
    if runtime == "pt2lite":
        import pt2lite  # noqa: F401  (import cost is not the model's)
    else:
        import ai_edge_litert.interpreter  # noqa: F401
    # Reset the peak (VmHWM) to the current RSS, so import-time peaks do not count (Linux 4.0+).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    it = make_interpreter(runtime, path, 1)
    feed(it, [np.zeros(d["shape"], dtype=d["dtype"]) for d in it.get_input_details()])
    it.invoke()
    peak = _status_kib("VmHWM")
    print(json.dumps({"peak_growth_kib": max(peak - before, 0)}))


def peak_memory_mib(runtime, path):
    out = subprocess.run([sys.executable, __file__, "--memory-child", runtime, path], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_growth_kib"] / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--model-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "pt2lite", "bench"))
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0

    print(f"machine: {machine()}")
    threads = [int(t) for t in args.threads.split(",")]
    rng = np.random.default_rng(0)
    rows, ratios, failures = [], [], 0
    for name in args.models.split(","):
        path = model_file(name, args.model_dir)
        x = random_inputs(path, rng)
        err = check(path, x)
        ok = err <= TOLERANCE
        failures += not ok
        print(f"{name}: max |pt2lite - LiteRT| / max |LiteRT| = {err:.2e} ({'ok' if ok else 'MISMATCH'})", flush=True)
        mem = None if args.no_memory else (peak_memory_mib("pt2lite", path), peak_memory_mib("litert", path))
        for t in threads:
            ours, theirs = measure(path, t, args.runs, args.warmup, x)
            ratios.append(ours / theirs)
            rows.append((name, t, ours, theirs, ours / theirs, mem))
            print(f"  {t} thread(s): pt2lite {ours:.2f} ms, LiteRT {theirs:.2f} ms, ratio {ours / theirs:.2f}", flush=True)

    print()
    print(f"{'model':<26} {'threads':>7} {'pt2lite ms':>11} {'LiteRT ms':>10} {'ratio':>6} {'pt2lite MiB':>12} {'LiteRT MiB':>11}")
    for name, t, ours, theirs, ratio, mem in rows:
        m = f"{mem[0]:>12.1f} {mem[1]:>11.1f}" if mem else f"{'-':>12} {'-':>11}"
        print(f"{name:<26} {t:>7} {ours:>11.2f} {theirs:>10.2f} {ratio:>6.2f} {m}")
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geometric mean ratio (pt2lite / LiteRT): {geo:.3f}")
    print(f"runs per point: {args.runs} (median), warm-up {args.warmup}; peak memory: RSS growth, 1 thread")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

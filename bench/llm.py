"""Decode and prefill speed of a ~117M-parameter Llama (random weights) on pt2lite's runtime and LiteRT,
float32 and each weight recipe pt2lite.llm.convert has (fp16, int8 = dynamic_int8, int4_weights): the
table of docs/generative.md ("Speed").

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so python bench/llm.py [--threads 1,2]
        [--quantize none,fp16,int8,int4_weights] [--work DIR] [--rounds 3]

The model: LlamaConfig(vocab 32000, hidden 768, 12 layers, 12 heads / 4 kv heads (head_dim 64),
intermediate 2048, untied lm_head) = 117M parameters (469 MB in float32), max_seq_len 256,
prefill_len 32. Each point: a new sequence (cache reset), a 64-token prompt prefilled in 2 blocks, then
32 decode steps, timed per call around the runtime (the same Python loop drives both runtimes). Every
file runs on both runtimes interleaved, one prefill or decode step at a time, so that all points see the
same load on a shared machine; medians over --rounds sequences. A recipe the converter does not have yet is reported as such. Converted files are
kept in --work (reused when present: delete them after changing the converter)."""

import argparse
import os
import platform
import subprocess
import time

import numpy as np
import torch

import pt2lite
from pt2lite.llm import DECODE, PREFILL, Generator

CONFIG = dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
              num_key_value_heads=4, max_position_embeddings=2048, tie_word_embeddings=False, initializer_range=0.02)
MAX_SEQ_LEN, PREFILL_LEN, PROMPT_LEN, DECODE_STEPS = 256, 32, 64, 32


def model():
    import transformers
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**CONFIG)).eval()


def convert_all(recipes, work):
    """{recipe: .tflite path or the reason there is none}."""
    files, hf = {}, None
    for recipe in recipes:
        path = os.path.join(work, f"llama117m_{recipe}.tflite")
        if not os.path.exists(path):
            hf = hf or model()
            t0 = time.perf_counter()
            try:
                edge = pt2lite.llm.convert(hf, max_seq_len=MAX_SEQ_LEN, prefill_len=PREFILL_LEN,
                                           quantize=None if recipe == "none" else recipe)
            except pt2lite.Pt2liteError as e:
                if "not implemented yet" not in str(e):
                    raise
                files[recipe] = "recipe not implemented yet"
                continue
            edge.export(path)
            print(f"# converted {recipe}: {os.path.getsize(path) / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s",
                  flush=True)
        files[recipe] = path
    return files


def measure(paths, threads, rounds):
    """{(recipe, backend): (decode ms per token, prefill tokens/s)} for every file on both runtimes,
    interleaved: each prefill and each decode step runs on every (file, runtime) in turn, so all of them
    see the same load on a shared machine; medians over `rounds` sequences of DECODE_STEPS steps."""
    generators = {(recipe, backend): Generator(path, backend=backend, num_threads=threads)
                  for recipe, path in paths.items() for backend in ("pt2lite", "litert")}
    prompt = list(np.random.default_rng(0).integers(0, CONFIG["vocab_size"], PROMPT_LEN))
    decode = {key: [] for key in generators}
    prefill = {key: [] for key in generators}
    for _ in range(rounds):
        tokens = {}
        for key, generator in generators.items():
            generator.edge.reset_state()
            t0 = time.perf_counter()
            logits = generator._prefill(prompt)
            prefill[key].append(time.perf_counter() - t0)
            tokens[key] = int(np.argmax(logits))
        for step in range(DECODE_STEPS):
            for key, generator in generators.items():
                t0 = time.perf_counter()
                logits = generator._logits(DECODE, [tokens[key]], [PROMPT_LEN + step])
                decode[key].append(time.perf_counter() - t0)
                tokens[key] = int(np.argmax(logits))
    return {key: (float(np.median(decode[key])) * 1e3, PROMPT_LEN / float(np.median(prefill[key])))
            for key in generators}


def cpu():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
        return f"{name}, {os.cpu_count()} cores"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--quantize", default="none,fp16,int8,int4_weights")
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/pt2lite/bench-llm"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    files = convert_all(args.quantize.split(","), args.work)
    print(f"# {cpu()}; prompt {PROMPT_LEN} tokens (prefill_len {PREFILL_LEN}), {DECODE_STEPS} decode steps, "
          f"medians of {args.rounds} interleaved rounds")
    print("| weights | MB | threads | pt2lite ms/token | LiteRT ms/token | pt2lite/LiteRT | vs float32 (pt2lite) "
          "| pt2lite prefill tok/s | LiteRT prefill tok/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    ready = {recipe: path for recipe, path in files.items() if os.path.exists(path)}
    for recipe, reason in files.items():
        if recipe not in ready:
            print(f"| {recipe} | - | - | {reason} | | | | | |", flush=True)
    for threads in map(int, args.threads.split(",")):
        times = measure(ready, threads, args.rounds)
        float_ms = times[("none", "pt2lite")][0] if "none" in ready else None
        for recipe, path in ready.items():
            (ours_ms, ours_prefill), (theirs_ms, theirs_prefill) = times[(recipe, "pt2lite")], times[(recipe, "litert")]
            speedup = f"{float_ms / ours_ms:.2f}x" if float_ms else "-"
            name = "float32" if recipe == "none" else recipe
            print(f"| {name} | {os.path.getsize(path) / 1e6:.0f} | {threads} | {ours_ms:.1f} | {theirs_ms:.1f} | "
                  f"{ours_ms / theirs_ms:.2f} | {speedup} | {ours_prefill:.0f} | {theirs_prefill:.0f} |", flush=True)

if __name__ == "__main__":
    main()

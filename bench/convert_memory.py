"""Conversion memory of a big decoder: peak RSS and wall time of pt2lite.llm.convert.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so python bench/convert_memory.py [--size tinyllama]

Each conversion runs in a fresh subprocess (the peak RSS of the whole process: the model, torch.export,
the C converter), on a Llama model of random weights. Sizes: "tinyllama" is TinyLlama-1.1B's shape
(4.4 GB of float32 weights), "small" about 250M parameters (1 GB), "tiny" a few MB (a smoke test).
The child also runs one decode step of the converted file on pt2lite's runtime (and on LiteRT with
--litert) and compares its logits with PyTorch's."""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

SIZES = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=256),
    "small": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=16, num_attention_heads=16,
                  num_key_value_heads=4, vocab_size=32000),
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                      num_key_value_heads=4, vocab_size=32000),
}


def convert_llm(model, max_seq_len, prefill_len, quantize):
    """pt2lite.llm.convert; with a recipe it does not take yet, its two signatures built the same way
    and converted with the recipe (pt2lite.signature(...).convert(quantize=))."""
    import torch

    import pt2lite
    import pt2lite.llm

    try:
        return pt2lite.llm.convert(model, max_seq_len=max_seq_len, prefill_len=prefill_len, quantize=quantize)
    except NotImplementedError:
        if quantize is None:
            raise
    wrapped = pt2lite.llm._cached_lm_class()(model.eval(), max_seq_len).eval()
    tokens, positions = torch.zeros(1, prefill_len, dtype=torch.long), torch.arange(prefill_len)
    with torch.no_grad():
        return (pt2lite.signature(pt2lite.llm.PREFILL, wrapped, (tokens, positions))
                .signature(pt2lite.llm.DECODE, wrapped, (tokens[:, :1], positions[:1]))
                .convert(quantize=quantize))


def child(size, quantize, max_seq_len, prefill_len, litert):
    import numpy as np
    import torch
    import transformers

    import pt2lite.llm

    torch.manual_seed(0)
    config = transformers.LlamaConfig(**SIZES[size], max_position_embeddings=max(max_seq_len, 64))
    with torch.no_grad():
        model = transformers.LlamaForCausalLM(config).eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    edge = convert_llm(model, max_seq_len, prefill_len, quantize)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # before running it: conversion only
    result = dict(size=size, quantize=quantize, weight_bytes=weight_bytes, rss_after_model=rss_model,
                  peak_rss=peak, convert_seconds=seconds, file_bytes=edge.size if hasattr(edge, "size") else None)
    # one decode step at position 0 against PyTorch's logits for the same token
    token = np.array([[7]], dtype=np.int64)
    with torch.no_grad():
        expected = model(torch.tensor(token)).logits[0, -1].numpy()
    for backend in ["pt2lite"] + (["litert"] if litert else []):
        edge.backend = backend
        edge.reset_state()
        start = time.perf_counter()
        out = edge(token, np.array([0], dtype=np.int64), signature_name="decode")
        logits = np.asarray(out)[0]
        result[f"decode_seconds_{backend}"] = time.perf_counter() - start
        result[f"decode_max_abs_diff_{backend}"] = float(np.max(np.abs(logits - expected)))
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--quantize", default=None, help="a recipe (pt2lite.llm.convert's quantize, or "
                        "pt2lite.signature(...).convert's where pt2lite.llm.convert does not take it yet)")
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--prefill-len", type=int, default=32)
    parser.add_argument("--litert", action="store_true", help="also run the decode step on LiteRT")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.size, args.quantize, args.max_seq_len, args.prefill_len, args.litert)
    command = [sys.executable, __file__, "--child", "--size", args.size, "--max-seq-len", str(args.max_seq_len),
               "--prefill-len", str(args.prefill_len)] + (["--quantize", args.quantize] if args.quantize else []) + \
              (["--litert"] if args.litert else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the conversion subprocess failed (exit {done.returncode})")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    gb = 1e9
    print(f"model: Llama {args.size}, {r['weight_bytes'] / gb:.2f} GB of weights, quantize={r['quantize']}")
    print(f"peak RSS: {r['peak_rss'] / gb:.2f} GB = {r['peak_rss'] / r['weight_bytes']:.2f}x the weights "
          f"(after building the model: {r['rss_after_model'] / gb:.2f} GB)")
    print(f"convert: {r['convert_seconds']:.1f} s")
    for key, value in r.items():
        if key.startswith("decode_"):
            print(f"{key}: {value:.4g}")


if __name__ == "__main__":
    main()

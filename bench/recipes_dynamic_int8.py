"""dynamic_int8 on a small BERT (transformers BertModel, random weights): file size, cosine and max
relative error against the float PyTorch model, latency on LiteRT and pt2lite's runtime.

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so python bench/recipes_dynamic_int8.py [--threads 1]
"""

import argparse
import time

import numpy as np
import torch

import pt2lite


def small_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=128)
    return BertModel(config).eval()


class LastHidden(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, ids):
        return self.bert(input_ids=ids).last_hidden_state


def runner(interpreter_class, content, threads):
    interpreter = interpreter_class(model_content=content, num_threads=threads)
    signature = interpreter.get_signature_runner("serving_default")
    return lambda x: next(iter(signature(args_0=x).values()))


def latency_ms(run, x, repeats):
    run(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seq", type=int, default=64)
    a = parser.parse_args()
    module = LastHidden(small_bert()).eval()
    ids = torch.randint(0, 1000, (1, a.seq))
    expected = module(ids).detach().numpy().ravel().astype(np.float64)
    files = {"float32": pt2lite.convert(module, (ids,)).model_content(),
             "dynamic_int8": pt2lite.convert(module, (ids,), quantize="dynamic_int8").model_content()}
    x = ids.numpy().astype(np.int64)
    print(f"small BERT (4 layers, hidden 256, seq {a.seq}), {a.threads} thread(s), median of {a.repeats}")
    print("recipe        size KB   cosine    max rel err   LiteRT ms   pt2lite ms")
    for name, content in files.items():
        row = [f"{name:12s}", f"{len(content) / 1024:8.0f}"]
        runs = {"LiteRT": runner(LiteRT, content, a.threads), "pt2lite": runner(pt2lite.Interpreter, content, a.threads)}
        out = np.asarray(runs["LiteRT"](x)).ravel().astype(np.float64)
        cosine = out @ expected / np.linalg.norm(out) / np.linalg.norm(expected)
        row += [f"{cosine:8.5f}", f"{np.abs(out - expected).max() / np.abs(expected).max():12.4f}"]
        row += [f"{latency_ms(r, x, a.repeats):10.2f}" for r in runs.values()]
        print("  ".join(row))


if __name__ == "__main__":
    main()

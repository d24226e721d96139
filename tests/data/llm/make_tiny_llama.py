"""Writes the fixture of tests/c/test_generate.c: tiny_llama.tflite, a 1-layer Llama (grouped-query
attention, RoPE; one layer keeps the file near 100 KB) with seeded random weights converted by
pt2lite.llm.convert (max_seq_len 24, prefill_len 4; the file records both), and
tiny_llama_expected.txt, the greedy tokens HuggingFace's generate(do_sample=False) gives in PyTorch
(the reference is PyTorch, not pt2lite). Run from the repository root:

    PYTHONPATH=python PT2LITE_LIBRARY=build/rel/libpt2lite.so python tests/data/llm/make_tiny_llama.py

tiny_llama_expected.txt: lines "prompt <ids>" / "expected <ids>" (comma-separated), one pair per case."""

import os

import torch
import transformers

import pt2lite

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SEQ_LEN, PREFILL_LEN, NEW_TOKENS = 24, 4, 12
# prompts: shorter than one prefill block (padded), and 6 = one block plus an overlapping last block
PROMPTS = [[7, 3, 41], [5, 60, 12, 9, 33, 2]]


def main():
    torch.manual_seed(3)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                                      initializer_range=0.5, pad_token_id=0, eos_token_id=None, bos_token_id=None)
    model = transformers.LlamaForCausalLM(config).eval()
    edge = pt2lite.llm.convert(model, max_seq_len=MAX_SEQ_LEN, prefill_len=PREFILL_LEN)
    edge.export(os.path.join(HERE, "tiny_llama.tflite"))
    lines = []
    for prompt in PROMPTS:
        ids = torch.tensor([prompt])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, do_sample=False)
        expected = out[0, len(prompt):].tolist()
        assert len(set(expected)) > 3, f"the greedy tokens barely vary ({expected}): a weak fixture"
        lines += ["prompt " + ",".join(map(str, prompt)), "expected " + ",".join(map(str, expected))]
    with open(os.path.join(HERE, "tiny_llama_expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

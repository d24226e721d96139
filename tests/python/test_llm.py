"""Decoder LLMs (python/pt2lite/llm.py): HF causal LMs converted to prefill/decode signatures with the KV cache
as resource variables, generated token by token. The reference is HuggingFace's own generate(do_sample=False)
on the same random weights (an initializer range large enough that the greedy tokens vary)."""

import numpy as np
import pytest
import torch

import pt2lite
from conftest import tflite_ops

transformers = pytest.importorskip("transformers")

VOCAB, MAX_SEQ_LEN, PREFILL_LEN, NEW_TOKENS = 256, 64, 8, 16


def tiny_model(family):
    """A 2-layer model of `family` with random weights (grouped-query attention where the family has it)."""
    torch.manual_seed(0)
    t = transformers
    no_special = dict(pad_token_id=0, eos_token_id=None, bos_token_id=None)
    if family == "gpt2":
        config = t.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=128,
                              initializer_range=0.5, **no_special)
        return t.GPT2LMHeadModel(config).eval()
    config_class, model_class = {"llama": (t.LlamaConfig, t.LlamaForCausalLM),
                                 "qwen2": (t.Qwen2Config, t.Qwen2ForCausalLM),
                                 "phi3": (t.Phi3Config, t.Phi3ForCausalLM),
                                 "gemma": (t.GemmaConfig, t.GemmaForCausalLM),
                                 "mistral": (t.MistralConfig, t.MistralForCausalLM)}[family]
    config = config_class(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                          initializer_range=0.5, **no_special)
    if family == "gemma":
        config.head_dim = 32  # Gemma's default is 256: smaller, and unlike hidden_size / heads (16)
    return model_class(config).eval()


def hf_greedy(model, prompt, new_tokens=NEW_TOKENS):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, do_sample=False)
    return out[0, len(prompt):].tolist()


_converted = {}


def converted(family):
    """(HF model, EdgeModel) per family, converted once per test session."""
    if family not in _converted:
        model = tiny_model(family)
        _converted[family] = model, pt2lite.llm.convert(model, max_seq_len=MAX_SEQ_LEN, prefill_len=PREFILL_LEN)
    return _converted[family]


def prompt_of(length, seed=1):
    return torch.randint(0, VOCAB, (length,), generator=torch.Generator().manual_seed(seed)).tolist()


# prompt lengths: shorter than one prefill block (padded), exactly two blocks, and 19 = two blocks and a
# last block that overlaps the second (chunked prefill); every decode runs at positions past prefill_len
@pytest.mark.parametrize("family", ["llama", "gpt2", "qwen2", "phi3", "gemma", "mistral"])
def test_greedy_matches_hf(family):
    model, edge = converted(family)
    for length in (5, 16, 19):
        prompt = prompt_of(length)
        expected = hf_greedy(model, prompt)
        assert len(set(expected)) > 4, f"{family}: HF's tokens barely vary ({expected}): the test would be weak"
        for backend in ("pt2lite", "litert"):
            got = pt2lite.llm.Generator(edge, backend=backend).generate(prompt, NEW_TOKENS)
            assert got == expected, f"{family}, {backend}, prompt of {length}: {got} != HF {expected}"


def test_signature_io_and_cache_variables():
    """The documented IO (docs/generative.md): prefill (tokens [1, prefill_len], input_pos [prefill_len]),
    decode (tokens [1, 1], input_pos [1]), int64, logits [1, vocab] float32; one variable per layer's
    keys and one per its values, shared by both signatures."""
    _, edge = converted("llama")
    assert edge.signatures == ["prefill", "decode"]
    interpreter = edge.interpreter()
    for name, steps in (("prefill", PREFILL_LEN), ("decode", 1)):
        runner = interpreter.get_signature_runner(name)
        details = runner.get_input_details()
        assert sorted(details) == ["args_0", "args_1"]
        inputs = [details["args_0"], details["args_1"]]
        assert [d["name"] for d in inputs] == ["tokens", "input_pos"]
        assert [list(d["shape"]) for d in inputs] == [[1, steps], [steps]]
        assert all(d["dtype"] == np.int64 for d in inputs)
        (logits,) = runner.get_output_details().values()
        assert list(logits["shape"]) == [1, VOCAB] and logits["dtype"] == np.float32
    assert tflite_ops(edge.model_content()).count("VAR_HANDLE") == 2 * 2


def test_max_seq_len_limit():
    model, edge = converted("llama")
    generator = pt2lite.llm.Generator(edge)
    prompt = prompt_of(MAX_SEQ_LEN - 10)
    with pytest.raises(ValueError, match="max_seq_len=64"):
        generator.generate(prompt, 12)  # needs 54 + 11 = 65 cache positions
    with pytest.raises(ValueError, match="max_seq_len=64"):
        generator.generate(prompt_of(MAX_SEQ_LEN + 1), 1)
    # exactly at the limit: the last new token is never decoded, so it needs no position
    got = generator.generate(prompt, 11)
    assert got == hf_greedy(model, prompt, 11)
    assert generator.generate(prompt, 30, stop_at_limit=True) == got


def test_sampling_streaming_and_files(tmp_path):
    model, edge = converted("gpt2")
    generator = pt2lite.llm.Generator(edge)
    prompt = prompt_of(6)
    assert list(generator.stream(prompt, 8)) == generator.generate(prompt, 8)
    sampled = generator.generate(prompt, 12, temperature=1.0, top_p=0.9, seed=3)
    assert sampled == generator.generate(prompt, 12, temperature=1.0, top_p=0.9, seed=3)
    assert sampled != generator.generate(prompt, 12, temperature=1.0, top_p=0.9, seed=4)
    assert generator.generate(prompt, 12, temperature=0.7, top_k=1, seed=5) == generator.generate(prompt, 12)
    path = tmp_path / "gpt2.tflite"
    edge.export(path)
    with pytest.raises(ValueError, match="max_seq_len"):
        pt2lite.llm.Generator(path)
    from_file = pt2lite.llm.Generator(path, backend="litert", max_seq_len=MAX_SEQ_LEN)
    assert from_file.config.prefill_len == PREFILL_LEN
    assert from_file.generate(prompt, 8) == hf_greedy(model, prompt, 8)


def test_convert_refusals():
    model = tiny_model("llama")
    with pytest.raises(ValueError, match="prefill_len"):
        pt2lite.llm.convert(model, max_seq_len=8, prefill_len=16)
    with pytest.raises(ValueError, match="128 positions"):
        pt2lite.llm.convert(model, max_seq_len=256, prefill_len=8)
    with pytest.raises(NotImplementedError, match="quantize"):
        pt2lite.llm.convert(model, max_seq_len=16, prefill_len=8, quantize="int8")
    with pytest.raises(NotImplementedError, match="not a decoder"):
        pt2lite.llm.convert(torch.nn.Linear(2, 2), max_seq_len=16, prefill_len=8)


def runtime_cli():
    """The pt2lite binary beside the library under test (PT2LITE_LIBRARY), else the installed one."""
    import os
    candidates = [os.path.join(os.path.dirname(os.environ.get("PT2LITE_LIBRARY", "")), "pt2lite"),
                  os.path.join(os.path.dirname(pt2lite.__file__), "pt2lite")]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    pytest.skip("no pt2lite binary with a runtime beside the library or in the package")


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_cli_generate_matches_hf(family, tmp_path):
    """`pt2lite generate` (the C generation loop, src/runtime/generate.c) gives HF's greedy tokens, for a
    short (padded) and a chunked prompt; past max_seq_len it stops with an error naming the limit."""
    import subprocess
    model, edge = converted(family)
    path = tmp_path / "model.tflite"
    edge.export(path)
    for length in (5, 19):
        prompt = prompt_of(length)
        run = subprocess.run([runtime_cli(), "generate", str(path), "--prompt", ",".join(map(str, prompt)),
                              "--max-new-tokens", str(NEW_TOKENS), "--max-seq-len", str(MAX_SEQ_LEN)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert [int(t) for t in lines[0].split(",")] == hf_greedy(model, prompt)
        assert lines[1].startswith(f"prefill: {length} tokens") and "tokens/s" in lines[1]
        assert lines[2].startswith(f"decode: {NEW_TOKENS - 1} tokens") and "tokens/s" in lines[2]
    prompt = prompt_of(MAX_SEQ_LEN - 2)
    run = subprocess.run([runtime_cli(), "generate", str(path), "--prompt", ",".join(map(str, prompt)),
                          "--max-new-tokens", "5", "--max-seq-len", str(MAX_SEQ_LEN)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "max_seq_len 64" in run.stderr
    assert [int(t) for t in run.stdout.split()[0].split(",")] == hf_greedy(model, prompt, 3)

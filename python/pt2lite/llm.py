"""Decoder language models with a KV cache: prefill and decode signatures in one .tflite, and a token loop.

    edge = pt2lite.llm.convert(hf_model, max_seq_len=256, prefill_len=32)
    gen = pt2lite.llm.Generator(edge)                 # or a .tflite path; backend="litert" for LiteRT
    new_ids = gen.generate([1, 2, 3], max_new_tokens=16)

What Python does here is a front-door preparation: it wraps the HuggingFace model's modules into one
static-shape module whose forward(tokens, input_pos) runs the decoder over the model's own weights,
writing each layer's keys and values into cache buffers at input_pos (index_copy_) and attending with
a causal mask built from input_pos. torch.export turns the cache writes into buffer mutations and the
C converter into resource variables shared by name by both signatures (docs/generative.md).
"""

import json

import numpy as np

from .model import EdgeModel, load
from .signatures import signature

PREFILL, DECODE = "prefill", "decode"


# ----------------------------------------------------------------------------- the wrapped model

# The decoder-layer layouts CachedLM runs (dropouts aside): Llama-like (input_layernorm before attention,
# post_attention_layernorm before the MLP) and Gemma 2/3's "sandwich" (post_attention_layernorm on the
# attention's output, pre/post_feedforward_layernorm around the MLP)
LLAMA_LAYER = {"self_attn", "mlp", "input_layernorm", "post_attention_layernorm"}
SANDWICH_LAYER = LLAMA_LAYER | {"pre_feedforward_layernorm", "post_feedforward_layernorm"}
# attention parts CachedLM knows: separate or fused (Phi3) projections, per-head q/k norms (Gemma 3, Qwen3)
ATTENTION_PARTS = ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"qkv_proj", "o_proj"},
                   {"q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm"})
SUPPORTED = ("GPT2LMHeadModel and Llama-like models: Llama, Qwen2, Qwen3, Phi3, Gemma, Gemma 2 (Gemma2ForCausalLM), "
             "Gemma 3 text (Gemma3ForCausalLM), Mistral, SmolLM")


def _family(model):
    """The HF model's decoder parts, named the same way for every supported family:
    (kind, embed_tokens, positions embedding or None, layers, final norm, lm_head, config)."""
    config = getattr(model, "config", None)
    if config is None:
        raise NotImplementedError(f"{type(model).__name__} is not a decoder pt2lite.llm knows (supported: {SUPPORTED})")
    if hasattr(model, "transformer") and hasattr(model.transformer, "wpe"):  # GPT-2
        t = model.transformer
        return "gpt2", t.wte, t.wpe, list(t.h), t.ln_f, model.lm_head, config
    inner = getattr(model, "model", None)
    if inner is not None and hasattr(inner, "layers") and hasattr(inner, "rotary_emb"):
        import torch

        def parts(module):  # dropouts (Phi3's residual dropouts) are no-ops in eval mode
            return {name for name, part in module.named_children() if not isinstance(part, torch.nn.Dropout)}

        layer_parts = parts(inner.layers[0])
        if layer_parts not in (LLAMA_LAYER, SANDWICH_LAYER):
            # MoE layers, other norm placements, ...: not wrapped yet
            raise NotImplementedError(f"{type(model).__name__}: decoder layers with parts {sorted(layer_parts)} are "
                                      "not supported by pt2lite.llm yet (supported: Llama-like layers with "
                                      f"{sorted(LLAMA_LAYER)}, Gemma 2/3 layers with {sorted(SANDWICH_LAYER)}; GPT-2)")
        attention_parts = parts(inner.layers[0].self_attn)
        if attention_parts not in ATTENTION_PARTS:
            raise NotImplementedError(f"{type(model).__name__}: attention with parts {sorted(attention_parts)} is not "
                                      "supported by pt2lite.llm yet (supported: q/k/v/o projections, optionally with "
                                      "per-head q_norm/k_norm, or a fused qkv_proj)")
        return "rope", inner.embed_tokens, None, list(inner.layers), inner.norm, model.lm_head, config
    raise NotImplementedError(f"{type(model).__name__} is not a decoder pt2lite.llm knows (supported: {SUPPORTED})")


def _layer_windows(config, layers):
    """Each layer's sliding window (None: full attention). Where the attention module records its own
    window (Qwen2, Gemma 2/3: config.sliding_window on the layers config.layer_types marks
    "sliding_attention"), that one; otherwise the config's sliding_window for every layer (Mistral, Phi3)."""
    layer_types = getattr(config, "layer_types", None) or []
    unknown = sorted(set(layer_types) - {"full_attention", "sliding_attention"})
    if unknown:
        raise NotImplementedError(f"config.layer_types has {unknown}: pt2lite.llm handles full_attention and "
                                  "sliding_attention layers")
    if getattr(config, "use_bidirectional_attention", None):
        raise NotImplementedError("config.use_bidirectional_attention is set: pt2lite.llm converts causal decoders only")
    window = getattr(config, "sliding_window", None)
    everywhere = window if window and getattr(config, "use_sliding_window", True) is not False else None
    windows = []
    for layer in layers:
        attn = getattr(layer, "self_attn", None)
        windows.append(getattr(attn, "sliding_window", everywhere) if attn is not None else everywhere)
    return [w or None for w in windows]


def _cached_lm_class():
    import torch

    class CachedLM(torch.nn.Module):
        """forward(tokens [1, T] int64, input_pos [T] int64) -> logits [1, vocab] of the last row.

        Each layer's cache is two buffers k_cache_<i>, v_cache_<i> of shape [1, kv_heads, max_seq_len,
        head_dim]. Row t of the block is the token at position input_pos[t]: its keys and values are
        written there, and it attends to every cache position <= input_pos[t] (within the layer's sliding
        window where it has one). Rows are independent of their order, so padding rows may sit anywhere
        as long as their positions are past every real one."""

        def __init__(self, model, max_seq_len):
            super().__init__()
            kind, embed, positions, layers, norm, lm_head, config = _family(model)
            self.kind, self.embed, self.positions = kind, embed, positions
            self.layers, self.norm, self.lm_head = torch.nn.ModuleList(layers), norm, lm_head
            self.max_seq_len = max_seq_len
            if kind == "gpt2":
                self.heads = self.kv_heads = config.n_head
                self.head_dim = config.n_embd // config.n_head
                self.scale = self.head_dim ** -0.5 if config.scale_attn_weights else 1.0
                if getattr(config, "scale_attn_by_inverse_layer_idx", False) or getattr(config, "reorder_and_upcast_attn", False):
                    raise NotImplementedError("GPT-2 configs with scale_attn_by_inverse_layer_idx or "
                                              "reorder_and_upcast_attn are not supported by pt2lite.llm yet")
            else:
                attn = layers[0].self_attn
                self.heads = config.num_attention_heads
                self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
                self.head_dim = attn.head_dim
                self.scale = attn.scaling
                for norm_name in ("q_norm", "k_norm"):  # per-head norms (Gemma 3, Qwen3), over head_dim
                    qk_norm = getattr(attn, norm_name, None)
                    if qk_norm is not None and getattr(qk_norm, "weight", None) is not None \
                            and tuple(qk_norm.weight.shape) != (self.head_dim,):
                        raise NotImplementedError(f"{type(model).__name__}: self_attn.{norm_name} normalizes "
                                                  f"{tuple(qk_norm.weight.shape)} values, not one head "
                                                  f"({self.head_dim}): not supported by pt2lite.llm")
                # RoPE tables for every position, from the model's own rotary embedding (its scaling
                # variants included): the graph only gathers the rows of input_pos. Gemma 3's rotary
                # embedding has one table per attention type (the local base frequency for sliding layers)
                rotary = model.model.rotary_emb
                rope_types = getattr(rotary, "layer_types", None)
                self.layer_rope = [f"_{t}" for t in config.layer_types[:len(layers)]] if rope_types else [""] * len(layers)
                with torch.no_grad():
                    probe = torch.zeros(1, dtype=embed.weight.dtype)
                    positions = torch.arange(max_seq_len)[None]
                    for suffix in sorted(set(self.layer_rope)):
                        cos, sin = rotary(probe, positions, suffix[1:]) if suffix else rotary(probe, positions)
                        self.register_buffer(f"rope_cos{suffix}", cos[0].to(embed.weight.dtype), persistent=False)
                        self.register_buffer(f"rope_sin{suffix}", sin[0].to(embed.weight.dtype), persistent=False)
                # Gemma 2/3: post_attention_layernorm normalizes the attention's output, and
                # pre/post_feedforward_layernorm wrap the MLP
                self.sandwich = hasattr(layers[0], "pre_feedforward_layernorm")
            # Gemma scales its embeddings by sqrt(hidden_size): inside the embedding module in recent
            # transformers versions, in the model's forward in older ones
            gemma = getattr(config, "model_type", "") == "gemma" and not hasattr(embed, "embed_scale")
            self.embed_scale = config.hidden_size ** 0.5 if gemma else None
            self.softcap = getattr(config, "attn_logit_softcapping", None)
            if self.softcap and getattr(config, "model_type", "") == "gemma3_text":
                # transformers' Gemma3Attention never passes the softcap to its attention function
                raise NotImplementedError(f"config.attn_logit_softcapping={self.softcap}: Gemma 3's attention (in "
                                          "transformers) does not apply it, so it is ambiguous; set it to None")
            self.final_softcap = getattr(config, "final_logit_softcapping", None)
            self.layer_windows = _layer_windows(config, layers)
            cache_shape = (1, self.kv_heads, max_seq_len, self.head_dim)
            for i in range(len(layers)):
                self.register_buffer(f"k_cache_{i}", torch.zeros(cache_shape, dtype=embed.weight.dtype))
                self.register_buffer(f"v_cache_{i}", torch.zeros(cache_shape, dtype=embed.weight.dtype))

        def _qkv(self, layer, h):
            if self.kind == "gpt2":
                return layer.attn.c_attn(h).split(self.heads * self.head_dim, dim=-1)
            attn = layer.self_attn
            if hasattr(attn, "qkv_proj"):  # Phi3
                q_size, kv_size = self.heads * self.head_dim, self.kv_heads * self.head_dim
                return attn.qkv_proj(h).split([q_size, kv_size, kv_size], dim=-1)
            return attn.q_proj(h), attn.k_proj(h), attn.v_proj(h)

        def _rope(self, x, cos, sin):
            rotary = cos.shape[-1]  # partial rotary factor: only the first `rotary` dims turn
            turned, kept = x[..., :rotary], x[..., rotary:]
            half = rotary // 2
            rotated = torch.cat((-turned[..., half:], turned[..., :half]), dim=-1)
            turned = turned * cos + rotated * sin
            return torch.cat((turned, kept), dim=-1) if kept.shape[-1] else turned

        def _attention(self, i, layer, h, input_pos, visible):
            steps = h.shape[1]
            q, k, v = self._qkv(layer, h)
            q = q.view(1, steps, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(1, steps, self.kv_heads, self.head_dim).transpose(1, 2)
            v = v.view(1, steps, self.kv_heads, self.head_dim).transpose(1, 2)
            if self.kind != "gpt2":
                attn = layer.self_attn
                if hasattr(attn, "q_norm"):
                    q, k = attn.q_norm(q), attn.k_norm(k)
                suffix = self.layer_rope[i]
                rope_cos, rope_sin = getattr(self, f"rope_cos{suffix}"), getattr(self, f"rope_sin{suffix}")
                cos, sin = rope_cos[input_pos], rope_sin[input_pos]
                q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
            k_cache, v_cache = getattr(self, f"k_cache_{i}"), getattr(self, f"v_cache_{i}")
            k_cache.index_copy_(2, input_pos, k)
            v_cache.index_copy_(2, input_pos, v)
            # grouped-query attention: the query heads sharing one kv head become rows of that head
            group = self.heads // self.kv_heads
            q = q.reshape(1, self.kv_heads, group * steps, self.head_dim)
            scores = torch.matmul(q, k_cache.transpose(2, 3)) * self.scale
            if self.softcap:
                scores = torch.tanh(scores / self.softcap) * self.softcap
            scores = scores.masked_fill(~visible, float("-inf"))
            out = torch.matmul(torch.softmax(scores, dim=-1), v_cache)
            out = out.reshape(1, self.heads, steps, self.head_dim).transpose(1, 2).reshape(1, steps, -1)
            return layer.attn.c_proj(out) if self.kind == "gpt2" else layer.self_attn.o_proj(out)

        def forward(self, tokens, input_pos):
            x = self.embed(tokens)
            if self.embed_scale is not None:
                x = x * torch.tensor(self.embed_scale, dtype=x.dtype)
            if self.positions is not None:
                x = x + self.positions(input_pos)[None]
            group = self.heads // self.kv_heads
            row_pos = input_pos.repeat(group)[:, None]  # position of each query row (rows grouped per kv head)
            cache_pos = torch.arange(self.max_seq_len, dtype=input_pos.dtype)[None]
            causal = cache_pos <= row_pos
            # one mask per distinct window (None: full attention), shared by the layers using it
            masks = {window: causal if window is None else causal & (cache_pos > row_pos - window)
                     for window in dict.fromkeys(self.layer_windows)}
            for i, layer in enumerate(self.layers):
                visible = masks[self.layer_windows[i]]
                if self.kind == "gpt2":
                    x = x + self._attention(i, layer, layer.ln_1(x), input_pos, visible)
                    x = x + layer.mlp(layer.ln_2(x))
                elif self.sandwich:
                    attended = self._attention(i, layer, layer.input_layernorm(x), input_pos, visible)
                    x = x + layer.post_attention_layernorm(attended)
                    x = x + layer.post_feedforward_layernorm(layer.mlp(layer.pre_feedforward_layernorm(x)))
                else:
                    x = x + self._attention(i, layer, layer.input_layernorm(x), input_pos, visible)
                    x = x + layer.mlp(layer.post_attention_layernorm(x))
            logits = self.lm_head(self.norm(x[:, -1]))
            if self.final_softcap:
                logits = torch.tanh(logits / self.final_softcap) * self.final_softcap
            return logits

    return CachedLM


# The file's metadata entry recording what a runner needs (docs/generative.md): a JSON object
# {"max_seq_len": <int>, "prefill_len": <int>}, plus "prefill_lens": [<int>, ...] (ascending) for a file
# with one prefill signature per length ("prefill_<n>"; "prefill_len" is then the largest). Read by
# Generator and by the C generator (generate.c).
LLM_METADATA = "pt2lite_llm"


def prefill_lengths(prefill_len, max_seq_len):
    """convert()'s prefill_len, checked: (sorted block lengths, whether it was a list). A ValueError says
    what is wrong with a bad value."""
    listed = isinstance(prefill_len, (list, tuple))
    lengths = list(prefill_len) if listed else [prefill_len]
    if listed and not lengths:
        raise ValueError("prefill_len is an empty list: give at least one block length")
    for n in lengths:
        if not (isinstance(n, int) and not isinstance(n, bool) and isinstance(max_seq_len, int)
                and 1 <= n <= max_seq_len):
            raise ValueError(f"need integers 1 <= prefill_len <= max_seq_len, got prefill_len={prefill_len!r}, "
                             f"max_seq_len={max_seq_len!r}")
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"prefill_len={prefill_len!r} repeats a length: give each block length once")
    return sorted(lengths), listed


class LLMConfig:
    """What a Generator needs to know about a converted model. prefill_len: one block length (signature
    "prefill") or a list of them (signatures "prefill_<n>"); .prefill_lens is always the ascending list and
    .prefill_len its largest."""

    def __init__(self, max_seq_len, prefill_len, prefill=PREFILL, decode=DECODE):
        self.max_seq_len, self.prefill, self.decode = max_seq_len, prefill, decode
        self.listed = isinstance(prefill_len, (list, tuple))
        self.prefill_lens = sorted(prefill_len) if self.listed else [] if prefill_len is None else [prefill_len]
        self.prefill_len = self.prefill_lens[-1] if self.prefill_lens else None

    def __repr__(self):
        lengths = self.prefill_lens if self.listed else self.prefill_len
        return f"LLMConfig(max_seq_len={self.max_seq_len}, prefill_len={lengths})"

    def prefill_signature(self, length):
        """The name of the prefill signature taking `length` tokens."""
        return f"{self.prefill}_{length}" if self.listed else self.prefill

    def to_metadata(self):
        fields = {"max_seq_len": self.max_seq_len, "prefill_len": self.prefill_len}
        if self.listed:
            fields["prefill_lens"] = self.prefill_lens
        return json.dumps(fields).encode()

    @staticmethod
    def from_file(edge):
        """The LLMConfig the file records (metadata LLM_METADATA), or None for a file without it."""
        recorded = edge._model.metadata(LLM_METADATA)
        if recorded is None:
            return None
        try:
            fields = json.loads(recorded)
            lengths = fields.get("prefill_lens")
            prefill_len = [int(n) for n in lengths] if lengths is not None else int(fields["prefill_len"])
            return LLMConfig(int(fields["max_seq_len"]), prefill_len)
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"metadata '{LLM_METADATA}' is not valid ({recorded[:80]!r}): {e}") from None


def prefill_plan(length, blocks):
    """The prefill calls for a prompt of `length` tokens given the block lengths `blocks`: a list of
    (block, first position). The plan computes the fewest rows (padding and rewritten rows included), then
    makes the fewest calls: full blocks at 0, b0, b0 + b1, ..., then at most one last block that covers the
    rest, either overlapping the rows before it (positions length - block ..) or, for a prompt shorter than
    it, padded (first position 0; docs/generative.md "Signature IO"). The C generator plans the same way."""
    blocks = sorted(blocks, reverse=True)
    # best[r]: (rows computed, calls, first block) to prefill the last r tokens
    best = [(0, 0, 0)] + [None] * length
    for r in range(1, length + 1):
        for b in blocks:
            rows, calls = (b, 1) if b >= r else (b + best[r - b][0], 1 + best[r - b][1])
            if best[r] is None or (rows, calls) < best[r][:2]:
                best[r] = (rows, calls, b)
    plan, done = [], 0
    while done < length:
        b = best[length - done][2]
        plan.append((b, max(0, min(done, length - b))))
        done += b
    return plan


# llm.convert's quantize= -> the converter's recipe (pt2lite.convert). "int8" here means int8 weights with
# float activations (the dynamic-range recipe): a decoder's full-integer recipe needs a calibration per
# signature, and decode is bound by reading the weights, which int8 weights alone already shrink 4x.
QUANTIZE_RECIPES = {"fp16": "fp16", "int8": "dynamic_int8", "dynamic_int8": "dynamic_int8",
                    "int4_weights": "int4_weights"}


def convert(model, max_seq_len, prefill_len, quantize=None, backend="pt2lite"):
    """Converts a HuggingFace causal LM (GPT2LMHeadModel; Llama, Qwen2, Qwen3, Phi3, Gemma, Gemma 2, Gemma 3 text,
    Mistral-like) to one
    .tflite with signatures "prefill" (tokens [1, prefill_len], input_pos [prefill_len]) and "decode"
    (token [1, 1], input_pos [1]), both returning the logits [1, vocab] of their last row, and the KV
    cache held in the file as resource variables (docs/generative.md). Returns an EdgeModel with
    `.llm_config` (max_seq_len, prefill_len) set, for pt2lite.llm.Generator.

    prefill_len may be a list of distinct lengths: one signature "prefill_<n>" per length n (ascending),
    all sharing the weights and the cache, so that a Generator prefills a prompt with fewer padded rows.

    quantize: None (float weights), "fp16" (float16 weights), "int8" (int8 weights, float activations:
    the "dynamic_int8" recipe, also accepted by that name) or "int4_weights" (int4 weights in blocks)."""
    import torch

    if quantize is not None and quantize not in QUANTIZE_RECIPES:
        raise ValueError(f"pt2lite.llm.convert: quantize={quantize!r} is not a recipe for language models; "
                         f"give one of {', '.join(map(repr, QUANTIZE_RECIPES))} or None")
    lengths, listed = prefill_lengths(prefill_len, max_seq_len)
    _family(model)  # a clear refusal before anything else
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    if limit and max_seq_len > limit:
        raise ValueError(f"max_seq_len={max_seq_len} exceeds the model's {limit} positions")
    wrapped = _cached_lm_class()(model.eval(), max_seq_len).eval()
    config = LLMConfig(max_seq_len, lengths if listed else lengths[0])
    entry_points = [(config.prefill_signature(n), n) for n in lengths] + [(DECODE, 1)]
    with torch.no_grad():
        # the same module at each length: the converter stores the weights once and shares the cache variables
        signatures = None
        for name, steps in entry_points:
            args = (torch.zeros(1, steps, dtype=torch.long), torch.arange(steps, dtype=torch.long))
            signatures = (signature(name, wrapped, args) if signatures is None
                          else signatures.signature(name, wrapped, args))
        edge = signatures.convert(backend=backend, quantize=QUANTIZE_RECIPES.get(quantize),
                                  metadata={LLM_METADATA: config.to_metadata()})
    edge.llm_config = config
    return edge


# ----------------------------------------------------------------------------- generation

class Generator:
    """Greedy or sampled generation over a model from pt2lite.llm.convert (an EdgeModel, or a .tflite path).
    backend: "pt2lite" (pt2lite's C runtime) or "litert" (ai_edge_litert). The file records max_seq_len;
    max_seq_len= may lower that limit (or give it for a file that does not record it).

    Each generate() call starts from an empty cache: the prompt is prefilled in blocks of prefill_len (with
    several prefill signatures, "prefill_<n>", the blocks of prefill_plan), then one decode call per new
    token."""

    def __init__(self, edge_or_path, backend="pt2lite", max_seq_len=None, num_threads=None):
        edge = edge_or_path if isinstance(edge_or_path, EdgeModel) else load(edge_or_path, backend=backend)
        # "prefill" (one block length), else one "prefill_<n>" per length
        prefills = [name for name in edge.signatures if name == PREFILL] or \
            [name for name in edge.signatures if name.startswith(PREFILL + "_") and name[len(PREFILL) + 1:].isdecimal()]
        if not prefills or DECODE not in edge.signatures:
            raise ValueError(f"a Generator needs signatures '{PREFILL}' (or '{PREFILL}_<n>') and '{DECODE}'; the "
                             f"model has {edge.signatures}")
        config = LLMConfig.from_file(edge)
        if config is None:
            if max_seq_len is None:
                raise ValueError(f"the model does not record its max_seq_len (no metadata '{LLM_METADATA}'): pass "
                                 "Generator(path, max_seq_len=...) with the value it was converted for")
            config = LLMConfig(int(max_seq_len), None)
        elif max_seq_len is not None:
            if not 1 <= int(max_seq_len) <= config.max_seq_len:
                raise ValueError(f"max_seq_len={max_seq_len}: the model was converted with max_seq_len="
                                 f"{config.max_seq_len}; the option may only lower it")
            config = LLMConfig(int(max_seq_len), config.prefill_len)
        interpreter = edge.interpreter()
        # block length -> signature, the lengths read from the tokens inputs
        self.prefill_signatures = {}
        for name in prefills:
            tokens_shape = [d["shape"] for d in interpreter.get_signature_runner(name).get_input_details().values()][0]
            self.prefill_signatures[int(tokens_shape[-1])] = name
        lengths = sorted(self.prefill_signatures)
        self.config = LLMConfig(config.max_seq_len, lengths if prefills != [PREFILL] else lengths[0])
        # a private EdgeModel over the same bytes: its interpreter (and cache) belongs to this Generator
        self.edge = EdgeModel(edge.model_content(), backend=backend, num_threads=num_threads)

    def _logits(self, signature_name, tokens, positions):
        out = self.edge(np.asarray(tokens, dtype=np.int64)[None], np.asarray(positions, dtype=np.int64),
                        signature_name=signature_name)
        return out.numpy()[0] if hasattr(out, "numpy") else np.asarray(out)[0]

    def _prefill(self, prompt):
        """Writes the prompt's keys and values into the cache; returns the logits after its last token.
        The blocks of prefill_plan: full blocks; a last block that overlaps the one before rewrites those
        cache entries with the same values; a block longer than the whole prompt has padding rows first, at
        positions past the prompt (never read: a later token overwrites them before any row can see them)."""
        n = len(prompt)
        for block, start in prefill_plan(n, self.prefill_signatures):
            name = self.prefill_signatures[block]
            if start + block <= n:
                logits = self._logits(name, prompt[start:start + block], range(start, start + block))
            else:
                pad = block - n
                logits = self._logits(name, [0] * pad + list(prompt), list(range(n, n + pad)) + list(range(n)))
        return logits

    def stream(self, prompt_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None,
               stop_at_limit=False):
        """Yields the new token ids one by one. temperature 0 (default): greedy (argmax; ties go to the
        lowest id, as torch.argmax). Otherwise sampling from softmax(logits / temperature), restricted to
        the top_k most likely and/or the smallest set whose probability reaches top_p, drawn from a
        numpy generator seeded with `seed`. The sequence (prompt + new tokens) may not exceed
        max_seq_len: ValueError, or with stop_at_limit=True the stream ends there."""
        prompt = [int(t) for t in (prompt_ids.tolist() if hasattr(prompt_ids, "tolist") else prompt_ids)]
        if len(prompt) == 0:
            raise ValueError("the prompt is empty: give at least one token id")
        if isinstance(prompt[0], list):
            raise ValueError("give one prompt (a 1-D list of token ids); batches are not supported")
        limit = self.config.max_seq_len
        # the last new token is returned but never decoded, so it needs no cache position
        if len(prompt) + max_new_tokens - 1 > limit or len(prompt) > limit:
            if not stop_at_limit or len(prompt) > limit:
                raise ValueError(f"the prompt ({len(prompt)} tokens) and max_new_tokens={max_new_tokens} need "
                                 f"{len(prompt) + max_new_tokens - 1} cache positions, but the model was converted "
                                 f"with max_seq_len={limit}")
            max_new_tokens = limit - len(prompt) + 1
        rng = np.random.default_rng(seed)
        self.edge.reset_state()
        logits = self._prefill(prompt)
        position = len(prompt)
        for produced in range(max_new_tokens):
            token = _pick(logits, temperature, top_k, top_p, rng)
            yield token
            if produced + 1 < max_new_tokens:
                logits = self._logits(DECODE, [token], [position])
                position += 1

    def generate(self, prompt_ids, max_new_tokens, **sampling):
        """The new token ids, as a list (see stream() for the options)."""
        return list(self.stream(prompt_ids, max_new_tokens, **sampling))


def _pick(logits, temperature, top_k, top_p, rng):
    logits = np.asarray(logits, dtype=np.float64)
    if not temperature:
        return int(np.argmax(logits))
    logits = logits / temperature
    if top_k is not None:
        kth = np.sort(logits)[-min(int(top_k), logits.size)]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = order[:int(np.searchsorted(cumulative, top_p)) + 1]  # the smallest prefix reaching top_p
        kept = np.zeros_like(probs)
        kept[keep] = probs[keep]
        probs = kept / kept.sum()
    return int(rng.choice(probs.size, p=probs))

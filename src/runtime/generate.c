/* The token loop of a decoder language model (include/pt2lite.h, "Token generation"; docs/generative.md):
 * prefill the prompt in blocks, then one decode call per token, over the public interpreter API. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/status.h"
#include "pt2lite.h"

typedef struct entry_point {
    const char *name;
    int subgraph, tokens, positions, logits; /* tensors */
    p2l_dtype tokens_dtype, positions_dtype;
    int steps; /* tokens per call */
} entry_point;

/* The most prefill signatures a generator opens (metadata "prefill_lens"). */
#define MAX_PREFILLS 16

struct p2l_generator {
    p2l_interpreter *interpreter;
    entry_point prefills[MAX_PREFILLS], decode; /* prefills by ascending block length */
    int prefill_count;
    char prefill_names[MAX_PREFILLS][32];
    int max_seq_len;
    size_t vocab;
    float *logits;
    int64_t pending; /* the last token returned, decoded by the next p2l_generator_next; -1: none */
    long position;   /* cache positions filled */
    bool started;
    p2l_generator_stats stats;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static p2l_status find_io(const p2l_model *model, int signature, int is_output, const char *io, const char *what,
                          const char *sig_name, int *tensor) {
    if (p2l_model_signature_find_io(model, signature, is_output, io, tensor) != P2L_OK)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "generator: signature '%s' has no %s '%s' (%s; docs/generative.md)",
                        sig_name, is_output ? "output" : "input", io, what);
    return P2L_OK;
}

/* The signature's tensors, checked against the layout of docs/generative.md. */
static p2l_status open_entry_point(p2l_generator *g, const p2l_model *model, const char *name, entry_point *e) {
    int signature;
    e->name = name;
    if (p2l_model_find_signature(model, name, &signature) != P2L_OK)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "generator: the model has no signature '%s' (a model from "
                        "pt2lite.llm.convert has 'prefill' and 'decode')", name);
    P2L_TRY(p2l_model_signature_subgraph(model, signature, &e->subgraph));
    P2L_TRY(find_io(model, signature, 0, "args_0", "token ids [1, steps]", name, &e->tokens));
    P2L_TRY(find_io(model, signature, 0, "args_1", "positions [steps]", name, &e->positions));
    P2L_TRY(find_io(model, signature, 1, "output_0", "logits [1, vocab]", name, &e->logits));
    p2l_tensor_info tokens = {0}, positions = {0}, logits = {0};
    P2L_TRY(p2l_interpreter_tensor_info(g->interpreter, e->subgraph, e->tokens, &tokens));
    P2L_TRY(p2l_interpreter_tensor_info(g->interpreter, e->subgraph, e->positions, &positions));
    P2L_TRY(p2l_interpreter_tensor_info(g->interpreter, e->subgraph, e->logits, &logits));
    bool ids_ok = tokens.rank == 2 && tokens.dims[0] == 1 && positions.rank == 1 && positions.dims[0] == tokens.dims[1];
    for (int i = 0; i < 2; i++) {
        p2l_dtype dtype = i ? positions.dtype : tokens.dtype;
        ids_ok = ids_ok && (dtype == P2L_INT64 || dtype == P2L_INT32);
    }
    if (!ids_ok || logits.dtype != P2L_FLOAT32 || logits.rank != 2 || logits.dims[0] != 1)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "generator: signature '%s' does not have the layout tokens int [1, n], "
                        "input_pos int [n] -> logits float32 [1, vocab] (docs/generative.md)", name);
    e->tokens_dtype = tokens.dtype;
    e->positions_dtype = positions.dtype;
    e->steps = tokens.dims[1];
    if (g->vocab && (size_t)logits.dims[1] != g->vocab)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "generator: signature '%s' returns %d logits, the other %zu", name,
                        logits.dims[1], g->vocab);
    g->vocab = (size_t)logits.dims[1];
    return P2L_OK;
}

/* The file's metadata "pt2lite_llm" (pt2lite.llm.convert): a JSON object with an integer "max_seq_len" and,
 * for a file with one prefill signature per block length ("prefill_<n>"), "prefill_lens": [n, ...] ascending.
 * recorded->max_seq_len = 0 when the file has no such entry (files converted before it was recorded);
 * recorded->prefill_count = 0 without "prefill_lens" (one signature "prefill"). */
#define LLM_METADATA "pt2lite_llm"
typedef struct llm_metadata {
    int max_seq_len, prefill_count, prefill_lens[MAX_PREFILLS];
} llm_metadata;

/* The value after "key": in text; NULL when the key is absent. */
static const char *json_value(const char *text, const char *key) {
    const char *at = strstr(text, key);
    if (!at) return NULL;
    at += strlen(key);
    while (*at == ' ' || *at == ':') at++;
    return at;
}

/* A positive int32 at *at (advanced past it); false when there is none. */
static bool positive_int(const char **at, int *n) {
    char *end = NULL;
    long value = strtol(*at, &end, 10);
    if (end == *at || value < 1 || value > INT32_MAX) return false;
    *n = (int)value;
    *at = end;
    return true;
}

static p2l_status read_llm_metadata(const p2l_model *model, llm_metadata *recorded) {
    memset(recorded, 0, sizeof *recorded);
    const void *data;
    size_t size;
    if (p2l_model_metadata(model, LLM_METADATA, &data, &size) != P2L_OK) {
        p2l_clear_error();
        return P2L_OK;
    }
    char text[1024] = {0};
    memcpy(text, data, size < sizeof text - 1 ? size : sizeof text - 1);
    const char *value = json_value(text, "\"max_seq_len\"");
    if (!value || !positive_int(&value, &recorded->max_seq_len))
        return p2l_fail(P2L_ERROR_MALFORMED, "generator: metadata '" LLM_METADATA "' has no positive integer "
                        "\"max_seq_len\" (docs/generative.md): %.80s", text);
    const char *list = json_value(text, "\"prefill_lens\"");
    if (!list) return P2L_OK;
    bool ok = *list++ == '[';
    while (ok) {
        while (*list == ' ') list++;
        int n;
        ok = recorded->prefill_count < MAX_PREFILLS && positive_int(&list, &n) &&
             (!recorded->prefill_count || n > recorded->prefill_lens[recorded->prefill_count - 1]);
        if (ok) recorded->prefill_lens[recorded->prefill_count++] = n;
        while (*list == ' ') list++;
        if (*list == ']') break;
        ok = ok && *list++ == ',';
    }
    if (!ok)
        return p2l_fail(P2L_ERROR_MALFORMED, "generator: metadata '" LLM_METADATA "' has no \"prefill_lens\" list of "
                        "at most %d ascending positive integers (docs/generative.md): %.120s", MAX_PREFILLS, text);
    return P2L_OK;
}

/* The limit in force: the file's, or the caller's where it lowers it (a higher one would let positions
 * past the cache write nowhere). */
static p2l_status choose_max_seq_len(int recorded, int requested, int *limit) {
    if (recorded && requested > recorded)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "generator: max_seq_len %d exceeds the %d the model was converted "
                        "with (the option may only lower it)", requested, recorded);
    *limit = requested ? requested : recorded;
    return P2L_OK;
}

/* The prefill signatures: `named` alone when given; else "prefill_<n>" for each of the `count` recorded block
 * lengths (ascending); else "prefill". */
static p2l_status open_prefills(p2l_generator *g, const p2l_model *model, int count, const int *lengths,
                                const char *named) {
    if (!count) {
        g->prefill_count = 1;
        return open_entry_point(g, model, named ? named : "prefill", &g->prefills[0]);
    }
    for (int i = 0; i < count; i++) {
        snprintf(g->prefill_names[i], sizeof g->prefill_names[i], "prefill_%d", lengths[i]);
        g->prefill_count = i + 1;
        P2L_TRY(open_entry_point(g, model, g->prefill_names[i], &g->prefills[i]));
        if (g->prefills[i].steps != lengths[i])
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "generator: signature '%s' takes %d tokens, the metadata '"
                            LLM_METADATA "' says %d", g->prefill_names[i], g->prefills[i].steps, lengths[i]);
    }
    return P2L_OK;
}

p2l_status p2l_generator_create(p2l_model *model, const p2l_generator_options *options, p2l_generator **out) {
    if (!model || !out) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_create: NULL argument");
    *out = NULL;
    p2l_generator_options o = {0};
    if (options) {
        if (options->size != 0 && options->size != sizeof o)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_create: options.size is %zu, this library's "
                            "p2l_generator_options is %zu bytes", options->size, sizeof o);
        o = *options;
    }
    if (o.max_seq_len < 0)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_create: max_seq_len %d is negative", o.max_seq_len);
    p2l_generator *g = calloc(1, sizeof *g);
    if (!g) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a generator");
    g->pending = -1;
    p2l_interpreter_options io = {.size = sizeof io, .num_threads = o.num_threads};
    llm_metadata recorded;
    p2l_status s = read_llm_metadata(model, &recorded);
    if (s == P2L_OK) s = choose_max_seq_len(recorded.max_seq_len, o.max_seq_len, &g->max_seq_len);
    if (s == P2L_OK) s = p2l_interpreter_create(model, &io, &g->interpreter);
    if (s == P2L_OK) s = open_prefills(g, model, o.prefill_signature ? 0 : recorded.prefill_count,
                                       recorded.prefill_lens, o.prefill_signature);
    if (s == P2L_OK) s = open_entry_point(g, model, o.decode_signature ? o.decode_signature : "decode", &g->decode);
    if (s == P2L_OK && g->decode.steps != 1)
        s = p2l_fail(P2L_ERROR_UNSUPPORTED, "generator: signature '%s' takes %d tokens; decode takes 1",
                     g->decode.name, g->decode.steps);
    const entry_point *largest = &g->prefills[g->prefill_count ? g->prefill_count - 1 : 0];
    if (s == P2L_OK && g->max_seq_len && largest->steps > g->max_seq_len)
        s = p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "generator: prefill_len %d exceeds max_seq_len %d",
                     largest->steps, g->max_seq_len);
    if (s == P2L_OK) s = p2l_interpreter_allocate(g->interpreter); /* planned now, not in the timed calls */
    if (s == P2L_OK && !(g->logits = calloc(g->vocab, sizeof *g->logits)))
        s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory for %zu logits", g->vocab);
    if (s != P2L_OK) {
        p2l_generator_free(g);
        return s;
    }
    *out = g;
    return P2L_OK;
}

void p2l_generator_free(p2l_generator *g) {
    if (!g) return;
    p2l_interpreter_free(g->interpreter);
    free(g->logits);
    free(g);
}

static p2l_status write_ids(p2l_generator *g, int subgraph, int tensor, p2l_dtype dtype, const int64_t *ids, int n) {
    void *data;
    P2L_TRY(p2l_interpreter_tensor_data(g->interpreter, subgraph, tensor, &data));
    for (int i = 0; i < n; i++) {
        if (dtype == P2L_INT64) ((int64_t *)data)[i] = ids[i];
        else ((int32_t *)data)[i] = (int32_t)ids[i];
    }
    return P2L_OK;
}

/* One call of an entry point: rows `tokens` at `positions` (e->steps each); the logits of its last row. */
static p2l_status run(p2l_generator *g, const entry_point *e, const int64_t *tokens, const int64_t *positions) {
    P2L_TRY(write_ids(g, e->subgraph, e->tokens, e->tokens_dtype, tokens, e->steps));
    P2L_TRY(write_ids(g, e->subgraph, e->positions, e->positions_dtype, positions, e->steps));
    P2L_TRY(p2l_interpreter_invoke_subgraph(g->interpreter, e->subgraph));
    return p2l_interpreter_get_tensor(g->interpreter, e->subgraph, e->logits, g->logits, g->vocab * sizeof *g->logits);
}

/* plan[r]: the cheapest way to prefill the last r tokens of a prompt: the fewest rows computed (padding and
 * rewritten rows included), then the fewest calls; `entry` the prefill signature of its first call. A call
 * shorter than r is a full block; one at least r long is the last (pt2lite.llm.prefill_plan is the same). */
typedef struct prefill_step {
    size_t rows, calls;
    int entry;
} prefill_step;

static void plan_prefill(const p2l_generator *g, size_t count, prefill_step *plan) {
    plan[0] = (prefill_step){0, 0, -1};
    for (size_t r = 1; r <= count; r++) {
        plan[r].entry = -1;
        for (int i = g->prefill_count - 1; i >= 0; i--) { /* largest first: it wins ties */
            size_t block = (size_t)g->prefills[i].steps;
            size_t rows = block + (block < r ? plan[r - block].rows : 0);
            size_t calls = 1 + (block < r ? plan[r - block].calls : 0);
            if (plan[r].entry < 0 || rows < plan[r].rows || (rows == plan[r].rows && calls < plan[r].calls))
                plan[r] = (prefill_step){rows, calls, i};
        }
    }
}

p2l_status p2l_generator_prefill(p2l_generator *g, const int64_t *ids, size_t count) {
    if (!g || (!ids && count)) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_prefill: NULL argument");
    if (count == 0) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_prefill: the prompt is empty");
    if (g->max_seq_len && count > (size_t)g->max_seq_len)
        return p2l_fail(P2L_ERROR_LIMIT, "generator: the prompt has %zu tokens, max_seq_len is %d", count,
                        g->max_seq_len);
    if (count > (size_t)INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "generator: a prompt of %zu tokens", count);
    P2L_TRY(p2l_interpreter_reset_state(g->interpreter));
    prefill_step *plan = calloc(count + 1, sizeof *plan);
    size_t largest = (size_t)g->prefills[g->prefill_count - 1].steps;
    int64_t *rows = malloc(2 * largest * sizeof *rows);
    if (!plan || !rows) {
        free(plan);
        free(rows);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning the prefill of %zu tokens", count);
    }
    plan_prefill(g, count, plan);
    int64_t *positions = rows + largest;
    memset(&g->stats, 0, sizeof g->stats);
    g->started = false;
    double t0 = now_seconds();
    p2l_status s = P2L_OK;
    for (size_t done = 0; s == P2L_OK && done < count;) {
        const entry_point *e = &g->prefills[plan[count - done].entry];
        size_t block = (size_t)e->steps;
        if (block > count) { /* the whole prompt, padding rows first at positions past it; the prompt last */
            size_t pad = block - count;
            for (size_t i = 0; i < block; i++) {
                rows[i] = i < pad ? 0 : ids[i - pad];
                positions[i] = (int64_t)(i < pad ? count + i : i - pad);
            }
            s = run(g, e, rows, positions);
        } else {
            size_t first = done + block <= count ? done : count - block; /* a last partial block overlaps */
            for (size_t i = 0; i < block; i++) positions[i] = (int64_t)(first + i);
            s = run(g, e, ids + first, positions);
        }
        done += block;
    }
    free(plan);
    free(rows);
    g->stats.prefill_seconds = now_seconds() - t0;
    if (s != P2L_OK) return s;
    g->stats.prefill_tokens = (long)count;
    g->position = (long)count;
    g->pending = -1;
    g->started = true;
    return P2L_OK;
}

p2l_status p2l_generator_next(p2l_generator *g, int64_t *token) {
    if (!g || !token) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_next: NULL argument");
    if (!g->started) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_next: call p2l_generator_prefill first");
    if (g->pending >= 0) {
        if (g->max_seq_len && g->position >= g->max_seq_len)
            return p2l_fail(P2L_ERROR_LIMIT, "generator: the sequence has reached max_seq_len %d positions",
                            g->max_seq_len);
        double t0 = now_seconds();
        int64_t position = g->position;
        p2l_status s = run(g, &g->decode, &g->pending, &position);
        g->stats.decode_seconds += now_seconds() - t0;
        if (s != P2L_OK) {
            g->started = false; /* the cache may hold half a step */
            return s;
        }
        g->stats.decode_tokens++;
        g->position++;
    }
    size_t best = 0;
    for (size_t i = 1; i < g->vocab; i++)
        if (g->logits[i] > g->logits[best]) best = i;
    *token = g->pending = (int64_t)best;
    return P2L_OK;
}

const float *p2l_generator_logits(const p2l_generator *g, size_t *vocab) {
    if (vocab) *vocab = g ? g->vocab : 0;
    return g && g->started ? g->logits : NULL;
}

p2l_status p2l_generator_stats_get(const p2l_generator *g, p2l_generator_stats *stats) {
    if (!g || !stats) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_generator_stats_get: NULL argument");
    *stats = g->stats;
    return P2L_OK;
}

int p2l_generator_max_seq_len(const p2l_generator *g) { return g ? g->max_seq_len : 0; }

int p2l_generator_prefill_len(const p2l_generator *g) { return g ? g->prefills[g->prefill_count - 1].steps : 0; }

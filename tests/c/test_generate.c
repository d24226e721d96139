/* The C generation loop (src/runtime/generate.c) on tests/data/llm/tiny_llama.tflite: greedy tokens equal
 * HuggingFace's generate(do_sample=False) in PyTorch (tiny_llama_expected.txt, written with the fixture by
 * tests/data/llm/make_tiny_llama.py), the max_seq_len the file records and its override, and refusals. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pt2lite.h"

#ifndef P2L_SOURCE_DIR
#error "P2L_SOURCE_DIR (the source tree) must be defined"
#endif
#define DATA P2L_SOURCE_DIR "/tests/data/llm/"
enum { MAX_IDS = 64, MAX_SEQ_LEN = 24, PREFILL_LEN = 4, VOCAB = 64 };

typedef struct id_list {
    int64_t ids[MAX_IDS];
    size_t count;
} id_list;

/* "<label> 1,2,3" -> list; 0 when the line is not that. */
static int parse_line(const char *line, const char *label, id_list *out) {
    size_t n = strlen(label);
    if (strncmp(line, label, n) != 0 || line[n] != ' ') return 0;
    out->count = 0;
    for (const char *p = line + n + 1; *p && *p != '\n' && out->count < MAX_IDS;) {
        char *end;
        out->ids[out->count++] = strtoll(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
    return out->count > 0;
}

/* The cases of tiny_llama_expected.txt: prompts[i] -> expected[i]. */
static size_t read_cases(id_list *prompts, id_list *expected, size_t max) {
    FILE *f = fopen(DATA "tiny_llama_expected.txt", "r");
    CHECK(f != NULL);
    if (!f) return 0;
    char line[1024];
    size_t cases = 0;
    while (cases < max && fgets(line, sizeof line, f)) {
        if (parse_line(line, "prompt", &prompts[cases])) continue;
        if (parse_line(line, "expected", &expected[cases])) cases++;
    }
    fclose(f);
    return cases;
}

static p2l_model *load_fixture(void) {
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load_file(DATA "tiny_llama.tflite", &model), P2L_OK);
    return model;
}

static void test_greedy_matches_pytorch(void) {
    id_list prompts[4], expected[4];
    size_t cases = read_cases(prompts, expected, 4);
    CHECK_EQ_INT(cases, 2);
    p2l_model *model = load_fixture();
    if (!model) return;
    for (int threads = 1; threads <= 2; threads++) {
        p2l_generator_options o = {.size = sizeof o, .num_threads = threads};
        p2l_generator *gen = NULL;
        CHECK_EQ_INT(p2l_generator_create(model, &o, &gen), P2L_OK);
        if (!gen) break;
        CHECK_EQ_INT(p2l_generator_max_seq_len(gen), MAX_SEQ_LEN); /* from the file's metadata */
        CHECK_EQ_INT(p2l_generator_prefill_len(gen), PREFILL_LEN);
        for (size_t c = 0; c < cases; c++) { /* the same generator: each prefill starts a new sequence */
            CHECK_EQ_INT(p2l_generator_prefill(gen, prompts[c].ids, prompts[c].count), P2L_OK);
            int mismatches = 0;
            for (size_t i = 0; i < expected[c].count; i++) {
                int64_t token = -1;
                CHECK_EQ_INT(p2l_generator_next(gen, &token), P2L_OK);
                size_t vocab = 0;
                const float *logits = p2l_generator_logits(gen, &vocab);
                CHECK(logits != NULL && vocab == VOCAB);
                for (size_t v = 0; logits && v < vocab; v++) CHECK(logits[v] <= logits[token]);
                mismatches += token != expected[c].ids[i];
            }
            CHECK_EQ_INT(mismatches, 0);
            p2l_generator_stats st;
            CHECK_EQ_INT(p2l_generator_stats_get(gen, &st), P2L_OK);
            CHECK_EQ_INT(st.prefill_tokens, (long)prompts[c].count);
            CHECK_EQ_INT(st.decode_tokens, (long)expected[c].count - 1); /* the last token is not decoded */
            CHECK(st.prefill_seconds > 0 && st.decode_seconds > 0);
        }
        p2l_generator_free(gen);
    }
    p2l_model_free(model);
}

/* Generates until the generator refuses; returns the tokens it gave. */
static int tokens_until_limit(p2l_generator *gen, size_t prompt_len) {
    int64_t prompt[MAX_IDS] = {0};
    for (size_t i = 0; i < prompt_len; i++) prompt[i] = (int64_t)(i * 7 % VOCAB);
    CHECK_EQ_INT(p2l_generator_prefill(gen, prompt, prompt_len), P2L_OK);
    int produced = 0;
    int64_t token;
    while (produced < MAX_IDS && p2l_generator_next(gen, &token) == P2L_OK) produced++;
    return produced;
}

static void test_max_seq_len_from_file_and_override(void) {
    p2l_model *model = load_fixture();
    if (!model) return;
    p2l_generator *gen = NULL;
    CHECK_EQ_INT(p2l_generator_create(model, NULL, &gen), P2L_OK);
    /* 20 prompt positions + 4 decodes fill the 24; the 5th token is returned undecoded, the 6th refused */
    CHECK_EQ_INT(tokens_until_limit(gen, 20), 5);
    CHECK_ERROR_MENTIONS("max_seq_len 24");
    int64_t long_prompt[MAX_SEQ_LEN + 1] = {0};
    CHECK_EQ_INT(p2l_generator_prefill(gen, long_prompt, MAX_SEQ_LEN + 1), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_seq_len is 24");
    p2l_generator_free(gen);

    p2l_generator_options lower = {.size = sizeof lower, .max_seq_len = 8};
    CHECK_EQ_INT(p2l_generator_create(model, &lower, &gen), P2L_OK);
    CHECK_EQ_INT(p2l_generator_max_seq_len(gen), 8);
    CHECK_EQ_INT(tokens_until_limit(gen, 6), 3);
    CHECK_ERROR_MENTIONS("max_seq_len 8");
    p2l_generator_free(gen);

    gen = NULL;
    p2l_generator_options higher = {.size = sizeof higher, .max_seq_len = MAX_SEQ_LEN + 1};
    CHECK_EQ_INT(p2l_generator_create(model, &higher, &gen), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("may only lower it");
    CHECK(gen == NULL);
    p2l_generator_options below_prefill = {.size = sizeof below_prefill, .max_seq_len = PREFILL_LEN - 1};
    CHECK_EQ_INT(p2l_generator_create(model, &below_prefill, &gen), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("prefill_len 4 exceeds max_seq_len 3");
    p2l_model_free(model);
}

static void test_refusals(void) {
    p2l_model *model = load_fixture();
    if (!model) return;
    p2l_generator *gen = NULL;
    CHECK_EQ_INT(p2l_generator_create(NULL, NULL, &gen), P2L_ERROR_INVALID_ARGUMENT);
    p2l_generator_options names = {.size = sizeof names, .decode_signature = "prefill"};
    CHECK_EQ_INT(p2l_generator_create(model, &names, &gen), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("decode takes 1");
    CHECK_EQ_INT(p2l_generator_create(model, NULL, &gen), P2L_OK);
    int64_t token, prompt[1] = {1};
    CHECK_EQ_INT(p2l_generator_next(gen, &token), P2L_ERROR_INVALID_ARGUMENT); /* before any prefill */
    CHECK_ERROR_MENTIONS("prefill first");
    CHECK(p2l_generator_logits(gen, NULL) == NULL);
    CHECK_EQ_INT(p2l_generator_prefill(gen, prompt, 0), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_generator_prefill(gen, NULL, 1), P2L_ERROR_INVALID_ARGUMENT);
    p2l_generator_free(gen);
    p2l_model_free(model);

    /* a model without prefill/decode signatures */
    CHECK_EQ_INT(p2l_model_load_file(P2L_SOURCE_DIR "/tests/data/state/counter.tflite", &model), P2L_OK);
    CHECK_EQ_INT(p2l_generator_create(model, NULL, &gen), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("no signature 'prefill'");
    p2l_model_free(model);
}

int main(void) {
    RUN(test_greedy_matches_pytorch);
    RUN(test_max_seq_len_from_file_and_override);
    RUN(test_refusals);
    return check_summary();
}

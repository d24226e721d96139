/* Greedy generation with a decoder language model from pt2lite.llm.convert, in C: loads the .tflite,
 * prefills the prompt, then takes one token per p2l_generator_next (docs/generative.md, "C: the
 * generation loop"). The file records its max_seq_len; generation stops there.
 *
 *   generate_c model.tflite 1,2,3 [max_new_tokens] [threads]
 *
 * prints the new ids on one line (comma-separated), and the prefill and decode tokens/s on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pt2lite.h"

enum { MAX_PROMPT = 4096 };

static int fail(const char *what, p2l_status status) {
    fprintf(stderr, "%s: %s: %s\n", what, p2l_status_name(status), p2l_last_error());
    return 1;
}

/* "1,2,3" -> ids; the count, or -1 when the text is not a list of ids. */
static long parse_prompt(const char *text, int64_t *ids, long max) {
    long n = 0;
    while (*text && n < max) {
        char *end;
        long long v = strtoll(text, &end, 10);
        if (end == text || v < 0) return -1;
        ids[n++] = v;
        text = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return *text ? -1 : n;
}

int main(int argc, char **argv) {
    static int64_t prompt[MAX_PROMPT];
    long count = argc > 2 ? parse_prompt(argv[2], prompt, MAX_PROMPT) : -1;
    if (count < 1) {
        fprintf(stderr, "usage: %s model.tflite 1,2,3 [max_new_tokens] [threads]\n", argv[0]);
        return 2;
    }
    long new_tokens = argc > 3 ? atol(argv[3]) : 16;
    p2l_model *model;
    p2l_status s = p2l_model_load_file(argv[1], &model);
    if (s != P2L_OK) return fail("load", s);
    p2l_generator_options options = {.size = sizeof options, .num_threads = argc > 4 ? atoi(argv[4]) : 1};
    p2l_generator *gen;
    s = p2l_generator_create(model, &options, &gen); /* signatures "prefill" and "decode" */
    if (s != P2L_OK) {
        p2l_model_free(model);
        return fail("create", s);
    }
    fprintf(stderr, "max_seq_len %d, prefill blocks of %d tokens\n", p2l_generator_max_seq_len(gen),
            p2l_generator_prefill_len(gen));
    int rc = 0;
    if ((s = p2l_generator_prefill(gen, prompt, (size_t)count)) != P2L_OK) rc = fail("prefill", s);
    for (long i = 0; rc == 0 && i < new_tokens; i++) {
        int64_t token;
        s = p2l_generator_next(gen, &token); /* greedy; p2l_generator_logits serves another sampler */
        if (s == P2L_ERROR_LIMIT) {
            fprintf(stderr, "\nstopped: %s\n", p2l_last_error());
            break;
        }
        if (s != P2L_OK) rc = fail("next", s);
        else printf("%s%lld", i ? "," : "", (long long)token);
    }
    printf("\n");
    p2l_generator_stats st;
    if (rc == 0 && p2l_generator_stats_get(gen, &st) == P2L_OK && st.prefill_seconds > 0)
        fprintf(stderr, "prefill %.1f tokens/s, decode %.1f tokens/s\n", st.prefill_tokens / st.prefill_seconds,
                st.decode_seconds > 0 ? st.decode_tokens / st.decode_seconds : 0.0);
    p2l_generator_free(gen);
    p2l_model_free(model);
    return rc;
}

/* p2l_convert_signatures: several programs -> one file with one subgraph and SignatureDef each, the
 * constants they share stored once, per-signature output-structure metadata; each signature run by
 * name on one interpreter; the refusals (no programs, duplicate or empty names, a broken program named
 * in the error). The archive is tests/data/signatures/mlp.pt2 (make_mlp_pt2.py). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pt2lite.h"

#ifndef P2L_SOURCE_DIR
#error "P2L_SOURCE_DIR (the source tree) must be defined"
#endif

#if defined(P2L_HAVE_CONVERTER) && defined(P2L_HAVE_RUNTIME)

enum { MLP_CONSTANT_BYTES = (16 * 32 + 32 + 32 * 16 + 16) * 4, IN = 2 * 16, OUT = 2 * 16 };

static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = n > 0 ? malloc((size_t)n) : NULL;
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = data ? (size_t)n : 0;
    return data;
}

static void *mlp;
static size_t mlp_size;

/* Runs signature `key` of the model on x; fills y. */
static void run_signature(p2l_interpreter *it, const char *key, const float *x, float *y) {
    const p2l_model *m = p2l_interpreter_model(it);
    int signature = -1, subgraph = -1, in = -1, out = -1;
    CHECK_EQ_INT(p2l_model_find_signature(m, key, &signature), P2L_OK);
    CHECK_EQ_INT(p2l_model_signature_subgraph(m, signature, &subgraph), P2L_OK);
    CHECK_EQ_INT(p2l_model_signature_find_io(m, signature, 0, "args_0", &in), P2L_OK);
    CHECK_EQ_INT(p2l_model_signature_find_io(m, signature, 1, "output_0", &out), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_set_tensor(it, subgraph, in, x, IN * sizeof(float)), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke_subgraph(it, subgraph), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_tensor(it, subgraph, out, y, OUT * sizeof(float)), P2L_OK);
}

static void test_one_program_is_p2l_convert(void) {
    void *plain = NULL, *named = NULL;
    size_t plain_size = 0, named_size = 0;
    p2l_signature_program program = {"serving_default", mlp, mlp_size};
    CHECK_EQ_INT(p2l_convert(mlp, mlp_size, NULL, &plain, &plain_size), P2L_OK);
    CHECK_EQ_INT(p2l_convert_signatures(&program, 1, NULL, &named, &named_size), P2L_OK);
    CHECK(plain_size == named_size && plain && named && memcmp(plain, named, plain_size) == 0);
    p2l_free(plain);
    p2l_free(named);
}

static void test_two_signatures_share_constants_and_run_by_name(void) {
    void *one = NULL, *two = NULL;
    size_t one_size = 0, two_size = 0;
    p2l_signature_program programs[2] = {{"prefill", mlp, mlp_size}, {"decode", mlp, mlp_size}};
    CHECK_EQ_INT(p2l_convert(mlp, mlp_size, NULL, &one, &one_size), P2L_OK);
    CHECK_EQ_INT(p2l_convert_signatures(programs, 2, NULL, &two, &two_size), P2L_OK);
    /* The second signature adds ops and tensors, not a second copy of the weights. */
    CHECK(two_size > one_size && two_size - one_size < MLP_CONSTANT_BYTES / 2);

    p2l_model *m = NULL;
    CHECK_EQ_INT(p2l_model_load(two, two_size, 0, &m), P2L_OK);
    if (!m) return;
    CHECK_EQ_INT(p2l_model_signature_count(m), 2);
    CHECK_EQ_INT(p2l_model_subgraph_count(m), 2);
    CHECK(strcmp(p2l_model_signature_key(m, 0), "prefill") == 0 && strcmp(p2l_model_subgraph_name(m, 1), "decode") == 0);
    const void *data;
    size_t size;
    CHECK_EQ_INT(p2l_model_metadata(m, "pt2lite_output_structure:prefill", &data, &size), P2L_OK);
    CHECK_EQ_INT(p2l_model_metadata(m, "pt2lite_output_structure:decode", &data, &size), P2L_OK);
    CHECK_EQ_INT(p2l_model_metadata(m, "pt2lite_output_structure", &data, &size), P2L_ERROR_INVALID_ARGUMENT);

    p2l_model *single = NULL;
    p2l_interpreter *it = NULL, *reference = NULL;
    CHECK_EQ_INT(p2l_model_load(one, one_size, 0, &single), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(m, NULL, &it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(single, NULL, &reference), P2L_OK);
    p2l_model_free(m);
    p2l_model_free(single);
    float x[IN], want[OUT], prefill[OUT], decode[OUT];
    for (int i = 0; i < IN; i++) x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
    run_signature(reference, "serving_default", x, want);
    run_signature(it, "decode", x, decode);
    run_signature(it, "prefill", x, prefill);
    /* Same weights, same kernels: the same bits as the file of one signature. */
    CHECK(memcmp(want, decode, sizeof want) == 0 && memcmp(want, prefill, sizeof want) == 0);
    p2l_interpreter_free(it);
    p2l_interpreter_free(reference);
    p2l_free(one);
    p2l_free(two);
}

static void test_refusals_name_the_problem(void) {
    void *out = NULL;
    size_t size = 0;
    p2l_signature_program programs[2] = {{"a", mlp, mlp_size}, {"a", mlp, mlp_size}};
    CHECK_EQ_INT(p2l_convert_signatures(programs, 0, NULL, &out, &size), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("no programs");
    CHECK_EQ_INT(p2l_convert_signatures(programs, 2, NULL, &out, &size), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("two signatures are named 'a'");
    programs[1].name = "";
    CHECK_EQ_INT(p2l_convert_signatures(programs, 2, NULL, &out, &size), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("program 1 has an empty name");
    programs[1].name = NULL;
    CHECK_EQ_INT(p2l_convert_signatures(programs, 2, NULL, &out, &size), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("program 1 has a NULL name");
    programs[1] = (p2l_signature_program){"broken", mlp, mlp_size / 2};
    CHECK(p2l_convert_signatures(programs, 2, NULL, &out, &size) != P2L_OK);
    CHECK_ERROR_MENTIONS("signature 'broken'");
    CHECK(out == NULL && size == 0);
}

int main(void) {
    mlp = read_all(P2L_SOURCE_DIR "/tests/data/signatures/mlp.pt2", &mlp_size);
    CHECK(mlp != NULL);
    if (!mlp) return check_summary();
    RUN(test_one_program_is_p2l_convert);
    RUN(test_two_signatures_share_constants_and_run_by_name);
    RUN(test_refusals_name_the_problem);
    free(mlp);
    return check_summary();
}
#else
int main(void) {
    printf("skipped: needs a build with the converter and the runtime\n");
    return 0;
}
#endif

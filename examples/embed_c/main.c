/* A C program that embeds pt2lite's runtime: loads a .tflite file, fills every float input with a
 * fixed pattern, runs it and prints the first output, one value per line.
 *
 *   embed_c model.tflite [threads]
 *
 * Built against the installed package (find_package(pt2lite) or pkg-config) or with pt2lite as a
 * subproject; see CMakeLists.txt beside it and docs/embedding.md. */
#include <stdio.h>
#include <stdlib.h>

#include "pt2lite.h"

static int fail(const char *what, p2l_status status) {
    fprintf(stderr, "%s: %s: %s\n", what, p2l_status_name(status), p2l_last_error());
    return 1;
}

/* The input pattern: element i of every input is ((i % 13) - 6) / 4.0 (the test computes the same). */
static float pattern(size_t i) { return (float)((long)(i % 13) - 6) / 4.0f; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.tflite [threads]\n", argv[0]);
        return 2;
    }
    fprintf(stderr, "pt2lite %s (%d.%d.%d)%s\n", p2l_version(), P2L_VERSION_MAJOR, P2L_VERSION_MINOR,
            P2L_VERSION_PATCH,
#ifdef P2L_HAVE_CONVERTER
            ", with the converter"
#else
            ", runtime only"
#endif
    );
    p2l_model *model;
    p2l_status s = p2l_model_load_file(argv[1], &model);
    if (s != P2L_OK) return fail("load", s);
    p2l_interpreter *it;
    p2l_interpreter_options options = {.num_threads = argc > 2 ? atoi(argv[2]) : 1};
    s = p2l_interpreter_create(model, &options, &it);
    p2l_model_free(model); /* the interpreter keeps its own reference */
    if (s != P2L_OK) return fail("create", s);

    int rc = 1;
    float *buffer = NULL;
    /* The output goes straight into our own buffer (bound before the inputs are set: binding re-plans
     * the memory, which drops input values set before). */
    p2l_tensor_info out = {.size = sizeof out};
    if ((s = p2l_interpreter_allocate(it)) != P2L_OK || (s = p2l_interpreter_output_info(it, 0, &out)) != P2L_OK)
        goto done;
    if (out.dtype != P2L_FLOAT32) {
        fprintf(stderr, "output 0 (%s) is not float32\n", out.name);
        goto done;
    }
    buffer = aligned_alloc(64, (out.bytes + 63) / 64 * 64 + 64); /* P2L_BIND_ALIGNMENT or more */
    if (!buffer || (s = p2l_interpreter_bind_output(it, 0, buffer, out.bytes)) != P2L_OK) goto done;
    int inputs = p2l_model_subgraph_input_count(p2l_interpreter_model(it), 0);
    for (int i = 0; i < inputs; i++) {
        p2l_tensor_info info = {.size = sizeof info};
        if ((s = p2l_interpreter_input_info(it, i, &info)) != P2L_OK) goto done;
        if (info.dtype != P2L_FLOAT32) {
            fprintf(stderr, "input %d (%s) is not float32: this example fills float inputs only\n", i, info.name);
            goto done;
        }
        float *x = malloc(info.bytes ? info.bytes : 1);
        if (!x) goto done;
        for (size_t k = 0; k < info.bytes / sizeof(float); k++) x[k] = pattern(k);
        s = p2l_interpreter_set_input(it, i, x, info.bytes);
        free(x);
        if (s != P2L_OK) goto done;
    }
    if ((s = p2l_interpreter_invoke(it)) != P2L_OK) goto done; /* writes buffer: no get_output */
    for (size_t k = 0; k < out.bytes / sizeof(float); k++) printf("%.9g\n", buffer[k]);
    rc = 0;
done:
    if (rc != 0 && s != P2L_OK) fail("run", s);
    p2l_interpreter_free(it); /* before the buffer bound to it */
    free(buffer);
    return rc;
}

/* The pt2lite command-line tool: convert .pt2 archives, inspect and run .tflite models. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt2lite.h"
#include "tflite/reader.h"

static int usage(FILE *f) {
    fprintf(f,
            "usage:\n"
            "  pt2lite convert MODEL.pt2 -o MODEL.tflite   convert a torch.export.save archive\n"
            "  pt2lite inspect MODEL.tflite                inputs, outputs, op counts, tensors, size\n"
            "  pt2lite version\n");
    return f == stderr ? 2 : 0;
}

static int fail(const char *what, p2l_status s) {
    fprintf(stderr, "pt2lite %s: error (%s): %s\n", what, p2l_status_name(s), p2l_last_error());
    return 1;
}

static int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "pt2lite convert: unknown option %s\n", argv[i]);
            return 2;
        } else if (!in) in = argv[i];
        else {
            fprintf(stderr, "pt2lite convert: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "pt2lite convert: need an input .pt2 and -o OUTPUT.tflite\n");
        return 2;
    }
    p2l_status s = p2l_convert_file(in, out, NULL);
    if (s != P2L_OK) return fail("convert", s);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}

static void print_tensor(const p2l_tfl_subgraph *sg, const char *label, int index) {
    const p2l_tfl_tensor *t = &sg->tensors[index];
    printf("    %-12s %-28s %-8s [", label, t->name, p2l_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++) {
        if (t->shape_signature[d] < 0) printf("%s?", d ? "," : "");
        else printf("%s%d", d ? "," : "", t->shape[d]);
    }
    printf("]\n");
}

static int compare_counts(const void *a, const void *b) {
    const int *x = a, *y = b;
    return x[1] != y[1] ? y[1] - x[1] : x[0] - y[0];
}

/* Reads the whole file (the reader verifies every byte before we print anything). */
static int cmd_inspect(int argc, char **argv) {
    if (argc != 1) {
        fprintf(stderr, "pt2lite inspect: need one .tflite file\n");
        return 2;
    }
    FILE *f = fopen(argv[0], "rb");
    if (!f) {
        fprintf(stderr, "pt2lite inspect: cannot open %s\n", argv[0]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = size > 0 ? malloc((size_t)size) : NULL;
    bool ok = data && fread(data, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) {
        free(data);
        fprintf(stderr, "pt2lite inspect: cannot read %s\n", argv[0]);
        return 1;
    }
    p2l_tfl_model m;
    p2l_status s = p2l_tfl_read(data, (size_t)size, &m);
    if (s != P2L_OK) {
        free(data);
        return fail("inspect", s);
    }
    printf("%s: %ld bytes, schema version %u, %s\n", argv[0], size, m.version, m.description ? m.description : "");
    for (int i = 0; i < m.signature_count; i++)
        printf("signature '%s' -> subgraph %d\n", m.signatures[i].key, m.signatures[i].subgraph);
    for (int g = 0; g < m.subgraph_count; g++) {
        const p2l_tfl_subgraph *sg = &m.subgraphs[g];
        size_t constant_bytes = 0;
        for (int t = 0; t < sg->tensor_count; t++) constant_bytes += sg->tensors[t].data_size;
        printf("subgraph %d '%s': %d ops, %d tensors, %zu bytes of constants\n", g, sg->name ? sg->name : "",
               sg->op_count, sg->tensor_count, constant_bytes);
        for (int i = 0; i < sg->input_count; i++) print_tensor(sg, "input", sg->inputs[i]);
        for (int i = 0; i < sg->output_count; i++) print_tensor(sg, "output", sg->outputs[i]);
        int counts[P2L_OP_COUNT][2];
        for (int op = 0; op < P2L_OP_COUNT; op++) counts[op][0] = op, counts[op][1] = 0;
        for (int i = 0; i < sg->op_count; i++) counts[sg->ops[i].op][1]++;
        qsort(counts, P2L_OP_COUNT, sizeof counts[0], compare_counts);
        printf("  ops:\n");
        for (int op = 0; op < P2L_OP_COUNT && counts[op][1]; op++)
            printf("    %-24s %d\n", p2l_op_info_of((p2l_op)counts[op][0])->name, counts[op][1]);
    }
    p2l_tfl_free(&m);
    free(data);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc - 2, argv + 2);
    if (strcmp(cmd, "inspect") == 0) return cmd_inspect(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("pt2lite %s\n", p2l_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) return usage(stdout);
    fprintf(stderr, "pt2lite: unknown command '%s'\n", cmd);
    return usage(stderr);
}

/* The pt2lite command-line tool: convert .pt2 archives, inspect and run .tflite models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt2lite.h"

static int usage(FILE *f) {
    fprintf(f,
            "usage:\n"
            "  pt2lite convert MODEL.pt2 -o MODEL.tflite   convert a torch.export.save archive\n"
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

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("pt2lite %s\n", p2l_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) return usage(stdout);
    fprintf(stderr, "pt2lite: unknown command '%s'\n", cmd);
    return usage(stderr);
}

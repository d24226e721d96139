/* The pt2lite command-line tool: convert .pt2 archives, inspect, run and benchmark .tflite models.
 *
 * main() is a dispatch table (command name -> function, one-line help). It uses only the public API
 * (include/pt2lite.h), as any program that embeds pt2lite would; .npy files are read and written by
 * the small codec below. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "pt2lite.h"

static int fail(const char *what, p2l_status s) {
    fprintf(stderr, "pt2lite %s: error (%s): %s\n", what, p2l_status_name(s), p2l_last_error());
    return 1;
}

#ifdef P2L_HAVE_CONVERTER
/* `convert -v`: one line per stage as it ends, on stderr. */
static void print_stage(const char *stage, double seconds, void *user) {
    (void)user;
    fprintf(stderr, "  %-8s %9.3f s\n", stage, seconds);
}
#endif

/* `convert A.pt2 -o M.tflite`, or several archives into one file of several signatures:
 * `convert A.pt2 B.pt2 --signature prefill --signature decode -o M.tflite` (the i-th --signature names
 * the i-th archive; one archive's signature is 'serving_default' unless named). */
enum { MAX_SIGNATURES = 64 };

#ifdef P2L_HAVE_CONVERTER
/* --quantize NAME: the recipes that need no calibration (p2l_quantize_recipe); false: unknown. */
static bool quantize_recipe_named(const char *name, p2l_quantize_recipe *recipe) {
    static const struct { const char *name; p2l_quantize_recipe recipe; } recipes[] = {
        {"none", P2L_QUANTIZE_NONE}, {"fp16", P2L_QUANTIZE_FP16}, {"dynamic_int8", P2L_QUANTIZE_DYNAMIC_INT8},
        {"int4_weights", P2L_QUANTIZE_INT4_WEIGHTS}};
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
        if (!strcmp(name, recipes[i].name)) return *recipe = recipes[i].recipe, true;
    return false;
}
#endif

static int cmd_convert(int argc, char **argv) {
    const char *inputs[MAX_SIGNATURES], *names[MAX_SIGNATURES], *out = NULL;
    int input_count = 0, name_count = 0;
    bool verbose = false;
    const char *quantize = "none";
    for (int i = 0; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && has_value) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--quantize") == 0 && has_value) {
            quantize = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--signature") == 0 && has_value) {
            if (name_count == MAX_SIGNATURES) {
                fprintf(stderr, "pt2lite convert: at most %d signatures\n", MAX_SIGNATURES);
                return 2;
            }
            names[name_count++] = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "pt2lite convert: unknown option or missing value: %s\n", argv[i]);
            return 2;
        } else if (input_count < MAX_SIGNATURES) {
            inputs[input_count++] = argv[i];
        } else {
            fprintf(stderr, "pt2lite convert: unexpected argument %s (at most %d archives)\n", argv[i], MAX_SIGNATURES);
            return 2;
        }
    }
    if (!input_count || !out) {
        fprintf(stderr, "pt2lite convert: need an input .pt2 and -o OUTPUT.tflite\n");
        return 2;
    }
    if (name_count != (input_count > 1 || name_count ? input_count : 0)) {
        fprintf(stderr, "pt2lite convert: %d archives and %d --signature names: give one --signature NAME per archive, "
                "in the same order (pt2lite convert A.pt2 B.pt2 --signature a --signature b -o M.tflite)\n",
                input_count, name_count);
        return 2;
    }
#ifdef P2L_HAVE_CONVERTER
    p2l_quantize_recipe recipe = P2L_QUANTIZE_NONE;
    if (!strcmp(quantize, "int8")) {
        fprintf(stderr, "pt2lite convert: --quantize int8 needs calibration data (activation ranges): use the "
                "Python API, pt2lite.convert(module, args, quantize=\"int8\", calibration=...)\n");
        return 2;
    }
    if (!quantize_recipe_named(quantize, &recipe)) {
        fprintf(stderr, "pt2lite convert: --quantize %s: unknown recipe (fp16, dynamic_int8, int4_weights; "
                "int8 needs the Python API's calibration)\n", quantize);
        return 2;
    }
    p2l_convert_options options = {.size = sizeof options, .on_stage = verbose ? print_stage : NULL,
                                   .quantize = recipe};
    if (verbose) fprintf(stderr, "converting %s%s (stage, wall time):\n", inputs[0], input_count > 1 ? " and more" : "");
    p2l_status s = name_count ? p2l_convert_signature_files(names, inputs, (size_t)input_count, out, &options)
                              : p2l_convert_file(inputs[0], out, &options);
    if (s != P2L_OK) return fail("convert", s);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
#else
    (void)inputs, (void)names, (void)verbose, (void)quantize;
    fprintf(stderr, "pt2lite convert: this build of pt2lite has no converter (configured with P2L_BUILD_CONVERTER=OFF)\n");
    return 1;
#endif
}

/* "'a', 'b'" into buf: the signatures a message lists. */
static const char *signature_list(const p2l_model *model, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < p2l_model_signature_count(model) && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s'%s'", i ? ", " : "", p2l_model_signature_key(model, i));
    return buf;
}

/* The signature named `name`, or -1 after printing what the model has. */
static int find_signature(const char *cmd, const char *path, const p2l_model *model, const char *name) {
    int signature = -1;
    if (p2l_model_find_signature(model, name, &signature) == P2L_OK) return signature;
    char list[1024];
    fprintf(stderr, "pt2lite %s: error: %s has no signature '%s'; its signatures: %s\n", cmd, path, name,
            p2l_model_signature_count(model) ? signature_list(model, list, sizeof list) : "none");
    return -1;
}

static void print_tensor(const p2l_model *model, int subgraph, const char *label, int index) {
    p2l_tensor_info t = {.size = sizeof t};
    if (p2l_model_tensor_info(model, subgraph, index, &t) != P2L_OK) return; /* the model lists only its own tensors */
    printf("    %-12s %-28s %-8s [", label, t.name, p2l_dtype_name(t.dtype));
    for (int d = 0; d < t.rank; d++) {
        if (t.dims_signature[d] < 0) printf("%s?", d ? "," : "");
        else printf("%s%d", d ? "," : "", t.dims[d]);
    }
    printf("]\n");
}

/* How often one builtin operator occurs in a subgraph. */
typedef struct op_count {
    const char *name;
    int code, count;
} op_count;

/* Most frequent first; ties by builtin code. */
static int compare_op_counts(const void *a, const void *b) {
    const op_count *x = a, *y = b;
    return x->count != y->count ? y->count - x->count : x->code - y->code;
}

static bool print_subgraph(const p2l_model *model, int g) {
    const int tensor_count = p2l_model_subgraph_tensor_count(model, g), op_total = p2l_model_subgraph_op_count(model, g);
    size_t constant_bytes = 0;
    for (int t = 0; t < tensor_count; t++) {
        p2l_tensor_info info = {.size = sizeof info};
        if (p2l_model_tensor_info(model, g, t, &info) == P2L_OK && info.is_constant) constant_bytes += info.bytes;
    }
    printf("subgraph %d '%s': %d ops, %d tensors, %zu bytes of constants\n", g, p2l_model_subgraph_name(model, g),
           op_total, tensor_count, constant_bytes);
    for (int i = 0, tensor; i < p2l_model_subgraph_input_count(model, g); i++)
        if (p2l_model_subgraph_input(model, g, i, &tensor) == P2L_OK) print_tensor(model, g, "input", tensor);
    for (int i = 0, tensor; i < p2l_model_subgraph_output_count(model, g); i++)
        if (p2l_model_subgraph_output(model, g, i, &tensor) == P2L_OK) print_tensor(model, g, "output", tensor);
    /* One row per distinct operator, so at most as many rows as ops. */
    op_count *counts = calloc(op_total ? (size_t)op_total : 1, sizeof *counts);
    if (!counts) return false;
    int distinct = 0;
    for (int i = 0; i < op_total; i++) {
        op_count op = {0};
        if (p2l_model_op(model, g, i, &op.name, &op.code) != P2L_OK) continue;
        int k = 0;
        while (k < distinct && counts[k].code != op.code) k++;
        if (k == distinct) counts[distinct++] = op;
        counts[k].count++;
    }
    qsort(counts, (size_t)distinct, sizeof *counts, compare_op_counts);
    printf("  ops:\n");
    for (int k = 0; k < distinct; k++) printf("    %-24s %d\n", counts[k].name, counts[k].count);
    free(counts);
    return true;
}

/* A signature: its subgraph, then each input and output by signature name, with its tensor. */
static void print_signature(const p2l_model *model, int signature) {
    int subgraph = -1;
    p2l_model_signature_subgraph(model, signature, &subgraph);
    printf("signature '%s' -> subgraph %d\n", p2l_model_signature_key(model, signature), subgraph);
    for (int is_output = 0; is_output < 2; is_output++)
        for (int i = 0; i < p2l_model_signature_io_count(model, signature, is_output); i++) {
            const char *name = NULL;
            int tensor = -1;
            if (p2l_model_signature_io(model, signature, is_output, i, &name, &tensor) != P2L_OK) continue;
            char label[256];
            snprintf(label, sizeof label, "%s '%s'", is_output ? "output" : "input", name);
            print_tensor(model, subgraph, label, tensor);
        }
}

/* Reads the whole file (the model is verified, every byte, before we print anything). With
 * --signature NAME, only that signature and its subgraph. */
static int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *only = NULL;
    bool usage_ok = true;
    for (int i = 0; i < argc && usage_ok; i++) {
        if (strcmp(argv[i], "--signature") == 0 && i + 1 < argc) only = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else usage_ok = false;
    }
    if (!path || !usage_ok) {
        fprintf(stderr, "pt2lite inspect: need one .tflite file (pt2lite inspect MODEL.tflite [--signature NAME])\n");
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "pt2lite inspect: cannot open %s\n", path);
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
        fprintf(stderr, "pt2lite inspect: cannot read %s\n", path);
        return 1;
    }
    /* Verify only: inspect lists files whatever their ops, also ones this build has no kernel for. */
    p2l_model_load_options options = {.size = sizeof options, .flags = P2L_MODEL_VERIFY_ONLY};
    p2l_model *model;
    p2l_status s = p2l_model_load_ex(data, (size_t)size, &options, &model);
    if (s != P2L_OK) {
        free(data);
        return fail("inspect", s);
    }
    int signature = only ? find_signature("inspect", path, model, only) : -1, subgraph = -1;
    ok = !only || signature >= 0;
    if (ok && only) p2l_model_signature_subgraph(model, signature, &subgraph);
    if (ok)
        printf("%s: %ld bytes, schema version %u, %s\n", path, size, (unsigned)p2l_model_schema_version(model),
               p2l_model_description(model));
    for (int i = 0; ok && i < p2l_model_signature_count(model); i++)
        if (!only || i == signature) print_signature(model, i);
    for (int g = 0; g < p2l_model_subgraph_count(model) && ok; g++)
        if (!only || g == subgraph) ok = print_subgraph(model, g);
    if (!ok && (!only || signature >= 0)) fprintf(stderr, "pt2lite inspect: out of memory\n");
    p2l_model_free(model);
    free(data);
    return ok ? 0 : 1;
}

#ifdef P2L_HAVE_RUNTIME
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int error_msg(const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pt2lite %s: error: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* ---------------------------------------------------------------- .npy files
 *
 * NumPy's format (versions 1.0 to 3.0): "\x93NUMPY", major, minor, header length (uint16 for 1.0,
 * uint32 after), then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * and the raw C-order data. Little-endian arrays of the dtypes below only; anything else is an error
 * that says what the file holds. */

typedef struct npy_type {
    const char *code; /* descr without the byte-order character */
    p2l_dtype dtype;
    size_t size;
} npy_type;

static const npy_type NPY_TYPES[] = {
    {"f4", P2L_FLOAT32, 4}, {"i4", P2L_INT32, 4}, {"i8", P2L_INT64, 8}, {"b1", P2L_BOOL, 1},
    {"u1", P2L_UINT8, 1},   {"i1", P2L_INT8, 1},  {"f2", P2L_FLOAT16, 2}, {"i2", P2L_INT16, 2},
    {"f8", P2L_FLOAT64, 8},
};
enum { NPY_TYPE_COUNT = sizeof NPY_TYPES / sizeof NPY_TYPES[0] };

static const npy_type *npy_type_of(p2l_dtype d) {
    for (int i = 0; i < NPY_TYPE_COUNT; i++)
        if (NPY_TYPES[i].dtype == d) return &NPY_TYPES[i];
    return NULL;
}

typedef struct npy_array {
    p2l_dtype dtype;
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    size_t bytes;
    void *data;
} npy_array;

static void format_dims(char *buf, size_t cap, int rank, const int32_t *dims) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < rank && n < cap; d++) n += (size_t)snprintf(buf + n, cap - n, "%s%d", d ? "," : "", dims[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* The value of 'key' in the header dict: a pointer just past "'key':" and its spaces, or NULL. */
static const char *npy_field(const char *header, const char *key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(header, quoted);
    if (!p) {
        snprintf(quoted, sizeof quoted, "\"%s\"", key);
        p = strstr(header, quoted);
    }
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

/* Reads a .npy file; on failure prints a message naming the file and returns false. */
static bool npy_read(const char *cmd, const char *path, npy_array *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        error_msg(cmd, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = false;
    char *header = NULL;
    unsigned char pre[12];
    size_t header_len = 0;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        error_msg(cmd, "%s is not a .npy file (no \\x93NUMPY magic)", path);
        goto done;
    }
    if (pre[6] == 1) {
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            error_msg(cmd, "%s: truncated .npy header", path);
            goto done;
        }
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        error_msg(cmd, "%s: .npy format version %d.%d is not supported (1.0 to 3.0)", path, pre[6], pre[7]);
        goto done;
    }
    if (header_len > 1 << 20) {
        error_msg(cmd, "%s: .npy header of %zu bytes is too large", path, header_len);
        goto done;
    }
    header = malloc(header_len + 1);
    if (!header || fread(header, 1, header_len, f) != header_len) {
        error_msg(cmd, "%s: truncated .npy header", path);
        goto done;
    }
    header[header_len] = 0;

    const char *descr = npy_field(header, "descr");
    if (!descr || (*descr != '\'' && *descr != '"')) {
        error_msg(cmd, "%s: the .npy header has no 'descr'", path);
        goto done;
    }
    char type[16] = {0};
    size_t tn = 0;
    for (const char *p = descr + 1; *p && *p != '\'' && *p != '"' && tn < sizeof type - 1; p++) type[tn++] = *p;
    const npy_type *nt = NULL;
    for (int i = 0; i < NPY_TYPE_COUNT && tn >= 2; i++)
        if (strcmp(type + 1, NPY_TYPES[i].code) == 0) nt = &NPY_TYPES[i];
    uint16_t one = 1;
    bool little = *(const uint8_t *)&one == 1;
    bool order_ok = type[0] == '<' || (type[0] == '=' && little) || (type[0] == '|' && nt && nt->size == 1);
    if (nt && type[0] == '>') {
        error_msg(cmd, "%s holds big-endian data ('%s'); save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))",
                  path, type);
        goto done;
    }
    if (!nt || !order_ok) {
        error_msg(cmd, "%s: dtype '%s' is not supported (float32, int32, int64, bool, uint8, int8, float16, int16, "
                  "float64, little-endian)", path, type);
        goto done;
    }
    const char *fortran = npy_field(header, "fortran_order");
    if (!fortran || strncmp(fortran, "False", 5) != 0) {
        error_msg(cmd, "%s: Fortran-order arrays are not supported; save np.ascontiguousarray(arr)", path);
        goto done;
    }
    const char *shape = npy_field(header, "shape");
    if (!shape || *shape != '(') {
        error_msg(cmd, "%s: the .npy header has no 'shape'", path);
        goto done;
    }
    size_t count = 1;
    const char *p = shape + 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9') {
            error_msg(cmd, "%s: malformed shape in the .npy header: %.40s", path, shape);
            goto done;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > INT32_MAX) {
            error_msg(cmd, "%s: a dimension of the shape is too large: %.40s", path, shape);
            goto done;
        }
        if (out->rank == P2L_MAX_DIMS) {
            error_msg(cmd, "%s: rank above %d is not supported", path, P2L_MAX_DIMS);
            goto done;
        }
        out->dims[out->rank++] = (int32_t)v;
        if (v && count > SIZE_MAX / v) {
            error_msg(cmd, "%s: the shape's element count overflows", path);
            goto done;
        }
        count *= (size_t)v;
        p = end;
    }
    if (count > SIZE_MAX / nt->size) {
        error_msg(cmd, "%s: the shape's byte size overflows", path);
        goto done;
    }
    out->dtype = nt->dtype;
    out->bytes = count * nt->size;
    out->data = malloc(out->bytes ? out->bytes : 1);
    if (!out->data) {
        error_msg(cmd, "%s: out of memory for %zu bytes", path, out->bytes);
        goto done;
    }
    size_t got = fread(out->data, 1, out->bytes, f);
    if (got != out->bytes) {
        error_msg(cmd, "%s: truncated: the header says %zu bytes of data, the file has %zu", path, out->bytes, got);
        goto done;
    }
    if (fgetc(f) != EOF) {
        error_msg(cmd, "%s: more data than the header's shape holds", path);
        goto done;
    }
    ok = true;
done:
    free(header);
    fclose(f);
    if (!ok) {
        free(out->data);
        out->data = NULL;
    }
    return ok;
}

/* Writes a .npy (version 1.0, header padded to 64 bytes). */
static bool npy_write(const char *path, p2l_dtype dtype, int rank, const int32_t *dims, const void *data, size_t bytes) {
    const npy_type *nt = npy_type_of(dtype);
    if (!nt) {
        error_msg("run", "cannot save %s: dtype %s has no .npy writer", path, p2l_dtype_name(dtype));
        return false;
    }
    char shape[P2L_MAX_DIMS * 12 + 8];
    size_t n = (size_t)snprintf(shape, sizeof shape, "(");
    for (int d = 0; d < rank; d++) n += (size_t)snprintf(shape + n, sizeof shape - n, "%d,%s", dims[d], d + 1 < rank ? " " : "");
    if (rank > 1) n--; /* "(2, 3)": the trailing comma only for rank 1 */
    snprintf(shape + n, sizeof shape - n, ")");
    char header[256];
    int len = snprintf(header, sizeof header, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
                       nt->size == 1 ? '|' : '<', nt->code, shape);
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    memset(header + len, ' ', padded - total);
    header[len + (int)(padded - total)] = '\n';
    size_t header_len = (size_t)len + (padded - total) + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(header_len & 0xff),
                             (unsigned char)(header_len >> 8)};
    FILE *f = fopen(path, "wb");
    if (!f) {
        error_msg("run", "cannot write %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, header_len, f) == header_len &&
              (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
    ok = (fclose(f) == 0) && ok;
    if (!ok) error_msg("run", "cannot write %s", path);
    return ok;
}

/* ---------------------------------------------------------------- shared by run and bench */

typedef struct run_args {
    const char *model;
    const char *inputs[64];
    int input_count;
    const char *output_dir;
    const char *signature; /* --signature NAME, or NULL */
    int threads;
    long min_runs, warmup;
    double min_seconds;
    uint64_t seed;
} run_args;

static bool parse_long(const char *cmd, const char *opt, const char *text, long min, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min) {
        fprintf(stderr, "pt2lite %s: %s needs an integer >= %ld, got '%s'\n", cmd, opt, min, text);
        return false;
    }
    *out = v;
    return true;
}

/* Options of run and bench; returns 0 on success, else the exit code (2: usage). */
static int parse_run_args(const char *cmd, int argc, char **argv, bool bench, run_args *a) {
    memset(a, 0, sizeof *a);
    a->output_dir = ".";
    a->threads = 1;
    a->min_runs = 10;
    a->warmup = 2;
    a->min_seconds = 1.0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        long v;
        if ((!strcmp(arg, "--input") || !strcmp(arg, "-i")) && has_value) {
            if (a->input_count == 64) {
                fprintf(stderr, "pt2lite %s: at most 64 inputs\n", cmd);
                return 2;
            }
            a->inputs[a->input_count++] = argv[++i];
        } else if (!strcmp(arg, "--threads") && has_value) {
            if (!parse_long(cmd, arg, argv[++i], 1, &v) || v > 1024) return 2;
            a->threads = (int)v;
        } else if (!strcmp(arg, "--signature") && has_value) {
            a->signature = argv[++i];
        } else if (!strcmp(arg, "--seed") && has_value) {
            if (!parse_long(cmd, arg, argv[++i], 0, &v)) return 2;
            a->seed = (uint64_t)v;
        } else if (!bench && (!strcmp(arg, "--output-dir") || !strcmp(arg, "-o")) && has_value) {
            a->output_dir = argv[++i];
        } else if (bench && !strcmp(arg, "--min-runs") && has_value) {
            if (!parse_long(cmd, arg, argv[++i], 1, &a->min_runs)) return 2;
        } else if (bench && !strcmp(arg, "--warmup") && has_value) {
            if (!parse_long(cmd, arg, argv[++i], 0, &a->warmup)) return 2;
        } else if (bench && !strcmp(arg, "--min-seconds") && has_value) {
            char *end;
            a->min_seconds = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(a->min_seconds >= 0) || a->min_seconds > 86400) {
                fprintf(stderr, "pt2lite %s: --min-seconds needs a number of seconds, got '%s'\n", cmd, argv[i]);
                return 2;
            }
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "pt2lite %s: unknown option or missing value: %s\n", cmd, arg);
            return 2;
        } else if (!a->model) {
            a->model = arg;
        } else if (a->input_count < 64) {
            a->inputs[a->input_count++] = arg; /* `run m.tflite --input a.npy b.npy` */
        } else {
            fprintf(stderr, "pt2lite %s: unexpected argument %s\n", cmd, arg);
            return 2;
        }
    }
    if (!a->model) {
        fprintf(stderr, "pt2lite %s: need a .tflite model (pt2lite %s MODEL.tflite ...)\n", cmd, cmd);
        return 2;
    }
    return 0;
}

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Random values: floats uniform in [-1, 1), integers in [0, 4), booleans 0/1. */
static void fill_random(void *data, p2l_dtype dtype, size_t count, uint64_t *state) {
    for (size_t i = 0; i < count; i++) {
        uint64_t r = next_random(state);
        double u = (double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        switch (dtype) {
        case P2L_FLOAT32: ((float *)data)[i] = (float)u; break;
        case P2L_FLOAT64: ((double *)data)[i] = u; break;
        case P2L_INT32: ((int32_t *)data)[i] = (int32_t)(r & 3); break;
        case P2L_INT64: ((int64_t *)data)[i] = (int64_t)(r & 3); break;
        case P2L_INT16: ((int16_t *)data)[i] = (int16_t)(r & 3); break;
        case P2L_INT8: ((int8_t *)data)[i] = (int8_t)(r & 3); break;
        case P2L_UINT8: ((uint8_t *)data)[i] = (uint8_t)(r & 3); break;
        case P2L_BOOL: ((uint8_t *)data)[i] = (uint8_t)(r & 1); break;
        case P2L_FLOAT16: ((uint16_t *)data)[i] = (uint16_t)(0x3800 | (r & 0x3ff) | (r & 0x8000)); break;
        case P2L_STRING: case P2L_RESOURCE: case P2L_INT4: break; /* int4: constants only */
        }
    }
}

/* What run and bench invoke: a subgraph and its inputs and outputs (tensor indices), in the order of
 * the signature --signature names, else of subgraph 0 (a file of several signatures needs the name). */
typedef struct run_target {
    int subgraph, input_count, output_count;
    int *inputs, *outputs;
} run_target;

static void run_target_free(run_target *t) {
    free(t->inputs);
    free(t->outputs);
    memset(t, 0, sizeof *t);
}

static int resolve_target(const char *cmd, const run_args *a, const p2l_model *model, run_target *t) {
    memset(t, 0, sizeof *t);
    int signature = -1;
    char list[1024];
    if (a->signature) {
        if ((signature = find_signature(cmd, a->model, model, a->signature)) < 0) return 1;
        p2l_model_signature_subgraph(model, signature, &t->subgraph);
        t->input_count = p2l_model_signature_io_count(model, signature, 0);
        t->output_count = p2l_model_signature_io_count(model, signature, 1);
    } else if (p2l_model_signature_count(model) > 1) {
        return error_msg(cmd, "%s has %d signatures (%s): pick one with --signature NAME", a->model,
                         p2l_model_signature_count(model), signature_list(model, list, sizeof list));
    } else {
        t->input_count = p2l_model_subgraph_input_count(model, 0);
        t->output_count = p2l_model_subgraph_output_count(model, 0);
    }
    t->inputs = malloc(sizeof(int) * (size_t)(t->input_count + 1));
    t->outputs = malloc(sizeof(int) * (size_t)(t->output_count + 1));
    if (!t->inputs || !t->outputs) {
        run_target_free(t);
        return error_msg(cmd, "out of memory");
    }
    p2l_status s = P2L_OK;
    for (int i = 0; i < t->input_count && !s; i++)
        s = signature >= 0 ? p2l_model_signature_io(model, signature, 0, i, NULL, &t->inputs[i])
                           : p2l_model_subgraph_input(model, 0, i, &t->inputs[i]);
    for (int i = 0; i < t->output_count && !s; i++)
        s = signature >= 0 ? p2l_model_signature_io(model, signature, 1, i, NULL, &t->outputs[i])
                           : p2l_model_subgraph_output(model, 0, i, &t->outputs[i]);
    if (s) {
        run_target_free(t);
        return fail(cmd, s);
    }
    return 0;
}

/* Loads the model, creates the interpreter, sets every input (from .npy files, resizing dynamic
 * dims to the file's shape, or random values). Returns the exit code (0: ready to invoke). */
static int prepare_run(const char *cmd, const run_args *a, p2l_interpreter **out, run_target *target) {
    *out = NULL;
    p2l_model *model = NULL;
    p2l_status s = p2l_model_load_file(a->model, &model);
    if (s) return fail(cmd, s);
    int rc = resolve_target(cmd, a, model, target);
    if (rc) {
        p2l_model_free(model);
        return rc;
    }
    p2l_interpreter_options options = {.size = sizeof options, .num_threads = a->threads};
    p2l_interpreter *it = NULL;
    s = p2l_interpreter_create(model, &options, &it);
    const int inputs = target->input_count, sg = target->subgraph;
    p2l_model_free(model);
    if (s) {
        run_target_free(target);
        return fail(cmd, s);
    }
    if (a->input_count && a->input_count != inputs) {
        p2l_interpreter_free(it);
        run_target_free(target);
        return error_msg(cmd, "%s has %d input%s, got %d .npy file%s", a->model, inputs, inputs == 1 ? "" : "s",
                         a->input_count, a->input_count == 1 ? "" : "s");
    }
    npy_array arrays[64] = {0};
    /* Read and check every file and resize first (a resize drops input values set before it). */
    for (int i = 0; i < a->input_count && !rc; i++) {
        p2l_tensor_info info = {.size = sizeof info};
        if (!npy_read(cmd, a->inputs[i], &arrays[i])) {
            rc = 1;
            break;
        }
        if ((s = p2l_interpreter_tensor_info(it, sg, target->inputs[i], &info))) {
            rc = fail(cmd, s);
            break;
        }
        const npy_array *x = &arrays[i];
        char want[128], got[128];
        format_dims(want, sizeof want, info.rank, info.dims);
        format_dims(got, sizeof got, x->rank, x->dims);
        if (x->dtype != info.dtype) {
            rc = error_msg(cmd, "input %d ('%s'): %s holds %s, the model wants %s", i, info.name, a->inputs[i],
                           p2l_dtype_name(x->dtype), p2l_dtype_name(info.dtype));
            break;
        }
        bool same = x->rank == info.rank, resizable = x->rank == info.rank;
        for (int d = 0; d < x->rank && d < info.rank; d++) {
            if (x->dims[d] != info.dims[d]) same = false;
            if (x->dims[d] != info.dims[d] && info.dims_signature[d] != -1) resizable = false;
        }
        if (same) continue;
        if (!resizable) {
            rc = error_msg(cmd, "input %d ('%s'): %s has shape %s, the model wants %s", i, info.name, a->inputs[i], got,
                           want);
            break;
        }
        if ((s = p2l_interpreter_resize_tensor(it, sg, target->inputs[i], x->rank, x->dims))) rc = fail(cmd, s);
    }
    if (!rc && (s = p2l_interpreter_allocate(it))) rc = fail(cmd, s);
    uint64_t state = a->seed;
    for (int i = 0; i < inputs && !rc; i++) {
        p2l_tensor_info info = {.size = sizeof info};
        void *data = NULL;
        const int t = target->inputs[i];
        if ((s = p2l_interpreter_tensor_info(it, sg, t, &info))) {
            rc = fail(cmd, s);
        } else if (i < a->input_count) {
            if ((s = p2l_interpreter_set_tensor(it, sg, t, arrays[i].data, arrays[i].bytes))) rc = fail(cmd, s);
        } else {
            if ((s = p2l_interpreter_tensor_data(it, sg, t, &data)))
                rc = fail(cmd, s);
            else if (npy_type_of(info.dtype))
                fill_random(data, info.dtype, info.bytes / npy_type_of(info.dtype)->size, &state);
            else
                rc = error_msg(cmd, "input %d ('%s'): no random values for dtype %s; give a .npy", i, info.name,
                               p2l_dtype_name(info.dtype));
        }
    }
    for (int i = 0; i < a->input_count; i++) free(arrays[i].data);
    if (rc) {
        p2l_interpreter_free(it);
        run_target_free(target);
        return rc;
    }
    *out = it;
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Peak resident memory of this process in bytes (ru_maxrss: kilobytes on Linux, bytes on macOS). */
static double peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#if defined(__APPLE__)
    return (double)ru.ru_maxrss;
#else
    return (double)ru.ru_maxrss * 1024.0;
#endif
}

/* ---------------------------------------------------------------- run */

static int cmd_run(int argc, char **argv) {
    run_args a;
    int rc = parse_run_args("run", argc, argv, false, &a);
    if (rc) return rc;
    struct stat st;
    if (stat(a.output_dir, &st) != 0) {
        if (mkdir(a.output_dir, 0777) != 0) return error_msg("run", "cannot create %s: %s", a.output_dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return error_msg("run", "--output-dir %s is not a directory", a.output_dir);
    }
    p2l_interpreter *it;
    run_target target;
    if ((rc = prepare_run("run", &a, &it, &target))) return rc;
    double t0 = now_seconds();
    p2l_status s = p2l_interpreter_invoke_subgraph(it, target.subgraph);
    double elapsed = now_seconds() - t0;
    if (s) {
        p2l_interpreter_free(it);
        run_target_free(&target);
        return fail("run", s);
    }
    int inputs = target.input_count, outputs = target.output_count;
    printf("%s: %d input%s (%s), %d output%s, invoke %.3f ms\n", a.model, inputs, inputs == 1 ? "" : "s",
           a.input_count ? "from .npy" : "random", outputs, outputs == 1 ? "" : "s", elapsed * 1e3);
    for (int i = 0; i < outputs && !rc; i++) {
        p2l_tensor_info info = {.size = sizeof info};
        void *data = NULL;
        if ((s = p2l_interpreter_tensor_info(it, target.subgraph, target.outputs[i], &info)) ||
            (s = p2l_interpreter_tensor_data(it, target.subgraph, target.outputs[i], &data))) {
            rc = fail("run", s);
            break;
        }
        size_t path_len = strlen(a.output_dir) + 32;
        char *path = malloc(path_len);
        if (!path) {
            rc = error_msg("run", "out of memory");
            break;
        }
        snprintf(path, path_len, "%s/output_%d.npy", a.output_dir, i);
        if (!npy_write(path, info.dtype, info.rank, info.dims, data, info.bytes)) rc = 1;
        char dims[128];
        format_dims(dims, sizeof dims, info.rank, info.dims);
        if (!rc) {
            printf("  output %d '%s' %s %s -> %s", i, info.name, p2l_dtype_name(info.dtype), dims, path);
            if (info.dtype == P2L_FLOAT32 && info.bytes) {
                const float *v = data;
                size_t n = info.bytes / 4;
                double lo = v[0], hi = v[0], sum = 0;
                for (size_t k = 0; k < n; k++) {
                    lo = v[k] < lo ? v[k] : lo;
                    hi = v[k] > hi ? v[k] : hi;
                    sum += v[k];
                }
                printf("  (min %.6g, max %.6g, mean %.6g)", lo, hi, sum / (double)n);
            }
            printf("\n");
        }
        free(path);
    }
    p2l_interpreter_free(it);
    run_target_free(&target);
    return rc;
}

/* ---------------------------------------------------------------- bench */

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv) {
    run_args a;
    int rc = parse_run_args("bench", argc, argv, true, &a);
    if (rc) return rc;
    double t0 = now_seconds();
    p2l_interpreter *it;
    run_target target;
    if ((rc = prepare_run("bench", &a, &it, &target))) return rc;
    const int subgraph = target.subgraph;
    run_target_free(&target);
    double load_s = now_seconds() - t0;
    p2l_status s = P2L_OK;
    for (long i = 0; i < a.warmup && !s; i++) s = p2l_interpreter_invoke_subgraph(it, subgraph);
    size_t cap = 1024, n = 0;
    double *times = malloc(cap * sizeof *times);
    double start = now_seconds(), total = 0;
    while (!s && times) {
        if (n >= (size_t)a.min_runs && total >= a.min_seconds) break;
        if (n == cap) {
            double *grown = realloc(times, 2 * cap * sizeof *times);
            if (!grown) break;
            times = grown, cap *= 2;
        }
        double r0 = now_seconds();
        s = p2l_interpreter_invoke_subgraph(it, subgraph);
        double r1 = now_seconds();
        times[n++] = r1 - r0;
        total = r1 - start;
    }
    if (s || !times) {
        free(times);
        p2l_interpreter_free(it);
        return s ? fail("bench", s) : error_msg("bench", "out of memory");
    }
    size_t arena = p2l_interpreter_arena_bytes(it, subgraph);
    p2l_interpreter_free(it);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += times[i];
    qsort(times, n, sizeof *times, compare_doubles);
    double median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    printf("model: %s\n", a.model);
    if (a.signature) printf("signature: %s\n", a.signature);
    printf("threads: %d\n", a.threads);
    printf("load + prepare: %.3f ms\n", load_s * 1e3);
    printf("runs: %zu in %.3f s (after %ld warm-up)\n", n, total, a.warmup);
    printf("latency ms: min %.3f  median %.3f  mean %.3f  max %.3f\n", times[0] * 1e3, median * 1e3,
           sum / (double)n * 1e3, times[n - 1] * 1e3);
    printf("tensor arena: %.2f MiB\n", (double)arena / (1024.0 * 1024.0));
    printf("peak memory (ru_maxrss): %.2f MiB\n", peak_rss_bytes() / (1024.0 * 1024.0));
    free(times);
    return 0;
}

/* Parses "1,2,3" into ids (at most cap); returns the count, or -1 naming the bad entry. */
static long parse_ids(const char *text, int64_t *ids, long cap) {
    long n = 0;
    for (const char *p = text; *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || n == cap || (*end && *end != ',')) {
            fprintf(stderr, "pt2lite generate: --prompt: '%s' is not a list of token ids like 1,2,3 (at most %ld)\n",
                    text, cap);
            return -1;
        }
        ids[n++] = v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* `generate MODEL.tflite --prompt 1,2,3 --max-new-tokens N [--threads N] [--max-seq-len N]`: greedy
 * generation over the prefill/decode signatures (docs/generative.md); prints the new ids, then tokens/s.
 * The file records max_seq_len; --max-seq-len may lower it. */
static int cmd_generate(int argc, char **argv) {
    const char *path = NULL, *prompt_text = NULL;
    long new_tokens = 16;
    p2l_generator_options options = {.size = sizeof options};
    for (int i = 0; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (!strcmp(argv[i], "--prompt") && has_value) prompt_text = argv[++i];
        else if (!strcmp(argv[i], "--max-new-tokens") && has_value) new_tokens = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && has_value) options.num_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-seq-len") && has_value) options.max_seq_len = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "pt2lite generate: unknown option or missing value: %s\n", argv[i]);
            return 2;
        }
    }
    if (!path || !prompt_text || new_tokens < 1) {
        fprintf(stderr, "pt2lite generate: need MODEL.tflite, --prompt 1,2,3 and --max-new-tokens N >= 1\n");
        return 2;
    }
    enum { MAX_PROMPT = 1 << 16 };
    int64_t *prompt = malloc(MAX_PROMPT * sizeof *prompt);
    long prompt_len = prompt ? parse_ids(prompt_text, prompt, MAX_PROMPT) : -1;
    p2l_model *model = NULL;
    p2l_generator *generator = NULL;
    p2l_status s = P2L_OK;
    int rc = 0;
    if (prompt_len < 1) rc = 2;
    else if ((s = p2l_model_load_file(path, &model)) != P2L_OK) rc = fail("generate", s);
    else if ((s = p2l_generator_create(model, &options, &generator)) != P2L_OK) rc = fail("generate", s);
    else if ((s = p2l_generator_prefill(generator, prompt, (size_t)prompt_len)) != P2L_OK) rc = fail("generate", s);
    for (long i = 0; rc == 0 && i < new_tokens; i++) {
        int64_t token;
        if ((s = p2l_generator_next(generator, &token)) != P2L_OK) {
            printf("\n");
            rc = fail("generate", s);
            break;
        }
        printf("%s%lld", i ? "," : "", (long long)token);
        fflush(stdout);
    }
    if (rc == 0) {
        p2l_generator_stats st;
        p2l_generator_stats_get(generator, &st);
        printf("\nprefill: %ld tokens in %.3f ms (%.1f tokens/s)\n", st.prefill_tokens, st.prefill_seconds * 1e3,
               st.prefill_seconds > 0 ? (double)st.prefill_tokens / st.prefill_seconds : 0.0);
        printf("decode: %ld tokens in %.3f ms (%.1f tokens/s)\n", st.decode_tokens, st.decode_seconds * 1e3,
               st.decode_seconds > 0 ? (double)st.decode_tokens / st.decode_seconds : 0.0);
    }
    p2l_generator_free(generator);
    p2l_model_free(model);
    free(prompt);
    return rc;
}
#else
static int no_runtime(const char *cmd) {
    fprintf(stderr, "pt2lite %s: this build of pt2lite has no runtime (configured with P2L_BUILD_RUNTIME=OFF)\n", cmd);
    return 1;
}
static int cmd_run(int argc, char **argv) { return no_runtime("run"); }
static int cmd_bench(int argc, char **argv) { return no_runtime("bench"); }
static int cmd_generate(int argc, char **argv) { return no_runtime("generate"); }
#endif

/* ---------------------------------------------------------------- dispatch */

static int cmd_version(int argc, char **argv) {
    printf("pt2lite %s\n", p2l_version());
    return 0;
}

static int cmd_help(int argc, char **argv);

/* Model Explorer is a Python program: the `pt2lite` installed by pip handles `view` itself (python/pt2lite/_cli.py). */
static int cmd_view(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "pt2lite view: Model Explorer runs from Python; use the pt2lite command that pip installs "
                    "(pip install pt2lite ai-edge-model-explorer), or: python -m pt2lite view MODEL.tflite "
                    "[--node-data DATA.json]\n");
    return 2;
}

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *args; /* synopsis */
    const char *help; /* one line */
} command;

static const command COMMANDS[] = {
    {"convert", cmd_convert, "MODEL.pt2 [MORE.pt2 ... --signature NAME ...] -o MODEL.tflite [--quantize fp16|dynamic_int8|int4_weights] [-v]",
     "convert a torch.export.save archive; several archives become one file, the i-th --signature naming the i-th "
     "(--quantize: a built-in recipe needing no calibration, docs/quantization.md; -v: each stage's time: read, "
     "lower, passes, write)"},
    {"inspect", cmd_inspect, "MODEL.tflite [--signature NAME]",
     "signatures with their inputs and outputs, op counts, tensors, size"},
    {"run", cmd_run, "MODEL.tflite [--signature NAME] [--input X.npy ...] [--output-dir D] [--threads N] [--seed S]",
     "run once on pt2lite's runtime (random inputs if none); writes D/output_0.npy, ..."},
    {"bench", cmd_bench, "MODEL.tflite [--signature NAME] [--threads N] [--min-runs N] [--min-seconds S] [--warmup N] "
     "[--input X.npy ...]", "latency (min/median/mean ms) and peak memory"},
    {"generate", cmd_generate, "MODEL.tflite --prompt 1,2,3 [--max-new-tokens N] [--threads N] [--max-seq-len N]",
     "greedy token generation over a prefill/decode model (docs/generative.md); prints the ids and tokens/s "
     "(--max-seq-len lowers the limit the file records)"},
    {"view", cmd_view, "MODEL.tflite [--node-data DATA.json]",
     "open the model in Model Explorer (the Python package's `pt2lite view`: pip install pt2lite ai-edge-model-explorer)"},
    {"version", cmd_version, "", "print the version"},
    {"help", cmd_help, "", "this message"},
};
enum { COMMAND_COUNT = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(FILE *f) {
    fprintf(f, "usage:\n");
    for (int i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  pt2lite %s%s%s\n      %s\n", COMMANDS[i].name, *COMMANDS[i].args ? " " : "", COMMANDS[i].args,
                COMMANDS[i].help);
}

static int cmd_help(int argc, char **argv) {
    usage(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) cmd = "version";
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) cmd = "help";
    for (int i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(cmd, COMMANDS[i].name)) continue;
        /* `pt2lite CMD --help` (anywhere among its arguments): that command's synopsis, whatever else follows. */
        for (int a = 2; a < argc; a++) {
            if (strcmp(argv[a], "--help") && strcmp(argv[a], "-h")) continue;
            printf("usage: pt2lite %s%s%s\n  %s\n", COMMANDS[i].name, *COMMANDS[i].args ? " " : "", COMMANDS[i].args,
                   COMMANDS[i].help);
            return 0;
        }
        return COMMANDS[i].fn(argc - 2, argv + 2);
    }
    fprintf(stderr, "pt2lite: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}

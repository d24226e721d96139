/* Test helper: runs ONE op on given inputs and options through the public runtime API (a one-op .tflite
 * built by test_runtime_builder.h, an interpreter pinned to P2L_KERNELS_REFERENCE), and checks its
 * outputs against golden values. Going through the public API keeps these tests valid however the
 * kernels are organised inside.
 *
 *   op_result r = run_op(P2L_OP_ADD, NULL, P2L_FLOAT32, OP_F32((2, 1), 1, 2), OP_F32((3), 10, 20, 30));
 *   CHECK_OP_F32(r, (2, 3), 0, 11, 21, 31, 12, 22, 32);
 *   op_result_free(&r);
 *
 * Shapes are parenthesized dim lists, () for a scalar. Inputs are set at run time (so the kernel's invoke
 * runs, not constant folding at prepare) unless wrapped in OP_CONSTANT(...), which makes them constants of
 * the model: for axes, shapes and paddings that kernels require to be known at prepare. Include after
 * check.h (the checks count into its totals). */
#ifndef P2L_TESTS_KERNEL_RUNNER_H
#define P2L_TESTS_KERNEL_RUNNER_H

#include <math.h>
#include <stdio.h>

#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

enum { OP_MAX_INPUTS = 8, OP_MAX_OUTPUTS = 8 };

typedef struct op_shape {
    int rank;
    int32_t dims[P2L_MAX_DIMS];
} op_shape;

/* One input of the op. */
typedef struct op_tensor {
    p2l_dtype dtype;
    op_shape shape;
    const void *data;   /* the product of the dims elements of dtype */
    bool constant;      /* a constant of the model instead of an input set at run time */
    bool omitted;       /* an optional input left out (index -1 in the file) */
} op_tensor;

/* An option of the op's options table by its options.def name; floats as p2l_f32_bits(value). */
typedef struct op_option {
    const char *name;
    int64_t value;
} op_option;

typedef struct op_output {
    p2l_dtype dtype;
    op_shape shape;
    size_t count;
    void *data; /* malloc()ed, count elements */
} op_output;

typedef struct op_result {
    p2l_status status; /* of the first failing call: load, create, allocate (prepare), set, invoke, get */
    char message[512]; /* p2l_last_error() of that call */
    int output_count;
    op_output outputs[OP_MAX_OUTPUTS];
} op_result;

static inline void op_test_bug(const char *what) {
    fprintf(stderr, "test bug: %s\n", what);
    abort();
}

static inline void op_result_free(op_result *r) {
    for (int i = 0; i < r->output_count; i++) free(r->outputs[i].data), r->outputs[i].data = NULL;
    r->output_count = 0;
}

static inline size_t op_shape_count(const op_shape *s) {
    size_t n = 1;
    for (int d = 0; d < s->rank; d++) n *= (size_t)s->dims[d];
    return n;
}

static inline p2l_status op_fail(op_result *r, p2l_status s) {
    r->status = s;
    snprintf(r->message, sizeof r->message, "%s", p2l_last_error());
    return s;
}

/* Runs `op` on `kernels` (P2L_KERNELS_*) with the given inputs and options (NULL or an array ended by a
 * NULL name); output i has dtype output_dtypes[i]. The result holds the outputs' inferred shapes and
 * values, or the status and message of the first failing call. Free it with op_result_free. */
static inline op_result run_op_on_kernels(int kernels, p2l_op op, const op_option *options, int input_count,
                                          const op_tensor *inputs, int output_count, const p2l_dtype *output_dtypes) {
    if (input_count > OP_MAX_INPUTS || output_count > OP_MAX_OUTPUTS) op_test_bug("too many tensors for run_op");
    op_result r = {.status = P2L_OK};
    tm_model m = {0};
    int32_t in[OP_MAX_INPUTS], out[OP_MAX_OUTPUTS];
    for (int i = 0; i < input_count; i++) {
        const op_tensor *t = &inputs[i];
        if (t->omitted) {
            in[i] = -1;
            continue;
        }
        const size_t bytes = op_shape_count(&t->shape) * p2l_dtype_size(t->dtype);
        if (t->constant) {
            in[i] = tm_const_add(&m, (int8_t)t->dtype, t->shape.rank, t->shape.dims, t->data, bytes, NULL);
        } else {
            in[i] = tm_tensor_add(&m, (int8_t)t->dtype, t->shape.rank, t->shape.dims, NULL);
            m.in[m.n_in++] = in[i];
        }
    }
    /* Output shapes in the file are placeholders: the kernel's prepare infers them. */
    for (int i = 0; i < output_count; i++) {
        out[i] = tm_tensor_add(&m, (int8_t)output_dtypes[i], 0, NULL, NULL);
        m.out[m.n_out++] = out[i];
    }
    tm_op *node = tm_op_add(&m, p2l_op_info_of(op)->builtin_code, input_count, in, output_count, out);
    for (const op_option *o = options; o && o->name; o++) tm_option(node, o->name, o->value);

    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    p2l_interpreter *it = NULL;
    const p2l_interpreter_options pinned = {.size = sizeof pinned, .kernels = kernels};
    p2l_status s = p2l_model_load(bytes, size, 0, &model);
    if (!s) s = p2l_interpreter_create(model, &pinned, &it);
    if (!s) s = p2l_interpreter_allocate(it);
    for (int i = 0, input = 0; i < input_count && !s; i++) {
        const op_tensor *t = &inputs[i];
        if (t->omitted || t->constant) continue;
        s = p2l_interpreter_set_input(it, input++, t->data, op_shape_count(&t->shape) * p2l_dtype_size(t->dtype));
    }
    if (!s) s = p2l_interpreter_invoke(it);
    for (int i = 0; i < output_count && !s; i++) {
        p2l_tensor_info info = {.size = sizeof info};
        s = p2l_interpreter_output_info(it, i, &info);
        if (s) break;
        op_output *o = &r.outputs[r.output_count++];
        o->dtype = info.dtype;
        o->shape.rank = info.rank;
        memcpy(o->shape.dims, info.dims, sizeof o->shape.dims);
        o->count = op_shape_count(&o->shape);
        o->data = malloc(info.bytes ? info.bytes : 1);
        s = p2l_interpreter_get_output(it, i, o->data, info.bytes);
    }
    if (s) op_fail(&r, s), op_result_free(&r);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    free(bytes);
    return r;
}

/* ------------------------------------------------------------ building inputs */

/* Shapes and values are written with a leading 0 so that an empty list (a scalar's dims, an empty
 * tensor's values) is still a valid C array. */
static inline op_shape op_shape_of(const int32_t *zero_then_dims, size_t n_plus_one) {
    op_shape s = {(int)n_plus_one - 1, {0}};
    if (s.rank > P2L_MAX_DIMS) op_test_bug("rank above P2L_MAX_DIMS");
    memcpy(s.dims, zero_then_dims + 1, (size_t)s.rank * sizeof *s.dims);
    return s;
}
#define OP_DIMS(...) \
    op_shape_of((const int32_t[]){0, __VA_ARGS__}, sizeof((const int32_t[]){0, __VA_ARGS__}) / sizeof(int32_t))

static inline op_tensor op_tensor_of(p2l_dtype dtype, op_shape shape, const void *zero_then_values, size_t bytes_plus_one) {
    const size_t elem = p2l_dtype_size(dtype);
    if ((bytes_plus_one - elem) / elem != op_shape_count(&shape)) op_test_bug("value count differs from the shape");
    return (op_tensor){.dtype = dtype, .shape = shape, .data = (const uint8_t *)zero_then_values + elem};
}
#define OP_TENSOR(dtype, T, dims, ...) \
    op_tensor_of(dtype, OP_DIMS dims, (const T[]){0, __VA_ARGS__}, sizeof((const T[]){0, __VA_ARGS__}))
#define OP_F32(dims, ...) OP_TENSOR(P2L_FLOAT32, float, dims, __VA_ARGS__)
#define OP_I32(dims, ...) OP_TENSOR(P2L_INT32, int32_t, dims, __VA_ARGS__)
#define OP_I64(dims, ...) OP_TENSOR(P2L_INT64, int64_t, dims, __VA_ARGS__)
#define OP_BOOL(dims, ...) OP_TENSOR(P2L_BOOL, uint8_t, dims, __VA_ARGS__)
#define OP_U8(dims, ...) OP_TENSOR(P2L_UINT8, uint8_t, dims, __VA_ARGS__)
#define OP_I8(dims, ...) OP_TENSOR(P2L_INT8, int8_t, dims, __VA_ARGS__)

static inline op_tensor op_constant(op_tensor t) {
    t.constant = true;
    return t;
}
#define OP_CONSTANT(t) op_constant(t)
/* An optional input left out. */
#define OP_OMITTED ((op_tensor){.omitted = true})

/* Options: OP_OPTIONS({"axis", 1}, {"keep_dims", 1}). */
#define OP_OPTIONS(...) ((const op_option[]){__VA_ARGS__, {NULL, 0}})

/* One output of dtype out_dtype, on the reference kernels or on `kernels`. */
#define run_op(op, options, out_dtype, ...) run_op_on(P2L_KERNELS_REFERENCE, op, options, out_dtype, __VA_ARGS__)
#define run_op_on(kernels, op, options, out_dtype, ...)                                                          \
    run_op_on_kernels((kernels), (op), (options), (int)(sizeof((const op_tensor[]){__VA_ARGS__}) / sizeof(op_tensor)), \
                      (const op_tensor[]){__VA_ARGS__}, 1, (const p2l_dtype[]){out_dtype})

/* Several outputs: run_op_outputs(P2L_OP_TOPK_V2, NULL, OP_DTYPES(P2L_FLOAT32, P2L_INT32), x, k). */
#define OP_DTYPES(...) \
    (int)(sizeof((const p2l_dtype[]){__VA_ARGS__}) / sizeof(p2l_dtype)), (const p2l_dtype[]) { __VA_ARGS__ }
#define run_op_outputs(op, options, dtypes, ...)                                                                 \
    run_op_on_kernels(P2L_KERNELS_REFERENCE, (op), (options),                                                    \
                      (int)(sizeof((const op_tensor[]){__VA_ARGS__}) / sizeof(op_tensor)), (const op_tensor[]){__VA_ARGS__}, \
                      dtypes)

/* ------------------------------------------------------------ checking outputs */

/* Equal as golden values: NaN matches NaN, +0 and -0 differ, otherwise within `tolerance` (absolute,
 * or relative above 1). */
static inline bool op_same_float(double got, double want, double tolerance) {
    if (want != want) return got != got;
    if (want == 0 && got == 0) return signbit(got) == signbit(want);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= tolerance * (fabs(want) > 1 ? fabs(want) : 1);
}

static inline double op_value_at(p2l_dtype dtype, const void *data, size_t i) {
    switch (dtype) {
    case P2L_FLOAT32: return ((const float *)data)[i];
    case P2L_INT32: return ((const int32_t *)data)[i];
    case P2L_BOOL: case P2L_UINT8: return ((const uint8_t *)data)[i];
    case P2L_INT8: return ((const int8_t *)data)[i];
    default: return 0;
    }
}

/* Output `index` of r has dtype, shape and values (tolerance for floats only; int64 compared exactly). */
static inline void op_check_output(const char *file, int line, const op_result *r, int index, p2l_dtype dtype,
                                   op_shape shape, double tolerance, const void *zero_then_values, size_t bytes_plus_one) {
    check_count++;
    const size_t elem = p2l_dtype_size(dtype), count = (bytes_plus_one - elem) / elem;
    const void *want = (const uint8_t *)zero_then_values + elem;
    if (count != op_shape_count(&shape)) op_test_bug("golden value count differs from the golden shape");
    char why[768] = "";
    const op_output *o = index < r->output_count ? &r->outputs[index] : NULL;
    if (r->status != P2L_OK) {
        snprintf(why, sizeof why, "status %s: %s", p2l_status_name(r->status), r->message);
    } else if (!o) {
        snprintf(why, sizeof why, "no output %d", index);
    } else if (o->dtype != dtype) {
        snprintf(why, sizeof why, "dtype %d, expected %d", (int)o->dtype, (int)dtype);
    } else if (o->shape.rank != shape.rank || memcmp(o->shape.dims, shape.dims, (size_t)shape.rank * 4)) {
        int n = snprintf(why, sizeof why, "shape (");
        for (int d = 0; d < o->shape.rank; d++) n += snprintf(why + n, sizeof why - (size_t)n, "%s%d", d ? "," : "", o->shape.dims[d]);
        n += snprintf(why + n, sizeof why - (size_t)n, "), expected (");
        for (int d = 0; d < shape.rank; d++) n += snprintf(why + n, sizeof why - (size_t)n, "%s%d", d ? "," : "", shape.dims[d]);
        snprintf(why + n, sizeof why - (size_t)n, ")");
    } else {
        for (size_t i = 0; i < count && !why[0]; i++) {
            if (dtype == P2L_INT64) {
                const int64_t g = ((const int64_t *)o->data)[i], w = ((const int64_t *)want)[i];
                if (g != w) snprintf(why, sizeof why, "element %zu is %lld, expected %lld", i, (long long)g, (long long)w);
                continue;
            }
            const double g = op_value_at(dtype, o->data, i), w = op_value_at(dtype, want, i);
            if (!op_same_float(g, w, dtype == P2L_FLOAT32 ? tolerance : 0))
                snprintf(why, sizeof why, "element %zu is %.9g, expected %.9g", i, g, w);
        }
    }
    if (why[0]) {
        check_failures++;
        fprintf(stderr, "%s:%d: output %d: %s\n", file, line, index, why);
    }
}
#define CHECK_OP_OUTPUT(r, index, dtype, T, dims, tolerance, ...)                                              \
    op_check_output(__FILE__, __LINE__, &(r), (index), (dtype), OP_DIMS dims, (tolerance), (const T[]){0, __VA_ARGS__}, \
                    sizeof((const T[]){0, __VA_ARGS__}))
#define CHECK_OP_F32(r, dims, tolerance, ...) CHECK_OP_OUTPUT(r, 0, P2L_FLOAT32, float, dims, tolerance, __VA_ARGS__)
#define CHECK_OP_I32(r, dims, ...) CHECK_OP_OUTPUT(r, 0, P2L_INT32, int32_t, dims, 0, __VA_ARGS__)
#define CHECK_OP_I64(r, dims, ...) CHECK_OP_OUTPUT(r, 0, P2L_INT64, int64_t, dims, 0, __VA_ARGS__)
#define CHECK_OP_BOOL(r, dims, ...) CHECK_OP_OUTPUT(r, 0, P2L_BOOL, uint8_t, dims, 0, __VA_ARGS__)
#define CHECK_OP_U8(r, dims, ...) CHECK_OP_OUTPUT(r, 0, P2L_UINT8, uint8_t, dims, 0, __VA_ARGS__)
#define CHECK_OP_I8(r, dims, ...) CHECK_OP_OUTPUT(r, 0, P2L_INT8, int8_t, dims, 0, __VA_ARGS__)

/* The op failed with `status` and a message containing `needle`. */
static inline void op_check_fails(const char *file, int line, const op_result *r, p2l_status status, const char *needle) {
    check_count++;
    if (r->status != status || !strstr(r->message, needle)) {
        check_failures++;
        fprintf(stderr, "%s:%d: expected %s mentioning \"%s\", got %s: \"%s\"\n", file, line, p2l_status_name(status),
                needle, p2l_status_name(r->status), r->message);
    }
}
#define CHECK_OP_FAILS(r, status, needle) op_check_fails(__FILE__, __LINE__, &(r), (status), (needle))

#endif

/* p2l_evaluate (one op by its reference kernel, kernels/evaluate.c) and constant folding
 * (passes/fold.c), which decides what folds and computes the values with p2l_evaluate. Expected
 * values are worked out by hand from the ops' definitions (PyTorch's where the runtimes differ). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "kernels/kernels.h"
#ifdef P2L_HAVE_CONVERTER
#include "passes/passes.h"
#endif

static p2l_eval_tensor value(p2l_dtype dtype, int rank, const int32_t *dims, const void *data) {
    p2l_eval_tensor v = {.dtype = dtype, .rank = rank, .data = (void *)data};
    memcpy(v.dims, dims, (size_t)rank * sizeof *dims);
    return v;
}

/* ------------------------------------------------------------ p2l_evaluate */

static void test_broadcast_add_allocates_its_output(void) {
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30};
    p2l_eval_tensor x = value(P2L_FLOAT32, 2, (int32_t[]){2, 3}, a), y = value(P2L_FLOAT32, 1, (int32_t[]){3}, b);
    p2l_eval_tensor out = {.dtype = P2L_FLOAT32};
    const p2l_eval_op op = {.op = P2L_OP_ADD};
    CHECK_EQ_INT(p2l_evaluate(&op, 2, (const p2l_eval_tensor *[]){&x, &y}, 1, &out), P2L_OK);
    CHECK_EQ_INT(out.rank, 2);
    CHECK_EQ_INT(out.dims[0], 2);
    CHECK_EQ_INT(out.dims[1], 3);
    CHECK_EQ_INT(out.bytes, 24);
    CHECK(out.allocated);
    const float want[6] = {11, 22, 33, 14, 25, 36};
    CHECK(out.data && memcmp(out.data, want, sizeof want) == 0);
    p2l_release(out.data);
}

static void test_caller_memory_and_its_capacity(void) {
    const int32_t a[4] = {7, -7, 7, -7}, b[4] = {2, 2, -2, -2};
    p2l_eval_tensor x = value(P2L_INT32, 1, (int32_t[]){4}, a), y = value(P2L_INT32, 1, (int32_t[]){4}, b);
    int32_t got[4] = {0};
    p2l_eval_tensor out = {.dtype = P2L_INT32, .data = got, .capacity = sizeof got};
    const p2l_eval_op op = {.op = P2L_OP_FLOOR_MOD};
    CHECK_EQ_INT(p2l_evaluate(&op, 2, (const p2l_eval_tensor *[]){&x, &y}, 1, &out), P2L_OK);
    CHECK(!out.allocated && out.data == got);
    /* Python's %: the result takes the divisor's sign */
    CHECK_EQ_INT(got[0], 1);
    CHECK_EQ_INT(got[1], 1);
    CHECK_EQ_INT(got[2], -1);
    CHECK_EQ_INT(got[3], -1);
    p2l_eval_tensor small = {.dtype = P2L_INT32, .data = got, .capacity = 8};
    CHECK_EQ_INT(p2l_evaluate(&op, 2, (const p2l_eval_tensor *[]){&x, &y}, 1, &small), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("evaluating FLOOR_MOD: output 0 needs 16 bytes, the caller gave 8");
}

static void test_kernel_failure_names_the_op_and_frees_the_output(void) {
    const int32_t a[2] = {1, 2}, b[2] = {1, 0};
    p2l_eval_tensor x = value(P2L_INT32, 1, (int32_t[]){2}, a), y = value(P2L_INT32, 1, (int32_t[]){2}, b);
    p2l_eval_tensor out = {.dtype = P2L_INT32};
    const p2l_eval_op op = {.op = P2L_OP_DIV};
    CHECK_EQ_INT(p2l_evaluate(&op, 2, (const p2l_eval_tensor *[]){&x, &y}, 1, &out), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("evaluating DIV: integer division by zero");
    CHECK(out.data == NULL && !out.allocated); /* and nothing leaks (the sanitizer build) */
}

static void test_arity_is_checked_before_the_kernel_runs(void) {
    const float a[1] = {1};
    p2l_eval_tensor x = value(P2L_FLOAT32, 1, (int32_t[]){1}, a);
    p2l_eval_tensor out = {.dtype = P2L_FLOAT32};
    const p2l_eval_op add = {.op = P2L_OP_ADD};
    CHECK_EQ_INT(p2l_evaluate(&add, 1, (const p2l_eval_tensor *[]){&x}, 1, &out), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("ADD: has 1 inputs, expected 2 to 2");
    CHECK_EQ_INT(p2l_evaluate(&add, 2, (const p2l_eval_tensor *[]){&x, NULL}, 1, &out), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("ADD: input 1 is omitted, but it is not optional");
    p2l_eval_tensor bad = value(P2L_FLOAT32, 1, (int32_t[]){-2}, a);
    CHECK_EQ_INT(p2l_evaluate(&add, 2, (const p2l_eval_tensor *[]){&x, &bad}, 1, &out), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("input 1: dim 0 is -2");
    const p2l_eval_op none = {.op = P2L_OP_COUNT};
    CHECK_EQ_INT(p2l_evaluate(&none, 1, (const p2l_eval_tensor *[]){&x}, 1, &out), P2L_ERROR_UNSUPPORTED);
}

/* MEAN asks for scratch memory (double sums), which p2l_evaluate provides as the interpreter does. */
static void test_mean_gets_scratch_memory(void) {
    const float a[6] = {1, 2, 4, 8, 16, 32};
    const int32_t axis[1] = {-1};
    p2l_eval_tensor x = value(P2L_FLOAT32, 2, (int32_t[]){2, 3}, a), ax = value(P2L_INT32, 1, (int32_t[]){1}, axis);
    p2l_eval_tensor out = {.dtype = P2L_FLOAT32};
    const p2l_eval_op op = {.op = P2L_OP_MEAN}; /* default options: keep_dims false */
    CHECK_EQ_INT(p2l_evaluate(&op, 2, (const p2l_eval_tensor *[]){&x, &ax}, 1, &out), P2L_OK);
    CHECK_EQ_INT(out.rank, 1);
    CHECK_EQ_INT(out.dims[0], 2);
    CHECK(out.data && ((float *)out.data)[0] == 7.0f / 3 && ((float *)out.data)[1] == 56.0f / 3);
    p2l_release(out.data);
}

static void test_options_and_option_ints(void) {
    const int32_t a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    p2l_eval_tensor x = value(P2L_INT32, 2, (int32_t[]){2, 2}, a), y = value(P2L_INT32, 2, (int32_t[]){2, 1}, b);
    int64_t options[P2L_MAX_OPTION_FIELDS] = {0};
    options[p2l_option_field(P2L_OP_CONCATENATION, "axis")] = 1;
    const p2l_eval_op concat = {.op = P2L_OP_CONCATENATION, .options = options};
    p2l_eval_tensor out = {.dtype = P2L_INT32};
    CHECK_EQ_INT(p2l_evaluate(&concat, 2, (const p2l_eval_tensor *[]){&x, &y}, 1, &out), P2L_OK);
    const int32_t want[6] = {1, 2, 5, 3, 4, 6};
    CHECK(out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 3 && memcmp(out.data, want, sizeof want) == 0);
    p2l_release(out.data);

    const int32_t new_shape[2] = {4, 1};
    const p2l_eval_op reshape = {.op = P2L_OP_RESHAPE, .has_option_ints = true, .option_int_count = 2,
                                 .option_ints = new_shape};
    p2l_eval_tensor r = {.dtype = P2L_INT32};
    CHECK_EQ_INT(p2l_evaluate(&reshape, 1, (const p2l_eval_tensor *[]){&x}, 1, &r), P2L_OK);
    CHECK(r.rank == 2 && r.dims[0] == 4 && r.dims[1] == 1 && memcmp(r.data, a, sizeof a) == 0);
    p2l_release(r.data);
}

/* ------------------------------------------------------------ constant folding */
#ifdef P2L_HAVE_CONVERTER

typedef struct fold_case {
    p2l_model_ir model;
    p2l_ir_graph *g;
    int node, out;
} fold_case;

/* A graph with one `op` node over constants (dtype, dims of up to rank 2, data) and an output of
 * out_dtype and out_dims. */
static void fold_case_init(fold_case *c, p2l_op op, int ninputs, const p2l_dtype *dtypes, const int64_t (*dims)[3],
                           const void *const *data, p2l_dtype out_dtype, const int64_t *out_dims) {
    memset(c, 0, sizeof *c);
    CHECK_EQ_INT(p2l_model_ir_init(&c->model), P2L_OK);
    CHECK_EQ_INT(p2l_model_ir_add_graph(&c->model, "serving_default", &c->g), P2L_OK);
    int inputs[3];
    for (int i = 0; i < ninputs; i++) /* dims[i] = {rank, d0, d1} */
        inputs[i] = p2l_add_const(c->g, "c", dtypes[i], (int)dims[i][0], dims[i] + 1, data[i], false);
    c->out = p2l_add_tensor(c->g, "y", out_dtype, (int)out_dims[0], out_dims + 1);
    c->node = p2l_add_node(c->g, op, ninputs, inputs, 1, &c->out, "test op");
}

static bool folds(fold_case *c, p2l_status want) {
    bool changed = false;
    CHECK_EQ_INT(p2l_pass_fold_constants(c->g, &changed), want);
    return changed && c->g->nodes.items[c->node].dead;
}

static const void *folded_data(const fold_case *c) { return c->g->tensors.items[c->out].data; }

static void test_int32_arithmetic_folds_when_it_fits(void) {
    const int32_t a[2] = {-7, 7}, b[1] = {2};
    fold_case c;
    fold_case_init(&c, P2L_OP_FLOOR_DIV, 2, (p2l_dtype[]){P2L_INT32, P2L_INT32}, (const int64_t[][3]){{1, 2}, {1, 1}},
                   (const void *[]){a, b}, P2L_INT32, (int64_t[]){1, 2});
    CHECK(folds(&c, P2L_OK));
    const int32_t *y = folded_data(&c);
    CHECK(y && y[0] == -4 && y[1] == 3);
    CHECK_EQ_INT(c.g->tensors.items[c.out].nbytes, 8);
    p2l_model_ir_free(&c.model);
}

static void test_int32_overflow_is_an_error_naming_the_operands(void) {
    const int32_t a[2] = {1, 2}, b[2] = {3, INT32_MAX};
    fold_case c;
    fold_case_init(&c, P2L_OP_ADD, 2, (p2l_dtype[]){P2L_INT32, P2L_INT32}, (const int64_t[][3]){{1, 2}, {1, 2}},
                   (const void *[]){a, b}, P2L_INT32, (int64_t[]){1, 2});
    CHECK(!folds(&c, P2L_ERROR_UNSUPPORTED));
    CHECK_ERROR_MENTIONS("test op: ADD of the constants 2 and 2147483647 is 2147483649, which does not fit int32");
    p2l_model_ir_free(&c.model);

    /* a broadcast operand: the message names the elements that element 3 of the output reads */
    const int32_t rows[2] = {1, 65536}, cols[2] = {65536, 2};
    fold_case_init(&c, P2L_OP_MUL, 2, (p2l_dtype[]){P2L_INT32, P2L_INT32}, (const int64_t[][3]){{2, 2, 1}, {1, 2}},
                   (const void *[]){rows, cols}, P2L_INT32, (int64_t[]){2, 2, 2});
    CHECK(!folds(&c, P2L_ERROR_UNSUPPORTED));
    CHECK_ERROR_MENTIONS("MUL of the constants 65536 and 65536 is 4294967296");
    p2l_model_ir_free(&c.model);
}

static void test_unary_int32_overflow_and_zero_divisors_stay_ops(void) {
    const int32_t a[1] = {INT32_MIN};
    fold_case c;
    fold_case_init(&c, P2L_OP_NEG, 1, (p2l_dtype[]){P2L_INT32}, (const int64_t[][3]){{1, 1}}, (const void *[]){a},
                   P2L_INT32, (int64_t[]){1, 1});
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);

    const float x[2] = {1, 2}, zero[2] = {1, 0};
    fold_case_init(&c, P2L_OP_FLOOR_MOD, 2, (p2l_dtype[]){P2L_FLOAT32, P2L_FLOAT32},
                   (const int64_t[][3]){{1, 2}, {1, 2}}, (const void *[]){x, zero}, P2L_FLOAT32, (int64_t[]){1, 2});
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);

    const int32_t i[2] = {1, 2}, izero[2] = {1, 0};
    fold_case_init(&c, P2L_OP_DIV, 2, (p2l_dtype[]){P2L_INT32, P2L_INT32}, (const int64_t[][3]){{1, 2}, {1, 2}},
                   (const void *[]){i, izero}, P2L_INT32, (int64_t[]){1, 2});
    CHECK(!folds(&c, P2L_OK));
    CHECK_EQ_INT(p2l_last_status(), P2L_OK); /* the kernel's refusal is not left as the thread's error */
    p2l_model_ir_free(&c.model);
}

static void test_casts_fold_only_values_the_target_holds(void) {
    const float big[2] = {1.5f, 300.0f};
    fold_case c;
    fold_case_init(&c, P2L_OP_CAST, 1, (p2l_dtype[]){P2L_FLOAT32}, (const int64_t[][3]){{1, 2}}, (const void *[]){big},
                   P2L_INT8, (int64_t[]){1, 2});
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);

    const float nan_[1] = {NAN};
    fold_case_init(&c, P2L_OP_CAST, 1, (p2l_dtype[]){P2L_FLOAT32}, (const int64_t[][3]){{1, 1}}, (const void *[]){nan_},
                   P2L_INT32, (int64_t[]){1, 1});
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);

    /* below int32's range both runtimes give INT32_MIN; in range, truncation toward zero */
    const float low[3] = {-INFINITY, -2.7f, 2.7f};
    fold_case_init(&c, P2L_OP_CAST, 1, (p2l_dtype[]){P2L_FLOAT32}, (const int64_t[][3]){{1, 3}}, (const void *[]){low},
                   P2L_INT32, (int64_t[]){1, 3});
    CHECK(folds(&c, P2L_OK));
    const int32_t *y = folded_data(&c);
    CHECK(y && y[0] == INT32_MIN && y[1] == -2 && y[2] == 2);
    p2l_model_ir_free(&c.model);
}

/* torch.maximum / torch.minimum propagate NaN from either operand. */
static void test_float_maximum_with_nan_folds_to_nan(void) {
    const float a[2] = {1, NAN}, b[2] = {NAN, 1};
    for (int k = 0; k < 2; k++) {
        fold_case c;
        fold_case_init(&c, k ? P2L_OP_MINIMUM : P2L_OP_MAXIMUM, 2, (p2l_dtype[]){P2L_FLOAT32, P2L_FLOAT32},
                       (const int64_t[][3]){{1, 2}, {1, 2}}, (const void *[]){a, b}, P2L_FLOAT32, (int64_t[]){1, 2});
        CHECK(folds(&c, P2L_OK));
        const float *y = folded_data(&c);
        CHECK(y && isnan(y[0]) && isnan(y[1]));
        p2l_model_ir_free(&c.model);
    }
}

static void test_fused_activation_stays_an_op(void) {
    const float a[1] = {-1}, b[1] = {-2};
    fold_case c;
    fold_case_init(&c, P2L_OP_ADD, 2, (p2l_dtype[]){P2L_FLOAT32, P2L_FLOAT32}, (const int64_t[][3]){{1, 1}, {1, 1}},
                   (const void *[]){a, b}, P2L_FLOAT32, (int64_t[]){1, 1});
    p2l_set_option(c.g, c.node, "fused_activation_function", P2L_ACT_RELU);
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);
}

static void test_cumsum_folds_unless_it_overflows(void) {
    const int32_t a[3] = {1, 2, 3}, axis[1] = {0};
    fold_case c;
    fold_case_init(&c, P2L_OP_CUMSUM, 2, (p2l_dtype[]){P2L_INT32, P2L_INT32}, (const int64_t[][3]){{1, 3}, {1, 1}},
                   (const void *[]){a, axis}, P2L_INT32, (int64_t[]){1, 3});
    p2l_set_option(c.g, c.node, "exclusive", 1);
    CHECK(folds(&c, P2L_OK));
    const int32_t *y = folded_data(&c);
    CHECK(y && y[0] == 0 && y[1] == 1 && y[2] == 3);
    p2l_model_ir_free(&c.model);

    const int32_t big[2] = {INT32_MAX, 1};
    fold_case_init(&c, P2L_OP_CUMSUM, 2, (p2l_dtype[]){P2L_INT32, P2L_INT32}, (const int64_t[][3]){{1, 2}, {1, 1}},
                   (const void *[]){big, axis}, P2L_INT32, (int64_t[]){1, 2});
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);
}

/* A transpose of weights folds whatever its size; a declared shape the kernel disagrees with does not. */
static void test_transpose_folds_and_checks_the_declared_shape(void) {
    const float w[6] = {1, 2, 3, 4, 5, 6};
    const int32_t perm[2] = {1, 0};
    fold_case c;
    fold_case_init(&c, P2L_OP_TRANSPOSE, 2, (p2l_dtype[]){P2L_FLOAT32, P2L_INT32}, (const int64_t[][3]){{2, 2, 3}, {1, 2}},
                   (const void *[]){w, perm}, P2L_FLOAT32, (int64_t[]){2, 3, 2});
    CHECK(folds(&c, P2L_OK));
    const float want[6] = {1, 4, 2, 5, 3, 6};
    CHECK(folded_data(&c) && memcmp(folded_data(&c), want, sizeof want) == 0);
    p2l_model_ir_free(&c.model);

    fold_case_init(&c, P2L_OP_TRANSPOSE, 2, (p2l_dtype[]){P2L_FLOAT32, P2L_INT32}, (const int64_t[][3]){{2, 2, 3}, {1, 2}},
                   (const void *[]){w, perm}, P2L_FLOAT32, (int64_t[]){2, 2, 3});
    CHECK(!folds(&c, P2L_OK));
    p2l_model_ir_free(&c.model);
}

#endif

int main(void) {
    RUN(test_broadcast_add_allocates_its_output);
    RUN(test_caller_memory_and_its_capacity);
    RUN(test_kernel_failure_names_the_op_and_frees_the_output);
    RUN(test_arity_is_checked_before_the_kernel_runs);
    RUN(test_mean_gets_scratch_memory);
    RUN(test_options_and_option_ints);
#ifdef P2L_HAVE_CONVERTER
    RUN(test_int32_arithmetic_folds_when_it_fits);
    RUN(test_int32_overflow_is_an_error_naming_the_operands);
    RUN(test_unary_int32_overflow_and_zero_divisors_stay_ops);
    RUN(test_casts_fold_only_values_the_target_holds);
    RUN(test_float_maximum_with_nan_folds_to_nan);
    RUN(test_fused_activation_stays_an_op);
    RUN(test_cumsum_folds_unless_it_overflows);
    RUN(test_transpose_folds_and_checks_the_declared_shape);
#endif
    return check_summary();
}

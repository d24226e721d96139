/* Reductions: MEAN (also quantized int8), SUM, REDUCE_PROD/MAX/MIN/ANY/ALL over constant axes;
 * ARG_MAX/ARG_MIN; CUMSUM. */
#include <math.h>
#include <string.h>

#include "kernels/quant_math.h"

typedef struct reduce_state {
    size_t out_strides[P2L_MAX_DIMS]; /* per input dim, 0 for reduced dims */
    size_t reduced;                   /* elements folded into each output */
    bool sums;                        /* float MEAN/SUM: sums in double (in the node's scratch memory, which
                                       * the runtime checks against its limits), so a million terms keep
                                       * fp32 accuracy */
    /* When the reduced axes form one block (all axes, the last ones, a middle run: nearly every
     * model's MEAN), the input is [outer, reduced, inner] and float MEAN/SUM run as plain loops. */
    bool blocked;
    size_t outer, inner;
    /* int8 MEAN: (sum - n * input zero point) times input_scale / (n * output_scale), one fixed-point
     * multiplier with 1/n folded in */
    p2l_multiplier multiplier;
    int32_t input_zero_point, output_zero_point;
} reduce_state;

/* TFLite's reference int8 MEAN (QuantizedMeanOrSum): the multiplier of input_scale / output_scale
 * with 1/n folded in as TFLite folds it (shifted left by floor(log2 n), at most 32 and at most
 * 31 + its shift, then divided by n, truncating). */
static p2l_status mean_int8_prepare(p2l_node *node, reduce_state *st) {
    float sx = 1, sy = 1;
    P2L_TRY(p2l_quant_per_tensor(node->inputs[0], &sx, &st->input_zero_point));
    P2L_TRY(p2l_quant_per_tensor(node->outputs[0], &sy, &st->output_zero_point));
    p2l_multiplier m = p2l_quantize_multiplier((double)sx / (double)sy);
    int shift = 0;
    while (shift < 63 && ((uint64_t)st->reduced >> (shift + 1)) != 0) shift++; /* floor(log2 n) */
    if (shift > 32) shift = 32;
    if (shift > 31 + m.shift) shift = 31 + m.shift;
    if (shift < 0) shift = 0;
    m.multiplier = (int32_t)(((int64_t)m.multiplier << shift) / (int64_t)st->reduced);
    m.shift -= shift;
    st->multiplier = m;
    return P2L_OK;
}

static void mean_int8_invoke(const p2l_node *node, const reduce_state *st, const int32_t *sums) {
    const p2l_tensor *y = node->outputs[0];
    int8_t *out = y->data;
    const int32_t n = (int32_t)st->reduced;
    for (size_t i = 0; i < y->count; i++) {
        const int32_t centered = sums[i] - n * st->input_zero_point;
        const int32_t v = p2l_multiply_by_quantized_multiplier(centered, st->multiplier) + st->output_zero_point;
        out[i] = (int8_t)p2l_clamp_i32(v, INT8_MIN, INT8_MAX);
    }
}

static p2l_status read_axes(const p2l_tensor *axes, int rank, bool *mask) {
    P2L_TRY(p2l_expect_known(axes, "axis"));
    int64_t values[64];
    size_t n;
    P2L_TRY(p2l_read_ints(axes, values, 64, &n));
    for (size_t i = 0; i < n; i++) {
        int axis;
        P2L_TRY(p2l_normalize_axis(values[i], rank, &axis));
        mask[axis] = true;
    }
    return P2L_OK;
}

static p2l_status reduce_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    p2l_op op = node->op;
    bool logical = op == P2L_OP_REDUCE_ANY || op == P2L_OP_REDUCE_ALL;
    bool ok = logical ? x->dtype == P2L_BOOL
              : op == P2L_OP_MEAN ? x->dtype == P2L_FLOAT32 || (x->dtype == P2L_INT8 && x->quant_count)
                                  : x->dtype == P2L_FLOAT32 || x->dtype == P2L_INT32 || x->dtype == P2L_INT64;
    if (!ok) return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s input is not supported", p2l_dtype_name(x->dtype));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    bool mask[P2L_MAX_DIMS] = {0};
    P2L_TRY(read_axes(node->inputs[1], x->rank, mask));
    bool keep = node->opts.reducer.keep_dims;
    reduce_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    int32_t dims[P2L_MAX_DIMS];
    int rank = 0;
    st->reduced = 1;
    for (int d = 0; d < x->rank; d++) {
        if (mask[d]) st->reduced *= (size_t)x->dims[d];
        if (!mask[d]) dims[rank++] = x->dims[d];
        else if (keep) dims[rank++] = 1;
    }
    /* The maximum of no values has no answer: torch.amax raises, and -inf would be a plausible wrong one. */
    if ((op == P2L_OP_REDUCE_MAX || op == P2L_OP_REDUCE_MIN) && st->reduced == 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "cannot take the max/min over an empty axis");
    size_t stride = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        st->out_strides[d] = mask[d] ? 0 : stride;
        if (!mask[d]) stride *= (size_t)x->dims[d];
    }
    /* [outer, reduced, inner]: kept axes, then reduced ones, then kept ones (size-1 axes go anywhere) */
    int phase = 0; /* 0: outer kept axes, 1: reduced block, 2: inner kept axes */
    st->blocked = true;
    st->outer = st->inner = 1;
    for (int d = 0; d < x->rank && st->blocked; d++) {
        if (x->dims[d] == 1) continue;
        if (mask[d]) {
            if (phase == 2) st->blocked = false;
            phase = 1;
        } else if (phase == 0) {
            st->outer *= (size_t)x->dims[d];
        } else {
            phase = 2;
            st->inner *= (size_t)x->dims[d];
        }
    }
    if (x->dtype == P2L_FLOAT32 && (op == P2L_OP_MEAN || op == P2L_OP_SUM)) {
        st->sums = true;
        if (!p2l_mul_size(sizeof(double), stride ? stride : 1, &node->scratch_bytes))
            return p2l_fail(P2L_ERROR_LIMIT, "sums of %zu outputs are too large", stride);
    }
    if (x->dtype == P2L_INT8) {
        if (st->reduced == 0 || st->reduced > INT32_MAX / 256)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "int8 MEAN over %zu elements is not supported", st->reduced);
        P2L_TRY(mean_int8_prepare(node, st));
        if (!p2l_mul_size(sizeof(int32_t), stride ? stride : 1, &node->scratch_bytes))
            return p2l_fail(P2L_ERROR_LIMIT, "sums of %zu outputs are too large", stride);
    }
    return p2l_set_output_dims(node, 0, rank, dims);
}

/* Walks the input once; each element combines into its output element (in ACC, of type A). */
#define REDUCE_INTO(T, A, ACC, INIT, COMBINE)                                           \
    do {                                                                                \
        const T *in = x->data;                                                          \
        A *out = (ACC);                                                                 \
        for (size_t i = 0; i < y->count; i++) out[i] = (INIT);                          \
        int32_t index[P2L_MAX_DIMS] = {0};                                              \
        size_t o = 0;                                                                   \
        for (size_t i = 0; i < x->count; i++) {                                         \
            A acc = out[o], v = in[i];                                                  \
            out[o] = (COMBINE);                                                         \
            for (int d = x->rank - 1; d >= 0; d--) {                                    \
                o += st->out_strides[d];                                                \
                if (++index[d] < x->dims[d]) break;                                     \
                o -= st->out_strides[d] * (size_t)x->dims[d];                           \
                index[d] = 0;                                                           \
            }                                                                           \
        }                                                                               \
    } while (0)
#define REDUCE_LOOP(T, INIT, COMBINE) REDUCE_INTO(T, T, y->data, INIT, COMBINE)

#define REDUCE_TYPED(T, LOWEST, HIGHEST)                                                 \
    switch (node->op) {                                                                  \
    case P2L_OP_SUM: REDUCE_LOOP(T, 0, acc + v); break;                                  \
    case P2L_OP_REDUCE_PROD: REDUCE_LOOP(T, 1, acc * v); break;                          \
    case P2L_OP_REDUCE_MAX: REDUCE_LOOP(T, LOWEST, v > acc || v != v ? v : acc); break;  \
    case P2L_OP_REDUCE_MIN: REDUCE_LOOP(T, HIGHEST, v < acc || v != v ? v : acc); break; \
    default: break;                                                                      \
    }

/* Integer sums and products wrap (two's complement) instead of overflowing. */
static inline int32_t add_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int64_t add_i64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int32_t mul_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }
static inline int64_t mul_i64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* The integer reductions of int<BITS>_t, wrapping sums and products. */
#define REDUCE_INTEGER(BITS)                                                                             \
    switch (node->op) {                                                                                  \
    case P2L_OP_SUM: REDUCE_LOOP(int##BITS##_t, 0, add_i##BITS(acc, v)); break;                          \
    case P2L_OP_REDUCE_PROD: REDUCE_LOOP(int##BITS##_t, 1, mul_i##BITS(acc, v)); break;                  \
    case P2L_OP_REDUCE_MAX: REDUCE_LOOP(int##BITS##_t, INT##BITS##_MIN, v > acc ? v : acc); break;       \
    case P2L_OP_REDUCE_MIN: REDUCE_LOOP(int##BITS##_t, INT##BITS##_MAX, v < acc ? v : acc); break;       \
    default: break;                                                                                      \
    }

/* sums = the sums of x as [outer, reduced, inner], in double. Runs of one output (inner 1) use
 * four accumulators: one would chain every addition on the last one's latency. */
static void sum_blocks(const reduce_state *st, const float *x, double *sums, size_t count) {
    const size_t R = st->reduced, inner = st->inner;
    if (inner == 1) {
        for (size_t o = 0; o < st->outer; o++, x += R) {
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            size_t r = 0;
            for (; r + 4 <= R; r += 4) a0 += x[r], a1 += x[r + 1], a2 += x[r + 2], a3 += x[r + 3];
            for (; r < R; r++) a0 += x[r];
            sums[o] = (a0 + a1) + (a2 + a3);
        }
        return;
    }
    memset(sums, 0, count * sizeof *sums);
    for (size_t o = 0; o < st->outer; o++, sums += inner)
        for (size_t r = 0; r < R; r++, x += inner)
            for (size_t i = 0; i < inner; i++) sums[i] += x[i];
}

/* The same for int8 MEAN, in int32: integer sums are the same in any order (the element walk's too),
 * and this loop over the inner (channel) dim vectorizes. */
static void sum_blocks_i8(const reduce_state *st, const int8_t *x, int32_t *sums, size_t count) {
    const size_t R = st->reduced, inner = st->inner;
    memset(sums, 0, count * sizeof *sums);
    for (size_t o = 0; o < st->outer; o++, sums += inner)
        for (size_t r = 0; r < R; r++, x += inner)
            for (size_t i = 0; i < inner; i++) sums[i] = add_i32(sums[i], x[i]);
}

static p2l_status reduce_invoke(p2l_node *node) {
    const reduce_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    switch (x->dtype) {
    case P2L_FLOAT32:
        if (st->sums) {
            double *sums = p2l_node_scratch(node, 0); /* the reference kernel runs on the calling thread */
            if (st->blocked) sum_blocks(st, x->data, sums, y->count);
            else REDUCE_INTO(float, double, sums, 0, acc + v);
            const double divisor = node->op == P2L_OP_MEAN ? (double)st->reduced : 1.0;
            float *out = y->data;
            for (size_t i = 0; i < y->count; i++) out[i] = (float)(sums[i] / divisor);
            break;
        }
        REDUCE_TYPED(float, -INFINITY, INFINITY)
        break;
    case P2L_INT8: { /* MEAN, quantized */
        int32_t *sums = p2l_node_scratch(node, 0);
        if (st->blocked) sum_blocks_i8(st, x->data, sums, y->count);
        else REDUCE_INTO(int8_t, int32_t, sums, 0, acc + v);
        mean_int8_invoke(node, st, sums);
        break;
    }
    case P2L_INT32:
        REDUCE_INTEGER(32)
        break;
    case P2L_INT64:
        REDUCE_INTEGER(64)
        break;
    case P2L_BOOL:
        if (node->op == P2L_OP_REDUCE_ANY) REDUCE_LOOP(uint8_t, 0, acc || v);
        else REDUCE_LOOP(uint8_t, 1, acc && v);
        break;
    default: break;
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_reduce = {
    .prepare = reduce_prepare, .invoke = reduce_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

/* ------------------------------------------------------------ ARG_MAX / ARG_MIN */

typedef struct axis_state {
    size_t outer, length, inner;
} axis_state;

static p2l_status split_at_axis(p2l_node *node, const p2l_tensor *x, int axis) {
    axis_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    st->outer = p2l_dims_count(axis, x->dims);
    st->length = (size_t)x->dims[axis];
    st->inner = p2l_dims_count(x->rank - axis - 1, x->dims + axis + 1);
    return P2L_OK;
}

static p2l_status arg_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *axis_t = node->inputs[1];
    p2l_tensor *y = node->outputs[0];
    if (x->dtype != P2L_FLOAT32 && x->dtype != P2L_INT32 && x->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s input is not supported", p2l_dtype_name(x->dtype));
    if (y->dtype != P2L_INT32 && y->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_MALFORMED, "output %s must be int32 or int64", P2L_LABEL(y));
    int axis;
    P2L_TRY(p2l_read_axis(axis_t, x->rank, &axis));
    if (x->dims[axis] == 0) return p2l_fail(P2L_ERROR_MALFORMED, "cannot take the arg max/min of an empty axis");
    P2L_TRY(split_at_axis(node, x, axis));
    int32_t dims[P2L_MAX_DIMS];
    int rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (d != axis) dims[rank++] = x->dims[d];
    return p2l_set_output_dims(node, 0, rank, dims);
}

static double load_as_double(const p2l_tensor *t, size_t i) {
    switch (t->dtype) {
    case P2L_FLOAT32: return ((const float *)t->data)[i];
    case P2L_INT32: return ((const int32_t *)t->data)[i];
    default: return (double)((const int64_t *)t->data)[i];
    }
}

static p2l_status arg_invoke(p2l_node *node) {
    const axis_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    bool is_max = node->op == P2L_OP_ARG_MAX;
    for (size_t o = 0; o < st->outer; o++)
        for (size_t i = 0; i < st->inner; i++) {
            size_t base = o * st->length * st->inner + i, best = 0;
            double best_value = load_as_double(x, base);
            for (size_t k = 1; k < st->length; k++) {
                double v = load_as_double(x, base + k * st->inner);
                /* NaN is both the largest and the smallest value, and the first one wins, as in torch.argmax */
                const bool better = v != v ? best_value == best_value : is_max ? v > best_value : v < best_value;
                if (better) best_value = v, best = k;
            }
            size_t at = o * st->inner + i;
            if (y->dtype == P2L_INT32) ((int32_t *)y->data)[at] = (int32_t)best;
            else ((int64_t *)y->data)[at] = (int64_t)best;
        }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_arg_min_max = {
    .prepare = arg_prepare, .invoke = arg_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

/* ------------------------------------------------------------ CUMSUM */

static p2l_status cumsum_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *axis_t = node->inputs[1];
    if (x->dtype != P2L_FLOAT32 && x->dtype != P2L_INT32 && x->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s input is not supported", p2l_dtype_name(x->dtype));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    int axis;
    P2L_TRY(p2l_read_axis(axis_t, x->rank, &axis));
    P2L_TRY(split_at_axis(node, x, axis));
    return p2l_set_output_like(node, 0, x);
}

#define CUMSUM_LOOP(T, ADD)                                                              \
    do {                                                                                 \
        const T *in = x->data;                                                           \
        T *out = y->data;                                                                \
        for (size_t o = 0; o < st->outer; o++)                                           \
            for (size_t i = 0; i < st->inner; i++) {                                     \
                T acc = 0;                                                               \
                for (size_t k = 0; k < st->length; k++) {                                \
                    size_t kk = reverse ? st->length - 1 - k : k;                        \
                    size_t at = (o * st->length + kk) * st->inner + i;                   \
                    T v = in[at];                                                        \
                    if (exclusive) out[at] = acc, acc = ADD(acc, v);                     \
                    else acc = ADD(acc, v), out[at] = acc;                               \
                }                                                                        \
            }                                                                            \
    } while (0)

#define PLUS(a, b) ((a) + (b))

static p2l_status cumsum_invoke(p2l_node *node) {
    const axis_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    bool exclusive = node->opts.cumsum.exclusive, reverse = node->opts.cumsum.reverse;
    if (x->dtype == P2L_FLOAT32) CUMSUM_LOOP(float, PLUS);
    else if (x->dtype == P2L_INT32) CUMSUM_LOOP(int32_t, add_i32);
    else CUMSUM_LOOP(int64_t, add_i64);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_cumsum = {
    .prepare = cumsum_prepare, .invoke = cumsum_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

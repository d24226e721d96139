/* Tensor creation: arange, full, full_like, scalar_tensor, empty, fill, copy, dropout's mask, and
 * the random ops.
 *
 * Values known at conversion time become constants (the model stores them; nothing runs). A large
 * filled tensor becomes FILL of a scalar instead, so the file does not grow with it, and a
 * full_like of a dynamically shaped tensor is FILL(SHAPE(x)). rand/randn become LiteRT's
 * RANDOM_UNIFORM / RANDOM_STANDARD_NORMAL: the values follow the same distributions as torch's but
 * can never be the same numbers. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

enum { MAX_CONSTANT_FILL = 1 << 16 }; /* elements; above this a FILL op is emitted instead */

/* Writes `value` as element i of a buffer of IR dtype `dtype`; false for dtypes not handled. */
static bool store(p2l_dtype dtype, void *buf, size_t i, double value) {
    switch (dtype) {
    case P2L_FLOAT32: ((float *)buf)[i] = (float)value; return true;
    case P2L_INT32: ((int32_t *)buf)[i] = (int32_t)value; return true;
    case P2L_INT16: ((int16_t *)buf)[i] = (int16_t)value; return true;
    case P2L_INT8: ((int8_t *)buf)[i] = (int8_t)value; return true;
    case P2L_UINT8: ((uint8_t *)buf)[i] = (uint8_t)value; return true;
    case P2L_BOOL: ((uint8_t *)buf)[i] = value != 0; return true;
    default: return false;
    }
}

/* The IR dtype of output `index`, or -1 with the reason recorded. */
static int output_dtype(p2l_lower_ctx *ctx, int index) {
    const p2l_value *v = p2l_output_value(ctx, index);
    if (!v) return -1;
    p2l_dtype d = p2l_ir_dtype(v->dtype);
    if (v->dtype == (p2l_dtype)-1 || !store(d, (float[1]){0}, 0, 0)) {
        p2l_unsupported(ctx, "creating a tensor of ScalarType %d, which has no TFLite equivalent", v->torch_dtype);
        return -1;
    }
    return (int)d;
}

/* false for a dynamic dim; *numel saturates (the tensor made from it is then refused by its size) */
static bool dims_static(const int64_t *dims, int rank, int64_t *numel) {
    *numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (__builtin_mul_overflow(*numel, dims[i], numel)) *numel = INT64_MAX;
    }
    return true;
}

/* A tensor of `dims` filled with `value`: a constant, or FILL for large ones. */
static int filled(p2l_lower_ctx *ctx, p2l_dtype dtype, int rank, const int64_t *dims, double value) {
    int64_t numel;
    if (!dims_static(dims, rank, &numel)) {
        p2l_unsupported(ctx, "creating a tensor of a dynamic size from a size list");
        return -1;
    }
    if (numel == 0) {
        p2l_unsupported(ctx, "creating an empty tensor (TFLite has no empty tensors)");
        return -1;
    }
    if (!p2l_fits_dtype(ctx, dtype, value, "the fill value")) return -1;
    if (numel > MAX_CONSTANT_FILL) {
        int32_t shape[P2L_MAX_DIMS];
        for (int i = 0; i < rank; i++) shape[i] = (int32_t)dims[i];
        int ins[2] = {p2l_const_i32(ctx, rank, shape), p2l_const_scalar(ctx, dtype, value)};
        int out = p2l_temp(ctx, "fill", dtype, rank, dims);
        return p2l_emit(ctx, P2L_OP_FILL, 2, ins, 1, &out) < 0 ? -1 : out;
    }
    size_t esize = p2l_dtype_size(dtype);
    void *data = p2l_alloc((size_t)numel * esize);
    if (!data) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < numel; i++) store(dtype, data, (size_t)i, value);
    return p2l_add_const(ctx->g, p2l_node_tensor_name(ctx, "filled"), dtype, rank, dims,
                         data, true);
}

/* Output 0 filled with `value`, shaped as the output value (FILL of its shape computed at run time
 * when a size is symbolic). */
static p2l_status filled_output(p2l_lower_ctx *ctx, double value) {
    const p2l_value *v = p2l_output_value(ctx, 0);
    int dtype = output_dtype(ctx, 0);
    if (!v || dtype < 0) return P2L_ERROR_UNSUPPORTED;
    if (!p2l_dims_static(v->dims, v->rank)) {
        if (!p2l_fits_dtype(ctx, (p2l_dtype)dtype, value, "the fill value")) return P2L_ERROR_UNSUPPORTED;
        int ins[2] = {p2l_dynamic_shape(ctx, v, NULL), p2l_const_scalar(ctx, (p2l_dtype)dtype, value)};
        if (ins[0] < 0) return P2L_ERROR_UNSUPPORTED;
        int y = p2l_output(ctx, 0, NULL);
        return p2l_emitted(p2l_emit(ctx, P2L_OP_FILL, 2, ins, 1, &y));
    }
    int t = filled(ctx, (p2l_dtype)dtype, v->rank, v->dims, value);
    return t < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, t, NULL);
}

static bool scalar_arg(p2l_lower_ctx *ctx, const char *name, double *value) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->symbolic) {
        p2l_unsupported(ctx, "a symbolic '%s' (only values known at export time are supported)", name);
        return false;
    }
    if (a->kind != P2L_ARG_INT && a->kind != P2L_ARG_FLOAT && a->kind != P2L_ARG_BOOL) {
        p2l_unsupported(ctx, "'%s' is not a number", name);
        return false;
    }
    *value = p2l_arg_number(ctx, name, 0);
    return true;
}

/* full(size, fill_value, dtype) / full_like(self, fill_value, dtype): a constant (FILL when large);
 * full_like of a dynamically shaped tensor is FILL(SHAPE(self), value). */
p2l_status p2l_lower_full(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double value;
    if (!scalar_arg(ctx, "fill_value", &value)) return P2L_ERROR_UNSUPPORTED;
    const p2l_value *v = p2l_output_value(ctx, 0);
    int64_t numel;
    if (v && !dims_static(v->dims, v->rank, &numel) && p2l_value_of(ctx, "self")) {
        int dtype = output_dtype(ctx, 0);
        if (dtype < 0) return P2L_ERROR_UNSUPPORTED;
        int x = p2l_input(ctx, "self", NULL);
        if (x < 0) return P2L_ERROR_UNSUPPORTED;
        int64_t rank = v->rank;
        int shape = p2l_temp(ctx, "shape", P2L_INT32, 1, &rank);
        int n = p2l_emit1(ctx, P2L_OP_SHAPE, x, shape);
        if (n < 0) return P2L_ERROR_UNSUPPORTED;
        p2l_set_option(ctx->g, n, "out_type", P2L_INT32);
        int ins[2] = {shape, p2l_const_scalar(ctx, (p2l_dtype)dtype, value)};
        int y = p2l_output(ctx, 0, NULL);
        return p2l_emitted(p2l_emit(ctx, P2L_OP_FILL, 2, ins, 1, &y));
    }
    return filled_output(ctx, value);
}

/* fill.Scalar(self, value): full_like with self's dtype. */
p2l_status p2l_lower_fill(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double value;
    if (!scalar_arg(ctx, "value", &value)) return P2L_ERROR_UNSUPPORTED;
    return filled_output(ctx, value);
}

/* scalar_tensor(s, dtype): a 0-d constant. */
p2l_status p2l_lower_scalar_tensor(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double value;
    if (!scalar_arg(ctx, "s", &value)) return P2L_ERROR_UNSUPPORTED;
    return filled_output(ctx, value);
}

/* empty.memory_format / empty_strided: the contents are undefined in torch; zeros here. */
p2l_status p2l_lower_empty(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return filled_output(ctx, 0); }

/* arange with a symbolic bound (arange(x.shape[1])): RANGE of 0-d bounds, the symbolic ones
 * computed at run time (int32 sizes, cast to a float arange's dtype). */
static p2l_status dynamic_arange(p2l_lower_ctx *ctx) {
    int dtype = output_dtype(ctx, 0);
    if (dtype < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype != P2L_INT32 && dtype != P2L_FLOAT32)
        return p2l_unsupported(ctx, "an arange of dtype %s with a symbolic bound", p2l_dtype_name((p2l_dtype)dtype));
    static const char *const names[3] = {"start", "end", "step"};
    int bounds[3];
    for (int i = 0; i < 3; i++) {
        const p2l_arg *a = p2l_arg_of(ctx, names[i]);
        double value = 1; /* step's default */
        if (a->symbolic) {
            bounds[i] = p2l_cast(ctx, p2l_reshape(ctx, p2l_sym_tensor(ctx, a->sym), 0, NULL), (p2l_dtype)dtype);
        } else {
            if (a->kind != P2L_ARG_NONE && !scalar_arg(ctx, names[i], &value)) return P2L_ERROR_UNSUPPORTED;
            bounds[i] = p2l_const_scalar(ctx, (p2l_dtype)dtype, value);
        }
        if (bounds[i] < 0) return P2L_ERROR_UNSUPPORTED;
    }
    int y = p2l_output(ctx, 0, NULL);
    return p2l_emitted(p2l_emit(ctx, P2L_OP_RANGE, 3, bounds, 1, &y));
}

/* arange.start_step(start, end, step, dtype): start + i * step (computed in double, as torch's CPU
 * kernel does, then converted), a constant; RANGE when a bound is symbolic. */
p2l_status p2l_lower_arange(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    if (p2l_arg_of(ctx, "start")->symbolic || p2l_arg_of(ctx, "end")->symbolic || p2l_arg_of(ctx, "step")->symbolic)
        return dynamic_arange(ctx);
    double start, end, step = 1;
    if (!scalar_arg(ctx, "start", &start) || !scalar_arg(ctx, "end", &end)) return P2L_ERROR_UNSUPPORTED;
    if (p2l_arg_of(ctx, "step")->kind != P2L_ARG_NONE && !scalar_arg(ctx, "step", &step)) return P2L_ERROR_UNSUPPORTED;
    const p2l_value *v = p2l_output_value(ctx, 0);
    int dtype = output_dtype(ctx, 0);
    if (!v || dtype < 0) return P2L_ERROR_UNSUPPORTED;
    if (v->rank != 1 || v->dims[0] < 0) return p2l_unsupported(ctx, "arange of a dynamic length");
    int64_t n = v->dims[0];
    if (n == 0) return p2l_unsupported(ctx, "an empty arange (TFLite has no empty tensors)");
    if (!p2l_fits_dtype(ctx, (p2l_dtype)dtype, start, "the arange start") ||
        !p2l_fits_dtype(ctx, (p2l_dtype)dtype, start + step * (double)(n - 1), "the last arange value"))
        return P2L_ERROR_UNSUPPORTED;
    size_t esize = p2l_dtype_size((p2l_dtype)dtype);
    void *data = p2l_alloc((size_t)n * esize);
    if (!data) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) store((p2l_dtype)dtype, data, (size_t)i, start + step * (double)i);
    int t = p2l_add_const(ctx->g, p2l_node_tensor_name(ctx, "range"), (p2l_dtype)dtype, 1, &n,
                          data, true);
    return t < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, t, NULL);
}

/* rand(size) / randn(size) -> RANDOM_UNIFORM / RANDOM_STANDARD_NORMAL (seeds 0: a fresh seed per
 * interpreter). */
static p2l_status random_op(p2l_lower_ctx *ctx, p2l_op op) {
    const p2l_value *v = p2l_output_value(ctx, 0);
    int dtype = output_dtype(ctx, 0);
    if (!v || dtype < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype != P2L_FLOAT32)
        return p2l_unsupported(ctx, "random values of dtype %s (float32 is supported)", p2l_dtype_name((p2l_dtype)dtype));
    int64_t numel;
    if (!dims_static(v->dims, v->rank, &numel)) return p2l_unsupported(ctx, "random values of a dynamic shape");
    if (v->rank == 0) { /* TFLite's random ops take a 1-D shape: one value, then a reshape to 0-d */
        int64_t one = 1;
        int32_t shape1 = 1;
        int ins[1] = {p2l_const_i32(ctx, 1, &shape1)};
        int t = p2l_temp(ctx, "random", P2L_FLOAT32, 1, &one);
        int n = p2l_emit(ctx, op, 1, ins, 1, &t);
        if (n < 0) return P2L_ERROR_UNSUPPORTED;
        return p2l_alias_output(ctx, 0, p2l_reshape(ctx, t, 0, NULL), NULL);
    }
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < v->rank; i++) shape[i] = (int32_t)v->dims[i];
    int ins[1] = {p2l_const_i32(ctx, v->rank, shape)};
    int y = p2l_output(ctx, 0, NULL);
    int n = p2l_emit(ctx, op, 1, ins, 1, &y);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "seed", 0);
    p2l_set_option(ctx->g, n, "seed2", 0);
    return P2L_OK;
}

p2l_status p2l_lower_rand(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return random_op(ctx, P2L_OP_RANDOM_UNIFORM); }
p2l_status p2l_lower_randn(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return random_op(ctx, P2L_OP_RANDOM_STANDARD_NORMAL);
}

/* native_dropout(input, p, train): in eval, the input itself and a mask of ones. */
p2l_status p2l_lower_native_dropout(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *train = p2l_arg_of(ctx, "train");
    double p = p2l_arg_number(ctx, "p", 0);
    if (train->kind == P2L_ARG_BOOL && train->i && p > 0)
        return p2l_unsupported(ctx, "dropout with train=True is random; export the model in eval() mode");
    p2l_layout l;
    int x = p2l_input_any(ctx, "input", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    P2L_TRY(p2l_alias_output(ctx, 0, x, &l));
    if (!p2l_output_value(ctx, 1)) return P2L_OK;
    const p2l_value *m = p2l_output_value(ctx, 1);
    int dtype = output_dtype(ctx, 1);
    if (dtype < 0) return P2L_ERROR_UNSUPPORTED;
    int t = filled(ctx, (p2l_dtype)dtype, m->rank, m->dims, 1);
    return t < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 1, t, NULL);
}

/* copy(self, src): src converted to self's dtype and broadcast to self's shape. */
p2l_status p2l_lower_copy(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self"), *src_v = p2l_value_of(ctx, "src");
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!self_v || !src_v || !out_v) return p2l_unsupported(ctx, "copy needs two tensors");
    int dtype = output_dtype(ctx, 0);
    if (dtype < 0) return P2L_ERROR_UNSUPPORTED;
    bool same_shape = src_v->rank == out_v->rank &&
                      memcmp(src_v->dims, out_v->dims, sizeof(int64_t) * (size_t)out_v->rank) == 0;
    if (same_shape) {
        p2l_layout l;
        int x = p2l_cast(ctx, p2l_input_any(ctx, "src", &l), (p2l_dtype)dtype);
        return x < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, x, &l);
    }
    int64_t numel;
    if (!dims_static(out_v->dims, out_v->rank, &numel)) return p2l_unsupported(ctx, "copy broadcasting to a dynamic shape");
    int x = p2l_cast(ctx, p2l_input_broadcast(ctx, "src", out_v->rank, NULL, (p2l_dtype)dtype), (p2l_dtype)dtype);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < out_v->rank; i++) shape[i] = (int32_t)out_v->dims[i];
    int ins[2] = {x, p2l_const_i32(ctx, out_v->rank, shape)};
    int y = p2l_output(ctx, 0, NULL);
    return p2l_emitted(p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &y));
}

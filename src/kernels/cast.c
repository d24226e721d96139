/* CAST between float16/32/64, int8/16/32/64, uint8 and bool (float16 <-> float32 rounds to nearest even,
 * base/float16.h). Integers go through int64 and floats
 * through double, so int64 values keep every bit; anything -> bool is "!= 0" (NaN is true), as in
 * PyTorch.
 *
 * float -> integer truncates toward zero, as PyTorch does for values the target type holds. For the
 * others (out of range, +-inf, NaN) PyTorch's documentation says the result is undefined, and it
 * differs by platform (x86-64 eager: int32 gets INT32_MIN and int8/uint8 the low bits of that or of
 * the int32 value, so 300.0 -> int8 is 44; aarch64 saturates to int32 first). pt2lite saturates to
 * the target type's range on every platform (300.0 -> int8 is 127, -1.0 -> uint8 is 0, inf ->
 * int32 is INT32_MAX) and maps NaN to 0. integer -> narrower integer wraps (keeps the low bits), as
 * PyTorch does, except int64 -> int32: pt2lite's converter computes integers in int32 and narrows
 * int64 model inputs with exactly this CAST, so a value outside int32 would come out wrapped, a
 * plausible wrong answer. That CAST refuses such values instead (p2l_check_int32_range). */
#include "base/float16.h"
#include "kernels/kernels.h"

#define CAST_TYPES(X) \
    X(P2L_FLOAT32, float, 1) X(P2L_FLOAT64, double, 1) X(P2L_INT8, int8_t, 0) X(P2L_INT16, int16_t, 0) \
    X(P2L_INT32, int32_t, 0) X(P2L_INT64, int64_t, 0) X(P2L_UINT8, uint8_t, 0) X(P2L_BOOL, uint8_t, 0)

static bool castable(p2l_dtype t) {
    if (t == P2L_FLOAT16) return true;
#define X(code, T, is_float) if (t == code) return true;
    CAST_TYPES(X)
#undef X
    return false;
}

static bool is_float(p2l_dtype t) { return t == P2L_FLOAT32 || t == P2L_FLOAT64 || t == P2L_FLOAT16; }

/* Reads element i as double or int64 (whichever keeps it exactly). */
static void load(p2l_dtype t, const void *p, size_t i, double *f, int64_t *n) {
    switch (t) {
    case P2L_FLOAT16: *f = p2l_f16_to_f32(((const uint16_t *)p)[i]); return;
#define X(code, T, fl)                     \
    case code: {                           \
        T v = ((const T *)p)[i];           \
        if (fl) *f = (double)v; else *n = (int64_t)v; \
        return;                            \
    }
        CAST_TYPES(X)
#undef X
    default: return;
    }
}

/* The range of an integer type as int64 (int64: the whole of it). */
static void int_range(p2l_dtype t, int64_t *lo, int64_t *hi) {
    switch (t) {
    case P2L_INT8: *lo = INT8_MIN, *hi = INT8_MAX; return;
    case P2L_INT16: *lo = INT16_MIN, *hi = INT16_MAX; return;
    case P2L_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return;
    case P2L_UINT8: *lo = 0, *hi = UINT8_MAX; return;
    default: *lo = INT64_MIN, *hi = INT64_MAX; return;
    }
}

/* float -> integer type t: truncated, saturated to t's range, NaN -> 0 (see the top of the file). */
static int64_t float_to_int(double f, p2l_dtype t) {
    int64_t lo, hi, n = p2l_float_to_i64(f);
    int_range(t, &lo, &hi);
    return n < lo ? lo : n > hi ? hi : n;
}

static void store(p2l_dtype t, void *p, size_t i, double f, int64_t n, bool from_float) {
    if (t == P2L_BOOL) {
        ((uint8_t *)p)[i] = from_float ? f != 0 : n != 0;
        return;
    }
    if (!is_float(t) && from_float) n = float_to_int(f, t);
    switch (t) {
    case P2L_FLOAT16: /* through float32: exact from float32 and small integers, the casts models make */
        ((uint16_t *)p)[i] = p2l_f32_to_f16(from_float ? (float)f : (float)n);
        return;
#define X(code, T, fl)                                        \
    case code:                                                \
        ((T *)p)[i] = fl ? (T)(from_float ? f : (double)n) : (T)n; \
        return;
        CAST_TYPES(X)
#undef X
    default: return;
    }
}

static p2l_status cast_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    p2l_dtype to = node->outputs[0]->dtype;
    if (!castable(x->dtype) || !castable(to))
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "cast from %s to %s is not supported", p2l_dtype_name(x->dtype),
                        p2l_dtype_name(to));
    return p2l_set_output_like(node, 0, x);
}

static p2l_status cast_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    bool from_float = is_float(x->dtype);
    if (x->dtype == P2L_INT64 && y->dtype == P2L_INT32) {
        size_t bad = p2l_first_outside_int32(x->data, x->count);
        if (bad < x->count)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s holds %lld at element %zu, outside the int32 range "
                            "this model computes in (the converter narrowed this int64 value to int32)",
                            P2L_LABEL(x), (long long)((const int64_t *)x->data)[bad], bad);
    }
    if (x->dtype == P2L_FLOAT16 && y->dtype == P2L_FLOAT32) { /* float16 model inputs */
        const uint16_t *in = x->data;
        float *out = y->data;
        for (size_t i = 0; i < x->count; i++) out[i] = p2l_f16_to_f32(in[i]);
        return P2L_OK;
    }
    if (x->dtype == P2L_FLOAT32 && y->dtype == P2L_FLOAT16) { /* float16 model outputs */
        const float *in = x->data;
        uint16_t *out = y->data;
        for (size_t i = 0; i < x->count; i++) out[i] = p2l_f32_to_f16(in[i]);
        return P2L_OK;
    }
    if (x->dtype == P2L_FLOAT32 && y->dtype == P2L_INT32) { /* the common case, without dispatch */
        const float *in = x->data;
        int32_t *out = y->data;
        for (size_t i = 0; i < x->count; i++) out[i] = (int32_t)float_to_int(in[i], P2L_INT32);
        return P2L_OK;
    }
    for (size_t i = 0; i < x->count; i++) {
        double f = 0;
        int64_t n = 0;
        load(x->dtype, x->data, i, &f, &n);
        store(y->dtype, y->data, i, f, n, from_float);
    }
    return P2L_OK;
}

size_t p2l_first_outside_int32(const int64_t *values, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (values[i] < INT32_MIN || values[i] > INT32_MAX) return i;
    return count;
}

const p2l_kernel p2l_kernel_cast = {
    .prepare = cast_prepare, .invoke = cast_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};

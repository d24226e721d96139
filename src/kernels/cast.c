/* CAST between float32/64, int8/16/32/64, uint8 and bool. Integers go through int64 and floats
 * through double, so int64 values keep every bit; float -> integer saturates (C leaves
 * out-of-range conversions undefined); anything -> bool is "!= 0". */
#include "kernels/kernels.h"

#define CAST_TYPES(X) \
    X(P2L_FLOAT32, float, 1) X(P2L_FLOAT64, double, 1) X(P2L_INT8, int8_t, 0) X(P2L_INT16, int16_t, 0) \
    X(P2L_INT32, int32_t, 0) X(P2L_INT64, int64_t, 0) X(P2L_UINT8, uint8_t, 0) X(P2L_BOOL, uint8_t, 0)

static bool castable(p2l_dtype t) {
#define X(code, T, is_float) if (t == code) return true;
    CAST_TYPES(X)
#undef X
    return false;
}

static bool is_float(p2l_dtype t) { return t == P2L_FLOAT32 || t == P2L_FLOAT64; }

/* Reads element i as double or int64 (whichever keeps it exactly). */
static void load(p2l_dtype t, const void *p, size_t i, double *f, int64_t *n) {
    switch (t) {
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

static void store(p2l_dtype t, void *p, size_t i, double f, int64_t n, bool from_float) {
    if (t == P2L_BOOL) {
        ((uint8_t *)p)[i] = from_float ? f != 0 : n != 0;
        return;
    }
    if (!is_float(t) && from_float) n = p2l_float_to_i64(f);
    switch (t) {
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
    if (x->dtype == P2L_FLOAT32 && y->dtype == P2L_INT32) { /* the common case, without dispatch */
        const float *in = x->data;
        int32_t *out = y->data;
        for (size_t i = 0; i < x->count; i++) {
            int64_t v = p2l_float_to_i64(in[i]);
            out[i] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
        }
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

const p2l_kernel p2l_kernel_cast = {
    .prepare = cast_prepare, .invoke = cast_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};

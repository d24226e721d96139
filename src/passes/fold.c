/* Constant folding: ops whose inputs are all constants become constants (TRANSPOSE, RESHAPE,
 * CAST of weights and shapes), so no weight is ever moved at run time; and element-wise ops over
 * constants (arithmetic, comparisons, rounding, SELECT_V2) are evaluated here, so index
 * arithmetic that decompositions leave behind (iota, abs, clamp, floor_mod -> GATHER indices) and
 * coordinates computed from constants arrive in the file as one constant. PAD/PADV2, STRIDED_SLICE,
 * BROADCAST_TO, GATHER, CONCATENATION and CUMSUM of constants are folded too (padded iotas, slices
 * of constant operands, attention masks and the position ids they come from, position
 * embeddings), and MEAN/SUM of float constants, summed in double (conv filters that weight
 * standardization or weight norm compute from parameters).
 *
 * Element-wise folding evaluates each op with the semantics LiteRT gives it for float32, int32 and
 * bool (numpy broadcasting; float arithmetic in float32; MAXIMUM/MINIMUM with std::max/std::min's
 * argument order; floor division and modulo rounding down; ROUND half to even). Whenever the
 * result is not certain to be what the op computes at run time (integer overflow, integer or float
 * division by zero in FLOOR_DIV/FLOOR_MOD, a float out of int32's range cast to int32, a fused
 * activation, another dtype) the op is left to run. Outputs above FOLD_MAX_BYTES (or above the
 * largest input, when that is larger) are not folded: a broadcast can turn small constants into a
 * large one that would bloat the file. */
#include <math.h>
#include <string.h>

#include "passes/passes.h"

/* Turns node n's output into a constant with `data` (owned unless borrowed) and kills n. */
static void become_constant(p2l_graph *g, int n, const void *data, bool owned, size_t nbytes) {
    p2l_ir_node *node = &g->nodes.items[n];
    p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    out->data = data;
    out->owned = owned ? (void *)data : NULL;
    out->nbytes = nbytes;
    out->producer = -1;
    node->dead = true;
}

static bool fold_reshape(p2l_graph *g, int n) {
    p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    if (p2l_tensor_numel(out) < 0 || p2l_tensor_bytes(out) != in->nbytes) return false;
    /* Borrow bytes the archive owns; copy bytes another tensor owns (lifetimes differ). */
    if (!in->owned) {
        become_constant(g, n, in->data, false, in->nbytes);
        return true;
    }
    void *copy = p2l_alloc(in->nbytes ? in->nbytes : 1);
    if (!copy) return false;
    memcpy(copy, in->data, in->nbytes);
    become_constant(g, n, copy, true, in->nbytes);
    return true;
}

static bool fold_transpose(p2l_graph *g, int n) {
    p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_ir_tensor *perm_t = &g->tensors.items[node->inputs[1]];
    if (perm_t->dtype != P2L_INT32 || p2l_tensor_numel(perm_t) != in->rank || p2l_tensor_numel(in) < 0) return false;
    int32_t perm[P2L_MAX_DIMS];
    memcpy(perm, perm_t->data, sizeof(int32_t) * (size_t)in->rank);
    uint8_t *out = p2l_alloc(in->nbytes ? in->nbytes : 1);
    if (!out) return false;
    int p[P2L_MAX_DIMS];
    for (int d = 0; d < in->rank; d++) {
        if (perm[d] < 0 || perm[d] >= in->rank) {
            p2l_release(out);
            return false;
        }
        p[d] = perm[d];
    }
    p2l_permute_bytes(out, in->data, p2l_dtype_size(in->dtype), in->rank, in->dims, p);
    become_constant(g, n, out, true, in->nbytes);
    return true;
}

/* ------------------------------------------------------------ element-wise ops */

/* The largest constant an element-wise fold may create. */
enum { FOLD_MAX_BYTES = 4 << 20 };

/* A constant read at the positions of an output it broadcasts to: element strides per output axis,
 * 0 where the constant repeats (ranks aligned to the right, as numpy). */
typedef struct broadcast_read {
    const p2l_ir_tensor *t;
    int64_t strides[P2L_MAX_DIMS];
} broadcast_read;

static bool broadcast_to_output(const p2l_ir_tensor *in, const p2l_ir_tensor *out, broadcast_read *r) {
    if (in->rank > out->rank || p2l_tensor_numel(in) < 0) return false;
    r->t = in;
    int64_t stride = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        int k = i - (out->rank - in->rank);
        int64_t d = k >= 0 ? in->dims[k] : 1;
        if (d != 1 && d != out->dims[i]) return false;
        r->strides[i] = d == 1 ? 0 : stride;
        stride *= d;
    }
    return true;
}

static bool foldable_dtype(p2l_dtype d) { return d == P2L_FLOAT32 || d == P2L_INT32 || d == P2L_BOOL; }
/* CAST also converts 8-bit integers (quantized inputs, byte images). */
static bool castable_dtype(p2l_dtype d) { return foldable_dtype(d) || d == P2L_INT8 || d == P2L_UINT8; }

/* Element i of a float32 / int32 / int8 / uint8 / bool constant; exact in a double. */
static double load_value(const p2l_ir_tensor *t, int64_t i) {
    switch (t->dtype) {
    case P2L_FLOAT32: { float f; memcpy(&f, (const float *)t->data + i, 4); return f; }
    case P2L_INT32: { int32_t v; memcpy(&v, (const int32_t *)t->data + i, 4); return v; }
    case P2L_INT8: return ((const int8_t *)t->data)[i];
    case P2L_UINT8: return ((const uint8_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i] != 0;
    }
}

/* Stores v, already a value of `dtype` (a float32, an integer in range, or 0/1). */
static void store_value(uint8_t *dst, p2l_dtype dtype, int64_t i, double v) {
    switch (dtype) {
    case P2L_FLOAT32: { float f = (float)v; memcpy(dst + i * 4, &f, 4); break; }
    case P2L_INT32: { int32_t x = (int32_t)v; memcpy(dst + i * 4, &x, 4); break; }
    case P2L_INT8: dst[i] = (uint8_t)(int8_t)v; break;
    case P2L_UINT8: dst[i] = (uint8_t)v; break;
    default: dst[i] = v != 0; break;
    }
}

static bool fits_int32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

static bool is_comparison(p2l_op op) {
    return op == P2L_OP_EQUAL || op == P2L_OP_NOT_EQUAL || op == P2L_OP_LESS || op == P2L_OP_LESS_EQUAL ||
           op == P2L_OP_GREATER || op == P2L_OP_GREATER_EQUAL;
}

static bool compare(p2l_op op, double x, double y) {
    switch (op) {
    case P2L_OP_EQUAL: return x == y;
    case P2L_OP_NOT_EQUAL: return x != y;
    case P2L_OP_LESS: return x < y;
    case P2L_OP_LESS_EQUAL: return x <= y;
    case P2L_OP_GREATER: return x > y;
    default: return x >= y;
    }
}

/* op(x, y) for float32 operands, computed in float32. False: leave the op to run time. */
static bool binary_float(p2l_op op, float x, float y, double *out) {
    float r;
    switch (op) {
    case P2L_OP_ADD: r = x + y; break;
    case P2L_OP_SUB: r = x - y; break;
    case P2L_OP_MUL: r = x * y; break;
    case P2L_OP_DIV: r = x / y; break;
    case P2L_OP_MAXIMUM: r = x < y ? y : x; break;
    case P2L_OP_MINIMUM: r = y < x ? y : x; break;
    case P2L_OP_SQUARED_DIFFERENCE: r = (x - y) * (x - y); break;
    case P2L_OP_FLOOR_DIV:
        if (y == 0) return false;
        r = floorf(x / y);
        break;
    case P2L_OP_FLOOR_MOD:
        if (y == 0) return false;
        r = fmodf(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        break;
    default: return false;
    }
    *out = r;
    return true;
}

/* op(x, y) for int32 operands, in 64 bits; false on a zero divisor or a result outside int32
 * (*overflow set: torch computes these int64 values exactly, the model would wrap them). */
static bool binary_int(p2l_op op, int64_t x, int64_t y, double *out, int64_t *overflow) {
    int64_t r;
    switch (op) {
    case P2L_OP_ADD: r = x + y; break;
    case P2L_OP_SUB: r = x - y; break;
    case P2L_OP_MUL: r = x * y; break;
    case P2L_OP_MAXIMUM: r = x < y ? y : x; break;
    case P2L_OP_MINIMUM: r = y < x ? y : x; break;
    case P2L_OP_SQUARED_DIFFERENCE: r = (x - y) * (x - y); break; /* |x - y| < 2^32: exact */
    case P2L_OP_DIV: /* truncates, as C */
        if (y == 0) return false;
        r = x / y;
        break;
    case P2L_OP_FLOOR_DIV:
        if (y == 0) return false;
        r = x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
        break;
    case P2L_OP_FLOOR_MOD:
        if (y == 0) return false;
        r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        break;
    default: return false;
    }
    if (!fits_int32(r)) {
        *overflow = r;
        return false;
    }
    *out = (double)r;
    return true;
}

static bool binary_bool(p2l_op op, bool x, bool y, double *out) {
    switch (op) {
    case P2L_OP_LOGICAL_AND: *out = x && y; return true;
    case P2L_OP_LOGICAL_OR: *out = x || y; return true;
    default: return false;
    }
}

/* op(x) for a unary element-wise op reading `in` and writing `out_dtype` (CAST converts). */
static bool unary_value(p2l_op op, p2l_dtype in, p2l_dtype out_dtype, double x, double *out) {
    if (op == P2L_OP_CAST) {
        if (out_dtype == P2L_BOOL) {
            *out = x != 0;
            return true;
        }
        if (out_dtype == P2L_FLOAT32) {
            *out = (float)x;
            return true;
        }
        /* to an integer: truncation toward zero; a value outside the target's range has no one
         * run-time result (C leaves float conversions undefined there), so it stays unfolded */
        double low = out_dtype == P2L_INT32 ? INT32_MIN : out_dtype == P2L_INT8 ? INT8_MIN : 0;
        double high = out_dtype == P2L_INT32 ? INT32_MAX : out_dtype == P2L_INT8 ? INT8_MAX : UINT8_MAX;
        /* except below int32's range, where x86 (the "integer indefinite" value) and Arm (saturation)
         * agree on INT32_MIN: log(0) = -inf cast to an index in T5's position buckets */
        if (out_dtype == P2L_INT32 && !isnan(x) && trunc(x) < low) {
            *out = INT32_MIN;
            return true;
        }
        if (isnan(x) || trunc(x) < low || trunc(x) > high) return false;
        *out = trunc(x);
        return true;
    }
    if (in == P2L_BOOL) {
        if (op != P2L_OP_LOGICAL_NOT) return false;
        *out = x == 0;
        return true;
    }
    if (in == P2L_INT32) {
        int64_t v = (int64_t)x, r;
        switch (op) {
        case P2L_OP_NEG: r = -v; break;
        case P2L_OP_ABS: r = v < 0 ? -v : v; break;
        case P2L_OP_SIGN: r = (0 < v) - (v < 0); break;
        case P2L_OP_SQUARE: r = v * v; break;
        default: return false;
        }
        if (!fits_int32(r)) return false;
        *out = (double)r;
        return true;
    }
    float f = (float)x, r;
    switch (op) {
    case P2L_OP_NEG: r = -f; break;
    case P2L_OP_ABS: r = fabsf(f); break;
    case P2L_OP_SIGN: r = (float)((0 < f) - (f < 0)); break;
    case P2L_OP_SQUARE: r = f * f; break;
    case P2L_OP_FLOOR: r = floorf(f); break;
    case P2L_OP_CEIL: r = ceilf(f); break;
    case P2L_OP_ROUND: r = nearbyintf(f); break; /* half to even in the default rounding mode */
    case P2L_OP_SQRT: r = sqrtf(f); break;
    case P2L_OP_RSQRT: r = 1.0f / sqrtf(f); break;
    case P2L_OP_LOG: r = logf(f); break;
    case P2L_OP_EXP: r = expf(f); break;
    default: return false;
    }
    *out = r;
    return true;
}

/* Whether op is one this pass evaluates element-wise, with its operand count. */
static int elementwise_arity(p2l_op op) {
    switch (op) {
    case P2L_OP_CAST: case P2L_OP_NEG: case P2L_OP_ABS: case P2L_OP_SIGN: case P2L_OP_SQUARE: case P2L_OP_FLOOR:
    case P2L_OP_CEIL: case P2L_OP_ROUND: case P2L_OP_LOGICAL_NOT: case P2L_OP_SQRT: case P2L_OP_RSQRT:
    case P2L_OP_LOG: case P2L_OP_EXP:
        return 1;
    case P2L_OP_ADD: case P2L_OP_SUB: case P2L_OP_MUL: case P2L_OP_DIV: case P2L_OP_MAXIMUM: case P2L_OP_MINIMUM:
    case P2L_OP_SQUARED_DIFFERENCE: case P2L_OP_FLOOR_DIV: case P2L_OP_FLOOR_MOD: case P2L_OP_EQUAL:
    case P2L_OP_NOT_EQUAL: case P2L_OP_LESS: case P2L_OP_LESS_EQUAL: case P2L_OP_GREATER: case P2L_OP_GREATER_EQUAL:
    case P2L_OP_LOGICAL_AND: case P2L_OP_LOGICAL_OR:
        return 2;
    case P2L_OP_SELECT_V2: return 3;
    default: return 0;
    }
}

/* The dtypes op accepts: comparisons read any one dtype and write bool; SELECT_V2 reads a bool
 * condition and two values of the output's dtype; CAST converts; the rest keep their dtype. */
static bool dtypes_agree(p2l_op op, const p2l_ir_tensor *const *in, int n, p2l_dtype out) {
    if (op == P2L_OP_CAST) return castable_dtype(in[0]->dtype) && castable_dtype(out);
    for (int i = 0; i < n; i++)
        if (!foldable_dtype(in[i]->dtype)) return false;
    if (!foldable_dtype(out)) return false;
    if (op == P2L_OP_SELECT_V2) return in[0]->dtype == P2L_BOOL && in[1]->dtype == out && in[2]->dtype == out;
    if (is_comparison(op)) return out == P2L_BOOL && (n < 2 || in[0]->dtype == in[1]->dtype);
    for (int i = 0; i < n; i++)
        if (in[i]->dtype != out) return false;
    return true;
}

/* The largest result worth folding: FOLD_MAX_BYTES, or the largest input when that is larger (a
 * result no larger than a constant already in the file, which it usually replaces: a conv filter
 * computed from its parameter). */
static uint64_t fold_limit(const p2l_graph *g, const p2l_ir_node *node) {
    uint64_t limit = FOLD_MAX_BYTES;
    for (int i = 0; i < node->ninputs; i++)
        if (node->inputs[i] >= 0 && g->tensors.items[node->inputs[i]].nbytes > limit)
            limit = g->tensors.items[node->inputs[i]].nbytes;
    return limit;
}

/* Evaluates element-wise node n over its constant inputs into a new constant. */
static bool fold_elementwise(p2l_graph *g, int n, p2l_status *status) {
    p2l_ir_node *node = &g->nodes.items[n];
    int arity = elementwise_arity(node->op);
    if (!arity || node->ninputs != arity) return false;
    /* a fused activation clamps the result afterwards: leave those to run */
    if ((node->op == P2L_OP_ADD || node->op == P2L_OP_SUB || node->op == P2L_OP_MUL || node->op == P2L_OP_DIV) &&
        p2l_get_option(g, n, "fused_activation_function") != 0)
        return false;
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    int64_t numel = p2l_tensor_numel(out);
    size_t esize = p2l_dtype_size(out->dtype);
    if (numel < 0 || !esize || (uint64_t)numel * esize > fold_limit(g, node)) return false;
    const p2l_ir_tensor *in[3];
    broadcast_read reads[3];
    for (int i = 0; i < arity; i++) {
        in[i] = &g->tensors.items[node->inputs[i]];
        if (!broadcast_to_output(in[i], out, &reads[i])) return false;
    }
    if (!dtypes_agree(node->op, in, arity, out->dtype)) return false;

    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * esize : 1);
    if (!dst) return false;
    int64_t pos[P2L_MAX_DIMS] = {0};
    int64_t offset[3] = {0, 0, 0};
    for (int64_t e = 0; e < numel; e++) {
        double v[3], r = 0;
        for (int i = 0; i < arity; i++) v[i] = load_value(in[i], offset[i]);
        bool ok;
        if (arity == 1)
            ok = unary_value(node->op, in[0]->dtype, out->dtype, v[0], &r);
        else if (arity == 3)
            r = v[0] != 0 ? v[1] : v[2], ok = true;
        else if (is_comparison(node->op))
            r = compare(node->op, v[0], v[1]), ok = true;
        else if (out->dtype == P2L_FLOAT32)
            ok = binary_float(node->op, (float)v[0], (float)v[1], &r);
        else if (out->dtype == P2L_INT32) {
            int64_t overflow = 0;
            ok = binary_int(node->op, (int64_t)v[0], (int64_t)v[1], &r, &overflow);
            if (overflow) {
                *status = p2l_fail(P2L_ERROR_UNSUPPORTED,
                                   "%s: %s of the constants %lld and %lld is %lld, which does not fit int32 "
                                   "(pt2lite computes int64 values as int32)",
                                   node->origin ? node->origin : "a node", p2l_op_info_of(node->op)->name,
                                   (long long)v[0], (long long)v[1], (long long)overflow);
            }
        } else
            ok = binary_bool(node->op, v[0] != 0, v[1] != 0, &r);
        if (!ok) {
            p2l_release(dst);
            return false;
        }
        store_value(dst, out->dtype, e, r);
        /* next output position, row-major; each operand's offset follows its strides */
        for (int d = out->rank - 1; d >= 0; d--) {
            for (int i = 0; i < arity; i++) offset[i] += reads[i].strides[d];
            if (++pos[d] < out->dims[d]) break;
            for (int i = 0; i < arity; i++) offset[i] -= reads[i].strides[d] * out->dims[d];
            pos[d] = 0;
        }
    }
    become_constant(g, n, dst, true, (size_t)numel * esize);
    return true;
}

/* PAD / PADV2 of a constant (zeros, or PADV2's constant scalar): decompositions pad constant
 * iotas (affine_grid's base grid is built from padded aranges). Bytes are copied, any dtype. */
static bool fold_pad(p2l_graph *g, int n) {
    p2l_ir_node *node = &g->nodes.items[n];
    if (node->ninputs < 2) return false;
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_ir_tensor *pads = &g->tensors.items[node->inputs[1]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const p2l_ir_tensor *fill = node->op == P2L_OP_PADV2 && node->ninputs > 2 && node->inputs[2] >= 0
                                 ? &g->tensors.items[node->inputs[2]]
                                 : NULL;
    int64_t numel = p2l_tensor_numel(out);
    size_t esize = p2l_dtype_size(out->dtype);
    if (numel < 0 || !esize || (uint64_t)numel * esize > FOLD_MAX_BYTES || p2l_tensor_numel(in) < 0) return false;
    if (in->dtype != out->dtype || in->rank != out->rank || pads->dtype != P2L_INT32 ||
        p2l_tensor_numel(pads) != 2 * (int64_t)in->rank)
        return false;
    if (fill && (fill->dtype != out->dtype || p2l_tensor_numel(fill) != 1)) return false;
    int64_t before[P2L_MAX_DIMS];
    for (int d = 0; d < in->rank; d++) {
        int32_t b, a;
        memcpy(&b, (const int32_t *)pads->data + 2 * d, 4);
        memcpy(&a, (const int32_t *)pads->data + 2 * d + 1, 4);
        if (b < 0 || a < 0 || in->dims[d] + b + a != out->dims[d]) return false;
        before[d] = b;
    }
    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * esize : 1);
    if (!dst) return false;
    int64_t pos[P2L_MAX_DIMS] = {0};
    for (int64_t e = 0; e < numel; e++) {
        /* the input element at pos - before, when inside the input; else the pad value */
        int64_t src = 0;
        bool inside = true;
        for (int d = 0; d < in->rank; d++) {
            int64_t k = pos[d] - before[d];
            inside = inside && k >= 0 && k < in->dims[d];
            src = src * in->dims[d] + k;
        }
        uint8_t *slot = dst + (size_t)e * esize;
        if (inside)
            memcpy(slot, (const uint8_t *)in->data + (size_t)src * esize, esize);
        else if (fill)
            memcpy(slot, fill->data, esize);
        else
            memset(slot, 0, esize); /* zero of every dtype, 0.0f included */
        for (int d = out->rank - 1; d >= 0; d--) {
            if (++pos[d] < out->dims[d]) break;
            pos[d] = 0;
        }
    }
    become_constant(g, n, dst, true, (size_t)numel * esize);
    return true;
}

/* STRIDED_SLICE of a constant (begin/end masks and shrink_axis; no ellipsis, new axes or `offset`):
 * the slices a lowering takes of constant operands (a grid's x and y channels). The output dims
 * the lowering computed give the count along each axis; the first position follows TFLite's rule
 * (negative begin counts from the end, clamped into the axis), and every position read is checked
 * to lie inside the input. */
static bool fold_strided_slice(p2l_graph *g, int n) {
    p2l_ir_node *node = &g->nodes.items[n];
    if (node->ninputs != 4) return false;
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const p2l_ir_tensor *spec[3] = {&g->tensors.items[node->inputs[1]], &g->tensors.items[node->inputs[2]],
                                 &g->tensors.items[node->inputs[3]]};
    int rank = in->rank;
    for (int k = 0; k < 3; k++)
        if (spec[k]->dtype != P2L_INT32 || p2l_tensor_numel(spec[k]) != rank) return false;
    if (p2l_get_option(g, n, "ellipsis_mask") || p2l_get_option(g, n, "new_axis_mask") ||
        p2l_get_option(g, n, "offset"))
        return false;
    int64_t begin_mask = p2l_get_option(g, n, "begin_mask"), shrink_mask = p2l_get_option(g, n, "shrink_axis_mask");
    int64_t numel = p2l_tensor_numel(out);
    size_t esize = p2l_dtype_size(out->dtype);
    if (numel < 0 || !esize || in->dtype != out->dtype || p2l_tensor_numel(in) < 0 ||
        (uint64_t)numel * esize > FOLD_MAX_BYTES)
        return false;
    int64_t start[P2L_MAX_DIMS], step[P2L_MAX_DIMS], count[P2L_MAX_DIMS];
    int kept = 0;
    for (int d = 0; d < rank; d++) {
        int32_t b, s;
        memcpy(&b, (const int32_t *)spec[0]->data + d, 4);
        memcpy(&s, (const int32_t *)spec[2]->data + d, 4);
        int64_t dim = in->dims[d];
        bool shrink = shrink_mask >> d & 1;
        if (s == 0 || dim <= 0) return false;
        if (shrink) {
            start[d] = b < 0 ? b + dim : b, step[d] = 1, count[d] = 1;
        } else {
            if (kept >= out->rank) return false;
            if (begin_mask >> d & 1) start[d] = s > 0 ? 0 : dim - 1;
            else start[d] = b < 0 ? b + dim : b;
            /* TFLite clamps the begin into the axis ([0, dim] forwards, [-1, dim-1] backwards) */
            if (s > 0) start[d] = start[d] < 0 ? 0 : start[d] > dim ? dim : start[d];
            else start[d] = start[d] < -1 ? -1 : start[d] > dim - 1 ? dim - 1 : start[d];
            step[d] = s, count[d] = out->dims[kept++];
        }
        int64_t last = start[d] + (count[d] - 1) * step[d];
        if (count[d] > 0 && (start[d] < 0 || start[d] >= dim || last < 0 || last >= dim)) return false;
    }
    if (kept != out->rank) return false;
    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * esize : 1);
    if (!dst) return false;
    int64_t pos[P2L_MAX_DIMS] = {0};
    for (int64_t e = 0; e < numel; e++) {
        int64_t src = 0;
        for (int d = 0; d < rank; d++) src = src * in->dims[d] + start[d] + pos[d] * step[d];
        memcpy(dst + (size_t)e * esize, (const uint8_t *)in->data + (size_t)src * esize, esize);
        for (int d = rank - 1; d >= 0; d--) {
            if (++pos[d] < count[d]) break;
            pos[d] = 0;
        }
    }
    become_constant(g, n, dst, true, (size_t)numel * esize);
    return true;
}

/* ------------------------------------------------------------ data movement and reductions */

/* BROADCAST_TO of a constant (an attention mask built from a constant row). Any dtype. */
static bool fold_broadcast_to(p2l_graph *g, int n) {
    const p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]], *out = &g->tensors.items[node->outputs[0]];
    const int64_t numel = p2l_tensor_numel(out);
    const size_t esize = p2l_dtype_size(out->dtype);
    broadcast_read r;
    if (numel < 0 || !esize || in->dtype != out->dtype || (uint64_t)numel * esize > FOLD_MAX_BYTES ||
        !broadcast_to_output(in, out, &r))
        return false;
    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * esize : 1);
    if (!dst) return false;
    int64_t pos[P2L_MAX_DIMS] = {0}, offset = 0;
    for (int64_t e = 0; e < numel; e++) {
        memcpy(dst + (size_t)e * esize, (const uint8_t *)in->data + (size_t)offset * esize, esize);
        for (int d = out->rank - 1; d >= 0; d--) {
            offset += r.strides[d];
            if (++pos[d] < out->dims[d]) break;
            offset -= r.strides[d] * out->dims[d];
            pos[d] = 0;
        }
    }
    become_constant(g, n, dst, true, (size_t)numel * esize);
    return true;
}

/* GATHER of constant rows at constant indices (position embeddings at positions 0..n-1, token type
 * embeddings of a fixed type). batch_dims 0; an index out of range is left to run (and fail). */
static bool fold_gather(p2l_graph *g, int n) {
    const p2l_ir_node *node = &g->nodes.items[n];
    if (node->ninputs != 2 || p2l_get_option(g, n, "batch_dims")) return false;
    const p2l_ir_tensor *params = &g->tensors.items[node->inputs[0]], *idx = &g->tensors.items[node->inputs[1]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const int64_t numel = p2l_tensor_numel(out), count = p2l_tensor_numel(idx);
    const size_t esize = p2l_dtype_size(out->dtype);
    int64_t axis = p2l_get_option(g, n, "axis");
    if (axis < 0) axis += params->rank;
    if (axis < 0 || axis >= params->rank || idx->dtype != P2L_INT32 || params->dtype != out->dtype || numel < 0 ||
        count < 0 || !esize || (uint64_t)numel * esize > FOLD_MAX_BYTES || p2l_tensor_numel(params) < 0)
        return false;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= params->dims[d];
    for (int d = (int)axis + 1; d < params->rank; d++) inner *= params->dims[d];
    const int64_t size = params->dims[axis];
    if (outer * count * inner != numel) return false;
    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * esize : 1);
    if (!dst) return false;
    const size_t row = (size_t)inner * esize;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < count; i++) {
            int32_t k;
            memcpy(&k, (const int32_t *)idx->data + i, 4);
            if (k < 0 || k >= size) {
                p2l_release(dst);
                return false;
            }
            memcpy(dst + (size_t)(o * count + i) * row, (const uint8_t *)params->data + (size_t)(o * size + k) * row, row);
        }
    become_constant(g, n, dst, true, (size_t)numel * esize);
    return true;
}

/* CONCATENATION of constants (the shifted position ids of HuggingFace's mask code). Any dtype. */
static bool fold_concatenation(p2l_graph *g, int n) {
    const p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const int64_t numel = p2l_tensor_numel(out);
    const size_t esize = p2l_dtype_size(out->dtype);
    int64_t axis = p2l_get_option(g, n, "axis");
    if (axis < 0) axis += out->rank;
    if (axis < 0 || axis >= out->rank || numel < 0 || !esize || (uint64_t)numel * esize > FOLD_MAX_BYTES ||
        p2l_get_option(g, n, "fused_activation_function"))
        return false;
    int64_t outer = 1, inner = 1, total = 0;
    for (int d = 0; d < axis; d++) outer *= out->dims[d];
    for (int d = (int)axis + 1; d < out->rank; d++) inner *= out->dims[d];
    for (int i = 0; i < node->ninputs; i++) {
        const p2l_ir_tensor *in = &g->tensors.items[node->inputs[i]];
        if (in->dtype != out->dtype || in->rank != out->rank || p2l_tensor_numel(in) < 0) return false;
        total += in->dims[axis];
    }
    if (total != out->dims[axis]) return false;
    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * esize : 1), *w = dst;
    if (!dst) return false;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < node->ninputs; i++) {
            const p2l_ir_tensor *in = &g->tensors.items[node->inputs[i]];
            const size_t block = (size_t)(in->dims[axis] * inner) * esize;
            memcpy(w, (const uint8_t *)in->data + (size_t)o * block, block);
            w += block;
        }
    become_constant(g, n, dst, true, (size_t)numel * esize);
    return true;
}

/* CUMSUM of an int32 constant along a constant axis (exclusive / reverse as the options say);
 * int32 overflow leaves it to run. */
static bool fold_cumsum(p2l_graph *g, int n) {
    const p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]], *ax = &g->tensors.items[node->inputs[1]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const int64_t numel = p2l_tensor_numel(out);
    if (in->dtype != P2L_INT32 || out->dtype != P2L_INT32 || p2l_tensor_numel(ax) != 1 || ax->dtype != P2L_INT32 ||
        numel < 0 || numel != p2l_tensor_numel(in) || (uint64_t)numel * 4 > FOLD_MAX_BYTES)
        return false;
    int32_t axis;
    memcpy(&axis, ax->data, 4);
    if (axis < 0) axis += in->rank;
    if (axis < 0 || axis >= in->rank) return false;
    const bool exclusive = p2l_get_option(g, n, "exclusive"), reverse = p2l_get_option(g, n, "reverse");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= in->dims[d];
    for (int d = axis + 1; d < in->rank; d++) inner *= in->dims[d];
    const int64_t size = in->dims[axis];
    int32_t *dst = p2l_alloc(numel ? (size_t)numel * 4 : 1);
    if (!dst) return false;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t sum = 0;
            for (int64_t k = 0; k < size; k++) {
                const int64_t at = (o * size + (reverse ? size - 1 - k : k)) * inner + i;
                const int64_t v = (int64_t)load_value(in, at);
                if (!exclusive) sum += v;
                if (!fits_int32(sum)) {
                    p2l_release(dst);
                    return false;
                }
                dst[at] = (int32_t)sum;
                if (exclusive) sum += v;
            }
        }
    become_constant(g, n, dst, true, (size_t)numel * 4);
    return true;
}

/* MEAN / SUM of a float constant over constant axes (weight standardization and weight norm compute
 * conv filters from parameters this way), summed in double. */
static bool fold_reduce(p2l_graph *g, int n) {
    const p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]], *axes = &g->tensors.items[node->inputs[1]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const int64_t numel = p2l_tensor_numel(out), in_numel = p2l_tensor_numel(in), naxes = p2l_tensor_numel(axes);
    if (in->dtype != P2L_FLOAT32 || out->dtype != P2L_FLOAT32 || axes->dtype != P2L_INT32 || numel <= 0 ||
        in_numel <= 0 || naxes < 0 || (uint64_t)numel * 4 > FOLD_MAX_BYTES)
        return false;
    bool reduced[P2L_MAX_DIMS] = {false};
    for (int64_t i = 0; i < naxes; i++) {
        int32_t a;
        memcpy(&a, (const int32_t *)axes->data + i, 4);
        if (a < 0) a += in->rank;
        if (a < 0 || a >= in->rank) return false;
        reduced[a] = true;
    }
    /* output element of each input element: strides over the kept axes */
    int64_t strides[P2L_MAX_DIMS], stride = 1;
    for (int d = in->rank - 1; d >= 0; d--) {
        strides[d] = reduced[d] ? 0 : stride;
        if (!reduced[d]) stride *= in->dims[d];
    }
    if (stride != numel) return false;
    double *sums = p2l_alloc_zero(sizeof(double) * (size_t)numel);
    float *dst = p2l_alloc(sizeof(float) * (size_t)numel);
    if (!sums || !dst) {
        p2l_release(sums);
        p2l_release(dst);
        return false;
    }
    int64_t pos[P2L_MAX_DIMS] = {0}, o = 0;
    for (int64_t e = 0; e < in_numel; e++) {
        sums[o] += load_value(in, e);
        for (int d = in->rank - 1; d >= 0; d--) {
            o += strides[d];
            if (++pos[d] < in->dims[d]) break;
            o -= strides[d] * in->dims[d];
            pos[d] = 0;
        }
    }
    const double divisor = node->op == P2L_OP_MEAN ? (double)(in_numel / numel) : 1.0;
    for (int64_t i = 0; i < numel; i++) dst[i] = (float)(sums[i] / divisor);
    p2l_release(sums);
    become_constant(g, n, dst, true, (size_t)numel * 4);
    return true;
}

p2l_status p2l_pass_fold_constants(p2l_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || node->noutputs != 1) continue;
        bool all_const = node->ninputs > 0;
        for (int i = 0; i < node->ninputs && all_const; i++) all_const = p2l_is_const(g, node->inputs[i]);
        if (!all_const) continue;
        bool folded = false;
        switch (node->op) {
        case P2L_OP_RESHAPE: folded = fold_reshape(g, (int)n); break;
        case P2L_OP_TRANSPOSE: folded = fold_transpose(g, (int)n); break;
        case P2L_OP_PAD: case P2L_OP_PADV2: folded = fold_pad(g, (int)n); break;
        case P2L_OP_STRIDED_SLICE: folded = fold_strided_slice(g, (int)n); break;
        case P2L_OP_BROADCAST_TO: folded = fold_broadcast_to(g, (int)n); break;
        case P2L_OP_GATHER: folded = fold_gather(g, (int)n); break;
        case P2L_OP_MEAN: case P2L_OP_SUM: folded = fold_reduce(g, (int)n); break;
        case P2L_OP_CONCATENATION: folded = fold_concatenation(g, (int)n); break;
        case P2L_OP_CUMSUM: folded = fold_cumsum(g, (int)n); break;
        default: {
            p2l_status s = P2L_OK;
            folded = fold_elementwise(g, (int)n, &s);
            P2L_TRY(s);
            break;
        }
        }
        *changed = *changed || folded;
    }
    return P2L_OK;
}

/* Constant folding: ops whose inputs are all constants become constants (TRANSPOSE, RESHAPE,
 * CAST of weights and shapes), so no weight is ever moved at run time; and element-wise ops over
 * constants (arithmetic, comparisons, rounding, SELECT_V2) are evaluated here, so index
 * arithmetic that decompositions leave behind (iota, abs, clamp, floor_mod -> GATHER indices) and
 * coordinates computed from constants arrive in the file as one constant. PAD/PADV2, STRIDED_SLICE,
 * BROADCAST_TO, GATHER, CONCATENATION and CUMSUM of constants are folded too (padded iotas, slices
 * of constant operands, attention masks and the position ids they come from, position
 * embeddings), and MEAN/SUM of float constants (conv filters that weight standardization or weight
 * norm compute from parameters).
 *
 * This file only decides what folds: the values come from the runtime's reference kernels
 * (p2l_evaluate), so a folded constant is what pt2lite computes for the op at run time. The decision
 * leaves an op to run whenever that is not certain to be what LiteRT computes too, or what PyTorch
 * computed: int32 arithmetic whose exact (int64) result does not fit int32 (torch computes those
 * int64 values exactly, the model would wrap them: an error for binary ops), a zero divisor in a
 * float FLOOR_DIV/FLOOR_MOD, a value that a CAST to an integer cannot hold (C leaves it undefined;
 * the runtimes differ), a fused activation, dtypes other than float32, int32 and bool (8-bit
 * integers too for CAST), a float CUMSUM (its summation order need not be PyTorch's). Where
 * PyTorch and LiteRT disagree and pt2lite's kernel follows PyTorch, the fold does too: a NaN operand
 * of float MAXIMUM/MINIMUM gives NaN (LiteRT's std::max/std::min would give the other operand).
 * Outputs above FOLD_MAX_BYTES (or above the largest input, when that is larger, for element-wise
 * ops) are not folded: a broadcast can turn small constants into a large one that would bloat the
 * file. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "passes/passes.h"

/* Turns node n's output into a constant with `data` (owned unless borrowed) and kills n. */
static void become_constant(p2l_ir_graph *g, int n, const void *data, bool owned, size_t nbytes) {
    p2l_ir_node *node = &g->nodes.items[n];
    p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    out->data = data;
    out->owned = owned ? (void *)data : NULL;
    out->nbytes = nbytes;
    out->producer = -1;
    node->dead = true;
}

static bool fold_reshape(p2l_ir_graph *g, int n) {
    p2l_ir_node *node = &g->nodes.items[n];
    const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    if (p2l_ir_tensor_numel(out) < 0 || p2l_ir_tensor_bytes(out) != in->nbytes) return false;
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

/* The largest constant a fold may create (TRANSPOSE and RESHAPE excepted: they rearrange weights). */
enum { FOLD_MAX_BYTES = 4 << 20 };

/* ------------------------------------------------------------ evaluation */

/* A constant as an input of p2l_evaluate; false for a dim the runtime cannot hold. */
static bool eval_input(const p2l_ir_tensor *t, p2l_eval_tensor *v) {
    *v = (p2l_eval_tensor){.dtype = t->dtype, .rank = t->rank, .data = (void *)t->data};
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 0 || t->dims[d] > INT32_MAX) return false;
        v->dims[d] = (int32_t)t->dims[d];
    }
    return true;
}

/* A copy of an int32 constant as int64 (p2l_alloc'd), for `exact` below. */
static int64_t *widen_int32(const p2l_ir_tensor *t, int64_t count) {
    int64_t *wide = p2l_alloc(count ? (size_t)count * sizeof *wide : 1);
    for (int64_t i = 0; wide && i < count; i++) {
        int32_t v;
        memcpy(&v, (const int32_t *)t->data + i, sizeof v);
        wide[i] = v;
    }
    return wide;
}

/* Node n's output computed from its constant inputs by the op's reference kernel, in p2l_alloc'd
 * memory of the output's declared dtype and shape; NULL when the op is left to run: the declared
 * size is unknown or above `limit`, or the kernel refuses the node (then it fails at run time too,
 * with the runtime's message), or it computes another shape than the declared one. With `exact`,
 * int32 inputs and output are computed as int64, where int32 operands cannot overflow; the result
 * stays int64 (see narrow_to_int32). */
static void *evaluate_node(const p2l_ir_graph *g, const p2l_ir_node *node, uint64_t limit, bool exact) {
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const int64_t numel = p2l_ir_tensor_numel(out);
    const size_t esize = p2l_dtype_size(out->dtype);
    if (numel < 0 || !esize || (uint64_t)numel * esize > limit) return NULL;
    const int count = node->ninputs;
    p2l_eval_tensor result, *values = p2l_alloc_zero((size_t)count * sizeof *values + 1);
    const p2l_eval_tensor **inputs = p2l_alloc_zero((size_t)count * sizeof *inputs + 1);
    bool *widened = p2l_alloc_zero((size_t)count + 1);
    bool ok = values && inputs && widened && eval_input(out, &result);
    result.dtype = exact && out->dtype == P2L_INT32 ? P2L_INT64 : out->dtype;
    result.data = NULL;
    for (int i = 0; i < count && ok; i++) {
        if (node->inputs[i] < 0) continue;
        const p2l_ir_tensor *t = &g->tensors.items[node->inputs[i]];
        ok = eval_input(t, &values[i]);
        inputs[i] = &values[i];
        if (ok && exact && t->dtype == P2L_INT32) {
            values[i].dtype = P2L_INT64;
            ok = widened[i] = (values[i].data = widen_int32(t, p2l_ir_tensor_numel(t))) != NULL;
        }
    }
    const p2l_eval_op op = {.op = node->op, .options = node->options};
    if (ok && p2l_evaluate(&op, count, inputs, 1, &result) != P2L_OK) {
        p2l_clear_error(); /* not an error of the conversion: the op stays, and runs */
        ok = false;
    }
    for (int i = 0; widened && i < count; i++)
        if (widened[i]) p2l_release(values[i].data);
    p2l_release(values);
    p2l_release(inputs);
    p2l_release(widened);
    ok = ok && result.rank == out->rank;
    for (int d = 0; d < out->rank && ok; d++) ok = result.dims[d] == out->dims[d];
    if (ok) return result.data;
    p2l_release(result.data); /* NULL unless the kernel computed another shape */
    return NULL;
}

/* `count` int64 values as int32 (p2l_alloc'd), or NULL when one does not fit (or on OOM); releases
 * `wide`. */
static void *narrow_to_int32(void *wide, int64_t count) {
    const bool fits = p2l_first_outside_int32(wide, (size_t)count) == (size_t)count;
    int32_t *narrow = fits ? p2l_alloc(count ? (size_t)count * sizeof *narrow : 1) : NULL;
    for (int64_t i = 0; narrow && i < count; i++) narrow[i] = (int32_t)((const int64_t *)wide)[i];
    p2l_release(wide);
    return narrow;
}

/* Folds node n into the constant evaluate_node computes; with `exact`, only when every int32 value
 * fits int32. */
static bool fold_evaluated(p2l_ir_graph *g, int n, uint64_t limit, bool exact) {
    const p2l_ir_tensor *out = &g->tensors.items[g->nodes.items[n].outputs[0]];
    const int64_t numel = p2l_ir_tensor_numel(out);
    void *data = evaluate_node(g, &g->nodes.items[n], limit, exact);
    if (data && exact && out->dtype == P2L_INT32) data = narrow_to_int32(data, numel);
    if (data) become_constant(g, n, data, true, p2l_ir_tensor_bytes(out));
    return data != NULL;
}

/* ------------------------------------------------------------ element-wise ops */

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

static bool is_comparison(p2l_op op) {
    return op == P2L_OP_EQUAL || op == P2L_OP_NOT_EQUAL || op == P2L_OP_LESS || op == P2L_OP_LESS_EQUAL ||
           op == P2L_OP_GREATER || op == P2L_OP_GREATER_EQUAL;
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

/* Whether the runtimes agree on op over these values (see the top of the file): no zero divisor of
 * a float FLOOR_DIV/FLOOR_MOD, and every value a CAST to an integer converts within the target's
 * range, or, for int32, below it (x86's "integer indefinite" value and Arm's saturation agree on
 * INT32_MIN there: log(0) = -inf cast to an index in T5's position buckets). */
static bool values_have_one_result(p2l_op op, const p2l_ir_tensor *const *in, p2l_dtype out) {
    const bool floor_div = op == P2L_OP_FLOOR_DIV || op == P2L_OP_FLOOR_MOD;
    if (floor_div && in[1]->dtype == P2L_FLOAT32) {
        for (int64_t i = 0; i < p2l_ir_tensor_numel(in[1]); i++)
            if (load_value(in[1], i) == 0) return false;
        return true;
    }
    if (op != P2L_OP_CAST || out == P2L_FLOAT32 || out == P2L_BOOL) return true;
    const double low = out == P2L_INT32 ? INT32_MIN : out == P2L_INT8 ? INT8_MIN : 0;
    const double high = out == P2L_INT32 ? INT32_MAX : out == P2L_INT8 ? INT8_MAX : UINT8_MAX;
    for (int64_t i = 0; i < p2l_ir_tensor_numel(in[0]); i++) {
        const double x = trunc(load_value(in[0], i));
        if (isnan(x) || x > high || (x < low && out != P2L_INT32)) return false;
    }
    return true;
}

/* The largest result worth folding: FOLD_MAX_BYTES, or the largest input when that is larger (a
 * result no larger than a constant already in the file, which it usually replaces: a conv filter
 * computed from its parameter). */
static uint64_t fold_limit(const p2l_ir_graph *g, const p2l_ir_node *node) {
    uint64_t limit = FOLD_MAX_BYTES;
    for (int i = 0; i < node->ninputs; i++)
        if (node->inputs[i] >= 0 && g->tensors.items[node->inputs[i]].nbytes > limit)
            limit = g->tensors.items[node->inputs[i]].nbytes;
    return limit;
}

/* The element of constant t that output element e of a broadcasting op reads (numpy rules). */
static int64_t broadcast_source(const p2l_ir_tensor *t, const p2l_ir_tensor *out, int64_t e) {
    int64_t src = 0, stride = 1;
    for (int d = out->rank - 1, k = t->rank - 1; d >= 0 && k >= 0; d--, k--) {
        if (t->dims[k] != 1) src += e % out->dims[d] * stride;
        stride *= t->dims[k];
        e /= out->dims[d];
    }
    return src;
}

/* Folds element-wise node n over its constant inputs. */
static bool fold_elementwise(p2l_ir_graph *g, int n, p2l_status *status) {
    p2l_ir_node *node = &g->nodes.items[n];
    int arity = elementwise_arity(node->op);
    if (!arity || node->ninputs != arity) return false;
    /* a fused activation clamps the result afterwards: leave those to run */
    if ((node->op == P2L_OP_ADD || node->op == P2L_OP_SUB || node->op == P2L_OP_MUL || node->op == P2L_OP_DIV) &&
        p2l_get_option(g, n, "fused_activation_function") != 0)
        return false;
    const p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
    const p2l_ir_tensor *in[3];
    for (int i = 0; i < arity; i++) in[i] = &g->tensors.items[node->inputs[i]];
    if (!dtypes_agree(node->op, in, arity, out->dtype) || !values_have_one_result(node->op, in, out->dtype))
        return false;
    /* int32 arithmetic: computed exactly, folded when the result fits int32 */
    const bool exact = out->dtype == P2L_INT32 && in[0]->dtype == P2L_INT32 && node->op != P2L_OP_CAST &&
                       node->op != P2L_OP_SELECT_V2;
    void *data = evaluate_node(g, node, fold_limit(g, node), exact);
    if (!data) return false;
    const int64_t numel = p2l_ir_tensor_numel(out);
    const int64_t bad = exact ? (int64_t)p2l_first_outside_int32(data, (size_t)numel) : numel;
    if (bad < numel && arity == 2) {
        const int64_t x = (int64_t)load_value(in[0], broadcast_source(in[0], out, bad));
        const int64_t y = (int64_t)load_value(in[1], broadcast_source(in[1], out, bad));
        *status = p2l_fail(P2L_ERROR_UNSUPPORTED,
                           "%s: %s of the constants %lld and %lld is %lld, which does not fit int32 "
                           "(pt2lite computes int64 values as int32)",
                           node->origin ? node->origin : "a node", p2l_op_info_of(node->op)->name, (long long)x,
                           (long long)y, (long long)((const int64_t *)data)[bad]);
        p2l_release(data);
        return false;
    }
    if (exact && !(data = narrow_to_int32(data, numel))) return false;
    become_constant(g, n, data, true, p2l_ir_tensor_bytes(out));
    return true;
}

p2l_status p2l_pass_fold_constants(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || node->noutputs != 1) continue;
        bool all_const = node->ninputs > 0;
        for (int i = 0; i < node->ninputs && all_const; i++) all_const = p2l_is_const(g, node->inputs[i]);
        if (!all_const) continue;
        const p2l_ir_tensor *in0 = &g->tensors.items[node->inputs[0]], *out = &g->tensors.items[node->outputs[0]];
        bool folded = false;
        switch (node->op) {
        case P2L_OP_RESHAPE: folded = fold_reshape(g, (int)n); break;
        case P2L_OP_TRANSPOSE: folded = fold_evaluated(g, (int)n, UINT64_MAX, false); break;
        case P2L_OP_PAD: case P2L_OP_PADV2: case P2L_OP_STRIDED_SLICE: case P2L_OP_BROADCAST_TO: case P2L_OP_GATHER:
            folded = fold_evaluated(g, (int)n, FOLD_MAX_BYTES, false);
            break;
        case P2L_OP_CONCATENATION: /* see fold_elementwise on fused activations */
            folded = !p2l_get_option(g, (int)n, "fused_activation_function") &&
                     fold_evaluated(g, (int)n, FOLD_MAX_BYTES, false);
            break;
        case P2L_OP_MEAN: case P2L_OP_SUM: /* float only, and not of nothing (weight standardization and weight
                                            * norm compute conv filters from parameters this way) */
            folded = in0->dtype == P2L_FLOAT32 && p2l_ir_tensor_numel(in0) > 0 && p2l_ir_tensor_numel(out) > 0 &&
                     fold_evaluated(g, (int)n, FOLD_MAX_BYTES, false);
            break;
        case P2L_OP_CUMSUM: /* int32 only (a float sum's order need not be PyTorch's) */
            folded = in0->dtype == P2L_INT32 && out->dtype == P2L_INT32 && fold_evaluated(g, (int)n, FOLD_MAX_BYTES, true);
            break;
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

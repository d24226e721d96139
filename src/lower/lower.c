/* The lowering driver and the helpers lowering functions share (layouts, constants, emission). */
#include "lower/lower.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const p2l_lowering lowering_table[] = {
#define L(target, fn, ops) {target, fn, ops, NULL},
#define R(target, ops, reason) {target, NULL, ops, reason},
#include "lower/lowerings.def"
#undef L
#undef R
};
enum { LOWERING_COUNT = sizeof lowering_table / sizeof lowering_table[0] };

const p2l_lowering *p2l_find_lowering(const char *target) {
    for (int i = 0; i < LOWERING_COUNT; i++)
        if (strcmp(lowering_table[i].target, target) == 0) return &lowering_table[i];
    return NULL;
}

const p2l_lowering *p2l_lowering_at(int i) { return i >= 0 && i < LOWERING_COUNT ? &lowering_table[i] : NULL; }

/* One IR tensor holding a value in one physical layout. */
struct p2l_lowered {
    int tensor;
    p2l_layout layout;
    p2l_lowered *next;
};

/* ------------------------------------------------------------ layouts */

p2l_layout p2l_identity_layout(void) {
    p2l_layout l;
    for (int i = 0; i < P2L_MAX_DIMS; i++) l.perm[i] = (int8_t)i;
    return l;
}

p2l_layout p2l_channels_last_layout(int rank) {
    p2l_layout l = p2l_identity_layout();
    if (rank >= 3) {
        for (int i = 1; i < rank - 1; i++) l.perm[i] = (int8_t)(i + 1);
        l.perm[rank - 1] = 1;
    }
    return l;
}

bool p2l_layout_is_identity(const p2l_layout *l, int rank) {
    for (int i = 0; i < rank; i++)
        if (l->perm[i] != i) return false;
    return true;
}

static bool layout_equal(const p2l_layout *a, const p2l_layout *b, int rank) {
    return memcmp(a->perm, b->perm, (size_t)rank) == 0;
}

int p2l_physical_axis(const p2l_layout *layout, int rank, int axis) {
    for (int i = 0; i < rank; i++)
        if (layout->perm[i] == axis) return i;
    return -1;
}

int p2l_norm_dim(int64_t dim, int rank) {
    if (dim < 0) dim += rank;
    return dim >= 0 && dim < (rank ? rank : 1) ? (int)dim : -1;
}

/* ------------------------------------------------------------ errors */

p2l_status p2l_unsupported(p2l_lower_ctx *ctx, const char *fmt, ...) {
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    ctx->error_count++;
    p2l_buf_printf(&ctx->errors, "  %s: %s\n", ctx->origin, reason);
    return P2L_ERROR_UNSUPPORTED;
}

/* ------------------------------------------------------------ arguments */

const p2l_arg *p2l_arg_of(p2l_lower_ctx *ctx, const char *name) {
    const p2l_arg *a = p2l_node_arg(ctx->node, name);
    static const p2l_arg none = {.kind = P2L_ARG_NONE};
    return a ? a : &none;
}

const p2l_value *p2l_value_of(p2l_lower_ctx *ctx, const char *name) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    return a->kind == P2L_ARG_TENSOR ? &ctx->ep->values.items[a->i] : NULL;
}

const p2l_value *p2l_output_value(p2l_lower_ctx *ctx, int index) {
    if (index >= ctx->node->noutputs || ctx->node->outputs[index] < 0) return NULL;
    return &ctx->ep->values.items[ctx->node->outputs[index]];
}

p2l_dtype p2l_ir_dtype(p2l_dtype d) {
    if (d == P2L_INT64) return P2L_INT32;
    if (d == P2L_FLOAT64) return P2L_FLOAT32;
    return d;
}

/* ------------------------------------------------------------ tensors and nodes */

/* What helper tensors are named after: the node being lowered, or the model output being laid out. */
static const char *name_base(const p2l_lower_ctx *ctx) {
    return ctx->node ? ctx->node->name : ctx->naming ? ctx->naming : "model";
}

/* "<module path>/<value>/<suffix>", the module path with '/' for '.' (layer1/0/conv1/convolution): '/'
 * is the scope separator of Model Explorer's .tflite adapter, so each module becomes one collapsible
 * group nested in its parent's (a module's own name never holds a '.', so the mapping is exact). */
static const char *tensor_name(p2l_lower_ctx *ctx, const char *value_name, const char *suffix) {
    const char *path = ctx->node && *ctx->node->module_path ? ctx->node->module_path : NULL;
    char *name = p2l_arena_printf(ctx->g->arena, "%s%s%s%s%s", path ? path : "", path ? "/" : "", value_name,
                                  suffix ? "/" : "", suffix ? suffix : "");
    for (size_t i = 0, n = path && name ? strlen(path) : 0; i < n; i++)
        if (name[i] == '.') name[i] = '/';
    return name;
}

const char *p2l_node_tensor_name(p2l_lower_ctx *ctx, const char *suffix) {
    return tensor_name(ctx, name_base(ctx), suffix);
}

int p2l_temp(p2l_lower_ctx *ctx, const char *suffix, p2l_dtype dtype, int rank, const int64_t *dims) {
    return p2l_add_tensor(ctx->g, tensor_name(ctx, name_base(ctx), suffix), dtype, rank, dims);
}

int p2l_temp_like(p2l_lower_ctx *ctx, const char *suffix, int like) {
    const p2l_ir_tensor t = ctx->g->tensors.items[like];
    return p2l_temp(ctx, suffix, t.dtype, t.rank, t.dims);
}

int p2l_emit(p2l_lower_ctx *ctx, p2l_op op, int ninputs, const int *inputs, int noutputs, const int *outputs) {
    for (int i = 0; i < noutputs; i++)
        if (outputs[i] < 0) return -1;
    for (int i = 0; i < ninputs; i++)
        if (inputs[i] < -1) return -1;
    return p2l_add_node(ctx->g, op, ninputs, inputs, noutputs, outputs, ctx->origin);
}

int p2l_emit1(p2l_lower_ctx *ctx, p2l_op op, int input, int output) {
    return input < 0 ? -1 : p2l_emit(ctx, op, 1, &input, 1, &output);
}

static p2l_status remember(p2l_lower_ctx *ctx, int value_id, int tensor, const p2l_layout *layout) {
    p2l_lowered *m = p2l_arena_alloc(ctx->g->arena, sizeof *m);
    if (!m) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    m->tensor = tensor;
    m->layout = layout ? *layout : p2l_identity_layout();
    /* append: the first materialization stays the preferred one */
    p2l_lowered **tail = &ctx->values[value_id];
    while (*tail) tail = &(*tail)->next;
    *tail = m;
    return P2L_OK;
}

int p2l_output(p2l_lower_ctx *ctx, int index, const p2l_layout *layout) {
    const p2l_value *v = p2l_output_value(ctx, index);
    if (!v) return -1;
    p2l_layout l = layout ? *layout : p2l_identity_layout();
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < v->rank; i++) {
        /* A hostile archive can give an output another rank than its input, whose layout it inherits
         * (or a caller can pass the layout of an input that failed to lower): never index with it. */
        if (l.perm[i] < 0 || l.perm[i] >= v->rank) {
            p2l_unsupported(ctx, "output %d (%s) has rank %d, which does not match its input's layout", index,
                            v->name, v->rank);
            return -1;
        }
        dims[i] = v->dims[l.perm[i]];
    }
    int t = p2l_add_tensor(ctx->g, tensor_name(ctx, v->name, NULL), p2l_ir_dtype(v->dtype), v->rank, dims);
    if (t < 0 || remember(ctx, ctx->node->outputs[index], t, &l) != P2L_OK) return -1;
    return t;
}

p2l_status p2l_bind_value(p2l_lower_ctx *ctx, int value_id, int tensor) { return remember(ctx, value_id, tensor, NULL); }

p2l_status p2l_alias_output(p2l_lower_ctx *ctx, int index, int tensor, const p2l_layout *layout) {
    if (tensor < 0 || index >= ctx->node->noutputs || ctx->node->outputs[index] < 0) return P2L_OK;
    return remember(ctx, ctx->node->outputs[index], tensor, layout);
}

int p2l_reshape(p2l_lower_ctx *ctx, int tensor, int rank, const int64_t *dims) {
    if (tensor < 0) return -1;
    int32_t shape[P2L_MAX_DIMS];
    int unknown = 0;
    for (int i = 0; i < rank; i++) shape[i] = (int32_t)dims[i], unknown += dims[i] < 0;
    int64_t n = rank;
    int shape_t = unknown > 1 ? p2l_unit_reshape_shape(ctx, tensor, rank, dims) /* RESHAPE takes one -1 */
                              : p2l_add_const_i32(ctx->g, tensor_name(ctx, name_base(ctx), "shape"), 1, &n, shape);
    if (shape_t < 0) return -1;
    int out = p2l_temp(ctx, "reshape", ctx->g->tensors.items[tensor].dtype, rank, dims);
    int ins[2] = {tensor, shape_t};
    return p2l_emit(ctx, P2L_OP_RESHAPE, 2, ins, 1, &out) < 0 ? -1 : out;
}

int p2l_transpose(p2l_lower_ctx *ctx, int tensor, const int8_t *perm) {
    if (tensor < 0) return -1;
    const p2l_ir_tensor t = ctx->g->tensors.items[tensor];
    int rank = t.rank;
    int64_t dims[P2L_MAX_DIMS];
    int32_t p32[P2L_MAX_DIMS];
    bool identity = true;
    for (int i = 0; i < rank; i++) {
        if (perm[i] < 0 || perm[i] >= rank) { /* a layout of another rank (hostile shapes) */
            p2l_unsupported(ctx, "tensor %s has rank %d, which does not match its layout", t.name ? t.name : "", rank);
            return -1;
        }
        dims[i] = t.dims[perm[i]];
        p32[i] = perm[i];
        identity = identity && perm[i] == i;
    }
    if (identity) return tensor;
    /* Moving only size-1 axes leaves the bytes in place: a RESHAPE, which costs nothing. */
    int last = -1;
    bool only_ones = true;
    for (int i = 0; i < rank && only_ones; i++) {
        if (t.dims[perm[i]] == 1) continue;
        only_ones = perm[i] > last;
        last = perm[i];
    }
    bool static_shape = p2l_ir_tensor_numel(&t) >= 0;
    if (only_ones && static_shape) return p2l_reshape(ctx, tensor, rank, dims);
    int64_t n = rank;
    int perm_t = p2l_add_const_i32(ctx->g, tensor_name(ctx, name_base(ctx), "perm"), 1, &n, p32);
    int out = p2l_temp(ctx, "transpose", t.dtype, rank, dims);
    int ins[2] = {tensor, perm_t};
    return p2l_emit(ctx, P2L_OP_TRANSPOSE, 2, ins, 1, &out) < 0 ? -1 : out;
}

/* ------------------------------------------------------------ narrowing */

bool p2l_fits_dtype(p2l_lower_ctx *ctx, p2l_dtype dtype, double value, const char *what) {
    double low, high;
    switch (dtype) {
    case P2L_INT32: low = INT32_MIN, high = INT32_MAX; break;
    case P2L_INT16: low = INT16_MIN, high = INT16_MAX; break;
    case P2L_INT8: low = INT8_MIN, high = INT8_MAX; break;
    case P2L_UINT8: low = 0, high = UINT8_MAX; break;
    default: return true; /* floats round, bools test != 0 */
    }
    if (!isnan(value) && trunc(value) >= low && trunc(value) <= high) return true;
    p2l_unsupported(ctx, "%s %.17g does not fit %s%s", what, value, p2l_dtype_name(dtype),
                    dtype == P2L_INT32 ? " (pt2lite computes int64 values as int32)" : "");
    return false;
}

bool p2l_narrow_i32(p2l_lower_ctx *ctx, int64_t value, const char *what, int32_t *out) {
    if (value < INT32_MIN || value > INT32_MAX) {
        p2l_unsupported(ctx, "%s %lld does not fit int32 (pt2lite computes int64 values as int32)", what,
                        (long long)value);
        return false;
    }
    *out = (int32_t)value;
    return true;
}

/* ------------------------------------------------------------ constants */

int p2l_const_scalar(p2l_lower_ctx *ctx, p2l_dtype dtype, double value) {
    union {
        float f;
        int32_t i;
        uint8_t b;
        uint16_t h;
    } v;
    if (dtype != P2L_BOOL && !p2l_fits_dtype(ctx, dtype, value, "the scalar")) return -1;
    switch (dtype) {
    case P2L_FLOAT32: v.f = (float)value; break;
    case P2L_INT32: v.i = (int32_t)value; break;
    case P2L_BOOL: v.b = value != 0; break;
    case P2L_UINT8: v.b = (uint8_t)value; break;
    default:
        p2l_unsupported(ctx, "a scalar of dtype %s", p2l_dtype_name(dtype));
        return -1;
    }
    size_t size = p2l_dtype_size(dtype);
    void *data = p2l_alloc(size);
    if (!data) return -1;
    memcpy(data, &v, size);
    return p2l_add_const(ctx->g, tensor_name(ctx, name_base(ctx), "scalar"), dtype, 0, NULL,
                         data, true);
}

int p2l_const_i32(p2l_lower_ctx *ctx, int n, const int32_t *values) {
    int64_t dims = n;
    return p2l_add_const_i32(ctx->g, tensor_name(ctx, name_base(ctx), "values"), 1, &dims, values);
}

int p2l_const_f32(p2l_lower_ctx *ctx, int rank, const int64_t *dims, const float *values) {
    return p2l_add_const_f32(ctx->g, tensor_name(ctx, name_base(ctx), "values"), rank, dims,
                             values);
}

/* Converts element i of a typed buffer to double / writes a double as a dtype. */
double p2l_load_element(const void *data, p2l_dtype dtype, size_t i) {
    switch (dtype) {
    case P2L_FLOAT32: { float f; memcpy(&f, (const float *)data + i, 4); return f; }
    case P2L_FLOAT64: { double f; memcpy(&f, (const double *)data + i, 8); return f; }
    case P2L_INT32: { int32_t v; memcpy(&v, (const int32_t *)data + i, 4); return v; }
    case P2L_INT64: { int64_t v; memcpy(&v, (const int64_t *)data + i, 8); return (double)v; }
    case P2L_INT16: { int16_t v; memcpy(&v, (const int16_t *)data + i, 2); return v; }
    case P2L_INT8: return ((const int8_t *)data)[i];
    case P2L_UINT8: case P2L_BOOL: return ((const uint8_t *)data)[i];
    default: return 0;
    }
}

int p2l_value_const(p2l_lower_ctx *ctx, int value_id, int rank, const p2l_layout *layout) {
    const p2l_value *v = &ctx->ep->values.items[value_id];
    if (!v->data && v->nbytes) return -1;
    if (v->dtype == (p2l_dtype)-1 || v->dtype == P2L_FLOAT16) {
        p2l_unsupported(ctx, "constant %s has a dtype pt2lite does not convert yet", v->name);
        return -1;
    }
    if (rank < v->rank) rank = v->rank;
    p2l_layout l = layout ? *layout : p2l_identity_layout();
    /* logical dims aligned to `rank` (leading 1s), then the physical order */
    int64_t logical[P2L_MAX_DIMS], dims[P2L_MAX_DIMS];
    int pad = rank - v->rank;
    for (int i = 0; i < rank; i++) logical[i] = i < pad ? 1 : v->dims[i - pad];
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) s *= logical[i];
    for (int i = 0; i < rank; i++) dims[i] = logical[l.perm[i]];
    p2l_dtype out_dtype = p2l_ir_dtype(v->dtype);
    bool same_bytes = out_dtype == v->dtype;
    bool identity = p2l_layout_is_identity(&l, rank);
    const char *name = p2l_arena_strdup(ctx->g->arena, v->name);
    if (same_bytes && identity) /* zero-copy: the archive's bytes go straight to the file */
        return p2l_add_const(ctx->g, name, out_dtype, rank, dims, v->data, false);
    int64_t numel = s;
    size_t esize = p2l_dtype_size(out_dtype);
    uint8_t *out = p2l_alloc(numel ? (size_t)numel * esize : 1);
    const void *src = v->data;
    uint8_t *converted = NULL;
    if (!same_bytes) {
        /* int64 -> int32 (checked), float64 -> float32, then lay out */
        converted = p2l_alloc(numel ? (size_t)numel * esize : 1);
        for (int64_t i = 0; converted && i < numel; i++) {
            double x = p2l_load_element(v->data, v->dtype, (size_t)i);
            if (out_dtype == P2L_INT32 && (x > 2147483647.0 || x < -2147483648.0)) {
                p2l_release(out);
                p2l_release(converted);
                p2l_unsupported(ctx, "int64 constant %s holds %.0f, which does not fit int32", v->name, x);
                return -1;
            }
            int32_t as_int = (int32_t)x;
            float as_float = (float)x;
            memcpy(converted + (size_t)i * 4, out_dtype == P2L_INT32 ? (void *)&as_int : (void *)&as_float, 4);
        }
        src = converted;
    }
    if (!out || (!same_bytes && !converted)) {
        p2l_release(out);
        p2l_release(converted);
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory converting %s", v->name);
        return -1;
    }
    int perm[P2L_MAX_DIMS];
    for (int d = 0; d < rank; d++) perm[d] = l.perm[d];
    p2l_permute_bytes(out, src, esize, rank, logical, perm);
    p2l_release(converted);
    return p2l_add_const(ctx->g, name, out_dtype, rank, dims, out, true);
}

/* ------------------------------------------------------------ inputs */

static const p2l_lowered *find_layout(p2l_lower_ctx *ctx, int value_id, const p2l_layout *want, int rank) {
    for (const p2l_lowered *m = ctx->values[value_id]; m; m = m->next)
        if (layout_equal(&m->layout, want, rank)) return m;
    return NULL;
}

static bool is_weight(const p2l_value *v) {
    return v->kind == P2L_VALUE_PARAMETER || v->kind == P2L_VALUE_BUFFER || v->kind == P2L_VALUE_CONSTANT;
}

int p2l_value_input(p2l_lower_ctx *ctx, int value_id, const p2l_layout *layout) {
    const p2l_value *v = &ctx->ep->values.items[value_id];
    p2l_layout want = layout ? *layout : p2l_identity_layout();
    const p2l_lowered *have = find_layout(ctx, value_id, &want, v->rank);
    if (have) return have->tensor;
    if (is_weight(v)) {
        int t = p2l_value_const(ctx, value_id, v->rank, &want);
        if (t >= 0 && remember(ctx, value_id, t, &want) != P2L_OK) return -1;
        return t;
    }
    const p2l_lowered *first = ctx->values[value_id];
    if (!first) return -1; /* its producer failed to lower; already reported */
    /* physical out[i] = in[t[i]] where in's physical axis t[i] holds logical want[i] */
    int8_t perm[P2L_MAX_DIMS];
    for (int i = 0; i < v->rank; i++) perm[i] = (int8_t)p2l_physical_axis(&first->layout, v->rank, want.perm[i]);
    int t = p2l_transpose(ctx, first->tensor, perm);
    if (t >= 0 && remember(ctx, value_id, t, &want) != P2L_OK) return -1;
    return t;
}

int p2l_value_input_any(p2l_lower_ctx *ctx, int value_id, p2l_layout *layout) {
    const p2l_value *v = &ctx->ep->values.items[value_id];
    const p2l_lowered *first = ctx->values[value_id];
    if (first) {
        if (layout) *layout = first->layout;
        return first->tensor;
    }
    if (layout) *layout = p2l_identity_layout();
    return is_weight(v) ? p2l_value_input(ctx, value_id, NULL) : -1;
}

int p2l_input(p2l_lower_ctx *ctx, const char *name, const p2l_layout *layout) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind != P2L_ARG_TENSOR) {
        p2l_unsupported(ctx, "argument '%s' is not a tensor", name);
        return -1;
    }
    return p2l_value_input(ctx, (int)a->i, layout);
}

int p2l_input_any(p2l_lower_ctx *ctx, const char *name, p2l_layout *layout) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind != P2L_ARG_TENSOR) {
        p2l_unsupported(ctx, "argument '%s' is not a tensor", name);
        return -1;
    }
    return p2l_value_input_any(ctx, (int)a->i, layout);
}

int p2l_input_broadcast(p2l_lower_ctx *ctx, const char *name, int rank, const p2l_layout *layout, p2l_dtype dtype) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind == P2L_ARG_INT || a->kind == P2L_ARG_FLOAT || a->kind == P2L_ARG_BOOL)
        return p2l_const_scalar(ctx, dtype, a->kind == P2L_ARG_FLOAT ? a->f : (double)a->i);
    if (a->kind != P2L_ARG_TENSOR) {
        p2l_unsupported(ctx, "argument '%s' is neither a tensor nor a number", name);
        return -1;
    }
    const p2l_value *v = &ctx->ep->values.items[a->i];
    p2l_layout want = layout ? *layout : p2l_identity_layout();
    if (v->rank == rank || v->rank == 0) {
        if (v->rank == 0) want = p2l_identity_layout();
        return p2l_value_input(ctx, (int)a->i, &want);
    }
    if (is_weight(v)) return p2l_value_const(ctx, (int)a->i, rank, &want);
    /* lower rank: reshape to `rank` with leading 1s (logical), then lay out */
    int t = p2l_value_input(ctx, (int)a->i, NULL);
    if (t < 0) return -1;
    int64_t dims[P2L_MAX_DIMS];
    int pad = rank - v->rank;
    for (int i = 0; i < rank; i++) dims[i] = i < pad ? 1 : v->dims[i - pad];
    t = p2l_reshape(ctx, t, rank, dims);
    return p2l_transpose(ctx, t, want.perm);
}

/* ------------------------------------------------------------ driver */

/* The real status behind a helper's -1 (helpers set it with p2l_fail: out of memory, a limit, an
 * unsupported shape...; p2l_clear_error runs before each step so it is never stale). */
static p2l_status failure_status(const char *where) {
    p2l_status s = p2l_last_status();
    return s != P2L_OK ? s : p2l_fail(P2L_ERROR_INTERNAL, "%s failed without saying why", where);
}

static p2l_status lower_user_inputs(p2l_lower_ctx *ctx) {
    const p2l_exported *ep = ctx->ep;
    for (size_t i = 0; i < ep->user_inputs.len; i++) {
        int id = ep->user_inputs.items[i];
        const p2l_value *v = &ep->values.items[id];
        if (v->dtype == (p2l_dtype)-1)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "input '%s' has a dtype pt2lite does not support", v->name);
        /* int64, float64 and float16 inputs keep their type at the model boundary and are cast inside. */
        p2l_clear_error();
        p2l_dtype boundary = p2l_boundary_dtype(v);
        int t = p2l_add_tensor(ctx->g, v->name, boundary, v->rank, v->dims);
        if (t < 0) return failure_status(v->name);
        if (!p2l_dims_static(v->dims, v->rank)) P2L_TRY(p2l_set_sample_dims(ctx, t, v));
        P2L_TRY(P2L_VEC_PUSH(&ctx->g->inputs, t));
        P2L_TRY(P2L_VEC_PUSH(&ctx->g->input_names, p2l_arena_printf(ctx->g->arena, "args_%zu", i)));
        if (p2l_ir_dtype(v->dtype) != boundary) {
            int cast = p2l_add_tensor(ctx->g, p2l_arena_printf(ctx->g->arena, "%s/cast", v->name), p2l_ir_dtype(v->dtype),
                                      v->rank, v->dims);
            if (p2l_emit1(ctx, P2L_OP_CAST, t, cast) < 0) return failure_status(v->name);
            t = cast;
        }
        P2L_TRY(remember(ctx, id, t, NULL));
    }
    return P2L_OK;
}

static p2l_status lower_user_outputs(p2l_lower_ctx *ctx) {
    const p2l_exported *ep = ctx->ep;
    ctx->node = NULL;
    ctx->origin = "model outputs";
    for (size_t i = 0; i < ep->user_outputs.len; i++) {
        int id = ep->user_outputs.items[i];
        const p2l_value *v = &ep->values.items[id];
        ctx->naming = v->name;
        p2l_clear_error();
        int before = ctx->error_count;
        int t = p2l_value_input(ctx, id, NULL);
        if (t < 0) {
            /* a reason recorded (here or when its producer failed) is reported with the others */
            if (ctx->error_count > before || !ctx->values[id] || p2l_last_status() == P2L_OK) continue;
            return failure_status(v->name);
        }
        p2l_dtype boundary = p2l_boundary_dtype(v);
        if (p2l_ir_dtype(v->dtype) != boundary && boundary != (p2l_dtype)-1) {
            int cast = p2l_add_tensor(ctx->g, p2l_arena_printf(ctx->g->arena, "%s/cast", v->name), boundary, v->rank,
                                      v->dims);
            if (p2l_emit1(ctx, P2L_OP_CAST, t, cast) < 0) return failure_status(v->name);
            t = cast;
        }
        /* A graph input or an output listed twice gets its own tensor: TFLite wants each output
         * produced by an op. */
        bool taken = ctx->g->tensors.items[t].producer < 0;
        for (size_t k = 0; k < ctx->g->outputs.len; k++) taken = taken || ctx->g->outputs.items[k] == t;
        if (taken) {
            const p2l_ir_tensor tt = ctx->g->tensors.items[t];
            int64_t dims[P2L_MAX_DIMS];
            memcpy(dims, tt.dims, sizeof dims);
            t = p2l_reshape(ctx, t, tt.rank, dims);
            if (t < 0) return failure_status(v->name);
        }
        P2L_TRY(P2L_VEC_PUSH(&ctx->g->outputs, t));
        P2L_TRY(P2L_VEC_PUSH(&ctx->g->output_names, p2l_arena_printf(ctx->g->arena, "output_%zu", i)));
    }
    return P2L_OK;
}

/* Whether `target` is an ATen op outside core ATen (the schema table holds every core op; torch.export's
 * other namespaces keep their "torch." / "_operator." prefix). */
static bool is_non_core_aten(const char *target) {
    bool core = false;
    if (!strncmp(target, "torch.", 6) || !strncmp(target, "_operator.", 10)) return false;
    return !p2l_aten_known(target, &core) || !core;
}

/* Whether `target` is one run_decompositions() always rewrites: a known non-core op (conv2d, linear,
 * batch_norm) or an in-place one (relu_, add_). Its presence means the archive was not decomposed. */
static bool needs_decompositions(const char *target) {
    bool core = false;
    const char *dot = strchr(target, '.');
    bool in_place = dot && dot > target + 1 && dot[-1] == '_' && target[0] != '_';
    return is_non_core_aten(target) && (in_place || (p2l_aten_known(target, &core) && !core));
}

/* An archive saved without run_decompositions(): one line with the fix instead of one per node; the
 * nodes it covers (non-core ATen ops without a lowering) are left out of the per-node list. */
static bool report_undecomposed(p2l_lower_ctx *ctx) {
    const p2l_exported *ep = ctx->ep;
    enum { SHOWN = 6 };
    const char *ops[SHOWN];
    int op_counts[SHOWN], distinct = 0, nodes = 0;
    bool undecomposed = false, more = false;
    for (size_t n = 0; n < ep->nodes.len; n++) {
        const char *target = ep->nodes.items[n].target;
        if (p2l_find_lowering(target) || !is_non_core_aten(target)) continue;
        undecomposed = undecomposed || needs_decompositions(target);
        nodes++;
        int k = 0;
        while (k < distinct && strcmp(ops[k], target)) k++;
        if (k == distinct && distinct < SHOWN) ops[distinct] = target, op_counts[distinct++] = 0;
        if (k < distinct) op_counts[k]++;
        else more = true;
    }
    if (!undecomposed) return false;
    ctx->error_count += nodes;
    p2l_buf_printf(&ctx->errors, "  %d node%s use ATen ops outside core ATen (", nodes, nodes == 1 ? "" : "s");
    for (int k = 0; k < distinct; k++)
        p2l_buf_printf(&ctx->errors, "%saten.%s x%d", k ? ", " : "", ops[k], op_counts[k]);
    p2l_buf_printf(&ctx->errors, "%s): the .pt2 was saved without run_decompositions(); call "
                   "ep = ep.run_decompositions() before torch.export.save(ep, path) (pt2lite.convert does both)\n",
                   more ? ", ..." : "");
    return true;
}

/* Lists every node whose op has no lowering, in one message. */
static void report_missing_lowerings(p2l_lower_ctx *ctx) {
    const p2l_exported *ep = ctx->ep;
    char where[1024];
    bool undecomposed = report_undecomposed(ctx);
    for (size_t n = 0; n < ep->nodes.len; n++) {
        const p2l_aten_node *node = &ep->nodes.items[n];
        if (p2l_find_lowering(node->target) || (undecomposed && is_non_core_aten(node->target))) continue;
        ctx->error_count++;
        p2l_buf_printf(&ctx->errors, "  %s: no lowering for aten.%s\n", p2l_node_describe(node, where, sizeof where),
                       node->target);
    }
}

/* After a node fails, its outputs get placeholder tensors so the nodes after it are still lowered
 * and every problem in the model is reported at once (the graph is never written). */
static p2l_status stand_in_outputs(p2l_lower_ctx *ctx) {
    for (int i = 0; i < ctx->node->noutputs; i++) {
        int id = ctx->node->outputs[i];
        if (id < 0 || ctx->values[id]) continue;
        const p2l_value *v = &ctx->ep->values.items[id];
        p2l_clear_error();
        int t = p2l_add_tensor(ctx->g, v->name, p2l_ir_dtype(v->dtype), v->rank, v->dims);
        if (t < 0) return failure_status(v->name);
        P2L_TRY(remember(ctx, id, t, NULL));
    }
    return P2L_OK;
}

/* Records which tensor holds each output of node n (its first materialization), for the debugging
 * map (p2l_ir_origin). */
static p2l_status record_origins(p2l_lower_ctx *ctx, int n) {
    const p2l_aten_node *node = &ctx->ep->nodes.items[n];
    for (int k = 0; k < node->noutputs; k++) {
        const p2l_lowered *m = node->outputs[k] >= 0 ? ctx->values[node->outputs[k]] : NULL;
        if (!m) continue;
        p2l_ir_origin origin = {.tensor = m->tensor, .aten_node = n, .aten_output = k};
        memcpy(origin.perm, m->layout.perm, sizeof origin.perm);
        P2L_TRY(P2L_VEC_PUSH(&ctx->g->origins, origin));
    }
    return P2L_OK;
}

p2l_status p2l_lower(p2l_exported *ep, p2l_ir_graph *g) {
    P2L_TRY(p2l_lower_float_dtypes(ep));
    p2l_lower_ctx ctx = {.ep = ep, .g = g};
    ctx.values = p2l_alloc_zero(sizeof(p2l_lowered *) * (ep->values.len + 1));
    if (!ctx.values) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    p2l_status s = lower_user_inputs(&ctx);
    if (s == P2L_OK) s = p2l_lower_state_reads(&ctx);
    report_missing_lowerings(&ctx);
    char where[1024];
    for (size_t n = 0; s == P2L_OK && n < ep->nodes.len; n++) {
        const p2l_aten_node *node = &ep->nodes.items[n];
        const p2l_lowering *lw = p2l_find_lowering(node->target);
        if (!lw) continue;
        /* skip nodes downstream of a failure: their inputs do not exist */
        bool inputs_ready = true;
        for (int a = 0; a < node->nargs; a++) {
            const p2l_arg *arg = &node->args[a];
            if (arg->kind == P2L_ARG_TENSOR && !ctx.values[arg->i] && !is_weight(&ep->values.items[arg->i]))
                inputs_ready = false;
            for (int k = 0; arg->kind == P2L_ARG_TENSORS && k < arg->count; k++)
                if (arg->ints[k] >= 0 && !ctx.values[arg->ints[k]] && !is_weight(&ep->values.items[arg->ints[k]]))
                    inputs_ready = false;
        }
        if (!inputs_ready) continue;
        ctx.node = node;
        ctx.origin = p2l_arena_strdup(g->arena, p2l_node_describe(node, where, sizeof where));
        int before = ctx.error_count;
        p2l_clear_error();
        p2l_status ls = lw->refusal ? p2l_unsupported(&ctx, "%s", lw->refusal) : lw->fn(&ctx, node);
        /* Lowerings end with p2l_emitted(-1) == UNSUPPORTED whatever made a helper fail: a failure
         * other than "unsupported" (out of memory, a limit) is the real status. */
        p2l_status cause = p2l_last_status();
        if (ls == P2L_ERROR_UNSUPPORTED && cause != P2L_OK && cause != P2L_ERROR_UNSUPPORTED) ls = cause;
        if (ls == P2L_ERROR_UNSUPPORTED && ctx.error_count == before)
            p2l_unsupported(&ctx, "%s", p2l_last_error());
        else if (ls != P2L_OK && ls != P2L_ERROR_UNSUPPORTED)
            s = p2l_fail_context(ls, "lowering %s", ctx.origin);
        if (ls == P2L_ERROR_UNSUPPORTED) s = stand_in_outputs(&ctx);
        else if (ls == P2L_OK) s = record_origins(&ctx, (int)n);
    }
    if (s == P2L_OK) s = lower_user_outputs(&ctx);
    if (s == P2L_OK) s = p2l_lower_state_writes(&ctx);
    if (s == P2L_OK && ctx.error_count) {
        s = p2l_fail(P2L_ERROR_UNSUPPORTED, "%d node%s of the model cannot be converted:\n%s", ctx.error_count,
                     ctx.error_count == 1 ? "" : "s", ctx.errors.data ? (char *)ctx.errors.data : "");
    }
    p2l_buf_free(&ctx.errors);
    p2l_strmap_free(&ctx.sym_tensors);
    p2l_release(ctx.values);
    return s;
}

/* ------------------------------------------------------------ small helpers for lowerings */

double p2l_arg_number(p2l_lower_ctx *ctx, const char *name, double fallback) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind == P2L_ARG_FLOAT) return a->f;
    if (a->kind == P2L_ARG_INT || a->kind == P2L_ARG_BOOL) return (double)a->i;
    return fallback;
}

bool p2l_value_is_constant(const p2l_value *v) { return is_weight(v); }

p2l_status p2l_emitted(int index) { return index < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK; }

/* ------------------------------------------------------------ small emission helpers */

int p2l_cast(p2l_lower_ctx *ctx, int t, p2l_dtype dtype) {
    if (t < 0) return -1;
    const p2l_ir_tensor tt = ctx->g->tensors.items[t];
    if (tt.dtype == dtype) return t;
    int out = p2l_temp(ctx, "cast", dtype, tt.rank, tt.dims);
    int n = p2l_emit1(ctx, P2L_OP_CAST, t, out);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "in_data_type", tt.dtype);
    p2l_set_option(ctx->g, n, "out_data_type", dtype);
    return out;
}

int p2l_binary(p2l_lower_ctx *ctx, p2l_op op, int a, int b, p2l_dtype dtype) {
    if (a < 0 || b < 0) return -1;
    const p2l_ir_tensor ta = ctx->g->tensors.items[a], tb = ctx->g->tensors.items[b];
    int rank = ta.rank > tb.rank ? ta.rank : tb.rank;
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - ta.rank), ib = i - (rank - tb.rank);
        int64_t da = ia >= 0 ? ta.dims[ia] : 1, db = ib >= 0 ? tb.dims[ib] : 1;
        dims[i] = da == 1 ? db : db == 1 ? da : da < 0 ? db : da;
    }
    int out = p2l_temp(ctx, p2l_op_info_of(op)->name, dtype, rank, dims);
    int ins[2] = {a, b};
    return p2l_emit(ctx, op, 2, ins, 1, &out) < 0 ? -1 : out;
}

int p2l_unary(p2l_lower_ctx *ctx, p2l_op op, int x) {
    if (x < 0) return -1;
    int out = p2l_temp_like(ctx, p2l_op_info_of(op)->name, x);
    return p2l_emit1(ctx, op, x, out) < 0 ? -1 : out;
}

int p2l_reduce(p2l_lower_ctx *ctx, p2l_op op, int x, unsigned axes, bool keep_dims) {
    if (x < 0) return -1;
    const p2l_ir_tensor tx = ctx->g->tensors.items[x];
    int32_t list[P2L_MAX_DIMS];
    int64_t dims[P2L_MAX_DIMS];
    int n = 0, rank = 0;
    for (int i = 0; i < tx.rank; i++) {
        if (axes & (1u << i)) {
            list[n++] = i;
            if (keep_dims) dims[rank++] = 1;
        } else {
            dims[rank++] = tx.dims[i];
        }
    }
    int out = p2l_temp(ctx, p2l_op_info_of(op)->name, tx.dtype, rank, dims);
    int ins[2] = {x, p2l_const_i32(ctx, n, list)};
    int node = p2l_emit(ctx, op, 2, ins, 1, &out);
    if (node < 0) return -1;
    p2l_set_option(ctx->g, node, "keep_dims", keep_dims);
    return out;
}

p2l_layout p2l_layout_without_axes(const p2l_layout *l, int rank, const bool *removed) {
    int shift[P2L_MAX_DIMS], dropped = 0;
    for (int i = 0; i < rank; i++) {
        shift[i] = dropped;
        dropped += removed[i];
    }
    p2l_layout out = p2l_identity_layout();
    int n = 0;
    for (int i = 0; i < rank; i++)
        if (!removed[l->perm[i]]) out.perm[n++] = (int8_t)(l->perm[i] - shift[l->perm[i]]);
    return out;
}

/* ------------------------------------------------------------ operands of element-wise compositions */

p2l_layout p2l_operands_layout(p2l_lower_ctx *ctx, const char *const *names, int count, int rank) {
    for (int i = 0; i < count; i++) {
        const p2l_value *v = p2l_value_of(ctx, names[i]);
        if (!v || v->rank != rank || is_weight(v)) continue;
        p2l_layout l;
        if (p2l_input_any(ctx, names[i], &l) >= 0) return l;
    }
    return p2l_identity_layout();
}

int p2l_operand(p2l_lower_ctx *ctx, const char *name, int rank, const p2l_layout *layout, p2l_dtype dtype) {
    return p2l_cast(ctx, p2l_input_broadcast(ctx, name, rank, layout, dtype), dtype);
}

bool p2l_binary_operands(p2l_lower_ctx *ctx, const char *a, const char *b, p2l_dtype dtype, p2l_operands *o) {
    const p2l_value *out = p2l_output_value(ctx, 0);
    if (!out) return false;
    const char *names[2] = {a, b};
    o->rank = out->rank;
    o->layout = p2l_operands_layout(ctx, names, 2, out->rank);
    o->a = p2l_operand(ctx, a, out->rank, &o->layout, dtype);
    o->b = p2l_operand(ctx, b, out->rank, &o->layout, dtype);
    return o->a >= 0 && o->b >= 0;
}

p2l_status p2l_set_output(p2l_lower_ctx *ctx, int index, int tensor, const p2l_layout *layout) {
    const p2l_value *v = p2l_output_value(ctx, index);
    if (tensor < 0) return P2L_ERROR_UNSUPPORTED;
    if (!v) return P2L_OK;
    p2l_ir_tensor *t = &ctx->g->tensors.items[tensor];
    int producer = t->producer;
    if (producer >= 0 && ctx->g->nodes.items[producer].origin == ctx->origin)
        t->name = tensor_name(ctx, v->name, NULL);
    return p2l_alias_output(ctx, index, tensor, layout);
}

/* Pads the spatial axes of NHWC tensor x: zeros (PAD) or `value` (PADV2). */
int p2l_pad_spatial(p2l_lower_ctx *ctx, int x, const int64_t before[2], const int64_t after[2], float value) {
    if (x < 0) return -1;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int32_t pads[8] = {0, 0, (int32_t)before[0], (int32_t)after[0], (int32_t)before[1], (int32_t)after[1], 0, 0};
    int64_t pad_dims[2] = {4, 2};
    int64_t dims[4] = {xt.dims[0], xt.dims[1] < 0 ? -1 : xt.dims[1] + before[0] + after[0],
                       xt.dims[2] < 0 ? -1 : xt.dims[2] + before[1] + after[1], xt.dims[3]};
    int ins[3] = {x, p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "paddings"), 2,
                                       pad_dims, pads),
                  value == 0 ? -1 : p2l_const_scalar(ctx, P2L_FLOAT32, value)};
    int out = p2l_temp(ctx, "pad", xt.dtype, 4, dims);
    if (p2l_emit(ctx, value == 0 ? P2L_OP_PAD : P2L_OP_PADV2, value == 0 ? 2 : 3, ins, 1, &out) < 0) return -1;
    return out;
}

/* ------------------------------------------------------------ dims, gathers, logical outputs */

bool p2l_dims_static(const int64_t *dims, int rank) {
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0) return false;
    return true;
}

int64_t p2l_dims_numel(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n = dims[i] < 0 || n < 0 ? -1 : n * dims[i];
    return n;
}

int p2l_const_indices(p2l_lower_ctx *ctx, int rank, const int64_t *dims, const int32_t *values) {
    return p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "indices"), rank, dims, values);
}

int p2l_gather(p2l_lower_ctx *ctx, int params, int indices, int axis) {
    if (params < 0 || indices < 0) return -1;
    const p2l_ir_tensor p = ctx->g->tensors.items[params], i = ctx->g->tensors.items[indices];
    int64_t dims[P2L_MAX_DIMS];
    int r = 0;
    if (p.rank - 1 + i.rank > P2L_MAX_DIMS) {
        p2l_unsupported(ctx, "a gather result of rank %d", p.rank - 1 + i.rank);
        return -1;
    }
    for (int d = 0; d < axis; d++) dims[r++] = p.dims[d];
    for (int d = 0; d < i.rank; d++) dims[r++] = i.dims[d];
    for (int d = axis + 1; d < p.rank; d++) dims[r++] = p.dims[d];
    int out = p2l_temp(ctx, "gather", p.dtype, r, dims);
    int ins[2] = {params, indices};
    int n = p2l_emit(ctx, P2L_OP_GATHER, 2, ins, 1, &out);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "axis", axis);
    p2l_set_option(ctx->g, n, "batch_dims", 0);
    return out;
}

int p2l_align_rank(p2l_lower_ctx *ctx, int t, int rank) {
    if (t < 0) return -1;
    const p2l_ir_tensor tt = ctx->g->tensors.items[t];
    if (tt.rank == rank) return t;
    int64_t dims[P2L_MAX_DIMS];
    int pad = rank - tt.rank;
    for (int i = 0; i < rank; i++) dims[i] = i < pad ? 1 : tt.dims[i - pad];
    return p2l_reshape(ctx, t, rank, dims);
}

int p2l_flatten(p2l_lower_ctx *ctx, int t) {
    if (t < 0) return -1;
    const p2l_ir_tensor tt = ctx->g->tensors.items[t];
    int64_t n = p2l_dims_numel(tt.dims, tt.rank);
    if (tt.rank == 1) return t;
    return p2l_reshape(ctx, t, 1, &n);
}

p2l_status p2l_logical_output(p2l_lower_ctx *ctx, int index, int t) {
    const p2l_value *v = p2l_output_value(ctx, index);
    if (t < 0) return P2L_ERROR_UNSUPPORTED;
    if (!v) return P2L_OK;
    const p2l_ir_tensor tt = ctx->g->tensors.items[t];
    if (tt.rank != v->rank || memcmp(tt.dims, v->dims, sizeof(int64_t) * (size_t)v->rank) != 0) {
        t = p2l_reshape(ctx, t, v->rank, v->dims);
        if (t < 0) return P2L_ERROR_UNSUPPORTED;
    }
    return p2l_alias_output(ctx, index, t, NULL);
}

/* Dynamic dims: sizes known only at run time.
 *
 * torch.export names every symbolic size by a sympy expression over its symbols ("s77",
 * "Mul(Integer(2), Symbol('s98', ...))"); the reader keeps that expression for each symbolic dim
 * of a value and each symbolic int argument. Nothing is computed for sym_size and the symbolic
 * arithmetic nodes themselves: a lowering that needs a size at run time (a reshape to a shape with
 * several unknown sizes, a broadcast to a dynamic shape, a slice with a symbolic bound) asks for
 * the expression's value here, and gets a 1-element int32 tensor computed in the graph: each
 * symbol is read from the shape of the user input that holds it (SHAPE, GATHER), and the
 * expression's arithmetic becomes int32 ADD / MUL / FLOOR_DIV / ... . Each expression is computed
 * once per graph. Static sizes stay constants: a shape with one unknown size needs none of this
 * (RESHAPE takes -1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower/lower.h"

/* Whether `expr` is symbol `name` times a constant factor: "Symbol('s0', ...)" (factor 1) or
 * "Mul(Integer(k), Symbol('s0', ...))" (a derived dim, 32 * Dim("h")). */
static bool expr_scales_symbol(const char *expr, const char *name, size_t name_len, int64_t *factor) {
    *factor = 1;
    if (strncmp(expr, "Mul(Integer(", 12) == 0) {
        char *end;
        *factor = strtoll(expr + 12, &end, 10);
        if (strncmp(end, "), ", 3) != 0 || *factor < 1) return false;
        expr = end + 3;
    }
    return strncmp(expr, "Symbol('", 8) == 0 && strncmp(expr + 8, name, name_len) == 0 && expr[8 + name_len] == '\'';
}

bool p2l_symbol_source(const p2l_exported *ep, const char *name, size_t name_len, int *value_id, int *dim,
                       int64_t *factor) {
    for (size_t i = 0; i < ep->user_inputs.len; i++) {
        const p2l_value *v = &ep->values.items[ep->user_inputs.items[i]];
        for (int d = 0; d < v->rank; d++) {
            if (v->dims[d] >= 0 || !v->sym[d] || !expr_scales_symbol(v->sym[d], name, name_len, factor)) continue;
            *value_id = ep->user_inputs.items[i];
            *dim = d;
            return true;
        }
    }
    return false;
}

/* A 1-element int32 constant. */
static int const_one(p2l_lower_ctx *ctx, int64_t value) {
    int32_t v;
    return p2l_narrow_i32(ctx, value, "a size", &v) ? p2l_const_i32(ctx, 1, &v) : -1;
}

/* Size `dim` (logical) of value `value_id` at run time: SHAPE of its tensor, the physical axis
 * gathered. */
static int runtime_dim(p2l_lower_ctx *ctx, int value_id, int dim) {
    p2l_layout layout;
    int x = p2l_value_input_any(ctx, value_id, &layout);
    if (x < 0) return -1;
    int64_t rank = ctx->g->tensors.items[x].rank;
    int shape = p2l_temp(ctx, "shape", P2L_INT32, 1, &rank);
    int n = p2l_emit1(ctx, P2L_OP_SHAPE, x, shape);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "out_type", P2L_INT32);
    int32_t axis = p2l_physical_axis(&layout, (int)rank, dim);
    int64_t one = 1;
    return p2l_gather(ctx, shape, p2l_const_indices(ctx, 1, &one, &axis), 0);
}

/* ------------------------------------------------------------ expressions (sympy srepr) */

typedef struct sym_parser {
    p2l_lower_ctx *ctx;
    const char *expr; /* the whole expression, for messages */
    const char *p;
} sym_parser;

static int parse_sym(sym_parser *ps);

static int sym_refuse(sym_parser *ps, const char *why) {
    p2l_unsupported(ps->ctx, "the size %s is needed at run time, but %s", ps->expr, why);
    return -1;
}

static int parse_symbol(sym_parser *ps) {
    const char *name = ps->p + 1; /* after the quote */
    const char *end = strchr(name, '\'');
    if (*ps->p != '\'' || !end) return sym_refuse(ps, "it is not a well-formed expression");
    int value_id, dim;
    int64_t factor;
    if (!p2l_symbol_source(ps->ctx->ep, name, (size_t)(end - name), &value_id, &dim, &factor))
        return sym_refuse(ps, "no input's shape holds its symbol");
    int depth = 1; /* skip the assumptions: ", positive=True, integer=True)" */
    for (ps->p = end + 1; *ps->p && depth; ps->p++) depth += *ps->p == '(' ? 1 : *ps->p == ')' ? -1 : 0;
    int t = runtime_dim(ps->ctx, value_id, dim);
    return factor == 1 ? t : p2l_binary(ps->ctx, P2L_OP_FLOOR_DIV, t, const_one(ps->ctx, factor), P2L_INT32);
}

/* The sympy functions an integer size uses, and the int32 op each becomes (floor semantics, as
 * sympy's FloorDiv and Mod on sizes). */
static const struct {
    const char *name;
    p2l_op op;
} sym_functions[] = {
    {"Add", P2L_OP_ADD},          {"Mul", P2L_OP_MUL},         {"FloorDiv", P2L_OP_FLOOR_DIV},
    {"CleanDiv", P2L_OP_FLOOR_DIV}, {"Mod", P2L_OP_FLOOR_MOD}, {"PythonMod", P2L_OP_FLOOR_MOD},
    {"Max", P2L_OP_MAXIMUM},      {"Min", P2L_OP_MINIMUM},
};

static int parse_sym(sym_parser *ps) {
    const char *start = ps->p;
    while ((*ps->p >= 'A' && *ps->p <= 'Z') || (*ps->p >= 'a' && *ps->p <= 'z') || *ps->p == '_') ps->p++;
    size_t len = (size_t)(ps->p - start);
    if (*ps->p != '(' || len == 0) return sym_refuse(ps, "it is not a well-formed expression");
    ps->p++;
    if (len == 7 && strncmp(start, "Integer", 7) == 0) {
        char *end;
        long long value = strtoll(ps->p, &end, 10);
        if (*end != ')') return sym_refuse(ps, "it is not a well-formed expression");
        ps->p = end + 1;
        return const_one(ps->ctx, value);
    }
    if (len == 6 && strncmp(start, "Symbol", 6) == 0) return parse_symbol(ps);
    int f = -1;
    for (int i = 0; i < (int)(sizeof sym_functions / sizeof sym_functions[0]); i++)
        if (strlen(sym_functions[i].name) == len && strncmp(sym_functions[i].name, start, len) == 0) f = i;
    if (f < 0) {
        char why[96];
        snprintf(why, sizeof why, "pt2lite cannot compute sympy's %.*s", (int)(len < 40 ? len : 40), start);
        return sym_refuse(ps, why);
    }
    int acc = parse_sym(ps);
    while (acc >= 0 && strncmp(ps->p, ", ", 2) == 0) {
        ps->p += 2;
        acc = p2l_binary(ps->ctx, sym_functions[f].op, acc, parse_sym(ps), P2L_INT32);
    }
    if (acc < 0) return -1;
    if (*ps->p != ')') return sym_refuse(ps, "it is not a well-formed expression");
    ps->p++;
    return acc;
}

int p2l_sym_tensor(p2l_lower_ctx *ctx, const char *expr) {
    if (!expr) {
        p2l_unsupported(ctx, "a symbolic size without an expression in the archive is needed at run time");
        return -1;
    }
    int cached = p2l_strmap_get(&ctx->sym_tensors, expr, -1);
    if (cached >= 0) return cached;
    sym_parser ps = {ctx, expr, expr};
    int t = parse_sym(&ps);
    if (t >= 0 && *ps.p) return sym_refuse(&ps, "it is not a well-formed expression");
    if (t >= 0 && p2l_strmap_put(&ctx->sym_tensors, expr, t) != P2L_OK) return -1;
    return t;
}

int p2l_size_tensor(p2l_lower_ctx *ctx, int count, const int64_t *sizes, const char *const *exprs) {
    int pieces[P2L_MAX_DIMS], n = 0;
    for (int i = 0; i < count;) {
        if (sizes[i] < 0) {
            pieces[n++] = p2l_sym_tensor(ctx, exprs ? exprs[i] : NULL);
            i++;
            continue;
        }
        int32_t run[P2L_MAX_DIMS];
        int k = 0;
        for (; i < count && sizes[i] >= 0; i++) run[k++] = (int32_t)sizes[i]; /* dims fit int32 */
        pieces[n++] = p2l_const_i32(ctx, k, run);
    }
    return p2l_concat_sizes(ctx, n, pieces, count);
}

int p2l_concat_sizes(p2l_lower_ctx *ctx, int n, const int *pieces, int64_t len) {
    for (int i = 0; i < n; i++)
        if (pieces[i] < 0) return -1;
    if (n == 1) return pieces[0];
    int out = p2l_temp(ctx, "shape", P2L_INT32, 1, &len);
    return p2l_emit(ctx, P2L_OP_CONCATENATION, n, pieces, 1, &out) < 0 ? -1 : out;
}

int p2l_dynamic_shape(p2l_lower_ctx *ctx, const p2l_value *v, const p2l_layout *layout) {
    int64_t sizes[P2L_MAX_DIMS];
    const char *exprs[P2L_MAX_DIMS];
    for (int i = 0; i < v->rank; i++) {
        int axis = layout ? layout->perm[i] : i;
        sizes[i] = v->dims[axis];
        exprs[i] = v->sym[axis];
    }
    return p2l_size_tensor(ctx, v->rank, sizes, exprs);
}

int p2l_unit_reshape_shape(p2l_lower_ctx *ctx, int tensor, int rank, const int64_t *dims) {
    const p2l_ir_tensor xt = ctx->g->tensors.items[tensor];
    int32_t from[P2L_MAX_DIMS]; /* per output axis: the input axis holding its size; xt.rank: a 1 */
    int in = 0;
    bool matches = true;
    for (int i = 0; i < rank && matches; i++) {
        while (in < xt.rank && xt.dims[in] == 1 && dims[i] != 1) in++;
        if (dims[i] == 1 && (in >= xt.rank || xt.dims[in] != 1)) {
            from[i] = (int32_t)xt.rank;
            continue;
        }
        matches = in < xt.rank && xt.dims[in] == dims[i];
        from[i] = (int32_t)in++;
    }
    while (in < xt.rank && xt.dims[in] == 1) in++;
    if (!matches || in != xt.rank) {
        p2l_unsupported(ctx, "a reshape to a shape with several dynamic sizes that is not only adding or dropping "
                             "size-1 axes");
        return -1;
    }
    int64_t len = xt.rank, ext = xt.rank + 1, out_len = rank;
    int shape = p2l_temp(ctx, "shape", P2L_INT32, 1, &len);
    int n = p2l_emit1(ctx, P2L_OP_SHAPE, tensor, shape);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "out_type", P2L_INT32);
    int parts[2] = {shape, const_one(ctx, 1)}, sizes = p2l_temp(ctx, "shape", P2L_INT32, 1, &ext);
    if (parts[1] < 0 || p2l_emit(ctx, P2L_OP_CONCATENATION, 2, parts, 1, &sizes) < 0) return -1;
    return p2l_gather(ctx, sizes, p2l_const_indices(ctx, 1, &out_len, from), 0);
}

p2l_status p2l_set_sample_dims(p2l_lower_ctx *ctx, int t, const p2l_value *v) {
    int64_t *sample = p2l_arena_alloc(ctx->g->arena, sizeof(int64_t) * P2L_MAX_DIMS);
    if (!sample) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int d = 0; d < v->rank; d++) sample[d] = v->dims[d] >= 0 ? v->dims[d] : v->sample[d];
    ctx->g->tensors.items[t].sample_dims = sample;
    return P2L_OK;
}

bool p2l_same_sizes(const p2l_value *a, const p2l_value *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++) {
        if (a->dims[i] != b->dims[i]) return false;
        if (a->dims[i] < 0 && a->sym[i] && b->sym[i] && strcmp(a->sym[i], b->sym[i]) != 0) return false;
    }
    return true;
}

/* sym_size.int and the symbolic arithmetic torch.export records (_operator.mul, ...): nothing is
 * emitted; a lowering that needs such a size at run time computes it from its expression. */
p2l_status p2l_lower_symbolic(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    (void)ctx;
    (void)node;
    return P2L_OK;
}

/* ------------------------------------------------------------ range constraints -> metadata */

/* The range torch.export allows for a dynamic input size of expression `expr`: the range of its
 * symbol times the dim's factor (a derived dim, 32 * Dim("h"), takes multiples of 32 only). */
static bool dim_range(const p2l_exported *ep, const char *expr, int64_t *min, int64_t *max, int64_t *multiple) {
    for (size_t r = 0; expr && r < ep->ranges.len; r++) {
        const p2l_sym_range *range = &ep->ranges.items[r];
        if (!expr_scales_symbol(expr, range->symbol, strlen(range->symbol), multiple)) continue;
        *min = range->min * *multiple;
        *max = range->max == INT64_MAX || range->max > INT32_MAX / *multiple ? -1 : range->max * *multiple;
        return true;
    }
    return false;
}

p2l_status p2l_add_dynamic_ranges(p2l_model_ir *model, int subgraph, const p2l_exported *ep) {
    p2l_buf json = {0};
    p2l_status s = P2L_OK;
    int rows = 0;
    for (size_t i = 0; i < ep->user_inputs.len && s == P2L_OK; i++) {
        const p2l_value *v = &ep->values.items[ep->user_inputs.items[i]];
        for (int d = 0; d < v->rank && s == P2L_OK; d++) {
            int64_t min, max, multiple;
            if (v->dims[d] >= 0 || !dim_range(ep, v->sym[d], &min, &max, &multiple)) continue;
            s = p2l_buf_printf(&json, "%s[%d, %zu, %d, %lld, %lld, %lld]", rows++ ? ", " : "{\"ranges\": [", subgraph,
                               i, d, (long long)min, (long long)max, (long long)multiple);
        }
    }
    if (s == P2L_OK && rows) s = p2l_buf_printf(&json, "]}");
    if (s == P2L_OK && rows) {
        char *copy = p2l_arena_strndup(&model->arena, (const char *)json.data, json.len);
        p2l_metadata_entry entry = {P2L_DYNAMIC_RANGES_METADATA, copy, json.len};
        s = copy ? P2L_VEC_PUSH(&model->metadata, entry) : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    p2l_buf_free(&json);
    return s;
}

/* .pt2 archive -> p2l_exported: the zip, the ExportedProgram JSON (schema 8.x), weights, constants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/float16.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/zip.h"
#include "pt2/pt2.h"

/* ------------------------------------------------------------ schema table */

static const struct {
    const char *name;
    int core;
    const char *schema;
} aten_schemas[] = {
#define X(name, core, schema) {name, core, schema},
#include "pt2/aten_schemas.inc"
#undef X
};
enum { ATEN_SCHEMA_COUNT = sizeof aten_schemas / sizeof aten_schemas[0] };

static int schema_index(const char *target) {
    int lo = 0, hi = ATEN_SCHEMA_COUNT - 1; /* the generator sorts the table */
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(aten_schemas[mid].name, target);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

bool p2l_aten_known(const char *target, bool *is_core) {
    int i = schema_index(target);
    if (is_core) *is_core = i >= 0 && aten_schemas[i].core;
    return i >= 0;
}

const char *p2l_aten_schema_name(int i, bool *is_core) {
    if (i < 0 || i >= ATEN_SCHEMA_COUNT) return NULL;
    if (is_core) *is_core = aten_schemas[i].core;
    return aten_schemas[i].name;
}

/* One argument of a schema string: "int[2] stride=[]" -> type "int[2]", name, default "[]". */
typedef struct schema_arg {
    char type[192];
    char name[192];
    char dflt[192];
    bool has_default;
} schema_arg;

/* Splits "aten::op(T a, T b=1, *, T c=None) -> R" into its arguments. Returns the count (<= max). */
static int parse_schema_args(const char *schema, schema_arg *out, int max) {
    const char *p = strchr(schema, '(');
    if (!p) return 0;
    p++;
    int count = 0;
    while (*p && *p != ')' && count < max) {
        while (*p == ' ' || *p == ',') p++;
        /* one argument: up to a ',' or ')' at bracket depth 0, outside quotes */
        const char *start = p;
        int depth = 0;
        bool quoted = false;
        while (*p && (quoted || depth > 0 || (*p != ',' && *p != ')'))) {
            if (*p == '"') quoted = !quoted;
            else if (!quoted && (*p == '[' || *p == '(')) depth++;
            else if (!quoted && (*p == ']' || *p == ')')) depth--;
            p++;
        }
        size_t len = (size_t)(p - start);
        char text[192];
        if (len >= sizeof text) len = sizeof text - 1;
        memcpy(text, start, len);
        text[len] = 0;
        if (strcmp(text, "*") == 0) continue;
        schema_arg a = {0};
        char *eq = strchr(text, '=');
        if (eq) {
            *eq = 0;
            a.has_default = true;
            snprintf(a.dflt, sizeof a.dflt, "%s", eq + 1);
        }
        char *space = strrchr(text, ' ');
        if (!space) continue;
        *space = 0;
        snprintf(a.name, sizeof a.name, "%s", space + 1);
        snprintf(a.type, sizeof a.type, "%s", text);
        out[count++] = a;
    }
    return count;
}

/* Array length in a type such as "int[2]" or "SymInt[2]?"; 0 when unsized or not a list. */
static int type_list_length(const char *type) {
    const char *b = strchr(type, '[');
    return b ? atoi(b + 1) : 0;
}

static bool type_is_list(const char *type) { return strchr(type, '[') != NULL; }

static bool type_starts(const char *type, const char *prefix) {
    return strncmp(type, prefix, strlen(prefix)) == 0;
}

/* Builds the p2l_arg a schema default stands for. */
static p2l_status default_arg(p2l_arena *arena, const schema_arg *s, p2l_arg *out) {
    out->name = p2l_arena_strdup(arena, s->name);
    const char *d = s->dflt;
    if (strcmp(d, "None") == 0) {
        out->kind = P2L_ARG_NONE;
        return P2L_OK;
    }
    const char *t = s->type;
    if (type_is_list(t)) {
        /* "[]", "[1, 1]" or a scalar broadcast to the list length ("int[2] padding=0"). */
        int64_t values[P2L_MAX_DIMS];
        int n = 0;
        if (d[0] == '[') {
            const char *q = d + 1;
            while (*q && *q != ']' && n < P2L_MAX_DIMS) {
                while (*q == ' ' || *q == ',') q++;
                if (*q == ']') break;
                values[n++] = strcmp(q, "True") == 0 ? 1 : strtoll(q, (char **)&q, 10);
                while (*q && *q != ',' && *q != ']') q++;
            }
        } else {
            int len = type_list_length(t);
            if (len < 1) len = 1;
            int64_t v = strcmp(d, "True") == 0 ? 1 : strcmp(d, "False") == 0 ? 0 : strtoll(d, NULL, 10);
            for (n = 0; n < len && n < P2L_MAX_DIMS; n++) values[n] = v;
        }
        bool floats = type_starts(t, "float");
        out->kind = floats ? P2L_ARG_FLOATS : type_starts(t, "bool") ? P2L_ARG_BOOLS : P2L_ARG_INTS;
        out->count = n;
        out->ints = p2l_arena_alloc(arena, sizeof(int64_t) * (size_t)(n + 1));
        out->floats = p2l_arena_alloc(arena, sizeof(double) * (size_t)(n + 1));
        if (!out->ints || !out->floats) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (int i = 0; i < n; i++) {
            out->ints[i] = values[i];
            out->floats[i] = (double)values[i];
        }
        return P2L_OK;
    }
    if (type_starts(t, "bool")) {
        out->kind = P2L_ARG_BOOL;
        out->i = strcmp(d, "True") == 0;
    } else if (type_starts(t, "int") || type_starts(t, "SymInt")) {
        out->kind = P2L_ARG_INT;
        out->i = strtoll(d, NULL, 10);
    } else if (type_starts(t, "float") || type_starts(t, "Scalar")) {
        bool integral = strpbrk(d, ".eE") == NULL && strcmp(d, "inf") != 0;
        out->kind = integral && type_starts(t, "Scalar") ? P2L_ARG_INT : P2L_ARG_FLOAT;
        out->f = strcmp(d, "inf") == 0 ? 1e308 * 10 : strtod(d, NULL);
        out->i = (int64_t)out->f;
    } else if (type_starts(t, "str")) {
        out->kind = P2L_ARG_STRING;
        size_t len = strlen(d);
        out->s = len >= 2 && d[0] == '"' ? p2l_arena_strndup(arena, d + 1, len - 2) : p2l_arena_strdup(arena, d);
    } else {
        out->kind = P2L_ARG_OTHER;
    }
    return P2L_OK;
}

/* ------------------------------------------------------------ JSON helpers */

typedef struct reader {
    const uint8_t *archive;
    size_t archive_size;
    p2l_zip zip;
    const char *root; /* "resnet18/" */
    p2l_arena scratch; /* parsed JSON */
    p2l_exported *ep;
    const p2l_json *weights_config, *constants_config;
    /* the caller's in-memory weights for this program (p2l_convert_options.weights): name -> entry */
    const p2l_external_weight *external;
    p2l_strmap external_ids;
} reader;

static const p2l_json *get_typed(const p2l_json *obj, const char *key, p2l_json_type type) {
    const p2l_json *v = p2l_json_get(obj, key);
    return v && v->type == type ? v : NULL;
}

static p2l_status missing(const char *what, const p2l_json *where) {
    return p2l_fail(P2L_ERROR_MALFORMED, "models/model.json: %s is missing or has the wrong type (at byte %zu)",
                    what, where ? where->offset : 0);
}

static const p2l_zip_entry *find_entry(reader *r, const char *relative) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", r->root, relative);
    return p2l_zip_find(&r->zip, path);
}

static p2l_status read_entry_json(reader *r, const char *relative, bool required, p2l_json **out) {
    *out = NULL;
    const p2l_zip_entry *e = find_entry(r, relative);
    if (!e) {
        if (!required) return P2L_OK;
        return p2l_fail(P2L_ERROR_MALFORMED, "the archive has no %s%s: is this a .pt2 file written by torch.export.save?",
                        r->root, relative);
    }
    if (e->compressed)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "archive entry %s is compressed; torch.export.save stores entries uncompressed",
                        e->name);
    p2l_json_limits limits = {.max_depth = (size_t)p2l_limits_thread()->max_json_depth};
    return p2l_json_parse((const char *)e->data, (size_t)e->size, &limits, relative, &r->scratch, out);
}

enum { TORCH_BFLOAT16 = 13 }; /* the archive's ScalarType code */

static p2l_dtype dtype_from_torch(int code) {
    switch (code) {
    case 1: return P2L_UINT8;
    case 2: return P2L_INT8;
    case 3: return P2L_INT16;
    case 4: return P2L_INT32;
    case 5: return P2L_INT64;
    case 6: return P2L_FLOAT16;
    case 7: return P2L_FLOAT32;
    case 8: return P2L_FLOAT64;
    case 12: return P2L_BOOL;
    default: return (p2l_dtype)-1;
    }
}

static const char *torch_dtype_name(int code) {
    static const char *const names[] = {"unknown", "uint8", "int8", "int16", "int32", "int64", "float16",
                                        "float32", "float64", "complex32", "complex64", "complex128",
                                        "bool", "bfloat16"};
    return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "unknown";
}

/* A SymInt JSON ({"as_int": n} or {"as_expr"/"as_name": ...}) -> n, or -1 with *symbolic set. */
static int64_t sym_int(const p2l_json *v, bool *symbolic) {
    const p2l_json *i = get_typed(v, "as_int", P2L_JSON_NUMBER);
    if (i && i->is_integer) return i->integer;
    if (symbolic) *symbolic = true;
    return -1;
}

/* The sympy expression of a symbolic SymInt JSON: {"as_expr": {"expr_str": ...}} inline or
 * {"as_name": n} naming one of graph.sym_int_values; NULL for a number or an unknown name. */
static const char *sym_expr(p2l_exported *ep, const p2l_json *v) {
    const p2l_json *e = get_typed(get_typed(v, "as_expr", P2L_JSON_OBJECT), "expr_str", P2L_JSON_STRING);
    if (e) return p2l_arena_strdup(&ep->arena, e->string);
    const p2l_json *name = get_typed(v, "as_name", P2L_JSON_STRING);
    int id = name ? p2l_strmap_get(&ep->symint_ids, name->string, -1) : -1;
    return id >= 0 ? ep->symints.items[id].expr : NULL;
}

/* The example value torch.export recorded for a symbolic size (its "hint"); 0 when absent. */
static int64_t sym_hint(const p2l_json *v) {
    const p2l_json *hint = get_typed(get_typed(get_typed(v, "as_expr", P2L_JSON_OBJECT), "hint", P2L_JSON_OBJECT),
                                     "as_int", P2L_JSON_NUMBER);
    return hint && hint->is_integer && hint->integer > 0 && hint->integer <= P2L_MAX_DIM ? hint->integer : 0;
}

/* TensorMeta -> dtype, rank, dims (and, with ep, the expressions of symbolic dims). */
static p2l_status read_tensor_meta(p2l_exported *ep, const p2l_json *meta, const char *name, p2l_value *v) {
    const p2l_json *dtype = get_typed(meta, "dtype", P2L_JSON_NUMBER);
    const p2l_json *sizes = get_typed(meta, "sizes", P2L_JSON_ARRAY);
    if (!dtype || !sizes) return missing("a tensor's dtype or sizes", meta);
    v->torch_dtype = (int)dtype->integer;
    v->dtype = dtype_from_torch(v->torch_dtype);
    if (sizes->length > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "tensor %s has rank %zu; pt2lite supports at most %d", name,
                        sizes->length, P2L_MAX_DIMS);
    v->rank = (int)sizes->length;
    for (int d = 0; d < v->rank; d++) {
        v->dims[d] = sym_int(&sizes->items[d], NULL);
        if (v->dims[d] < -1) return p2l_fail(P2L_ERROR_MALFORMED, "tensor %s has a negative size", name);
        if (v->dims[d] < 0 && ep) v->sym[d] = sym_expr(ep, &sizes->items[d]);
        if (v->dims[d] < 0) v->sample[d] = sym_hint(&sizes->items[d]);
        if (v->dims[d] > P2L_MAX_DIM)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "tensor %s has size %lld in dim %d; TFLite shapes hold sizes up to %d",
                            name, (long long)v->dims[d], d, P2L_MAX_DIM);
    }
    return P2L_OK;
}

/* A bfloat16 weight's 2-byte elements (v->data, v->nbytes) -> float32, exact: bfloat16 is the top
 * half of a float32. The value is float32 from here on; its torch_dtype still says bfloat16. */
static p2l_status widen_bfloat16(p2l_value *v, const char *fqn) {
    size_t numel = v->nbytes / 2;
    P2L_TRY(p2l_limits_charge_tensor_bytes(v->nbytes, fqn)); /* the float32 copy is twice the bytes */
    float *out = p2l_alloc(numel ? numel * sizeof *out : 1);
    if (!out) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory converting '%s' to float32", fqn);
    const unsigned char *in = v->data;
    for (size_t i = 0; i < numel; i++) {
        uint16_t b;
        memcpy(&b, in + 2 * i, 2);
        out[i] = p2l_bf16_to_f32(b);
    }
    p2l_release(v->owned);
    v->data = v->owned = out;
    v->nbytes = numel * sizeof *out;
    v->dtype = P2L_FLOAT32;
    return P2L_OK;
}

/* A weight the caller holds in memory (p2l_external_weight): the contiguous elements of the shape and
 * dtype `m` says (the config's tensor_meta), borrowed, never copied (bfloat16 is widened as stored ones). */
static p2l_status external_weight(const p2l_external_weight *w, const char *fqn, const p2l_value *m, bool bfloat16,
                                  p2l_value *v) {
    uint64_t numel = 1, nbytes;
    for (int d = 0; d < m->rank; d++)
        if (m->dims[d] < 0 || __builtin_mul_overflow(numel, (uint64_t)m->dims[d], &numel))
            return p2l_fail(P2L_ERROR_MALFORMED, "'%s' has a symbolic or too large shape in its tensor_meta", fqn);
    if (__builtin_mul_overflow(numel, (uint64_t)p2l_dtype_size(m->dtype), &nbytes) || nbytes != w->size)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options.weights: '%s' of program %zu has %zu bytes; "
                        "its tensor_meta (%llu elements of %s) needs %llu", fqn, w->program, w->size,
                        (unsigned long long)numel, p2l_dtype_name(m->dtype), (unsigned long long)nbytes);
    if (nbytes && !w->data)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options.weights: '%s' has no data", fqn);
    P2L_TRY(p2l_limits_charge_tensor_bytes(nbytes, fqn));
    v->dtype = m->dtype;
    v->torch_dtype = m->torch_dtype;
    v->nbytes = (size_t)nbytes;
    v->data = w->data;
    return bfloat16 ? widen_bfloat16(v, fqn) : P2L_OK;
}

/* Gathers a weight from its storage file, honouring sizes/strides/storage_offset. Zero-copy when
 * the view is the whole contiguous storage prefix. */
static p2l_status load_storage(reader *r, const p2l_json *config, const char *folder, const char *fqn, p2l_value *v) {
    const p2l_json *entry = p2l_json_get(config, fqn);
    if (!entry) return p2l_fail(P2L_ERROR_MALFORMED, "%s config has no entry for '%s'", folder, fqn);
    const p2l_json *use_pickle = get_typed(entry, "use_pickle", P2L_JSON_BOOL);
    if (use_pickle && use_pickle->boolean)
        return p2l_fail(P2L_ERROR_UNSUPPORTED,
                        "'%s' is stored pickled (use_pickle); pt2lite reads raw weights as written by torch >= 2.9. "
                        "Re-export with torch 2.9 or newer", fqn);
    const p2l_json *path = get_typed(entry, "path_name", P2L_JSON_STRING);
    const p2l_json *meta = get_typed(entry, "tensor_meta", P2L_JSON_OBJECT);
    if (!path || !meta) return p2l_fail(P2L_ERROR_MALFORMED, "%s config entry '%s' lacks path_name or tensor_meta", folder, fqn);
    p2l_value m = {0};
    P2L_TRY(read_tensor_meta(NULL, meta, fqn, &m));
    /* bfloat16 has no TFLite type: its weights are read as 2-byte elements, then widened to float32
     * (exactly; see widen_bfloat16). */
    bool bfloat16 = m.torch_dtype == TORCH_BFLOAT16;
    if (bfloat16) m.dtype = P2L_FLOAT16;
    if (m.dtype == (p2l_dtype)-1)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "'%s' has dtype %s, which pt2lite does not convert yet", fqn,
                        torch_dtype_name(m.torch_dtype));
    int external = r->external ? p2l_strmap_get(&r->external_ids, fqn, -1) : -1;
    if (external >= 0) return external_weight(&r->external[external], fqn, &m, bfloat16, v);
    char rel[768];
    snprintf(rel, sizeof rel, "data/%s/%s", folder, path->string);
    const p2l_zip_entry *e = find_entry(r, rel);
    if (!e) return p2l_fail(P2L_ERROR_MALFORMED, "weights of '%s' (%s) are missing from the archive", fqn, rel);
    if (e->compressed) return p2l_fail(P2L_ERROR_UNSUPPORTED, "archive entry %s is compressed", e->name);

    size_t elem = p2l_dtype_size(m.dtype);
    const p2l_json *strides = get_typed(meta, "strides", P2L_JSON_ARRAY);
    const p2l_json *offset_json = p2l_json_get(meta, "storage_offset");
    int64_t offset = offset_json ? sym_int(offset_json, NULL) : 0;
    /* Checked here, not only in the loop below, which a rank-0 tensor skips. */
    if (offset < 0) return p2l_fail(P2L_ERROR_MALFORMED, "'%s' has a negative or symbolic storage_offset", fqn);
    int64_t stride[P2L_MAX_DIMS], expect = 1, last = offset, numel = 1;
    bool contiguous = offset == 0;
    for (int d = m.rank - 1; d >= 0; d--) {
        stride[d] = strides && (int)strides->length == m.rank ? sym_int(&strides->items[d], NULL) : expect;
        if (m.dims[d] < 0 || stride[d] < 0 || offset < 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "'%s' has a negative size, stride or offset", fqn);
        if (m.dims[d] != 1 && stride[d] != expect) contiguous = false;
        if (__builtin_mul_overflow(expect, m.dims[d], &expect) || __builtin_mul_overflow(numel, m.dims[d], &numel))
            return p2l_fail(P2L_ERROR_MALFORMED, "'%s' is too large", fqn);
        if (m.dims[d] > 0) {
            int64_t reach;
            if (__builtin_mul_overflow(stride[d], m.dims[d] - 1, &reach) || __builtin_add_overflow(last, reach, &last))
                return p2l_fail(P2L_ERROR_MALFORMED, "'%s' has strides that overflow", fqn);
        }
    }
    size_t need;
    if (numel > 0 && (!p2l_mul_size((size_t)last + 1, elem, &need) || need > e->size))
        return p2l_fail(P2L_ERROR_MALFORMED, "'%s' needs %lld elements of %s but %s holds %llu bytes", fqn,
                        (long long)last + 1, p2l_dtype_name(m.dtype), e->name, (unsigned long long)e->size);
    uint64_t nbytes;
    if (__builtin_mul_overflow((uint64_t)numel, (uint64_t)elem, &nbytes) || nbytes > SIZE_MAX)
        return p2l_fail(P2L_ERROR_MALFORMED, "'%s' is too large", fqn);
    /* the running total of weights and constants, checked against max_tensor_bytes (base/limits.h) */
    P2L_TRY(p2l_limits_charge_tensor_bytes(nbytes, fqn));
    v->dtype = m.dtype;
    v->torch_dtype = m.torch_dtype;
    v->nbytes = (size_t)nbytes;
    if (contiguous || numel == 0) {
        v->data = e->data + (size_t)offset * elem;
        return bfloat16 ? widen_bfloat16(v, fqn) : P2L_OK;
    }
    uint8_t *dst = p2l_alloc(v->nbytes);
    if (!dst) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory copying '%s'", fqn);
    int64_t index[P2L_MAX_DIMS] = {0};
    for (int64_t i = 0; i < numel; i++) {
        int64_t src = offset;
        for (int d = 0; d < m.rank; d++) src += index[d] * stride[d];
        memcpy(dst + (size_t)i * elem, e->data + (size_t)src * elem, elem);
        for (int d = m.rank - 1; d >= 0 && ++index[d] == m.dims[d]; d--) index[d] = 0;
    }
    v->data = dst;
    v->owned = dst;
    return bfloat16 ? widen_bfloat16(v, fqn) : P2L_OK;
}

/* ------------------------------------------------------------ graph */

static int value_id(reader *r, const char *name) { return p2l_strmap_get(&r->ep->value_ids, name, -1); }

/* {"name": "x"} or {"as_tensor": {"name": "x"}} -> value id */
static p2l_status tensor_ref(reader *r, const p2l_json *ref, int *id) {
    const p2l_json *inner = get_typed(ref, "as_tensor", P2L_JSON_OBJECT);
    const p2l_json *name = get_typed(inner ? inner : ref, "name", P2L_JSON_STRING);
    if (!name) return missing("a tensor reference's name", ref);
    *id = value_id(r, name->string);
    if (*id < 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "models/model.json: tensor '%s' (byte %zu) is not in tensor_values",
                        name->string, name->offset);
    return P2L_OK;
}

static p2l_status read_values(reader *r, const p2l_json *graph) {
    const p2l_json *tv = get_typed(graph, "tensor_values", P2L_JSON_OBJECT);
    if (!tv) return missing("graph.tensor_values", graph);
    P2L_TRY(P2L_CHECK_LIMIT(p2l_limits_thread(), max_tensors, tv->length, "the graph's tensor count"));
    p2l_exported *ep = r->ep;
    for (size_t i = 0; i < tv->length; i++) {
        p2l_value v = {0};
        v.name = p2l_arena_strdup(&ep->arena, tv->keys[i]);
        if (!v.name) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        P2L_TRY(read_tensor_meta(ep, &tv->items[i], v.name, &v));
        P2L_TRY(P2L_VEC_PUSH(&ep->values, v));
        P2L_TRY(p2l_strmap_put(&ep->value_ids, v.name, (int)ep->values.len - 1));
    }
    return P2L_OK;
}

/* An output spec other than user_output: a buffer mutation is kept (module state, src/lower/lower_state.c);
 * a mutation pt2lite cannot keep is refused by name, never dropped; other kinds (loss, tokens) are no
 * model outputs. */
static p2l_status read_mutation(reader *r, const p2l_json *spec, size_t index) {
    const char *kind = spec->keys[0];
    const p2l_json *body = &spec->items[0];
    if (strcmp(kind, "user_input_mutation") == 0 || strcmp(kind, "parameter_mutation") == 0) {
        const bool input = kind[0] == 'u';
        const p2l_json *name = get_typed(body, input ? "user_input_name" : "parameter_name", P2L_JSON_STRING);
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "forward() changes %s '%s' in place (output %zu, %s): a .tflite model "
                        "cannot keep that change; %s", input ? "its input" : "the parameter", name ? name->string : "?",
                        index, kind, input ? "return the new value instead" : "register it as a buffer instead");
    }
    if (strcmp(kind, "buffer_mutation") != 0) return P2L_OK;
    const p2l_json *fqn = get_typed(body, "buffer_name", P2L_JSON_STRING);
    if (!fqn) return missing("buffer_name", body);
    p2l_exported *ep = r->ep;
    p2l_buffer_mutation m = {.buffer = -1};
    for (size_t v = 0; v < ep->values.len && m.buffer < 0; v++) {
        const p2l_value *value = &ep->values.items[v];
        if (value->fqn && (value->kind == P2L_VALUE_BUFFER || value->kind == P2L_VALUE_STATE) &&
            strcmp(value->fqn, fqn->string) == 0)
            m.buffer = (int)v;
    }
    if (m.buffer < 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "output %zu mutates buffer '%s', which is no input of the graph", index,
                        fqn->string);
    if (ep->values.items[m.buffer].kind == P2L_VALUE_STATE)
        return p2l_fail(P2L_ERROR_MALFORMED, "buffer '%s' is mutated twice (output %zu)", fqn->string, index);
    P2L_TRY(tensor_ref(r, p2l_json_get(body, "arg"), &m.new_value));
    ep->values.items[m.buffer].kind = P2L_VALUE_STATE;
    return P2L_VEC_PUSH(&ep->buffer_mutations, m);
}

static p2l_status read_signature(reader *r, const p2l_json *gm) {
    const p2l_json *sig = get_typed(gm, "signature", P2L_JSON_OBJECT);
    const p2l_json *ins = get_typed(sig, "input_specs", P2L_JSON_ARRAY);
    const p2l_json *outs = get_typed(sig, "output_specs", P2L_JSON_ARRAY);
    if (!ins || !outs) return missing("graph_module.signature", gm);
    p2l_exported *ep = r->ep;
    for (size_t i = 0; i < ins->length; i++) {
        const p2l_json *spec = &ins->items[i];
        if (spec->type != P2L_JSON_OBJECT || spec->length != 1) return missing("an input spec", spec);
        const char *kind = spec->keys[0];
        const p2l_json *body = &spec->items[0];
        const p2l_json *arg = p2l_json_get(body, "arg");
        if (strcmp(kind, "user_input") == 0) {
            if (!get_typed(arg, "as_tensor", P2L_JSON_OBJECT)) {
                /* ints/floats are specialized into the graph by torch.export; nothing to feed */
                continue;
            }
            int id;
            P2L_TRY(tensor_ref(r, arg, &id));
            ep->values.items[id].kind = P2L_VALUE_USER_INPUT;
            P2L_TRY(P2L_VEC_PUSH(&ep->user_inputs, id));
            continue;
        }
        const char *key = NULL, *folder = "weights";
        p2l_value_kind vk;
        const p2l_json *config = r->weights_config;
        if (strcmp(kind, "parameter") == 0) {
            key = "parameter_name";
            vk = P2L_VALUE_PARAMETER;
        } else if (strcmp(kind, "buffer") == 0) {
            key = "buffer_name";
            vk = P2L_VALUE_BUFFER;
            const p2l_json *persistent = get_typed(body, "persistent", P2L_JSON_BOOL);
            if (persistent && !persistent->boolean) {
                config = r->constants_config;
                folder = "constants";
            }
        } else if (strcmp(kind, "tensor_constant") == 0) {
            key = "tensor_constant_name";
            vk = P2L_VALUE_CONSTANT;
            config = r->constants_config;
            folder = "constants";
        } else if (strcmp(kind, "constant_input") == 0) {
            /* A Python scalar argument (forward(x, k: float)): torch.export specialized its value
             * into the graph's nodes, so the model is converted for that value (README, "Inputs"). */
            continue;
        } else {
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "input spec kind '%s' (input %zu) is not supported", kind, i);
        }
        const p2l_json *fqn = get_typed(body, key, P2L_JSON_STRING);
        if (!fqn || !arg) return missing(key, body);
        int id;
        P2L_TRY(tensor_ref(r, arg, &id));
        p2l_value *v = &ep->values.items[id];
        v->kind = vk;
        v->fqn = p2l_arena_strdup(&ep->arena, fqn->string);
        if (!v->fqn) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        const p2l_json *cfg = get_typed(config, "config", P2L_JSON_OBJECT);
        if (!cfg && config == r->weights_config) {
            /* non-persistent buffers may sit with the weights in some versions */
            cfg = get_typed(r->constants_config, "config", P2L_JSON_OBJECT);
        }
        if (!cfg) return p2l_fail(P2L_ERROR_MALFORMED, "the archive has no data/%s config for '%s'", folder, fqn->string);
        if (!p2l_json_get(cfg, fqn->string) && config != r->constants_config) {
            /* fall back to the other store: torch moved non-persistent buffers between them */
            const p2l_json *other = get_typed(r->constants_config, "config", P2L_JSON_OBJECT);
            if (other && p2l_json_get(other, fqn->string)) {
                cfg = other;
                folder = "constants";
            }
        }
        if (v->data || v->owned)
            return p2l_fail(P2L_ERROR_MALFORMED, "tensor '%s' is bound to weights twice (input %zu)", v->name, i);
        P2L_TRY(load_storage(r, cfg, folder, fqn->string, v));
        /* The graph's shape of the value is what lowering reads: it must describe exactly the
         * weight's bytes (a hostile archive may declare a larger or symbolic shape). */
        uint64_t numel = 1;
        for (int d = 0; d < v->rank; d++)
            if (v->dims[d] < 0 || __builtin_mul_overflow(numel, (uint64_t)v->dims[d], &numel))
                return p2l_fail(P2L_ERROR_MALFORMED, "weight '%s' has a symbolic or too large shape in the graph",
                                fqn->string);
        uint64_t graph_bytes;
        if (__builtin_mul_overflow(numel, (uint64_t)p2l_dtype_size(v->dtype), &graph_bytes) || graph_bytes != v->nbytes)
            return p2l_fail(P2L_ERROR_MALFORMED, "weight '%s': the graph's shape holds %llu elements but the "
                            "stored tensor has %zu bytes of %s", fqn->string, (unsigned long long)numel, v->nbytes,
                            p2l_dtype_name(v->dtype));
    }
    for (size_t i = 0; i < outs->length; i++) {
        const p2l_json *spec = &outs->items[i];
        if (spec->type != P2L_JSON_OBJECT || spec->length != 1) return missing("an output spec", spec);
        if (strcmp(spec->keys[0], "user_output") != 0) {
            P2L_TRY(read_mutation(r, spec, i)); /* no model output: state, or an error when it cannot be kept */
            continue;
        }
        const p2l_json *arg = p2l_json_get(&spec->items[0], "arg");
        /* A None in the returned structure (torchaudio's (features, lengths=None)) is no tensor of
         * the model; the Python front door puts it back in place. */
        if (arg && arg->type == P2L_JSON_OBJECT && arg->length == 1 && strcmp(arg->keys[0], "as_none") == 0) {
            int position = (int)(ep->user_outputs.len + ep->none_outputs.len);
            P2L_TRY(P2L_VEC_PUSH(&ep->none_outputs, position));
            continue;
        }
        if (!get_typed(arg, "as_tensor", P2L_JSON_OBJECT))
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "output %zu is not a tensor; pt2lite models return tensors only", i);
        int id;
        P2L_TRY(tensor_ref(r, arg, &id));
        P2L_TRY(P2L_VEC_PUSH(&ep->user_outputs, id));
    }
    if (ep->user_outputs.len == 0)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "the model returns no tensor (a .tflite model needs an output)");
    return P2L_OK;
}

/* One argument's JSON ({"as_ints": [...]}) -> p2l_arg. */
static p2l_status read_arg(reader *r, const p2l_json *arg, p2l_arg *out) {
    if (!arg || arg->type != P2L_JSON_OBJECT || arg->length != 1) return missing("an argument", arg);
    p2l_arena *arena = &r->ep->arena;
    const char *kind = arg->keys[0];
    const p2l_json *v = &arg->items[0];
    double f;
    if (strcmp(kind, "as_none") == 0) {
        out->kind = P2L_ARG_NONE;
    } else if (strcmp(kind, "as_tensor") == 0) {
        int id;
        P2L_TRY(tensor_ref(r, v, &id));
        out->kind = P2L_ARG_TENSOR;
        out->i = id;
    } else if (strcmp(kind, "as_int") == 0 || strcmp(kind, "as_sym_int") == 0 || strcmp(kind, "as_bool") == 0 ||
               strcmp(kind, "as_scalar_type") == 0 || strcmp(kind, "as_sym_bool") == 0) {
        bool is_bool = strstr(kind, "bool") != NULL;
        out->kind = is_bool ? P2L_ARG_BOOL : strcmp(kind, "as_scalar_type") == 0 ? P2L_ARG_SCALAR_TYPE : P2L_ARG_INT;
        if (v->type == P2L_JSON_NUMBER && v->is_integer) out->i = v->integer;
        else if (v->type == P2L_JSON_BOOL) out->i = v->boolean;
        else if (v->type == P2L_JSON_OBJECT) {
            const p2l_json *b = get_typed(v, "as_bool", P2L_JSON_BOOL);
            out->i = b ? b->boolean : sym_int(v, &out->symbolic);
            if (b) out->kind = P2L_ARG_BOOL;
            else if (out->symbolic) out->sym = sym_expr(r->ep, v);
        } else return missing(kind, v);
        out->f = (double)out->i;
    } else if (strcmp(kind, "as_float") == 0 || strcmp(kind, "as_sym_float") == 0) {
        const p2l_json *num = v->type == P2L_JSON_OBJECT ? get_typed(v, "as_float", P2L_JSON_NUMBER) : v;
        out->kind = P2L_ARG_FLOAT;
        if (num && p2l_json_number(num, &f)) out->f = f;
        else out->symbolic = true;
    } else if (strcmp(kind, "as_string") == 0) {
        if (v->type != P2L_JSON_STRING) return missing(kind, v);
        out->kind = P2L_ARG_STRING;
        out->s = p2l_arena_strdup(arena, v->string);
    } else if (strcmp(kind, "as_ints") == 0 || strcmp(kind, "as_sym_ints") == 0 || strcmp(kind, "as_bools") == 0 ||
               strcmp(kind, "as_floats") == 0 || strcmp(kind, "as_tensors") == 0 ||
               strcmp(kind, "as_optional_tensors") == 0) {
        if (v->type != P2L_JSON_ARRAY) return missing(kind, v);
        bool tensors = strstr(kind, "tensors") != NULL;
        out->kind = tensors ? P2L_ARG_TENSORS
                    : strcmp(kind, "as_bools") == 0 ? P2L_ARG_BOOLS
                    : strcmp(kind, "as_floats") == 0 ? P2L_ARG_FLOATS : P2L_ARG_INTS;
        out->count = (int)v->length;
        out->ints = p2l_arena_alloc(arena, sizeof(int64_t) * (v->length + 1));
        out->floats = p2l_arena_alloc(arena, sizeof(double) * (v->length + 1));
        if (!out->ints || !out->floats) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; i < v->length; i++) {
            const p2l_json *e = &v->items[i];
            if (tensors) {
                int id = -1;
                if (!get_typed(e, "as_none", P2L_JSON_BOOL) && !get_typed(e, "as_none", P2L_JSON_NULL))
                    P2L_TRY(tensor_ref(r, e, &id));
                out->ints[i] = id;
            } else if (e->type == P2L_JSON_NUMBER || e->type == P2L_JSON_STRING) {
                if (!p2l_json_number(e, &f)) return missing(kind, e);
                out->floats[i] = f;
                out->ints[i] = e->is_integer ? e->integer : (int64_t)f;
            } else if (e->type == P2L_JSON_BOOL) {
                out->ints[i] = e->boolean;
                out->floats[i] = e->boolean;
            } else {
                out->ints[i] = sym_int(e, &out->symbolic);
                out->floats[i] = (double)out->ints[i];
                if (out->ints[i] < 0 && !out->syms) {
                    out->syms = p2l_arena_alloc(arena, sizeof(const char *) * v->length);
                    if (!out->syms) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
                    memset(out->syms, 0, sizeof(const char *) * v->length);
                }
                if (out->ints[i] < 0) out->syms[i] = sym_expr(r->ep, e);
            }
        }
    } else {
        /* as_device, as_layout, as_memory_format, ...: carried, not interpreted */
        out->kind = P2L_ARG_OTHER;
    }
    return P2L_OK;
}

/* The innermost stack frame in the user's code (not in torch itself): "file.py:12: code". */
static const char *user_source_line(p2l_arena *arena, const char *trace) {
    if (!trace || !*trace) return "";
    const char *best = NULL, *p = trace;
    while ((p = strstr(p, "File \"")) != NULL) {
        const char *path = p + 6;
        const char *end = strchr(path, '"');
        if (!end) break;
        bool in_torch = false;
        for (const char *q = path; q < end; q++)
            if (strncmp(q, "/torch/", 7) == 0) in_torch = true;
        if (!in_torch || !best) best = p;
        p = end;
    }
    if (!best) return "";
    const char *path = best + 6, *end = strchr(path, '"');
    const char *base = path;
    for (const char *q = path; q < end; q++)
        if (*q == '/') base = q + 1;
    const char *line = strstr(end, "line ");
    int lineno = line ? atoi(line + 5) : 0;
    const char *code = strchr(end, '\n');
    const char *code_end = code ? strchr(code + 1, '\n') : NULL;
    if (code) {
        code++;
        while (*code == ' ') code++;
    }
    int code_len = code ? (int)(code_end ? code_end - code : (ptrdiff_t)strlen(code)) : 0;
    return p2l_arena_printf(arena, "%.*s:%d%s%.*s", (int)(end - base), base, lineno, code_len ? ": " : "",
                            code_len, code ? code : "");
}

/* "L__self__,,Net;L__self__layer1,layer1,torch.nn.Sequential" -> "layer1" (the innermost path). */
static const char *module_path(p2l_arena *arena, const char *stack) {
    if (!stack || !*stack) return "";
    const char *last = strrchr(stack, ';');
    last = last ? last + 1 : stack;
    const char *comma = strchr(last, ',');
    if (!comma) return "";
    const char *end = strchr(comma + 1, ',');
    return p2l_arena_strndup(arena, comma + 1, end ? (size_t)(end - comma - 1) : strlen(comma + 1));
}

static p2l_status read_node(reader *r, const p2l_json *jn, size_t index) {
    p2l_exported *ep = r->ep;
    p2l_arena *arena = &ep->arena;
    const p2l_json *target = get_typed(jn, "target", P2L_JSON_STRING);
    const p2l_json *inputs = get_typed(jn, "inputs", P2L_JSON_ARRAY);
    const p2l_json *outputs = get_typed(jn, "outputs", P2L_JSON_ARRAY);
    const p2l_json *name = get_typed(jn, "name", P2L_JSON_STRING);
    if (!target || !inputs || !outputs) return missing("a node's target, inputs or outputs", jn);
    p2l_aten_node node = {0};
    const char *t = target->string;
    if (strncmp(t, "torch.ops.aten.", 15) == 0) t += 15;
    else if (strncmp(t, "torch.ops.", 10) == 0) t += 10; /* other namespaces keep their name: quantized_decomposed.x */
    node.target = p2l_arena_strdup(arena, t);
    node.name = name ? p2l_arena_strdup(arena, name->string) : p2l_arena_printf(arena, "node_%zu", index);
    const p2l_json *meta = get_typed(jn, "metadata", P2L_JSON_OBJECT);
    const p2l_json *trace = get_typed(meta, "stack_trace", P2L_JSON_STRING);
    const p2l_json *stack = get_typed(meta, "nn_module_stack", P2L_JSON_STRING);
    node.source = user_source_line(arena, trace ? trace->string : NULL);
    node.module_path = module_path(arena, stack ? stack->string : NULL);

    /* Arguments: in schema order, defaults for the ones the archive left out. */
    int si = schema_index(node.target);
    schema_arg sargs[64];
    int nschema = 0;
    if (si >= 0) {
        node.schema = aten_schemas[si].schema;
        nschema = parse_schema_args(node.schema, sargs, 64);
    }
    int cap = nschema + (int)inputs->length;
    node.args = p2l_arena_alloc(arena, sizeof(p2l_arg) * (size_t)(cap + 1));
    if (!node.args) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < nschema; i++) {
        node.args[i].name = p2l_arena_strdup(arena, sargs[i].name);
        node.args[i].kind = P2L_ARG_NONE;
        if (sargs[i].has_default) P2L_TRY(default_arg(arena, &sargs[i], &node.args[i]));
    }
    node.nargs = nschema;
    for (size_t i = 0; i < inputs->length; i++) {
        const p2l_json *in = &inputs->items[i];
        const p2l_json *arg_name = get_typed(in, "name", P2L_JSON_STRING);
        int slot = -1;
        for (int k = 0; arg_name && k < node.nargs; k++)
            if (strcmp(node.args[k].name, arg_name->string) == 0) slot = k;
        if (slot < 0) {
            slot = node.nargs++;
            node.args[slot].name = arg_name ? p2l_arena_strdup(arena, arg_name->string) : "";
        }
        const char *keep = node.args[slot].name;
        memset(&node.args[slot], 0, sizeof node.args[slot]);
        node.args[slot].name = keep;
        p2l_status s = read_arg(r, p2l_json_get(in, "arg"), &node.args[slot]);
        if (s != P2L_OK) return p2l_fail_context(s, "node '%s' (%s), argument '%s'", node.name, node.target, keep);
    }

    size_t total = 0;
    for (size_t i = 0; i < outputs->length; i++) {
        const p2l_json *list = get_typed(&outputs->items[i], "as_tensors", P2L_JSON_ARRAY);
        total += list ? list->length : 1;
    }
    node.noutputs = 0;
    node.outputs = p2l_arena_alloc(arena, sizeof(int) * (total + 1));
    if (!node.outputs) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < outputs->length; i++) {
        const p2l_json *o = &outputs->items[i];
        const p2l_json *list = get_typed(o, "as_tensors", P2L_JSON_ARRAY);
        if (list) {
            for (size_t k = 0; k < list->length; k++) {
                int id;
                P2L_TRY(tensor_ref(r, &list->items[k], &id));
                node.outputs[node.noutputs++] = id;
            }
        } else if (get_typed(o, "as_tensor", P2L_JSON_OBJECT)) {
            int id;
            P2L_TRY(tensor_ref(r, o, &id));
            node.outputs[node.noutputs++] = id;
        } else {
            const p2l_json *sym = get_typed(o, "as_sym_int", P2L_JSON_OBJECT);
            if (sym && !node.sym_output) node.sym_output = sym_expr(ep, sym);
            node.outputs[node.noutputs++] = -1; /* a non-tensor or unnamed output */
        }
    }
    return P2L_VEC_PUSH(&ep->nodes, node);
}

/* The root entry of module_call_graph (fqn "") holds the module's serialized output pytree. */
static p2l_status read_out_spec(p2l_exported *ep, const p2l_json *gm) {
    const p2l_json *calls = get_typed(gm, "module_call_graph", P2L_JSON_ARRAY);
    for (size_t i = 0; calls && i < calls->length; i++) {
        const p2l_json *fqn = get_typed(&calls->items[i], "fqn", P2L_JSON_STRING);
        if (!fqn || fqn->length != 0) continue;
        const p2l_json *sig = get_typed(&calls->items[i], "signature", P2L_JSON_OBJECT);
        const p2l_json *spec = get_typed(sig, "out_spec", P2L_JSON_STRING);
        if (!spec) return P2L_OK;
        ep->out_spec = p2l_arena_strdup(&ep->arena, spec->string);
        return ep->out_spec ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    return P2L_OK;
}

/* graph.sym_int_values (name -> expression and sample value) and the program's range_constraints
 * (symbol -> [min, max]); both absent in a static program. */
static p2l_status read_symbols(p2l_exported *ep, const p2l_json *model, const p2l_json *graph) {
    const p2l_json *symints = get_typed(graph, "sym_int_values", P2L_JSON_OBJECT);
    for (size_t i = 0; symints && i < symints->length; i++) {
        const p2l_json *expr = get_typed(&symints->items[i], "as_expr", P2L_JSON_OBJECT);
        const p2l_json *text = get_typed(expr, "expr_str", P2L_JSON_STRING);
        const p2l_json *hint = get_typed(get_typed(expr, "hint", P2L_JSON_OBJECT), "as_int", P2L_JSON_NUMBER);
        if (!text) continue; /* a plain number: nothing symbolic to remember */
        p2l_symint sym = {p2l_arena_strdup(&ep->arena, symints->keys[i]), p2l_arena_strdup(&ep->arena, text->string),
                          hint && hint->is_integer ? hint->integer : -1};
        if (!sym.name || !sym.expr) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        P2L_TRY(P2L_VEC_PUSH(&ep->symints, sym));
        P2L_TRY(p2l_strmap_put(&ep->symint_ids, sym.name, (int)ep->symints.len - 1));
    }
    const p2l_json *ranges = get_typed(model, "range_constraints", P2L_JSON_OBJECT);
    for (size_t i = 0; ranges && i < ranges->length; i++) {
        const p2l_json *lo = get_typed(&ranges->items[i], "min_val", P2L_JSON_NUMBER);
        const p2l_json *hi = get_typed(&ranges->items[i], "max_val", P2L_JSON_NUMBER);
        p2l_sym_range range = {p2l_arena_strdup(&ep->arena, ranges->keys[i]), lo && lo->is_integer ? lo->integer : 0,
                               hi && hi->is_integer ? hi->integer : INT64_MAX};
        if (!range.symbol) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        P2L_TRY(P2L_VEC_PUSH(&ep->ranges, range));
    }
    return P2L_OK;
}

static p2l_status check_archive(reader *r) {
    if (r->zip.count == 0) return p2l_fail(P2L_ERROR_MALFORMED, "the archive is empty");
    /* Every entry sits under one root folder, named after the archive. */
    const char *first = r->zip.entries[0].name;
    const char *slash = strchr(first, '/');
    if (!slash) return p2l_fail(P2L_ERROR_MALFORMED, "archive entry '%s' is not under a root folder: not a .pt2 archive", first);
    r->root = p2l_arena_strndup(&r->scratch, first, (size_t)(slash - first + 1));
    for (size_t i = 0; i < r->zip.count; i++)
        if (r->zip.entries[i].compressed)
            return p2l_fail(P2L_ERROR_UNSUPPORTED,
                            "archive entry %s is compressed; torch.export.save stores entries uncompressed "
                            "(was the archive re-zipped?)", r->zip.entries[i].name);
    const p2l_zip_entry *fmt = find_entry(r, "archive_format");
    if (!fmt || !fmt->data || fmt->size != 3 || memcmp(fmt->data, "pt2", 3) != 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "%sarchive_format is not 'pt2': not a torch.export.save archive", r->root);
    const p2l_zip_entry *order = find_entry(r, "byteorder");
    if (order && order->data && !(order->size == 6 && memcmp(order->data, "little", 6) == 0))
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "the archive was written on a big-endian machine");
    if (!find_entry(r, "models/model.json")) {
        if (find_entry(r, "data/data.pkl") || find_entry(r, "serialized_exported_program.json"))
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "this archive was written by torch 2.8 or older (pickled format); "
                                                   "re-export it with torch.export.save from torch 2.9 or newer");
        return p2l_fail(P2L_ERROR_MALFORMED, "the archive has no %smodels/model.json", r->root);
    }
    return P2L_OK;
}

p2l_status p2l_pt2_read(const uint8_t *data, size_t size, p2l_exported *ep) {
    return p2l_pt2_read_with_weights(data, size, NULL, 0, 0, ep);
}

/* Indexes the entries of `weights` that belong to `program`. */
static p2l_status index_external(reader *r, const p2l_external_weight *weights, size_t count, size_t program) {
    if (count && !weights)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options: weights is NULL, weight_count %zu", count);
    r->external = weights;
    for (size_t i = 0; i < count; i++) {
        if (weights[i].program != program) continue;
        if (!weights[i].name)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options.weights: entry %zu has no name", i);
        if (i > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "p2l_convert_options.weights: too many entries");
        P2L_TRY(p2l_strmap_put(&r->external_ids, weights[i].name, (int)i));
    }
    return P2L_OK;
}

p2l_status p2l_pt2_read_with_weights(const uint8_t *data, size_t size, const p2l_external_weight *weights,
                                     size_t weight_count, size_t program, p2l_exported *ep) {
    memset(ep, 0, sizeof *ep);
    reader r = {.archive = data, .archive_size = size, .ep = ep};
    p2l_json *model = NULL, *weights_json = NULL, *constants = NULL;
    p2l_status s = p2l_zip_open(data, size, &r.scratch, &r.zip);
    /* What the user did wrong first, the zip detail after it. */
    if (s != P2L_OK && size >= 8 && memcmp(data + 4, "TFL3", 4) == 0)
        s = p2l_fail(P2L_ERROR_MALFORMED, "this is a .tflite model (already converted), not a .pt2 archive: "
                                          "convert reads what torch.export.save writes");
    else if (s != P2L_OK)
        s = p2l_fail_context(s, "not a .pt2 archive written by torch.export.save (save one with "
                                "torch.export.save(ep.run_decompositions(), path))");
    if (s == P2L_OK) s = check_archive(&r);
    if (s == P2L_OK) s = index_external(&r, weights, weight_count, program);
    if (s == P2L_OK) s = read_entry_json(&r, "models/model.json", true, &model);
    if (s == P2L_OK) s = read_entry_json(&r, "data/weights/model_weights_config.json", false, &weights_json);
    if (s == P2L_OK) s = read_entry_json(&r, "data/constants/model_constants_config.json", false, &constants);
    if (s != P2L_OK) goto done;
    r.weights_config = weights_json;
    r.constants_config = constants;

    const p2l_json *schema = get_typed(model, "schema_version", P2L_JSON_OBJECT);
    const p2l_json *major = get_typed(schema, "major", P2L_JSON_NUMBER);
    if (major && major->integer != 8) {
        s = p2l_fail(P2L_ERROR_UNSUPPORTED, "ExportedProgram schema version %lld is not supported (pt2lite reads 8.x)",
                     (long long)major->integer);
        goto done;
    }
    const p2l_json *version = get_typed(model, "torch_version", P2L_JSON_STRING);
    ep->torch_version = version ? p2l_arena_strdup(&ep->arena, version->string) : "";
    const p2l_json *gm = get_typed(model, "graph_module", P2L_JSON_OBJECT);
    const p2l_json *graph = get_typed(gm, "graph", P2L_JSON_OBJECT);
    const p2l_json *nodes = get_typed(graph, "nodes", P2L_JSON_ARRAY);
    if (!graph || !nodes) {
        s = missing("graph_module.graph.nodes", model);
        goto done;
    }
    s = P2L_CHECK_LIMIT(p2l_limits_thread(), max_nodes, nodes->length, "the graph's node count");
    if (s == P2L_OK) s = read_symbols(ep, model, graph);
    if (s == P2L_OK) s = read_values(&r, graph);
    if (s == P2L_OK) s = read_signature(&r, gm);
    if (s == P2L_OK) s = read_out_spec(ep, gm);
    for (size_t i = 0; s == P2L_OK && i < nodes->length; i++) s = read_node(&r, &nodes->items[i], i);
done:
    p2l_arena_free(&r.scratch);
    p2l_strmap_free(&r.external_ids);
    if (s != P2L_OK) p2l_exported_free(ep);
    return s;
}

void p2l_exported_free(p2l_exported *ep) {
    for (size_t i = 0; i < ep->values.len; i++) p2l_release(ep->values.items[i].owned);
    P2L_VEC_FREE(&ep->values);
    P2L_VEC_FREE(&ep->nodes);
    P2L_VEC_FREE(&ep->user_inputs);
    P2L_VEC_FREE(&ep->user_outputs);
    P2L_VEC_FREE(&ep->buffer_mutations);
    P2L_VEC_FREE(&ep->none_outputs);
    P2L_VEC_FREE(&ep->symints);
    P2L_VEC_FREE(&ep->ranges);
    p2l_strmap_free(&ep->symint_ids);
    p2l_strmap_free(&ep->value_ids);
    p2l_arena_free(&ep->arena);
}

const p2l_arg *p2l_node_arg(const p2l_aten_node *node, const char *name) {
    for (int i = 0; i < node->nargs; i++)
        if (strcmp(node->args[i].name, name) == 0) return &node->args[i];
    return NULL;
}

const char *p2l_node_describe(const p2l_aten_node *node, char *buf, size_t size) {
    snprintf(buf, size, "node '%s' (aten.%s)%s%s", node->name, node->target, *node->source ? " at " : "",
             node->source);
    return buf;
}

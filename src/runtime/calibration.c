/* Calibration for the int8 recipe (pt2lite.h, "Calibration"): per-tensor min/max of the float
 * activations over the invocations of an interpreter running the float model.
 *
 * In every build with the converter (the int8 recipe reads the ranges); recording needs the
 * interpreter, so it is compiled only where the runtime is. Ranges are keyed by
 * "<subgraph name>\x1f<tensor name>": the converter writes the same names when it converts the
 * same program again, and the key needs no index that compaction could renumber. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/status.h"
#include "base/strmap.h"
#include "pt2lite.h"

#ifdef P2L_HAVE_CONVERTER

#ifdef P2L_HAVE_RUNTIME
#include "runtime/interpreter.h"
#endif

typedef struct tensor_range {
    float min, max;
    bool nan; /* a recorded value was NaN */
} tensor_range;

struct p2l_calibration {
    p2l_arena arena; /* the keys */
    P2L_VEC(tensor_range) ranges;
    p2l_strmap index; /* key -> position in ranges */
    long invocations;
    p2l_buf key; /* scratch for building a key */
};

p2l_status p2l_calibration_create(p2l_calibration **calibration) {
    if (!calibration) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_calibration_create: NULL argument");
    *calibration = p2l_alloc_zero(sizeof **calibration);
    return *calibration ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a calibration");
}

void p2l_calibration_free(p2l_calibration *c) {
    if (!c) return;
    P2L_VEC_FREE(&c->ranges);
    p2l_strmap_free(&c->index);
    p2l_buf_free(&c->key);
    p2l_arena_free(&c->arena);
    p2l_release(c);
}

long p2l_calibration_invocations(const p2l_calibration *c) { return c ? c->invocations : 0; }

/* The key of (subgraph, tensor) in `key` (NUL-terminated). */
static p2l_status make_key(p2l_buf *key, const char *subgraph, const char *tensor) {
    key->len = 0;
    return p2l_buf_printf(key, "%s\x1f%s", subgraph, tensor);
}

p2l_status p2l_calibration_range(const p2l_calibration *c, const char *subgraph, const char *tensor, float *min,
                                 float *max) {
    if (!c || !subgraph || !tensor || !min || !max)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_calibration_range: NULL argument");
    p2l_buf key = {0};
    p2l_status s = make_key(&key, subgraph, tensor);
    int i = s == P2L_OK ? p2l_strmap_get(&c->index, (const char *)key.data, -1) : -1;
    p2l_buf_free(&key);
    if (s != P2L_OK) return s;
    if (i < 0)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "tensor '%s' of subgraph '%s' has no recorded range (%ld invocations "
                        "recorded): the calibration never reached it, or was recorded on another model", tensor,
                        subgraph, c->invocations);
    const tensor_range *r = &c->ranges.items[i];
    *min = r->nan ? NAN : r->min;
    *max = r->nan ? NAN : r->max;
    return P2L_OK;
}

#ifdef P2L_HAVE_RUNTIME
/* The range of (subgraph, tensor), added empty on first sight. */
static p2l_status find_range(p2l_calibration *c, const char *subgraph, const char *tensor, tensor_range **out) {
    P2L_TRY(make_key(&c->key, subgraph, tensor));
    int i = p2l_strmap_get(&c->index, (const char *)c->key.data, -1);
    if (i < 0) {
        const char *key = p2l_arena_strdup(&c->arena, (const char *)c->key.data);
        if (!key) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory recording a calibration");
        tensor_range empty = {INFINITY, -INFINITY, false};
        i = (int)c->ranges.len;
        if (P2L_VEC_PUSH(&c->ranges, empty) != P2L_OK || p2l_strmap_put(&c->index, key, i) != P2L_OK)
            return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory recording a calibration");
    }
    *out = &c->ranges.items[i];
    return P2L_OK;
}

p2l_status p2l_calibration_record(p2l_calibration *c, p2l_interpreter *it, int subgraph) {
    if (!c) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_calibration_record: NULL calibration");
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_calibration_record"));
    if (subgraph < 0 || subgraph >= it->graph_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_calibration_record: subgraph %d is out of range (%d subgraphs)",
                        subgraph, it->graph_count);
    /* Without it, an intermediate's memory holds whatever a later op wrote there. */
    if (!it->ctx.preserve_all_tensors)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_calibration_record: the interpreter must be created with "
                        "P2L_INTERPRETER_PRESERVE_ALL_TENSORS (intermediate tensors are overwritten otherwise)");
    const p2l_graph *g = &it->graphs[subgraph];
    if (!g->prepared || g->invokes == 0)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_calibration_record: subgraph %d has not been invoked", subgraph);
    const char *name = g->sg->name ? g->sg->name : "";
    for (int i = 0; i < g->sg->tensor_count; i++) {
        const p2l_tensor *t = &g->tensors[i];
        if (t->dtype != P2L_FLOAT32 || t->is_constant || !t->data || t->count == 0) continue;
        tensor_range *r = NULL;
        P2L_TRY(find_range(c, name, t->name ? t->name : "", &r));
        const float *v = t->data;
        float lo = r->min, hi = r->max;
        bool nan = false;
        for (size_t k = 0; k < t->count; k++) {
            lo = v[k] < lo ? v[k] : lo;
            hi = v[k] > hi ? v[k] : hi;
            nan = nan || isnan(v[k]);
        }
        r->min = lo, r->max = hi, r->nan = r->nan || nan;
    }
    c->invocations++;
    return P2L_OK;
}
#else
p2l_status p2l_calibration_record(p2l_calibration *c, p2l_interpreter *it, int subgraph) {
    (void)c, (void)it, (void)subgraph;
    return p2l_fail(P2L_ERROR_UNSUPPORTED, "p2l_calibration_record: this build of pt2lite has no runtime");
}
#endif

#endif /* P2L_HAVE_CONVERTER */

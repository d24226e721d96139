/* torch.export's range constraints on dynamic input sizes, as the converter records them in the
 * file's metadata: a resize outside them is refused with the range, not run into a model that was
 * only proven for sizes within it. */
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "runtime/runtime.h"

/* The position of `tensor` among the inputs of `subgraph`, or -1. */
static int input_position(const p2l_model *model, int subgraph, int tensor) {
    const p2l_tfl_subgraph *g = &model->tfl.subgraphs[subgraph];
    for (int i = 0; i < g->input_count; i++)
        if (g->inputs[i] == tensor) return i;
    return -1;
}

/* Checks dims against one metadata entry's rows for (subgraph, position). */
static p2l_status check_entry(const p2l_model *model, const p2l_tfl_metadata *entry, int subgraph, int position,
                              int tensor, int rank, const int64_t *dims) {
    p2l_arena arena = {0};
    p2l_json *root = NULL;
    p2l_json_limits limits = {0};
    p2l_status s = p2l_json_parse((const char *)entry->data, entry->size, &limits, P2L_DYNAMIC_RANGES_METADATA, &arena,
                                  &root);
    const p2l_json *rows = s == P2L_OK ? p2l_json_get(root, "ranges") : NULL;
    for (size_t r = 0; s == P2L_OK && rows && rows->type == P2L_JSON_ARRAY && r < rows->length; r++) {
        const p2l_json *row = &rows->items[r];
        int64_t f[6];
        bool ok = row->type == P2L_JSON_ARRAY && row->length == 6;
        for (int k = 0; ok && k < 6; k++) {
            ok = row->items[k].type == P2L_JSON_NUMBER && row->items[k].is_integer;
            f[k] = ok ? row->items[k].integer : 0;
        }
        if (!ok || f[0] != subgraph || f[1] != position || f[2] < 0 || f[2] >= rank) continue;
        int64_t size = dims[f[2]], min = f[3], max = f[4], multiple = f[5] > 0 ? f[5] : 1;
        if (size >= min && (max < 0 || size <= max) && size % multiple == 0) continue;
        char range[128];
        int n = max < 0 ? snprintf(range, sizeof range, ">= %lld", (long long)min)
                        : snprintf(range, sizeof range, "%lld..%lld", (long long)min, (long long)max);
        if (multiple > 1) snprintf(range + n, sizeof range - (size_t)n, ", a multiple of %lld", (long long)multiple);
        const char *name = model->tfl.subgraphs[subgraph].tensors[tensor].name;
        s = p2l_fail(P2L_ERROR_INVALID_ARGUMENT,
                     "input '%s' (subgraph %d): size %lld in dim %lld is outside the range the model was exported "
                     "for (%s: torch.export's dynamic_shapes)", name ? name : "?", subgraph, (long long)size,
                     (long long)f[2], range);
    }
    p2l_arena_free(&arena);
    return s;
}

p2l_status p2l_check_dynamic_ranges(const p2l_model *model, int subgraph, int tensor, int rank, const int64_t *dims) {
    if (!model || subgraph < 0 || subgraph >= model->tfl.subgraph_count) return P2L_OK;
    int position = input_position(model, subgraph, tensor);
    for (int i = 0; position >= 0 && i < model->tfl.metadata_count; i++) {
        if (strcmp(model->tfl.metadata[i].name, P2L_DYNAMIC_RANGES_METADATA) != 0) continue;
        P2L_TRY(check_entry(model, &model->tfl.metadata[i], subgraph, position, tensor, rank, dims));
    }
    return P2L_OK;
}

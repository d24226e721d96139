/* What a model holds, for tools that list it (`pt2lite inspect`): the file's description, subgraph
 * names, ops and tensors as declared, read from the verified model without an interpreter. */
#include <string.h>

#include "runtime/runtime.h"

uint32_t p2l_model_schema_version(const p2l_model *model) { return model ? model->tfl.version : 0; }

const char *p2l_model_description(const p2l_model *model) {
    if (!model) return NULL;
    return model->tfl.description ? model->tfl.description : "";
}

static const p2l_tfl_subgraph *subgraph_or_null(const p2l_model *model, int subgraph) {
    if (!model || subgraph < 0 || subgraph >= model->tfl.subgraph_count) return NULL;
    return &model->tfl.subgraphs[subgraph];
}

const char *p2l_model_subgraph_name(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_or_null(model, subgraph);
    if (!sg) return NULL;
    return sg->name ? sg->name : "";
}

int p2l_model_subgraph_tensor_count(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_or_null(model, subgraph);
    return sg ? sg->tensor_count : 0;
}

int p2l_model_subgraph_op_count(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_or_null(model, subgraph);
    return sg ? sg->op_count : 0;
}

static p2l_status find_subgraph(const p2l_model *model, int subgraph, const p2l_tfl_subgraph **sg) {
    if (!model) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the model is NULL");
    *sg = subgraph_or_null(model, subgraph);
    if (!*sg)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "no subgraph %d (the model has %d)", subgraph,
                        model->tfl.subgraph_count);
    return P2L_OK;
}

static p2l_status check_index(int subgraph, int index, int count, const char *what) {
    if (index < 0 || index >= count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d has %d %s; index %d is out of range", subgraph, count,
                        what, index);
    return P2L_OK;
}

p2l_status p2l_model_op(const p2l_model *model, int subgraph, int op, const char **name, int *builtin_code) {
    const p2l_tfl_subgraph *sg;
    P2L_TRY(find_subgraph(model, subgraph, &sg));
    P2L_TRY(check_index(subgraph, op, sg->op_count, "ops"));
    const p2l_op_info *info = p2l_op_info_of(sg->ops[op].op);
    if (name) *name = info->name;
    if (builtin_code) *builtin_code = info->builtin_code;
    return P2L_OK;
}

p2l_status p2l_model_tensor_info(const p2l_model *model, int subgraph, int tensor, p2l_tensor_info *info) {
    const p2l_tfl_subgraph *sg;
    P2L_TRY(find_subgraph(model, subgraph, &sg));
    P2L_TRY(check_index(subgraph, tensor, sg->tensor_count, "tensors"));
    if (!info) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "info is NULL");
    const p2l_tfl_tensor *t = &sg->tensors[tensor];
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    size_t bytes = p2l_dtype_size(t->dtype); /* the reader checked that the product does not overflow */
    for (int d = 0; d < t->rank; d++) {
        info->dims[d] = t->shape[d];
        info->dims_signature[d] = t->shape_signature[d];
        bytes *= (size_t)t->shape[d];
    }
    info->bytes = bytes;
    info->is_constant = t->data != NULL;
    info->quant_count = t->quant_count;
    info->quantized_dimension = t->quantized_dimension;
    info->scale = t->scale;
    info->zero_point = t->zero_point;
    return P2L_OK;
}

/* DYNAMIC_UPDATE_SLICE(operand, update, start_indices): the operand with `update` written at the start
 * read at invoke, each start clamped to [0, operand_dim - update_dim] (LiteRT's and XLA's rule: the
 * update always fits, an out-of-range start moves it to the nearest position that does).
 * The work is the update's size plus one copy of the operand, and no copy when the output shares the
 * operand's buffer (a KV cache updated in its variable's storage: variable_alias.c). */
#include <string.h>

#include "kernels/kernels.h"

static p2l_status dynamic_update_slice_prepare(p2l_node *node) {
    const p2l_tensor *operand = node->inputs[0], *update = node->inputs[1], *start = node->inputs[2];
    P2L_TRY(p2l_expect_same_dtype(update, operand));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], operand));
    if (p2l_dtype_size(operand->dtype) == 0 || operand->dtype == P2L_INT4)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "DYNAMIC_UPDATE_SLICE of %s is not supported",
                        p2l_dtype_name(operand->dtype));
    if (start->dtype != P2L_INT32 && start->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "start indices %s must be int32 or int64", P2L_LABEL(start));
    if (update->rank != operand->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "update %s has rank %d, the operand %d", P2L_LABEL(update), update->rank,
                        operand->rank);
    if (start->rank != 1 || start->dims[0] != operand->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "start indices %s must be a vector of %d entries", P2L_LABEL(start),
                        operand->rank);
    for (int d = 0; d < operand->rank; d++)
        if (update->dims[d] > operand->dims[d])
            return p2l_fail(P2L_ERROR_MALFORMED, "update %s is larger than the operand in dim %d (%d > %d)",
                            P2L_LABEL(update), d, update->dims[d], operand->dims[d]);
    return p2l_set_output_like(node, 0, operand);
}

static p2l_status dynamic_update_slice_invoke(p2l_node *node) {
    const p2l_tensor *operand = node->inputs[0], *update = node->inputs[1], *start = node->inputs[2];
    p2l_tensor *y = node->outputs[0];
    if (y->data != operand->data && y->bytes) memcpy(y->data, operand->data, y->bytes);
    const int rank = operand->rank;
    const size_t esize = p2l_dtype_size(operand->dtype);
    if (rank == 0 || update->count == 0) {
        if (rank == 0 && y->bytes) memcpy(y->data, update->data, esize);
        return P2L_OK;
    }
    int64_t strides[P2L_MAX_DIMS], offset = 0;
    p2l_dims_strides(rank, operand->dims, strides);
    for (int d = 0; d < rank; d++) {
        int64_t s = start->dtype == P2L_INT32 ? ((const int32_t *)start->data)[d] : ((const int64_t *)start->data)[d];
        const int64_t max_start = operand->dims[d] - update->dims[d];
        s = s < 0 ? 0 : s > max_start ? max_start : s;
        offset += s * strides[d];
    }
    /* one contiguous run per row of the update's last dim */
    const size_t run = (size_t)update->dims[rank - 1] * esize;
    const size_t rows = update->count / (size_t)update->dims[rank - 1];
    int32_t index[P2L_MAX_DIMS] = {0};
    const uint8_t *src = update->data;
    uint8_t *dst = y->data;
    for (size_t r = 0; r < rows; r++) {
        int64_t at = offset;
        for (int d = 0; d < rank - 1; d++) at += index[d] * strides[d];
        memmove(dst + (size_t)at * esize, src + r * run, run);
        p2l_index_next(rank - 1, update->dims, index);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_dynamic_update_slice = {
    .prepare = dynamic_update_slice_prepare, .invoke = dynamic_update_slice_invoke,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
};

/* EMBEDDING_LOOKUP(ids, table): output row i is table row ids[i] (ids int32, 1-D; table rank >= 2,
 * output [ids, table dims 1...]). Tables:
 *   - any dtype, output the same dtype: rows copied;
 *   - int8 or int4, output float32 (the hybrid form the weight recipes write, docs/quantization.md):
 *     symmetric, dequantized with the row's scale (per-tensor, or per row: quantized_dimension 0), or
 *     for int4 [rows, columns] block-wise with float16 block scales.
 * The values are LiteRT's (tflite/kernels/embedding_lookup.cc): value x scale rounded once to float,
 * int4 computed as (16 value) x (scale / 16), as LiteRT does, which is the same product. An id out of
 * range is an error, never an out-of-bounds read. */
#include <string.h>

#include "base/float16.h"
#include "kernels/kernels.h"

typedef struct lookup_state {
    size_t rows, columns; /* the table flattened to [rows, columns] */
    bool dequantize;      /* int8 / int4 table, float32 output */
} lookup_state;

static p2l_status lookup_prepare(p2l_node *node) {
    const p2l_tensor *ids = node->inputs[0], *table = node->inputs[1];
    p2l_tensor *out = node->outputs[0];
    P2L_TRY(p2l_expect_dtype(ids, P2L_INT32));
    P2L_TRY(p2l_expect_rank(ids, 1));
    if (table->rank < 2)
        return p2l_fail(P2L_ERROR_MALFORMED, "table %s has rank %d; it needs 2 or more", P2L_LABEL(table), table->rank);
    lookup_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->rows = (size_t)table->dims[0];
    st->columns = p2l_dims_count(table->rank - 1, table->dims + 1);
    st->dequantize = (table->dtype == P2L_INT8 || table->dtype == P2L_INT4) && out->dtype == P2L_FLOAT32;
    if (!st->dequantize) {
        if (table->dtype == P2L_INT4)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "int4 table %s needs a float32 output, got %s", P2L_LABEL(table),
                            p2l_dtype_name(out->dtype));
        P2L_TRY(p2l_expect_same_dtype(out, table));
    } else if (table->block_size) {
        /* the reader checked a 2-D int4 constant, the block size dividing its rows, the scales' shape */
        if (table->dtype != P2L_INT4)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "block-wise table %s must be int4", P2L_LABEL(table));
    } else {
        const bool per_row = table->quant_count > 1;
        if (table->quant_count < 1 || (per_row && (table->quantized_dimension != 0 ||
                                                   (size_t)table->quant_count != st->rows)))
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s table %s needs one scale or one scale per row (dim 0) to be "
                            "read as float32 (has %d along dim %d)", p2l_dtype_name(table->dtype), P2L_LABEL(table),
                            table->quant_count, table->quantized_dimension);
        for (int i = 0; i < table->quant_count; i++)
            if (table->zero_points[i] != 0)
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "table %s has zero point %lld in row %d; only symmetric "
                                "(zero point 0) tables are supported", P2L_LABEL(table),
                                (long long)table->zero_points[i], i);
    }
    node->state = st;
    int32_t dims[P2L_MAX_DIMS];
    memcpy(dims, table->dims, sizeof dims);
    dims[0] = ids->dims[0];
    return p2l_set_output_dims(node, 0, table->rank, dims);
}

static inline float int4_at(const uint8_t *packed, size_t e) {
    const uint8_t b = packed[e / 2];
    return (float)(int8_t)(e % 2 ? b & 0xf0 : (uint8_t)(b << 4)); /* 16 x the value */
}

/* Row `row` of a quantized table, dequantized into out[columns]. */
static void dequantize_row(const p2l_tensor *table, size_t row, size_t columns, float *out) {
    const size_t first = row * columns;
    if (table->dtype == P2L_INT8) {
        const int8_t *v = (const int8_t *)table->data + first;
        const float scale = table->scales[table->quant_count > 1 ? row : 0];
        for (size_t j = 0; j < columns; j++) out[j] = (float)v[j] * scale;
        return;
    }
    const uint8_t *packed = table->data;
    const size_t block = table->block_size ? (size_t)table->block_size : columns;
    for (size_t b = 0; b < columns / block; b++) {
        const float scale = table->block_size ? p2l_f16_to_f32(table->block_scales[row * (columns / block) + b])
                                              : table->scales[table->quant_count > 1 ? row : 0];
        const float sixteenth = scale / 16.0f;
        for (size_t j = b * block; j < (b + 1) * block; j++) out[j] = int4_at(packed, first + j) * sixteenth;
    }
}

static p2l_status lookup_invoke(p2l_node *node) {
    const lookup_state *st = node->state;
    const p2l_tensor *ids = node->inputs[0], *table = node->inputs[1];
    const int32_t *id = ids->data;
    const size_t row_bytes = st->columns * p2l_dtype_size(table->dtype);
    uint8_t *out = node->outputs[0]->data;
    for (size_t i = 0; i < ids->count; i++) {
        if (id[i] < 0 || (size_t)id[i] >= st->rows)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "id %d (position %zu) is out of range [0, %zu)", id[i], i,
                            st->rows);
        if (st->dequantize)
            dequantize_row(table, (size_t)id[i], st->columns, (float *)out + i * st->columns);
        else if (row_bytes)
            memcpy(out + i * row_bytes, (const uint8_t *)table->data + (size_t)id[i] * row_bytes, row_bytes);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_embedding_lookup = {
    .prepare = lookup_prepare, .invoke = lookup_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

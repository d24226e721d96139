/* Weights quantized once per conversion, not once per signature: the signatures of one file (an LLM's
 * prefill and decode) are converted from the same module, so their weights are the same bytes (the
 * same address: p2l_convert_options.weights, or one archive). The first signature's quantized copy is
 * remembered by its source; a later signature's weight with the same source, shape and quantizer
 * borrows it, so the work and the memory are spent once and the writer stores one buffer (it shares
 * by address). Only borrowed sources are remembered: an owned one could be freed and its address
 * reused by other bytes. */
#include <string.h>

#include "passes/passes.h"

typedef struct quantized_weight {
    const void *source;
    size_t source_nbytes;
    int rank;
    int64_t dims[P2L_MAX_DIMS];
    p2l_weight_quantizer quantize;
    int param;
    const void *data;
    p2l_dtype dtype;
    const p2l_quant *quant; /* in the first graph's arena, alive until the model is freed */
} quantized_weight;

static _Thread_local struct {
    bool on;
    P2L_VEC(quantized_weight) items;
} remembered;

void p2l_quantize_once_begin(void) {
    memset(&remembered, 0, sizeof remembered);
    remembered.on = true;
}

void p2l_quantize_once_end(void) {
    P2L_VEC_FREE(&remembered.items);
    memset(&remembered, 0, sizeof remembered);
}

static bool same_source(const quantized_weight *q, const p2l_ir_tensor *t, p2l_weight_quantizer quantize, int param) {
    return q->source == t->data && q->source_nbytes == t->nbytes && q->quantize == quantize && q->param == param &&
           q->rank == t->rank && memcmp(q->dims, t->dims, sizeof(int64_t) * (size_t)t->rank) == 0;
}

/* A tensor of `g` borrowing a remembered quantized copy; -1 on failure (message set). */
static int borrow(p2l_ir_graph *g, const p2l_ir_tensor *source, const quantized_weight *q) {
    p2l_quant *quant = p2l_new_quant(g, q->quant->count, q->quant->axis);
    if (!quant) return -1;
    memcpy(quant->scales, q->quant->scales, sizeof *quant->scales * (size_t)q->quant->count);
    memcpy(quant->zero_points, q->quant->zero_points, sizeof *quant->zero_points * (size_t)q->quant->count);
    int t = p2l_add_const(g, source->name, q->dtype, source->rank, source->dims, q->data, false);
    if (t >= 0) g->tensors.items[t].quant = quant;
    return t;
}

int p2l_quantize_once(p2l_ir_graph *g, int tensor, int param, const char *where, p2l_weight_quantizer quantize) {
    const p2l_ir_tensor source = g->tensors.items[tensor];
    if (!remembered.on || source.owned) return quantize(g, tensor, param, where);
    for (size_t i = 0; i < remembered.items.len; i++)
        if (same_source(&remembered.items.items[i], &source, quantize, param))
            return borrow(g, &source, &remembered.items.items[i]);
    int result = quantize(g, tensor, param, where);
    if (result < 0) return result;
    const p2l_ir_tensor *r = &g->tensors.items[result];
    if (!r->quant || r->quant->block_size) return result; /* only per-channel / per-tensor parameters are copied */
    quantized_weight q = {.source = source.data, .source_nbytes = source.nbytes, .rank = source.rank,
                          .quantize = quantize, .param = param, .data = r->data, .dtype = r->dtype, .quant = r->quant};
    memcpy(q.dims, source.dims, sizeof q.dims);
    if (P2L_VEC_PUSH(&remembered.items, q) != P2L_OK) return -1;
    return result;
}

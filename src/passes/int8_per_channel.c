/* Symmetric per-channel int8 weights, the one quantizer of the dynamic_int8 recipe (weights_int8.c)
 * and the calibrated int8 recipe (quantize_static.c). Both follow TFLite's converter, which makes
 * such weights the same way for its dynamic-range and full-integer recipes: scale max|w| / 127 per
 * channel, zero point 0, values round(w / scale) in [-127, 127] with ties away from zero (std::round
 * in its quantization utilities, ties-to-away in its MLIR quantizer), hence roundf, not nearbyintf. */
#include <math.h>

#include "passes/passes.h"

p2l_quant *p2l_int8_per_channel(p2l_ir_graph *g, int tensor, int axis, const char *where, int8_t **values) {
    const p2l_ir_tensor t = g->tensors.items[tensor];
    const char *name = t.name ? t.name : "a weight";
    const int64_t numel = p2l_ir_tensor_numel(&t), channels = t.dims[axis];
    int64_t inner = 1;
    for (int d = axis + 1; d < t.rank; d++) inner *= t.dims[d];
    int8_t *out = p2l_alloc(numel > 0 ? (size_t)numel : 1);
    p2l_quant *q = p2l_new_quant(g, (int)channels, axis);
    float *max_abs = p2l_alloc_zero((size_t)channels * sizeof *max_abs);
    if (!out || !q || !max_abs) {
        p2l_release(out), p2l_release(max_abs);
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory quantizing %s to int8", name);
        return NULL;
    }
    const float *w = t.data;
    const int64_t outer = numel > 0 ? numel / (channels * inner) : 0; /* numel > 0: no dim is 0 */
    /* rows of `inner` elements, each in one channel: no index division per element (big models);
     * a NaN, once seen, stays the channel's maximum (a > NaN is false) */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            const float *row = w + (o * channels + c) * inner;
            float m = max_abs[c];
            for (int64_t j = 0; j < inner; j++) {
                const float a = fabsf(row[j]);
                m = a > m || isnan(a) ? a : m;
            }
            max_abs[c] = m;
        }
    for (int64_t c = 0; c < channels; c++) {
        if (!isfinite(max_abs[c])) {
            p2l_release(out), p2l_release(max_abs);
            p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: weight '%s' has a NaN or infinite value in channel %lld",
                     where ? where : "int8 weights", name, (long long)c);
            return NULL;
        }
        q->scales[c] = max_abs[c] > 0 ? max_abs[c] / 127.0f : 1.0f; /* an all-zero channel: any scale */
        q->zero_points[c] = 0;
    }
    p2l_release(max_abs);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            const int64_t start = (o * channels + c) * inner;
            const float scale = q->scales[c];
            for (int64_t j = 0; j < inner; j++)
                out[start + j] = (int8_t)fminf(fmaxf(roundf(w[start + j] / scale), -127.0f), 127.0f);
        }
    *values = out;
    return q;
}

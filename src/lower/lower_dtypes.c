/* Floating-point dtypes: pt2lite computes every float value in float32.
 *
 * float64, float16 and bfloat16 values of the exported program become float32 before lowering
 * (their weights converted: exact from float16 and bfloat16, rounded from float64), so every
 * lowering sees one float type. What each keeps is decided here, in one table:
 *   - at the model boundary (the file's inputs and outputs): float64 and float16 stay, with a CAST
 *     on entry and exit; bfloat16, which TFLite has no type for, is float32 in the file;
 *   - in the file's weights: float16 models store float16 weights (a DEQUANTIZE to float32 after
 *     each), bfloat16 models store each weight as float16 where every value is exact, else float32;
 *     float64 weights are float32. */
#include <string.h>

#include "base/float16.h"
#include "lower/lower.h"

/* The archive's ScalarType codes (torch/_export/serde/schema.py). */
enum { TORCH_FLOAT16 = 6, TORCH_FLOAT64 = 8, TORCH_BFLOAT16 = 13 };

static bool is_wide_or_narrow_float(int torch_dtype) {
    return torch_dtype == TORCH_FLOAT16 || torch_dtype == TORCH_FLOAT64 || torch_dtype == TORCH_BFLOAT16;
}

p2l_dtype p2l_boundary_dtype(const p2l_value *v) {
    switch (v->torch_dtype) {
    case TORCH_FLOAT16: return P2L_FLOAT16;
    case TORCH_FLOAT64: return P2L_FLOAT64;
    case TORCH_BFLOAT16: return P2L_FLOAT32;
    default: return v->dtype;
    }
}

/* A float16 or float64 weight's bytes as float32 (bfloat16 weights are float32 already: the reader
 * widens them, as TFLite has no bfloat16 to keep). */
static p2l_status widen_weight(p2l_value *v) {
    size_t elem = p2l_dtype_size(v->dtype), numel = elem ? v->nbytes / elem : 0;
    float *out = p2l_alloc(numel ? numel * sizeof *out : 1);
    if (!out) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory converting '%s' to float32", v->name);
    const unsigned char *in = v->data;
    for (size_t i = 0; i < numel; i++) {
        if (v->dtype == P2L_FLOAT16) {
            uint16_t h;
            memcpy(&h, in + 2 * i, 2);
            out[i] = p2l_f16_to_f32(h);
        } else {
            double d;
            memcpy(&d, in + 8 * i, 8);
            out[i] = (float)d;
        }
    }
    p2l_release(v->owned);
    v->data = v->owned = out;
    v->nbytes = numel * sizeof *out;
    return P2L_OK;
}

p2l_status p2l_lower_float_dtypes(p2l_exported *ep) {
    for (size_t i = 0; i < ep->values.len; i++) {
        p2l_value *v = &ep->values.items[i];
        if (!is_wide_or_narrow_float(v->torch_dtype) || v->dtype == P2L_FLOAT32) continue;
        if (v->data && v->dtype != (p2l_dtype)-1) P2L_TRY(widen_weight(v));
        v->dtype = P2L_FLOAT32;
    }
    return P2L_OK;
}

bool p2l_float_weights_f16(const p2l_exported *ep, bool *exact_only) {
    bool half = false, bfloat = false;
    for (size_t i = 0; i < ep->values.len; i++) {
        const p2l_value *v = &ep->values.items[i];
        if (!p2l_value_is_constant(v)) continue;
        half = half || v->torch_dtype == TORCH_FLOAT16;
        bfloat = bfloat || v->torch_dtype == TORCH_BFLOAT16;
    }
    *exact_only = !half;
    return half || bfloat;
}

/* Metadata "pt2lite_io_dtypes" = {"inputs": [...], "outputs": [...]}: the PyTorch dtype of each
 * model input and output, so the EdgeModel takes and returns the module's dtypes where the file
 * cannot hold them (bfloat16 is float32 in the file). NULL when every one is the file's own. */
const char *p2l_io_dtypes_metadata(const p2l_exported *ep, p2l_arena *arena) {
    bool needed = false;
    for (size_t i = 0; i < ep->user_inputs.len; i++)
        needed = needed || ep->values.items[ep->user_inputs.items[i]].torch_dtype == TORCH_BFLOAT16;
    for (size_t i = 0; i < ep->user_outputs.len; i++)
        needed = needed || ep->values.items[ep->user_outputs.items[i]].torch_dtype == TORCH_BFLOAT16;
    if (!needed) return NULL;
    p2l_buf json = {0};
    const int *ids[2] = {ep->user_inputs.items, ep->user_outputs.items};
    size_t counts[2] = {ep->user_inputs.len, ep->user_outputs.len};
    for (int k = 0; k < 2; k++) {
        p2l_buf_printf(&json, "%s\"%s\": [", k ? ", " : "{", k ? "outputs" : "inputs");
        for (size_t i = 0; i < counts[k]; i++) {
            const p2l_value *v = &ep->values.items[ids[k][i]];
            const char *name = v->torch_dtype == TORCH_BFLOAT16 ? "bfloat16" : p2l_dtype_name(p2l_boundary_dtype(v));
            p2l_buf_printf(&json, "%s\"%s\"", i ? ", " : "", name);
        }
        p2l_buf_printf(&json, "]");
    }
    p2l_buf_printf(&json, "}");
    const char *out = json.data ? p2l_arena_strdup(arena, (const char *)json.data) : NULL;
    p2l_buf_free(&json);
    if (!out) p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory recording the model's dtypes");
    return out;
}

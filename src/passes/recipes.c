/* Built-in quantization recipes (p2l_quantize_recipe, docs/quantization.md): one row per recipe,
 * each a rewrite of an optimized float graph. They run after p2l_optimize, so folding and fusions
 * (batch norm into conv, bias into FULLY_CONNECTED) have seen float32 values. */
#include "passes/passes.h"

static p2l_status recipe_fp16(p2l_ir_graph *g, const p2l_convert_options *options) {
    (void)options;
    /* Small constants (shapes, scalars) stay float32: they would cost a DEQUANTIZE for no bytes. */
    p2l_f16_weights how = {.min_elements = 16, .exact_only = false};
    return p2l_store_weights_f16(g, &how);
}

static p2l_status recipe_dynamic_int8(p2l_ir_graph *g, const p2l_convert_options *options) {
    (void)options;
    return p2l_store_weights_int8(g);
}

static p2l_status recipe_int4_weights(p2l_ir_graph *g, const p2l_convert_options *options) {
    return p2l_store_weights_int4(g, options->quantize_block_size);
}

static const struct {
    p2l_quantize_recipe recipe;
    const char *name;
    p2l_status (*apply)(p2l_ir_graph *g, const p2l_convert_options *options);
} recipes[] = {
    {P2L_QUANTIZE_FP16, "fp16", recipe_fp16},
    {P2L_QUANTIZE_DYNAMIC_INT8, "dynamic_int8", recipe_dynamic_int8},
    {P2L_QUANTIZE_INT8, "int8", p2l_quantize_static},
    {P2L_QUANTIZE_INT4_WEIGHTS, "int4_weights", recipe_int4_weights},
};

p2l_status p2l_apply_recipe(p2l_ir_graph *g, const p2l_convert_options *options) {
    if (options->quantize == P2L_QUANTIZE_NONE) return P2L_OK;
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        if (recipes[i].recipe != options->quantize) continue;
        if (!recipes[i].apply)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "quantization recipe '%s' is not implemented yet", recipes[i].name);
        p2l_status s = recipes[i].apply(g, options);
        return s == P2L_OK ? s : p2l_fail_context(s, "quantization recipe '%s'", recipes[i].name);
    }
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options.quantize: unknown recipe %d", (int)options->quantize);
}

/* TEMPORARY: weak placeholders for lowerings being written (removed when they land). */
#include "lower/lower.h"

__attribute__((weak)) p2l_status p2l_lower_adaptive_avg_pool2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_addmm(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_avg_pool2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_bmm(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_cat(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_constant_pad_nd(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_expand(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_identity(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_log_softmax(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_max_pool2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_mean(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_mm(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_nothing(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_permute(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_select(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_slice(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_softmax(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_squeeze(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_to_copy(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_unsqueeze(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_upsample_bilinear2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_upsample_nearest2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }
__attribute__((weak)) p2l_status p2l_lower_view(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return p2l_unsupported(ctx, "not implemented yet"); }

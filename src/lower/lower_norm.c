/* Normalization from statistics computed in the graph: layer norm, group norm, and batch norm with
 * batch statistics (instance norm, which torch exports as batch norm over a [1, N*C, ...] view).
 *
 * All of them are the same composition over some axes A of the input:
 *   mean = MEAN(x, A, keep)   d = x - mean   var = MEAN(d * d, A, keep)
 *   rstd = RSQRT(var + eps)   y = d * rstd [* weight] [+ bias]
 * It runs in the input's physical layout (the axes are mapped, the per-channel constants are laid
 * out to match), so a norm after a conv stays NHWC and needs no TRANSPOSE. */
#include <string.h>

#include "lower/lower.h"

/* y = (x - mean) * rsqrt(var + eps) over the physical axes in `axes`; mean and rstd (keep_dims
 * shaped) are returned through the pointers. */
static int normalize_var(p2l_lower_ctx *ctx, int x, unsigned axes, double eps, int *mean_out, int *rstd_out,
                         int *var_out) {
    int mean = p2l_reduce(ctx, P2L_OP_MEAN, x, axes, true);
    int d = p2l_binary(ctx, P2L_OP_SUB, x, mean, P2L_FLOAT32);
    int var = p2l_reduce(ctx, P2L_OP_MEAN, p2l_binary(ctx, P2L_OP_MUL, d, d, P2L_FLOAT32), axes, true);
    int eps_t = p2l_const_scalar(ctx, P2L_FLOAT32, eps);
    int rstd = p2l_unary(ctx, P2L_OP_RSQRT, p2l_binary(ctx, P2L_OP_ADD, var, eps_t, P2L_FLOAT32));
    if (mean_out) *mean_out = mean;
    if (rstd_out) *rstd_out = rstd;
    if (var_out) *var_out = var;
    return p2l_binary(ctx, P2L_OP_MUL, d, rstd, P2L_FLOAT32);
}

static int normalize(p2l_lower_ctx *ctx, int x, unsigned axes, double eps, int *mean_out, int *rstd_out) {
    return normalize_var(ctx, x, axes, eps, mean_out, rstd_out, NULL);
}

static bool absent(p2l_lower_ctx *ctx, const char *name) { return p2l_arg_of(ctx, name)->kind != P2L_ARG_TENSOR; }

/* The optional 1-D per-channel argument `name` shaped to broadcast against a rank-`rank` tensor in
 * layout l whose logical axis `axis` holds the channels: every physical dim 1 but the channel's.
 * Constants are reshaped at conversion time (the RESHAPE folds). */
static int channel_operand(p2l_lower_ctx *ctx, const char *name, int rank, const p2l_layout *l, int axis) {
    const p2l_value *v = p2l_value_of(ctx, name);
    if (!v || v->rank != 1) {
        p2l_unsupported(ctx, "'%s' must be a 1-D tensor", name);
        return -1;
    }
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) dims[i] = l->perm[i] == axis ? v->dims[0] : 1;
    int t = p2l_cast(ctx, p2l_input(ctx, name, NULL), P2L_FLOAT32);
    return rank == 1 ? t : p2l_reshape(ctx, t, rank, dims);
}

/* y * weight + bias, each optional. */
static int affine(p2l_lower_ctx *ctx, int y, int weight, int bias) {
    if (weight != -2) y = p2l_binary(ctx, P2L_OP_MUL, y, weight, P2L_FLOAT32);
    if (bias != -2) y = p2l_binary(ctx, P2L_OP_ADD, y, bias, P2L_FLOAT32);
    return y;
}

/* Outputs (y * weight + bias, mean, rstd) of a norm whose optional weight and bias are per channel
 * (logical axis 1); y is in layout l, mean and rstd hold their elements in logical order. */
static p2l_status channel_norm_outputs(p2l_lower_ctx *ctx, int y, int rank, const p2l_layout *l, int mean, int rstd) {
    int w = absent(ctx, "weight") ? -2 : channel_operand(ctx, "weight", rank, l, 1);
    int b = absent(ctx, "bias") ? -2 : channel_operand(ctx, "bias", rank, l, 1);
    if (w == -1 || b == -1) return P2L_ERROR_UNSUPPORTED;
    y = affine(ctx, y, w, b);
    if (y < 0) return P2L_ERROR_UNSUPPORTED;
    P2L_TRY(p2l_alias_output(ctx, 0, y, l));
    P2L_TRY(p2l_logical_output(ctx, 1, mean));
    return p2l_logical_output(ctx, 2, rstd);
}

static bool float_input(p2l_lower_ctx *ctx, const p2l_value *v) {
    if (v->dtype == P2L_FLOAT32 || v->dtype == P2L_FLOAT64) return true;
    p2l_unsupported(ctx, "normalization of a %s tensor (float32 is supported)", p2l_dtype_name(v->dtype));
    return false;
}

/* native_layer_norm(input, normalized_shape, weight, bias, eps) -> (y, mean, rstd): statistics
 * over the trailing len(normalized_shape) axes; mean and rstd keep those axes as size 1. */
p2l_status p2l_lower_layer_norm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "input");
    const p2l_arg *shape = p2l_arg_of(ctx, "normalized_shape");
    if (!in_v || shape->kind != P2L_ARG_INTS) return p2l_unsupported(ctx, "layer norm without a normalized_shape");
    if (!float_input(ctx, in_v)) return P2L_ERROR_UNSUPPORTED;
    int rank = in_v->rank, k = shape->count;
    if (k < 1 || k > rank) return p2l_unsupported(ctx, "normalized_shape of %d dims for a rank-%d input", k, rank);
    p2l_layout l;
    int x = p2l_cast(ctx, p2l_input_any(ctx, "input", &l), P2L_FLOAT32);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    unsigned axes = 0;
    for (int a = rank - k; a < rank; a++) axes |= 1u << p2l_physical_axis(&l, rank, a);
    int mean, rstd;
    int y = normalize(ctx, x, axes, p2l_arg_of(ctx, "eps")->f, &mean, &rstd);
    int w = absent(ctx, "weight") ? -2 : p2l_cast(ctx, p2l_input_broadcast(ctx, "weight", rank, &l, P2L_FLOAT32), P2L_FLOAT32);
    int b = absent(ctx, "bias") ? -2 : p2l_cast(ctx, p2l_input_broadcast(ctx, "bias", rank, &l, P2L_FLOAT32), P2L_FLOAT32);
    if (w == -1 || b == -1) return P2L_ERROR_UNSUPPORTED;
    y = affine(ctx, y, w, b);
    if (y < 0 || mean < 0 || rstd < 0) return P2L_ERROR_UNSUPPORTED;
    P2L_TRY(p2l_alias_output(ctx, 0, y, &l));
    P2L_TRY(p2l_alias_output(ctx, 1, mean, &l));
    return p2l_alias_output(ctx, 2, rstd, &l);
}

/* native_group_norm(input, weight, bias, N, C, HxW, group, eps) -> (y, mean [N, G], rstd [N, G]).
 * Channels-last input (after a conv) is viewed as [N, HxW, G, C/G] and reduced over axes 1 and 3;
 * anything else is taken in logical order as [N, G, C/G * HxW] and reduced over axis 2. */
p2l_status p2l_lower_group_norm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "input");
    if (!in_v || in_v->rank < 2) return p2l_unsupported(ctx, "group norm needs an input of rank >= 2");
    if (!float_input(ctx, in_v)) return P2L_ERROR_UNSUPPORTED;
    int rank = in_v->rank;
    int64_t c = in_v->dims[1], groups = p2l_arg_of(ctx, "group")->i, hw = 1;
    for (int i = 2; i < rank; i++) hw = in_v->dims[i] < 0 || hw < 0 ? -1 : hw * in_v->dims[i];
    if (c < 0 || hw < 0) return p2l_unsupported(ctx, "group norm over a dynamic channel or spatial size");
    if (groups < 1 || c % groups) return p2l_unsupported(ctx, "%lld groups for %lld channels", (long long)groups, (long long)c);
    p2l_layout l;
    int x = p2l_input_any(ctx, "input", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_layout cl = p2l_channels_last_layout(rank);
    bool channels_last = rank >= 3 && memcmp(l.perm, cl.perm, (size_t)rank) == 0;
    if (!channels_last) {
        l = p2l_identity_layout();
        x = p2l_input(ctx, "input", NULL);
    }
    x = p2l_cast(ctx, x, P2L_FLOAT32);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int64_t n = xt.dims[0];
    int64_t grouped[4] = {n, hw, groups, c / groups};
    unsigned axes = (1u << 1) | (1u << 3);
    if (!channels_last) {
        grouped[1] = groups, grouped[2] = (c / groups) * hw;
        axes = 1u << 2;
    }
    int xg = p2l_reshape(ctx, x, channels_last ? 4 : 3, grouped);
    int mean, rstd;
    int y = normalize(ctx, xg, axes, p2l_arg_of(ctx, "eps")->f, &mean, &rstd);
    int64_t dims[P2L_MAX_DIMS];
    memcpy(dims, xt.dims, sizeof dims);
    y = p2l_reshape(ctx, y, rank, dims);
    return channel_norm_outputs(ctx, y, rank, &l, mean, rstd);
}

/* Batch statistics: per channel (logical axis 1) over every other axis, in the input's layout.
 * Outputs (y, save_mean [C], save_rstd [C]); with `running` (the functional op), outputs 3 and 4
 * are the running statistics updated as torch does: (1 - momentum) * old + momentum * batch, the
 * variance unbiased. */
static p2l_status batch_stats_norm(p2l_lower_ctx *ctx, bool running) {
    const p2l_value *in_v = p2l_value_of(ctx, "input");
    if (!in_v || in_v->rank < 2) return p2l_unsupported(ctx, "batch norm needs an input of rank >= 2");
    if (!float_input(ctx, in_v)) return P2L_ERROR_UNSUPPORTED;
    int rank = in_v->rank;
    p2l_layout l;
    int x = p2l_cast(ctx, p2l_input_any(ctx, "input", &l), P2L_FLOAT32);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int channel = p2l_physical_axis(&l, rank, 1);
    unsigned axes = ((1u << rank) - 1) & ~(1u << channel);
    int mean, rstd, var;
    int y = normalize_var(ctx, x, axes, p2l_arg_of(ctx, "eps")->f, &mean, &rstd, &var);
    P2L_TRY(channel_norm_outputs(ctx, y, rank, &l, mean, rstd));
    if (!running) return P2L_OK;
    double count = 1, momentum = p2l_arg_number(ctx, "momentum", 0.1);
    for (int i = 0; i < rank; i++)
        if (i != 1) count *= (double)in_v->dims[i];
    const char *names[2] = {"running_mean", "running_var"};
    int batch[2] = {mean, var};
    for (int k = 0; k < 2; k++) {
        if (!p2l_output_value(ctx, 3 + k)) continue;
        int old = p2l_cast(ctx, p2l_input(ctx, names[k], NULL), P2L_FLOAT32);
        int64_t c = in_v->dims[1];
        int now = p2l_reshape(ctx, batch[k], 1, &c);
        double unbias = k == 1 && count > 1 ? count / (count - 1) : 1;
        int a = p2l_binary(ctx, P2L_OP_MUL, old, p2l_const_scalar(ctx, P2L_FLOAT32, 1 - momentum), P2L_FLOAT32);
        int bb = p2l_binary(ctx, P2L_OP_MUL, now, p2l_const_scalar(ctx, P2L_FLOAT32, momentum * unbias), P2L_FLOAT32);
        P2L_TRY(p2l_logical_output(ctx, 3 + k, p2l_binary(ctx, P2L_OP_ADD, a, bb, P2L_FLOAT32)));
    }
    return P2L_OK;
}

/* _native_batch_norm_legit.no_stats(input, weight, bias, training, momentum, eps): no running
 * statistics, so the batch's own (instance norm exports as this with training=True). */
p2l_status p2l_lower_batch_norm_no_stats(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    if (!p2l_arg_of(ctx, "training")->i)
        return p2l_unsupported(ctx, "batch norm without running statistics and training=False (torch rejects it too)");
    return batch_stats_norm(ctx, false);
}

/* _native_batch_norm_legit.default(input, weight, bias, running_mean, running_var, training,
 * momentum, eps): training=False uses the running statistics (folded like the no_training op);
 * training=True normalizes with the batch's statistics (the running-statistics update is a buffer
 * mutation an inference model does not keep). */
p2l_status p2l_lower_batch_norm_legit(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    if (!p2l_arg_of(ctx, "training")->i) return p2l_lower_batch_norm(ctx, node);
    return batch_stats_norm(ctx, false);
}

/* _native_batch_norm_legit_functional(input, weight, bias, running_mean, running_var, training,
 * momentum, eps) -> (y, mean, rstd, running_mean_out, running_var_out): what export leaves for a
 * batch norm whose running statistics would be updated. training=False: the running statistics
 * (folded) and passed through unchanged; training=True: batch statistics and the updated running
 * ones. */
p2l_status p2l_lower_batch_norm_functional(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    if (p2l_arg_of(ctx, "training")->i) return batch_stats_norm(ctx, true);
    P2L_TRY(p2l_lower_batch_norm(ctx, node));
    const char *names[2] = {"running_mean", "running_var"};
    for (int k = 0; k < 2; k++)
        if (p2l_output_value(ctx, 3 + k)) P2L_TRY(p2l_alias_output(ctx, 3 + k, p2l_input(ctx, names[k], NULL), NULL));
    return P2L_OK;
}

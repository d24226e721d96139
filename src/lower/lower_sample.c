/* grid_sampler_2d (F.grid_sample): sampling an image at positions given by a grid, composed from
 * builtins because TFLite has no sampling op.
 *
 * Per output pixel, the grid's normalized (x, y) in [-1, 1] become source coordinates exactly as
 * torch computes them (unnormalize, then clip for 'border' or reflect and clip for 'reflection');
 * 'bilinear' takes the four pixels around the point (FLOOR, corner weights from the fraction),
 * 'nearest' the pixel at ROUND (half to even, as torch's nearbyint). Pixels are fetched with one
 * GATHER per corner from the NHWC image flattened to rows of C channels, at the row index
 * (batch * H + y) * W + x. torch makes a corner outside the image contribute zero: for 'zeros' the
 * image gets a one-pixel border of zeros and every corner index is clamped into the bordered
 * image, so any outside corner lands on a zero and needs no mask; for 'border' and 'reflection' the
 * coordinates are already inside and only the far corner of a point on the last row/column (weight
 * exactly 0) can step out, so clamping it to the edge changes nothing.
 *
 * The coordinate arithmetic is float (ADD MUL SUB DIV FLOOR ROUND ABS MAXIMUM MINIMUM, all taken by
 * LiteRT's XNNPACK path); row indices are whole numbers there, exact in float32 while the bordered
 * image has at most 2^24 pixels (larger images switch to int32 arithmetic after the clamp). Only
 * the final CAST and the GATHERs run outside XNNPACK. 'bicubic' is refused. */
#include <string.h>

#include "lower/lower.h"

enum { MODE_BILINEAR = 0, MODE_NEAREST = 1, MODE_BICUBIC = 2 };
enum { PAD_ZEROS = 0, PAD_BORDER = 1, PAD_REFLECTION = 2 };

static const char *const padding_names[] = {"zeros", "border", "reflection"};

/* Largest whole number float32 holds exactly along with all smaller ones. */
static const int64_t FLOAT_EXACT_INTEGERS = (int64_t)1 << 24;

static int scalar(p2l_lower_ctx *ctx, p2l_dtype dtype, double v) { return p2l_const_scalar(ctx, dtype, v); }

static int add_scalar(p2l_lower_ctx *ctx, int x, double v) {
    if (x < 0) return -1;
    p2l_dtype dtype = ctx->g->tensors.items[x].dtype;
    return v == 0 ? x : p2l_binary(ctx, P2L_OP_ADD, x, scalar(ctx, dtype, v), dtype);
}

static int mul_scalar(p2l_lower_ctx *ctx, int x, double v) {
    if (x < 0) return -1;
    p2l_dtype dtype = ctx->g->tensors.items[x].dtype;
    return v == 1 ? x : p2l_binary(ctx, P2L_OP_MUL, x, scalar(ctx, dtype, v), dtype);
}

/* min(max(x, lo), hi), in x's dtype. */
static int clamp(p2l_lower_ctx *ctx, int x, double lo, double hi) {
    if (x < 0) return -1;
    p2l_dtype dtype = ctx->g->tensors.items[x].dtype;
    int low = p2l_binary(ctx, P2L_OP_MAXIMUM, x, scalar(ctx, dtype, lo), dtype);
    return p2l_binary(ctx, P2L_OP_MINIMUM, low, scalar(ctx, dtype, hi), dtype);
}

/* Channel `c` of the logical grid [N, Ho, Wo, 2] as [N, Ho, Wo, 1] (STRIDED_SLICE). */
static int grid_channel(p2l_lower_ctx *ctx, int grid, int c) {
    if (grid < 0) return -1;
    const p2l_ir_tensor gt = ctx->g->tensors.items[grid];
    int32_t begin[4] = {0, 0, 0, c}, end[4] = {(int32_t)gt.dims[0], (int32_t)gt.dims[1], (int32_t)gt.dims[2], c + 1};
    int32_t strides[4] = {1, 1, 1, 1};
    int64_t dims[4] = {gt.dims[0], gt.dims[1], gt.dims[2], 1};
    int out = p2l_temp(ctx, c ? "grid_y" : "grid_x", gt.dtype, 4, dims);
    int ins[4] = {grid, p2l_const_i32(ctx, 4, begin), p2l_const_i32(ctx, 4, end), p2l_const_i32(ctx, 4, strides)};
    return p2l_emit(ctx, P2L_OP_STRIDED_SLICE, 4, ins, 1, &out) < 0 ? -1 : out;
}

/* Folds x into [low, low + span] as a mirror does (torch's reflect_coordinates with
 * twice_low = 2 * low): d = |x - low|, r = d mod 2*span, result low + min(r, 2*span - r). */
static int reflect(p2l_lower_ctx *ctx, int x, double low, double span) {
    int d = p2l_unary(ctx, P2L_OP_ABS, add_scalar(ctx, x, -low));
    int periods = p2l_unary(ctx, P2L_OP_FLOOR,
                            p2l_binary(ctx, P2L_OP_DIV, d, scalar(ctx, P2L_FLOAT32, 2 * span), P2L_FLOAT32));
    int r = p2l_binary(ctx, P2L_OP_SUB, d, mul_scalar(ctx, periods, 2 * span), P2L_FLOAT32);
    int mirrored = p2l_binary(ctx, P2L_OP_SUB, scalar(ctx, P2L_FLOAT32, 2 * span), r, P2L_FLOAT32);
    return add_scalar(ctx, p2l_binary(ctx, P2L_OP_MINIMUM, r, mirrored, P2L_FLOAT32), low);
}

/* The source coordinate (in pixels) of normalized grid values g along an axis of `size` pixels,
 * as torch's grid_sampler_compute_source_index: (g + 1) * (size - 1) / 2 with align_corners, else
 * (g + 1) * size / 2 - 0.5 (torch's CPU kernel evaluates it in this order); then the padding
 * mode's clip or reflection. */
static int source_coordinate(p2l_lower_ctx *ctx, int g, int64_t size, int padding, bool align_corners) {
    double scale = align_corners ? (double)(size - 1) / 2 : (double)size / 2;
    int x = mul_scalar(ctx, add_scalar(ctx, g, 1), scale);
    if (!align_corners) x = add_scalar(ctx, x, -0.5);
    if (padding == PAD_REFLECTION) {
        /* align_corners mirrors at the centers of the edge pixels (0 and size-1), otherwise at their
         * outer edges (-0.5 and size-0.5); a single pixel with align_corners has nothing to mirror
         * and its coordinate is already 0. */
        if (align_corners && size > 1)
            x = reflect(ctx, x, 0, (double)(size - 1));
        else if (!align_corners)
            x = reflect(ctx, x, -0.5, (double)size);
    }
    if (padding != PAD_ZEROS) x = clamp(ctx, x, 0, (double)(size - 1));
    return x;
}

/* One corner's pixel coordinate along an axis: `base` (a whole number) + `offset`, shifted into
 * the bordered image (`border` pixels on each side) and clamped into it. Without a border the
 * base is already inside [0, size-1] (the coordinate was clipped), so only the far corner
 * (offset 1) needs its upper bound. */
static int corner_index(p2l_lower_ctx *ctx, int base, int offset, int64_t size, int border) {
    int shifted = add_scalar(ctx, base, offset + border);
    if (border) return clamp(ctx, shifted, 0, (double)(size - 1 + 2 * border));
    if (!offset) return shifted;
    return p2l_binary(ctx, P2L_OP_MINIMUM, shifted, scalar(ctx, P2L_FLOAT32, (double)(size - 1)), P2L_FLOAT32);
}

/* GATHER of rows from the flattened image [N*Hb*Wb, C] at row indices [N, Ho, Wo, 1] (any
 * numeric dtype holding whole numbers): [N, Ho, Wo, C]. */
static int gather_rows(p2l_lower_ctx *ctx, int rows, int index) {
    if (rows < 0 || index < 0) return -1;
    const p2l_ir_tensor it = ctx->g->tensors.items[index];
    int64_t idims[3] = {it.dims[0], it.dims[1], it.dims[2]};
    int flat = p2l_reshape(ctx, p2l_cast(ctx, index, P2L_INT32), 3, idims);
    const p2l_ir_tensor rt = ctx->g->tensors.items[rows];
    int64_t dims[4] = {it.dims[0], it.dims[1], it.dims[2], rt.dims[1]};
    int out = p2l_temp(ctx, "corner", rt.dtype, 4, dims);
    int ins[2] = {rows, flat};
    int n = p2l_emit(ctx, P2L_OP_GATHER, 2, ins, 1, &out);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "axis", 0);
    p2l_set_option(ctx->g, n, "batch_dims", 0);
    return out;
}

/* The index of the first row of image row `yc` (a clamped corner coordinate):
 * yc * Wb + batch * Hb * Wb, in `dtype`. */
static int row_start(p2l_lower_ctx *ctx, int yc, int64_t bordered_w, int batch_offset, p2l_dtype dtype) {
    int start = mul_scalar(ctx, p2l_cast(ctx, yc, dtype), (double)bordered_w);
    return batch_offset < 0 ? start : p2l_binary(ctx, P2L_OP_ADD, start, batch_offset, dtype);
}

/* grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners) */
p2l_status p2l_lower_grid_sampler_2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "input"), *grid_v = p2l_value_of(ctx, "grid");
    if (!in_v || !grid_v) return p2l_unsupported(ctx, "grid_sampler_2d needs an input and a grid tensor");
    int64_t mode = p2l_arg_of(ctx, "interpolation_mode")->i, padding = p2l_arg_of(ctx, "padding_mode")->i;
    bool align_corners = p2l_arg_of(ctx, "align_corners")->i != 0;
    if (mode < 0 || mode > MODE_BICUBIC)
        return p2l_unsupported(ctx, "unknown interpolation mode %lld", (long long)mode);
    if (padding < 0 || padding > PAD_REFLECTION)
        return p2l_unsupported(ctx, "unknown padding mode %lld", (long long)padding);
    if (mode == MODE_BICUBIC)
        return p2l_unsupported(ctx, "grid_sample mode='bicubic' (padding_mode='%s') is not supported: use "
                                    "mode='bilinear' or 'nearest'",
                               padding_names[padding]);
    if (in_v->rank != 4 || grid_v->rank != 4 || grid_v->dims[3] != 2)
        return p2l_unsupported(ctx, "grid_sample needs a 4-D input and an [N, H, W, 2] grid");
    for (int i = 0; i < 4; i++)
        if (in_v->dims[i] < 0 || grid_v->dims[i] < 0)
            return p2l_unsupported(ctx, "grid_sample with dynamic sizes (the sampling arithmetic needs static ones)");
    if (in_v->dtype != P2L_FLOAT32 && in_v->dtype != P2L_FLOAT64)
        return p2l_unsupported(ctx, "grid_sample of a %s input", p2l_dtype_name(in_v->dtype));
    if (grid_v->dtype != P2L_FLOAT32 && grid_v->dtype != P2L_FLOAT64)
        return p2l_unsupported(ctx, "grid_sample with a %s grid", p2l_dtype_name(grid_v->dtype));
    if (grid_v->dims[0] != in_v->dims[0])
        return p2l_unsupported(ctx, "grid_sample with a grid batch of %lld for an input batch of %lld",
                               (long long)grid_v->dims[0], (long long)in_v->dims[0]);

    int64_t batch = in_v->dims[0], channels = in_v->dims[1], height = in_v->dims[2], width = in_v->dims[3];
    /* 'zeros' reads out-of-image corners from a border of zeros; the other modes stay inside. */
    int border = padding == PAD_ZEROS ? 1 : 0;
    int64_t bordered_h = height + 2 * border, bordered_w = width + 2 * border;
    int64_t rows_total = batch * bordered_h * bordered_w;
    if (rows_total > INT32_MAX)
        return p2l_unsupported(ctx, "grid_sample of an input of %lld pixels (above int32 indices)",
                               (long long)rows_total);

    p2l_layout nhwc = p2l_channels_last_layout(4);
    int image = p2l_input(ctx, "input", &nhwc);
    if (image >= 0 && border) {
        const int64_t before[2] = {border, border}, after[2] = {border, border};
        image = p2l_pad_spatial(ctx, image, before, after, 0);
    }
    int64_t row_dims[2] = {rows_total, channels};
    int rows = image < 0 ? -1 : p2l_reshape(ctx, image, 2, row_dims);

    int grid = p2l_input(ctx, "grid", NULL);
    int x = source_coordinate(ctx, grid_channel(ctx, grid, 0), width, (int)padding, align_corners);
    int y = source_coordinate(ctx, grid_channel(ctx, grid, 1), height, (int)padding, align_corners);

    /* Row indices are whole numbers: float while they stay exact, else int32 after the clamp. */
    p2l_dtype index_dtype = rows_total <= FLOAT_EXACT_INTEGERS ? P2L_FLOAT32 : P2L_INT32;
    /* The first row of each image: a [N, 1, 1, 1] constant added to the y part of the index, made
     * in the index dtype (as float32 it is exact only in the float case). */
    int batch_offset = -1;
    if (batch > 1) {
        int32_t *offsets = p2l_alloc(sizeof(int32_t) * (size_t)batch);
        if (!offsets) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (int64_t b = 0; b < batch; b++) offsets[b] = (int32_t)(b * bordered_h * bordered_w);
        int64_t dims[4] = {batch, 1, 1, 1};
        batch_offset = p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "batch_offsets"), 4,
                                         dims, offsets);
        p2l_release(offsets);
        /* a CAST of a constant, folded by the optimizer */
        batch_offset = p2l_cast(ctx, batch_offset, index_dtype);
        if (batch_offset < 0) return P2L_ERROR_UNSUPPORTED;
    }
    int result;
    if (mode == MODE_NEAREST) {
        int xc = corner_index(ctx, p2l_unary(ctx, P2L_OP_ROUND, x), 0, width, border);
        int yc = corner_index(ctx, p2l_unary(ctx, P2L_OP_ROUND, y), 0, height, border);
        int start = row_start(ctx, yc, bordered_w, batch_offset, index_dtype);
        int index = p2l_binary(ctx, P2L_OP_ADD, start, p2l_cast(ctx, xc, index_dtype), index_dtype);
        result = gather_rows(ctx, rows, index);
    } else {
        int x0 = p2l_unary(ctx, P2L_OP_FLOOR, x), y0 = p2l_unary(ctx, P2L_OP_FLOOR, y);
        /* weights of the far (x0+1, y0+1) and near corners along each axis */
        int wx1 = p2l_binary(ctx, P2L_OP_SUB, x, x0, P2L_FLOAT32);
        int wy1 = p2l_binary(ctx, P2L_OP_SUB, y, y0, P2L_FLOAT32);
        int wx0 = p2l_binary(ctx, P2L_OP_SUB, scalar(ctx, P2L_FLOAT32, 1), wx1, P2L_FLOAT32);
        int wy0 = p2l_binary(ctx, P2L_OP_SUB, scalar(ctx, P2L_FLOAT32, 1), wy1, P2L_FLOAT32);
        int xs[2] = {p2l_cast(ctx, corner_index(ctx, x0, 0, width, border), index_dtype),
                     p2l_cast(ctx, corner_index(ctx, x0, 1, width, border), index_dtype)};
        int row_starts[2];
        for (int dy = 0; dy < 2; dy++)
            row_starts[dy] = row_start(ctx, corner_index(ctx, y0, dy, height, border), bordered_w, batch_offset,
                                       index_dtype);
        int wx[2] = {wx0, wx1}, wy[2] = {wy0, wy1};
        /* torch's order: north-west, north-east, south-west, south-east */
        result = -1;
        for (int dy = 0; dy < 2; dy++) {
            for (int dx = 0; dx < 2; dx++) {
                int index = p2l_binary(ctx, P2L_OP_ADD, row_starts[dy], xs[dx], index_dtype);
                int weight = p2l_binary(ctx, P2L_OP_MUL, wx[dx], wy[dy], P2L_FLOAT32);
                int term = p2l_binary(ctx, P2L_OP_MUL, gather_rows(ctx, rows, index), weight, P2L_FLOAT32);
                result = dy == 0 && dx == 0 ? term : p2l_binary(ctx, P2L_OP_ADD, result, term, P2L_FLOAT32);
            }
        }
    }
    return p2l_set_output(ctx, 0, result, &nhwc);
}

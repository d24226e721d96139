/* Typed options (kernels/options.c): p2l_parse_options puts each field the file holds, by its
 * options.def id, into the member of the op's struct, with the C type of its options.def type. */
#include <math.h>

#include "check.h"
#include "kernels/kernels.h"

/* A node of `op` whose raw options are its table's defaults. */
static p2l_node node_of(p2l_op op, int64_t *raw) {
    const p2l_options_info *info = p2l_options_info_of(p2l_op_info_of(op)->options);
    for (int i = 0; i < P2L_MAX_OPTION_FIELDS; i++) raw[i] = i < info->field_count ? info->fields[i].default_value : 0;
    return (p2l_node){.op = op, .options = raw};
}

static void set(p2l_node *node, int64_t *raw, const char *name, int64_t value) {
    int id = p2l_option_field(node->op, name);
    CHECK(id >= 0);
    if (id >= 0) raw[id] = value;
}

static void test_conv_fields_by_id(void) {
    int64_t raw[P2L_MAX_OPTION_FIELDS];
    p2l_node n = node_of(P2L_OP_CONV_2D, raw);
    set(&n, raw, "padding", P2L_PAD_VALID);
    set(&n, raw, "stride_w", 3);
    set(&n, raw, "stride_h", 5);
    set(&n, raw, "fused_activation_function", P2L_ACT_RELU6);
    set(&n, raw, "dilation_h_factor", 7);
    p2l_parse_options(&n);
    const p2l_conv2d_options *o = &n.opts.conv2d;
    CHECK_EQ_INT(o->padding, P2L_PAD_VALID);
    CHECK_EQ_INT(o->stride_w, 3);
    CHECK_EQ_INT(o->stride_h, 5);
    CHECK_EQ_INT(o->fused_activation_function, P2L_ACT_RELU6);
    CHECK_EQ_INT(o->dilation_w_factor, 1); /* options.def default */
    CHECK_EQ_INT(o->dilation_h_factor, 7);
    CHECK_EQ_INT(p2l_fused_activation(&n), P2L_ACT_RELU6);
}

static void test_defaults_without_raw_options(void) {
    p2l_node n = {.op = P2L_OP_SOFTMAX};
    p2l_parse_options(&n);
    CHECK(n.opts.softmax.beta == 1.0f);
    n = (p2l_node){.op = P2L_OP_DEPTHWISE_CONV_2D};
    p2l_parse_options(&n);
    CHECK_EQ_INT(n.opts.depthwise_conv2d.dilation_w_factor, 1);
    CHECK_EQ_INT(n.opts.depthwise_conv2d.dilation_h_factor, 1);
    CHECK_EQ_INT(n.opts.depthwise_conv2d.stride_w, 0);
}

static void test_types(void) {
    int64_t raw[P2L_MAX_OPTION_FIELDS];
    p2l_node n = node_of(P2L_OP_LEAKY_RELU, raw);
    set(&n, raw, "alpha", p2l_f32_bits(0.125f));
    p2l_parse_options(&n);
    CHECK(n.opts.leaky_relu.alpha == 0.125f);

    n = node_of(P2L_OP_RANDOM_STANDARD_NORMAL, raw);
    set(&n, raw, "seed2", INT64_C(1) << 40);
    p2l_parse_options(&n);
    CHECK(n.opts.random.seed2 == INT64_C(1) << 40);
    CHECK_EQ_INT(n.opts.random.seed, 0);

    n = node_of(P2L_OP_STRIDED_SLICE, raw);
    set(&n, raw, "shrink_axis_mask", -2);
    set(&n, raw, "offset", 1);
    p2l_parse_options(&n);
    CHECK_EQ_INT(n.opts.strided_slice.shrink_axis_mask, -2);
    CHECK(n.opts.strided_slice.offset);
    CHECK_EQ_INT(n.opts.strided_slice.begin_mask, 0);

    n = node_of(P2L_OP_CAST, raw);
    set(&n, raw, "out_data_type", P2L_INT64);
    p2l_parse_options(&n);
    CHECK_EQ_INT(n.opts.cast.out_data_type, P2L_INT64);
    CHECK_EQ_INT(n.opts.cast.in_data_type, P2L_FLOAT32); /* 0 */

    n = node_of(P2L_OP_MIRROR_PAD, raw);
    set(&n, raw, "mode", P2L_MIRROR_SYMMETRIC);
    p2l_parse_options(&n);
    CHECK_EQ_INT(n.opts.mirror_pad.mode, P2L_MIRROR_SYMMETRIC);
}

/* RESIZE_BILINEAR's ids 0 and 1 are deprecated: align_corners is id 2. */
static void test_deprecated_ids_are_skipped(void) {
    int64_t raw[P2L_MAX_OPTION_FIELDS];
    p2l_node n = node_of(P2L_OP_RESIZE_BILINEAR, raw);
    CHECK_EQ_INT(p2l_option_field(P2L_OP_RESIZE_BILINEAR, "align_corners"), 2);
    set(&n, raw, "half_pixel_centers", 1);
    p2l_parse_options(&n);
    CHECK(!n.opts.resize_bilinear.align_corners);
    CHECK(n.opts.resize_bilinear.half_pixel_centers);
}

static void test_int_vectors(void) {
    static const int32_t shape[] = {2, -1, 4};
    p2l_node n = {.op = P2L_OP_RESHAPE, .has_option_ints = true, .option_int_count = 3, .option_ints = shape};
    p2l_parse_options(&n);
    CHECK(n.opts.reshape.new_shape.present);
    CHECK_EQ_INT(n.opts.reshape.new_shape.count, 3);
    CHECK(n.opts.reshape.new_shape.values == shape);

    n = (p2l_node){.op = P2L_OP_RESHAPE, .has_option_ints = true}; /* a scalar's empty new_shape */
    p2l_parse_options(&n);
    CHECK(n.opts.reshape.new_shape.present);
    CHECK_EQ_INT(n.opts.reshape.new_shape.count, 0);

    n = (p2l_node){.op = P2L_OP_SQUEEZE};
    p2l_parse_options(&n);
    CHECK(!n.opts.squeeze.squeeze_dims.present);
    CHECK_EQ_INT(n.opts.squeeze.squeeze_dims.count, 0);
}

static void test_fused_activation(void) {
    int64_t raw[P2L_MAX_OPTION_FIELDS];
    static const p2l_op with[] = {P2L_OP_ADD, P2L_OP_SUB, P2L_OP_MUL, P2L_OP_DIV, P2L_OP_CONV_2D,
                                  P2L_OP_DEPTHWISE_CONV_2D, P2L_OP_TRANSPOSE_CONV, P2L_OP_FULLY_CONNECTED,
                                  P2L_OP_MAX_POOL_2D, P2L_OP_CONCATENATION, P2L_OP_L2_NORMALIZATION};
    for (size_t i = 0; i < sizeof with / sizeof *with; i++) {
        p2l_node n = node_of(with[i], raw);
        set(&n, raw, "fused_activation_function", P2L_ACT_TANH);
        p2l_parse_options(&n);
        CHECK_EQ_INT(p2l_fused_activation(&n), P2L_ACT_TANH);
    }
    static const p2l_op without[] = {P2L_OP_RELU, P2L_OP_RESHAPE, P2L_OP_SOFTMAX, P2L_OP_MAXIMUM};
    for (size_t i = 0; i < sizeof without / sizeof *without; i++) {
        p2l_node n = node_of(without[i], raw);
        for (int f = 0; f < P2L_MAX_OPTION_FIELDS; f++) raw[f] = P2L_ACT_TANH; /* no field is the activation */
        p2l_parse_options(&n);
        CHECK_EQ_INT(p2l_fused_activation(&n), P2L_ACT_NONE);
    }
}

int main(void) {
    RUN(test_conv_fields_by_id);
    RUN(test_defaults_without_raw_options);
    RUN(test_types);
    RUN(test_deprecated_ids_are_skipped);
    RUN(test_int_vectors);
    RUN(test_fused_activation);
    return check_summary();
}

/* Integer arithmetic of quantized (int8, uint8, int16) kernels, as TFLite's reference kernels do it,
 * so pt2lite's int8 outputs equal LiteRT's: a real multiplier becomes a Q31 fixed-point multiplier
 * and a power-of-two shift (p2l_quantize_multiplier), and a product is rescaled by the doubling
 * high multiply and a rounding right shift (p2l_multiply_by_quantized_multiplier), each rounding
 * as gemmlowp does. Also the tensors' quantization parameters as kernels
 * need them, checked. */
#ifndef P2L_KERNELS_QUANT_MATH_H
#define P2L_KERNELS_QUANT_MATH_H

#include "kernels/kernels.h"

typedef struct p2l_multiplier {
    int32_t multiplier; /* Q31, in [2^30, 2^31) or 0 */
    int shift;          /* > 0: left shift before the multiply; < 0: rounding right shift after */
} p2l_multiplier;

/* real = multiplier * 2^(shift - 31), the mantissa rounded half away from zero; 0 for 0. */
p2l_multiplier p2l_quantize_multiplier(double real);

/* (a * b * 2) / 2^32 rounded to nearest: positive ties up, negative ties toward zero (gemmlowp's
 * nudge); INT32_MIN * INT32_MIN saturates. */
static inline int32_t p2l_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (int64_t)1 << 30 : 1 - ((int64_t)1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero, as C++'s */
}

/* x / 2^exponent rounded to nearest, ties away from zero (exponent in [0, 31]). */
static inline int32_t p2l_rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * real (the multiplier's real value), rounded twice as TFLite's default build does: the high
 * multiply, then the shift. */
static inline int32_t p2l_multiply_by_quantized_multiplier(int32_t x, p2l_multiplier m) {
    const int left = m.shift > 0 ? m.shift : 0, right = m.shift > 0 ? 0 : -m.shift;
    /* The left shift wraps as TFLite's int32 multiply does on every compiler it ships with. */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return p2l_rounding_divide_by_pot(p2l_saturating_rounding_doubling_high_mul(shifted, m.multiplier), right);
}

static inline int32_t p2l_clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Round half away from zero of a float, saturated to int32 (TfLiteRound then a cast; NaN gives 0). */
int32_t p2l_round_to_i32(float v);

/* TFLite's AffineQuantize of one value: round(v / scale) in float, plus the zero point, clamped to
 * [lo, hi]. */
static inline int32_t p2l_affine_quantize(float v, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
    const int64_t q = (int64_t)p2l_round_to_i32(v / scale) + zero_point;
    return (int32_t)(q < lo ? lo : q > hi ? hi : q);
}

/* Whether the dtype is one of the quantized integer types (int8, uint8, int16). */
bool p2l_is_quantized_dtype(p2l_dtype dtype);
/* The value range of a quantized dtype. */
void p2l_quantized_range(p2l_dtype dtype, int32_t *min, int32_t *max);

/* A tensor's per-tensor scale and zero point: it must be quantized with one scale (a clear error
 * naming the tensor otherwise). */
p2l_status p2l_quant_per_tensor(const p2l_tensor *t, float *scale, int32_t *zero_point);
/* A tensor's scales, one per channel of dim `dim` (`channels` of them) or one for all: *scales
 * points at its scale array and *per_channel says which. */
p2l_status p2l_quant_scales(const p2l_tensor *t, int dim, int32_t channels, const float **scales, bool *per_channel);
/* Data movement on quantized tensors (PAD, CONCATENATION) keeps the values: the output must have the
 * input's scale and zero point (or neither has any). */
p2l_status p2l_quant_expect_same(const p2l_tensor *output, const p2l_tensor *input);
/* The tensor's zero points are all 0 (weights of int8 conv / fully connected: symmetric). */
p2l_status p2l_quant_expect_symmetric(const p2l_tensor *t);

/* The output range of a fused activation (NONE, RELU, RELU6, RELU_N1_TO_1) on a quantized output:
 * TFLite's quantized activation range; other activations are refused. */
p2l_status p2l_quantized_activation_range(int activation, const p2l_tensor *output, int32_t *min, int32_t *max);

/* Per output channel of a convolution or fully connected node: the multiplier of
 * input_scale * filter_scale[c] / output_scale (doubles, as TFLite), plus the zero points and the
 * activation range. Checks: int8 input/filter/output, int32 bias with zero points 0, symmetric
 * filter. filter_dim is the filter's output-channel dim. */
typedef struct p2l_quant_conv {
    int32_t input_offset;   /* -input zero point */
    int32_t output_offset;  /* output zero point */
    int32_t act_min, act_max;
    p2l_multiplier *multipliers; /* [channels] */
} p2l_quant_conv;
p2l_status p2l_quant_conv_prepare(p2l_node *node, int input, int filter, int bias, int filter_dim, int32_t channels,
                                  int activation, p2l_quant_conv **out);

/* The kernel a node runs: the interpreter's selection, except that nodes on quantized tensors
 * (int8, uint8, int16) use the reference kernels (the float fast drivers cover float only), or the
 * int8 fast kernels where the selection has fast kernels (p2l_int8_fast_kernel). */
const p2l_kernel *p2l_kernel_for_node(const p2l_kernel_selection *selection, const p2l_node *node);

/* The fast int8 kernel of an op (fast/int8.c: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, PAD; the
 * element-wise ops of fast/int8_elementwise.c; the unary ops and DEQUANTIZE detours of fast/int8_lut.c),
 * NULL for others; only in builds with fast kernels. */
const p2l_kernel *p2l_int8_fast_kernel(p2l_op op);

/* The hybrid kernel (hybrid.c) of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED node with a float32
 * input and int8 weights (the dynamic_int8 recipe), NULL for other nodes. */
const p2l_kernel *p2l_hybrid_kernel(const p2l_node *node);

/* Quantized int8 ADD / SUB (TFLite's arithmetic: both operands are shifted left by
 * P2L_QUANT_ADD_LEFT_SHIFT bits and rescaled to twice the larger input scale, summed, then rescaled to
 * the output) and MUL (the product of the offset operands rescaled once); binary.c's reference rows
 * and the fast rows share these. */
enum { P2L_QUANT_ADD_LEFT_SHIFT = 20 };
typedef struct p2l_quant_binary {
    int32_t offset_a, offset_b, output_offset, act_min, act_max;
    p2l_multiplier a, b, output; /* a, b: ADD / SUB only */
} p2l_quant_binary;
/* The parameters of an int8 ADD / SUB / MUL node (per-tensor quantization, int8 output), checked. */
p2l_status p2l_quant_binary_prepare(p2l_node *node, p2l_quant_binary **out);
/* out[i] = a[i * sa] op b[i * sb], i < n, op ADD, SUB or MUL. */
void p2l_quant_binary_row(p2l_op op, const p2l_quant_binary *q, const int8_t *a, size_t sa, const int8_t *b, size_t sb,
                          int8_t *out, size_t n);

p2l_status p2l_int8_unary_prepare(p2l_node *node);
p2l_status p2l_int8_unary_invoke(p2l_node *node);
p2l_status p2l_int8_softmax_prepare(p2l_node *node);
p2l_status p2l_int8_softmax_invoke(p2l_node *node);

#endif

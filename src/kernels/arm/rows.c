/* The NEON kernels written once over the vector mapping (fast/vec_rows.h over vec_neon.h): the
 * binary rows (ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM), the activation rows (the drivers are
 * fast/binary.c and fast/unary.c) and the depthwise row (fast/conv.c). */
#include "kernels/arm/arm.h"
#include "kernels/arm/vec_neon.h"
#include "kernels/fast/vec_rows.h"

P2L_DEFINE_BINARY_ROWS()
P2L_DEFINE_UNARY_ROWS()

void p2l_f32_depthwise_row__neon(const p2l_depthwise_row_args *a) { p2l_vec_depthwise_row(a); }

/* The activation rows with AVX-512F (fast/vec_rows.h over vec_avx512.h): the AVX2 rows on 16 lanes
 * with the cheaper exp and reciprocal, twice the work per instruction for transformers' GELU. The
 * binary rows are the AVX2 ones (memory bound). */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx512.h"
#include "kernels/fast/vec_rows.h"

P2L_DEFINE_UNARY_ROWS()

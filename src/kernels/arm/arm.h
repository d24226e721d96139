/* aarch64 micro-kernels for the shared drivers of src/kernels/fast (fast.h): NEON (ASIMD), float32.
 * Every aarch64 CPU has ASIMD, so registry.c uses p2l_isa_neon whenever the fast kernels are on.
 *
 * They compute what the x86 AVX2 loops compute, operation for operation: the element-wise rows and
 * the depthwise row are the same source (fast/vec_rows.h over vec_neon.h, in rows.c), and the
 * hand-written ones use the same exp, FMAs where x86 has FMAs, x86's max/min semantics (p2l_max4),
 * and sums in the order of x86's 8 lanes (p2l_hsum8), so the two ISAs give the same results and one
 * set of tolerances holds. */
#ifndef P2L_KERNELS_ARM_ARM_H
#define P2L_KERNELS_ARM_ARM_H

#include "kernels/fast/fast.h"

extern const p2l_fast_isa p2l_isa_neon; /* isa.c */

P2L_DECLARE_ISA_KERNELS(neon)

#endif

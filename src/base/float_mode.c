/* Denormal floats (magnitudes below 1.2e-38) take a microcode assist on x86 for every operation
 * that touches them: 50-100x slower. Softmax outputs and tanh/exp of large negative inputs produce
 * them routinely, and one attention matmul over such values cost milliseconds instead of
 * microseconds. Like LiteRT's XNNPACK path, the runtime treats them as zero while it runs kernels:
 * the difference to PyTorch is below 1.2e-38 in absolute terms. The caller's mode is restored. */
#include "base/float_mode.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
enum { FLUSH_TO_ZERO = 0x8000, DENORMALS_ARE_ZERO = 0x0040 };
unsigned p2l_flush_denormals_begin(void) {
    const unsigned previous = _mm_getcsr();
    _mm_setcsr(previous | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO);
    return previous;
}
void p2l_flush_denormals_end(unsigned previous) { _mm_setcsr(previous); }
#elif defined(__aarch64__)
#include <stdint.h>
enum { FPCR_FLUSH_TO_ZERO = 1u << 24 };
unsigned p2l_flush_denormals_begin(void) {
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ __volatile__("msr fpcr, %0" ::"r"(fpcr | FPCR_FLUSH_TO_ZERO));
    return (unsigned)fpcr;
}
void p2l_flush_denormals_end(unsigned previous) {
    const uint64_t fpcr = previous;
    __asm__ __volatile__("msr fpcr, %0" ::"r"(fpcr));
}
#else
unsigned p2l_flush_denormals_begin(void) { return 0; }
void p2l_flush_denormals_end(unsigned previous) { (void)previous; }
#endif

/* AVX2/FMA kernels for x86-64 (this folder is compiled with -mavx2 -mfma; registry.c picks these
 * kernels only on CPUs that have both). Each kernel struct runs the reference kernel's prepare,
 * then decides by shape and options whether its fast path covers the node; if not, it invokes the
 * reference kernel. */
#ifndef P2L_KERNELS_X86_X86_H
#define P2L_KERNELS_X86_X86_H

#include "kernels/kernels.h"

extern const p2l_kernel p2l_kernel_conv_2d_x86;
extern const p2l_kernel p2l_kernel_depthwise_conv_2d_x86;
extern const p2l_kernel p2l_kernel_fully_connected_x86;
extern const p2l_kernel p2l_kernel_batch_matmul_x86;
extern const p2l_kernel p2l_kernel_binary_x86;
extern const p2l_kernel p2l_kernel_unary_x86;
extern const p2l_kernel p2l_kernel_reduce_x86;
extern const p2l_kernel p2l_kernel_pool_x86;
extern const p2l_kernel p2l_kernel_softmax_x86;
extern const p2l_kernel p2l_kernel_pad_x86;
extern const p2l_kernel p2l_kernel_transpose_x86;

/* ------------------------------------------------------------ fused activation as a clamp */
typedef struct p2l_clamp {
    float lo, hi;
    bool on;      /* false: NONE, nothing to do */
    int epilogue; /* P2L_EPILOGUE_*: applied after the clamp (kernels that take a fusion offer) */
} p2l_clamp;
/* NONE, RELU, RELU_N1_TO_1, RELU6; false for TANH (not a clamp). */
bool p2l_clamp_of(int activation, p2l_clamp *clamp);

/* ------------------------------------------------------------ GEMM (gemm.c)
 *
 * C[m x n] = A[m x k] * B[k x n] + bias, then the clamp. A is row-major with any row stride (the
 * input of a 1x1 convolution as it is, or im2col rows); B (the weights) is packed once into panels
 * of 16 columns (the last one 8 wide when that is enough), each panel k rows of its width, zero
 * padded, so the micro-kernel (6 rows x 16 columns of accumulators) reads it sequentially. */
enum { P2L_GEMM_MR = 6, P2L_GEMM_NR = 16 };

typedef struct p2l_gemm_b {
    float *data;  /* k x padded_n, panel by panel */
    float *bias;  /* padded_n (zeros where the node has no bias) */
    int k, n, padded_n, panels;
} p2l_gemm_b;

int p2l_gemm_padded_n(int n);
static inline int p2l_gemm_panels(int n) { return (n + P2L_GEMM_NR - 1) / P2L_GEMM_NR; }
/* Packs B where element (row kk, column j) is src[kk * k_stride + j * n_stride]; bias may be NULL.
 * data and bias must hold k * padded_n and padded_n floats. */
void p2l_gemm_pack_into(p2l_gemm_b *b, float *data, float *bias_out, const float *src, size_t k_stride,
                        size_t n_stride, int k, int n, const float *bias);
/* The same into memory from the node's prepare arena (64-byte aligned). */
p2l_status p2l_gemm_pack(p2l_node *node, p2l_gemm_b *b, const float *src, size_t k_stride, size_t n_stride, int k,
                         int n, const float *bias);
/* Rows [0, m) of C for panels [panel_begin, panel_end). */
void p2l_gemm_run(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc, int panel_begin,
                  int panel_end, const p2l_clamp *clamp);

/* The same with AVX-512F tiles (gemm_avx512.c); p2l_gemm_run uses it when the CPU has AVX-512F. */
void p2l_gemm_run_avx512(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                         int panel_begin, int panel_end, const p2l_clamp *clamp);

/* How a GEMM of m rows is cut into tasks for the threads: row blocks of at most block_rows rows
 * (a multiple of 6) times column chunks of panels. */
typedef struct p2l_gemm_split {
    size_t block_rows, row_blocks;
    int chunk_panels, chunks;
} p2l_gemm_split;
/* max_block_bytes bounds block_rows * k * 4 (the A block that should stay in cache). Aims at
 * P2L_GEMM_TASKS_PER_THREAD tasks per thread (p2l_gemm_plan_tasks: tasks_per_thread), cutting the
 * columns into chunks only where the row blocks are too few. */
enum { P2L_GEMM_TASKS_PER_THREAD = 8 };
void p2l_gemm_plan(size_t m, int k, int panels, int threads, size_t max_block_bytes, p2l_gemm_split *split);
void p2l_gemm_plan_tasks(size_t m, int k, int panels, int threads, size_t max_block_bytes, int tasks_per_thread,
                         p2l_gemm_split *split);

/* ------------------------------------------------------------ vector math (unary.c) */
#if defined(__AVX2__) /* the kernel files; registry.c sees only the kernel structs */
/* exp(x) for 8 floats, relative error about 1e-7 for x in [-87, 88]; clamped outside. */
#include <immintrin.h>
__m256 p2l_exp8(__m256 x);
/* 1 / (1 + exp(-x)), accurate in relative terms on both tails. */
__m256 p2l_sigmoid8(__m256 x);

/* The fused element-wise epilogues, with the same operations (so the same rounding) as the
 * unfused fast LOGISTIC then MUL, and HARD_SWISH. */
static inline __m256 p2l_epilogue8(int epilogue, __m256 x) {
    if (epilogue == P2L_EPILOGUE_SILU) return _mm256_mul_ps(x, p2l_sigmoid8(x));
    if (epilogue == P2L_EPILOGUE_HARD_SWISH) {
        __m256 r = _mm256_add_ps(x, _mm256_set1_ps(3.0f));
        r = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), r));
        return _mm256_div_ps(_mm256_mul_ps(x, r), _mm256_set1_ps(6.0f));
    }
    return x;
}

/* Masks for the last n (0..8) lanes of a row: lanes [0, n) on. */
static inline __m256i p2l_tail_mask(size_t n) {
    static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(table + 8 - n));
}
#endif

#if defined(__AVX512F__) /* the *_avx512.c files */
/* 16-lane versions of p2l_exp8 / p2l_sigmoid8 / p2l_epilogue8, the same operations in the same
 * order. Inline: a call makes the caller save and restore every live vector register around it
 * (the ABI preserves none), in a GEMM tile's epilogue all 12 accumulators around each call. */
static inline __m512 p2l_exp16(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

static inline __m512 p2l_sigmoid16(__m512 x) {
    const __m512 e = p2l_exp16(_mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)))); /* exp(-|x|) */
    const __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(negative, s, _mm512_mul_ps(e, s));
}

static inline __m512 p2l_epilogue16(int epilogue, __m512 x) {
    if (epilogue == P2L_EPILOGUE_SILU) return _mm512_mul_ps(x, p2l_sigmoid16(x));
    if (epilogue == P2L_EPILOGUE_HARD_SWISH) {
        __m512 r = _mm512_add_ps(x, _mm512_set1_ps(3.0f));
        r = _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), r));
        /* a true division, as the unfused op: multiplying by 1/6 is 1 ulp off, and EfficientViT's
         * linear attention turned that into 3x the error against PyTorch */
        return _mm512_div_ps(_mm512_mul_ps(x, r), _mm512_set1_ps(6.0f));
    }
    return x;
}
#endif

/* AVX-512 depthwise (depthwise_avx512.c): channels [c_begin, c_end) of one output row (n, oy) of a
 * depth-multiplier-1 convolution, the same computation as the AVX2 row in conv.c. */
typedef struct p2l_depthwise_row_args {
    const float *in;      /* image n of the (unpadded) input */
    float *out;           /* the output row */
    const float *weights; /* [tap][padded_c] */
    const float *bias;    /* [padded_c] */
    int H, W, KH, KW, OW, oy;
    int stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
    size_t C, padded_c;
    size_t c_begin, c_end; /* c_begin a multiple of 16 */
    const p2l_clamp *clamp;
} p2l_depthwise_row_args;
void p2l_depthwise_row_avx512(const p2l_depthwise_row_args *a);
/* Whether the CPU has AVX-512F and P2L_NO_AVX512 is not set (gemm.c). */
bool p2l_cpu_has_avx512(void);

#endif
